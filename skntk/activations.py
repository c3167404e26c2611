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
"""

import math
import numbers

import numpy as np
from scipy.special import erf, expit, ndtr

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


class Activation(ValueObject):
    """Base class of activations.

    Subclasses set ``name`` and ``_param_names``, implement :meth:`value` and
    :meth:`derivative`, and override :meth:`hermite_coefficients`, :meth:`dual` and
    :meth:`dual_derivative` where closed forms exist. The defaults compute Hermite coefficients
    by composite Gauss-Legendre quadrature (split at 0, so kinks at the origin are resolved) and
    dual kernels by a 2-D Gauss-Hermite rule.

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
        return _hermite.numeric_radial_coefficients(self.value, s, degree)

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
            out[small] = _hermite.numeric_radial_coefficients(self.derivative, s[small], degree)
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
        return _numeric_dual(self.value, self.hermite_coefficients, q_xx, q_yy, q_xy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        """``E[act'(u) act'(v)]`` for the same Gaussian pair (broadcast)."""
        return _numeric_dual(
            self.derivative, self.derivative_hermite_coefficients, q_xx, q_yy, q_xy
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
        return _second_moment(self.value, q)

def _as_scales(s):
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    if s.ndim != 1:
        raise ValueError(f"scales must be a 1-D array, got shape {s.shape}")
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ValueError("scales must be finite and non-negative")
    return s


def _pair_geometry(q_xx, q_yy, q_xy):
    """``P = q_xx q_yy``, ``S = sqrt(max(P - q_xy^2, 0))`` and ``t = arctan2(S, q_xy)``."""
    q_xx, q_yy, q_xy = (np.asarray(a, dtype=np.float64) for a in (q_xx, q_yy, q_xy))
    prod = q_xx * q_yy
    S = np.sqrt(np.maximum(prod - q_xy * q_xy, 0.0))
    t = np.arctan2(S, q_xy)
    return prod, S, t


def _second_moment(fn, q):
    """``E[fn(u)^2]`` for ``u ~ N(0, q)``, elementwise over ``q``."""
    q = np.asarray(q, dtype=np.float64)
    g, w = _hermite.legendre_gaussian_rule()
    flat = np.sqrt(np.maximum(q.ravel(), 0.0))
    return ((fn(flat[:, None] * g[None, :]) ** 2) @ w).reshape(q.shape)


def _numeric_dual(fn, coefficients, q_xx, q_yy, q_xy, tol=_MEHLER_TOL):
    """``E[fn(u) fn(v)]`` by Mehler's series plus quadrature where the series converges slowly.

    ``coefficients(s, L)`` returns the radial Hermite coefficients of ``fn``. The remainder of the
    series truncated at ``L`` is bounded by ``|rho|^(L+1) sqrt(tail_x tail_y)`` with
    ``tail = E[fn^2] - sum_{l<=L} r_l^2``; pairs whose bound exceeds ``tol * sqrt(E_x E_y)`` are
    recomputed with :func:`skntk._hermite.gaussian_pair_expectation`.
    """
    q_xx, q_yy, q_xy = (np.asarray(a, dtype=np.float64) for a in (q_xx, q_yy, q_xy))
    shape = np.broadcast_shapes(q_xx.shape, q_yy.shape, q_xy.shape)
    s_all = np.sqrt(np.maximum(np.concatenate([q_xx.ravel(), q_yy.ravel()]), 0.0))
    scales, inverse = np.unique(s_all, return_inverse=True)
    coef = coefficients(scales, _MEHLER_MAX_DEGREE)
    energy = _second_moment(fn, scales**2)
    tails = np.maximum(energy[:, None] - np.cumsum(coef**2, axis=1), 0.0)
    ok = np.all(tails <= tol * tol * np.maximum(energy, 1e-300)[:, None], axis=0)
    degree = int(np.argmax(ok)) if ok.any() else _MEHLER_MAX_DEGREE
    coef, tail = coef[:, : degree + 1], tails[:, degree]
    ix, iy = inverse[: q_xx.size].reshape(q_xx.shape), inverse[q_xx.size :].reshape(q_yy.shape)
    sx, sy = scales[ix], scales[iy]
    denom = sx * sy
    rho = np.divide(q_xy, denom, out=np.zeros(np.broadcast_shapes(denom.shape, q_xy.shape)),
                    where=denom > 0)
    rho = np.broadcast_to(np.clip(rho, -1.0, 1.0), shape)
    out = np.zeros(shape)
    for l in range(degree, -1, -1):  # Horner in rho
        out *= rho
        out += coef[ix, l] * coef[iy, l]
    bound = np.abs(rho) ** (degree + 1) * np.sqrt(tail[ix] * tail[iy])
    bad = bound > tol * np.sqrt(energy[ix] * energy[iy])
    if np.any(bad):
        sxb, syb = np.broadcast_to(sx, shape)[bad], np.broadcast_to(sy, shape)[bad]
        out[bad] = _hermite.gaussian_pair_expectation(fn, fn, sxb, syb, rho[bad])
    return out


# ----------------------------------------------------------------------------------------------
# Homogeneous piecewise-linear family
# ----------------------------------------------------------------------------------------------


class ABReLU(Activation):
    """``act(t) = a min(t, 0) + b max(t, 0)``: the piecewise-linear family.

    Closed forms, with ``S = sqrt(q_xx q_yy - q_xy^2)`` and ``t = arctan2(S, q_xy)``:
    ``E[act(u) act(v)] = (a-b)^2 S / (2 pi) + ((a^2+b^2)/2 - (a-b)^2 t / (2 pi)) q_xy`` and
    ``E[act'(u) act'(v)] = (a^2+b^2)/2 - (a-b)^2 t / (2 pi)``. Homogeneous of degree 1:
    ``r_l(s) = s r_l(1)`` with ``r_l(1) = b c_l - a (-1)^l c_l`` and ``c_l`` ReLU's coefficients.

    Parameters
    ----------
    a, b : float
        Slopes on the negative and positive half-lines.

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
        self.a = float(a)
        self.b = float(b)

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
        ``arctan2`` per pair, no full-size temporaries beyond two.
        """
        q = np.asarray(q_xy)
        dtype = q.dtype if q.dtype in (np.float32, np.float64) else np.float64
        shape = np.broadcast_shapes(np.shape(q_xx), np.shape(q_yy), q.shape)
        if q.ndim == 0 or q.shape != shape:  # 0-d or broadcast input: work on a full copy
            q = np.array(np.broadcast_to(q, shape), dtype=dtype, ndmin=1)
        else:
            q = np.asarray(q, dtype=dtype)
        S = np.empty(q.shape, dtype=dtype)
        np.multiply(np.asarray(q_xx, dtype=dtype), np.asarray(q_yy, dtype=dtype), out=S)
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
        if len(shape) == 0:
            q, kp = q.reshape(()), kp.reshape(())
        return q, (kp if with_derivative else None)

    def dual(self, q_xx, q_yy, q_xy):
        _, S, t = _pair_geometry(q_xx, q_yy, q_xy)
        d2 = (self.a - self.b) ** 2
        return d2 * S / _TWO_PI + (0.5 * (self.a**2 + self.b**2) - d2 * t / _TWO_PI) * q_xy

    def dual_derivative(self, q_xx, q_yy, q_xy):
        _, _, t = _pair_geometry(q_xx, q_yy, q_xy)
        d2 = (self.a - self.b) ** 2
        return 0.5 * (self.a**2 + self.b**2) - d2 * t / _TWO_PI

    def second_moment(self, q):
        return 0.5 * (self.a**2 + self.b**2) * np.asarray(q, dtype=np.float64)


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

    Examples
    --------
    >>> from skntk.activations import LeakyReLU
    >>> float(LeakyReLU(alpha=0.1).value(-2.0))
    -0.2
    """

    name = "leaky_relu"
    _param_names = ("alpha",)

    def __init__(self, alpha=0.01):
        self.alpha = float(alpha)
        super().__init__(a=alpha, b=1.0)


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
    ``E[act(u) act(v)] = (q_xx q_yy)^(n/2) J_n(t) / (2 pi)`` for ``n <= 2`` (Mehler's series
    with many terms for larger ``n``) and
    ``E[act'(u) act'(v)] = n^2 (q_xx q_yy)^((n-1)/2) J_{n-1}(t) / (2 pi)``.

    Parameters
    ----------
    degree : int, default=1
        The power ``n >= 0`` (``n = 0`` is the step function, whose derivative has no NTK).

    Examples
    --------
    >>> from skntk.activations import RectifiedMonomial
    >>> float(RectifiedMonomial(degree=2).value(3.0))
    9.0
    """

    name = "rectified_monomial"
    _param_names = ("degree",)

    def __init__(self, degree=1):
        if not isinstance(degree, numbers.Integral) or degree < 0:
            raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
        self.degree = int(degree)
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
        out = (s**self.degree)[:, None] * unit[None, :]
        if self.degree == 0:  # at s = 0 the pre-activation is 0 and act(0) = 1
            out[s == 0] = np.eye(1, degree + 1)[0]
        return out

    @staticmethod
    def _arccos_j(n, t):
        sin, cos = np.sin(t), np.cos(t)
        if n == 0:
            return np.pi - t
        if n == 1:
            return sin + (np.pi - t) * cos
        if n == 2:
            return 3.0 * sin * cos + (np.pi - t) * (1.0 + 2.0 * cos * cos)
        if n == 3:
            return (
                15.0 * sin
                - 11.0 * sin**3
                + (np.pi - t) * (9.0 * cos + 6.0 * cos**3)
            )
        raise NotImplementedError

    def dual(self, q_xx, q_yy, q_xy):
        prod, _, t = _pair_geometry(q_xx, q_yy, q_xy)
        if self.degree > 3:
            return Activation.dual(self, q_xx, q_yy, q_xy)
        return prod ** (self.degree / 2) * self._arccos_j(self.degree, t) / _TWO_PI

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if self.degree == 0:
            raise ValueError("the step function has no NTK (its derivative is a delta)")
        prod, _, t = _pair_geometry(q_xx, q_yy, q_xy)
        n = self.degree
        if n > 4:
            return Activation.dual_derivative(self, q_xx, q_yy, q_xy)
        return n * n * prod ** ((n - 1) / 2) * self._arccos_j(n - 1, t) / _TWO_PI


class Sign(Activation):
    """``act(t) = sign(t)``. ``E[act(u) act(v)] = 1 - 2 t / pi`` (``t`` the angle).

    Homogeneous of degree 0. Its derivative is a delta, so it has an NNGP but no NTK.

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
        _, _, t = _pair_geometry(q_xx, q_yy, q_xy)
        return 1.0 - 2.0 * t / np.pi

    def dual_derivative(self, q_xx, q_yy, q_xy):
        raise ValueError("sign has no NTK: its derivative is a delta function")


# ----------------------------------------------------------------------------------------------
# Smooth activations with closed forms
# ----------------------------------------------------------------------------------------------


class Erf(Activation):
    """``act(t) = a erf(b t) + c``.

    With ``q`` scaled by ``b^2``:
    ``E[act(u) act(v)] = a^2 (2/pi) arcsin(2 q_xy / sqrt((1 + 2 q_xx)(1 + 2 q_yy))) + c^2``
    (the cross terms vanish because erf is odd) and
    ``E[act'(u) act'(v)] = a^2 b^2 (4/pi) / sqrt((1 + 2 q_xx)(1 + 2 q_yy) - 4 q_xy^2)``.
    Hermite coefficients follow from those of the Gaussian derivative ``2 a b exp(-b^2 t^2) /
    sqrt(pi)`` via ``r_{l+1}(s) = s r'_l(s) / sqrt(l+1)``.

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
        self.a, self.b, self.c = float(a), float(b), float(c)

    def value(self, t):
        return self.a * erf(self.b * np.asarray(t)) + self.c

    def derivative(self, t):
        t = np.asarray(t)
        return self.a * self.b * 2.0 / math.sqrt(math.pi) * np.exp(-((self.b * t) ** 2))

    def _gaussian_derivative(self):
        return Gaussian(a=2.0 * self.a * self.b / math.sqrt(math.pi), b=-self.b * self.b)

    def derivative_hermite_coefficients(self, s, degree):
        return self._gaussian_derivative().hermite_coefficients(s, degree)

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        out = np.zeros((s.shape[0], degree + 1))
        out[:, 0] = self.c
        if degree >= 1:
            d = self.derivative_hermite_coefficients(s, degree - 1)
            out[:, 1:] = s[:, None] * d / np.sqrt(np.arange(1, degree + 1))
        return out

    def dual(self, q_xx, q_yy, q_xy):
        b2 = self.b**2
        qxx, qyy, qxy = (b2 * np.asarray(a, dtype=np.float64) for a in (q_xx, q_yy, q_xy))
        arg = 2.0 * qxy / np.sqrt((1.0 + 2.0 * qxx) * (1.0 + 2.0 * qyy))
        return self.a**2 * (2.0 / np.pi) * np.arcsin(np.clip(arg, -1.0, 1.0)) + self.c**2

    def dual_derivative(self, q_xx, q_yy, q_xy):
        b2 = self.b**2
        qxx, qyy, qxy = (b2 * np.asarray(a, dtype=np.float64) for a in (q_xx, q_yy, q_xy))
        det = (1.0 + 2.0 * qxx) * (1.0 + 2.0 * qyy) - 4.0 * qxy * qxy
        return self.a**2 * b2 * (4.0 / np.pi) / np.sqrt(det)


class GeLU(Activation):
    """Exact GeLU, ``act(t) = t Phi(t)``.

    Closed form (second-order Gaussian integration by parts on ``t 1[t - z > 0]``): with
    ``M = sqrt((1 + q_xx)(1 + q_yy))``, ``D = M^2 - q_xy^2`` and
    ``N = q_xx q_yy + q_xy^2 (1 - q_xx q_yy) / M^2``,
    ``E[act(u) act(v)] = q_xy (1/4 + arcsin(q_xy / M) / (2 pi)) + N / (2 pi sqrt(D))``, and its
    derivative in ``q_xy`` (Price's theorem) gives ``E[act'(u) act'(v)]``.

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
    def _parts(q_xx, q_yy, q_xy):
        a, b, c = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        m2 = (1.0 + a) * (1.0 + b)
        k = (1.0 - a * b) / m2
        D = m2 - c * c
        return a, b, c, m2, k, D

    def dual(self, q_xx, q_yy, q_xy):
        a, b, c, m2, k, D = self._parts(q_xx, q_yy, q_xy)
        r = np.clip(c / np.sqrt(m2), -1.0, 1.0)
        return c * (0.25 + np.arcsin(r) / _TWO_PI) + (a * b + c * c * k) / (_TWO_PI * np.sqrt(D))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        a, b, c, m2, k, D = self._parts(q_xx, q_yy, q_xy)
        r = np.clip(c / np.sqrt(m2), -1.0, 1.0)
        sqd = np.sqrt(D)
        n = a * b + c * c * k
        tail = c / sqd + 2.0 * c * k / sqd + n * c / D**1.5
        return 0.25 + np.arcsin(r) / _TWO_PI + tail / _TWO_PI


class Sin(Activation):
    """``act(t) = a sin(b t + c)``.

    ``r_l(s) = a e^{-w^2/2} Im(e^{i c} (i w)^l) / sqrt(l!)`` with ``w = b s``;
    ``E[act(u) act(v)] = a^2/2 (S+ - S- cos 2c)``, ``E[act'(u) act'(v)] = a^2 b^2/2 (S+ + S- cos
    2c)``, ``S+- = exp(b^2 (-(q_xx + q_yy)/2 +- q_xy))``.

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
        self.a, self.b, self.c = float(a), float(b), float(c)

    def value(self, t):
        return self.a * np.sin(self.b * np.asarray(t) + self.c)

    def derivative(self, t):
        return self.a * self.b * np.cos(self.b * np.asarray(t) + self.c)

    def _complex_coefficients(self, s, degree):
        w = self.b * _as_scales(s)
        l = np.arange(degree + 1)
        logmag = -0.5 * w[:, None] ** 2 - 0.5 * _hermite.log_factorial(l)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            logmag = logmag + l[None, :] * np.log(np.abs(w))[:, None]
        mag = np.exp(logmag)
        mag[:, 0] = np.exp(-0.5 * w**2)
        if self.b < 0:
            mag = mag * ((-1.0) ** l)[None, :]
        phase = np.exp(1j * (self.c + 0.5 * np.pi * l))
        return self.a * mag * phase[None, :]

    def hermite_coefficients(self, s, degree):
        return self._complex_coefficients(s, degree).imag

    def dual(self, q_xx, q_yy, q_xy):
        b2 = self.b**2
        qxx, qyy, qxy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        sp = np.exp(b2 * (-(qxx + qyy) / 2 + qxy))
        sm = np.exp(b2 * (-(qxx + qyy) / 2 - qxy))
        return self.a**2 / 2 * (sp - sm * math.cos(2 * self.c))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        b2 = self.b**2
        qxx, qyy, qxy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        sp = np.exp(b2 * (-(qxx + qyy) / 2 + qxy))
        sm = np.exp(b2 * (-(qxx + qyy) / 2 - qxy))
        return self.a**2 * b2 / 2 * (sp + sm * math.cos(2 * self.c))


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

    Examples
    --------
    >>> from skntk.activations import Rbf
    >>> round(float(Rbf(gamma=0.5).dual(1.0, 1.0, 0.0)), 6)  # exp(-1)
    0.367879
    """

    name = "rbf"
    _param_names = ("gamma",)

    def __init__(self, gamma=1.0):
        self.gamma = float(gamma)
        super().__init__(a=math.sqrt(2.0), b=math.sqrt(2.0 * self.gamma), c=0.25 * math.pi)

    def dual(self, q_xx, q_yy, q_xy):
        qxx, qyy, qxy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        return np.exp(-self.gamma * (qxx + qyy - 2.0 * qxy))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return 2.0 * self.gamma * self.dual(q_xx, q_yy, q_xy)


class Exp(Activation):
    """``act(t) = a exp(b t)``.

    ``r_l(s) = a exp(b^2 s^2 / 2) (b s)^l / sqrt(l!)``;
    ``E[act(u) act(v)] = a^2 exp(b^2 ((q_xx + q_yy)/2 + q_xy))``, ``E[act' act'] = b^2 E[act act]``.

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
        self.a, self.b = float(a), float(b)

    def value(self, t):
        return self.a * np.exp(self.b * np.asarray(t))

    def derivative(self, t):
        return self.b * self.value(t)

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        w = self.b * s
        l = np.arange(degree + 1)
        out = self.a * np.exp(0.5 * w[:, None] ** 2) * np.ones((1, degree + 1))
        return out * w[:, None] ** l[None, :] / np.exp(0.5 * _hermite.log_factorial(l))[None, :]

    def dual(self, q_xx, q_yy, q_xy):
        qxx, qyy, qxy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        return self.a**2 * np.exp(self.b**2 * ((qxx + qyy) / 2 + qxy))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return self.b**2 * self.dual(q_xx, q_yy, q_xy)


class Gaussian(Activation):
    """``act(t) = a exp(b t^2)`` (requires ``1 - 2 b q > 0``).

    With ``D = sqrt((1 - 2b q_xx)(1 - 2b q_yy) - 4 b^2 q_xy^2)``:
    ``E[act(u) act(v)] = a^2 / D`` and ``E[act'(u) act'(v)] = 4 a^2 b^2 q_xy / D^3``.
    ``r_l(s) = a (1 - 2 b s^2)^{-1/2} (sigma^2 - 1)^{l/2} (l-1)!! / sqrt(l!)`` for even ``l``
    (0 for odd), ``sigma^2 = 1 / (1 - 2 b s^2)``.

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
        self.a, self.b = float(a), float(b)

    def value(self, t):
        t = np.asarray(t)
        return self.a * np.exp(self.b * t * t)

    def derivative(self, t):
        t = np.asarray(t)
        return 2.0 * self.b * t * self.value(t)

    def _check(self, q, factor=4.0):
        # E[act(u)^2] = E[a^2 exp(2 b u^2)] is finite only when 1 - 4 b q > 0 (the Hermite
        # coefficients themselves exist for 1 - 2 b q > 0)
        if self.b > 0 and np.any(1.0 - factor * self.b * np.asarray(q) <= 0):
            raise ValueError(
                f"gaussian activation with b > 0 needs 1 - {factor:g} b q > 0: the "
                "pre-activation variance q is too large for E[act(u)^2] to be finite"
            )

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        beta = self.b * s * s
        self._check(s * s, factor=2.0)
        base = 1.0 - 2.0 * beta
        ratio = 2.0 * beta / base  # sigma^2 - 1
        out = np.zeros((s.shape[0], degree + 1))
        for l in range(0, degree + 1, 2):
            log_c = _hermite.log_factorial(l) - 0.5 * l * math.log(2.0)
            log_c -= _hermite.log_factorial(l // 2) + 0.5 * _hermite.log_factorial(l)
            out[:, l] = ratio ** (l // 2) * math.exp(log_c)
        return self.a * out / np.sqrt(base)[:, None]

    def dual(self, q_xx, q_yy, q_xy):
        qxx, qyy, qxy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        self._check(qxx)
        self._check(qyy)
        D = np.sqrt((1 - 2 * self.b * qxx) * (1 - 2 * self.b * qyy) - 4 * self.b**2 * qxy**2)
        return self.a**2 / D

    def dual_derivative(self, q_xx, q_yy, q_xy):
        qxx, qyy, qxy = (np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        self._check(qxx)
        self._check(qyy)
        D = np.sqrt((1 - 2 * self.b * qxx) * (1 - 2 * self.b * qyy) - 4 * self.b**2 * qxy**2)
        return 4.0 * self.a**2 * self.b**2 * qxy / D**3


class NormalizedGaussian(Activation):
    """Normalized Gaussian map, ``E[act(u) act(v)] = sqrt(q_xx q_yy) exp(gamma (rho - 1))``.

    Defined on the kernel (it has no pointwise form). Homogeneous of degree 1 with Taylor
    coefficients ``c_l = e^{-gamma} gamma^l / l!``, so ``r_l(s) = s sqrt(c_l)`` and
    ``E[act'(u) act'(v)] = gamma exp(gamma (rho - 1))``.

    Parameters
    ----------
    gamma : float, default=1.0

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
        self.gamma = float(gamma)

    def value(self, t):
        raise ValueError("normalized_gaussian is defined on the kernel; it has no pointwise form")

    derivative = value

    def taylor_coefficients(self, degree):
        """``c_l = e^{-gamma} gamma^l / l!`` for ``l = 0..degree``."""
        l = np.arange(degree + 1)
        with np.errstate(divide="ignore"):
            return np.exp(-self.gamma + l * np.log(self.gamma) - _hermite.log_factorial(l))

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        return s[:, None] * np.sqrt(self.taylor_coefficients(degree))[None, :]

    def derivative_hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        c = self.taylor_coefficients(degree + 1)
        d = np.sqrt(np.arange(1, degree + 2) * c[1:])
        return np.broadcast_to(d, (s.shape[0], degree + 1)).copy()

    def _rho(self, q_xx, q_yy, q_xy):
        prod = np.asarray(q_xx, dtype=np.float64) * np.asarray(q_yy, dtype=np.float64)
        sq = np.sqrt(prod)
        rho = np.divide(q_xy, sq, out=np.ones(np.broadcast(prod, q_xy).shape), where=sq > 0)
        return sq, np.clip(rho, -1.0, 1.0)

    def dual(self, q_xx, q_yy, q_xy):
        sq, rho = self._rho(q_xx, q_yy, q_xy)
        return sq * np.exp(self.gamma * (rho - 1.0))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        _, rho = self._rho(q_xx, q_yy, q_xy)
        return self.gamma * np.exp(self.gamma * (rho - 1.0))

    def second_moment(self, q):
        return np.asarray(q, dtype=np.float64)


class Polynomial(Activation):
    """``act(t) = sum_i coef[i] t^i``.

    ``r_l(s) = sum_i coef[l+2i] (l+2i)! / (2^i i! sqrt(l!)) s^(l+2i)`` exactly, and the duals are
    the finite Mehler sums ``sum_l r_l(s_x) r_l(s_y) rho^l`` (exact).

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
        arr = np.atleast_1d(np.asarray(coef, dtype=np.float64))
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError("coef must be a non-empty 1-D sequence")
        self.coef = tuple(float(c) for c in arr)
        self.homogeneity = None

    @property
    def _n(self):
        return len(self.coef) - 1

    def value(self, t):
        return np.polynomial.polynomial.polyval(np.asarray(t), self.coef)

    def derivative(self, t):
        d = np.polynomial.polynomial.polyder(self.coef) if self._n > 0 else [0.0]
        return np.polynomial.polynomial.polyval(np.asarray(t), d)

    def hermite_coefficients(self, s, degree):
        s = _as_scales(s)
        out = np.zeros((s.shape[0], degree + 1))
        for l in range(min(degree, self._n) + 1):
            for i in range((self._n - l) // 2 + 1):
                k = l + 2 * i
                if self.coef[k] == 0.0:
                    continue
                log_c = (
                    _hermite.log_factorial(k)
                    - i * math.log(2.0)
                    - _hermite.log_factorial(i)
                    - 0.5 * _hermite.log_factorial(l)
                )
                out[:, l] += self.coef[k] * math.exp(log_c) * s**k
        return out

    def derivative_hermite_coefficients(self, s, degree):
        d = np.polynomial.polynomial.polyder(self.coef) if self._n > 0 else [0.0]
        return Polynomial(d).hermite_coefficients(s, degree)

    def _mehler(self, coeffs_fn, q_xx, q_yy, q_xy):
        qxx, qyy, qxy = np.broadcast_arrays(
            *(np.asarray(x, dtype=np.float64) for x in (q_xx, q_yy, q_xy))
        )
        sx, sy = np.sqrt(qxx), np.sqrt(qyy)
        n = self._n
        rx = coeffs_fn(sx.ravel(), n).reshape(sx.shape + (n + 1,))
        ry = coeffs_fn(sy.ravel(), n).reshape(sy.shape + (n + 1,))
        # Substitute rho^l r_l(s_x) r_l(s_y) with q_xy^l r_l(s_x)/s_x^l r_l(s_y)/s_y^l: exact at
        # zero variance too, since r_l(s) is divisible by s^l.
        out = np.zeros(qxy.shape)
        for l in range(n + 1):
            out += _div_pow(rx[..., l], sx, l) * _div_pow(ry[..., l], sy, l) * qxy**l
        return out

    def dual(self, q_xx, q_yy, q_xy):
        return self._mehler(self.hermite_coefficients, q_xx, q_yy, q_xy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return self._mehler(self.derivative_hermite_coefficients, q_xx, q_yy, q_xy)


def _div_pow(r, s, l):
    """``r / s^l`` where ``r`` is divisible by ``s^l``; the limit at ``s = 0`` is read off ``r``'s
    leading polynomial term, which is exactly what remains after division (0 unless l = 0)."""
    if l == 0:
        return r
    with np.errstate(divide="ignore", invalid="ignore"):
        out = r / s**l
    return np.where(s > 0, out, 0.0)


class Monomial(Polynomial):
    """``act(t) = t^degree``; see :class:`Polynomial`.

    Examples
    --------
    >>> from skntk.activations import Monomial
    >>> float(Monomial(degree=2).value(3.0))
    9.0
    """

    name = "monomial"
    _param_names = ("degree",)

    def __init__(self, degree=1):
        if not isinstance(degree, numbers.Integral) or degree < 0:
            raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
        self.degree = int(degree)
        super().__init__([0.0] * self.degree + [1.0])
        self.homogeneity = self.degree


class Hermite(Polynomial):
    """``act(t) = h_degree(t) = He_degree(t) / sqrt(degree!)``, the orthonormal Hermite polynomial.

    Note: neural-tangents' Hermite kernel assumes unit variance; this class is exact for any
    variance (it is a polynomial).

    Examples
    --------
    >>> from skntk.activations import Hermite
    >>> round(float(Hermite(degree=2).dual(1.0, 1.0, 0.5)), 12)  # rho^2 on the unit sphere
    0.25
    """

    name = "hermite"
    _param_names = ("degree",)

    def __init__(self, degree=1):
        if not isinstance(degree, numbers.Integral) or degree < 0:
            raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
        self.degree = int(degree)
        coef = np.polynomial.hermite_e.herme2poly([0.0] * self.degree + [1.0])
        super().__init__(coef / math.sqrt(math.factorial(self.degree)))


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

    Examples
    --------
    >>> from skntk.activations import Elu
    >>> round(float(Elu(alpha=1.0).value(-1.0)), 6)
    -0.632121
    """

    name = "elu"
    _param_names = ("alpha",)

    def __init__(self, alpha=1.0):
        self.alpha = float(alpha)
        self.continuous_derivative = self.alpha == 1.0

    def value(self, t):
        t = np.asarray(t)
        return np.where(t > 0, t, self.alpha * np.expm1(np.minimum(t, 0.0)))

    def derivative(self, t):
        t = np.asarray(t)
        return np.where(t > 0, 1.0, self.alpha * np.exp(np.minimum(t, 0.0)))

    def _derivative_at_zero(self):
        return 0.5 * (1.0 + self.alpha)


class CallableActivation(Activation):
    """Wrap any vectorized Python callable as an activation.

    Hermite coefficients and duals come from quadrature. Without ``derivative``, the derivative
    is a central finite difference (accurate to about 1e-8); pass it for exact NTKs.

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
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
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
        ``"silu"``), an :class:`Activation` (returned as is), or a vectorized callable.
    **params
        Constructor parameters for a named activation, e.g. ``alpha=0.1`` for ``leaky_relu``.

    Returns
    -------
    Activation

    Examples
    --------
    >>> from skntk.activations import get_activation
    >>> get_activation("leaky_relu", alpha=0.1)
    LeakyReLU(alpha=0.1)
    """
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
