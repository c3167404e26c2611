"""Sufficient statistics of ridge regression over one row block, and its leave-one-out errors.

Both are pure functions of a block, ``f(feature_map, state, X, Y, w, acc) -> acc``, whose
results add: the streaming pass, its threads and dask's tree reduction all sum them.
"""

import functools
from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk, ssyrk
from sklearn.externals.array_api_compat import device

from .._backend import asarray_like, get_namespace, to_numpy

# rows whose features give the accumulation's shift (any shift is exact; a close one avoids
# cancellation when the statistics are centred)
SHIFT_ROWS = 256


@dataclass
class Stats:
    """Sums over rows (see the package docstring), float64, in the features' namespace.

    On NumPy only the upper triangle of ``G`` is filled (``syrk``); elsewhere ``G`` is full.
    ``a + b`` is the dask tree's pure combine; ``a += b`` adds in place (no new ``m x m``).
    """

    n: int  # rows
    sw: float  # sum of weights
    G: object  # (m, m)
    s: object  # (m,)
    B: object  # (m, t)
    sy: object  # (t,)
    syy: object  # (t,)
    # float32 work space of ssyrk, reused across the blocks of one accumulator (it saves an
    # m x m allocation and its page faults per block); not part of the statistics
    work: object = None

    @classmethod
    def zeros(cls, m, t, like=None):
        """Empty statistics, in the namespace and on the device of ``like`` (NumPy if None)."""
        if like is None or isinstance(like, np.ndarray):
            zeros, G = np.zeros, np.zeros((m, m), order="F")  # F order: dsyrk adds in place
        else:
            xp = get_namespace(like)
            zeros = functools.partial(xp.zeros, dtype=xp.float64, device=device(like))
            G = zeros((m, m))
        return cls(0, 0.0, G, zeros(m), zeros((m, t)), zeros(t), zeros(t))

    def __add__(self, other):
        return Stats(*(getattr(self, f) + getattr(other, f) for f in _SUMS))

    def __iadd__(self, other):
        for f in _SUMS:
            value = getattr(self, f)
            value += getattr(other, f)  # in place for arrays
            setattr(self, f, value)
        return self

    def __getstate__(self):
        return {**self.__dict__, "work": None}


_SUMS = [f.name for f in fields(Stats) if f.name != "work"]


@dataclass
class LooState:
    """What the leave-one-out pass needs: ``Gc = V diag(lam) V^T`` and the solutions."""

    V: object  # (m, m) eigenvectors of the centred Gram matrix
    inv: object  # (m, A): 1 / (lam + alpha)
    zeta: object  # (m, A * t): V^T coef for every alpha
    xbar: object  # (m,) or None (no intercept)
    ybar: object  # (t,)
    sw: float

    @property
    def n_alphas(self):
        return self.inv.shape[1]


def features(feature_map, X):
    """Dense features of one block, float32 or float64, in the namespace the map returns."""
    Z = feature_map.transform(X)
    if sp.issparse(Z):
        Z = Z.toarray()
    elif hasattr(Z, "to_numpy"):  # set_output(transform="pandas")
        Z = Z.to_numpy()
    if isinstance(Z, np.ndarray) or not hasattr(Z, "__array_namespace__"):
        Z = np.asarray(Z)
        if Z.dtype not in (np.float32, np.float64):
            Z = Z.astype(np.float64)
    return Z


def like(a, Z, dtype=None):
    """``a`` (NumPy or any namespace) as a float array in ``Z``'s namespace and device."""
    if a is None:
        return None
    if isinstance(Z, np.ndarray):
        return np.asarray(to_numpy(a), dtype=np.float64 if dtype is None else dtype)
    xp = get_namespace(Z)
    dtype = xp.float64 if dtype is None else dtype
    if type(a) is type(Z):
        return xp.astype(a, dtype)
    return asarray_like(np.asarray(to_numpy(a), dtype=np.float64), Z, dtype=dtype)


def _block(feature_map, X, Y, w):
    Z = features(feature_map, X)
    return Z, get_namespace(Z), like(Y, Z), like(w, Z)


def feature_shift(feature_map, X, Y):
    """The shift ``(c, c_y)``: mean features and coded targets of a few rows (float64)."""
    Z, xp, Y, _ = _block(feature_map, X, Y, None)
    return xp.mean(xp.astype(Z, xp.float64), axis=0), xp.mean(Y, axis=0)


