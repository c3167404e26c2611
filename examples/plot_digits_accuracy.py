"""
Digits: accuracy of sketch pipelines against exact kernel ridge
===============================================================

A sketch is only useful if the model trained on it predicts like the model trained on the
exact kernel. This example trains ridge classifiers on scikit-learn's digits with the features
of three estimators of a depth-2 ReLU network, for a growing number of features ``m``:

* ``make_pipeline(NTKSketch(m), RidgeClassifier())``,
* ``make_pipeline(NNGPSketch(m), RidgeClassifier())``,
* ``make_pipeline(NTKRandomFeatures(m), RidgeClassifier())``,

and compares their test accuracy with exact kernel ridge regression on the NTK and the NNGP
(:func:`skntk.kernels.ntk_kernel`, :func:`skntk.kernels.nngp_kernel` and
:class:`~sklearn.kernel_ridge.KernelRidge` on the precomputed kernel, one-hot targets).

Sizes: all 1797 digits, 70/30 train/test split, ``m`` from 256 to 4096, 2 seeds
(``SKNTK_DOC_SMALL=1``: ``m`` up to 1024, 1 seed).
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skntk import NNGPSketch, NTKRandomFeatures, NTKSketch
from skntk.kernels import nngp_kernel, ntk_kernel

SMALL = os.environ.get("SKNTK_DOC_SMALL") == "1"
widths = [256, 512, 1024] if SMALL else [256, 512, 1024, 2048, 4096]
seeds = [0] if SMALL else [0, 1]
depth, alpha = 2, 1e-3

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
print(
    f"{len(X_train)} training and {len(X_test)} test digits, depth {depth} ReLU network, "
    f"alpha {alpha}, m = {widths}, seeds {seeds}"
)

# %%
# Exact kernel ridge
# ------------------
# Kernel ridge with one-hot targets (+-1) and the same ``alpha``: the model each sketch
# approximates.

exact_acc = {}
for kind, kernel in [("NTK", ntk_kernel), ("NNGP", nngp_kernel)]:
    K_train = kernel(X_train, depth=depth)
    K_test = kernel(X_test, X_train, depth=depth)
    targets = 2.0 * np.eye(10)[y_train] - 1.0
    model = KernelRidge(alpha=alpha, kernel="precomputed").fit(K_train, targets)
    exact_acc[kind] = np.mean(np.argmax(model.predict(K_test), axis=1) == y_test)
    print(f"exact {kind} kernel ridge: accuracy {exact_acc[kind]:.4f}")

# %%
# Sketch pipelines
# ----------------

estimators = {
    "NTKSketch": (NTKSketch, "NTK"),
    "NNGPSketch": (NNGPSketch, "NNGP"),
    "NTKRandomFeatures": (NTKRandomFeatures, "NTK"),
}
accuracy = {}
for name, (cls, _) in estimators.items():
    accuracy[name] = []
    for m in widths:
        scores = [
            make_pipeline(cls(m, depth=depth, random_state=seed), RidgeClassifier(alpha=alpha))
            .fit(X_train, y_train)
            .score(X_test, y_test)
            for seed in seeds
        ]
        accuracy[name].append(np.mean(scores))

print(f"\n{'m':>6}" + "".join(f"{name:>19}" for name in accuracy))
for i, m in enumerate(widths):
    print(f"{m:>6}" + "".join(f"{accuracy[name][i]:>19.4f}" for name in accuracy))

# %%
# Plot
# ----
# The horizontal lines are the exact kernels' accuracies: a few thousand features come within
# a few tenths of a point of them.

fig, ax = plt.subplots(figsize=(6, 4))
colors = {"NTK": "C0", "NNGP": "C1"}
markers = {"NTKSketch": "o", "NNGPSketch": "s", "NTKRandomFeatures": "^"}
for name, (_, kind) in estimators.items():
    ax.plot(
        widths,
        accuracy[name],
        marker=markers[name],
        label=name,
        color=colors[kind] if name != "NTKRandomFeatures" else "C2",
    )
for kind, acc in exact_acc.items():
    ax.axhline(
        acc, color=colors[kind], linestyle="--", alpha=0.7, label=f"exact {kind} kernel ridge"
    )
ax.set_xscale("log", base=2)
ax.set_xlabel("number of features m (n_components)")
ax.set_ylabel("test accuracy")
ax.set_title(f"Digits, depth-{depth} ReLU network")
ax.grid(True, alpha=0.3)
ax.legend(fontsize="small", loc="lower right")
fig.tight_layout()
plt.show()
