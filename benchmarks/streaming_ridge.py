"""Streaming neural kernel ridge vs the materialized pipeline (issue #13): time, peak memory.

Run: ``python benchmarks/streaming_ridge.py [--n 200000] [--components 4096] [--n-jobs 1]
[--repeat 1]``.

Synthetic float32 rows (``n x 784``), ``NTKSketch(components, depth=2)``, ``alpha=1``. Each
mode runs in a fresh subprocess so its peak resident memory (``VmHWM`` of
``/proc/self/status``, reset after the data are made; ``ru_maxrss`` cannot be reset) is its
own:

- ``stream``: ``NeuralKernelRidge(NTKSketch(...)).fit(X, y)``, with the map wrapped in a timer
  to split the fit into the map's fit, its transform, and the rest (accumulation + solve).
- ``parts``: the reference cost of the same work done bare: the map's fit, its transform of
  all rows batch by batch (each batch discarded), and one ``ssyrk`` per batch of the same
  shape (float32 features: the streaming fit's Gram update).
- ``materialized``: ``Pipeline([NTKSketch(...), Ridge(alpha=1)]).fit(X, y)``, which holds the
  ``n x m`` float32 features (and Ridge's centred copy).

The checks of the issue: peak RSS of ``stream`` at most the input plus 1 GB, and its fit time
at most 1.3 x (map fit + transform + syrk) of ``parts``. Both fits use the same fitted map
(same data, same ``random_state``), so their predictions must agree; the largest difference
on the first 1000 rows is printed too.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

D = 784
ALPHA = 1.0


def _data(n):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, D), dtype=np.float32)
    w = rng.standard_normal(D).astype(np.float32) / np.sqrt(D)
    # by blocks: a float32 matrix-vector product over all of X peaks at 2-3 times X's size
    y = np.concatenate([np.sin(2.0 * (X[i : i + 8192] @ w)) for i in range(0, n, 8192)])
    y = y.astype(np.float64) + 0.1 * rng.standard_normal(n)
    return X, y


def _reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak is the fit's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _memory():
    return {
        "vm_hwm_mb": _status_kb("VmHWM") / 1024,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _sketch(args):
    from skntk import NTKSketch

    return NTKSketch(args.components, depth=2, random_state=0)


def _timed_map_class():
    from sklearn.base import BaseEstimator, TransformerMixin

    class TimedMap(TransformerMixin, BaseEstimator):
        """A feature map that adds up the time spent in its inner map's fit and transform."""

        def __init__(self, inner=None):
            self.inner = inner

        def fit(self, X, y=None):
            start = time.perf_counter()
            self.inner_ = self.inner.fit(X)
            self.fit_seconds_ = time.perf_counter() - start
            self.transform_seconds_ = 0.0
            self.n_features_in_ = self.inner_.n_features_in_
            return self

        def transform(self, X):
            start = time.perf_counter()
            Z = self.inner_.transform(X)
            self.transform_seconds_ += time.perf_counter() - start
            return Z

    return TimedMap


def run_stream(args, X, y):
    from skntk.linear_model import NeuralKernelRidge

    model = NeuralKernelRidge(_timed_map_class()(_sketch(args)), alpha=ALPHA, n_jobs=args.n_jobs)
    start = time.perf_counter()
    model.fit(X, y)
    total = time.perf_counter() - start
    fm = model.feature_map_
    result = {
        "fit_seconds": total,
        "map_fit_seconds": fm.fit_seconds_,
        "transform_seconds": fm.transform_seconds_,
        "accumulate_solve_seconds": total - fm.fit_seconds_ - fm.transform_seconds_,
        "batch_rows": model._batch_rows(args.components),
    }
    fm.transform_seconds_ = 0.0
    return result, model.predict(X[:1000])


def run_parts(args, X, y):
    from scipy.linalg.blas import ssyrk
    from sklearn.utils import gen_batches

    from skntk.linear_model import NeuralKernelRidge

    start = time.perf_counter()
    fm = _sketch(args).fit(X)
    map_fit = time.perf_counter() - start
    rows = NeuralKernelRidge(fm)._batch_rows(args.components)
    transform = syrk = 0.0
    for sl in gen_batches(len(X), rows):
        start = time.perf_counter()
        Z = fm.transform(X[sl])
        transform += time.perf_counter() - start
        start = time.perf_counter()
        ssyrk(1.0, np.ascontiguousarray(Z).T, trans=0)
        syrk += time.perf_counter() - start
    return {"map_fit_seconds": map_fit, "transform_seconds": transform, "syrk_seconds": syrk}, None


def run_materialized(args, X, y):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("sketch", _sketch(args)), ("ridge", Ridge(alpha=ALPHA))])
    start = time.perf_counter()
    pipe.fit(X, y)
    return {"fit_seconds": time.perf_counter() - start}, pipe.predict(X[:1000])


