"""
Error against cost: method, n_components and degree
===================================================

Three ways to get features of the same kernel, the NTK of a depth-2 ReLU network:

* ``NTKSketch(method="taylor")``: one polynomial of the whole network's kernel, sketched once
  (for homogeneous activations without bias; cost independent of depth);
* ``NTKSketch(method="hermite")``: layer by layer, each activation's Hermite series truncated
  at ``degree`` and sketched with PolySketch (any activation, any bias);
* :class:`skntk.NTKRandomFeatures`: Monte-Carlo features of each layer (no truncation, a dense
  projection per layer).

Left, for each method and ``n_components`` from 512 to 4096, the relative Frobenius error of
the kernel against the time ``transform`` takes per row: the best method is the lowest curve
at the cost you can pay. Right, the layer-wise method's error against its Hermite ``degree``
at 2048 columns: a low degree truncates the kernel (a bias that more columns do not remove),
a high degree spreads the columns over more terms.

Sizes: 500 digits (64 pixels), degrees 2 to 12, errors are medians over 3 seeds
(``SKNTK_DOC_SMALL=1``: 300 digits, widths up to 2048, degrees 2, 4 and 8). Timings are
medians of three transforms on a shared machine.
"""

import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skntk import NTKRandomFeatures, NTKSketch
from skntk.kernels import ntk_kernel
from skntk.planning import TruncationWarning

SMALL = os.environ.get("SKNTK_DOC_SMALL") == "1"
n_rows = 300 if SMALL else 500
widths = [512, 1024, 2048] if SMALL else [512, 1024, 2048, 4096]
seeds = [0, 1, 2]
degrees = [2, 4, 8] if SMALL else [2, 4, 6, 8, 12]
depth = 2

X = load_digits().data[:n_rows] / 16.0
K = ntk_kernel(X, depth=depth)
print(f"{n_rows} digits, NTK of a depth-{depth} ReLU network; widths {widths}, seeds {seeds}")


def measure(make):
    """Median relative error over the seeds, and the median time per row (ms) of three
    transforms by the first seed's map."""
    errors = []
    for seed in seeds:
        est = make(seed).fit(X)
        Z = est.transform(X)
        errors.append(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K))
        if seed == seeds[0]:
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                est.transform(X)
                runs.append(time.perf_counter() - start)
    return np.median(errors), 1e3 * np.median(runs) / len(X)


# %%
# Error and cost of each method
# -----------------------------

methods = {
    "NTKSketch, taylor": lambda m: (
        lambda s: NTKSketch(m, depth=depth, method="taylor", random_state=s)
    ),
    "NTKSketch, hermite": lambda m: (
        lambda s: NTKSketch(m, depth=depth, method="hermite", random_state=s)
    ),
    "NTKRandomFeatures": lambda m: lambda s: NTKRandomFeatures(m, depth=depth, random_state=s),
}
results = {name: [measure(make(m)) for m in widths] for name, make in methods.items()}
print(f"\n{'method':>20} {'m':>6} {'error':>8} {'ms/row':>8}")
for name, rows in results.items():
    for m, (err, ms) in zip(widths, rows, strict=True):
        print(f"{name:>20} {m:>6} {err:>8.4f} {ms:>8.3f}")

# %%
# The Hermite degree at a fixed width
# -----------------------------------

m_fixed = 2048
with warnings.catch_warnings(record=True) as caught:
    # A low degree misses part of ReLU's energy: the estimator warns that the sketch is biased
    # (TruncationWarning). That bias is what this panel shows.
    warnings.simplefilter("always", TruncationWarning)
    by_degree = [
        measure(
            lambda s, p=p: NTKSketch(
                m_fixed, depth=depth, method="hermite", degree=p, random_state=s
            )
        )[0]
        for p in degrees
    ]
warned = sorted(
    {
        int(str(w.message).split("degree-")[1].split()[0])
        for w in caught
        if issubclass(w.category, TruncationWarning)
    }
)
print(f"TruncationWarning at degrees {warned}")
print(f"\nNTKSketch(method='hermite', n_components={m_fixed}): error by degree")
for p, err in zip(degrees, by_degree, strict=True):
    print(f"  degree {p:>2}: {err:.4f}")

# %%
# Plot
# ----

fig, (ax_cost, ax_deg) = plt.subplots(1, 2, figsize=(11, 4))
for (name, rows), marker in zip(results.items(), "os^", strict=True):
    errs, costs = zip(*rows, strict=True)
    ax_cost.plot(costs, errs, marker=marker, label=name)
    for m, x_, y_ in zip(widths, costs, errs, strict=True):
        ax_cost.annotate(
            str(m), (x_, y_), textcoords="offset points", xytext=(4, 3), fontsize=7, alpha=0.7
        )
ax_cost.set_xscale("log")
ax_cost.set_yscale("log")
ax_cost.set_xlabel("transform time per row (ms)")
ax_cost.set_ylabel(r"$\|ZZ^T - K\|_F / \|K\|_F$")
ax_cost.set_title("Error against cost (labels: n_components)")
ax_cost.legend(fontsize="small")
ax_deg.plot(degrees, by_degree, "o-", color="C1")
ax_deg.set_yscale("log")
ax_deg.set_xlabel("degree")
ax_deg.set_ylabel(r"$\|ZZ^T - K\|_F / \|K\|_F$")
ax_deg.set_title(f"Hermite method, n_components={m_fixed}")
for ax in (ax_cost, ax_deg):
    ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
plt.show()
