"""Nonnegative polynomial approximations of normalized dot-product kernels ``kappa(rho)``.

For a homogeneous activation of degree 1 and no bias, the depth-L NNGP or NTK is
``|x| |y| / d * kappa_L(rho)`` with ``rho`` the cosine between ``x`` and ``y``. Its polynomial
approximation ``sum_j a_j rho^j`` with ``a_j >= 0`` is what the one-shot sketch represents, as
``phi(x) = |x| / sqrt(d) [sqrt(a_0), sqrt(a_1) Q_1(x^), ..., sqrt(a_p) Q_p(x^)]``.
"""

import numpy as np
from scipy.optimize import nnls

from .kernels import fc_kernel_from_covariances

__all__ = ["normalized_kernel", "fit_dot_product_polynomial", "cosine_distribution"]

_GRID = np.linspace(-1.0, 1.0, 801)


def normalized_kernel(layers, rho, want_ntk):
    """``kappa_L(rho)``: the kernel of two unit-variance inputs (``q_xx = q_yy = 1``)."""
    rho = np.asarray(rho, dtype=np.float64)
    one = np.ones(1)
    return fc_kernel_from_covariances(layers, one, one, rho[None, :], want_ntk)[0]


def cosine_distribution(X, max_rows=400, rng=None):
    """Cosines ``rho`` between pairs of distinct rows of a subsample of ``X``."""
    rng = np.random.default_rng(0) if rng is None else rng
    n = X.shape[0]
    idx = rng.choice(n, size=min(n, max_rows), replace=False)
    sub = X[idx]
    sub = sub.toarray() if hasattr(sub, "toarray") else np.asarray(sub, dtype=np.float64)
    norms = np.linalg.norm(sub, axis=1)
    sub = sub[norms > 0] / norms[norms > 0, None]
    G = sub @ sub.T
    iu = np.triu_indices(G.shape[0], 1)
    return np.clip(G[iu], -1.0, 1.0)


def fit_dot_product_polynomial(layers, degree, want_ntk, rho_sample=None):
    """Nonnegative coefficients ``a_0..a_degree`` with ``sum_j a_j rho^j ~ kappa_L(rho)``.

    Weighted least squares on a grid of ``[-1, 1]`` under ``a_j >= 0`` (scipy's NNLS), with
    the value at ``rho = 1`` (the diagonal of the kernel) matched exactly through a heavily
    weighted row. The weights mix a uniform density with the density of ``rho_sample``
    (cosines of training pairs), so the fit is best where the data's pairs lie.

    Returns
    -------
    coefficients : ndarray of shape (degree + 1,)
    max_error : float
        Largest ``|sum_j a_j rho^j - kappa_L(rho)|`` on the grid.
    """
    target = normalized_kernel(layers, _GRID, want_ntk)
    weights = np.full(_GRID.shape, 1.0 / _GRID.size)
    if rho_sample is not None and len(rho_sample):
        hist, edges = np.histogram(rho_sample, bins=_GRID.size, range=(-1.0, 1.0))
        weights = 0.5 * weights + 0.5 * hist / hist.sum()
    V = _GRID[:, None] ** np.arange(degree + 1)[None, :]
    sw = np.sqrt(weights)[:, None]
    scale = np.abs(target).max()
    anchor = 1e4 * np.sqrt(weights.max())
    A = np.vstack([sw * V, anchor * np.ones((1, degree + 1))])
    b = np.concatenate([sw[:, 0] * target, [anchor * target[-1]]]) / scale
    coef, _ = nnls(A, b, maxiter=50 * (degree + 1))
    coef *= scale
    # put the residual of the diagonal on the top coefficient so kappa(1) is exact
    coef[-1] = max(coef[-1] + target[-1] - coef.sum(), 0.0)
    err = np.abs(V @ coef - target).max()
    return coef, float(err)
