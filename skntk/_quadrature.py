"""Gauss-Legendre rules for Gaussian expectations, in one variable and in two.

One variable: ``E[f(s g)]``, ``g ~ N(0, 1)``, by composite Gauss-Legendre on ``[-14, 14]``
split at 0 (kinks of ReLU-like functions) and, for scales ``s >= 2``, at ``+-c / s`` (the
transitions of saturating functions, which the fixed rule would step over). Two variables:
``E[f(u) h(v)]`` for a correlated pair, by a product rule split where ``f`` and ``h`` change.
The Gaussian density is folded into the weights.

These are NumPy functions: :mod:`skntk._numeric_duals` moves the one-variable rules' nodes and
weights to the namespace of the data (their sums run there), and brings the few pairs that
need a two-variable rule to the host.
"""

import math
from functools import lru_cache

import numpy as np
from scipy.special import roots_legendre

from ._pair_geometry import sine

_SQRT_2PI = math.sqrt(2.0 * math.pi)
# Integration window in g: the Gaussian weight beyond |g| = 14 is below 1e-43.
_WINDOW = 14.0
# Segment breakpoints: the split at 0 resolves kinks of ReLU-like functions (f(s g) has its
# kink at g = 0 for every s), and Gauss-Legendre nodes cluster at segment ends, which resolves
# the sharp transitions of tanh-like functions at large scales.
_BREAKS = (-_WINDOW, -4.0, -1.0, 0.0, 1.0, 4.0, _WINDOW)
_NODES_PER_SEGMENT = 160
# Widths (in units of the activation's argument) of the features a numeric rule must resolve
# at large scale: the transitions of tanh-like functions and the bumps of their derivatives
# live within a few units of 0, i.e. within |g| < 64 / s in the standard variable g.
_FEATURE_WIDTHS = (1.0, 4.0, 16.0, 64.0)
_WIDTHS = np.asarray(_FEATURE_WIDTHS)
# Pair rule at unit-order scales: fixed breakpoints of the outer variable.
_UNIT_OUTER_BREAKS = np.array([-_WINDOW, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, _WINDOW])
# Pair rule at any scale: fixed breakpoints of both variables; the Gaussian tails are split
# finely enough (+-4, 6, 9) for 12-16 Legendre nodes per piece to integrate them to ~1e-16.
_SCALED_BREAKS = np.array([-14.0, -9.0, -6.0, -4.0, -2.5, -1.0, 0.0, 1.0, 2.5, 4.0, 6.0, 9.0, 14.0])
# Both pair rules: breakpoints of the inner variable around the point where v = 0.
_INNER_OFFSETS = np.array([-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0])
# In g1, the inner integral E_g2[h(v)] changes over ``hypot(1 / s_y, c) / |rho|`` around 0.
_INNER_FEATURES = np.array([0.5, 2.0, 8.0, 32.0])


@lru_cache(maxsize=8)
def _legendre_roots(n):
    return roots_legendre(n)


def legendre_segments(breaks, n):
    """Gauss-Legendre nodes and plain weights on consecutive segments of ``breaks`` (sorted
    along the last axis): arrays of shape ``breaks.shape[:-1] + ((k - 1) * n,)``."""
    x, w = _legendre_roots(n)
    a, b = breaks[..., :-1, None], breaks[..., 1:, None]
    half = 0.5 * (b - a)
    shape = breaks.shape[:-1] + (-1,)
    return (half * x + (0.5 * (a + b))).reshape(shape), (half * w).reshape(shape)


def gaussian_segments(breaks, n):
    """:func:`legendre_segments` with the standard Gaussian density folded into the weights."""
    g, w = legendre_segments(breaks, n)
    return g, w * np.exp(-0.5 * g * g) / _SQRT_2PI


@lru_cache(maxsize=4)
def legendre_gaussian_rule(nodes_per_segment=_NODES_PER_SEGMENT):
    """Nodes ``g`` and weights ``w`` with ``sum w f(g) ~ E[f(g)]`` for ``g ~ N(0, 1)``.

    Composite Gauss-Legendre on ``[-14, 14]`` split at 0, +-1 and +-4; the Gaussian density is
    folded into the weights.
    """
    return gaussian_segments(np.array(_BREAKS), nodes_per_segment)


