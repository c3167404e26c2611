"""
Fit time against the number of samples: sketch + ridge against the exact kernel
===============================================================================

Exact kernel ridge regression with the NTK forms the ``n x n`` kernel matrix (time
``O(n^2 d)``, memory ``O(n^2)``) and solves an ``n x n`` system (time ``O(n^3)``). A sketch
with ``m`` features costs ``O(n m)`` to transform and ``O(n m^2)`` for ridge regression on the
features: linear in ``n``. The exact solve wins on small data; the sketch wins past a
crossover that this example locates.

Both fit the same model class on the same rows: a 10-class ridge classifier of a depth-2
ReLU NTK, exact (:func:`skntk.kernels.ntk_kernel`, then
:class:`~sklearn.kernel_ridge.KernelRidge` on the precomputed kernel) or approximated
(``make_pipeline(NTKSketch(2048), RidgeClassifier())``).

Sizes: rows are digits (64 pixels) with random one-pixel shifts and pixel noise, ``n`` from
500 to 32,000 for the sketch and up to 8,000 for the exact kernel, whose matrix alone takes
``8 n^2`` bytes (512 MB at 8,000); ``SKNTK_DOC_SMALL=1``: sketch up to 4,000, exact up to
2,000.
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline

from skntk import NTKSketch
from skntk.kernels import ntk_kernel

SMALL = os.environ.get("SKNTK_DOC_SMALL") == "1"
sizes_sketch = [500, 1000, 2000, 4000] if SMALL else [500, 1000, 2000, 4000, 8000, 16000, 32000]
max_exact = 2000 if SMALL else 8000
n_components, depth, alpha = 2048, 2, 1e-2

digits = load_digits()
rng = np.random.default_rng(0)


def make_rows(n):
    """``n`` digits shifted by up to one pixel, plus pixel noise (64 features in [0, 1])."""
    pick = rng.integers(0, len(digits.data), n)
    images = digits.images[pick] / 16.0
    shifts = rng.integers(-1, 2, size=(n, 2))
    for i, (dy, dx) in enumerate(shifts):
        images[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    images += rng.normal(0.0, 0.05, images.shape)
    return images.reshape(n, 64), digits.target[pick]


def fit_sketch(X, y):
    pipe = make_pipeline(
        NTKSketch(n_components, depth=depth, random_state=0), RidgeClassifier(alpha=alpha)
    )
    return pipe.fit(X, y)


def fit_exact(X, y):
    K = ntk_kernel(X, depth=depth)
    targets = 2.0 * np.eye(10)[y] - 1.0
    return KernelRidge(alpha=alpha, kernel="precomputed").fit(K, targets)


# %%
# Timings
# -------
# Each fit runs once (the machine is shared: expect some noise, not a different picture).

X_all, y_all = make_rows(max(sizes_sketch))
times_sketch, times_exact = [], []
print(f"NTKSketch({n_components}) + RidgeClassifier vs exact NTK kernel ridge, depth {depth}")
print(f"{'n':>7} {'sketch (s)':>11} {'exact (s)':>10} {'kernel matrix':>14}")
for n in sizes_sketch:
    X, y = X_all[:n], y_all[:n]
    start = time.perf_counter()
    fit_sketch(X, y)
    times_sketch.append(time.perf_counter() - start)
    exact = "-"
    if n <= max_exact:
        start = time.perf_counter()
        fit_exact(X, y)
        times_exact.append(time.perf_counter() - start)
        exact = f"{times_exact[-1]:.2f}"
    print(f"{n:>7} {times_sketch[-1]:>11.2f} {exact:>10} {8 * n * n / 1e6:>11.0f} MB")

sizes_exact = [n for n in sizes_sketch if n <= max_exact]

# %%
# The same model?
# ---------------
# At the largest size both fit, compare the two classifiers on held-out rows: their accuracy
# and how often they agree. With 2048 features the sketch is a close, not an exact, stand-in
# for the exact kernel; more features close the gap
# (:ref:`sphx_glr_auto_examples_plot_digits_accuracy.py`).

n = sizes_exact[-1]
X_test, y_test = make_rows(1000)
sketch = fit_sketch(X_all[:n], y_all[:n])
exact = fit_exact(X_all[:n], y_all[:n])
pred_sketch = sketch.predict(X_test)
pred_exact = np.argmax(exact.predict(ntk_kernel(X_test, X_all[:n], depth=depth)), axis=1)
acc_sketch, acc_exact = np.mean(pred_sketch == y_test), np.mean(pred_exact == y_test)
print(
    f"\ntrained on {n} rows, 1000 test rows: accuracy sketch {acc_sketch:.3f}, "
    f"exact {acc_exact:.3f}, agreement {np.mean(pred_sketch == pred_exact):.3f}"
)

# %%
# Plot
# ----
# The exact curve bends up towards ``n^3``; the sketch stays linear. Past the largest exact
# size, the dotted line extrapolates the exact fit with the cubic through its last point.

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(sizes_sketch, times_sketch, "o-", label=f"NTKSketch({n_components}) + RidgeClassifier")
ax.plot(sizes_exact, times_exact, "s-", label="exact NTK + KernelRidge")
tail = np.array([sizes_exact[-1]] + [n for n in sizes_sketch if n > max_exact], dtype=float)
if len(tail) > 1:
    ax.plot(
        tail,
        times_exact[-1] * (tail / tail[0]) ** 3,
        "s:",
        color="C1",
        alpha=0.6,
        label=r"exact, extrapolated $\propto n^3$",
    )
ax.plot(
    sizes_sketch,
    times_sketch[-1] * np.asarray(sizes_sketch) / sizes_sketch[-1],
    "k--",
    alpha=0.4,
    label=r"$\propto n$",
)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("training rows n")
ax.set_ylabel("fit time (s)")
ax.set_title("Fit time: sketch against exact kernel ridge")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

crossing = [n for n, ts, te in zip(sizes_exact, times_sketch, times_exact, strict=False) if ts < te]
if crossing:
    print(f"the sketch is faster from n = {crossing[0]} on (measured sizes)")
else:
    print(
        "the exact kernel was faster at every measured size: the crossover lies beyond "
        f"n = {sizes_exact[-1]} (see the extrapolation)"
    )
