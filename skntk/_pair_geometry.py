"""Overflow-safe geometry of a Gaussian pair ``(u, v) ~ N(0, [[q_xx, q_xy], [q_xy, q_yy]])``.

The closed-form duals of :mod:`skntk.activations` are written in the quantities computed here
(scales, ``sqrt(q_xx) sqrt(q_yy)``, the correlation ``rho``, its sine and angle, and sums of
non-negative terms in place of differences), so they neither overflow, underflow nor cancel
for variances from 1e-300 to 1e300.

Every function computes in the namespace of its array arguments (NumPy, CuPy or any array-API
library, through :func:`skntk._special.ops`) and returns arrays of that namespace.
"""

import math

import numpy as np

from ._special import is_array_api_input, ops


def as_dtype(m, x, dtype):
    """``x`` (an array of ``m``'s namespace, a NumPy array or a number) as a ``dtype`` array of
    ``m``'s namespace, without a copy where none is needed."""
    if m.is_numpy:
        return np.asarray(x, dtype=dtype)
    if is_array_api_input(x):
        return m.astype(x, dtype)
    return m.asarray(x, dtype=dtype)


def as_float64(m, *arrays):
    """The arguments as float64 arrays of ``m``'s namespace (Python numbers included)."""
    return tuple(as_dtype(m, a, m.float64) for a in arrays)


def pow2_unit_factor(q):
    """``2^(-k/2)`` with ``k`` even and ``q 2^-k`` in ``[0.5, 2)``, in the dtype of ``q``.

    Multiplying by it is exact (a power of two), so products and differences of rescaled
    variances round exactly as the unscaled ones would, without over- or underflowing.
    """
    m = ops(q)
    q = q if hasattr(q, "dtype") else np.asarray(q)
    e = m.exponent(q)
    k = e - (e & 1)
    return m.ldexp(m.ones_like(q), -(k // 2))


def pair_geometry(q_xx, q_yy, q_xy, at_zero=0.0, angle=False):
    """Scales, ``m = sqrt(q_xx) sqrt(q_yy)``, ``rho = cos t``, ``sin t`` (and ``t``) of a pair.

    ``q_xx q_yy - q_xy^2`` is formed in exactly rescaled variables
    (``q_xx 2^-k_x``, ``q_yy 2^-k_y``, ``q_xy 2^-(k_x+k_y)/2``): it neither over- nor
    underflows for any finite variances, and it is exactly 0 for a pair of identical inputs
    (``sin t = 0``), which a correlation computed as ``q_xy / (sqrt(q_xx) sqrt(q_yy))`` would
    miss by ``1e-8``. Where an input has zero variance, ``rho = at_zero`` (``t = 0`` for
    ``at_zero = 1``).

    Returns
    -------
    sx, sy, m, rho, sin : float64 arrays (broadcast where they mix both inputs)
    t : float64 array, only with ``angle=True``
    """
    m = ops(q_xx, q_yy, q_xy)
    q_xx, q_yy, q_xy = as_float64(m, q_xx, q_yy, q_xy)
    q_xx, q_yy = m.maximum(q_xx, 0.0), m.maximum(q_yy, 0.0)
    if _within(m, q_xx) and _within(m, q_yy):
        # no product can over- or underflow: the power-of-two factors would be exact no-ops
        fx = fy = 1.0
        prod, c = q_xx * q_yy, q_xy
    else:
        fx, fy = pow2_unit_factor(q_xx), pow2_unit_factor(q_yy)
        prod = (q_xx * fx * fx) * (q_yy * fy * fy)
        c = q_xy * fx * fy
    mm = m.sqrt(prod)
    S = m.sqrt(m.maximum(prod - c * c, 0.0))
    pos = mm > 0
    denom = m.where(pos, mm, 1.0)
    rho = m.clip(m.where(pos, c / denom, at_zero), -1.0, 1.0)
    sin = m.minimum(m.where(pos, S / denom, math.sqrt(1.0 - at_zero**2)), 1.0)
    mxy = mm / fx / fy
    out = (m.sqrt(q_xx), m.sqrt(q_yy), mxy, rho, sin)
    return out + (m.arctan2(S, c),) if angle else out


def _within(m, q, low=2.0**-500, high=2.0**500):
    """Whether the nonzero variances lie where products of two (and their squares) stay
    normal floats."""
    a = m.abs(q)
    return bool(m.all((a == 0) | ((a >= low) & (a <= high))))


def sine(rho):
    """``sqrt(1 - rho^2)`` as ``sqrt((1 - |rho|)(1 + |rho|))``: exact near ``|rho| = 1``."""
    m = ops(rho)
    a = m.abs(rho)
    return m.sqrt(m.maximum((1.0 - a) * (1.0 + a), 0.0))


def cosine_gap(rho, sin, nu_x, gamma_x, nu_y):
    """``w = sqrt(1 - rho^2 gamma_x^2 gamma_y^2)`` for ``gamma^2 + nu^2 = 1``, without cancellation.

    ``1 - rho^2 g_x^2 g_y^2 = sin^2 + rho^2 (nu_x^2 + nu_y^2 g_x^2)`` (``sin^2 = 1 - rho^2``):
    a sum of non-negative terms, evaluated with ``hypot`` so that tiny ``nu`` (large variances)
    neither underflow nor lose digits. It is the ``sqrt(1 - r^2)`` of the arcsine-type closed
    forms.
    """
    m = ops(rho, sin, nu_x, gamma_x, nu_y)
    return m.hypot(sin, m.abs(rho) * m.hypot(nu_x, nu_y * gamma_x))


def half_distance(q_xx, q_yy, q_xy, sign):
    """``(q_xx + q_yy)/4 + sign q_xy / 2`` (``>= 0``), without overflow for finite inputs."""
    m = ops(q_xx, q_yy, q_xy)
    q_xx, q_yy, q_xy = as_float64(m, q_xx, q_yy, q_xy)
    return m.maximum(0.25 * q_xx + 0.25 * q_yy + (0.5 * sign) * q_xy, 0.0)