def scale_bucket(s):
    """0 for ``s < 2``, else ``floor(log2 s)``: scales sharing a bucket share a rule."""
    _, e = np.frexp(np.asarray(s, dtype=np.float64))
    return np.where(np.asarray(s) >= 2.0, e - 1, 0)


@lru_cache(maxsize=128)
def graded_rule(bucket):
    """Nodes and weights (with the Gaussian density) of ``E[f(s g)]`` for ``s`` in the bucket.

    Bucket 0 is the fixed rule of :func:`legendre_gaussian_rule`. Larger scales add
    breakpoints at ``+-c / 2^bucket`` (``c`` in ``_FEATURE_WIDTHS``): ``f(s g)`` changes
    within ``|g| < 64 / s`` and the fixed rule's nodes would step over those changes.
    """
    if bucket == 0:
        return legendre_gaussian_rule()
    sigma = 2.0**bucket
    extra = [c / sigma for c in _FEATURE_WIDTHS if c / sigma < 0.5]
    breaks = sorted(set(_BREAKS) | set(extra) | {-e for e in extra})
    nodes, weights = [], []
    for a, b in zip(breaks[:-1], breaks[1:], strict=True):
        # the short pieces near 0 hold f's transition and < 3 zeros of h_192: 48 nodes do
        n = _NODES_PER_SEGMENT if b - a >= 0.5 else 48
        x, v = gaussian_segments(np.array([a, b]), n)
        nodes.append(x)
        weights.append(v)
    g, w = np.concatenate(nodes), np.concatenate(weights)
    g.setflags(write=False)
    w.setflags(write=False)
    return g, w


def by_bucket(s, rows_per_chunk):
    """Yield ``(bucket, indices)`` of the scales ``s``, in chunks of at most the given rows."""
    buckets = scale_bucket(s)
    for b in np.unique(buckets):
        idx = np.flatnonzero(buckets == b)
        for start in range(0, idx.size, rows_per_chunk):
            yield int(b), idx[start : start + rows_per_chunk]


