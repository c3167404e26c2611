r"""
Hermite coefficients and dual kernels of activations
====================================================

Everything skntk does with an activation ``act`` goes through two objects
(:mod:`skntk.activations`):

* its **radial Hermite coefficients** :math:`r_l(s) = E[\mathrm{act}(s g)\, h_l(g)]`,
  :math:`g \sim N(0, 1)`, with :math:`h_l = \mathrm{He}_l / \sqrt{l!}` the orthonormal
  Hermite polynomials and :math:`s` the standard deviation of the pre-activation;
* its **dual kernels** :math:`E[\mathrm{act}(u)\,\mathrm{act}(v)]` and
  :math:`E[\mathrm{act}'(u)\,\mathrm{act}'(v)]` for jointly Gaussian :math:`(u, v)` with
  variances :math:`q_{xx}, q_{yy}` and covariance :math:`q_{xy}`: the layer rules of the
  NNGP and the NTK.

Mehler's formula ties them together: with :math:`\rho = q_{xy} / \sqrt{q_{xx} q_{yy}}`,

.. math::

    E[\mathrm{act}(u)\,\mathrm{act}(v)] = \sum_{l \ge 0} r_l(s_x)\, r_l(s_y)\, \rho^l.

The sketches keep the terms up to a degree ``p`` (``degree``, 8 by default). This example
plots the coefficients of five activations at unit variance, their two duals as functions of
the correlation :math:`\rho`, and how well the series truncated at ``p`` matches the exact
dual. It computes everything exactly (no sampling) in well under a second, so
``SKNTK_DOC_SMALL`` changes nothing here.
"""

import matplotlib.pyplot as plt
import numpy as np

from skntk.activations import get_activation

names = ["relu", "gelu", "erf", "tanh", "sin"]
degree = 12
acts = {name: get_activation(name) for name in names}

# %%
# Hermite coefficients at unit variance
# -------------------------------------
# ``hermite_coefficients(s, degree)`` returns :math:`r_0(s), \dots, r_p(s)` for each scale
# ``s``. Odd activations (erf, tanh, sin) have only odd coefficients; ReLU and GeLU only
# :math:`l = 0, 1` and even ones beyond.

coefficients = {
    name: act.hermite_coefficients(np.array([1.0]), degree)[0] for name, act in acts.items()
}
print("r_l(1) for l = 0..6")
for name, r in coefficients.items():
    print(f"{name:>5}: " + " ".join(f"{c:+.4f}" for c in r[:7]))

# %%
# Dual kernels, and the truncated series
# --------------------------------------
# At unit variances (:math:`q_{xx} = q_{yy} = 1`) the duals are functions of :math:`\rho` alone.
# The series truncated at degree 8 is the kernel that a layer-wise sketch with ``degree=8``
# approximates before the tail is folded into the top coefficients.

rho = np.linspace(-1.0, 1.0, 201)
ones = np.ones_like(rho)
duals = {name: act.dual(ones, ones, rho) for name, act in acts.items()}
dual_derivatives = {name: act.dual_derivative(ones, ones, rho) for name, act in acts.items()}
p = 8
print(f"\nlargest error of the degree-{p} Mehler series of E[act(u) act(v)] on [-1, 1]")
for name, r in coefficients.items():
    series = sum(r[l] ** 2 * rho**l for l in range(p + 1))
    print(f"{name:>5}: {np.max(np.abs(series - duals[name])):.2e}")

# %%
# Plots
# -----

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
width = 0.8 / len(names)
for i, (name, r) in enumerate(coefficients.items()):
    axes[0].bar(np.arange(degree + 1) + (i - len(names) / 2 + 0.5) * width, r, width, label=name)
axes[0].axhline(0.0, color="k", linewidth=0.5)
axes[0].set_xlabel("degree l")
axes[0].set_ylabel(r"$r_l(1)$")
axes[0].set_title("Hermite coefficients, unit variance")
axes[0].legend(fontsize="small")

for name in names:
    line = axes[1].plot(rho, duals[name], label=name)[0]
    series = sum(coefficients[name][l] ** 2 * rho**l for l in range(p + 1))
    axes[1].plot(rho, series, ":", color=line.get_color())
    axes[2].plot(rho, dual_derivatives[name], label=name)
axes[1].plot([], [], "k:", label=f"degree-{p} series")
axes[1].set_xlabel(r"correlation $\rho$")
axes[1].set_title(r"$E[\mathrm{act}(u)\,\mathrm{act}(v)]$ (NNGP layer)")
axes[1].legend(fontsize="small")
axes[2].set_xlabel(r"correlation $\rho$")
axes[2].set_title(r"$E[\mathrm{act}'(u)\,\mathrm{act}'(v)]$ (NTK layer)")
for ax in axes:
    ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()
