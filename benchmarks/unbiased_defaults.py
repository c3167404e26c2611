"""Bias, tails and downstream accuracy of the sketches' default paths (markdown tables).

Measures, using only the public API (``skntk.NTKSketch``, ``NNGPSketch``, ``CNTKSketch``,
``NTKRandomFeatures`` and the exact kernels of ``skntk.kernels``), so that the same script can
be run against different versions of the package:

* Table A, centred bias on digits: 600 rows of ``load_digits`` scaled to [0, 1], 8192 columns,
  6 seeds. For each sketch, the centred error ``||H (G - K) H||_F / ||H K H||_F``
  (``H = I - 11^T / n``, ``G = Z Z^T``) per seed (mean), the centred error of the mean Gram
  matrix of the seeds, their ratio, and the raw error (mean). With unbiased noise only,
  averaging 6 independent Gram matrices divides the error by ``sqrt(6)``: ratio ~0.41. A ratio
  close to 1 means the error is mostly a bias that does not average out. The last error
  column fits each seed on other digits (rows 600-1199) and scores the same 600 rows: the
  landmarks of ``n_landmarks`` are then not among them. The CNTK rows use the
  digits as 8x8x1 images (``--cntk-n`` of them, 600 by default). "i.i.d. floor": the
  smallest centred error any ``M`` independent, identically distributed unbiased feature
  columns can have for that kernel (:func:`iid_floor`).
* Table B, Hermite heavy tail: 1000 standard Gaussian rows (d = 784), NTKSketch with
  ``method="hermite"``, bias 0.5, depth 2, 8192 columns, 6 seeds: raw and centred relative
  Frobenius errors per seed, their median, worst, and worst / median.
* Table C, fully connected accuracy figures: n = 2000 Gaussian rows (d = 784) and the 1797
  digits (/16), depth 2, 8192 columns, raw relative error, median of seeds 0, 1, 2.
* Table D, downstream: digits train / test split (30 % test, ``random_state=0``), accuracy of
  ``NTKSketch -> RidgeClassifier(alpha=1e-3)`` (mean over seeds 0, 1, 2) against ridge
  regression on +-1 one-hot targets with the exact kernel and the same alpha.

Run: ``python benchmarks/unbiased_defaults.py [--quick] [--cntk-n N]``. ``--quick`` uses 2
seeds everywhere and skips the CNTK Myrtle row (smoke test). To benchmark another copy of the
package, put it first on the path: ``cd /tmp && PYTHONPATH=/path/to/copy python
/path/to/unbiased_defaults.py``.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import skntk
from skntk import CNTKSketch, NNGPSketch, NTKRandomFeatures, NTKSketch
from skntk.kernels import cntk_kernel, nngp_kernel, ntk_kernel

M = 8192
DEPTH = 2


def centre(A):
    """``H A H`` with ``H = I - 11^T / n``."""
    A = A - A.mean(axis=0)
    return A - A.mean(axis=1)[:, None]


def raw_error(G, K):
    return np.linalg.norm(G - K) / np.linalg.norm(K)


def centred_error(G, K):
    return np.linalg.norm(centre(G - K)) / np.linalg.norm(centre(K))


def iid_floor(K, m):
    """The smallest centred error of ``m`` i.i.d. random feature columns unbiased for ``K``.

    For ``G = sum_j z_j z_j^T`` with i.i.d. columns and ``E G = K``,
    ``E ||H (G - K) H||^2 = (m^2 E|H z|^4 - ||H K H||^2) / m >= (t^2 - ||H K H||^2) / m`` with
    ``t = tr(H K H) = m E|H z|^2`` (Jensen). Sketches beat it only through structure: parts
    kept exact (the Taylor path's degrees 1 and 2 of 64-pixel digits), or columns that are
    not independent.
    """
    A = centre(K)
    t, k = np.trace(A), np.linalg.norm(A)
    return float(np.sqrt(max(t * t - k * k, 0.0) / m) / k)


def gram(est, X):
    Z = np.asarray(est.fit_transform(X), dtype=np.float64)
    return Z @ Z.T


def table_a(seeds, quick, cntk_n):
    X = load_digits().data[:600] / 16.0
    images = load_digits().data[:cntk_n].reshape(-1, 8, 8, 1) / 16.0
    # fitted on other digits: the landmarks (n_landmarks) are then not among the scored rows
    others = {id(X): load_digits().data[600:1200] / 16.0,
              id(images): load_digits().data[600:600 + cntk_n].reshape(-1, 8, 8, 1) / 16.0}
    b = 0.5
    rows = [
        ("NTKSketch relu (default)", X,
         lambda s: NTKSketch(M, depth=DEPTH, activation="relu", random_state=s),
         lambda: ntk_kernel(X, depth=DEPTH)),
        ("NTKSketch relu, bias 0.5", X,
         lambda s: NTKSketch(M, depth=DEPTH, activation="relu", bias_std=b, random_state=s),
         lambda: ntk_kernel(X, depth=DEPTH, bias_std=b)),
        ("NTKSketch gelu, bias 0.5", X,
         lambda s: NTKSketch(M, depth=DEPTH, activation="gelu", bias_std=b, random_state=s),
         lambda: ntk_kernel(X, depth=DEPTH, activation="gelu", bias_std=b)),
        ("NNGPSketch relu, bias 0.5", X,
         lambda s: NNGPSketch(M, depth=DEPTH, activation="relu", bias_std=b, random_state=s),
         lambda: nngp_kernel(X, depth=DEPTH, bias_std=b)),
        ("NTKRandomFeatures relu, bias 0.5", X,
         lambda s: NTKRandomFeatures(M, depth=DEPTH, activation="relu", bias_std=b,
                                     random_state=s),
         lambda: ntk_kernel(X, depth=DEPTH, bias_std=b)),
        (f"CNTKSketch gap depth 1 ({cntk_n} images)", images,
         lambda s: CNTKSketch(M, architecture="gap", depth=1, random_state=s),
         lambda: cntk_kernel(images, architecture="gap", depth=1)),
    ]
    if not quick:
        rows.append(
            (f"CNTKSketch myrtle depth 5 ({cntk_n} images)", images,
             lambda s: CNTKSketch(M, architecture="myrtle", depth=5, random_state=s),
             lambda: cntk_kernel(images, architecture="myrtle", depth=5)))

    k = len(seeds)
    print(f"\n## Table A: centred bias on digits (n = 600, CNTK n = {cntk_n}, {M} columns, "
          f"depth {DEPTH} unless said, seeds {list(seeds)})\n")
    print(f"| sketch | method | centred per seed (mean) | centred, mean of {k} Grams | "
          f"ratio (1/sqrt({k}) = {1 / np.sqrt(k):.2f}) | i.i.d. floor | raw per seed (mean) | "
          "centred per seed, fitted on other digits | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, data, make, exact in rows:
        t0 = time.perf_counter()
        K = exact()
        G_sum = np.zeros_like(K)
        cen, raw, held = [], [], []
        method = "-"
        for s in seeds:
            est = make(s)
            G = gram(est, data)
            method = getattr(est, "method_", "-")
            cen.append(centred_error(G, K))
            raw.append(raw_error(G, K))
            G_sum += G
            Z = np.asarray(make(s).fit(others[id(data)]).transform(data), dtype=np.float64)
            held.append(centred_error(Z @ Z.T, K))
        cen_mean = centred_error(G_sum / k, K)
        ratio = cen_mean / np.mean(cen)
        print(f"| {name} | {method} | {np.mean(cen):.4f} | {cen_mean:.4f} | {ratio:.2f} | "
              f"{iid_floor(K, M):.4f} | {np.mean(raw):.4f} | {np.mean(held):.4f} | "
              f"{time.perf_counter() - t0:.0f} |", flush=True)


def table_b(seeds):
    X = np.random.RandomState(0).randn(1000, 784)
    print(f"\n## Table B: Hermite heavy tail (1000 Gaussian rows, d = 784, NTK, depth {DEPTH}, "
          f"bias 0.5, method='hermite', {M} columns, seeds {list(seeds)})\n")
    print("| activation | raw per seed | raw median | raw worst | worst/median | "
          "centred per seed | centred median | centred worst | worst/median | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for act in ("gelu", "erf", "tanh", "relu"):
        t0 = time.perf_counter()
        K = ntk_kernel(X, depth=DEPTH, activation=act, bias_std=0.5)
        raw, cen = [], []
        for s in seeds:
            G = gram(NTKSketch(M, depth=DEPTH, activation=act, bias_std=0.5, method="hermite",
                               random_state=s), X)
            raw.append(raw_error(G, K))
            cen.append(centred_error(G, K))
        cells = []
        for errs in (raw, cen):
            med, worst = np.median(errs), np.max(errs)
            cells.append(" ".join(f"{e:.3f}" for e in errs))
            cells += [f"{med:.4f}", f"{worst:.4f}", f"{worst / med:.2f}"]
        print(f"| {act} | " + " | ".join(cells) + f" | {time.perf_counter() - t0:.0f} |",
              flush=True)


def table_c(seeds):
    gauss = np.random.RandomState(0).randn(2000, 784)
    digits = load_digits().data / 16.0
    cases = [("gaussian", gauss, "relu", 0.0, "auto"), ("digits/16", digits, "relu", 0.0, "auto")]
    cases += [("gaussian", gauss, act, 0.5, "hermite") for act in ("gelu", "erf", "tanh", "sin")]
    print(f"\n## Table C: FC accuracy (NTK, depth {DEPTH}, {M} columns, raw relative error, "
          f"seeds {list(seeds)})\n")
    print("| data | n | activation | bias | method | raw per seed | raw median | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, X, act, bias, method in cases:
        t0 = time.perf_counter()
        K = ntk_kernel(X, depth=DEPTH, activation=act, bias_std=bias)
        errs = []
        used = ""
        for s in seeds:
            est = NTKSketch(M, depth=DEPTH, activation=act, bias_std=bias, method=method,
                            random_state=s)
            errs.append(raw_error(gram(est, X), K))
            used = getattr(est, "method_", method)
        print(f"| {name} | {len(X)} | {act} | {bias} | {used} | "
              + " ".join(f"{e:.4f}" for e in errs)
              + f" | {np.median(errs):.4f} | {time.perf_counter() - t0:.0f} |", flush=True)


def table_d(seeds):
    data = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data / 16.0, data.target, test_size=0.3, random_state=0)
    alpha = 1e-3
    print(f"\n## Table D: downstream accuracy on digits ({len(X_train)} train / {len(X_test)} "
          f"test, ridge alpha = {alpha}, NTK depth {DEPTH}, {M} columns, seeds {list(seeds)})\n")
    print("| model | accuracy per seed | mean accuracy | time (s) |")
    print("|---|---|---|---|")
    for label, bias in (("NTKSketch relu (default) + RidgeClassifier", 0.0),
                        ("NTKSketch relu, bias 0.5 + RidgeClassifier", 0.5)):
        t0 = time.perf_counter()
        accs = []
        for s in seeds:
            model = make_pipeline(
                NTKSketch(M, depth=DEPTH, activation="relu", bias_std=bias, random_state=s),
                RidgeClassifier(alpha=alpha))
            accs.append(model.fit(X_train, y_train).score(X_test, y_test))
        print(f"| {label} | " + " ".join(f"{a:.4f}" for a in accs)
              + f" | {np.mean(accs):.4f} | {time.perf_counter() - t0:.0f} |", flush=True)

    classes = np.unique(y_train)
    Y = np.where(y_train[:, None] == classes[None, :], 1.0, -1.0)
    for label, bias in (("exact NTK relu + kernel ridge", 0.0),
                        ("exact NTK relu, bias 0.5 + kernel ridge", 0.5)):
        t0 = time.perf_counter()
        K_train = ntk_kernel(X_train, depth=DEPTH, bias_std=bias)
        K_test = ntk_kernel(X_test, X_train, depth=DEPTH, bias_std=bias)
        A = np.linalg.solve(K_train + alpha * np.eye(len(K_train)), Y)
        acc = np.mean(classes[np.argmax(K_test @ A, axis=1)] == y_test)
        print(f"| {label} | (exact) | {acc:.4f} | {time.perf_counter() - t0:.0f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds everywhere, no CNTK Myrtle row")
    parser.add_argument("--cntk-n", type=int, default=600,
                        help="number of digit images for the CNTK rows of table A")
    args = parser.parse_args()
    six = (0, 1) if args.quick else tuple(range(6))
    three = (0, 1) if args.quick else (0, 1, 2)

    print("# skntk unbiased-defaults benchmark\n")
    print(f"skntk {getattr(skntk, '__version__', '?')} from `{skntk.__file__}`"
          + (" (--quick)" if args.quick else ""))
    total = time.perf_counter()
    for name, fn in (("A", lambda: table_a(six, args.quick, args.cntk_n)),
                     ("B", lambda: table_b(six)),
                     ("C", lambda: table_c(three)),
                     ("D", lambda: table_d(three))):
        t0 = time.perf_counter()
        fn()
        print(f"\nTable {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"\nTotal: {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