def gaussian_pair_expectation(f, h, sx, sy, rho, nodes_per_segment=20):
    """``E[f(u) h(v)]`` with ``u = sx g1``, ``v = sy (rho g1 + sqrt(1-rho^2) g2)``.

    Kink-aware product rule: the outer variable ``g1`` is split at 0 (where ``f(sx g1)`` may have
    a kink or a sharp transition) and the inner ``g2`` is split around ``-rho g1 / sqrt(1-rho^2)``
    (where ``v = 0``), each piece with Gauss-Legendre. ``sx, sy, rho`` are 1-D arrays of pairs.
    """
    sx, sy, rho = (np.asarray(a, dtype=np.float64).ravel() for a in (sx, sy, rho))
    g1, w1 = gaussian_segments(_UNIT_OUTER_BREAKS, nodes_per_segment)
    out = np.empty(sx.shape)
    chunk = max(1, 2**20 // (g1.size * 8 * nodes_per_segment * 2))
    for start in range(0, sx.size, chunk):
        sl = slice(start, start + chunk)
        r = np.clip(rho[sl], -1.0, 1.0)[:, None]
        c = np.sqrt(1.0 - r * r)
        kink = np.divide(-r * g1[None, :], c, out=np.zeros((r.shape[0], g1.size)), where=c > 0)
        pts = np.concatenate(
            [
                np.broadcast_to(_UNIT_OUTER_BREAKS, kink.shape + (_UNIT_OUTER_BREAKS.size,)),
                kink[..., None] + _INNER_OFFSETS,
            ],
            axis=-1,
        )
        breaks = np.sort(np.clip(pts, -_WINDOW, _WINDOW), axis=-1)
        g2, w2 = gaussian_segments(breaks, nodes_per_segment // 2)  # (c, n1, n2)
        v = sy[sl, None, None] * (r[..., None] * g1[None, :, None] + c[..., None] * g2)
        inner = np.einsum("cij,cij->ci", h(v), w2)
        out[sl] = np.einsum("ci,ci,i->c", f(sx[sl, None] * g1[None, :]), inner, w1)
    return out


def scaled_pair_expectation(f, h, sx, sy, rho, outer_nodes=16, inner_nodes=12):
    """``E[f(u) h(v)]``, ``u = s_x g1``, ``v = s_y (rho g1 + c g2)``, ``c = sqrt(1 - rho^2)``,
    resolving features of ``f`` and ``h`` of unit width at any scale.

    The outer variable ``g1`` is split at fixed points and at ``+-w / s_x`` (``f``'s features)
    and ``+-w' hypot(1/s_y, c) / |rho|`` (where the inner integral changes). The inner variable
    is written as ``g2 = k + d`` around the point ``k = -rho g1 / c`` where ``v = 0``, so that
    ``v = s_y c d`` is exact however large ``s_y`` is, and ``d`` is split at ``+-w / (s_y c)``.
    """
    sx, sy, rho = (np.asarray(a, dtype=np.float64).ravel() for a in (sx, sy, rho))
    n1 = (_SCALED_BREAKS.size + 2 * (_WIDTHS.size + _INNER_FEATURES.size) - 1) * outer_nodes
    n2 = (_SCALED_BREAKS.size + _INNER_OFFSETS.size + 2 * _WIDTHS.size - 1) * inner_nodes
    out = np.empty(sx.shape)
    chunk = max(1, 2**20 // (n1 * n2))
    for start in range(0, sx.size, chunk):
        sl = slice(start, start + chunk)
        r = np.clip(rho[sl], -1.0, 1.0)
        c = sine(r)
        g1, w1 = _scaled_outer_rule(sx[sl], sy[sl], r, c, outer_nodes)  # (k, n1)
        v, w2 = _scaled_inner_rule(g1, sy[sl], r, c, inner_nodes)  # (k, n1, n2)
        inner = np.einsum("kij,kij->ki", h(v), w2)
        out[sl] = np.einsum("ki,ki,ki->k", f(sx[sl, None] * g1), inner, w1)
    return out


def _scaled_outer_rule(sx, sy, r, c, n):
    """Nodes and weights of ``g1`` for :func:`scaled_pair_expectation`: shape ``(k, n1)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        fw = _WIDTHS[None, :] / sx[:, None]
        spread = np.hypot(1.0 / sy, c) / np.abs(r)
        hw = _INNER_FEATURES[None, :] * spread[:, None]
    extra = np.nan_to_num(np.concatenate([fw, hw], axis=1), nan=_WINDOW, posinf=_WINDOW)
    extra = np.minimum(extra, _WINDOW)
    fixed = np.broadcast_to(_SCALED_BREAKS, (r.size, _SCALED_BREAKS.size))
    breaks = np.sort(np.concatenate([fixed, extra, -extra], axis=1), axis=1)
    return gaussian_segments(breaks, n)


def _scaled_inner_rule(g1, sy, r, c, n):
    """``v`` at the nodes of ``g2`` for each outer node ``g1``, and their weights (with the
    density): shape ``(k, n1, n2)``."""
    kink = np.divide(-r[:, None] * g1, c[:, None], out=np.zeros_like(g1), where=c[:, None] > 0)
    # Nodes d around ``base`` = the kink where it lies in the window (then v = s_y c d is
    # exact near v = 0), else around 0 (then g2 = d is exact and v loses nothing either).
    base = np.where(np.abs(kink) <= _WINDOW, kink, 0.0)
    shift = base - kink  # v = s_y c (d + shift)
    with np.errstate(divide="ignore", invalid="ignore"):
        dw = _WIDTHS[None, :] / (sy * c)[:, None]
    dw = np.minimum(np.nan_to_num(dw, nan=1.0, posinf=1.0), 1.0)
    fixed = np.broadcast_to(_INNER_OFFSETS, (r.size, _INNER_OFFSETS.size))
    offsets = np.concatenate([fixed, dw, -dw], axis=1)
    pts = np.concatenate(
        [_SCALED_BREAKS - base[..., None], offsets[:, None, :] - shift[..., None]], axis=-1
    )
    lo, hi = (-_WINDOW - base)[..., None], (_WINDOW - base)[..., None]
    d, w2 = legendre_segments(np.sort(np.clip(pts, lo, hi), axis=-1), n)
    g2 = base[..., None] + d
    w2 *= np.exp(-0.5 * g2 * g2) / _SQRT_2PI  # the density at g2 = base + d, not at d
    v = np.where(
        (c > 0)[:, None, None],
        (sy * c)[:, None, None] * (d + shift[..., None]),
        (sy * r)[:, None, None] * g1[..., None],
    )
    return v, w2
