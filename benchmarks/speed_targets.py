"""Issue #15's speed targets, with the error at each setting next to the time.

Rows (float32, medians of ``--repeat`` transforms, 3 by default):

* ``NTKSketch(8192)``, depth 2, ReLU without bias (the Taylor path, which must not slow down)
  and gelu with bias 0.5 (the Hermite path), on ``--n`` (10000) standard Gaussian rows of
  d = 784: ms per row;
* ``NTKRandomFeatures(12288)``, depth 2, ReLU, same rows: ms per row, and its fit time with
  leverage sampling;
* ``CNTKSketch`` Myrtle-5, normalized Gaussian activation, 4096 and 8192 columns, on
  ``--images`` (16) standard Gaussian 32x32x3 images: s per image.

Errors: relative Frobenius error of the sketch's Gram matrix against the exact kernel, raw and
centred (``H K H``, ``H = I - 11^T / n``), on the first 1000 rows (fully connected) or the
first 8 images (Myrtle-5, whose exact kernel is slow).

Run: ``python benchmarks/speed_targets.py [--quick] [--only NAME ...]``. To time another copy
of the package, run it from elsewhere with ``PYTHONPATH`` pointing at that copy.
"""

import argparse
import time

import numpy as np
from speed_fc import median_time  # a sibling script

import skntk
from skntk import CNTKSketch, NTKRandomFeatures, NTKSketch
from skntk.kernels import cntk_kernel, ntk_kernel

MYRTLE5 = dict(architecture="myrtle", depth=5, activation="normalized_gaussian",
               weight_std=2**0.5)


def errors(Z, K):
    """Raw and centred relative Frobenius errors of ``Z Z^T`` against ``K``."""
    Z = np.asarray(Z, dtype=np.float64)
    G = Z @ Z.T
    n = len(K)
    H = np.eye(n) - 1.0 / n
    raw = np.linalg.norm(G - K) / np.linalg.norm(K)
    centred = np.linalg.norm(H @ (G - K) @ H) / np.linalg.norm(H @ K @ H)
    return raw, centred


def fully_connected_cases(m_scale):
    return {
        "taylor-relu": lambda: NTKSketch(8192 // m_scale, depth=2, random_state=0),
        "hermite-gelu": lambda: NTKSketch(8192 // m_scale, depth=2, activation="gelu",
                                          bias_std=0.5, random_state=0),
        "random-features": lambda: NTKRandomFeatures(12288 // m_scale, depth=2,
                                                     random_state=0),
    }


def run_fully_connected(name, make, X, repeat, kernels):
    start = time.perf_counter()
    est = make().fit(X)
    fit = time.perf_counter() - start
    t = median_time(lambda: est.transform(X), repeat)
    params = est.get_params()
    key = (params["activation"], params["bias_std"])
    m = min(1000, len(X))
    if key not in kernels:
        kernels[key] = ntk_kernel(X[:m].astype(np.float64), depth=2, activation=key[0],
                                  bias_std=key[1])
    raw, centred = errors(est.transform(X[:m]), kernels[key])
    print(f"{name:18s} {type(est).__name__}({est.n_components}) {1e3 * t / len(X):7.3f} ms/row"
          f"  fit {fit:5.2f} s  error raw {raw:.4f} centred {centred:.4f}", flush=True)
    if name == "random-features":
        lev = make().set_params(leverage_sampling=True)
        fit_lev = median_time(lambda: lev.fit(X), repeat)
        raw, centred = errors(lev.transform(X[:m]), kernels[key])
        print(f"{'  leverage':18s} fit {fit_lev:5.2f} s  error raw {raw:.4f} centred "
              f"{centred:.4f}", flush=True)


def run_myrtle(m, images, repeat, kernel_cache):
    est = CNTKSketch(m, random_state=0, **MYRTLE5).fit(images)
    t = median_time(lambda: est.transform(images), repeat)
    k = min(8, len(images))
    if "K" not in kernel_cache:
        kernel_cache["K"] = cntk_kernel(images[:k].astype(np.float64), architecture="myrtle",
                                        depth=5, activation="normalized_gaussian",
                                        weight_std=2**0.5)
    raw, centred = errors(est.transform(images[:k]), kernel_cache["K"])
    print(f"myrtle5-{m:<10d} CNTKSketch({m}) {t / len(images):7.3f} s/image"
          f"  error raw {raw:.4f} centred {centred:.4f} ({k} images)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--n", type=int, default=10000, help="fully connected rows")
    parser.add_argument("--images", type=int, default=16, help="Myrtle-5 images")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", default=None,
                        help="taylor-relu, hermite-gelu, random-features, myrtle5-4096, "
                             "myrtle5-8192 (repeatable)")
    args = parser.parse_args()
    print(skntk.__file__)
    m_scale = 8 if args.quick else 1
    n = 300 if args.quick else args.n
    side = 8 if args.quick else 32
    wanted = args.only
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 784)).astype(np.float32)
    kernels = {}
    for name, make in fully_connected_cases(m_scale).items():
        if wanted is None or name in wanted:
            run_fully_connected(name, make, X, args.repeat, kernels)
    images = rng.standard_normal((2 if args.quick else args.images, side, side, 3))
    images = images.astype(np.float32)
    cache = {}
    for m in (4096, 8192):
        if wanted is None or f"myrtle5-{m}" in wanted:
            run_myrtle(m // m_scale, images, args.repeat, cache)


if __name__ == "__main__":
    main()
