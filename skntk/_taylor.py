"""Nonnegative polynomial approximations of normalized dot-product kernels ``kappa(rho)``.

For a homogeneous activation of degree 1 and no bias, the depth-L NNGP or NTK is
``|x| |y| / d * kappa_L(rho)`` with ``rho`` the cosine between ``x`` and ``y``. Its polynomial
approximation ``sum_j a_j rho^j`` with ``a_j >= 0`` is what the one-shot sketch represents, as
``phi(x) = |x| / sqrt(d) [sqrt(a_0), sqrt(a_1) Q_1(x^), ..., sqrt(a_p) Q_p(x^)]``.
"""

import numpy as np

from ._polyfit import GRID as _GRID
from ._polyfit import cosine_distribution, fit_nonnegative_polynomial
from .kernels import fc_kernel_from_covariances

__all__ = [
    "normalized_kernel",
    "fit_dot_product_polynomial",
    "fit_nonnegative_polynomial",
    "cosine_distribution",
]



def normalized_kernel(layers, rho, want_ntk):
    """``kappa_L(rho)``: the kernel of two unit-variance inputs (``q_xx = q_yy = 1``)."""
    rho = np.asarray(rho, dtype=np.float64)
    one = np.ones(1)
    return fc_kernel_from_covariances(layers, one, one, rho[None, :], want_ntk)[0]


def fit_dot_product_polynomial(layers, degree, want_ntk, rho_sample=None):
    """Nonnegative coefficients ``a_0..a_degree`` with ``sum_j a_j rho^j ~ kappa_L(rho)``.

    :func:`fit_nonnegative_polynomial` of the network's normalized kernel.

    Returns
    -------
    coefficients : ndarray of shape (degree + 1,)
    max_error : float
        Largest ``|sum_j a_j rho^j - kappa_L(rho)|`` on the grid.
    """
    target = normalized_kernel(layers, _GRID, want_ntk)
    return fit_nonnegative_polynomial(target, degree, rho_sample)
