"""Exact power-of-two rescaling for the exact kernels.

Two places where the range of float64 (or float32) would otherwise be left: inputs whose
entries are far from unit scale (rows, or images, divided by ``2^k`` before the Gram matrix is
formed) and homogeneous activations whose pre-activation variances leave about
``[2^-500, 2^500]`` (their duals evaluated on variances divided by ``4^a`` per input and
multiplied back). Powers of two scale floating-point numbers exactly, and nothing is rescaled
unless the data need it.

Unlike :mod:`skntk._scaling` (the feature maps: every row to unit scale, and back by a factor
per row), these rescale only beyond a dead zone, handle images and exponents past the float
range (``ldexp``, no factor ``2^k`` that could overflow), and scale a kernel back per pair.

Namespaces: the arrays (inputs, covariances, kernels) stay in their namespace (NumPy, CuPy, an
array-API library); the exponents are decided on the host from ``O(n)`` numbers per input
(largest entries, variances) and moved to the arrays' namespace where they are applied.
"""

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from ._special import host_dtype, is_array_api_input, ops, to_host
from .architectures import Nonlinearity, _expand_variances, _self_diagonal

# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------


def row_max_abs(X):
    """Largest ``|entry|`` of each row (of each image for >2-D arrays)."""
    if sp.issparse(X):
        return abs(X).max(axis=1).toarray().ravel().astype(np.float64)
    m = ops(X)
    flat = m.reshape(X, (X.shape[0], -1))
    return m.astype(m.maximum(m.max(flat, axis=1), -m.min(flat, axis=1)), m.float64)


def binary_exponents(m, dead_zone):
    """``k`` with ``m / 2^k`` in ``[0.5, 1)``, set to 0 where ``|k| <= dead_zone``."""
    k = np.frexp(m)[1].astype(np.int64)
    k[np.abs(k) <= dead_zone] = 0
    return k


def ldexp(a, e, out=None):
    """``a * 2^e`` (exact unless it over- or underflows, which gives inf or a rounded 0).

    ``e`` may be a host (NumPy) array for ``a`` of another namespace; ``out`` is honoured by
    NumPy and CuPy, and the result must be used in any case.
    """
    m = ops(a)
    with np.errstate(over="ignore", under="ignore"):
        return m.ldexp(a, e, out=out)


def pow2_scale(a, e, degree):
    """``a * 2^(degree e)`` for integer exponents ``e`` (``degree`` may be fractional)."""
    if degree == 0:
        return a
    m = ops(a)
    if m.is_numpy or not is_array_api_input(e):
        e = np.asarray(e) if m.is_numpy else m.asarray(np.asarray(e))
    if float(degree).is_integer():
        return ldexp(a, int(degree) * e)
    scaled = float(degree) * m.astype(e, m.float64)
    whole = m.floor(scaled)
    frac = m.exp2(scaled - whole) if m.native else 2.0 ** (scaled - whole)  # in [1, 2)
    with np.errstate(over="ignore", under="ignore"):
        return ldexp(a * m.astype(frac, a.dtype), m.astype(whole, m.int64))


def scale_rows(X, k):
    """``X`` with row (image) ``i`` divided by ``2^k_i``: exact, no rounding."""
    if sp.issparse(X):
        X = X.copy()
        if X.format == "csr":
            rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        else:
            rows = X.indices
        X.data = ldexp(X.data, -k[rows])
        return X
    return ldexp(X, ops(X).asarray(-k.reshape((-1,) + (1,) * (X.ndim - 1))))


def scale_inputs(net, X, Y, dtype):
    """Inputs far from unit scale divided by ``2^k`` per row (image), as ``net`` decides.

    ``Y`` is None for the symmetric kernel ``K(X, X)``. Returns ``(Xs, Ys, kx, ky, mx, my)``:
    the scaled inputs, their exponents and their largest ``|entry|`` per row (image), the last
    four on the host.
    """
    mx = to_host(row_max_abs(X))
    kx = net.exponents(mx, dtype)
    Xs = scale_rows(X, kx) if kx.any() else X
    if Y is None:
        return Xs, Xs, kx, kx, mx, mx
    my = to_host(row_max_abs(Y))
    ky = net.exponents(my, dtype)
    Ys = scale_rows(Y, ky) if ky.any() else Y
    return Xs, Ys, kx, ky, mx, my


# ----------------------------------------------------------------------------------------------
# Activation layers
# ----------------------------------------------------------------------------------------------


