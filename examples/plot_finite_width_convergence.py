"""
The empirical NTK of a finite network converges to the infinite-width NTK
==========================================================================

:class:`skntk.finite_width.FiniteWidthNTK` draws a fully connected network (NTK
parameterization, standard Gaussian weights) and computes its empirical neural tangent kernel
``J(x) J(y)^T`` (``J`` the Jacobian of the output with respect to all parameters). As the
hidden layers widen, the empirical NTK concentrates around the deterministic infinite-width NTK
:func:`skntk.kernels.ntk_kernel` of the same depth and activation, and its relative Frobenius
distance to it falls like ``1 / sqrt(width)``.

This example measures that distance for widths 64 to 4096 (a few random networks each) and
plots it on log-log axes next to a ``1 / sqrt(width)`` line. Without matplotlib it only prints
the numbers.
"""

import os
import time

import numpy as np

from skntk.finite_width import FiniteWidthNTK
from skntk.kernels import ntk_kernel

# %%
# Data and the infinite-width kernel
# ----------------------------------
# 40 Gaussian points in 10 dimensions; a ReLU network with two hidden layers.

rng = np.random.default_rng(0)
X = rng.standard_normal((40, 10))
depth, activation, bias_std = 2, "relu", 0.1
K_inf = ntk_kernel(X, depth=depth, activation=activation, bias_std=bias_std)

# %%
# Empirical NTK of random networks of growing width
# -------------------------------------------------
# ``FiniteWidthNTK.kernel`` returns the output-averaged empirical NTK, computed by structured
# derivatives (per layer, the Gram of the layer inputs times the Gram of the backpropagated
# gradients), which never forms the Jacobian.

# SKNTK_DOC_SMALL=1 (the documentation's quick build): widths up to 1024, 2 networks each.
small = os.environ.get("SKNTK_DOC_SMALL") == "1"
widths = [64, 128, 256, 512, 1024] if small else [64, 128, 256, 512, 1024, 2048, 4096]
n_networks = 2 if small else 3
t0 = time.perf_counter()
mean_err, std_err = [], []
for width in widths:
    errors = []
    for seed in range(n_networks):
        est = FiniteWidthNTK(
            widths=(width,) * depth, activation=activation, bias_std=bias_std, random_state=seed
        ).fit(X)
        K = est.kernel(X)
        errors.append(np.linalg.norm(K - K_inf) / np.linalg.norm(K_inf))
    mean_err.append(np.mean(errors))
    std_err.append(np.std(errors))
    print(f"width {width:5d}: relative error {mean_err[-1]:.4f} +- {std_err[-1]:.4f}")

slope = np.polyfit(np.log(widths), np.log(mean_err), 1)[0]
print(f"log-log slope {slope:.2f} (1/sqrt(width) is -0.5); {time.perf_counter() - t0:.1f} s")

# %%
# Plot
# ----

try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover - the numbers above are the result
    plt = None

if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(widths, mean_err, yerr=std_err, marker="o", label="empirical NTK")
    ref = mean_err[0] * np.sqrt(widths[0] / np.asarray(widths, dtype=float))
    ax.plot(widths, ref, "k--", label=r"$\propto 1/\sqrt{\mathrm{width}}$")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden width")
    ax.set_ylabel(r"$\|\Theta_{\mathrm{emp}} - \Theta\|_F / \|\Theta\|_F$")
    ax.set_title(f"ReLU, depth {depth}: finite width to infinite width")
    ax.legend()
    fig.tight_layout()
    plt.show()
