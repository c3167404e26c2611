"""Numerical helpers for radial Hermite coefficients and Gaussian expectations.

Conventions: ``h_l = He_l / sqrt(l!)`` are the orthonormal probabilists' Hermite polynomials,
``g ~ N(0, 1)``, and the radial coefficients of a function ``f`` at scale ``s`` are
``r_l(s) = E[f(s g) h_l(g)]``.
"""

import math
from functools import lru_cache

import numpy as np
from scipy.special import gammaln, roots_hermitenorm, roots_legendre

# Integration window in g: the Gaussian weight beyond |g| = 14 is below 1e-43.
_WINDOW = 14.0
# Segment breakpoints: the split at 0 resolves kinks of ReLU-like functions (f(s g) has its
# kink at g = 0 for every s), and Gauss-Legendre nodes cluster at segment ends, which resolves
# the sharp transitions of tanh-like functions at large scales.
_BREAKS = (-_WINDOW, -4.0, -1.0, 0.0, 1.0, 4.0, _WINDOW)
_NODES_PER_SEGMENT = 160


@lru_cache(maxsize=4)
def legendre_gaussian_rule(nodes_per_segment=_NODES_PER_SEGMENT):
    """Nodes ``g`` and weights ``w`` with ``sum w f(g) ~ E[f(g)]`` for ``g ~ N(0, 1)``.

    Composite Gauss-Legendre on ``[-14, 14]`` split at 0, +-1 and +-4; the Gaussian density is
    folded into the weights.
    """
    x, w = roots_legendre(nodes_per_segment)
    nodes, weights = [], []
    for a, b in zip(_BREAKS[:-1], _BREAKS[1:], strict=True):
        nodes.append(0.5 * (b - a) * x + 0.5 * (a + b))
        weights.append(0.5 * (b - a) * w)
    g = np.concatenate(nodes)
    w = np.concatenate(weights) * np.exp(-0.5 * g * g) / math.sqrt(2.0 * math.pi)
    return g, w


def hermite_functions(g, degree):
    """Orthonormal Hermite polynomials ``h_0..h_degree`` at ``g``: shape ``(degree+1, len(g))``.

    Uses the stable three-term recurrence ``h_{l+1} = (g h_l - sqrt(l) h_{l-1}) / sqrt(l+1)``.
    """
    g = np.asarray(g, dtype=np.float64)
    out = np.empty((degree + 1,) + g.shape)
    out[0] = 1.0
    if degree >= 1:
        out[1] = g
    for l in range(1, degree):
        out[l + 1] = (g * out[l] - math.sqrt(l) * out[l - 1]) / math.sqrt(l + 1)
    return out


def numeric_radial_coefficients(fn, s, degree):
    """``r_l(s) = E[fn(s g) h_l(g)]`` for ``l = 0..degree`` by composite Gauss-Legendre.

    Parameters
    ----------
    fn : callable
        Vectorized scalar function.
    s : array-like of shape (n,)
        Non-negative scales.
    degree : int
        Highest coefficient index.

    Returns
    -------
    ndarray of shape (n, degree + 1)
    """
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    g, w = legendre_gaussian_rule()
    basis = hermite_functions(g, degree) * w  # (degree+1, n_nodes)
    values = fn(s[:, None] * g[None, :])  # (n, n_nodes)
    return values @ basis.T


@lru_cache(maxsize=8)
def gauss_hermite_rule(n_nodes):
    """Probabilists' Gauss-Hermite rule normalized to a probability measure."""
    x, w = roots_hermitenorm(n_nodes)
    return x, w / w.sum()


