"""Shared sizes for the benchmarks: SKNTK_BENCH_TINY=1 shrinks everything for CI smoke runs."""

import os

import numpy as np

TINY = os.environ.get("SKNTK_BENCH_TINY", "0") == "1"


def size(full, tiny):
    return tiny if TINY else full


def gaussian(n, d, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


def relative_error(Z, K):
    return float(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K))
