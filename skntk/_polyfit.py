"""Nonnegative polynomial fits of functions of a cosine ``rho`` in [-1, 1], weighted towards
the cosines of the data's pairs (used by the Taylor sketch and the Hermite derivative step)."""

import numpy as np
from scipy.optimize import nnls

from ._subsample import subsample_rows

__all__ = ["GRID", "cosine_distribution", "fit_nonnegative_polynomial"]

GRID = np.linspace(-1.0, 1.0, 801)


def cosine_distribution(X, max_rows=400, rng=None):
    """Cosines ``rho`` between pairs of distinct rows of a subsample of ``X`` (drawn by
    :func:`skntk._subsample.subsample_rows`: the same for any order of the rows)."""
    rng = np.random.RandomState(0) if rng is None else rng
    sub = subsample_rows(X, max_rows, rng)
    sub = sub.toarray() if hasattr(sub, "toarray") else np.asarray(sub, dtype=np.float64)
    norms = np.linalg.norm(sub, axis=1)
    sub = sub[norms > 0] / norms[norms > 0, None]
    G = sub @ sub.T
    iu = np.triu_indices(G.shape[0], 1)
    return np.clip(G[iu], -1.0, 1.0)


def fit_nonnegative_polynomial(target, degree, rho_sample=None):
    """Nonnegative ``a_0..a_degree`` with ``sum_j a_j rho^j ~ target`` on a grid of [-1, 1].

    Weighted least squares on the 801-point grid ``np.linspace(-1, 1, 801)`` under
    ``a_j >= 0`` (scipy's NNLS), with the value at ``rho = 1`` (the kernel's diagonal)
    matched exactly through a heavily weighted row. The weights mix a uniform density with the
    density of ``rho_sample`` (cosines of training pairs), so the fit is best where the data's
    pairs lie.

    Parameters
    ----------
    target : ndarray of shape (801,)
        The function on the grid.
    degree : int
    rho_sample : ndarray, optional

    Returns
    -------
    coefficients : ndarray of shape (degree + 1,)
    max_error : float
        Largest ``|sum_j a_j rho^j - target|`` on the grid.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk._polyfit import GRID, fit_nonnegative_polynomial
    >>> coef, err = fit_nonnegative_polynomial(GRID**2 + 0.5, 4)
    >>> bool(err < 1e-8), float(round(coef.sum(), 6))
    (True, 1.5)
    """
    weights = np.full(GRID.shape, 1.0 / GRID.size)
    if rho_sample is not None and len(rho_sample):
        hist, edges = np.histogram(rho_sample, bins=GRID.size, range=(-1.0, 1.0))
        weights = 0.5 * weights + 0.5 * hist / hist.sum()
    V = GRID[:, None] ** np.arange(degree + 1)[None, :]
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
