"""
NTK ridge on more rows than the features fit in memory: streaming and dask
==========================================================================

The 1797 digits, augmented to ``--n`` rows (100,000 by default) by random one-pixel shifts
and pixel noise, are small (64 float32 values a row); their NTK features are not (4096 float32
values a row: 1.6 GB at 100,000 rows, 16 GB at a million). ``NeuralKernelRidgeClassifier``
never holds the features: it walks the rows in batches and accumulates ``Phi^T Phi`` and
``Phi^T Y`` (memory ``O(m^2 + batch x m)``, whatever the number of rows), then solves.

It runs twice on the same rows: once in memory, and once on a ``dask.distributed``
``LocalCluster`` of 2 worker processes, where each worker reduces its own row chunks and only
``m x m`` matrices travel. Both print test accuracy, fit time and peak memory.

Run: ``python examples/large_data_ridge.py [--n 100000] [--components 4096]``
(the dask half needs ``pip install "skntk[dask]"``; it is skipped without it).
"""

import argparse
import resource
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skntk import NeuralKernelRidgeClassifier, NTKSketch

CHUNK = 12_500  # rows per chunk: each chunk is generated from its own seed


def peak_mb():
    """This process's peak resident memory (MB; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def augment(X, y, n, seed):
    """``n`` rows: random digits shifted by up to one pixel, plus a little pixel noise."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(X), n)
    images = X[pick].reshape(n, 8, 8)
    out = np.empty((n, 8, 8), dtype=np.float32)
    shifts = rng.integers(-1, 2, size=(n, 2))
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            rows = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))
            out[rows] = np.roll(images[rows], (dy, dx), axis=(1, 2))
    out += rng.normal(0.0, 0.05, out.shape).astype(np.float32)
    return out.reshape(n, 64), y[pick]


def chunk_sizes(n, chunk=CHUNK):
    return [min(chunk, n - start) for start in range(0, n, chunk)]


def model(components):
    return NeuralKernelRidgeClassifier(
        NTKSketch(components, depth=2, random_state=0), alpha=1e-3, verbose=0
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--n", type=int, default=100_000, help="training rows")
    parser.add_argument("--components", type=int, default=4096)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    sizes = chunk_sizes(args.n)
    parts = [augment(X_pool, y_pool, size, seed) for seed, size in enumerate(sizes)]
    X_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    del parts
    features_gb = args.n * args.components * 4 / 1e9
    print(f"{args.n} training rows of {X.shape[1]} pixels ({X_train.nbytes / 1e6:.0f} MB); "
          f"their features would take {features_gb:.1f} GB")

    start = time.perf_counter()
    clf = model(args.components).fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    print(f"in memory: accuracy {clf.score(X_test, y_test):.4f}, fit {elapsed:.1f} s, "
          f"peak memory {peak_mb():.0f} MB")

    try:
        import dask
        import dask.array as da
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("dask is not installed: pip install 'skntk[dask]' for the cluster run")
        return
    del X_train, y_train
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        # the same rows, generated on the workers chunk by chunk (nothing large is shipped)
        chunks = [dask.delayed(augment, nout=2)(X_pool, y_pool, size, seed)
                  for seed, size in enumerate(sizes)]
        X_dask = da.concatenate([da.from_delayed(c[0], (size, 64), np.float32)
                                 for c, size in zip(chunks, sizes, strict=True)])
        y_dask = da.concatenate([da.from_delayed(c[1], (size,), y.dtype)
                                 for c, size in zip(chunks, sizes, strict=True)])
        start = time.perf_counter()
        clf = model(args.components).fit(X_dask, y_dask)
        elapsed = time.perf_counter() - start
        workers = client.run(peak_mb)
        print(f"LocalCluster, 2 workers: accuracy {clf.score(X_test, y_test):.4f}, "
              f"fit {elapsed:.1f} s, peak memory per worker "
              + ", ".join(f"{mb:.0f} MB" for mb in workers.values()))


if __name__ == "__main__":
    main()
