"""Activation functions and their neural-kernel maps.

Every activation knows, for a pre-activation ``u ~ N(0, q)`` with scale ``s = sqrt(q)``:

* its pointwise value and derivative (for random features and finite-width networks);
* its radial Hermite coefficients ``r_l(s) = E[act(s g) h_l(g)]``, ``l = 0..degree``, with
  ``h_l = He_l / sqrt(l!)`` and ``g ~ N(0, 1)``, vectorized over scales;
* the coefficients of its derivative, ``r'_l(s) = sqrt(l+1) r_{l+1}(s) / s`` (Stein's lemma);
* its dual kernels ``E[act(u) act(v)]`` and ``E[act'(u) act'(v)]`` for
  ``(u, v) ~ N(0, [[q_xx, q_xy], [q_xy, q_yy]])``, in closed form where one is known and by
  two-dimensional Gauss-Hermite quadrature otherwise.

By Mehler's formula, with ``rho = q_xy / sqrt(q_xx q_yy)``,
``E[act(u) act(v)] = sum_l r_l(s_x) r_l(s_y) rho^l``; the sketches rely on it.

Activations are plain value objects: equal (and hashing equal) when their class and parameters
are equal, with a readable ``repr``, so they work as scikit-learn hyper-parameters.

Validation and numerical range
------------------------------
Parameters are checked when an activation is built: they must be finite real numbers, inside
the domain where the dual kernel is positive semi-definite and finite (for example
``NormalizedGaussian(gamma)`` needs ``gamma >= 0``), and amplitudes and frequencies must have a
finite float64 square (``|a| <= 1e150``). A Python callable is probed once on a grid of
``[-10, 10]``. The duals are written in terms of the correlation ``rho`` and of bounded
per-input factors (``sqrt(q_xx) sqrt(q_yy)`` instead of ``sqrt(q_xx q_yy)``, ``1 / sqrt(1 + 2q)``
instead of ``1 + 2q``), so they stay finite and accurate for variances from 1e-300 to 1e300.
Where the true value does not fit in a float64 (``Exp`` at large variance, high powers), they
raise a ``ValueError`` that gives the limit instead of returning ``inf`` or ``nan``.
"""

import math
import numbers
from functools import lru_cache

import numpy as np
from scipy.special import erf, expit, ndtr, roots_legendre, xlogy

from . import _hermite
from ._value_object import ValueObject

__all__ = [
    "Activation",
    "ABReLU",
    "ReLU",
    "LeakyReLU",
    "Abs",
    "Erf",
    "GeLU",
    "Sin",
    "Cos",
    "Rbf",
    "Gabor",
    "Exp",
    "Gaussian",
    "NormalizedGaussian",
    "Monomial",
    "RectifiedMonomial",
    "Polynomial",
    "Hermite",
    "Sign",
    "Elu",
    "Tanh",
    "Sigmoid",
    "Softplus",
    "Silu",
    "CallableActivation",
    "get_activation",
    "ACTIVATIONS",
]

_TWO_PI = 2.0 * math.pi
_SQRT_2PI = math.sqrt(_TWO_PI)
# Mehler series for duals without a closed form: highest degree and relative accuracy target.
_MEHLER_MAX_DEGREE = 192
_MEHLER_TOL = 1e-11
# Below this scale derivative coefficients are integrated directly instead of via Stein.
_SMALL_SCALE = 1e-3
# Largest amplitude or frequency parameter: the duals square it, and the square must be a
# finite float64.
_MAX_PARAM = 1e150
# Largest power of the polynomial family (bounds the cost of the exact Mehler sums) and of the
# rectified monomials (their unit Hermite coefficients lose accuracy beyond, ~1e-11 at 40).
_MAX_POLY_DEGREE = 200
_MAX_RECTIFIED_DEGREE = 32
_LOG_FLOAT_MAX = math.log(np.finfo(np.float64).max)
# Widths (in units of the activation's argument) of the features a numeric rule must resolve
# at large scale: the transitions of tanh-like functions and the bumps of their derivatives
# live within a few units of 0, i.e. within |g| < 64 / s in the standard variable g.
_FEATURE_WIDTHS = (1.0, 4.0, 16.0, 64.0)
# Probe grid of callables: "a few hundred points in [-10, 10]".
_PROBE_GRID = np.linspace(-10.0, 10.0, 401)


# ----------------------------------------------------------------------------------------------
# Parameter validation
# ----------------------------------------------------------------------------------------------


