"""Accuracy of NTKSketch / NNGPSketch against the exact kernels (issue #3's acceptance table).

Relative Frobenius error ``||Z Z^T - K||_F / ||K||_F`` at n = 2000 rows, n_components = 8192,
depth 2, over a few seeds, on standard Gaussian data (d = 784) and scikit-learn's digits; then
the Hermite path's error as the input norm grows, for several degrees.

Each error is printed raw and centred (``H (G - K) H`` against ``H K H``, what a model with an
intercept sees), next to the best of two trivial approximations built from the exact kernel
itself: its best rank-1 approximation and its exact diagonal plus a constant. A sketch whose
error is not clearly below the baseline's shows nothing on those data (on the 784-d Gaussian
rows the Hermite sketches at 8192 columns are not).

Run: ``python benchmarks/accuracy_fc.py [--quick]``
"""

import sys

import numpy as np
from sklearn.datasets import load_digits

from skntk import NNGPSketch, NTKSketch
from skntk.kernels import nngp_kernel, ntk_kernel

QUICK = "--quick" in sys.argv
N = 400 if QUICK else 2000
M = 2048 if QUICK else 8192
SEEDS = (0,) if QUICK else (0, 1, 2)


def rel(Z, K):
    return np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K)


def centre(A):
    A = A - A.mean(axis=0)
    return A - A.mean(axis=1)[:, None]


def errors(G, K):
    """Raw and centred relative Frobenius errors of the Gram matrix ``G``."""
    return (np.linalg.norm(G - K) / np.linalg.norm(K),
            np.linalg.norm(centre(G - K)) / np.linalg.norm(centre(K)))


def baseline(K):
    """Best (raw, centred) errors of the rank-1 and the diagonal-plus-constant baselines."""
    w, V = np.linalg.eigh(K)
    rank1 = w[-1] * np.outer(V[:, -1], V[:, -1])
    off = ~np.eye(len(K), dtype=bool)
    diag_const = np.where(off, K[off].mean(), K)
    pairs = [errors(rank1, K), errors(diag_const, K)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def main():
    rng = np.random.default_rng(0)
    gauss = rng.standard_normal((N, 784))
    digits = load_digits().data[:N]
    cases = [("gaussian", gauss, "relu", 0.0), ("digits", digits, "relu", 0.0)]
    for act in ("gelu", "erf", "tanh", "sin"):
        cases += [("gaussian", gauss, act, 0.5), ("digits/16", digits / 16, act, 0.5)]
    print(f"n = {N}, n_components = {M}, depth 2; errors over seeds {SEEDS}")
    print(f"{'data':10s} {'activation':10s} {'bias':>4s} {'kernel':6s} {'method':8s} "
          "raw errors (median) | centred errors (median) | baseline raw / centred")
    for name, X, act, bias in cases:
        for cls, fn, kname in ((NTKSketch, ntk_kernel, "NTK"), (NNGPSketch, nngp_kernel, "NNGP")):
            K = fn(X, depth=2, activation=act, bias_std=bias)
            errs = []
            for seed in SEEDS:
                est = cls(M, depth=2, activation=act, bias_std=bias, random_state=seed)
                Z = est.fit_transform(X).astype(np.float64)
                errs.append(errors(Z @ Z.T, K))
            raw, cen = np.array(errs).T
            base_raw, base_cen = baseline(K)
            print(f"{name:10s} {act:10s} {bias:4.1f} {kname:6s} {est.method_:8s} "
                  + " ".join(f"{e:.4f}" for e in raw) + f" ({np.median(raw):.4f}) | "
                  + " ".join(f"{e:.4f}" for e in cen) + f" ({np.median(cen):.4f}) | "
                  + f"{base_raw:.4f} / {base_cen:.4f}", flush=True)

    print("\nHermite path vs input norm (NTK, depth 2, bias 0.5, Gaussian rows scaled by c)")
    n = 300 if QUICK else 1000
    X0 = rng.standard_normal((n, 784))
    for act in ("gelu", "tanh"):
        for c in (1, 2, 4, 8):
            X = c * X0
            K = ntk_kernel(X, depth=2, activation=act, bias_std=0.5)
            row = []
            for degree in (4, 8, 16, 32):
                est = NTKSketch(M, depth=2, activation=act, bias_std=0.5, degree=degree,
                                random_state=0)
                row.append(rel(est.fit_transform(X), K))
            print(f"{act:5s} scale {c:2d}: " + "  ".join(
                f"degree {d:2d}: {e:.4f}" for d, e in zip((4, 8, 16, 32), row, strict=True)),
                flush=True)


if __name__ == "__main__":
    main()
