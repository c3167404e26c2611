"""Walking the rows: in-memory batches (in threads, with progress lines) or dask row blocks.

A pass is an accumulating function ``accumulate(X_b, Y_b, w_b, acc) -> acc`` (``acc`` None at
the start) whose results add, so batches may be taken in any order and grouping.
"""

import functools
import operator
import os
import sys
import threading
import time
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.utils import gen_batches
from threadpoolctl import threadpool_limits

from .._backend import one_fft_thread
from .._dask import reduce_row_blocks
from ._targets import check_block_weights


def rows(A, sl):
    """Rows ``sl`` of an array, sparse matrix or None."""
    if A is None:
        return None
    if isinstance(A, np.ndarray) or sp.issparse(A):
        return A[sl]
    return A[sl, ...]


def stream(accumulate, arrays, coder, batch, n_jobs, progress, out=None):
    """Run ``accumulate`` over the batches of ``batch`` rows of ``arrays = (X, y, w)``, the
    targets coded batch by batch.

    With ``n_jobs`` threads, each takes every ``n_jobs``-th batch into its own accumulator
    (the first into ``out``), and BLAS threads are divided among them; the accumulators are
    then summed.
    """
    X, y, w = arrays
    batches = list(gen_batches(X.shape[0], batch))
    n_jobs = max(1, min(effective_n_jobs(n_jobs), len(batches)))

    def work(group, acc):
        # with threads of our own, the feature map's transform runs on each one alone
        with one_fft_thread() if n_jobs > 1 else nullcontext():
            for sl in group:
                acc = accumulate(rows(X, sl), coder(rows(y, sl)), rows(w, sl), acc)
                progress.update(sl.stop - sl.start)
        return acc

    if n_jobs == 1:
        return work(batches, out)
    with threadpool_limits(limits=max(1, (os.cpu_count() or 1) // n_jobs), user_api="blas"):
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(work)(batches[i::n_jobs], out if i == 0 else None) for i in range(n_jobs)
        )
    acc = parts[0]
    for part in parts[1:]:
        acc += part
    return acc


def reduce_dask(accumulate, empty, arrays, coder):
    """``accumulate`` as one dask task per row block, summed in a tree on the cluster.

    ``empty()`` is the result of a block without rows. Only the results travel between
    workers; ``accumulate`` (with the fitted map it holds) enters the graph once.
    """
    task = functools.partial(_dask_task, accumulate, empty, coder)
    return reduce_row_blocks(task, list(arrays), operator.add)


def _dask_task(accumulate, empty, coder, Xb, yb, wb):
    if Xb.shape[0] == 0:
        return empty()
    if wb is not None:
        wb = check_block_weights(wb)
    return accumulate(Xb, coder(yb), wb, None)


class Progress:
    """Progress lines on stderr: rows done, rows per second, time left (thread-safe)."""

    def __init__(self, name, label, total, verbose):
        self.name, self.label, self.total, self.verbose = name, label, total, verbose
        self.done = 0
        self.start = self.last = time.perf_counter()
        self.lock = threading.Lock()

    def update(self, rows):
        if not self.verbose:
            return
        with self.lock:
            self.done += rows
            now = time.perf_counter()
            if self.verbose < 2 and now - self.last < 1.0 and self.done < self.total:
                return
            self.last = now
            elapsed = max(now - self.start, 1e-9)
            rate = self.done / elapsed
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(
                f"[{self.name}] {self.label}: {self.done}/{self.total} rows, "
                f"{rate:,.0f} rows/s, {left:.1f} s left",
                file=sys.stderr,
                flush=True,
            )
