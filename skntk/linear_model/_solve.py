"""Ridge coefficients from the accumulated statistics: centring, Cholesky or eigen solve, and
the generalized and leave-one-out cross-validation scores of several alphas."""

import functools
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dsyr
from sklearn.externals.array_api_compat import device

from .._backend import asarray_like, get_namespace, to_numpy
from ._stats import LooState


@dataclass
class Solution:
    coef: object  # (m, t), in the statistics' namespace
    alpha: float
    intercept: object = None  # (t,)
    cv_scores: object = None  # (n_alphas,) ndarray, with alphas
    best_score: float = None


def check_alphas(alphas):
    """``alphas`` as a float64 vector of finite values > 0 (None stays None)."""
    if alphas is None:
        return None
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    if alphas.size == 0:
        raise ValueError("alphas is empty; pass at least one value > 0, or alphas=None")
    bad = ~(np.isfinite(alphas) & (alphas > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"alphas must all be finite and > 0; got {alphas[i]} at position {i}")
    return alphas


def solve(stats, shift, *, alpha, alphas, criterion, fit_intercept, loo=None):
    """Coefficients from the accumulated statistics.

    ``alphas`` (checked) overrides ``alpha``; ``loo`` is a callable ``loo(state) -> sums``
    running the leave-one-out pass (``criterion="loo"``).
    """
    G, B, syy, xbar, ybar = centre(stats, shift, fit_intercept)
    if alphas is None:
        coef = _solve_alpha(G, B, alpha, stats.n, lambda: centre(stats, shift, fit_intercept)[0])
        solution = Solution(coef, float(alpha))
    else:
        lam, V = eigh(G)
        del G  # the leave-one-out pass runs with V, not the Gram matrix
        z = V.T @ B  # (m, t)
        al = asarray_like(alphas, lam, dtype=get_namespace(lam).float64)
        den = lam[:, None] + al[None, :]  # (m, A)
        if criterion == "gcv":
            scores = gcv_scores(lam, z, syy, al, den, stats.n, fit_intercept)
        else:
            scores = _loo_scores(loo, V, z, den, xbar, ybar, stats)
        best = int(np.argmax(scores))  # the first of equal scores, as RidgeCV
        coef = V @ (z / den[:, best][:, None])
        solution = Solution(coef, float(alphas[best]), None, scores, float(scores[best]))
    if fit_intercept:
        solution.intercept = ybar - xbar @ solution.coef
    else:
        solution.intercept = get_namespace(ybar).zeros_like(ybar)
    return solution


def centre(stats, shift, fit_intercept):
    """Centred statistics: a new ``Gc`` (upper triangle valid on NumPy), ``Bc``, ``syyc``
    and the weighted means ``xbar``, ``ybar`` (None and 0 without an intercept)."""
    G, s, sy = stats.G, stats.s, stats.sy
    W = float(stats.sw)
    if not W > 0:
        raise ValueError("sample_weight sums to 0: give at least one row a positive weight")
    numpy = isinstance(G, np.ndarray)
    if numpy:  # a copy: the factorizations overwrite it
        G = np.array(G, order="F", copy=True)
    if not fit_intercept:
        return G, stats.B, stats.syy, None, get_namespace(sy).zeros_like(sy)
    if numpy:
        G = dsyr(-1.0 / W, s, a=G, lower=0, overwrite_a=1)
    else:
        G = G - (s[:, None] * s[None, :]) / W
    c, cy = shift
    B = stats.B - (s[:, None] * sy[None, :]) / W
    return G, B, stats.syy - sy * sy / W, c + s / W, cy + sy / W


def eigh(G):
    """Eigenvalues (clipped at 0, which rounding can cross) and eigenvectors of ``G``."""
    xp = get_namespace(G)
    if isinstance(G, np.ndarray):
        lam, V = scipy.linalg.eigh(G, lower=False, overwrite_a=True, check_finite=False)
    else:
        lam, V = xp.linalg.eigh(G)
    return xp.maximum(lam, xp.zeros_like(lam)), V


def singular_message(alpha, trace, m, n):
    hint = 1e-6 * trace / max(m, 1)
    return (
        f"alpha={alpha} gives a singular system: the centred Gram matrix of the {m} features "
        f"({n} rows) is not positive definite (fewer independent rows than features, or "
        f"repeated features). Use alpha > 0, e.g. alpha >= {hint:.3g} (1e-6 x its mean "
        "eigenvalue, trace / m), or pass alphas=[...] to choose one by cross-validation"
    )


def _solve_alpha(G, B, alpha, n, recentre):
    """``(Gc + alpha I)^{-1} B``, ``G`` overwritten; ``recentre()`` gives ``Gc`` again."""
    xp = get_namespace(G)
    trace = float(xp.sum(xp.linalg.diagonal(G)))
    coef = _cholesky_solve(G, B, alpha)
    if coef is not None:
        return coef
    if alpha == 0:
        raise ValueError(singular_message(alpha, trace, G.shape[0], n))
    # rounding made the (positive semi-definite) Gram matrix slightly indefinite: the
    # eigendecomposition with eigenvalues clipped at 0 solves the same system
    lam, V = eigh(recentre())
    return V @ ((V.T @ B) / (lam + alpha)[:, None])


def _cholesky_solve(G, B, alpha):
    """``(G + alpha I)^{-1} B`` by Cholesky (upper triangle of ``G``, factored in place on
    NumPy), or None when it fails or, for ``alpha = 0``, the system is nearly singular."""
    m = G.shape[0]
    if isinstance(G, np.ndarray):
        G.flat[:: m + 1] += alpha
        try:
            U = scipy.linalg.cho_factor(G, lower=False, overwrite_a=True, check_finite=False)[0]
        except np.linalg.LinAlgError:
            return None
        pivots = np.diag(U)
        result = functools.partial(scipy.linalg.cho_solve, (U, False), B, check_finite=False)
    else:
        xp = get_namespace(G)
        A = G + alpha * xp.eye(m, dtype=G.dtype, device=device(G))
        try:
            pivots = to_numpy(xp.linalg.diagonal(xp.linalg.cholesky(A)))
        except Exception:  # the backing library's LinAlgError
            return None
        result = functools.partial(xp.linalg.solve, A, B)
    pivots = np.abs(np.asarray(pivots, dtype=np.float64))
    if not np.isfinite(pivots).all() or (alpha == 0 and not _well_conditioned(pivots)):
        return None
    return result()


def _well_conditioned(pivots):
    """Whether Cholesky pivots (square roots of the eigenvalues' scale) show a nonsingular
    system, to the rounding of an ``m x m`` factorization."""
    if pivots.size == 0:
        return True
    return bool(pivots.min() ** 2 > pivots.size * np.finfo(np.float64).eps * pivots.max() ** 2)


def gcv_scores(lam, z, syy, al, den, n, fit_intercept):
    """Negative generalized cross-validation error for every alpha (closed form).

    ``RSS(alpha) = sum_t [syy_t - sum_j z_jt^2 (lam_j + 2 alpha) / (lam_j + alpha)^2]`` and
    ``df(alpha) = sum_j lam_j / (lam_j + alpha) + fit_intercept``; the score is
    ``-RSS / (n t) / (1 - df / n)^2`` (``-inf`` when ``df >= n``).
    """
    xp = get_namespace(lam)
    t = z.shape[1]
    z2 = xp.sum(z * z, axis=1)  # (m,)
    rss = xp.sum(syy) - xp.sum(
        z2[:, None] * (lam[:, None] + 2.0 * al[None, :]) / (den * den), axis=0
    )
    df = xp.sum(lam[:, None] / den, axis=0) + float(fit_intercept)
    rss = np.maximum(np.asarray(to_numpy(rss), dtype=np.float64), 0.0)
    shrink = 1.0 - np.asarray(to_numpy(df), dtype=np.float64) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(shrink > 0, -(rss / (n * t)) / np.maximum(shrink, 1e-300) ** 2, -np.inf)


def _loo_scores(loo, V, z, den, xbar, ybar, stats):
    """Negative mean squared leave-one-out error for every alpha (a pass over the rows)."""
    xp = get_namespace(z)
    (m, t), n_alphas = z.shape, den.shape[1]
    inv = 1.0 / den
    zeta = xp.reshape(z[:, None, :] * inv[:, :, None], (m, n_alphas * t))
    sums = loo(LooState(V, inv, zeta, xbar, ybar, float(stats.sw)))
    return -np.asarray(to_numpy(sums), dtype=np.float64) / (stats.n * t)
