"""
CNTKSketch on digit images against the exact convolutional NTK
==============================================================

The digits are 8x8 grey-level images. A convolutional network sees them as images: its
infinite-width kernel, the CNTK, compares every pixel of one image with every pixel of the
other, so the exact kernel (:func:`skntk.kernels.cntk_kernel`) costs ``O(n^2 (HW)^2)``.
:class:`skntk.CNTKSketch` computes random features whose cost is linear in the number of
images and of pixels.

The network here is a "gap" network: one 3x3 convolution, ReLU, global average pooling and a
dense read-out (``architecture="gap", depth=1``). Both models are kernel ridge regression
without intercept with the same ``alpha`` (one-hot targets): the exact kernel's, and
:class:`~sklearn.linear_model.RidgeClassifier` on the sketch's features. They differ only by
the sketch's error, which this example measures too.

Sizes: 160 training and 80 test images, ``n_components`` from 512 to 4096, 2 seeds each
(``SKNTK_DOC_SMALL=1``: 100 and 50 images, up to 2048). ``examples/digits_cntk.py`` runs
the same comparison with Myrtle-5 (a few minutes).
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier

from skntk import CNTKSketch
from skntk.kernels import cntk_kernel

SMALL = os.environ.get("SKNTK_DOC_SMALL") == "1"
n_train, n_test = (100, 50) if SMALL else (160, 80)
widths = [512, 1024, 2048] if SMALL else [512, 1024, 2048, 4096]
network = dict(image_shape=(8, 8, 1), architecture="gap", depth=1)

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, y_train = X[:n_train], y[:n_train]
X_test, y_test = X[n_train : n_train + n_test], y[n_train : n_train + n_test]
print(f"{n_train} training and {n_test} test images (8x8x1), network {network}")

# %%
# The exact CNTK
# --------------

start = time.perf_counter()
K_train = cntk_kernel(X_train, **network)
K_test = cntk_kernel(X_test, X_train, **network)
alpha = 1e-2 * np.trace(K_train) / n_train
coef = np.linalg.solve(K_train + alpha * np.eye(n_train), 2.0 * np.eye(10)[y_train] - 1.0)
exact_accuracy = np.mean(np.argmax(K_test @ coef, axis=1) == y_test)
exact_time = time.perf_counter() - start
print(f"exact CNTK kernel ridge: accuracy {exact_accuracy:.3f}, {exact_time:.1f} s")

# %%
# The sketch at growing widths
# ----------------------------


def centred_error(Z, K):
    """Error of the centred kernel ``H K H`` (``H = I - 11^T/n``): what a model with an
    intercept sees; the raw error is dominated by the large constant part all images share."""
    H = np.eye(len(K)) - 1.0 / len(K)
    return np.linalg.norm(H @ (Z @ Z.T - K) @ H) / np.linalg.norm(H @ K @ H)


errors, centred, accuracies, times = [], [], [], []
seeds = [0, 1]
for m in widths:
    err, cen, acc = [], [], []
    start = time.perf_counter()
    for seed in seeds:
        sketch = CNTKSketch(m, random_state=seed, **network).fit(X_train)
        Z_train = sketch.transform(X_train)
        clf = RidgeClassifier(alpha=alpha, fit_intercept=False).fit(Z_train, y_train)
        acc.append(clf.score(sketch.transform(X_test), y_test))
        err.append(np.linalg.norm(Z_train @ Z_train.T - K_train) / np.linalg.norm(K_train))
        cen.append(centred_error(Z_train, K_train))
    times.append((time.perf_counter() - start) / len(seeds))
    errors.append(np.mean(err))
    centred.append(np.mean(cen))
    accuracies.append(np.mean(acc))
    print(
        f"CNTKSketch({m:>4}): kernel error raw {errors[-1]:.4f}, centred {centred[-1]:.4f}, "
        f"accuracy {accuracies[-1]:.3f} (means over seeds {seeds}), {times[-1]:.1f} s per fit"
    )

# %%
# Plot
# ----
# Left: the relative Frobenius error of the training kernel, raw and centred, with a
# ``1/sqrt(m)`` line for reference: the error falls roughly at that rate, in steps where the
# planner changes how it splits the columns among Hermite degrees. Right: test accuracy, with
# the exact kernel's as a dashed line.

fig, (ax_err, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
ax_err.plot(widths, errors, "o-", label="raw")
ax_err.plot(widths, centred, "s-", label="centred")
ax_err.plot(
    widths,
    centred[0] * np.sqrt(widths[0] / np.asarray(widths, dtype=float)),
    "k--",
    alpha=0.5,
    label=r"$\propto 1/\sqrt{m}$",
)
ax_err.set_xscale("log", base=2)
ax_err.set_yscale("log")
ax_err.set_xlabel("n_components m")
ax_err.set_ylabel("relative Frobenius error")
ax_err.set_title("Kernel error (training images)")
ax_err.legend()
ax_acc.plot(widths, accuracies, "o-", label="CNTKSketch + RidgeClassifier")
ax_acc.axhline(exact_accuracy, color="C1", linestyle="--", label=f"exact CNTK ({exact_time:.0f} s)")
ax_acc.set_xscale("log", base=2)
ax_acc.set_xlabel("n_components m")
ax_acc.set_ylabel("test accuracy")
ax_acc.set_title("Digits as images, gap network")
ax_acc.legend(loc="lower right")
for ax in (ax_err, ax_acc):
    ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
plt.show()
