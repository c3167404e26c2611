"""Digits (8x8x1 images): CNTKSketch + RidgeClassifier against exact CNTK kernel ridge.

Prints the test accuracy and the time of each. The exact kernel costs O(n^2 (HW)^2); the
sketch is linear in the number of images and pixels.
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import train_test_split

from skntk.convolutional import CNTKSketch
from skntk.kernels import cntk_kernel

N_IMAGES = 600
PARAMS = dict(image_shape=(8, 8, 1), depth=1, activation="relu")

X, y = load_digits(return_X_y=True)
X, y = X[:N_IMAGES] / 16.0, y[:N_IMAGES]
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.33, random_state=0)

start = time.perf_counter()
Ktr = cntk_kernel(Xtr, **PARAMS)
Kte = cntk_kernel(Xte, Xtr, **PARAMS)
alpha = 1e-2 * np.trace(Ktr) / len(Ktr)
coef = np.linalg.solve(Ktr + alpha * np.eye(len(Ktr)), np.eye(10)[ytr] * 2 - 1)
exact_acc = np.mean(np.argmax(Kte @ coef, axis=1) == yte)
exact_time = time.perf_counter() - start

start = time.perf_counter()
est = CNTKSketch(8192, random_state=0, **PARAMS).fit(Xtr)
clf = RidgeClassifier(alpha=alpha).fit(est.transform(Xtr), ytr)
sketch_acc = clf.score(est.transform(Xte), yte)
sketch_time = time.perf_counter() - start

print(f"exact CNTK kernel ridge: accuracy {exact_acc:.4f}, {exact_time:.1f} s")
print(f"CNTKSketch(8192) + RidgeClassifier: accuracy {sketch_acc:.4f}, {sketch_time:.1f} s")
