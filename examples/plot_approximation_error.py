r"""
Approximation error against the number of features
==================================================

A feature map ``phi`` with ``m`` columns approximates a kernel matrix ``K`` by the Gram matrix
``Z Z^T`` of ``Z = phi(X)``. For the unbiased sketches of skntk the error is noise that
averages out over columns, so the relative Frobenius error

.. math::

    \varepsilon(m) = \frac{\|Z Z^T - K\|_F}{\|K\|_F}

falls like :math:`1/\sqrt{m}`. This example measures it on the digits data for three
estimators of a depth-2 ReLU network, each against its own exact kernel:

* :class:`skntk.NTKSketch` against :func:`skntk.kernels.ntk_kernel` (one-shot Taylor method:
  ReLU without bias);
* :class:`skntk.NNGPSketch` against :func:`skntk.kernels.nngp_kernel`;
* :class:`skntk.NTKRandomFeatures` (Monte-Carlo random features) against the NTK.

Sizes: 500 digits (8x8 pixels scaled to [0, 1]), ``m`` from 256 to 8192, 2 seeds each
(``SKNTK_DOC_SMALL=1``: 200 digits, ``m`` up to 2048).
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skntk import NNGPSketch, NTKRandomFeatures, NTKSketch
from skntk.kernels import nngp_kernel, ntk_kernel

SMALL = os.environ.get("SKNTK_DOC_SMALL") == "1"
n_rows = 200 if SMALL else 500
widths = [256, 512, 1024, 2048] if SMALL else [256, 512, 1024, 2048, 4096, 8192]
seeds = [0, 1]
depth = 2

X = load_digits().data[:n_rows] / 16.0
print(f"{n_rows} digits, depth {depth} ReLU network, m = {widths}, seeds {seeds}")

# %%
# The exact kernels
# -----------------
# The exact NNGP and NTK of ``n`` rows cost ``O(n^2 d)`` time and ``O(n^2)`` memory: cheap here,
# the reference every sketch is scored against.

K_ntk = ntk_kernel(X, depth=depth)
K_nngp = nngp_kernel(X, depth=depth)
exact = {"NTK": K_ntk, "NNGP": K_nngp}


def relative_error(Z, K):
    return np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K)


# %%
# Error of each estimator, averaged over seeds
# --------------------------------------------

estimators = {
    "NTKSketch": (lambda m, seed: NTKSketch(m, depth=depth, random_state=seed), "NTK"),
    "NNGPSketch": (lambda m, seed: NNGPSketch(m, depth=depth, random_state=seed), "NNGP"),
    "NTKRandomFeatures": (
        lambda m, seed: NTKRandomFeatures(m, depth=depth, random_state=seed),
        "NTK",
    ),
}
errors = {}
start = time.perf_counter()
for name, (make, kind) in estimators.items():
    errors[name] = [
        np.mean([relative_error(make(m, s).fit_transform(X), exact[kind]) for s in seeds])
        for m in widths
    ]
print(f"measured in {time.perf_counter() - start:.1f} s\n")
print("relative Frobenius error ||Z Z^T - K|| / ||K||")
print(f"{'m':>6}" + "".join(f"{name:>19}" for name in errors))
for i, m in enumerate(widths):
    print(f"{m:>6}" + "".join(f"{errors[name][i]:>19.4f}" for name in errors))
for name, errs in errors.items():
    slope = np.polyfit(np.log(widths), np.log(errs), 1)[0]
    print(f"{name}: log-log slope {slope:.2f} (1/sqrt(m) is -0.50)")

# %%
# Plot
# ----
# Each dashed line is ``c / sqrt(m)`` through the estimator's first point: the measured errors
# follow it, so four times the columns halve the error.

fig, ax = plt.subplots(figsize=(6, 4))
markers = {"NTKSketch": "o", "NNGPSketch": "s", "NTKRandomFeatures": "^"}
for name, errs in errors.items():
    line = ax.plot(widths, errs, marker=markers[name], label=name)[0]
    ref = errs[0] * np.sqrt(widths[0] / np.asarray(widths, dtype=float))
    ax.plot(widths, ref, "--", color=line.get_color(), alpha=0.5)
ax.plot([], [], "k--", alpha=0.5, label=r"$\propto 1/\sqrt{m}$")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("number of features m (n_components)")
ax.set_ylabel(r"$\|ZZ^T - K\|_F \,/\, \|K\|_F$")
ax.set_title(f"Depth-{depth} ReLU network, {n_rows} digits")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()
