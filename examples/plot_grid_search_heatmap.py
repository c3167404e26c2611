"""
Choosing depth and activation with GridSearchCV
===============================================

The network's depth and activation are the kernel's hyper-parameters. Every skntk estimator
takes them as plain constructor parameters, so scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` searches them like any other: here the depth
and the activation of :class:`skntk.NTKSketch` in front of a
:class:`~sklearn.linear_model.RidgeClassifier`, scored by cross-validated accuracy on the
digits, and shown as a heatmap.

The activations are looked up by name (:func:`skntk.activations.get_activation`); ReLU gets
the one-shot Taylor method, the others the layer-wise Hermite method (see
:ref:`sketches`).

Sizes: 1000 digits, ``NTKSketch(512)``, depths 1 to 4, five activations, 3-fold
cross-validation: 60 fits (``SKNTK_DOC_SMALL=1``: 500 digits, depths 1 to 3, three
activations, 27 fits).
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skntk import NTKSketch

SMALL = os.environ.get("SKNTK_DOC_SMALL") == "1"
n_rows = 500 if SMALL else 1000
depths = [1, 2, 3] if SMALL else [1, 2, 3, 4]
activations = ["relu", "gelu", "erf"] if SMALL else ["relu", "gelu", "erf", "tanh", "sin"]

X, y = load_digits(return_X_y=True)
X, y = X[:n_rows] / 16.0, y[:n_rows]

pipe = Pipeline(
    [
        ("ntk", NTKSketch(n_components=512, random_state=0)),
        ("ridge", RidgeClassifier(alpha=1e-2)),
    ]
)
search = GridSearchCV(pipe, {"ntk__depth": depths, "ntk__activation": activations}, cv=3)

start = time.perf_counter()
search.fit(X, y)
print(
    f"{n_rows} digits, {len(depths) * len(activations)} settings x 3 folds "
    f"in {time.perf_counter() - start:.1f} s"
)
print(f"best: {search.best_params_}, cross-validated accuracy {search.best_score_:.4f}")

# %%
# The scores as a table
# ---------------------
# ``cv_results_`` lists the settings in the grid's order; reshape the mean scores to
# (activation, depth).

params = search.cv_results_["params"]
scores = np.empty((len(activations), len(depths)))
for p, score in zip(params, search.cv_results_["mean_test_score"], strict=True):
    scores[activations.index(p["ntk__activation"]), depths.index(p["ntk__depth"])] = score
print(f"\n{'':>6}" + "".join(f"  depth {d}" for d in depths))
for name, row in zip(activations, scores, strict=True):
    print(f"{name:>6}" + "".join(f"{s:>9.4f}" for s in row))

# %%
# Heatmap
# -------

fig, ax = plt.subplots(figsize=(5, 0.6 * len(activations) + 1.6))
image = ax.imshow(scores, cmap="viridis", aspect="auto")
ax.set_xticks(range(len(depths)), [str(d) for d in depths])
ax.set_yticks(range(len(activations)), activations)
ax.set_xlabel("depth (hidden layers)")
ax.set_ylabel("activation")
for i in range(len(activations)):
    for j in range(len(depths)):
        light = scores[i, j] < scores.min() + 0.6 * (scores.max() - scores.min())
        ax.text(
            j,
            i,
            f"{scores[i, j]:.3f}",
            ha="center",
            va="center",
            color="white" if light else "black",
        )
fig.colorbar(image, ax=ax, label="mean CV accuracy")
ax.set_title("GridSearchCV over NTKSketch's depth and activation")
fig.tight_layout()
plt.show()
