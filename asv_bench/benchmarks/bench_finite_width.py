"""Benchmarks of the empirical NTK algorithms of :mod:`skntk.finite_width`.

Time and peak memory of Jacobian contraction, NTK-vector products and structured derivatives
for a depth-3 fully connected network (ReLU, ``W = 1``, ``b = 0.1``) on ``n = 500`` points with
``d = 100`` features, against the width (256 to 4096) and the number of outputs (1 and 10).
Combinations that the cost model (:func:`skntk.finite_width.empirical_ntk_cost`) puts above
``MAX_FLOPS`` are skipped (``setup`` raises ``NotImplementedError``).

With the environment variable ``SKNTK_BENCH_TINY=1`` the sizes are tiny (``n = 20``, ``d = 10``,
widths 16 and 32) so that CI can run every benchmark quickly.

Run as a script (``python bench_finite_width.py``) to print the full table once: median wall
time over a few repeats and the peak of traced (NumPy) memory of each combination.
"""

import os
import time
import tracemalloc

import numpy as np

from skntk.finite_width import METHODS, empirical_ntk, empirical_ntk_cost, init_mlp_weights

TINY = os.environ.get("SKNTK_BENCH_TINY", "") == "1"
DEPTH = 3
if TINY:
    N_SAMPLES, N_FEATURES, WIDTHS = 20, 10, [16, 32]
else:
    N_SAMPLES, N_FEATURES, WIDTHS = 500, 100, [256, 512, 1024, 2048, 4096]
OUTPUTS = [1, 10]
# Skip what the cost model predicts above this many floating-point operations (about two
# minutes at 100 GFLOP/s).
MAX_FLOPS = 1e13


def _problem(width, n_outputs, n_samples=None, seed=0):
    n = N_SAMPLES if n_samples is None else n_samples
    X = np.random.default_rng(seed).standard_normal((n, N_FEATURES))
    weights = init_mlp_weights(N_FEATURES, (width,) * DEPTH, n_outputs, random_state=seed)
    return X, weights


def _flops(method, width, n_outputs):
    sizes = (N_FEATURES, *(width,) * DEPTH, n_outputs)
    return empirical_ntk_cost(N_SAMPLES, None, sizes)[method]


class EmpiricalNTK:
    """``empirical_ntk(X)`` (the full (n, n, k, k) kernel) by each method."""

    params = (list(METHODS), WIDTHS, OUTPUTS)
    param_names = ["method", "width", "n_outputs"]
    timeout = 1800
    number = 1
    repeat = (1, 3, 120.0)

    def setup(self, method, width, n_outputs):
        if _flops(method, width, n_outputs) > MAX_FLOPS:
            raise NotImplementedError("predicted too slow; skipped")
        self.X, self.weights = _problem(width, n_outputs)

    def time_empirical_ntk(self, method, width, n_outputs):
        empirical_ntk(self.X, weights=self.weights, bias_std=0.1, method=method)

    def peakmem_empirical_ntk(self, method, width, n_outputs):
        empirical_ntk(self.X, weights=self.weights, bias_std=0.1, method=method)

    def track_predicted_gflop(self, method, width, n_outputs):
        return _flops(method, width, n_outputs) / 1e9

    track_predicted_gflop.unit = "GFLOP"


class EmpiricalNTKTrace:
    """The output-averaged kernel (``trace=True``), as ``FiniteWidthNTK.kernel`` computes it."""

    params = (list(METHODS), WIDTHS[:2], [10])
    param_names = ["method", "width", "n_outputs"]
    timeout = 1800
    number = 1
    repeat = (1, 3, 120.0)

    def setup(self, method, width, n_outputs):
        sizes = (N_FEATURES, *(width,) * DEPTH, n_outputs)
        if empirical_ntk_cost(N_SAMPLES, None, sizes, trace=True)[method] > MAX_FLOPS:
            raise NotImplementedError("predicted too slow; skipped")
        self.X, self.weights = _problem(width, n_outputs)

    def time_empirical_ntk_trace(self, method, width, n_outputs):
        empirical_ntk(self.X, weights=self.weights, bias_std=0.1, method=method, trace=True)


def main(max_flops=MAX_FLOPS, repeats=3):
    """Print the table: method, width, outputs, median seconds, traced peak MiB, GFLOP/s."""
    print(f"n={N_SAMPLES} d={N_FEATURES} depth={DEPTH} relu W=1 b=0.1; cost-model cap "
          f"{max_flops:.0e} FLOPs", flush=True)
    print(f"{'k':>3} {'width':>6} {'method':>11} {'seconds':>9} {'peak MiB':>9} "
          f"{'GFLOP/s':>8}", flush=True)
    for n_outputs in OUTPUTS:
        for width in WIDTHS:
            X, weights = _problem(width, n_outputs)
            for method in ("structured", "ntvp", "jacobian"):
                flops = _flops(method, width, n_outputs)
                if flops > max_flops:
                    print(f"{n_outputs:>3} {width:>6} {method:>11}   skipped (predicted "
                          f"{flops:.1e} FLOPs)", flush=True)
                    continue
                times = []
                tracemalloc.start()
                for r in range(repeats):
                    t0 = time.perf_counter()
                    empirical_ntk(X, weights=weights, bias_std=0.1, method=method)
                    times.append(time.perf_counter() - t0)
                    if r == 0:
                        peak = tracemalloc.get_traced_memory()[1] / 2**20
                        tracemalloc.stop()
                    if sum(times) > 30:  # slow cases: one or two runs are enough
                        break
                sec = float(np.median(times))
                print(f"{n_outputs:>3} {width:>6} {method:>11} {sec:>9.3f} {peak:>9.0f} "
                      f"{flops / sec / 1e9:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