def block_stats(feature_map, shift, X, Y, w, acc=None):
    """Add the ridge statistics of one row block to ``acc`` (new statistics when None).

    Parameters
    ----------
    feature_map : fitted transformer
    shift : tuple (c, c_y) or None
        The fixed shift of features and targets (shapes (m,) and (t,)); None: no centring
        (``fit_intercept=False``).
    X : array of shape (b, n_features)
    Y : array of shape (b, t)
        Coded float targets.
    w : array of shape (b,) or None
        Sample weights (>= 0); None means ones.
    acc : Stats or None

    Returns
    -------
    acc : Stats

    Notes
    -----
    With ``Z_s = diag(sqrt(w)) (Z - c)``, the Gram matrix is ``Z_s^T Z_s``: a symmetric rank-b
    update, ``syrk`` on NumPy (``dsyrk`` for float64 features; ``ssyrk`` per block for float32
    features, added into the float64 sum), and a matmul elsewhere (CuPy, array-API), on the
    features' device. ``B`` and ``s`` come from one product ``Z_s^T [Y_s, sqrt(w)]`` in the
    features' dtype, summed in float64.
    """
    Z, xp, Y, w = _block(feature_map, X, Y, w)
    Zs, Ys, r = _shift_and_weigh(Z, X, Y, w, shift)
    if acc is None:
        acc = Stats.zeros(Z.shape[1], Y.shape[1], like=Z)
    _add_gram(acc, Zs)
    R = xp.astype(xp.concat([Ys, r[:, None]], axis=1), Zs.dtype)
    BR = xp.astype(Zs.T @ R, xp.float64)
    acc.B += BR[:, :-1]
    acc.s += BR[:, -1]
    acc.sy += xp.sum(Ys * r[:, None], axis=0)
    acc.syy += xp.sum(Ys * Ys, axis=0)
    acc.n += Z.shape[0]
    acc.sw += float(xp.sum(r * r))
    return acc


def _shift_and_weigh(Z, X, Y, w, shift):
    """``sqrt(w) (Z - c)``, ``sqrt(w) (Y - c_y)`` and ``sqrt(w)`` of one block."""
    xp = get_namespace(Z)
    # a block of features is the pass's largest temporary: overwrite it when it is a NumPy
    # array the map has just made (not one sharing the input's memory, as an identity map's)
    in_place = (
        isinstance(Z, np.ndarray)
        and Z.flags.owndata
        and Z.flags.writeable
        and not (isinstance(X, np.ndarray) and np.may_share_memory(Z, X))
    )
    if shift is not None:
        c = xp.astype(like(shift[0], Z), Z.dtype)
        if in_place:
            Z -= c
        else:
            Z, in_place = Z - c, isinstance(Z, np.ndarray)
        Y = Y - like(shift[1], Z)
    if w is None:
        return Z, Y, xp.ones((Z.shape[0],), dtype=xp.float64, device=device(Z))
    r = xp.sqrt(w)
    rz = xp.astype(r, Z.dtype)[:, None]
    if in_place:
        Z *= rz
    else:
        Z = Z * rz
    return Z, Y * r[:, None], r


def _add_gram(acc, Zs):
    """``acc.G += Zs^T Zs`` (upper triangle only on NumPy)."""
    if not isinstance(Zs, np.ndarray):
        xp = get_namespace(Zs)
        acc.G += xp.astype(Zs.T @ Zs, xp.float64)
        return
    Zs = np.ascontiguousarray(Zs)
    if Zs.dtype == np.float64:  # in place when acc.G is F-ordered float64 (Stats.zeros)
        acc.G = dsyrk(1.0, Zs.T, c=acc.G, beta=1.0, trans=0, overwrite_c=1)
    else:  # float32 products (twice as fast), summed in float64
        acc.work = ssyrk(1.0, Zs.T, c=acc.work, beta=0.0, trans=0, overwrite_c=1)
        acc.G += acc.work


def block_loo(feature_map, state, X, Y, w, acc=None):
    """Add one block's sums of squared leave-one-out errors (one per alpha) to ``acc``.

    Returns
    -------
    sums : array of shape (n_alphas,)
        ``acc`` plus ``sum_i sum_t e_{it}(alpha)^2`` over the block's rows, with the efficient
        leave-one-out error of ridge regression ``e_i = sqrt(w_i) r_i / (1 - h_ii - w_i / W)``
        (see :class:`~skntk.linear_model.NeuralKernelRidge`).
    """
    Z, xp, Y, w = _block(feature_map, X, Y, w)
    D = xp.astype(Z, xp.float64)
    if state.xbar is not None:
        D = D - state.xbar
    P = D @ state.V  # coordinates in the eigenbasis, (b, m)
    h = (P * P) @ state.inv  # unweighted leverage (b, A)
    shape = (Z.shape[0], state.n_alphas, state.ybar.shape[0])  # (b, A, t)
    resid = Y[:, None, :] - (xp.reshape(P @ state.zeta, shape) + state.ybar)
    if w is not None:
        h = h * w[:, None]
        resid = resid * xp.sqrt(w)[:, None, None]
    den = 1.0 - h
    if state.xbar is not None:
        den = den - ((w[:, None] if w is not None else 1.0) / state.sw)
    err = resid / den[:, :, None]
    sums = xp.sum(xp.sum(err * err, axis=2), axis=0)
    return sums if acc is None else acc + sums
