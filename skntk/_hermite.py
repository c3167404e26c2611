"""Orthonormal Hermite polynomials and radial Hermite coefficients in closed form.

Conventions: ``h_l = He_l / sqrt(l!)`` are the orthonormal probabilists' Hermite polynomials,
``g ~ N(0, 1)``, and the radial coefficients of a function ``f`` at scale ``s`` are
``r_l(s) = E[f(s g) h_l(g)]``. Here: ``h_l`` at points, the exact coefficients of the
activation families that have them (rectified monomials, Gaussians, polynomials, Hermite
polynomials), and the per-layer coefficients of the Hermite sketch. Coefficients by quadrature
are in :mod:`skntk._numeric_duals`.
"""

import math

import numpy as np
from scipy.special import gammaln


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
        hermite_at_zero(lh - n - 1) * phi0 * np.exp(log_factorial(n) - 0.5 * log_factorial(lh))
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


def gaussian_radial_coefficients(a, b, s, degree):
    """Radial coefficients of ``a exp(b t^2)`` at scales ``s`` (``1 - 2 b s^2 > 0``).

    With ``t = sqrt(2|b|) s``, ``i = (1 -+ t^2)^{-1/2}`` (``-`` for ``b > 0``) and
    ``gamma = t i``: ``r_l(s) = a i (+-gamma^2)^{l/2} (l-1)!! / sqrt(l!)`` for even ``l``, 0 for
    odd. ``i`` and ``gamma <= 1`` are bounded for ``b < 0``, so nothing overflows at any scale.
    """
    out = np.zeros((s.shape[0], degree + 1))
    if b == 0.0:
        out[:, 0] = a
        return out
    t = math.sqrt(2.0 * abs(b)) * s
    if b < 0:
        inv = 1.0 / np.hypot(1.0, t)
        sign = -1.0
    else:
        inv = 1.0 / np.sqrt((1.0 - t) * (1.0 + t))
        sign = 1.0
    gamma = t * inv
    for l in range(0, degree + 1, 2):
        log_c = 0.5 * log_factorial(l) - 0.5 * l * math.log(2.0)
        log_c -= log_factorial(l // 2)
        out[:, l] = sign ** (l // 2) * gamma**l * math.exp(log_c)
    return a * inv[:, None] * out


def polynomial_reduced_coefficients(coef, s, degree):
    """``A_l(s) = r_l(s) / s^l = sum_i coef[l+2i] (l+2i)! / (2^i i! sqrt(l!)) s^(2i)`` of the
    polynomial ``sum_k coef[k] t^k``.

    A polynomial in ``s^2``: exact at ``s = 0``, where ``r_l(s)`` itself would need a division
    by ``s^l``. An overflow (huge scales) is left as inf for the caller to report.
    """
    n = len(coef) - 1
    out = np.zeros((s.shape[0], degree + 1))
    s2 = s * s
    for l in range(min(degree, n) + 1):
        for i in range((n - l) // 2 + 1):
            k = l + 2 * i
            if coef[k] == 0.0:
                continue
            log_c = log_factorial(k) - i * math.log(2.0) - log_factorial(i) - 0.5 * log_factorial(l)
            with np.errstate(over="ignore", invalid="ignore"):
                out[:, l] += coef[k] * math.exp(log_c) * s2**i
    return out


def hermite_reduced_coefficients(n, s, degree):
    """``A_l(s) = r_l(s) / s^l`` of ``h_n``, from the scaling identity
    ``He_n(s x) = sum_k n! / (k! (n-2k)!) s^(n-2k) ((s^2 - 1)/2)^k He_(n-2k)(x)``:
    ``A_(n-2k)(s) = sqrt(n!) / (k! sqrt((n-2k)!)) ((s^2 - 1)/2)^k``, one term per ``l``
    (no cancellation, unlike the monomial expansion of ``h_n``)."""
    out = np.zeros((s.shape[0], degree + 1))
    half = 0.5 * (s - 1.0) * (s + 1.0)
    log_half = np.log(np.abs(half), out=np.full(s.shape, -np.inf), where=half != 0)
    for k in range(n // 2 + 1):
        l = n - 2 * k
        if l > degree:
            continue
        log_c = 0.5 * log_factorial(n) - log_factorial(k)
        log_c -= 0.5 * log_factorial(l)
        with np.errstate(over="ignore"):  # an overflow is reported by the caller
            power = np.exp(log_c + k * log_half) if k > 0 else np.full(s.shape, math.exp(log_c))
        out[:, l] = np.where(half < 0, (-1.0) ** k, 1.0) * power
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