def child(args):
    # import everything first, so that "before" holds the interpreter, libraries and input
    import scipy.linalg.blas  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.pipeline  # noqa: F401

    import skntk.linear_model  # noqa: F401

    libraries_mb = _status_kb("VmRSS") / 1024
    X, y = _data(args.n)
    reset = _reset_peak()
    before = _memory()
    before["vm_rss_mb"] = _status_kb("VmRSS") / 1024
    before["libraries_mb"] = libraries_mb
    before["peak_reset"] = reset
    run = {"stream": run_stream, "parts": run_parts, "materialized": run_materialized}
    result, pred = run[args.mode](args, X, y)
    result.update(memory_before=before, memory=_memory(), input_mb=(X.nbytes + y.nbytes) / 2**20)
    if pred is not None:
        np.save(os.path.join(args.out, f"{args.mode}.npy"), pred)
    print("RESULT " + json.dumps(result))


def spawn(args, mode, out):
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--mode",
        mode,
        "--n",
        str(args.n),
        "--components",
        str(args.components),
        "--n-jobs",
        str(args.n_jobs),
        "--out",
        out,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"mode {mode} failed (exit {proc.returncode})")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _fastest(runs):
    def seconds(r):
        return r.get("fit_seconds", r.get("transform_seconds", 0) + r.get("syrk_seconds", 0))

    best = dict(min(runs, key=seconds))
    best["memory"] = dict(best["memory"], vm_hwm_mb=max(r["memory"]["vm_hwm_mb"] for r in runs))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--components", type=int, default=4096)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--modes", default="stream,parts,materialized")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each mode, interleaved; the fastest is reported (the "
        "machine may be shared) with the largest peak memory",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    n, m = args.n, args.components
    print(
        f"n = {n:,} rows x {D} float32, NTKSketch({m}, depth=2), alpha={ALPHA}, "
        f"n_jobs={args.n_jobs}, {os.cpu_count()} CPUs"
    )
    runs = {}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeat):
            for mode in args.modes.split(","):
                runs.setdefault(mode, []).append(spawn(args, mode, out))
        preds = {
            mode: np.load(os.path.join(out, f"{mode}.npy"))
            for mode in ("stream", "materialized")
            if mode in runs
        }

    results = {mode: _fastest(rs) for mode, rs in runs.items()}
    gb = 1024.0
    if "stream" in results:
        r = results["stream"]
        input_mb = r["input_mb"]
        print(
            f"\ninput X and y: {input_mb:,.0f} MB; the features would take "
            f"{n * m * 4 / 2**20:,.0f} MB (float32)"
        )
        print("\nmode           fit (s)   rows/s    peak RSS (MB)   RSS before fit (MB)")
        for mode in ("stream", "materialized"):
            if mode in results:
                q = results[mode]
                print(
                    f"{mode:13s} {q['fit_seconds']:8.1f} {n / q['fit_seconds']:9,.0f}"
                    f"   {q['memory']['vm_hwm_mb']:13,.0f}"
                    f"   {q['memory_before']['vm_rss_mb']:17,.0f}"
                )
        print(
            f"\nstreaming fit split: map fit {r['map_fit_seconds']:.1f} s, transform "
            f"{r['transform_seconds']:.1f} s, accumulation + solve "
            f"{r['accumulate_solve_seconds']:.1f} s (batches of {r['batch_rows']} rows)"
        )
        if not r["memory_before"]["peak_reset"]:
            print("(could not reset VmHWM: the peaks include making the data)")
        peak = r["memory"]["vm_hwm_mb"]
        before = r["memory_before"]["vm_rss_mb"]
        over = peak - before
        print(
            f"peak RSS {peak:,.0f} MB = interpreter and libraries "
            f"{r['memory_before']['libraries_mb']:,.0f} MB + input and y "
            f"{before - r['memory_before']['libraries_mb']:,.0f} MB + {over:,.0f} MB for the fit"
        )
        print(
            f"claim 'peak RSS <= input + 1 GB': peak - input = {peak - input_mb:,.0f} MB "
            f"(interpreter and libraries included) -> "
            f"{'holds' if peak - input_mb <= gb else 'FAILS'}; the fit itself adds "
            f"{over:,.0f} MB -> {'holds' if over <= gb else 'FAILS'}"
        )
    if "parts" in results and "stream" in results:
        p = results["parts"]
        bare = p["map_fit_seconds"] + p["transform_seconds"] + p["syrk_seconds"]
        ratio = results["stream"]["fit_seconds"] / bare
        print(
            f"bare work: map fit {p['map_fit_seconds']:.1f} s + transform "
            f"{p['transform_seconds']:.1f} s + ssyrk {p['syrk_seconds']:.1f} s = {bare:.1f} s"
        )
        print(
            f"claim 'streaming fit <= 1.3 x (transform + syrk)': ratio {ratio:.2f} -> "
            f"{'holds' if ratio <= 1.3 else 'FAILS'}"
        )
    if "materialized" in results and "stream" in results:
        q = results["materialized"]
        print(
            f"materialized pipeline: peak RSS {q['memory']['vm_hwm_mb']:,.0f} MB "
            f"({q['memory']['vm_hwm_mb'] - results['stream']['memory']['vm_hwm_mb']:+,.0f} "
            "MB vs streaming)"
        )
        diff = np.abs(preds["stream"] - preds["materialized"]).max()
        print(
            f"predictions (first 1000 rows): max |stream - materialized| = {diff:.2e} "
            f"(scale {np.abs(preds['materialized']).max():.2f}; float32 features)"
        )


if __name__ == "__main__":
    main()
