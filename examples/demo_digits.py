"""
NTK regression on digits: sketch + linear model against exact kernel ridge
==========================================================================

``Pipeline([NTKSketch, RidgeClassifier])`` approximates NTK kernel ridge regression with a
linear model on random features. This demo compares it with the exact NTK
(:func:`skntk.kernels.ntk_kernel` + ``RidgeClassifier`` on the precomputed kernel) on
scikit-learn's bundled digits data, printing accuracy and wall time of both.

Run: ``python examples/demo_digits.py``
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skntk import NTKSketch
from skntk.kernels import ntk_kernel

X, y = load_digits(return_X_y=True)
X = MinMaxScaler().fit_transform(X)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
depth, alpha = 2, 1e-2

start = time.perf_counter()
sketch = make_pipeline(
    NTKSketch(n_components=4096, depth=depth, random_state=0), RidgeClassifier(alpha=alpha)
)
sketch.fit(X_train, y_train)
acc_sketch = sketch.score(X_test, y_test)
t_sketch = time.perf_counter() - start

start = time.perf_counter()
K_train = ntk_kernel(X_train, depth=depth)
K_test = ntk_kernel(X_test, X_train, depth=depth)
exact = RidgeClassifier(alpha=alpha).fit(K_train, y_train)
acc_exact = exact.score(K_test, y_test)
t_exact = time.perf_counter() - start

print(f"digits: {X_train.shape[0]} train / {X_test.shape[0]} test images, NTK depth {depth}")
print(f"NTKSketch(4096) + RidgeClassifier: accuracy {acc_sketch:.4f}   time {t_sketch:.2f} s")
print(f"exact NTK kernel ridge:            accuracy {acc_exact:.4f}   time {t_exact:.2f} s")
print(f"accuracy gap: {100 * (acc_exact - acc_sketch):+.2f} points")
assert np.isfinite(acc_sketch) and np.isfinite(acc_exact)
