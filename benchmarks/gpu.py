"""GPU check and benchmark (issue 14): the ``gpu`` tests, then one table of GPU against CPU.

Run: ``python benchmarks/gpu.py`` on a machine with an NVIDIA GPU and CuPy. One call

1. runs the ``gpu``-marked tests (``python -m pytest -q -m gpu tests/``);
2. times, each beside its CPU (NumPy, all cores) time on the same machine, all in float32:

   - ``NTKSketch(8192)``, depth 2, ``transform`` of 100,000 x 784 rows (rows/s; fitted on 2,000
     rows; the CPU on 10,000 rows, its rate is per row so it needs no scaling);
   - ``ntk_kernel``, depth 2, on 20,000 x 784 (seconds; the CPU on 5,000 rows, scaled by
     ``(20000 / 5000)^2``, the kernel's cost being quadratic in ``n``);
   - ``CNTKSketch`` Myrtle-5 on random 32 x 32 x 3 images at 4096 and 8192 columns (images/s;
     a few hundred images on the GPU, about 20 on the CPU);
   - the finite-width empirical NTK by the ``"structured"`` method (per layer a Gram of layer
     inputs times a Gram of backpropagated gradients, see :mod:`skntk.finite_width`) of a depth-3
     ReLU network of width 4096 with 10 outputs (``bias_std = 0.1``) on 500 x 100 inputs, the
     setting of ``asv_bench/benchmarks/bench_finite_width.py`` (seconds; same size on both);

   and checks the issue's targets: Myrtle-5 ``CNTKSketch(4096)`` at least 70 images/s (CIFAR-10's
   60,000 images in under 15 minutes) and ``NTKSketch(8192)`` at least 100,000 rows/s.

Every GPU figure is the wall time of one call after one warm-up call (which compiles the CUDA
kernels and plans the FFTs), between two ``cupy.cuda.Device().synchronize()``. Each timed part
has a time budget: when a short probe predicts that the full size would exceed it, a smaller
size is timed and the table says so; the whole run stays under 8 minutes. The last column is
the largest difference between the GPU and CPU outputs on the rows both computed (same
``random_state``), relative to the largest CPU entry: a check that the GPU computes the same
thing, not only fast.

Options: ``--quick`` (a 1-minute smoke run: small sizes, no tests), ``--skip-tests``, size caps
(``--rows``, ``--kernel-rows``, ``--images``, ``--cpu-images``, ...; see ``--help``), and
``--allow-cpu``: without CuPy or a CUDA device, run every part on NumPy at tiny sizes (the code
path only: the figures mean nothing, the targets are not checked) and exit 0, so that a CI job
without a GPU can exercise this script. Without a GPU and without ``--allow-cpu`` the script
says so and exits with status 2. Exit status 1 means a ``gpu`` test or a target failed.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_CNTK_IMAGES_PER_S = 70.0
TARGET_NTK_ROWS_PER_S = 100_000.0


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, no tests (~1 minute)")
    p.add_argument(
        "--allow-cpu",
        action="store_true",
        help="without a GPU, run everything on NumPy at tiny sizes and exit 0",
    )
    p.add_argument("--skip-tests", action="store_true", help="do not run the gpu tests")
    p.add_argument(
        "--test-timeout",
        type=float,
        default=180.0,
        help="seconds allowed for the gpu tests (default 180)",
    )
    p.add_argument("--rows", type=int, help="NTKSketch rows on the GPU (default 100000)")
    p.add_argument("--cpu-rows", type=int, help="NTKSketch rows on the CPU (default 10000)")
    p.add_argument("--kernel-rows", type=int, help="ntk_kernel rows on the GPU (default 20000)")
    p.add_argument("--cpu-kernel-rows", type=int, help="ntk_kernel rows on the CPU (default 5000)")
    p.add_argument("--images", type=int, help="CNTKSketch images on the GPU (default 256)")
    p.add_argument("--cpu-images", type=int, help="CNTKSketch images on the CPU (default 20)")
    p.add_argument("--width", type=int, help="finite-width network width (default 4096)")
    p.add_argument(
        "--budget",
        type=float,
        help="seconds allowed per timed call before sizes are cut (default 25)",
    )
    return p.parse_args(argv)


def _sizes(args, on_gpu):
    """The sizes of each part: full (GPU), quick (GPU smoke) or tiny (NumPy stand-in)."""
    if on_gpu and not args.quick:
        s = dict(
            rows=100_000,
            cpu_rows=10_000,
            fit_rows=2000,
            m=8192,
            kernel_rows=20_000,
            cpu_kernel_rows=5000,
            images=256,
            cpu_images=20,
            cntk_m=(4096, 8192),
            width=4096,
            fw_n=500,
            budget=25.0,
        )
    elif on_gpu:
        s = dict(
            rows=20_000,
            cpu_rows=1000,
            fit_rows=2000,
            m=8192,
            kernel_rows=5000,
            cpu_kernel_rows=1000,
            images=64,
            cpu_images=2,
            cntk_m=(4096, 8192),
            width=1024,
            fw_n=200,
            budget=8.0,
        )
    else:  # NumPy stand-in: exercises the code path only
        s = dict(
            rows=400,
            cpu_rows=200,
            fit_rows=200,
            m=512,
            kernel_rows=300,
            cpu_kernel_rows=150,
            images=2,
            cpu_images=1,
            cntk_m=(256, 512),
            width=64,
            fw_n=50,
            budget=5.0,
        )
    for key in (
        "rows",
        "cpu_rows",
        "kernel_rows",
        "cpu_kernel_rows",
        "images",
        "cpu_images",
        "width",
        "budget",
    ):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    return s


class _Backend:
    """The device under test: CuPy on GPU 0, or NumPy standing in for it (``--allow-cpu``)."""

    def __init__(self, cupy=None):
        self.cupy = cupy
        self.xp = cupy if cupy is not None else np
        if cupy is not None:
            props = cupy.cuda.runtime.getDeviceProperties(0)
            name = props["name"]
            self.name = name.decode() if isinstance(name, bytes) else str(name)
            self.version = f"CuPy {cupy.__version__}"
        else:
            self.name = f"none (NumPy stand-in on {platform.processor() or platform.machine()})"
            self.version = "CuPy not used"

    def sync(self):
        if self.cupy is not None:
            self.cupy.cuda.Device().synchronize()

    def asarray(self, a):
        return self.xp.asarray(a)

    def to_host(self, a):
        return self.cupy.asnumpy(a) if self.cupy is not None else np.asarray(a)


def _find_cupy():
    """CuPy when it imports and sees a CUDA device, else (None, why)."""
    try:
        import cupy
    except ImportError as exc:
        return None, f"CuPy is not installed ({exc}); install skntk[gpu] (cupy>=13)"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver/runtime missing: CuPy raises its own errors
        return None, f"CuPy sees no CUDA device ({type(exc).__name__}: {exc})"
    if n < 1:
        return None, "CuPy sees no CUDA device"
    return cupy, None


def _timed(fn, sync):
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out


def _measure(run, n, n_probe, budget, sync, power=1):
    """Time ``run(n)`` after a warm-up; cut ``n`` when a probe predicts more than ``budget`` s.

    ``run(k)`` computes on the first ``k`` items; its cost grows as ``k**power``. Returns
    ``(n_used, seconds, seconds scaled to n, output)``.
    """
    n_probe = min(n_probe, n)
    _timed(lambda: run(n_probe), sync)  # warm-up: kernel compilation, FFT plans, thread pools
    t_probe, out = _timed(lambda: run(n_probe), sync)
    n_used = n
    if n > n_probe and t_probe * (n / n_probe) ** power > budget:
        n_used = max(n_probe, int(n_probe * (budget / max(t_probe, 1e-9)) ** (1.0 / power)))
    if n_used > n_probe:
        t, out = _timed(lambda: run(n_used), sync)
    else:
        t = t_probe
    return n_used, t, t * (n / n_used) ** power, out


def _rel_diff(device_out, host_out, dev, k):
    """Largest |GPU - CPU| on the first ``k`` rows, relative to the largest CPU entry."""
    a = dev.to_host(device_out[:k]).astype(np.float64)
    b = np.asarray(host_out[:k], dtype=np.float64)
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[1] != b.shape[1]:  # kernel blocks: (k, k)
        a, b = a[:, : b.shape[1]], b[:, : a.shape[1]]
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _run_tests(timeout):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", "tests/"]
    print("$ " + " ".join(cmd[1:]), flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    summary = lines[-1] if lines else "(no output)"
    if proc.returncode != 0:
        print(proc.stdout[-6000:], proc.stderr[-2000:], sep="\n", flush=True)
    elapsed = time.perf_counter() - start
    # exit code 5: nothing collected (no gpu tests selected) counts as a failure here
    return proc.returncode == 0, f"{summary} ({elapsed:.0f} s)"


def _bench_ntk_sketch(dev, s, rng):
    from skntk import NTKSketch

    m, n, n_cpu = s["m"], s["rows"], s["cpu_rows"]
    X = rng.standard_normal((max(n, n_cpu), 784)).astype(np.float32)
    fit_rows = min(s["fit_rows"], n)
    return _rate_row(
        dev, s, X, n, n_cpu,
        lambda data, **kw: NTKSketch(m, depth=2, random_state=0, **kw).fit(data[:fit_rows]),
        probes=(10_000, 1000),
        name=f"NTKSketch({m}), depth 2, transform, {n:,} x 784",
        unit="rows",
        digits=0,
    )


def _rate_row(dev, s, data, n, n_cpu, make, probes, name, unit, digits):
    """One table row for a per-item rate (rows or images per second): the fitted map (made by
    ``make(data, **kw)``) on the device against its host twin (``n_jobs=-1``), probing at
    ``probes`` items first to keep within the time budget."""
    device_data = dev.asarray(data[:n])
    est = make(device_data)
    n_used, t, t_full, Zd = _measure(
        lambda k: est.transform(device_data[:k]), n, min(n, probes[0]), s["budget"], dev.sync
    )
    host = make(data, n_jobs=-1)
    n_cpu_used, t_cpu, t_cpu_full, Z = _measure(
        lambda k: host.transform(data[:k]), n_cpu, min(n_cpu, probes[1]), s["budget"], _no_sync
    )
    return dict(
        name=name,
        gpu=f"{n / t_full:,.{digits}f} {unit}/s" + _cut(n_used, n, t),
        cpu=f"{n_cpu / t_cpu_full:,.{max(digits, 2) if digits else 0}f} {unit}/s",
        cpu_note=f"{n_cpu_used:,} {unit} (rate per {unit[:-1]})",
        speedup=(t_cpu_full / n_cpu) / (t_full / n),
        diff=_rel_diff(Zd, Z, dev, min(n_used, n_cpu_used)),
        rate=n / t_full,
    )


def _bench_ntk_kernel(dev, s, rng):
    from skntk.kernels import ntk_kernel

    n, n_cpu = s["kernel_rows"], s["cpu_kernel_rows"]
    X = rng.standard_normal((max(n, n_cpu), 784)).astype(np.float32)
    Xd = dev.asarray(X[:n])
    n_used, t, t_full, Kd = _measure(
        lambda k: ntk_kernel(Xd[:k], depth=2), n, min(n, 2000), s["budget"], dev.sync, power=2
    )
    n_cpu_used, t_cpu, t_cpu_full, K = _measure(
        lambda k: ntk_kernel(X[:k], depth=2, n_jobs=-1),
        n_cpu,
        min(n_cpu, 500),
        s["budget"],
        _no_sync,
        power=2,
    )
    t_cpu_scaled = t_cpu_full * (n / n_cpu) ** 2
    diff = _rel_diff(Kd, K, dev, min(n_used, n_cpu_used))
    return dict(
        name=f"ntk_kernel, depth 2, {n:,} x 784",
        gpu=f"{t_full:.2f} s" + _cut(n_used, n, t, power=2),
        cpu=f"{t_cpu_scaled:.1f} s",
        cpu_note=f"{t_cpu:.2f} s on {n_cpu_used:,} rows, x (n/{n_cpu_used:,})^2",
        speedup=t_cpu_scaled / t_full,
        diff=diff,
    )


def _bench_cntk(dev, s, rng, m):
    from skntk import CNTKSketch

    n, n_cpu = s["images"], s["cpu_images"]
    images = rng.uniform(size=(max(n, n_cpu), 32, 32, 3)).astype(np.float32)
    return _rate_row(
        dev, s, images, n, n_cpu,
        lambda data, **kw: CNTKSketch(m, architecture="myrtle", depth=5, random_state=0,
                                      **kw).fit(data[: min(n, 8)]),
        probes=(32, 2),
        name=f"CNTKSketch({m}), Myrtle-5, transform, {n:,} x 32x32x3",
        unit="images",
        digits=1,
    )


def _bench_finite_width(dev, s, rng):
    from skntk.finite_width import empirical_ntk, empirical_ntk_cost, init_mlp_weights

    n, d, width, k = s["fw_n"], 100, s["width"], 10
    X = rng.standard_normal((n, d)).astype(np.float32)
    w = [
        (V.astype(np.float32), b.astype(np.float32))
        for V, b in init_mlp_weights(d, (width,) * 3, k, random_state=0)
    ]
    wd = [(dev.asarray(V), dev.asarray(b)) for V, b in w]  # moved once, outside the timing
    Xd = dev.asarray(X)

    def run(weights, A):
        return empirical_ntk(A, weights=weights, bias_std=0.1, method="structured")

    _, t, _, Kd = _measure(lambda _: run(wd, Xd), 1, 1, s["budget"], dev.sync)
    _, t_cpu, _, K = _measure(lambda _: run(w, X), 1, 1, s["budget"], _no_sync)
    gflop = empirical_ntk_cost(n, None, (d, width, width, width, k))["structured"] / 1e9
    return dict(
        name=f"empirical_ntk structured, depth 3, width {width:,}, k={k}, {n} x {d}",
        gpu=f"{t:.3f} s ({gflop / t:,.1f} GFLOP/s)",
        cpu=f"{t_cpu:.2f} s",
        cpu_note=f"same size ({gflop:,.2f} GFLOP by the cost model)",
        speedup=t_cpu / t,
        diff=_rel_diff(Kd, K, dev, n),
    )


def _no_sync():
    pass


def _cut(n_used, n, t, power=1):
    if n_used >= n:
        return ""
    return f" (timed on {n_used:,}: {t:.2f} s, scaled by {'n' if power == 1 else 'n^2'})"


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    # as the test session (root conftest.py): SciPy reads it once, at its first import
    os.environ.setdefault("SCIPY_ARRAY_API", "1")
    cupy, why = _find_cupy()
    if cupy is None and not args.allow_cpu:
        print(
            f"benchmarks/gpu.py needs a CUDA GPU with CuPy: {why}.\n"
            "Nothing was measured. Run it on a GPU machine, or pass --allow-cpu to exercise "
            "the code path on NumPy at tiny sizes (figures meaningless).",
            file=sys.stderr,
        )
        return 2
    dev = _Backend(cupy)
    on_gpu = cupy is not None
    s = _sizes(args, on_gpu)
    start = time.perf_counter()
    if not on_gpu:
        print(
            f"No GPU ({why}): --allow-cpu, every part runs on NumPy at tiny sizes; the "
            "figures mean nothing and the targets are not checked.",
            flush=True,
        )

    tests_ok, tests_line = True, "not run"
    if on_gpu and not (args.quick or args.skip_tests):
        tests_ok, tests_line = _run_tests(args.test_timeout)
        print(f"gpu tests: {'passed' if tests_ok else 'FAILED'}: {tests_line}", flush=True)
    elif not on_gpu:
        tests_line = "not run (no CUDA device)"

    rng = np.random.default_rng(0)
    rows = []
    parts = [
        ("NTKSketch", lambda: _bench_ntk_sketch(dev, s, rng)),
        ("ntk_kernel", lambda: _bench_ntk_kernel(dev, s, rng)),
    ]
    parts += [(f"CNTKSketch({m})", lambda m=m: _bench_cntk(dev, s, rng, m)) for m in s["cntk_m"]]
    parts.append(("finite width", lambda: _bench_finite_width(dev, s, rng)))
    for label, part in parts:
        t0 = time.perf_counter()
        try:
            row = part()
        except Exception as exc:  # report the failure in the table, keep measuring the rest
            row = dict(
                name=label,
                gpu=f"ERROR {type(exc).__name__}: {exc}"[:120],
                cpu="-",
                cpu_note="-",
                speedup=float("nan"),
                diff=float("nan"),
                error=True,
            )
        rows.append(row)
        print(f"  {label}: done in {time.perf_counter() - t0:.1f} s", flush=True)
        if on_gpu:
            cupy.get_default_memory_pool().free_all_blocks()

    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    dev_col = "GPU" if on_gpu else "device (NumPy stand-in)"
    print()
    print(
        f"GPU: {dev.name}; {dev.version}; NumPy {np.__version__}; {os.cpu_count()} CPU cores "
        f"(CPU column: NumPy, n_jobs=-1); float32; {today}"
        + ("; --quick sizes" if args.quick and on_gpu else "")
        + ("" if on_gpu else "; tiny sizes")
    )
    print(f"gpu tests: {tests_line}")
    print()
    print(f"| benchmark | {dev_col} | CPU | CPU measured on | speed-up | max rel. diff |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['gpu']} | {r['cpu']} | {r['cpu_note']} | "
            f"{r['speedup']:.1f}x | {r['diff']:.1e} |"
        )
    print()

    failed = not tests_ok or any(r.get("error") for r in rows)
    targets = [
        (
            "Myrtle-5 CNTKSketch(4096) >= 70 images/s",
            rows[2].get("rate"),
            TARGET_CNTK_IMAGES_PER_S,
            "images/s",
        ),
        (
            "NTKSketch(8192) depth 2 >= 100,000 rows/s",
            rows[0].get("rate"),
            TARGET_NTK_ROWS_PER_S,
            "rows/s",
        ),
    ]
    full_size = on_gpu and s["m"] == 8192 and 4096 in s["cntk_m"]
    for text, rate, target, unit in targets:
        if not on_gpu:
            verdict = "not checked (no GPU)"
        elif rate is None:
            verdict, failed = "FAIL (not measured)", True
        else:
            ok = rate >= target
            failed |= not ok
            verdict = f"{'PASS' if ok else 'FAIL'} ({rate:,.0f} {unit})"
        print(f"target {text}: {verdict}")
    if on_gpu and not full_size:
        print("(sizes were capped by flags)")
    print(f"total {time.perf_counter() - start:.0f} s")
    if not on_gpu:
        return 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
