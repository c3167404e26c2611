"""Hermite coefficients, second moments and dual kernels of activations without closed forms.

One-variable expectations use the scale-graded rules of :mod:`skntk._quadrature`. A dual
kernel is Mehler's series ``sum_l r_l(s_x) r_l(s_y) rho^l``, truncated where its rigorous
remainder bound is negligible, with a two-variable rule for the (few, nearly parallel) pairs
where the series converges too slowly.

Namespaces. Everything runs in the namespace of the variances (NumPy, CuPy, any array-API
library; see :mod:`skntk._special`): the one-variable rules are fixed-node sums
(``fn(s g) @ basis``), evaluated on the device with the nodes moved there once per call, and
so is the Mehler series over all pairs. Two things run on the host: the grouping of the
per-input scales into the rules' scale buckets (``O(n)`` numbers), and the two-variable rule
for the few pairs that need it, whose nodes depend on each pair (they are gathered to the host,
integrated with NumPy and put back). A :class:`~skntk.activations.CallableActivation` is a
NumPy function: it is evaluated on the host at the nodes and its values moved back.
"""

import math

import numpy as np

from . import _hermite, _quadrature
from ._activation_checks import as_scales, overflow_error
from ._pair_geometry import as_dtype, as_float64
from ._special import from_host, is_array_api_input, ops, to_host

__all__ = [
    "as_dtype",
    "as_float64",
    "scales_array",
    "require_finite",
    "radial_coefficients",
    "second_moment",
    "numeric_dual",
]

# Mehler series: highest degree and relative accuracy target.
MEHLER_MAX_DEGREE = 192
MEHLER_TOL = 1e-11


def scales_array(s):
    """Scales (pre-activation standard deviations) as a 1-D float64 array, checked finite and
    non-negative; in ``s``'s namespace (NumPy for lists and NumPy input)."""
    if not is_array_api_input(s):
        return as_scales(s)
    m = ops(s)
    s = m.astype(s, m.float64)
    if s.ndim == 0:
        s = m.reshape(s, (1,))
    if s.ndim != 1:
        raise ValueError(f"scales must be a 1-D array, got shape {tuple(s.shape)}")
    if not bool(m.all(m.isfinite(s) & (s >= 0))):
        raise ValueError("scales must be finite and non-negative")
    return s


def require_finite(act, out, what, *variances):
    """Return ``out``, or raise :func:`~skntk._activation_checks.overflow_error` if it holds an
    inf or a nan (any namespace)."""
    m = ops(out)
    if not bool(m.all(m.isfinite(out))):
        raise overflow_error(act, what, *(to_host(v) for v in variances))
    return out


def _in_chunks(m, fn, s, rule_fn, rows_per_chunk):
    """``rule_fn(fn(s_chunk[:, None] * g[None, :]), bucket)`` over the scales ``s`` grouped by
    scale bucket, in the order of ``s``.

    The buckets are found on the host (``s`` is ``O(n)`` numbers); each chunk is gathered
    and evaluated in ``s``'s namespace and the results are put back in order.
    """
    s_host = to_host(s)
    parts, order = [], []
    for b, idx in _quadrature.by_bucket(s_host, rows_per_chunk):
        g, _ = _quadrature.graded_rule(b)
        sc = s[idx] if m.is_numpy else m.take(s, m.asarray(idx), axis=0)
        values = fn(sc[:, None] * m.asarray(g)[None, :])
        parts.append(rule_fn(values, b))
        order.append(idx)
    if not parts:
        return None
    if m.is_numpy:
        out = np.empty((s_host.shape[0],) + parts[0].shape[1:], dtype=parts[0].dtype)
        out[np.concatenate(order)] = np.concatenate(parts)
        return out
    inverse = np.empty(s_host.shape[0], dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(s_host.shape[0])
    return m.take(m.concatenate(parts, axis=0), m.asarray(inverse), axis=0)


# Many scales (a batch of rows): the coefficients, analytic in s, are interpolated from the
# rule's values at Chebyshev-Lobatto nodes spanning the batch's scales, and used only if the
# interpolant through every other node reproduces the others to _INTERP_RTOL of the largest
# coefficient; otherwise every scale gets the rule. NTKSketch gelu+bias:
# 31 us per row and layer by the rule (960 nodes per scale), about 1 interpolated.
_INTERP_MIN_SCALES = 96
_INTERP_NODES = 33
_INTERP_RTOL = 1e-12


def _lobatto(lo, hi, count):
    k = np.arange(count)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * k / (count - 1))