def variance_exponents(var, dtype):
    """Per-input exponents ``a`` that bring variances into ``[0.5, 2) 4^a``, or None.

    None when every input's largest variance is within ``2^(+-limit)`` (``limit`` 504 for
    float64, 56 for float32), where the products of two variances inside a dual are safe, or
    when a variance is not finite (the finiteness check reports that).
    """
    limit = np.finfo(host_dtype(dtype)).maxexp // 2 - 8
    var = to_host(var)
    m = np.asarray(var, dtype=np.float64).reshape(len(var), -1).max(axis=1, initial=0.0)
    if not np.all(np.isfinite(m)):
        return None
    k = np.frexp(m)[1]
    if not np.any((m > 0) & (np.abs(k) > limit)):
        return None
    return np.where(m > 0, k // 2, 0).astype(np.int64)


def pair_exponents(var_x, var_y, dtype):
    """``(a_x, a_y)`` of :func:`variance_exponents` for the two inputs of a pair (zeros for a
    side that needs none), or None when neither does; ``var_y`` None: a self pair."""
    ax = variance_exponents(var_x, dtype)
    ay = ax if var_y is None else variance_exponents(var_y, dtype)
    if ax is None and ay is None:
        return None
    ax = np.zeros(len(var_x), np.int64) if ax is None else ax
    ay = np.zeros(len(var_y), np.int64) if ay is None else ay
    return ax, ay


def cross_exponents(layers, var_x, var_y, dtype):
    """Per-activation ``(a_x, a_y)`` for the cross pass from all inputs' variances (O(n))."""
    acts = [layer for layer in layers if isinstance(layer, Nonlinearity)]
    return [
        None if layer.activation.homogeneity is None else pair_exponents(vx, vy, dtype)
        for layer, vx, vy in zip(acts, var_x, var_y, strict=True)
    ]


def slice_exponents(exponents, si, sj):
    """The exponents of :func:`cross_exponents` for the block ``[si, sj]`` of pairs."""
    return [None if e is None else (e[0][si], e[1][sj]) for e in exponents]


def activation_kernel(layer, state, exponents="auto"):
    """``layer.kernel(state)``, through homogeneity when the variances are extreme.

    For an activation homogeneous of degree ``k``,
    ``E[act(u) act(v)](a^2 q_xx, b^2 q_yy, a b q_xy) = (a b)^k E[act(u) act(v)](q_xx, q_yy, q_xy)``
    and the derivative dual scales as ``(a b)^(k-1)``: the duals are evaluated on variances
    divided per input by ``4^a`` (a power of two, exact) and multiplied back. ``exponents`` is
    ``(a_x, a_y)`` or None as decided for a cross state from all inputs' variances, or
    ``"auto"`` to decide from this state.
    """
    act = layer.activation
    degree = act.homogeneity
    if degree is None or exponents is None:
        return layer.kernel(state)
    m = ops(state.nngp)
    dtype = state.nngp.dtype
    if state.is_self:
        var_x = var_y = _self_diagonal(state)
    else:
        var_x, var_y = state.variances[0]
    if exponents == "auto":
        exponents = pair_exponents(var_x, None if state.is_self else var_y, dtype)
        if exponents is None:
            return layer.kernel(state)
    ax, ay = (m.asarray(np.asarray(a)) for a in exponents)
    if state.is_self:
        state.variances.append(m.copy(var_x))  # the true variances, for the cross pass
    else:
        state.variances.pop(0)
    spatial = (1,) * state.spatial
    vxs = ldexp(var_x, -2 * m.reshape(ax, (-1,) + spatial))
    vys = vxs if state.is_self else ldexp(var_y, -2 * m.reshape(ay, (-1,) + spatial))
    vx, vy = _expand_variances(vxs, vys, state)
    e = 2 * ax if state.is_self else ax[:, None] + ay[None, :]
    e = m.reshape(e, tuple(e.shape) + (1,) * (2 * state.spatial))
    q = ldexp(state.nngp, -e, out=state.nngp)
    nngp, deriv = act.duals(vx, vy, q, with_derivative=state.ntk is not None)
    nngp = pow2_scale(m.astype(nngp, dtype), e, degree)
    ntk = state.ntk
    if ntk is not None:
        ntk = _times(m, ntk, pow2_scale(m.astype(deriv, dtype), e, degree - 1))
    return replace(state, nngp=nngp, ntk=ntk)


def _times(m, ntk, factor):
    """``ntk * factor``, in place for NumPy and CuPy (``factor`` cast to ``ntk``'s dtype as
    NumPy's in-place product does)."""
    if m.native:
        ntk *= factor
        return ntk
    if factor.dtype != ntk.dtype:
        return m.astype(m.astype(ntk, factor.dtype) * factor, ntk.dtype)
    ntk *= factor
    return ntk