def _real_param(owner, name, value, *, minimum=None, max_abs=_MAX_PARAM, reason=""):
    """``float(value)`` after checking it is a finite real in the allowed range.

    ``owner`` is the class name used in messages; ``reason`` explains a lower bound.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        arr = np.asarray(value) if isinstance(value, np.ndarray) else None
        if arr is None or arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{owner}: {name} must be a real number; got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {name} must be a finite number; got {v!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum:g}{reason}; got {v!r}")
    if abs(v) > max_abs:
        raise ValueError(
            f"{owner}: {name} must be at most {max_abs:g} in magnitude (the kernel squares "
            f"it, and the square must be a finite float64); got {v!r}"
        )
    return v


def _degree_param(owner, value, maximum, reason):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner}: degree must be a non-negative integer, got {value!r}")
    if value > maximum:
        raise ValueError(
            f"{owner}: degree must be a non-negative integer <= {maximum} ({reason}), got {value!r}"
        )
    return int(value)


def _overflow_error(act, what, *variances):
    """The ``ValueError`` for a result that does not fit in a float64."""
    qmax = max((float(np.max(v)) for v in variances if np.size(v)), default=0.0)
    cause = "overflows float64"
    if isinstance(act, CallableActivation):
        cause = "is not finite (it overflows float64, or the callable returns NaN or inf there)"
    return ValueError(
        f"{act!r}: {what} {cause} at pre-activation variance {qmax:.3g}; scale the inputs "
        "down, or reduce weight_std, bias_std or depth"
    )


def _require_finite(act, out, what, *variances):
    """Return ``out``, or raise :func:`_overflow_error` if it holds an inf or a nan."""
    if not np.all(np.isfinite(out)):
        raise _overflow_error(act, what, *variances)
    return out


class Activation(ValueObject):
    """Base class of activations.

    Subclasses set ``name`` and ``_param_names``, implement :meth:`value` and
    :meth:`derivative`, and override :meth:`hermite_coefficients`, :meth:`dual` and
    :meth:`dual_derivative` where closed forms exist. The defaults compute Hermite coefficients
    by composite Gauss-Legendre quadrature (split at 0, so kinks at the origin are resolved, and
    at ``+-c / s`` for ``c = 1, 4, 16, 64`` at large scales ``s``, so the transitions of
    saturating functions are too) and dual kernels by Mehler's series or a 2-D rule.

    Attributes
    ----------
    name : str
        Registry name, as used by :func:`get_activation`.
    homogeneity : float or None
        ``k`` when ``act(c t) = c^k act(t)`` for ``c > 0``, else ``None``.
    has_closed_form_dual : bool
        Whether :meth:`dual` and :meth:`dual_derivative` are exact closed forms.

    Examples
    --------
    >>> from skntk.activations import get_activation
    >>> act = get_activation("relu")
    >>> float(act.dual(1.0, 1.0, 1.0))  # E[relu(u)^2] = q / 2
    0.5
    """

    name = "activation"
    _param_names = ()
    homogeneity = None
    has_closed_form_dual = False
    has_pointwise_form = True
    # Whether ``derivative`` is continuous. A truncated Hermite series of a discontinuous one
    # (ReLU's step) is biased near rho = 1, so sketches estimate it by Monte Carlo instead.
    continuous_derivative = True

    # -- pointwise ---------------------------------------------------------------------------
    def value(self, t):
        """Pointwise value ``act(t)``."""
        raise NotImplementedError

    def derivative(self, t):
        """Pointwise derivative ``act'(t)``."""
        raise NotImplementedError

    def __call__(self, t):
        return self.value(t)

    # -- Hermite coefficients ----------------------------------------------------------------
    def hermite_coefficients(self, s, degree):
        """Radial Hermite coefficients ``r_l(s) = E[act(s g) h_l(g)]``, ``l = 0..degree``.

        Parameters
        ----------
        s : array-like of shape (n,)
            Non-negative scales (pre-activation standard deviations).
        degree : int
            Highest index ``l``.

        Returns
        -------
        ndarray of shape (n, degree + 1), float64
        """
        s = _as_scales(s)
        return _radial_coefficients(self, self.value, s, degree)

    def derivative_hermite_coefficients(self, s, degree):
        """Coefficients of the derivative, ``r'_l(s) = E[act'(s g) h_l(g)]``.

        Computed from the activation's own coefficients with Stein's lemma,
        ``r'_l(s) = sqrt(l+1) r_{l+1}(s) / s``; at ``s = 0`` the limit ``act'(0) [l = 0]``.

        Returns
        -------
        ndarray of shape (n, degree + 1), float64
        """
        s = _as_scales(s)
        r = self.hermite_coefficients(s, degree + 1)
        scale = np.sqrt(np.arange(1, degree + 2, dtype=np.float64))
        out = np.zeros((s.shape[0], degree + 1))
        pos = s > 0
        out[pos] = r[pos, 1:] * scale / s[pos, None]
        # Stein's division by s loses ~1e-16/s; at small scales integrate act' directly
        small = pos & (s < _SMALL_SCALE)
        if np.any(small) and self.has_pointwise_form:
            out[small] = _radial_coefficients(self, self.derivative, s[small], degree)
        if np.any(~pos):
            out[~pos, 0] = float(self._derivative_at_zero())
        return out

    def _derivative_at_zero(self):
        return self.derivative(np.zeros(1))[0]

    # -- dual kernels ------------------------------------------------------------------------
    def dual(self, q_xx, q_yy, q_xy):
        """``E[act(u) act(v)]`` for ``(u, v) ~ N(0, [[q_xx, q_xy], [q_xy, q_yy]])`` (broadcast).

        Without a closed form: Mehler's series ``sum_l r_l(s_x) r_l(s_y) rho^l`` truncated where
        its rigorous remainder bound ``|rho|^(L+1) sqrt(tail_x tail_y)`` is negligible, and a
        kink-aware 2-D quadrature for the (few, nearly parallel) pairs where it is not.
        """
        return _numeric_dual(self, self.value, self.hermite_coefficients, q_xx, q_yy, q_xy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        """``E[act'(u) act'(v)]`` for the same Gaussian pair (broadcast)."""
        return _numeric_dual(
            self, self.derivative, self.derivative_hermite_coefficients, q_xx, q_yy, q_xy
        )

    def duals(self, q_xx, q_yy, q_xy, with_derivative=True):
        """Both dual kernels at once: ``(E[act(u) act(v)], E[act'(u) act'(v)] or None)``.

        Subclasses fuse the two when they share work; ``q_xy`` may be overwritten in place.
        """
        deriv = self.dual_derivative(q_xx, q_yy, q_xy) if with_derivative else None
        return self.dual(q_xx, q_yy, q_xy), deriv

    def second_moment(self, q):
        """``E[act(u)^2]`` for ``u ~ N(0, q)``: the variance recursion of the features."""
        q = np.asarray(q, dtype=np.float64)
        if self.has_closed_form_dual:
            return self.dual(q, q, q)
        return _require_finite(self, _second_moment(self.value, q), "E[act(u)^2]", q)


def _as_scales(s):
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    if s.ndim != 1:
        raise ValueError(f"scales must be a 1-D array, got shape {s.shape}")
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ValueError("scales must be finite and non-negative")
    return s


def _pow2_scale(q):
    """``2^(-k/2)`` with ``k`` even and ``q 2^-k`` in ``[0.5, 2)``, in the dtype of ``q``.

    Multiplying by it is exact (a power of two), so products and differences of rescaled
    variances round exactly as the unscaled ones would, without over- or underflowing.
    """
    q = np.asarray(q)
    _, e = np.frexp(q)
    k = e - (e & 1)
    return np.ldexp(np.ones((), dtype=q.dtype), -(k // 2))


def _geometry(q_xx, q_yy, q_xy, at_zero=0.0, angle=False):
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
    q_xx, q_yy, q_xy = (np.asarray(a, dtype=np.float64) for a in (q_xx, q_yy, q_xy))
    q_xx, q_yy = np.maximum(q_xx, 0.0), np.maximum(q_yy, 0.0)
    fx, fy = _pow2_scale(q_xx), _pow2_scale(q_yy)
    prod = (q_xx * fx * fx) * (q_yy * fy * fy)
    c = q_xy * fx * fy
    mm = np.sqrt(prod)
    S = np.sqrt(np.maximum(prod - c * c, 0.0))
    shape = np.broadcast_shapes(mm.shape, c.shape)
    pos = mm > 0
    rho = np.divide(c, mm, out=np.full(shape, at_zero), where=pos)
    np.clip(rho, -1.0, 1.0, out=rho)
    sin = np.divide(S, mm, out=np.full(shape, math.sqrt(1.0 - at_zero**2)), where=pos)
    np.minimum(sin, 1.0, out=sin)
    m = mm / fx / fy
    out = (np.sqrt(q_xx), np.sqrt(q_yy), m, rho, sin)
    return out + (np.arctan2(S, c),) if angle else out


def _sine(rho):
    """``sqrt(1 - rho^2)`` as ``sqrt((1 - |rho|)(1 + |rho|))``: exact near ``|rho| = 1``."""
    a = np.abs(rho)
    return np.sqrt(np.maximum((1.0 - a) * (1.0 + a), 0.0))


def _cosine_gap(rho, sin, nu_x, gamma_x, nu_y):
    """``w = sqrt(1 - rho^2 gamma_x^2 gamma_y^2)`` for ``gamma^2 + nu^2 = 1``, without cancellation.

    ``1 - rho^2 g_x^2 g_y^2 = sin^2 + rho^2 (nu_x^2 + nu_y^2 g_x^2)`` (``sin^2 = 1 - rho^2``):
    a sum of non-negative terms, evaluated with ``hypot`` so that tiny ``nu`` (large variances)
    neither underflow nor lose digits. It is the ``sqrt(1 - r^2)`` of the arcsine-type closed
    forms.
    """
    return np.hypot(sin, np.abs(rho) * np.hypot(nu_x, nu_y * gamma_x))


# ----------------------------------------------------------------------------------------------
# Numeric engine: quadrature rules that follow the scale
# ----------------------------------------------------------------------------------------------


def _scale_bucket(s):
    """0 for ``s < 2``, else ``floor(log2 s)``: scales sharing a bucket share a rule."""
    _, e = np.frexp(np.asarray(s, dtype=np.float64))
    return np.where(np.asarray(s) >= 2.0, e - 1, 0)


@lru_cache(maxsize=128)
def _graded_rule(bucket):
    """Nodes and weights (with the Gaussian density) of ``E[f(s g)]`` for ``s`` in the bucket.

    Bucket 0 is the fixed rule of :func:`skntk._hermite.legendre_gaussian_rule`. Larger scales
    add breakpoints at ``+-c / 2^bucket`` (``c`` in ``_FEATURE_WIDTHS``): ``f(s g)`` changes
    within ``|g| < 64 / s`` and the fixed rule's nodes would step over those changes.
    """
    if bucket == 0:
        return _hermite.legendre_gaussian_rule()
    sigma = 2.0**bucket
    extra = [c / sigma for c in _FEATURE_WIDTHS if c / sigma < 0.5]
    breaks = sorted(set(_hermite._BREAKS) | set(extra) | {-e for e in extra})
    nodes, weights = [], []
    for a, b in zip(breaks[:-1], breaks[1:], strict=True):
        # the short pieces near 0 hold f's transition and < 3 zeros of h_192: 48 nodes do
        n = _hermite._NODES_PER_SEGMENT if b - a >= 0.5 else 48
        x, v = _hermite._segment_rule(np.array([a, b]), n)
        nodes.append(x)
        weights.append(v)
    g, w = np.concatenate(nodes), np.concatenate(weights)
    g.setflags(write=False)
    w.setflags(write=False)
    return g, w


def _by_bucket(s, rows_per_chunk):
    """Yield ``(bucket, indices)`` of the scales ``s``, in chunks of at most the given rows."""
    buckets = _scale_bucket(s)
    for b in np.unique(buckets):
        idx = np.flatnonzero(buckets == b)
        for start in range(0, idx.size, rows_per_chunk):
            yield int(b), idx[start : start + rows_per_chunk]


def _radial_coefficients(act, fn, s, degree):
    """``r_l(s) = E[fn(s g) h_l(g)]``, ``l = 0..degree``, by the scale-graded rule."""
    out = np.empty((s.shape[0], degree + 1))
    basis = {}
    for b, idx in _by_bucket(s, 2048):
        g, w = _graded_rule(b)
        if b not in basis:
            basis[b] = _hermite.hermite_functions(g, degree) * w
        out[idx] = fn(s[idx, None] * g[None, :]) @ basis[b].T
    return _require_finite(act, out, "the Hermite coefficients", s * s)


def _second_moment(fn, q):
    """``E[fn(u)^2]`` for ``u ~ N(0, q)``, elementwise over ``q``, by the scale-graded rule."""
    q = np.asarray(q, dtype=np.float64)
    s = np.sqrt(np.maximum(q.ravel(), 0.0))
    out = np.empty(s.shape)
    for b, idx in _by_bucket(s, 2048):
        g, w = _graded_rule(b)
        out[idx] = (fn(s[idx, None] * g[None, :]) ** 2) @ w
    return out.reshape(q.shape)


def _numeric_dual(act, fn, coefficients, q_xx, q_yy, q_xy, tol=_MEHLER_TOL):
    """``E[fn(u) fn(v)]`` by Mehler's series plus quadrature where the series converges slowly.

    ``coefficients(s, L)`` returns the radial Hermite coefficients of ``fn``. The remainder of the
    series truncated at ``L`` is bounded by ``|rho|^(L+1) sqrt(tail_x tail_y)`` with
    ``tail = E[fn^2] - sum_{l<=L} r_l^2``; pairs whose bound exceeds ``tol * sqrt(E_x E_y)`` are
    recomputed with :func:`skntk._hermite.gaussian_pair_expectation` (unit-order scales) or
    :func:`_scaled_pair_expectation` (a scale of 2 or more).
    """
    q_xx, q_yy, q_xy = (np.asarray(a, dtype=np.float64) for a in (q_xx, q_yy, q_xy))
    shape = np.broadcast_shapes(q_xx.shape, q_yy.shape, q_xy.shape)
    s_all = np.sqrt(np.maximum(np.concatenate([q_xx.ravel(), q_yy.ravel()]), 0.0))
    scales, inverse = np.unique(s_all, return_inverse=True)
    coef = coefficients(scales, _MEHLER_MAX_DEGREE)
    energy = _require_finite(act, _second_moment(fn, scales**2), "E[act(u)^2]", scales**2)
    tails = np.maximum(energy[:, None] - np.cumsum(coef**2, axis=1), 0.0)
    ok = np.all(tails <= tol * tol * np.maximum(energy, 1e-300)[:, None], axis=0)
    degree = int(np.argmax(ok)) if ok.any() else _MEHLER_MAX_DEGREE
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
        rhob = rho[bad]
        large = np.maximum(sxb, syb) >= 2.0
        vals = np.empty(sxb.shape)
        if np.any(~large):
            vals[~large] = _hermite.gaussian_pair_expectation(
                fn, fn, sxb[~large], syb[~large], rhob[~large]
            )
        if np.any(large):
            vals[large] = _scaled_pair_expectation(fn, fn, sxb[large], syb[large], rhob[large])
        out[bad] = vals
    return _require_finite(act, out, "the dual kernel", q_xx, q_yy)


# Fixed breakpoints of both variables: the Gaussian tails are split finely enough (+-4, 6, 9)
# for 12-16 Legendre nodes per piece to integrate them to ~1e-16.
_OUTER_BREAKS = np.array([-14.0, -9.0, -6.0, -4.0, -2.5, -1.0, 0.0, 1.0, 2.5, 4.0, 6.0, 9.0, 14.0])
_INNER_OFFSETS = np.array([-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0])
# In g1, the inner integral E_g2[h(v)] changes over ``hypot(1 / s_y, c) / |rho|`` around 0.
_INNER_FEATURES = np.array([0.5, 2.0, 8.0, 32.0])


@lru_cache(maxsize=4)
def _legendre_roots(n):
    return roots_legendre(n)


def _legendre_segments(breaks, n):
    """Gauss-Legendre nodes and plain weights on consecutive segments of ``breaks`` (sorted
    along the last axis): arrays of shape ``breaks.shape[:-1] + ((k - 1) * n,)``."""
    x, w = _legendre_roots(n)
    a, b = breaks[..., :-1, None], breaks[..., 1:, None]
    half = 0.5 * (b - a)
    shape = breaks.shape[:-1] + (-1,)
    return (half * x + (0.5 * (a + b))).reshape(shape), (half * w).reshape(shape)


def _scaled_pair_expectation(f, h, sx, sy, rho, outer_nodes=16, inner_nodes=12):
    """``E[f(u) h(v)]``, ``u = s_x g1``, ``v = s_y (rho g1 + c g2)``, ``c = sqrt(1 - rho^2)``,
    resolving features of ``f`` and ``h`` of unit width at any scale.

    The outer variable ``g1`` is split at the fixed points of
    :func:`skntk._hermite.gaussian_pair_expectation` and at ``+-w / s_x`` (``f``'s features)
    and ``+-w' hypot(1/s_y, c) / |rho|`` (where the inner integral changes). The inner variable
    is written as ``g2 = k + d`` around the point ``k = -rho g1 / c`` where ``v = 0``, so that
    ``v = s_y c d`` is exact however large ``s_y`` is, and ``d`` is split at ``+-w / (s_y c)``.
    """
    sx, sy, rho = (np.asarray(a, dtype=np.float64).ravel() for a in (sx, sy, rho))
    win = _hermite._WINDOW
    widths = np.asarray(_FEATURE_WIDTHS)
    n1 = (_OUTER_BREAKS.size + 2 * (widths.size + _INNER_FEATURES.size) - 1) * outer_nodes
    n2 = (_OUTER_BREAKS.size + _INNER_OFFSETS.size + 2 * widths.size - 1) * inner_nodes
    out = np.empty(sx.shape)
    chunk = max(1, 2**20 // (n1 * n2))
    for start in range(0, sx.size, chunk):
        sl = slice(start, start + chunk)
        r = np.clip(rho[sl], -1.0, 1.0)
        c = _sine(r)
        k = r.size
        with np.errstate(divide="ignore", invalid="ignore"):
            fw = widths[None, :] / sx[sl, None]
            spread = np.hypot(1.0 / sy[sl], c) / np.abs(r)
            hw = _INNER_FEATURES[None, :] * spread[:, None]
            dw = widths[None, :] / (sy[sl] * c)[:, None]
        extra = np.nan_to_num(np.concatenate([fw, hw], axis=1), nan=win, posinf=win)
        extra = np.minimum(extra, win)
        breaks = np.sort(
            np.concatenate(
                [np.broadcast_to(_OUTER_BREAKS, (k, _OUTER_BREAKS.size)), extra, -extra], axis=1
            ),
            axis=1,
        )
        g1, w1 = _legendre_segments(breaks, outer_nodes)  # (k, n1)
        w1 = w1 * np.exp(-0.5 * g1 * g1) / _SQRT_2PI
        kink = np.divide(-r[:, None] * g1, c[:, None], out=np.zeros_like(g1), where=c[:, None] > 0)
        # Nodes d around ``base`` = the kink where it lies in the window (then v = s_y c d is
        # exact near v = 0), else around 0 (then g2 = d is exact and v loses nothing either).
        base = np.where(np.abs(kink) <= win, kink, 0.0)
        shift = base - kink  # v = s_y c (d + shift)
        dw = np.minimum(np.nan_to_num(dw, nan=1.0, posinf=1.0), 1.0)
        offsets = np.concatenate(
            [np.broadcast_to(_INNER_OFFSETS, (k, _INNER_OFFSETS.size)), dw, -dw], axis=1
        )
        pts = np.concatenate(
            [
                _OUTER_BREAKS - base[..., None],
                offsets[:, None, :] - shift[..., None],
            ],
            axis=-1,
        )
        lo, hi = (-win - base)[..., None], (win - base)[..., None]
        d_breaks = np.sort(np.clip(pts, lo, hi), axis=-1)
        d, w2 = _legendre_segments(d_breaks, inner_nodes)  # (k, n1, n2)
        g2 = base[..., None] + d
        w2 *= np.exp(-0.5 * g2 * g2) / _SQRT_2PI
        v = np.where(
            (c > 0)[:, None, None],
            (sy[sl] * c)[:, None, None] * (d + shift[..., None]),
            (sy[sl] * r)[:, None, None] * g1[..., None],
        )
        inner = np.einsum("kij,kij->ki", h(v), w2)
        out[sl] = np.einsum("ki,ki,ki->k", f(sx[sl, None] * g1), inner, w1)
    return out


# ----------------------------------------------------------------------------------------------
# Homogeneous piecewise-linear family
# ----------------------------------------------------------------------------------------------


class ABReLU(Activation):
    """``act(t) = a min(t, 0) + b max(t, 0)``: the piecewise-linear family.

    Closed forms, with ``m = sqrt(q_xx) sqrt(q_yy)``, ``rho = q_xy / m`` and the angle
    ``t = arccos(rho)``:
    ``E[act(u) act(v)] = m ((a-b)^2 sin(t) / (2 pi) + rho E[act'(u) act'(v)])`` and
    ``E[act'(u) act'(v)] = (a^2+b^2)/2 - (a-b)^2 t / (2 pi)``. Homogeneous of degree 1:
    ``r_l(s) = s r_l(1)`` with ``r_l(1) = b c_l - a (-1)^l c_l`` and ``c_l`` ReLU's coefficients.
    Written through ``m`` and ``rho``, never through ``q_xx q_yy``, the duals are exact at any
    scale (the homogeneity), from variances of 1e-300 to 1e300.

    Parameters
    ----------
    a, b : float
        Slopes on the negative and positive half-lines; finite, at most 1e150 in magnitude.

    Examples
    --------
    >>> from skntk.activations import ABReLU
    >>> act = ABReLU(a=-0.3, b=1.2)
    >>> float(act.value(-1.0)), float(act.value(2.0))
    (0.3, 2.4)
    """

    name = "abrelu"
    _param_names = ("a", "b")
    homogeneity = 1
    has_closed_form_dual = True

    @property
    def continuous_derivative(self):
        return self.a == self.b

    def __init__(self, a=0.0, b=1.0):
        owner = type(self).__name__
        self.a = _real_param(owner, "a", a)
        self.b = _real_param(owner, "b", b)

    def value(self, t):
        t = np.asarray(t)
        return self.a * np.minimum(t, 0) + self.b * np.maximum(t, 0)

    def derivative(self, t):
        t = np.asarray(t)
        # a step: built in the output dtype (np.where would go through float64)
        out = (t > 0).astype(np.result_type(t, np.float32))
        if self.a != 0.0 or self.b != 1.0:
            out *= self.b - self.a
            out += self.a
        return out

    def _derivative_at_zero(self):
        return 0.5 * (self.a + self.b)

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        relu = _hermite.rectified_monomial_unit_coefficients(1, degree)
        sign = (-1.0) ** np.arange(degree + 1)
        unit = self.b * relu - self.a * sign * relu
        return s[:, None] * unit[None, :]

    def derivative_hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        unit = self.hermite_coefficients(np.ones(1), degree + 1)[0]
        deriv = np.sqrt(np.arange(1, degree + 2)) * unit[1:]
        return np.broadcast_to(deriv, (s.shape[0], degree + 1)).copy()

    def duals(self, q_xx, q_yy, q_xy, with_derivative=True):
        """Fused, in-place evaluation in the dtype of ``q_xy`` (which it overwrites).

        Uses ``E[act act] = (a-b)^2 S / (2 pi) + q_xy E[act' act']``: one ``sqrt`` and one
        ``arctan2`` per pair, no full-size temporaries beyond two. ``S`` and the angle are
        formed in exactly rescaled variables (``q 2^-k``, see :func:`_geometry`) and scaled
        back, so the duals are exact at any scale (the homogeneity) and never overflow in
        ``q_xx q_yy``.
        """
        q = np.asarray(q_xy)
        dtype = q.dtype if q.dtype in (np.float32, np.float64) else np.float64
        shape = np.broadcast_shapes(np.shape(q_xx), np.shape(q_yy), q.shape)
        if q.ndim == 0 or q.shape != shape:  # 0-d or broadcast input: work on a full copy
            q = np.array(np.broadcast_to(q, shape), dtype=dtype, ndmin=1)
        else:
            q = np.asarray(q, dtype=dtype)
        vx = np.maximum(np.asarray(q_xx, dtype=dtype), 0)
        vy = np.maximum(np.asarray(q_yy, dtype=dtype), 0)
        # |E[act(u) act(v)]| <= (a^2 + b^2) s_x s_y / 2 (Cauchy-Schwarz): refuse what the
        # dtype cannot hold
        if vx.size and vy.size:
            bound = math.sqrt(float(np.max(vx))) * math.sqrt(float(np.max(vy)))
            bound *= 0.5 * (self.a**2 + self.b**2)
            if bound > float(np.finfo(dtype).max):
                raise _overflow_error(self, "E[act(u) act(v)]", q_xx, q_yy)
        fx, fy = _pow2_scale(vx), _pow2_scale(vy)  # on the un-broadcast variances
        q *= fx
        q *= fy
        S = np.empty(q.shape, dtype=dtype)
        np.multiply(vx * fx * fx, vy * fy * fy, out=S)
        tmp = np.multiply(q, q)
        S -= tmp
        np.maximum(S, 0, out=S)
        np.sqrt(S, out=S)
        kp = np.arctan2(S, q, out=tmp)
        c1 = (self.a - self.b) ** 2 / _TWO_PI
        kp *= -c1
        kp += 0.5 * (self.a**2 + self.b**2)
        q *= kp
        S *= c1
        q += S
        q /= fx
        q /= fy
        if len(shape) == 0:
            q, kp = q.reshape(()), kp.reshape(())
        return q, (kp if with_derivative else None)

    def dual(self, q_xx, q_yy, q_xy):
        return self.duals(q_xx, q_yy, np.array(q_xy, dtype=np.float64), False)[0]

    def dual_derivative(self, q_xx, q_yy, q_xy):
        t = _geometry(q_xx, q_yy, q_xy, at_zero=1.0, angle=True)[-1]
        d2 = (self.a - self.b) ** 2
        return 0.5 * (self.a**2 + self.b**2) - d2 * t / _TWO_PI

    def second_moment(self, q):
        out = 0.5 * (self.a**2 + self.b**2) * np.asarray(q, dtype=np.float64)
        return _require_finite(self, out, "E[act(u)^2]", q)


class ReLU(ABReLU):
    """``act(t) = max(t, 0)``; see :class:`ABReLU` for the closed forms.

    Examples
    --------
    >>> from skntk.activations import ReLU
    >>> ReLU().hermite_coefficients([1.0], 2).round(4)
    array([[0.3989, 0.5   , 0.2821]])
    """

    name = "relu"
    _param_names = ()

    def __init__(self):
        super().__init__(a=0.0, b=1.0)


class LeakyReLU(ABReLU):
    """``act(t) = max(t, alpha t)``, i.e. :class:`ABReLU` with ``a = alpha``, ``b = 1``.

    Parameters
    ----------
    alpha : float, default=0.01
        Slope on the negative half-line; finite, at most 1e150 in magnitude.

    Examples
    --------
    >>> from skntk.activations import LeakyReLU
    >>> float(LeakyReLU(alpha=0.1).value(-2.0))
    -0.2
    """

    name = "leaky_relu"
    _param_names = ("alpha",)

    def __init__(self, alpha=0.01):
        self.alpha = _real_param("LeakyReLU", "alpha", alpha)
        super().__init__(a=self.alpha, b=1.0)


class Abs(ABReLU):
    """``act(t) = |t|``, i.e. :class:`ABReLU` with ``a = -1``, ``b = 1``.

    Examples
    --------
    >>> from skntk.activations import Abs
    >>> float(Abs().dual(1.0, 1.0, 1.0))
    1.0
    """

    name = "abs"
    _param_names = ()

    def __init__(self):
        super().__init__(a=-1.0, b=1.0)


class RectifiedMonomial(Activation):
    """``act(t) = t^n 1[t >= 0]``: the arc-cosine kernel of order ``n`` (Cho and Saul, 2009).

    Homogeneous of degree ``n``; ``r_l(1)`` in closed form. With ``J_0 = pi - t``,
    ``J_1 = sin t + (pi - t) cos t`` and ``J_2 = 3 sin t cos t + (pi - t)(1 + 2 cos^2 t)``,
    ``E[act(u) act(v)] = (s_x s_y)^n J_n(t) / (2 pi)`` for ``n <= 3`` (Mehler's series on the
    unit sphere times ``(s_x s_y)^n`` for larger ``n``) and
    ``E[act'(u) act'(v)] = n^2 (s_x s_y)^(n-1) J_{n-1}(t) / (2 pi)``.

    Parameters
    ----------
    degree : int, default=1
        The power ``0 <= n <= 32`` (``n = 0`` is the step function, whose derivative has no
        NTK; beyond 32 the unit Hermite coefficients lose accuracy).

    Examples
    --------
    >>> from skntk.activations import RectifiedMonomial
    >>> float(RectifiedMonomial(degree=2).value(3.0))
    9.0
    """

    name = "rectified_monomial"
    _param_names = ("degree",)

    def __init__(self, degree=1):
        self.degree = _degree_param(
            "RectifiedMonomial",
            degree,
            _MAX_RECTIFIED_DEGREE,
            "its unit Hermite coefficients lose accuracy beyond",
        )
        self.homogeneity = self.degree
        self.has_closed_form_dual = self.degree <= 3
        self.continuous_derivative = self.degree >= 2

    def value(self, t):
        t = np.asarray(t)
        return np.where(t >= 0, t**self.degree, 0.0)

    def derivative(self, t):
        t = np.asarray(t)
        if self.degree == 0:
            return np.zeros_like(t, dtype=np.result_type(t, np.float32))
        return np.where(t >= 0, self.degree * t ** (self.degree - 1), 0.0)

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        unit = _hermite.rectified_monomial_unit_coefficients(self.degree, degree)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            out = (s**self.degree)[:, None] * unit[None, :]
        if self.degree == 0:  # at s = 0 the pre-activation is 0 and act(0) = 1
            out[s == 0] = np.eye(1, degree + 1)[0]
        return _require_finite(self, out, "the Hermite coefficients", s * s)

    @staticmethod
    def _arccos_j(n, t, sin, cos):
        if n == 0:
            return np.pi - t
        if n == 1:
            return sin + (np.pi - t) * cos
        if n == 2:
            return 3.0 * sin * cos + (np.pi - t) * (1.0 + 2.0 * cos * cos)
        if n == 3:
            return 15.0 * sin - 11.0 * sin**3 + (np.pi - t) * (9.0 * cos + 6.0 * cos**3)
        raise NotImplementedError

    def _unit_dual(self, rho, sin=None):
        """``E[act(u) act(v)]`` for unit variances and correlation ``rho``."""
        n = self.degree
        if n <= 3:
            sin = _sine(rho) if sin is None else sin
            return self._arccos_j(n, np.arctan2(sin, rho), sin, rho) / _TWO_PI
        one = np.ones(())
        return _numeric_dual(self, self.value, self.hermite_coefficients, one, one, rho)

    def dual(self, q_xx, q_yy, q_xy):
        # homogeneity: (s_x s_y)^n times the unit-sphere dual, exact at any scale
        _, _, m, rho, sin = _geometry(q_xx, q_yy, q_xy, at_zero=1.0)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            out = m**self.degree * self._unit_dual(rho, sin)
        return _require_finite(self, out, "E[act(u) act(v)]", q_xx, q_yy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if self.degree == 0:
            raise ValueError("the step function has no NTK (its derivative is a delta)")
        # act' = n t^(n-1) 1[t >= 0]: n^2 times the dual of the order below
        _, _, m, rho, sin = _geometry(q_xx, q_yy, q_xy, at_zero=1.0)
        n = self.degree
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            out = n * n * m ** (n - 1) * RectifiedMonomial(n - 1)._unit_dual(rho, sin)
        return _require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


class Sign(Activation):
    """``act(t) = sign(t)``. ``E[act(u) act(v)] = 1 - 2 t / pi`` (``t`` the angle).

    Homogeneous of degree 0. Its derivative is a delta, so it has an NNGP but no NTK. An input
    of zero variance has ``act(u) = sign(0) = 0``, so its dual is 0.

    Examples
    --------
    >>> from skntk.activations import Sign
    >>> float(Sign().dual(1.0, 1.0, 0.0))
    0.0
    """

    name = "sign"
    homogeneity = 0
    has_closed_form_dual = True
    continuous_derivative = False

    def value(self, t):
        return np.sign(t)

    def derivative(self, t):
        return np.zeros_like(np.asarray(t), dtype=np.result_type(t, np.float32))

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        unit = 2.0 * _hermite.rectified_monomial_unit_coefficients(0, degree)
        unit[0] = 0.0
        return np.where(s[:, None] > 0, unit[None, :], 0.0)

    def derivative_hermite_coefficients(self, s, degree):
        raise ValueError("sign has no NTK: its derivative is a delta function")

    def dual(self, q_xx, q_yy, q_xy):
        _, _, m, _, _, t = _geometry(q_xx, q_yy, q_xy, at_zero=1.0, angle=True)
        return np.where(m > 0, 1.0 - 2.0 * t / np.pi, 0.0)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        raise ValueError("sign has no NTK: its derivative is a delta function")


# ----------------------------------------------------------------------------------------------
# Smooth activations with closed forms
# ----------------------------------------------------------------------------------------------


def _gaussian_radial(a, b, s, degree):
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
        log_c = 0.5 * _hermite.log_factorial(l) - 0.5 * l * math.log(2.0)
        log_c -= _hermite.log_factorial(l // 2)
        out[:, l] = sign ** (l // 2) * gamma**l * math.exp(log_c)
    return a * inv[:, None] * out


class Erf(Activation):
    """``act(t) = a erf(b t) + c``.

    With ``z = b^2 q`` the scaled variances:
    ``E[act(u) act(v)] = a^2 (2/pi) arcsin(2 z_xy / sqrt((1 + 2 z_xx)(1 + 2 z_yy))) + c^2``
    (the cross terms vanish because erf is odd) and
    ``E[act'(u) act'(v)] = a^2 b^2 (4/pi) / sqrt((1 + 2 z_xx)(1 + 2 z_yy) - 4 z_xy^2)``.
    Evaluated as ``arcsin(r) = arctan2(r, w)`` with ``r = rho gamma_x gamma_y``,
    ``gamma = sqrt(2z / (1 + 2z))`` and ``w = sqrt(1 - r^2)`` from :func:`_cosine_gap`, so
    that no ``1 + 2z`` is formed: as ``q -> inf`` the dual tends to
    ``a^2 (2/pi) arcsin(rho) + c^2``, the kernel of ``a sign(t) + c``.
    Hermite coefficients follow from those of the Gaussian derivative ``2 a b exp(-b^2 t^2) /
    sqrt(pi)`` via ``r_{l+1}(s) = s r'_l(s) / sqrt(l+1)``.

    Parameters
    ----------
    a, b, c : float
        Finite; ``|a|, |b|, |c| <= 1e150``.

    Examples
    --------
    >>> from skntk.activations import Erf
    >>> round(float(Erf().dual(1.0, 1.0, 1.0)), 6)  # (2/pi) arcsin(2/3)
    0.464559
    """

    name = "erf"
    _param_names = ("a", "b", "c")
    has_closed_form_dual = True

    def __init__(self, a=1.0, b=1.0, c=0.0):
        self.a = _real_param("Erf", "a", a)
        self.b = _real_param("Erf", "b", b)
        self.c = _real_param("Erf", "c", c)

    def value(self, t):
        return self.a * erf(self.b * np.asarray(t)) + self.c

    def derivative(self, t):
        t = np.asarray(t)
        return self.a * self.b * 2.0 / math.sqrt(math.pi) * np.exp(-((self.b * t) ** 2))

    def derivative_hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        return _gaussian_radial(2.0 * self.a * self.b / math.sqrt(math.pi), -(self.b**2), s, degree)

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        out = np.zeros((s.shape[0], degree + 1))
        out[:, 0] = self.c
        if degree >= 1:
            d = self.derivative_hermite_coefficients(s, degree - 1)
            out[:, 1:] = s[:, None] * d / np.sqrt(np.arange(1, degree + 1))
        return out

    def _terms(self, q_xx, q_yy, q_xy):
        """``r``, ``w = sqrt(1 - r^2)`` and ``b / sqrt(1 + 2 z)`` of both inputs."""
        sx, sy, _, rho, sin = _geometry(q_xx, q_yy, q_xy)
        k = math.sqrt(2.0) * abs(self.b)  # k s <= 2e304: no overflow
        hx, hy = np.hypot(1.0, k * sx), np.hypot(1.0, k * sy)
        ix, iy = 1.0 / hx, 1.0 / hy
        gx, gy = k * sx * ix, k * sy * iy
        w = _cosine_gap(rho, sin, ix, gx, iy)
        return rho * gx * gy, w, self.b * ix, self.b * iy

    def dual(self, q_xx, q_yy, q_xy):
        r, w, _, _ = self._terms(q_xx, q_yy, q_xy)
        return self.a**2 * (2.0 / np.pi) * np.arctan2(r, w) + self.c**2

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if self.b == 0.0 or self.a == 0.0:
            shape = np.broadcast_shapes(np.shape(q_xx), np.shape(q_yy), np.shape(q_xy))
            return np.zeros(shape)
        _, w, bx, by = self._terms(q_xx, q_yy, q_xy)
        out = (4.0 / np.pi) * (self.a * bx) * (self.a * by) / w
        return _require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)

    def duals(self, q_xx, q_yy, q_xy, with_derivative=True):
        r, w, bx, by = self._terms(q_xx, q_yy, q_xy)
        nngp = self.a**2 * (2.0 / np.pi) * np.arctan2(r, w) + self.c**2
        if not with_derivative:
            return nngp, None
        if self.b == 0.0 or self.a == 0.0:
            return nngp, np.zeros_like(nngp)
        deriv = (4.0 / np.pi) * (self.a * bx) * (self.a * by) / w
        return nngp, _require_finite(self, deriv, "E[act'(u) act'(v)]", q_xx, q_yy)


class GeLU(Activation):
    """Exact GeLU, ``act(t) = t Phi(t)``.

    Closed form (second-order Gaussian integration by parts on ``t 1[t - z > 0]``): with
    ``M = sqrt((1 + q_xx)(1 + q_yy))``, ``D = M^2 - q_xy^2`` and
    ``N = q_xx q_yy + q_xy^2 (1 - q_xx q_yy) / M^2``,
    ``E[act(u) act(v)] = q_xy (1/4 + arcsin(q_xy / M) / (2 pi)) + N / (2 pi sqrt(D))``, and its
    derivative in ``q_xy`` (Price's theorem) gives ``E[act'(u) act'(v)]``.

    Evaluated without forming ``M``, ``D`` or ``q_xx q_yy`` (which overflow past 1e154 and
    cancel catastrophically past 1e8): with ``u = 1/(1 + q_xx)``, ``v = 1/(1 + q_yy)``,
    ``r = q_xy / M`` and ``w = sqrt(1 - r^2)`` (:func:`_cosine_gap`),
    ``N / sqrt(D) = sqrt(q_xx q_yy / ((1+q_xx)(1+q_yy))) sqrt(q_xx q_yy) w + r^2 sqrt(uv) / w``
    and ``E[act' act'] = 1/4 + arcsin(r)/(2 pi) + ((r/w)(u + v + uv) + uv r^3 / w^3) / (2 pi)``.
    As ``q -> inf`` both tend to ReLU's arc-cosine kernels.

    Examples
    --------
    >>> from skntk.activations import GeLU
    >>> round(float(GeLU().value(1.0)), 6)
    0.841345
    """

    name = "gelu"
    has_closed_form_dual = True

    def value(self, t):
        t = np.asarray(t)
        return t * ndtr(t)

    def derivative(self, t):
        t = np.asarray(t)
        return ndtr(t) + t * np.exp(-0.5 * t * t) / _SQRT_2PI

    @staticmethod
    def _terms(q_xx, q_yy, q_xy):
        sa, sb, m, rho, sin = _geometry(q_xx, q_yy, q_xy)
        ia = 1.0 / np.sqrt(1.0 + sa * sa)  # sqrt(u) >= 7e-155
        ib = 1.0 / np.sqrt(1.0 + sb * sb)
        ga, gb = sa * ia, sb * ib  # sqrt(q / (1 + q))
        w = _cosine_gap(rho, sin, ia, ga, ib)
        r = rho * ga * gb
        # pi/2 + arcsin(r) = arccos(-r): 1/4 + arcsin(r) / (2 pi) without cancellation at r ~ -1
        quarter = np.arctan2(w, -r) / _TWO_PI
        return np.asarray(q_xy, dtype=np.float64), m, ia, ib, ga, gb, r, w, quarter

    @staticmethod
    def _nngp(c, m, ia, ib, ga, gb, r, w, quarter):
        return c * quarter + (m * ga * gb * w + r * r * (ia / w) * ib) / _TWO_PI

    @staticmethod
    def _ntk_factor(ia, ib, r, w, quarter):
        u, v = ia * ia, ib * ib
        tail = (r / w) * (u + v + u * v) + ((ia / w) * ib) ** 2 * (r**3 / w)
        return quarter + tail / _TWO_PI

    def dual(self, q_xx, q_yy, q_xy):
        c, m, ia, ib, ga, gb, r, w, quarter = self._terms(q_xx, q_yy, q_xy)
        out = self._nngp(c, m, ia, ib, ga, gb, r, w, quarter)
        return _require_finite(self, out, "E[act(u) act(v)]", q_xx, q_yy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        _, _, ia, ib, _, _, r, w, quarter = self._terms(q_xx, q_yy, q_xy)
        return self._ntk_factor(ia, ib, r, w, quarter)

    def duals(self, q_xx, q_yy, q_xy, with_derivative=True):
        c, m, ia, ib, ga, gb, r, w, quarter = self._terms(q_xx, q_yy, q_xy)
        nngp = _require_finite(
            self, self._nngp(c, m, ia, ib, ga, gb, r, w, quarter), "E[act(u) act(v)]", q_xx, q_yy
        )
        return nngp, (self._ntk_factor(ia, ib, r, w, quarter) if with_derivative else None)


def _half_distance(q_xx, q_yy, q_xy, sign):
    """``(q_xx + q_yy)/4 + sign q_xy / 2`` (``>= 0``), without overflow for finite inputs."""
    q_xx, q_yy, q_xy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
    return np.maximum(0.25 * q_xx + 0.25 * q_yy + (0.5 * sign) * q_xy, 0.0)


class Sin(Activation):
    """``act(t) = a sin(b t + c)``.

    ``r_l(s) = a e^{-w^2/2} Im(e^{i c} (i w)^l) / sqrt(l!)`` with ``w = b s``;
    ``E[act(u) act(v)] = a^2/2 (S+ - S- cos 2c)``, ``E[act'(u) act'(v)] = a^2 b^2/2 (S+ + S- cos
    2c)``, ``S+- = exp(b^2 (-(q_xx + q_yy)/2 +- q_xy))``. The exponents are evaluated as
    ``-2 b^2 ((q_xx + q_yy)/4 -+ q_xy/2)``, clipped at 0 (they are ``<= 0`` exactly), so
    large variances give the limit 0 rather than overflow. At large ``b^2 q`` the dual depends
    on ``q_xx + q_yy - 2 q_xy`` to an absolute accuracy of about ``1e-16 q``: the input
    variances limit the accuracy, not this formula.

    Parameters
    ----------
    a, b : float
        Finite, at most 1e150 in magnitude.
    c : float
        Finite phase.

    Examples
    --------
    >>> from skntk.activations import Sin
    >>> round(float(Sin().dual(1.0, 1.0, 1.0)), 6)  # (1 - e^-2) / 2
    0.432332
    """

    name = "sin"
    _param_names = ("a", "b", "c")
    has_closed_form_dual = True

    def __init__(self, a=1.0, b=1.0, c=0.0):
        owner = type(self).__name__
        self.a = _real_param(owner, "a", a)
        self.b = _real_param(owner, "b", b)
        self.c = _real_param(owner, "c", c, max_abs=math.inf)

    def value(self, t):
        return self.a * np.sin(self.b * np.asarray(t) + self.c)

    def derivative(self, t):
        return self.a * self.b * np.cos(self.b * np.asarray(t) + self.c)

    def _complex_coefficients(self, s, degree):
        w = self.b * _as_scales(s)  # |w| <= 2e304
        l = np.arange(degree + 1)
        with np.errstate(over="ignore"):
            logmag = -0.5 * w[:, None] ** 2 - 0.5 * _hermite.log_factorial(l)[None, :]
        logmag = logmag + xlogy(l[None, :], np.abs(w)[:, None])
        mag = np.exp(logmag)
        if self.b < 0:
            mag = mag * ((-1.0) ** l)[None, :]
        phase = np.exp(1j * (self.c + 0.5 * np.pi * l))
        return self.a * mag * phase[None, :]

    def hermite_coefficients(self, s, degree):
        return self._complex_coefficients(s, degree).imag

    def _exponentials(self, q_xx, q_yy, q_xy):
        b2 = self.b**2
        sp = np.exp(-2.0 * b2 * _half_distance(q_xx, q_yy, q_xy, -1.0))
        sm = np.exp(-2.0 * b2 * _half_distance(q_xx, q_yy, q_xy, 1.0))
        return sp, sm

    def dual(self, q_xx, q_yy, q_xy):
        sp, sm = self._exponentials(q_xx, q_yy, q_xy)
        return self.a**2 / 2 * (sp - sm * math.cos(2 * self.c))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        sp, sm = self._exponentials(q_xx, q_yy, q_xy)
        out = (self.a * self.b) ** 2 / 2 * (sp + sm * math.cos(2 * self.c))
        return _require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


class Cos(Sin):
    """``act(t) = a cos(b t + c) = a sin(b t + c + pi/2)``; see :class:`Sin`.

    Examples
    --------
    >>> from skntk.activations import Cos
    >>> float(Cos().value(0.0))
    1.0
    """

    name = "cos"

    def __init__(self, a=1.0, b=1.0, c=0.0):
        super().__init__(a, b, c)
        self._shift = 0.5 * math.pi

    def value(self, t):
        return self.a * np.cos(self.b * np.asarray(t) + self.c)

    def derivative(self, t):
        return -self.a * self.b * np.sin(self.b * np.asarray(t) + self.c)

    def _as_sin(self):
        return Sin(self.a, self.b, self.c + 0.5 * math.pi)

    def hermite_coefficients(self, s, degree):
        return self._as_sin().hermite_coefficients(s, degree)

    def dual(self, q_xx, q_yy, q_xy):
        return self._as_sin().dual(q_xx, q_yy, q_xy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return self._as_sin().dual_derivative(q_xx, q_yy, q_xy)


class Rbf(Sin):
    """``act(t) = sqrt(2) sin(sqrt(2 gamma) t + pi/4)``: random Fourier features of an RBF kernel.

    ``E[act(u) act(v)] = exp(-gamma (q_xx + q_yy - 2 q_xy))``,
    ``E[act'(u) act'(v)] = 2 gamma E[act(u) act(v)]``.

    Parameters
    ----------
    gamma : float, default=1.0
        ``0 <= gamma <= 5e299`` (a negative gamma has no real frequency; the frequency
        ``sqrt(2 gamma)`` must be at most 1e150).

    Examples
    --------
    >>> from skntk.activations import Rbf
    >>> round(float(Rbf(gamma=0.5).dual(1.0, 1.0, 0.0)), 6)  # exp(-1)
    0.367879
    """

    name = "rbf"
    _param_names = ("gamma",)

    def __init__(self, gamma=1.0):
        self.gamma = _real_param(
            "Rbf",
            "gamma",
            gamma,
            minimum=0.0,
            max_abs=0.5 * _MAX_PARAM**2,
            reason=" (the RBF kernel exp(-gamma |x - y|^2) needs a real frequency)",
        )
        super().__init__(a=math.sqrt(2.0), b=math.sqrt(2.0 * self.gamma), c=0.25 * math.pi)

    def dual(self, q_xx, q_yy, q_xy):
        return np.exp(-4.0 * self.gamma * _half_distance(q_xx, q_yy, q_xy, -1.0))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        out = 2.0 * self.gamma * self.dual(q_xx, q_yy, q_xy)
        return _require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


class Exp(Activation):
    """``act(t) = a exp(b t)``.

    ``r_l(s) = a exp(b^2 s^2 / 2) (b s)^l / sqrt(l!)``;
    ``E[act(u) act(v)] = a^2 exp(b^2 ((q_xx + q_yy)/2 + q_xy))``, ``E[act' act'] = b^2 E[act act]``.
    Both grow like ``exp(2 b^2 q)``: they are evaluated in log space and raise a
    ``ValueError`` giving the largest variance, ``(log(1.8e308) - 2 log|a|) / (2 b^2)``, where
    they would overflow float64.

    Parameters
    ----------
    a, b : float
        Finite, at most 1e150 in magnitude.

    Examples
    --------
    >>> from skntk.activations import Exp
    >>> round(float(Exp(a=1.0, b=1.0).dual(0.0, 0.0, 0.0)), 6)
    1.0
    """

    name = "exp"
    _param_names = ("a", "b")
    has_closed_form_dual = True

    def __init__(self, a=1.0, b=1.0):
        self.a = _real_param("Exp", "a", a)
        self.b = _real_param("Exp", "b", b)

    def value(self, t):
        return self.a * np.exp(self.b * np.asarray(t))

    def derivative(self, t):
        return self.b * self.value(t)

    def _overflow(self, what, q, log_factor=0.0):
        """The error for ``factor a^2 exp(2 b^2 q)`` past float64, with the limit on ``q``."""
        qmax = float(np.max(q)) if np.size(q) else 0.0
        room = _LOG_FLOAT_MAX - 2.0 * math.log(abs(self.a)) - log_factor
        limit = room / (2.0 * self.b**2) if self.b != 0.0 else math.inf
        return ValueError(
            f"{self!r}: {what} grows like a^2 exp(2 b^2 q) and overflows float64 at "
            f"pre-activation variance {qmax:.3g}; it needs q < {limit:.4g}. Scale the inputs "
            "down, or reduce weight_std, bias_std or depth"
        )

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        out = np.zeros((s.shape[0], degree + 1))
        if self.a == 0.0:
            return out
        w = self.b * s
        l = np.arange(degree + 1)
        log_mag = (
            math.log(abs(self.a))
            + 0.5 * w[:, None] ** 2
            + xlogy(l[None, :], np.abs(w)[:, None])
            - 0.5 * _hermite.log_factorial(l)[None, :]
        )
        if np.any(log_mag > _LOG_FLOAT_MAX):
            raise self._overflow("the Hermite coefficients", s * s)
        sign = np.sign(self.a) * np.where((w[:, None] < 0) & (l[None, :] % 2 == 1), -1.0, 1.0)
        return sign * np.exp(log_mag)

    def _exp_dual(self, q_xx, q_yy, q_xy, log_factor, what):
        """``exp(log_factor) a^2 exp(b^2 ((q_xx + q_yy)/2 + q_xy))`` in log space."""
        shape = np.broadcast_shapes(np.shape(q_xx), np.shape(q_yy), np.shape(q_xy))
        if self.a == 0.0 or log_factor == -math.inf:
            return np.zeros(shape)
        half = _half_distance(q_xx, q_yy, q_xy, 1.0)
        log_out = 2.0 * math.log(abs(self.a)) + log_factor + 2.0 * self.b**2 * half
        if np.any(log_out > _LOG_FLOAT_MAX):
            raise self._overflow(what, np.maximum(q_xx, q_yy), log_factor)
        return np.broadcast_to(np.exp(log_out), shape).copy()

    def dual(self, q_xx, q_yy, q_xy):
        return self._exp_dual(q_xx, q_yy, q_xy, 0.0, "E[act(u) act(v)]")

    def dual_derivative(self, q_xx, q_yy, q_xy):
        log_b2 = 2.0 * math.log(abs(self.b)) if self.b != 0.0 else -math.inf
        return self._exp_dual(q_xx, q_yy, q_xy, log_b2, "E[act'(u) act'(v)]")


class Gaussian(Activation):
    """``act(t) = a exp(b t^2)`` (requires ``1 - 4 b q > 0`` for ``b > 0``).

    With ``D = sqrt((1 - 2b q_xx)(1 - 2b q_yy) - 4 b^2 q_xy^2)``:
    ``E[act(u) act(v)] = a^2 / D`` and ``E[act'(u) act'(v)] = 4 a^2 b^2 q_xy / D^3``.
    ``r_l(s) = a (1 - 2 b s^2)^{-1/2} (sigma^2 - 1)^{l/2} (l-1)!! / sqrt(l!)`` for even ``l``
    (0 for odd), ``sigma^2 = 1 / (1 - 2 b s^2)``.

    ``D`` is evaluated as ``sqrt(1 - 2b q_xx) sqrt(1 - 2b q_yy) w`` with ``w = sqrt(1 - r^2)``
    from :func:`_cosine_gap`, ``r = 2 b q_xy / sqrt((1 - 2b q_xx)(1 - 2b q_yy))``: for
    ``b < 0`` it stays accurate for variances up to 1e300, where the dual tends to
    ``a^2 / (2|b| sqrt(q_xx q_yy) sqrt(1 - rho^2))`` off the diagonal.

    Parameters
    ----------
    a : float
        Finite, at most 1e150 in magnitude.
    b : float
        Finite, at most 1e150 in magnitude. ``b > 0`` is allowed, but only variances
        ``q < 1 / (4 b)`` have a finite ``E[act(u)^2]``; larger ones raise a ``ValueError``.

    Examples
    --------
    >>> from skntk.activations import Gaussian
    >>> round(float(Gaussian(a=1.0, b=-1.0).dual(1.0, 1.0, 0.0)), 6)  # 1/3
    0.333333
    """

    name = "gaussian"
    _param_names = ("a", "b")
    has_closed_form_dual = True

    def __init__(self, a=1.0, b=-1.0):
        self.a = _real_param("Gaussian", "a", a)
        self.b = _real_param("Gaussian", "b", b)

    def value(self, t):
        t = np.asarray(t)
        return self.a * np.exp(self.b * t * t)

    def derivative(self, t):
        t = np.asarray(t)
        return 2.0 * self.b * t * self.value(t)

    def _check(self, q, factor=4.0):
        # E[act(u)^2] = E[a^2 exp(2 b u^2)] is finite only when 1 - 4 b q > 0 (the Hermite
        # coefficients themselves exist for 1 - 2 b q > 0)
        q = np.asarray(q, dtype=np.float64)
        if self.b > 0 and np.any(1.0 - factor * self.b * q <= 0):
            raise ValueError(
                f"{self!r} with b > 0 needs 1 - {factor:g} b q > 0, i.e. a pre-activation "
                f"variance q < {1.0 / (factor * self.b):.4g}; got q = {float(np.max(q)):.4g}: "
                "the variance is too large for E[act(u)^2] to be finite. Scale the inputs "
                "down or use b <= 0"
            )

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        self._check(s * s, factor=2.0)
        return _gaussian_radial(self.a, self.b, s, degree)

    def _terms(self, q_xx, q_yy, q_xy):
        """``rho``, ``w``, ``i = (1 - 2 b q)^{-1/2}`` and ``gamma = sqrt(2|b| q) i``."""
        self._check(q_xx)
        self._check(q_yy)
        sx, sy, _, rho, sin = _geometry(q_xx, q_yy, q_xy)
        k = math.sqrt(2.0 * abs(self.b))
        tx, ty = k * sx, k * sy
        if self.b < 0:
            ix, iy = 1.0 / np.hypot(1.0, tx), 1.0 / np.hypot(1.0, ty)
            nx, ny = ix, iy
        else:
            ix = 1.0 / np.sqrt((1.0 - tx) * (1.0 + tx))
            iy = 1.0 / np.sqrt((1.0 - ty) * (1.0 + ty))
            r2 = math.sqrt(2.0)  # nu^2 = 1 - gamma^2 = (1 - 2 t^2) / (1 - t^2)
            nx = np.sqrt((1.0 - r2 * tx) * (1.0 + r2 * tx)) * ix
            ny = np.sqrt((1.0 - r2 * ty) * (1.0 + r2 * ty)) * iy
        gx, gy = tx * ix, ty * iy
        return rho, _cosine_gap(rho, sin, nx, gx, ny), ix, iy, gx, gy

    def dual(self, q_xx, q_yy, q_xy):
        if self.b == 0.0:
            shape = np.broadcast_shapes(np.shape(q_xx), np.shape(q_yy), np.shape(q_xy))
            return np.full(shape, self.a**2)
        _, w, ix, iy, _, _ = self._terms(q_xx, q_yy, q_xy)
        return (self.a * ix) * (self.a * iy) / w

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if self.b == 0.0:
            return np.zeros(np.broadcast_shapes(np.shape(q_xx), np.shape(q_yy), np.shape(q_xy)))
        rho, w, ix, iy, gx, gy = self._terms(q_xx, q_yy, q_xy)
        # 4 a^2 b^2 q_xy / D^3 = rho gamma_x gamma_y (2|b| i_x i_y) (a i_x / w)(a i_y / w) / w
        out = rho * (gx * gy) * ((2.0 * abs(self.b) * ix) * iy)
        out *= (self.a * ix / w) * (self.a * iy / w) / w
        return _require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


class NormalizedGaussian(Activation):
    """Normalized Gaussian map, ``E[act(u) act(v)] = sqrt(q_xx q_yy) exp(gamma (rho - 1))``.

    Defined on the kernel (it has no pointwise form). Homogeneous of degree 1 with Taylor
    coefficients ``c_l = e^{-gamma} gamma^l / l!``, so ``r_l(s) = s sqrt(c_l)`` and
    ``E[act'(u) act'(v)] = gamma exp(gamma (rho - 1))``.

    Parameters
    ----------
    gamma : float, default=1.0
        Finite and ``>= 0``: the Taylor coefficients must be non-negative for the kernel to
        be positive semi-definite (``gamma = -1`` is not).

    Examples
    --------
    >>> from skntk.activations import NormalizedGaussian
    >>> float(NormalizedGaussian(gamma=1.0).dual(4.0, 1.0, 2.0))  # rho = 1
    2.0
    """

    name = "normalized_gaussian"
    _param_names = ("gamma",)
    homogeneity = 1
    has_closed_form_dual = True
    has_pointwise_form = False

    def __init__(self, gamma=1.0):
        self.gamma = _real_param(
            "NormalizedGaussian",
            "gamma",
            gamma,
            minimum=0.0,
            max_abs=math.inf,
            reason=(
                " (a negative gamma gives Taylor coefficients e^-gamma gamma^l / l! of "
                "alternating sign: a kernel that is not positive semi-definite)"
            ),
        )

    def value(self, t):
        raise ValueError("normalized_gaussian is defined on the kernel; it has no pointwise form")

    derivative = value

    def taylor_coefficients(self, degree):
        """``c_l = e^{-gamma} gamma^l / l!`` for ``l = 0..degree``."""
        l = np.arange(degree + 1)
        return np.exp(-self.gamma + xlogy(l, self.gamma) - _hermite.log_factorial(l))

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        return s[:, None] * np.sqrt(self.taylor_coefficients(degree))[None, :]

    def derivative_hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        c = self.taylor_coefficients(degree + 1)
        d = np.sqrt(np.arange(1, degree + 2) * c[1:])
        return np.broadcast_to(d, (s.shape[0], degree + 1)).copy()

    def dual(self, q_xx, q_yy, q_xy):
        _, _, m, rho, _ = _geometry(q_xx, q_yy, q_xy, at_zero=1.0)
        return m * np.exp(self.gamma * (rho - 1.0))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        rho = _geometry(q_xx, q_yy, q_xy, at_zero=1.0)[3]
        return self.gamma * np.exp(self.gamma * (rho - 1.0))

    def second_moment(self, q):
        return np.asarray(q, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Polynomials
# ----------------------------------------------------------------------------------------------


def _poly_reduced(coef, s, degree):
    """``A_l(s) = r_l(s) / s^l = sum_i coef[l+2i] (l+2i)! / (2^i i! sqrt(l!)) s^(2i)``.

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
            log_c = (
                _hermite.log_factorial(k)
                - i * math.log(2.0)
                - _hermite.log_factorial(i)
                - 0.5 * _hermite.log_factorial(l)
            )
            with np.errstate(over="ignore", invalid="ignore"):
                out[:, l] += coef[k] * math.exp(log_c) * s2**i
    return out


class Polynomial(Activation):
    """``act(t) = sum_i coef[i] t^i``.

    ``r_l(s) = sum_i coef[l+2i] (l+2i)! / (2^i i! sqrt(l!)) s^(l+2i)`` exactly, and the duals are
    the finite Mehler sums ``sum_l r_l(s_x) r_l(s_y) rho^l`` (exact), evaluated as
    ``sum_l A_l(s_x) A_l(s_y) q_xy^l`` with ``A_l(s) = r_l(s) / s^l`` (Horner in ``q_xy``).

    Parameters
    ----------
    coef : sequence of float
        Coefficients of ``1, t, t^2, ...``: at most 201, finite, each at most 1e150 in
        magnitude.

    Examples
    --------
    >>> from skntk.activations import Polynomial
    >>> round(float(Polynomial(coef=[0.0, 0.0, 1.0]).dual(1.0, 1.0, 1.0)), 12)  # E[g^4]
    3.0
    """

    name = "polynomial"
    _param_names = ("coef",)
    has_closed_form_dual = True

    def __init__(self, coef=(0.0, 1.0)):
        if isinstance(coef, str):
            raise TypeError(f"Polynomial: coef must be a sequence of real numbers; got {coef!r}")
        try:
            arr = np.atleast_1d(np.asarray(coef))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Polynomial: coef must be a sequence of real numbers; got {coef!r}"
            ) from exc
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"Polynomial: coef must be a non-empty 1-D sequence; got {coef!r}")
        if arr.size > _MAX_POLY_DEGREE + 1:
            raise ValueError(
                f"Polynomial: coef must have at most {_MAX_POLY_DEGREE + 1} entries (degree "
                f"<= {_MAX_POLY_DEGREE}); got {arr.size}"
            )
        self.coef = tuple(
            _real_param("Polynomial", f"coef[{i}]", c) for i, c in enumerate(arr.tolist())
        )
        self.homogeneity = None

    @property
    def _n(self):
        return len(self.coef) - 1

    def value(self, t):
        return np.polynomial.polynomial.polyval(np.asarray(t), self.coef)

    def _derivative_coef(self):
        return tuple(np.polynomial.polynomial.polyder(self.coef)) if self._n > 0 else (0.0,)

    def derivative(self, t):
        return np.polynomial.polynomial.polyval(np.asarray(t), self._derivative_coef())

    def _reduced(self, s, degree):
        """``A_l(s) = r_l(s) / s^l`` for ``l = 0..degree``."""
        return _poly_reduced(self.coef, s, degree)

    def _reduced_derivative(self, s, degree):
        return _poly_reduced(self._derivative_coef(), s, degree)

    @staticmethod
    def _times_powers(reduced, s):
        # r_l = A_l s^l; a zero A_l stays 0 even where s^l overflows
        with np.errstate(over="ignore", invalid="ignore"):
            out = reduced * s[:, None] ** np.arange(reduced.shape[1])[None, :]
        out[reduced == 0] = 0.0
        return out

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        out = self._times_powers(self._reduced(s, degree), s)
        return _require_finite(self, out, "the Hermite coefficients", s * s)

    def derivative_hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        out = self._times_powers(self._reduced_derivative(s, degree), s)
        return _require_finite(self, out, "the derivative's Hermite coefficients", s * s)

    def _mehler(self, reduced_fn, q_xx, q_yy, q_xy):
        qxx, qyy, qxy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        shape = np.broadcast_shapes(qxx.shape, qyy.shape, qxy.shape)
        n = self._n
        # coefficients on the un-broadcast variances: (n+1) values per input, not per pair
        sx, sy = np.sqrt(np.maximum(qxx, 0.0)), np.sqrt(np.maximum(qyy, 0.0))
        ax = reduced_fn(sx.ravel(), n).reshape(sx.shape + (n + 1,))
        ay = reduced_fn(sy.ravel(), n).reshape(sy.shape + (n + 1,))
        out = np.zeros(shape)
        with np.errstate(over="ignore", invalid="ignore"):
            for l in range(n, -1, -1):  # Horner in q_xy
                out *= qxy
                out += ax[..., l] * ay[..., l]
        return _require_finite(self, out, "the dual kernel", qxx, qyy)

    def dual(self, q_xx, q_yy, q_xy):
        return self._mehler(self._reduced, q_xx, q_yy, q_xy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return self._mehler(self._reduced_derivative, q_xx, q_yy, q_xy)


class Monomial(Polynomial):
    """``act(t) = t^degree``; see :class:`Polynomial`.

    Parameters
    ----------
    degree : int, default=1
        ``0 <= degree <= 200``.

    Examples
    --------
    >>> from skntk.activations import Monomial
    >>> float(Monomial(degree=2).value(3.0))
    9.0
    """

    name = "monomial"
    _param_names = ("degree",)

    def __init__(self, degree=1):
        self.degree = _degree_param(
            "Monomial", degree, _MAX_POLY_DEGREE, "the bound on the cost of the exact duals"
        )
        super().__init__([0.0] * self.degree + [1.0])
        self.homogeneity = self.degree


def _hermite_reduced(n, s, degree):
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
        log_c = 0.5 * _hermite.log_factorial(n) - _hermite.log_factorial(k)
        log_c -= 0.5 * _hermite.log_factorial(l)
        with np.errstate(over="ignore"):  # an overflow is reported by the caller
            power = np.exp(log_c + k * log_half) if k > 0 else np.full(s.shape, math.exp(log_c))
        out[:, l] = np.where(half < 0, (-1.0) ** k, 1.0) * power
    return out


class Hermite(Polynomial):
    """``act(t) = h_degree(t) = He_degree(t) / sqrt(degree!)``, the orthonormal Hermite polynomial.

    Note: neural-tangents' Hermite kernel assumes unit variance; this class is exact for any
    variance. Its coefficients come from the scaling identity of Hermite polynomials (one term
    per degree), and its values from the three-term recurrence, so high degrees (up to 200)
    stay accurate; the monomial expansion ``coef`` is kept for reference only.

    Parameters
    ----------
    degree : int, default=1
        ``0 <= degree <= 200``.

    Examples
    --------
    >>> from skntk.activations import Hermite
    >>> round(float(Hermite(degree=2).dual(1.0, 1.0, 0.5)), 12)  # rho^2 on the unit sphere
    0.25
    """

    name = "hermite"
    _param_names = ("degree",)

    def __init__(self, degree=1):
        self.degree = _degree_param(
            "Hermite", degree, _MAX_POLY_DEGREE, "the bound on the cost of the exact duals"
        )
        coef = np.polynomial.hermite_e.herme2poly([0.0] * self.degree + [1.0])
        log_norm = 0.5 * float(_hermite.log_factorial(self.degree))
        self.coef = tuple(float(c) for c in coef * math.exp(-log_norm))
        self.homogeneity = None

    @staticmethod
    def _recurrence(n, t):
        t = np.asarray(t)
        t = t.astype(np.result_type(t, np.float32), copy=False)
        prev, cur = np.ones_like(t), t
        if n == 0:
            return prev
        for l in range(1, n):
            prev, cur = cur, (t * cur - math.sqrt(l) * prev) / math.sqrt(l + 1)
        return cur

    def value(self, t):
        return self._recurrence(self.degree, t)

    def derivative(self, t):
        if self.degree == 0:
            t = np.asarray(t)
            return np.zeros_like(t, dtype=np.result_type(t, np.float32))
        # h_n' = sqrt(n) h_(n-1)
        return math.sqrt(self.degree) * self._recurrence(self.degree - 1, t)

    def _reduced(self, s, degree):
        return _hermite_reduced(self.degree, s, degree)

    def _reduced_derivative(self, s, degree):
        if self.degree == 0:
            return np.zeros((s.shape[0], degree + 1))
        return math.sqrt(self.degree) * _hermite_reduced(self.degree - 1, s, degree)


# ----------------------------------------------------------------------------------------------
# Activations without closed-form duals (quadrature)
# ----------------------------------------------------------------------------------------------


class Gabor(Activation):
    """``act(t) = exp(-t^2) sin(t)``; duals and coefficients by quadrature.

    Examples
    --------
    >>> from skntk.activations import Gabor
    >>> float(Gabor().value(0.0))
    0.0
    """

    name = "gabor"

    def value(self, t):
        t = np.asarray(t)
        return np.exp(-t * t) * np.sin(t)

    def derivative(self, t):
        t = np.asarray(t)
        return np.exp(-t * t) * (np.cos(t) - 2.0 * t * np.sin(t))


class Tanh(Activation):
    """``act(t) = tanh(t)``; duals and coefficients by quadrature.

    Examples
    --------
    >>> from skntk.activations import Tanh
    >>> float(Tanh().derivative(0.0))
    1.0
    """

    name = "tanh"

    def value(self, t):
        return np.tanh(t)

    def derivative(self, t):
        return 1.0 - np.tanh(t) ** 2


class Sigmoid(Activation):
    """``act(t) = 1 / (1 + exp(-t))``; duals and coefficients by quadrature.

    Examples
    --------
    >>> from skntk.activations import Sigmoid
    >>> float(Sigmoid().value(0.0))
    0.5
    """

    name = "sigmoid"

    def value(self, t):
        return expit(t)

    def derivative(self, t):
        e = expit(t)
        return e * (1.0 - e)


class Softplus(Activation):
    """``act(t) = log(1 + exp(t))``; duals and coefficients by quadrature.

    Examples
    --------
    >>> from skntk.activations import Softplus
    >>> round(float(Softplus().value(0.0)), 6)
    0.693147
    """

    name = "softplus"

    def value(self, t):
        return np.logaddexp(0.0, t)

    def derivative(self, t):
        return expit(t)


class Silu(Activation):
    """``act(t) = t sigmoid(t)`` (swish); duals and coefficients by quadrature.

    Examples
    --------
    >>> from skntk.activations import Silu
    >>> float(Silu().value(0.0))
    0.0
    """

    name = "silu"

    def value(self, t):
        return t * expit(t)

    def derivative(self, t):
        e = expit(t)
        return e * (1.0 + t * (1.0 - e))


class Elu(Activation):
    """``act(t) = t`` for ``t > 0``, ``alpha (exp(t) - 1)`` otherwise; quadrature split at 0.

    Parameters
    ----------
    alpha : float, default=1.0
        Finite, at most 1e150 in magnitude.

    Examples
    --------
    >>> from skntk.activations import Elu
    >>> round(float(Elu(alpha=1.0).value(-1.0)), 6)
    -0.632121
    """

    name = "elu"
    _param_names = ("alpha",)

    def __init__(self, alpha=1.0):
        self.alpha = _real_param("Elu", "alpha", alpha)
        self.continuous_derivative = self.alpha == 1.0

    def value(self, t):
        t = np.asarray(t)
        return np.where(t > 0, t, self.alpha * np.expm1(np.minimum(t, 0.0)))

    def derivative(self, t):
        t = np.asarray(t)
        return np.where(t > 0, 1.0, self.alpha * np.exp(np.minimum(t, 0.0)))

    def _derivative_at_zero(self):
        return 0.5 * (1.0 + self.alpha)


def _callable_name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _reject_activation_class(obj, where):
    """``TypeError`` for an :class:`Activation` subclass passed where an instance belongs."""
    if isinstance(obj, type) and issubclass(obj, Activation):
        raise TypeError(
            f"{where} got the class {obj.__name__}, not an activation: pass an instance, "
            f"e.g. {obj.__name__}()"
        )


def _probe(fn, role):
    """Evaluate ``fn`` once on ``_PROBE_GRID`` and check the output (see CallableActivation)."""
    name = _callable_name(fn)
    grid = _PROBE_GRID.copy()
    try:
        with np.errstate(all="ignore"):
            out = fn(grid)
    except Exception as exc:
        raise TypeError(
            f"CallableActivation: {role} {name} failed on a float64 array of shape "
            f"{grid.shape} ({type(exc).__name__}: {exc}); it must be a vectorized function "
            "of a NumPy array, e.g. use np.tanh rather than math.tanh"
        ) from exc
    try:
        out = np.asarray(out)
    except Exception as exc:  # e.g. a ragged list
        raise ValueError(
            f"CallableActivation: {role} {name} returned {type(out).__name__}, which is not "
            "an array of numbers"
        ) from exc
    if np.iscomplexobj(out):
        raise ValueError(
            f"CallableActivation: {role} {name} returns complex values; it must return "
            "real numbers (take .real, or abs, yourself if that is what you mean)"
        )
    if out.dtype.kind not in "biuf":
        raise ValueError(
            f"CallableActivation: {role} {name} returns an array of dtype {out.dtype}; it "
            "must return real numbers"
        )
    if out.shape != grid.shape:
        raise ValueError(
            f"CallableActivation: {role} {name} returns shape {out.shape} for an input of "
            f"shape {grid.shape}; it must be elementwise (same shape as its input)"
        )
    bad = ~np.isfinite(out.astype(np.float64))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"CallableActivation: {role} {name} returns non-finite values on [-10, 10] "
            f"({int(bad.sum())} of {grid.size} probe points, e.g. {out[i]!r} at t = "
            f"{grid[i]:g}); an activation must be finite on the real line"
        )


class CallableActivation(Activation):
    """Wrap any vectorized Python callable as an activation.

    Hermite coefficients and duals come from quadrature. Without ``derivative``, the derivative
    is a central finite difference (accurate to about 1e-8); pass it for exact NTKs.

    The callable (and ``derivative``) is probed once, when the activation is built, on 401
    points of ``[-10, 10]`` passed as one float64 array: it must return a real, finite array of
    the same shape, else a ``ValueError`` (or a ``TypeError`` if the call itself fails) names
    it.

    Parameters
    ----------
    fn : callable
        Vectorized function ``t -> act(t)`` on NumPy arrays.
    derivative : callable, optional
        Vectorized derivative.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.activations import CallableActivation
    >>> act = CallableActivation(np.arctan)
    >>> float(act.value(0.0))
    0.0
    """

    name = "callable"

    def __init__(self, fn, derivative=None):
        _reject_activation_class(fn, "CallableActivation")
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if derivative is not None:
            _reject_activation_class(derivative, "CallableActivation(derivative=...)")
            if not callable(derivative):
                raise TypeError(
                    f"derivative must be callable or None, got {type(derivative).__name__}"
                )
        _probe(fn, "activation")
        if derivative is not None:
            _probe(derivative, "derivative")
        self.fn = fn
        self.derivative_fn = derivative  # ``derivative`` is the pointwise method's name
        self.continuous_derivative = False  # unknown: sketches take the unbiased Monte Carlo

    def get_params(self, deep=True):
        """``{"fn": ..., "derivative": ...}``, the constructor's arguments."""
        return {"fn": self.fn, "derivative": self.derivative_fn}

    def value(self, t):
        return np.asarray(self.fn(np.asarray(t, dtype=np.float64)), dtype=np.float64)

    def derivative(self, t):
        t = np.asarray(t, dtype=np.float64)
        if self.derivative_fn is not None:
            return np.asarray(self.derivative_fn(t), dtype=np.float64)
        h = 1e-5 * np.maximum(1.0, np.abs(t))
        return (self.value(t + h) - self.value(t - h)) / (2.0 * h)

    def __repr__(self):
        name = getattr(self.fn, "__name__", repr(self.fn))
        return f"CallableActivation({name})"


ACTIVATIONS = {
    cls.name: cls
    for cls in (
        ABReLU,
        ReLU,
        LeakyReLU,
        Abs,
        RectifiedMonomial,
        Sign,
        Erf,
        GeLU,
        Sin,
        Cos,
        Rbf,
        Exp,
        Gaussian,
        NormalizedGaussian,
        Polynomial,
        Monomial,
        Hermite,
        Gabor,
        Tanh,
        Sigmoid,
        Softplus,
        Silu,
        Elu,
    )
}
ACTIVATIONS["swish"] = Silu


def get_activation(activation="relu", **params):
    """Return an :class:`Activation` from a name, an activation object or a callable.

    Parameters
    ----------
    activation : str, Activation or callable
        A registry name (``"relu"``, ``"leaky_relu"``, ``"abs"``, ``"abrelu"``, ``"erf"``,
        ``"gelu"``, ``"sin"``, ``"cos"``, ``"rbf"``, ``"gabor"``, ``"exp"``, ``"gaussian"``,
        ``"normalized_gaussian"``, ``"monomial"``, ``"rectified_monomial"``, ``"polynomial"``,
        ``"hermite"``, ``"sign"``, ``"elu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"``,
        ``"silu"``), an :class:`Activation` instance (returned as is), or a vectorized
        callable (wrapped in a :class:`CallableActivation`, which probes it). An
        :class:`Activation` class such as ``ReLU`` is refused with a ``TypeError``: pass
        ``ReLU()``.
    **params
        Constructor parameters for a named activation, e.g. ``alpha=0.1`` for ``leaky_relu``.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        Unknown name, or parameters outside the activation's domain.
    TypeError
        A class instead of an instance, or an object that is not an activation.

    Examples
    --------
    >>> from skntk.activations import get_activation
    >>> get_activation("leaky_relu", alpha=0.1)
    LeakyReLU(alpha=0.1)
    """
    _reject_activation_class(activation, "get_activation")
    if isinstance(activation, Activation):
        if params:
            raise ValueError("parameters can only be given with an activation name")
        return activation
    if isinstance(activation, str):
        key = activation.lower()
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; known names: {sorted(ACTIVATIONS)}"
            )
        try:
            return ACTIVATIONS[key](**params)
        except TypeError as exc:
            raise ValueError(f"bad parameters for activation {activation!r}: {exc}") from None
    if callable(activation):
        return CallableActivation(activation, **params)
    raise TypeError(
        "activation must be a name, an Activation instance or a callable, got "
        f"{type(activation).__name__}"
    )