def _barycentric(nodes, values, x):
    """The polynomial through ``(nodes, values)`` (Chebyshev-Lobatto nodes) at ``x``."""
    w = (-1.0) ** np.arange(len(nodes))
    w[0] *= 0.5
    w[-1] *= 0.5
    diff = x[:, None] - nodes[None, :]
    hit = diff == 0
    diff[hit] = 1.0
    kernel = w[None, :] / diff
    out = (kernel @ values) / kernel.sum(axis=1)[:, None]
    rows, cols = np.nonzero(hit)
    out[rows] = values[cols]
    return out


def _interpolated_coefficients(direct, s):
    """``direct(s)`` (an ``(n, p + 1)`` table, analytic in ``s``) by checked interpolation, or
    ``None`` when the check fails or the scales do not span an interval."""
    lo, hi = float(np.min(s)), float(np.max(s))
    if not hi - lo > 1e-9 * hi:
        return None
    nodes = _lobatto(lo, hi, _INTERP_NODES)
    exact = direct(nodes)
    check = _barycentric(nodes[::2], exact[::2], nodes[1::2])
    # relative to the largest coefficient: the features' scale (a column that vanishes in
    # theory, such as gelu's odd ones past 1, holds only the rule's rounding)
    if np.max(np.abs(check - exact[1::2])) > _INTERP_RTOL * np.max(np.abs(exact)):
        return None
    return _barycentric(nodes, exact, np.asarray(s, dtype=np.float64))


def radial_coefficients(act, fn, s, degree):
    """``r_l(s) = E[fn(s g) h_l(g)]``, ``l = 0..degree``, by the scale-graded rule (for many
    NumPy scales, interpolated in ``s`` from the rule at Chebyshev nodes, with a check)."""
    m = ops(s)
    if m.is_numpy and s.shape[0] >= _INTERP_MIN_SCALES:
        out = _interpolated_coefficients(
            lambda nodes: _rule_coefficients(m, fn, nodes, degree), s)
        if out is not None:
            return require_finite(act, out, "the Hermite coefficients", s * s)
    return require_finite(act, _rule_coefficients(m, fn, s, degree), "the Hermite coefficients",
                          s * s)


def _rule_coefficients(m, fn, s, degree):
    basis = {}

    def project(values, b):
        if b not in basis:
            g, w = _quadrature.graded_rule(b)
            basis[b] = m.asarray((_hermite.hermite_functions(g, degree) * w).T)
        return m.astype(values, m.float64) @ basis[b]

    out = _in_chunks(m, fn, s, project, 2048)
    if out is None:
        out = m.zeros((0, degree + 1), dtype=m.float64)
    return out


def second_moment(fn, q):
    """``E[fn(u)^2]`` for ``u ~ N(0, q)``, elementwise over ``q``, by the scale-graded rule."""
    m = ops(q)
    (q,) = as_float64(m, q)
    flat = m.reshape(q, (-1,))
    s = m.sqrt(m.maximum(flat, 0.0))
    weights = {}

    def integrate(values, b):
        if b not in weights:
            weights[b] = m.asarray(_quadrature.graded_rule(b)[1])
        values = m.astype(values, m.float64)
        return (values * values) @ weights[b]

    out = _in_chunks(m, fn, s, integrate, 2048)
    if out is None:
        out = m.zeros((0,), dtype=m.float64)
    return m.reshape(out, q.shape)


