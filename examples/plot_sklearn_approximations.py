r"""
Neural-kernel sketches against scikit-learn's kernel approximations
===================================================================

scikit-learn has its own kernel approximations in :mod:`sklearn.kernel_approximation`:
:class:`~sklearn.kernel_approximation.Nystroem` and
:class:`~sklearn.kernel_approximation.RBFSampler` (random Fourier features) for the RBF
kernel, and :class:`~sklearn.kernel_approximation.PolynomialCountSketch` (TensorSketch) for
the polynomial kernel. This example puts each in the same pipeline as skntk's
:class:`~skntk.NTKSketch` (a depth-2 ReLU NTK): ``make_pipeline(approximation,
RidgeClassifierCV())`` on the digits, with the same numbers of features, and reports the test
accuracy and the fit time. ``RidgeClassifierCV`` chooses its ``alpha`` by leave-one-out on
the training rows, so no method gets hand-tuned regularization; the RBF ``gamma`` is the
``1 / (n_features * X.var())`` heuristic of scikit-learn's SVC (``gamma="scale"``) and the
polynomial kernel is :math:`(\gamma \langle x, y\rangle + 1)^2` with the same
:math:`\gamma`. Exact kernel ridge with each kernel (the NTK, RBF and polynomial kernels,
same alphas, best on the test split: an upper reference, not a fair competitor) is drawn as a
dashed line.

Sizes: all 1797 digits, 70/30 split, 256 to 4096 features, one seed
(``SKNTK_DOC_SMALL=1``: up to 1024 features). Nystroem's landmarks are training rows, so it
stops at 1257 features (all of them: the exact RBF kernel on the training rows).
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.kernel_approximation import Nystroem, PolynomialCountSketch, RBFSampler
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifierCV
from sklearn.metrics.pairwise import polynomial_kernel, rbf_kernel
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skntk import NTKSketch
from skntk.kernels import ntk_kernel

SMALL = os.environ.get("SKNTK_DOC_SMALL") == "1"
widths = [256, 512, 1024] if SMALL else [256, 512, 1024, 2048, 4096]
alphas = np.logspace(-4, 1, 6)

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
gamma = 1.0 / (X.shape[1] * X_train.var())
print(
    f"{len(X_train)} training and {len(X_test)} test digits; gamma = {gamma:.4f}; features {widths}"
)

approximations = {
    "NTKSketch (NTK, depth 2)": lambda m: NTKSketch(m, depth=2, random_state=0),
    # Nystroem's landmarks are training rows: at most len(X_train) of them.
    "Nystroem (RBF)": lambda m: Nystroem(
        gamma=gamma, n_components=min(m, len(X_train)), random_state=0
    ),
    "RBFSampler (RBF)": lambda m: RBFSampler(gamma=gamma, n_components=m, random_state=0),
    "PolynomialCountSketch (degree 2)": lambda m: PolynomialCountSketch(
        gamma=gamma, degree=2, coef0=1, n_components=m, random_state=0
    ),
}

# %%
# Pipelines
# ---------

results = {}
for name, make in approximations.items():
    results[name] = []
    for m in widths:
        pipe = make_pipeline(make(m), RidgeClassifierCV(alphas=alphas))
        start = time.perf_counter()
        pipe.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        results[name].append((pipe.score(X_test, y_test), elapsed))

print(f"\n{'approximation':>34} " + " ".join(f"{m:>13}" for m in widths))
for name, rows in results.items():
    print(f"{name:>34} " + " ".join(f"{acc:.4f} {t:5.2f}s" for acc, t in rows))

# %%
# Exact kernels, for reference
# ----------------------------

exact_kernels = {
    "NTKSketch (NTK, depth 2)": lambda A, B: ntk_kernel(A, B, depth=2),
    "Nystroem (RBF)": lambda A, B: rbf_kernel(A, B, gamma=gamma),
    "PolynomialCountSketch (degree 2)": lambda A, B: polynomial_kernel(
        A, B, degree=2, gamma=gamma, coef0=1
    ),
}
exact = {}
targets = 2.0 * np.eye(10)[y_train] - 1.0
for name, k in exact_kernels.items():
    K_train, K_test = k(X_train, X_train), k(X_test, X_train)
    exact[name] = max(
        np.mean(
            np.argmax(
                KernelRidge(alpha=a, kernel="precomputed").fit(K_train, targets).predict(K_test),
                axis=1,
            )
            == y_test
        )
        for a in alphas
    )
    print(f"exact kernel ridge, {name.split('(')[1][:-1]} kernel: accuracy {exact[name]:.4f}")

# %%
# Plot
# ----
# The RBF and polynomial lines share their exact reference: the RBF kernel's.

fig, (ax_m, ax_t) = plt.subplots(1, 2, figsize=(11, 4))
for (name, rows), marker in zip(results.items(), "osD^", strict=True):
    acc, times = zip(*rows, strict=True)
    line = ax_m.plot(widths, acc, marker=marker, label=name)[0]
    ax_t.plot(times, acc, marker=marker, color=line.get_color(), label=name)
    if name in exact:
        ax_m.axhline(exact[name], color=line.get_color(), linestyle="--", alpha=0.6)
ax_m.set_xscale("log", base=2)
ax_m.set_xlabel("number of features")
ax_m.set_title("Test accuracy (dashed: exact kernel ridge)")
ax_t.set_xscale("log")
ax_t.set_xlabel("pipeline fit time (s)")
ax_t.set_title("Accuracy against fit time")
for ax in (ax_m, ax_t):
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)
ax_m.legend(fontsize="small", loc="lower right")
fig.tight_layout()
plt.show()
