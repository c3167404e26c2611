"""Transform time per row (or image) of the layer-wise and Taylor paths, for the figures of the
issue notes: NTKSketch at 8192 columns, depth 2, on 3000 x 784 float32 rows (Gaussian, and
digits-like rows whose cosines sit near 1, where degree="auto" raises the Taylor degree), and
CNTKSketch Myrtle-5 at 4096 columns on 32x32x3 float32 images.

Run: ``python benchmarks/speed_layerwise.py [--quick]``. Medians of 3 transforms; compare two
versions of the package by running it with ``PYTHONPATH`` pointing at each.
"""

import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from speed_fc import median_time  # a sibling script

import skntk
from skntk import CNTKSketch, NTKSketch

QUICK = "--quick" in sys.argv
N = 500 if QUICK else 3000
M = 1024 if QUICK else 8192


def main():
    print(skntk.__file__)
    gauss = np.random.default_rng(0).standard_normal((N, 784)).astype(np.float32)
    digits = np.tile(load_digits().data / 16.0, (2, 1))[:N].astype(np.float32)
    cases = [
        ("relu, Taylor, Gaussian rows", gauss, dict()),
        ("relu, Taylor, digits rows", digits, dict()),
        ("gelu, bias 0.5, Hermite, Gaussian rows", gauss, dict(activation="gelu", bias_std=0.5)),
        ("relu, bias 0.5, Hermite, Gaussian rows", gauss, dict(activation="relu", bias_std=0.5)),
        ("erf, bias 0.5, Hermite, digits rows", digits, dict(activation="erf", bias_std=0.5)),
    ]
    for name, X, params in cases:
        start = time.perf_counter()
        est = NTKSketch(M, depth=2, random_state=0, **params).fit(X)
        fit = time.perf_counter() - start
        t = median_time(lambda est=est, X=X: est.transform(X))
        degree = getattr(est, "degree_", "-")
        print(f"NTKSketch({M}) {name:40s} {1e3 * t / len(X):.3f} ms/row "
              f"(fit {fit:.2f} s, degree {degree})", flush=True)
    images = np.random.default_rng(0).random((2 if QUICK else 8, 32, 32, 3)).astype(np.float32)
    est = CNTKSketch(1024 if QUICK else 4096, architecture="myrtle", depth=5,
                     random_state=0).fit(images)
    t = median_time(lambda: est.transform(images), 2)
    print(f"CNTKSketch Myrtle-5 relu: {t / len(images):.3f} s/image", flush=True)


if __name__ == "__main__":
    main()