def numeric_dual(act, fn, coefficients, q_xx, q_yy, q_xy, tol=MEHLER_TOL):
    """``E[fn(u) fn(v)]`` by Mehler's series plus quadrature where the series converges slowly.

    ``coefficients(s, L)`` returns the radial Hermite coefficients of ``fn``. The remainder of the
    series truncated at ``L`` is bounded by ``|rho|^(L+1) sqrt(tail_x tail_y)`` with
    ``tail = E[fn^2] - sum_{l<=L} r_l^2``; pairs whose bound exceeds ``tol * sqrt(E_x E_y)`` are
    recomputed by :func:`_pair_quadrature` (on the host, see the module docstring).
    """
    m = ops(q_xx, q_yy, q_xy)
    q_xx, q_yy, q_xy = as_float64(m, q_xx, q_yy, q_xy)
    shape = tuple(np.broadcast_shapes(tuple(q_xx.shape), tuple(q_yy.shape), tuple(q_xy.shape)))
    nx = math.prod(q_xx.shape)
    flat = m.concatenate([m.reshape(q_xx, (-1,)), m.reshape(q_yy, (-1,))])
    scales, inverse = m.unique_inverse(m.sqrt(m.maximum(flat, 0.0)))
    coef = coefficients(scales, MEHLER_MAX_DEGREE)
    energy = require_finite(act, second_moment(fn, scales * scales), "E[act(u)^2]", scales * scales)
    tails = m.maximum(energy[:, None] - m.cumsum(coef * coef, axis=1), 0.0)
    ok = to_host(m.all(tails <= tol * tol * m.maximum(energy, 1e-300)[:, None], axis=0))
    degree = int(np.argmax(ok)) if ok.any() else MEHLER_MAX_DEGREE
    coef, tail = coef[:, : degree + 1], tails[:, degree]
    inverse = m.reshape(inverse, (-1,))
    ix, iy = inverse[:nx], inverse[nx:]

    def per_input(table, idx, like):  # table rows of each input, shaped like its variances
        rows = table[idx] if m.is_numpy else m.take(table, idx, axis=0)
        return m.reshape(rows, tuple(like.shape) + tuple(rows.shape[1:]))

    sx, sy = per_input(scales, ix, q_xx), per_input(scales, iy, q_yy)
    cx, cy = per_input(coef, ix, q_xx), per_input(coef, iy, q_yy)
    denom = sx * sy
    pos = denom > 0
    rho = m.where(pos, q_xy / m.where(pos, denom, 1.0), 0.0)
    rho = m.broadcast_to(m.clip(rho, -1.0, 1.0), shape)
    out = m.zeros(shape, dtype=m.float64)
    for l in range(degree, -1, -1):  # Horner in rho
        out *= rho
        out += cx[..., l] * cy[..., l]
    # square roots first: energies of unbounded activations reach 1e300
    root_tail, root_energy = m.sqrt(tail), m.sqrt(energy)
    tx, ty = per_input(root_tail, ix, q_xx), per_input(root_tail, iy, q_yy)
    ex, ey = per_input(root_energy, ix, q_xx), per_input(root_energy, iy, q_yy)
    bound = m.abs(rho) ** (degree + 1) * (tx * ty)
    bad = m.broadcast_to(bound > tol * (ex * ey), shape)
    if bool(m.any(bad)):
        # few pairs, each with its own nodes: integrated on the host (see the module docstring)
        pick = [to_host(m.broadcast_to(a, shape)[bad]) for a in (sx, sy, rho)]
        out[bad] = from_host(_pair_quadrature(_host_fn(fn), *pick), out)
    return require_finite(act, out, "the dual kernel", q_xx, q_yy)


def _host_fn(fn):
    """``fn`` on NumPy arrays, returning NumPy arrays (the activations' pointwise forms take
    any namespace and answer in it; this keeps the host rule on the host)."""

    def host(t):
        return to_host(fn(t))

    return host


def _pair_quadrature(fn, sx, sy, rho):
    """``E[fn(u) fn(v)]`` of the pairs by a two-variable rule:
    :func:`skntk._quadrature.gaussian_pair_expectation` at unit-order scales,
    :func:`skntk._quadrature.scaled_pair_expectation` where a scale is 2 or more."""
    large = np.maximum(sx, sy) >= 2.0
    vals = np.empty(sx.shape)
    if np.any(~large):
        vals[~large] = _quadrature.gaussian_pair_expectation(
            fn, fn, sx[~large], sy[~large], rho[~large]
        )
    if np.any(large):
        vals[large] = _quadrature.scaled_pair_expectation(fn, fn, sx[large], sy[large], rho[large])
    return vals