def hermite_at_zero(k):
    """``He_k(0)`` for an integer array ``k``: 0 for odd k, ``(-1)^(k/2) (k-1)!!`` for even k."""
    k = np.asarray(k)
    out = np.zeros(k.shape)
    even = k % 2 == 0
    ke = k[even]
    # (k-1)!! = k! / (2^(k/2) (k/2)!)
    log_dfact = gammaln(ke + 1.0) - 0.5 * ke * math.log(2.0) - gammaln(ke / 2 + 1.0)
    out[even] = np.where((ke // 2) % 2 == 0, 1.0, -1.0) * np.exp(log_dfact)
    return out


def log_factorial(k):
    """``log(k!)`` elementwise."""
    return gammaln(np.asarray(k, dtype=np.float64) + 1.0)


def rectified_monomial_unit_coefficients(n, degree):
    """``r_l(1) = E[g^n 1[g >= 0] h_l(g)]`` for ``l = 0..degree`` (exact formulas).

    For ``l > n`` repeated integration by parts gives ``n! He_{l-n-1}(0) phi(0) / sqrt(l!)``;
    for ``l <= n`` the half-line moments ``M_k = E[g^k 1[g>=0]]`` are combined with the
    monomial coefficients of ``He_l`` (few terms, no cancellation at these small l).
    """
    l = np.arange(degree + 1)
    out = np.zeros(degree + 1)
    phi0 = 1.0 / math.sqrt(2.0 * math.pi)
    high = l > n
    lh = l[high]
    out[high] = (
        hermite_at_zero(lh - n - 1)
        * phi0
        * np.exp(log_factorial(n) - 0.5 * log_factorial(lh))
    )
    # half-line moments M_k = E[g^k 1[g >= 0]] = 2^(k/2) Gamma((k+1)/2) / (2 sqrt(pi))
    for li in l[~high]:
        coef = np.polynomial.hermite_e.herme2poly([0] * li + [1])
        total = 0.0
        for m, c in enumerate(coef):
            if c == 0:
                continue
            k = n + m
            moment = 2.0 ** (k / 2) * math.gamma((k + 1) / 2) / (2.0 * math.sqrt(math.pi))
            total += c * moment
        out[li] = total / math.sqrt(math.factorial(li))
    return out


def _segment_rule(breaks, nodes_per_segment):
    """Gauss-Legendre nodes/weights (times the Gaussian density) on consecutive segments.

    ``breaks`` has shape (..., k) sorted along the last axis; returns arrays of shape
    (..., (k-1) * nodes_per_segment).
    """
    x, w = roots_legendre(nodes_per_segment)
    a, b = breaks[..., :-1, None], breaks[..., 1:, None]
    half = 0.5 * (b - a)
    nodes = half * x + 0.5 * (a + b)
    weights = half * w * np.exp(-0.5 * nodes * nodes) / math.sqrt(2.0 * math.pi)
    shape = breaks.shape[:-1] + (-1,)
    return nodes.reshape(shape), weights.reshape(shape)


_OUTER_BREAKS = np.array([-_WINDOW, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, _WINDOW])
_INNER_OFFSETS = np.array([-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0])


def gaussian_pair_expectation(f, h, sx, sy, rho, nodes_per_segment=20):
    """``E[f(u) h(v)]`` with ``u = sx g1``, ``v = sy (rho g1 + sqrt(1-rho^2) g2)``.

    Kink-aware product rule: the outer variable ``g1`` is split at 0 (where ``f(sx g1)`` may have
    a kink or a sharp transition) and the inner ``g2`` is split around ``-rho g1 / sqrt(1-rho^2)``
    (where ``v = 0``), each piece with Gauss-Legendre. ``sx, sy, rho`` are 1-D arrays of pairs.
    """
    sx, sy, rho = (np.asarray(a, dtype=np.float64).ravel() for a in (sx, sy, rho))
    g1, w1 = _segment_rule(_OUTER_BREAKS, nodes_per_segment)
    out = np.empty(sx.shape)
    chunk = max(1, 2**20 // (g1.size * 8 * nodes_per_segment * 2))
    for start in range(0, sx.size, chunk):
        sl = slice(start, start + chunk)
        r = np.clip(rho[sl], -1.0, 1.0)[:, None]
        c = np.sqrt(1.0 - r * r)
        kink = np.divide(-r * g1[None, :], c, out=np.zeros((r.shape[0], g1.size)), where=c > 0)
        pts = np.concatenate(
            [
                np.broadcast_to(_OUTER_BREAKS, kink.shape + (_OUTER_BREAKS.size,)),
                kink[..., None] + _INNER_OFFSETS,
            ],
            axis=-1,
        )
        breaks = np.sort(np.clip(pts, -_WINDOW, _WINDOW), axis=-1)
        g2, w2 = _segment_rule(breaks, nodes_per_segment // 2)  # (c, n1, n2)
        v = sy[sl, None, None] * (r[..., None] * g1[None, :, None] + c[..., None] * g2)
        inner = np.einsum("cij,cij->ci", h(v), w2)
        out[sl] = np.einsum("ci,ci,i->c", f(sx[sl, None] * g1[None, :]), inner, w1)
    return out


def hermite_layer_coefficients(act, q, degree, want_derivative):
    """Per-row Hermite coefficients of one layer, with the truncated tail folded in.

    ``r_l(s)`` (and ``r'_l(s)``) at ``s = sqrt(q)`` for ``l = 0..degree``; the energy of the
    degrees beyond is added to the top even and odd coefficients (:func:`_fold_tail`), so
    ``sum_l r_l^2 = E[act(u)^2]`` exactly: the truncated kernel's diagonal is exact, so the
    sketch's squared feature norms are unbiased for it (a PolySketch does not preserve norms).

    Parameters
    ----------
    act : Activation
    q : ndarray of shape (n,)
        Exact pre-activation variances.
    degree : int
    want_derivative : bool

    Returns
    -------
    coefficients : list of ndarray of shape (n, degree + 1)
        ``[r]`` or ``[r, r']``.
    second_moment : ndarray of shape (n,)
        ``E[act(u)^2]``, the next layer's variance before its Dense layer.
    """
    s = np.sqrt(np.maximum(q, 0.0))
    extra = 4 * degree + 24
    e_act, e_der = act.duals(q, q, q.copy(), want_derivative)
    out = [_fold_tail(act.hermite_coefficients(s, extra), np.asarray(e_act), degree)]
    if want_derivative:
        rd = act.derivative_hermite_coefficients(s, extra)
        out.append(_fold_tail(rd, np.asarray(e_der), degree))
    return out, np.asarray(e_act)


def _fold_tail(r, energy, p):
    """Keep degrees ``0..p`` of ``r`` and add the energy of the rest (by parity) to the top
    even and odd degrees, preserving their signs."""
    head = r[:, : p + 1].copy()
    tail = r[:, p + 1 :]
    parity = np.arange(p + 1, r.shape[1]) % 2
    known = np.sum(tail**2, axis=1)
    residual = np.maximum(energy - np.sum(r**2, axis=1), 0.0)
    for par in (0, 1):
        top = p if p % 2 == par else p - 1
        if top < 0:
            continue
        t = np.sum(tail[:, parity == par] ** 2, axis=1)
        t = t + residual * np.divide(t, known, out=np.full_like(t, 0.5), where=known > 0)
        sign = np.where(head[:, top] < 0, -1.0, 1.0)
        head[:, top] = sign * np.sqrt(head[:, top] ** 2 + t)
    return head
