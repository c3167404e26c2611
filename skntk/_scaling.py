"""Exact power-of-two row scaling, for feature maps that are homogeneous in their input.

For a network with ``f(c x) = c^k f(x)`` (:func:`skntk.architectures.network_homogeneity`),
each row is divided by ``2^e`` (``e`` the exponent of its largest entry) before the
features are computed and the features are multiplied by ``2^(k e)`` after. Powers of two
scale floating-point numbers exactly, so nothing changes for ordinary data, while rows at
1e-300 or 1e300 no longer underflow or overflow on the way (squared norms, variances).
"""

import numpy as np
import scipy.sparse as sp

from ._backend import asarray_like, get_namespace, to_numpy

__all__ = ["unit_exponent", "unit_scale_rows", "rescale_rows", "scale_rows"]

_CHUNK = 4096  # rows at a time for the peaks


def unit_scale_rows(X):
    """``(X / 2^e, e)`` with per-row exponents ``e`` (int array; 0 for zero rows), so that
    every nonzero row's largest absolute entry lies in [0.5, 1)."""
    peak = _row_peak(X)
    _, e = np.frexp(peak)
    e = np.where(peak > 0, e, 0)
    if not (isinstance(X, np.ndarray) or sp.issparse(X) or np.any(e)):
        return X, e  # a device array needs no copy (NumPy callers get one, as always)
    return _scale(X, np.ldexp(1.0, -e)), e


def unit_exponent(X):
    """``E`` such that the largest absolute entry of ``X / 2^E`` lies in [0.5, 1) (0 for a
    zero ``X``)."""
    peak = float(np.max(_row_peak(X), initial=0.0))
    return int(np.frexp(peak)[1]) if peak > 0.0 else 0


def rescale_rows(Z, e, degree, what="features"):
    """``Z * 2^(degree e)`` per row; a ValueError naming the limit when that overflows."""
    if not np.any(e):
        return Z
    factors = np.exp2(np.asarray(e, dtype=np.float64) * degree)
    dtype = Z.dtype
    if isinstance(Z, np.ndarray) or sp.issparse(Z):
        limit = float(np.finfo(dtype).max)
    else:
        limit = float(get_namespace(Z).finfo(dtype).max)
    peak = _row_peak(Z)
    with np.errstate(over="ignore"):
        too_big = peak * factors > limit
    if np.any(too_big):
        raise ValueError(
            f"the {what} of {int(too_big.sum())} input row(s) exceed the largest {dtype} "
            f"value ({limit:.3e}): the network scales as |x|^{degree}, so rows with entries "
            f"up to {np.exp2(np.max(e[too_big])):.3e} are too large; rescale X"
        )
    return _scale(Z, factors)


def _row_peak(Z):
    if sp.issparse(Z):
        return np.asarray(abs(sp.csr_matrix(Z)).max(axis=1).todense(),
                          dtype=np.float64).ravel()
    if isinstance(Z, np.ndarray):
        if not Z.shape[1]:
            return np.zeros(len(Z))
        # in row chunks: np.abs of the whole array would briefly double the input's memory
        return np.concatenate([np.zeros(0)] + [np.abs(Z[i : i + _CHUNK]).max(axis=1)
                                               for i in range(0, len(Z), _CHUNK)])
    xp = get_namespace(Z)
    return to_numpy(xp.max(xp.abs(Z), axis=1)).astype(np.float64)


def scale_rows(X, factors):
    """``X`` with row ``i`` multiplied by ``factors[i]`` (powers of two: exact)."""
    return _scale(X, factors)


def _scale(X, factors):
    info = np.finfo(np.float32)
    host = isinstance(X, np.ndarray) or sp.issparse(X)
    xp = None if host else get_namespace(X)
    narrow = X.dtype == (np.float32 if host else xp.float32)
    if narrow and np.any((factors > 2.0**126) | (factors < info.tiny)):
        # the factor itself is outside float32's normal range: multiply in float64
        if sp.issparse(X):
            return (sp.diags(factors) @ X.astype(np.float64)).astype(np.float32)
        if isinstance(X, np.ndarray):
            return (X.astype(np.float64) * factors[:, None]).astype(np.float32)
        wide = xp.astype(X, xp.float64) * asarray_like(factors[:, None], X, dtype=xp.float64)
        return xp.astype(wide, X.dtype)
    if sp.issparse(X):
        return sp.diags(factors.astype(X.dtype)) @ X
    if isinstance(X, np.ndarray):
        return X * factors.astype(X.dtype)[:, None]
    return X * asarray_like(factors[:, None], X, dtype=X.dtype)
