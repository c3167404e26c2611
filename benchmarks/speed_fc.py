"""Speed of NTKSketch (issue #3): time per row, linearity in n, crossover with exact kernel ridge,
and sparse input.

Run: ``python benchmarks/speed_fc.py [--quick]``. Medians of repeated runs (the machines are
noisy); float32, n_components = 8192, depth 2, d = 784.
"""

import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import Ridge

from skntk import NTKSketch
from skntk.kernels import ntk_kernel

QUICK = "--quick" in sys.argv
M = 1024 if QUICK else 8192


def median_time(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    rng = np.random.default_rng(0)
    n_main = 1000 if QUICK else 10000
    X = rng.standard_normal((n_main, 784)).astype(np.float32)
    for n_jobs in (None, 2):
        est = NTKSketch(M, depth=2, random_state=0, n_jobs=n_jobs).fit(X)
        t = median_time(lambda est=est: est.transform(X))
        print(f"NTKSketch({M}, depth=2) n={n_main} d=784 float32 n_jobs={n_jobs}: "
              f"{t:.2f} s = {1e3 * t / n_main:.3f} ms/row (published PyTorch code: 3.0 ms/row)")

    print("\ntime against n (n_jobs=2):")
    est = NTKSketch(M, depth=2, random_state=0, n_jobs=2).fit(X[:1000])
    for n in (1000, 2000, 4000, 8000) if not QUICK else (250, 500, 1000):
        Xn = rng.standard_normal((n, 784)).astype(np.float32)
        t = median_time(lambda Xn=Xn: est.transform(Xn))
        print(f"  n={n:6d}: {t:.3f} s ({1e3 * t / n:.3f} ms/row)")

    print("\nsketch + linear ridge vs exact kernel ridge (float64 y, depth 2, total fit time):")
    for n in (1000, 2000, 4000, 8000) if not QUICK else (250, 500):
        Xn = rng.standard_normal((n, 784)).astype(np.float32)
        y = rng.standard_normal(n)

        def sketch_fit(Xn=Xn, y=y):
            Z = NTKSketch(M, depth=2, random_state=0, n_jobs=2).fit_transform(Xn)
            Ridge(alpha=1e-3, solver="cholesky").fit(Z, y)

        def exact_fit(Xn=Xn, y=y):
            K = ntk_kernel(Xn, depth=2, n_jobs=2)
            K[np.diag_indices_from(K)] += 1e-3
            np.linalg.solve(K.astype(np.float64), y)

        ts, te = median_time(sketch_fit, 1), median_time(exact_fit, 1)
        print(f"  n={n:6d}: sketch+ridge {ts:.2f} s, exact kernel ridge {te:.2f} s")

    print("\nsparse input (CSR, d = 100000, time grows with nnz, not d):")
    n = 500 if QUICK else 2000
    for density in (1e-4, 4e-4, 1.6e-3):
        Xs = sp.random(n, 100_000, density=density, format="csr", random_state=0,
                       dtype=np.float32)
        est = NTKSketch(M, depth=2, random_state=0).fit(Xs)
        t = median_time(lambda est=est, Xs=Xs: est.transform(Xs))
        print(f"  nnz/row={density * 100_000:6.0f}: {1e3 * t / n:.3f} ms/row")


if __name__ == "__main__":
    main()
