"""Hermite coefficients, second moments and dual kernels of activations without closed forms.

One-variable expectations use the scale-graded rules of :mod:`skntk._quadrature`. A dual
kernel is Mehler's series ``sum_l r_l(s_x) r_l(s_y) rho^l``, truncated where its rigorous
remainder bound is negligible, with a two-variable rule for the (few, nearly parallel) pairs
where the series converges too slowly.
"""

import numpy as np

from . import _hermite, _quadrature
from ._activation_checks import require_finite

# Mehler series: highest degree and relative accuracy target.
MEHLER_MAX_DEGREE = 192
MEHLER_TOL = 1e-11


def radial_coefficients(act, fn, s, degree):
    """``r_l(s) = E[fn(s g) h_l(g)]``, ``l = 0..degree``, by the scale-graded rule."""
    out = np.empty((s.shape[0], degree + 1))
    basis = {}
    for b, idx in _quadrature.by_bucket(s, 2048):
        g, w = _quadrature.graded_rule(b)
        if b not in basis:
            basis[b] = _hermite.hermite_functions(g, degree) * w
        out[idx] = fn(s[idx, None] * g[None, :]) @ basis[b].T
    return require_finite(act, out, "the Hermite coefficients", s * s)


def second_moment(fn, q):
    """``E[fn(u)^2]`` for ``u ~ N(0, q)``, elementwise over ``q``, by the scale-graded rule."""
    q = np.asarray(q, dtype=np.float64)
    s = np.sqrt(np.maximum(q.ravel(), 0.0))
    out = np.empty(s.shape)
    for b, idx in _quadrature.by_bucket(s, 2048):
        g, w = _quadrature.graded_rule(b)
        out[idx] = (fn(s[idx, None] * g[None, :]) ** 2) @ w
    return out.reshape(q.shape)


def numeric_dual(act, fn, coefficients, q_xx, q_yy, q_xy, tol=MEHLER_TOL):
    """``E[fn(u) fn(v)]`` by Mehler's series plus quadrature where the series converges slowly.

    ``coefficients(s, L)`` returns the radial Hermite coefficients of ``fn``. The remainder of the
    series truncated at ``L`` is bounded by ``|rho|^(L+1) sqrt(tail_x tail_y)`` with
    ``tail = E[fn^2] - sum_{l<=L} r_l^2``; pairs whose bound exceeds ``tol * sqrt(E_x E_y)`` are
    recomputed by :func:`_pair_quadrature`.
    """
    q_xx, q_yy, q_xy = (np.asarray(a, dtype=np.float64) for a in (q_xx, q_yy, q_xy))
    shape = np.broadcast_shapes(q_xx.shape, q_yy.shape, q_xy.shape)
    s_all = np.sqrt(np.maximum(np.concatenate([q_xx.ravel(), q_yy.ravel()]), 0.0))
    scales, inverse = np.unique(s_all, return_inverse=True)
    coef = coefficients(scales, MEHLER_MAX_DEGREE)
    energy = require_finite(act, second_moment(fn, scales**2), "E[act(u)^2]", scales**2)
    tails = np.maximum(energy[:, None] - np.cumsum(coef**2, axis=1), 0.0)
    ok = np.all(tails <= tol * tol * np.maximum(energy, 1e-300)[:, None], axis=0)
    degree = int(np.argmax(ok)) if ok.any() else MEHLER_MAX_DEGREE
    coef, tail = coef[:, : degree + 1], tails[:, degree]
    ix, iy = inverse[: q_xx.size].reshape(q_xx.shape), inverse[q_xx.size :].reshape(q_yy.shape)
    sx, sy = scales[ix], scales[iy]
    denom = sx * sy
    rho = np.divide(
        q_xy, denom, out=np.zeros(np.broadcast_shapes(denom.shape, q_xy.shape)), where=denom > 0
    )
    rho = np.broadcast_to(np.clip(rho, -1.0, 1.0), shape)
    out = np.zeros(shape)
    for l in range(degree, -1, -1):  # Horner in rho
        out *= rho
        out += coef[ix, l] * coef[iy, l]
    # square roots first: energies of unbounded activations reach 1e300
    root_tail, root_energy = np.sqrt(tail), np.sqrt(energy)
    bound = np.abs(rho) ** (degree + 1) * (root_tail[ix] * root_tail[iy])
    bad = bound > tol * (root_energy[ix] * root_energy[iy])
    if np.any(bad):
        sxb, syb = np.broadcast_to(sx, shape)[bad], np.broadcast_to(sy, shape)[bad]
        out[bad] = _pair_quadrature(fn, sxb, syb, rho[bad])
    return require_finite(act, out, "the dual kernel", q_xx, q_yy)


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
