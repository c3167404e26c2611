"""Benchmarks of the sketching primitives of :mod:`skntk.sketching`.

``PolySketch`` of degree 4 and 8 on ``n = 2000`` rows of ``d = 784`` features (MNIST-sized), with
1000 columns per degree, in float32 and float64. Also ``SRHT`` (8000 -> 8192 columns,
C- and Fortran-ordered input), ``TensorSRHT`` (two 2048-wide inputs -> 4096), and the sparse
path (``CountSketch`` and ``PolySketch`` on a CSR matrix with 100000 columns, 100 non-zeros a
row), and ``StructuredGaussian`` against a dense Gaussian matrix (12289 -> 12288, 500 rows).
``track_`` benchmarks report the relative Frobenius error ``|Z Z^T - K| / |K|`` of the
degree-3 sketch against ``K = (U U^T)^3`` on 300 unit rows.

With the environment variable ``SKNTK_BENCH_TINY=1`` the sizes are tiny, so that CI can run
every benchmark quickly. Run as a script to print the time per row of each case once.
"""

import os
import time

import numpy as np
import scipy.sparse as sp

from skntk.sketching import SRHT, CountSketch, PolySketch, StructuredGaussian, TensorSRHT

TINY = os.environ.get("SKNTK_BENCH_TINY", "") == "1"
if TINY:
    N, D, M, WIDE_IN, WIDE_OUT, D_SPARSE = 50, 20, 16, 60, 64, 1000
else:
    N, D, M, WIDE_IN, WIDE_OUT, D_SPARSE = 2000, 784, 1000, 8000, 8192, 100_000


class PolySketchDense:
    """``PolySketch(d, degree, m).transform(X)`` on dense rows."""

    params = ([4, 8], ["float32", "float64"])
    param_names = ["degree", "dtype"]

    def setup(self, degree, dtype):
        self.X = np.random.RandomState(0).rand(N, D).astype(dtype)
        self.sketch = PolySketch(D, degree, M, rng=0)

    def time_transform(self, degree, dtype):
        self.sketch.transform(self.X)

    def peakmem_transform(self, degree, dtype):
        self.sketch.transform(self.X)


class PolySketchError:
    """Relative Frobenius error of the degree-3 sketch against ``(U U^T)^3``."""

    params = [[64, 256, 1024]]
    param_names = ["m"]

    def setup(self, m):
        rs = np.random.RandomState(0)
        U = rs.randn(300, 64) + 0.5  # correlated rows, so that K is not nearly diagonal
        self.U = U / np.linalg.norm(U, axis=1, keepdims=True)
        self.K = (self.U @ self.U.T) ** 3

    def track_relative_error(self, m):
        Z = PolySketch(64, 3, m, rng=1).transform(self.U)[2]
        return float(np.linalg.norm(Z @ Z.T - self.K) / np.linalg.norm(self.K))


class SRHTWide:
    """``SRHT(8000, 8192)`` (the last compression of a sketch estimator)."""

    params = [["C", "F"]]
    param_names = ["order"]

    def setup(self, order):
        X = np.random.RandomState(0).rand(N, WIDE_IN).astype(np.float32)
        self.X = np.asarray(X, order=order)
        self.sketch = SRHT(WIDE_IN, WIDE_OUT, rng=0)

    def time_transform(self, order):
        self.sketch.transform(self.X)


class TensorSRHTWide:
    """``TensorSRHT(2048, 2048, 4096)``."""

    def setup(self):
        rs = np.random.RandomState(0)
        self.A = rs.rand(N, WIDE_OUT // 4).astype(np.float32)
        self.B = rs.rand(N, WIDE_OUT // 4).astype(np.float32)
        self.sketch = TensorSRHT(WIDE_OUT // 4, WIDE_OUT // 4, WIDE_OUT // 2, rng=0)

    def time_transform(self):
        self.sketch.transform(self.A, self.B)


class StructuredProjection:
    """``X @ G`` for the hidden layer of NTKRandomFeatures(12288): StructuredGaussian (FFTs)
    against a dense float32 Gaussian matrix, and the cost of drawing each."""

    params = [["structured", "dense"]]
    param_names = ["kind"]
    timeout = 300

    def setup(self, kind):
        d, m, n = (300, 300, 20) if TINY else (12289, 12288, 500)
        self.X = np.random.RandomState(0).randn(n, d).astype(np.float32)
        self.d, self.m = d, m
        if kind == "structured":
            self.G = StructuredGaussian(d, m, 0)
            self.apply = self.G.transform
        else:
            self.G = np.random.RandomState(1).randn(d, m).astype(np.float32)
            self.apply = lambda X: X @ self.G

    def time_transform(self, kind):
        self.apply(self.X)

    def time_draw(self, kind):
        if kind == "structured":
            StructuredGaussian(self.d, self.m, 1)
        else:
            np.random.RandomState(1).standard_normal((self.d, self.m))


class SparseInput:
    """CountSketch and PolySketch (CountSketch leaves) on a CSR matrix."""

    def setup(self):
        self.X = sp.random(
            N, D_SPARSE, density=100 / D_SPARSE, format="csr", random_state=0, dtype=np.float32
        )
        self.count = CountSketch(D_SPARSE, M, rng=0)
        self.poly = PolySketch(D_SPARSE, 4, M, rng=0)

    def time_countsketch(self):
        self.count.transform(self.X)

    def time_polysketch(self):
        self.poly.transform(self.X)


if __name__ == "__main__":

    def _per_row(fn, repeat=3):
        fn()
        best = min(_timed(fn) for _ in range(repeat))
        return 1e6 * best / N

    def _timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    for degree in (4, 8):
        for dtype in ("float32", "float64"):
            b = PolySketchDense()
            b.setup(degree, dtype)
            us = _per_row(lambda b=b, g=degree, t=dtype: b.time_transform(g, t))
            print(f"PolySketch d={D} degree={degree} m={M} {dtype}: {us:.1f} us/row")
    for order in ("C", "F"):
        b = SRHTWide()
        b.setup(order)
        us = _per_row(lambda b=b, o=order: b.time_transform(o))
        print(f"SRHT {WIDE_IN} -> {WIDE_OUT} ({order}-ordered): {us:.1f} us/row")
    b = TensorSRHTWide()
    b.setup()
    print(f"TensorSRHT: {_per_row(b.time_transform):.1f} us/row")
    b = SparseInput()
    b.setup()
    print(f"CountSketch sparse: {_per_row(b.time_countsketch):.1f} us/row")
    print(f"PolySketch sparse degree 4: {_per_row(b.time_polysketch):.1f} us/row")
    for m in PolySketchError.params[0]:
        b = PolySketchError()
        b.setup(m)
        print(f"degree-3 relative error at m={m}: {b.track_relative_error(m):.3f}")
