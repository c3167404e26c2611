"""Digits (8x8x1 images): CNTKSketch + RidgeClassifier against exact CNTK kernel ridge.

Two networks: Myrtle-5 (the architecture of the CIFAR-10 neural-kernel results: three conv +
ReLU layers, average pooling) and a one-layer conv net with global average pooling. Prints the
test accuracy and the time of each method. The exact kernel costs O(n^2 (HW)^2); the sketch is
linear in the number of images and pixels. Both methods fit the same model (kernel ridge, no
intercept, the same alpha), so their accuracies differ only by the sketch's error.

Run: ``python examples/digits_cntk.py`` (a few minutes on two cores, almost all of it the
exact kernel).
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import train_test_split

from skntk.convolutional import CNTKSketch
from skntk.kernels import cntk_kernel

N_IMAGES = 450
NETWORKS = {
    "Myrtle-5": dict(image_shape=(8, 8, 1), architecture="myrtle", depth=5),
    "conv + GAP": dict(image_shape=(8, 8, 1), architecture="gap", depth=1),
}

X, y = load_digits(return_X_y=True)
X, y = X[:N_IMAGES] / 16.0, y[:N_IMAGES]
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=1 / 3, random_state=0)

for name, params in NETWORKS.items():
    start = time.perf_counter()
    Ktr = cntk_kernel(Xtr, **params)
    Kte = cntk_kernel(Xte, Xtr, **params)
    alpha = 1e-2 * np.trace(Ktr) / len(Ktr)
    coef = np.linalg.solve(Ktr + alpha * np.eye(len(Ktr)), np.eye(10)[ytr] * 2 - 1)
    exact_acc = np.mean(np.argmax(Kte @ coef, axis=1) == yte)
    exact_time = time.perf_counter() - start

    start = time.perf_counter()
    est = CNTKSketch(8192, random_state=0, **params).fit(Xtr)
    clf = RidgeClassifier(alpha=alpha, fit_intercept=False).fit(est.transform(Xtr), ytr)
    sketch_acc = clf.score(est.transform(Xte), yte)
    sketch_time = time.perf_counter() - start

    print(f"{name}: {len(Xtr)} training and {len(Xte)} test digits")
    print(f"  exact CNTK kernel ridge:            accuracy {exact_acc:.4f}, {exact_time:.1f} s")
    print(f"  CNTKSketch(8192) + RidgeClassifier: accuracy {sketch_acc:.4f}, {sketch_time:.1f} s")
