"""Spectral approximation of the ReLU NTK by NTKRandomFeatures: plain vs leverage sampling.

For the exact kernel matrix ``K`` and the random-feature Gram ``K~ = Z Z^T``, the smallest
``eps`` with

    (1 - eps)(K + lam I) <= K~ + lam I <= (1 + eps)(K + lam I)

(Loewner order) is ``eps = max |eig((K + lam I)^{-1/2} (K~ - K) (K + lam I)^{-1/2})|``. The
table reports its median over seeds against ``n_components``, for plain Gaussian directions and
for leverage-score sampling (``leverage_sampling=True``), with ``lam`` in
``{1e-3, 1e-2, 1e-1} x trace(K)/n``, on n = 500 digits (8x8, raw pixels).

Run: ``python benchmarks/leverage_spectral.py [--quick] [--depth D] [--kernel nngp]``
(``--kernel nngp`` isolates the value features, the only ones leverage sampling reweights).

Since the features are centred on their exact conditional means (the Monte-Carlo steps of
:class:`skntk.steps.MonteCarloStep`), the common mode is exact and leverage sampling changes
little. The spectral error at small ``lam`` lives in the small-eigenvalue directions, where
centring does not reduce the per-column noise and which the tensor (derivative) part
dominates: it follows the number of tensor columns, which the planner sets from the typical
diagonal sizes (:func:`skntk.planning.plan_monte_carlo`), not from this criterion.
"""

import sys
import time

import numpy as np
from sklearn.datasets import load_digits

from skntk.kernels import nngp_kernel, ntk_kernel
from skntk.random_features import NTKRandomFeatures

QUICK = "--quick" in sys.argv
DEPTH = int(sys.argv[sys.argv.index("--depth") + 1]) if "--depth" in sys.argv else 1
KERNEL = sys.argv[sys.argv.index("--kernel") + 1] if "--kernel" in sys.argv else "ntk"
N = 200 if QUICK else 500
SIZES = [128, 512] if QUICK else [256, 512, 1024, 2048, 4096]
SEEDS = 2 if QUICK else 3
LAMBDA_FACTORS = [1e-3, 1e-2, 1e-1]


def spectral_eps(U, s, lam, E):
    """``max |eig(D^{-1/2} U^T E U D^{-1/2})|`` with ``K = U diag(s) U^T``, ``D = s + lam``."""
    w = 1.0 / np.sqrt(np.maximum(s, 0.0) + lam)
    M = (U.T @ E @ U) * w[:, None] * w[None, :]
    ev = np.linalg.eigvalsh((M + M.T) / 2)
    return float(np.max(np.abs(ev)))


def main():
    X = load_digits().data[:N]
    K = (ntk_kernel if KERNEL == "ntk" else nngp_kernel)(X, depth=DEPTH)
    s, U = np.linalg.eigh(K)
    lams = [f * np.trace(K) / N for f in LAMBDA_FACTORS]
    print(f"ReLU {KERNEL.upper()}, depth {DEPTH}, n = {N} digits; eps = spectral error "
          f"(median of {SEEDS} seeds)")
    head = "n_components | sampling  | " + " | ".join(
        f"lam={f:g}*tr/n" for f in LAMBDA_FACTORS) + " | rel. Frobenius"
    print(head)
    print("-" * len(head))
    start = time.perf_counter()
    for m in SIZES:
        for lev in (False, True):
            eps = np.zeros((SEEDS, len(lams)))
            fro = np.zeros(SEEDS)
            for seed in range(SEEDS):
                Z = NTKRandomFeatures(
                    m, depth=DEPTH, kernel=KERNEL, leverage_sampling=lev, random_state=seed
                ).fit_transform(X)
                E = Z @ Z.T - K
                fro[seed] = np.linalg.norm(E) / np.linalg.norm(K)
                for k, lam in enumerate(lams):
                    eps[seed, k] = spectral_eps(U, s, lam, E)
            med = np.median(eps, axis=0)
            name = "leverage" if lev else "plain"
            cells = " | ".join(f"{v:13.3f}" for v in med)
            print(f"{m:12d} | {name:9s} | {cells} | {np.median(fro):14.4f}", flush=True)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
