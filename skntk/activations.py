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

import numpy as np
from scipy.special import xlogy

from . import _hermite, _numeric_duals
from ._activation_checks import (
    MAX_PARAM,
    as_scales,
    degree_param,
    overflow_error,
    probe,
    real_param,
)
from ._numeric_duals import as_dtype, as_float64, require_finite, scales_array
from ._pair_geometry import cosine_gap, half_distance, pair_geometry, pow2_unit_factor, sine
from ._special import from_host, is_array_api_input, ops, to_host
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
# Below this scale derivative coefficients are integrated directly instead of via Stein.
_SMALL_SCALE = 1e-3
# Largest power of the polynomial family (bounds the cost of the exact Mehler sums) and of the
# rectified monomials (their unit Hermite coefficients lose accuracy beyond, ~1e-11 at 40).
_MAX_POLY_DEGREE = 200
_MAX_RECTIFIED_DEGREE = 32
_LOG_FLOAT_MAX = math.log(np.finfo(np.float64).max)


def _host_coefficients(method):
    """Coefficient tables computed with NumPy: scales of another namespace are copied to the
    host (``O(n)`` numbers) and the table moved back."""

    def wrapper(self, s, degree):
        if is_array_api_input(s):
            return from_host(method(self, to_host(s), degree), s)
        return method(self, s, degree)

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


def _pointwise_input(t):
    """``(m, t)``: the function set of ``t``'s namespace and ``t`` as an array of it (a NumPy
    array for Python numbers, lists and NumPy input)."""
    if is_array_api_input(t):
        return ops(t), t
    return ops(), np.asarray(t)


def _float_dtype(m, t):
    """The floating dtype of a pointwise result for input ``t`` (float32 stays float32)."""
    if m.native:
        return m.result_type(t, m.float32)
    return t.dtype if m.isdtype(t.dtype, "real floating") else m.float64


def _shape(*arrays):
    return np.broadcast_shapes(
        *(tuple(np.shape(a)) if not hasattr(a, "shape") else tuple(a.shape) for a in arrays)
    )


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
    # Why a result can fail to be finite, for the error that reports it.
    _non_finite_cause = "overflows float64"

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
        s = scales_array(s)
        return _numeric_duals.radial_coefficients(self, self.value, s, degree)

    def derivative_hermite_coefficients(self, s, degree):
        """Coefficients of the derivative, ``r'_l(s) = E[act'(s g) h_l(g)]``.

        Computed from the activation's own coefficients with Stein's lemma,
        ``r'_l(s) = sqrt(l+1) r_{l+1}(s) / s``; at ``s = 0`` the limit ``act'(0) [l = 0]``.

        Returns
        -------
        ndarray of shape (n, degree + 1), float64
            In the namespace of ``s`` (NumPy for lists and NumPy input).
        """
        s = scales_array(s)
        m = ops(s)
        r = self.hermite_coefficients(s, degree + 1)
        scale = m.sqrt(m.arange(1, degree + 2, dtype=m.float64))
        pos = s > 0
        out = m.where(pos[:, None], r[:, 1:] * scale[None, :] / m.where(pos, s, 1.0)[:, None], 0.0)
        # Stein's division by s loses ~1e-16/s; at small scales integrate act' directly
        small = pos & (s < _SMALL_SCALE)
        if self.has_pointwise_form and bool(m.any(small)):
            out[small] = _numeric_duals.radial_coefficients(self, self.derivative, s[small], degree)
        if not bool(m.all(pos)):
            first = m.arange(degree + 1) == 0
            out = m.where((~pos)[:, None] & first[None, :], float(self._derivative_at_zero()), out)
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
        return _numeric_duals.numeric_dual(
            self, self.value, self.hermite_coefficients, q_xx, q_yy, q_xy
        )

    def dual_derivative(self, q_xx, q_yy, q_xy):
        """``E[act'(u) act'(v)]`` for the same Gaussian pair (broadcast)."""
        return _numeric_duals.numeric_dual(
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
        (q,) = as_float64(ops(q), q)
        if self.has_closed_form_dual:
            return self.dual(q, q, q)
        return require_finite(self, _numeric_duals.second_moment(self.value, q), "E[act(u)^2]", q)


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
        self.a = real_param(owner, "a", a)
        self.b = real_param(owner, "b", b)

    def value(self, t):
        m, t = _pointwise_input(t)
        return self.a * m.minimum(t, 0) + self.b * m.maximum(t, 0)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        # a step: built in the output dtype (np.where would go through float64)
        out = m.astype(t > 0, _float_dtype(m, t))
        if self.a != 0.0 or self.b != 1.0:
            out *= self.b - self.a
            out += self.a
        return out

    def _derivative_at_zero(self):
        return 0.5 * (self.a + self.b)

    def hermite_coefficients(self, s, degree):
        s = scales_array(s)
        m = ops(s)
        relu = _hermite.rectified_monomial_unit_coefficients(1, degree)
        sign = (-1.0) ** np.arange(degree + 1)
        unit = m.asarray(self.b * relu - self.a * sign * relu)
        return s[:, None] * unit[None, :]

    def derivative_hermite_coefficients(self, s, degree):
        s = scales_array(s)
        m = ops(s)
        unit = self.hermite_coefficients(np.ones(1), degree + 1)[0]
        deriv = m.asarray(np.sqrt(np.arange(1, degree + 2)) * unit[1:])
        return m.copy(m.broadcast_to(deriv[None, :], (s.shape[0], degree + 1)))

    def duals(self, q_xx, q_yy, q_xy, with_derivative=True):
        """Fused, in-place evaluation in the dtype of ``q_xy`` (which it overwrites).

        Uses ``E[act act] = (a-b)^2 S / (2 pi) + q_xy E[act' act']``: one ``sqrt`` and one
        ``arctan2`` per pair, no full-size temporaries beyond two. ``S`` and the angle are
        formed in exactly rescaled variables (``q 2^-k``, see
        :func:`~skntk._pair_geometry.pair_geometry`) and scaled back, so the duals are exact at
        any scale (the homogeneity) and never overflow in ``q_xx q_yy``. NumPy and CuPy
        update in place (``out=``); other array-API namespaces get the same steps out of
        place.
        """
        m = ops(q_xx, q_yy, q_xy)
        q = q_xy if is_array_api_input(q_xy) or m.is_numpy else m.asarray(q_xy)
        q = np.asarray(q) if m.is_numpy else q
        dtype = q.dtype if q.dtype in (m.float32, m.float64) else m.float64
        shape = _shape(q_xx, q_yy, q)
        if q.ndim == 0 or tuple(q.shape) != shape:  # 0-d or broadcast input: a full copy
            q = m.astype(m.broadcast_to(m.asarray(q), shape or (1,)), dtype, copy=True)
        else:
            q = m.astype(q, dtype)
        vx = m.maximum(as_dtype(m, q_xx, dtype), 0)
        vy = m.maximum(as_dtype(m, q_yy, dtype), 0)
        # |E[act(u) act(v)]| <= (a^2 + b^2) s_x s_y / 2 (Cauchy-Schwarz): refuse what the
        # dtype cannot hold
        if math.prod(vx.shape) and math.prod(vy.shape):
            bound = math.sqrt(m.max_or(vx, 0.0)) * math.sqrt(m.max_or(vy, 0.0))
            bound *= 0.5 * (self.a**2 + self.b**2)
            if bound > float(m.finfo(dtype).max):
                raise overflow_error(self, "E[act(u) act(v)]", to_host(vx), to_host(vy))
        fx, fy = pow2_unit_factor(vx), pow2_unit_factor(vy)  # on the un-broadcast variances
        q *= fx
        q *= fy
        S = m.empty(q.shape, dtype=dtype)
        S = m.multiply(vx * fx * fx, vy * fy * fy, out=S)
        tmp = m.multiply(q, q)
        S -= tmp
        S = m.maximum(S, 0, out=S)
        S = m.sqrt(S, out=S)
        kp = m.arctan2(S, q, out=tmp)
        c1 = (self.a - self.b) ** 2 / _TWO_PI
        kp *= -c1
        kp += 0.5 * (self.a**2 + self.b**2)
        q *= kp
        S *= c1
        q += S
        q /= fx
        q /= fy
        if len(shape) == 0:
            q, kp = m.reshape(q, ()), m.reshape(kp, ())
        return q, (kp if with_derivative else None)

    def dual(self, q_xx, q_yy, q_xy):
        m = ops(q_xx, q_yy, q_xy)
        return self.duals(q_xx, q_yy, m.copy(as_float64(m, q_xy)[0]), False)[0]

    def dual_derivative(self, q_xx, q_yy, q_xy):
        t = pair_geometry(q_xx, q_yy, q_xy, at_zero=1.0, angle=True)[-1]
        d2 = (self.a - self.b) ** 2
        return 0.5 * (self.a**2 + self.b**2) - d2 * t / _TWO_PI

    def second_moment(self, q):
        out = 0.5 * (self.a**2 + self.b**2) * as_float64(ops(q), q)[0]
        return require_finite(self, out, "E[act(u)^2]", q)


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
        self.alpha = real_param("LeakyReLU", "alpha", alpha)
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
        self.degree = degree_param(
            "RectifiedMonomial",
            degree,
            _MAX_RECTIFIED_DEGREE,
            "its unit Hermite coefficients lose accuracy beyond",
        )
        self.homogeneity = self.degree
        self.has_closed_form_dual = self.degree <= 3
        self.continuous_derivative = self.degree >= 2

    def value(self, t):
        m, t = _pointwise_input(t)
        return m.where(t >= 0, t**self.degree, 0.0)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        if self.degree == 0:
            return m.zeros_like(t, dtype=_float_dtype(m, t))
        return m.where(t >= 0, self.degree * t ** (self.degree - 1), 0.0)

    def hermite_coefficients(self, s, degree):
        s = scales_array(s)
        m = ops(s)
        unit = m.asarray(_hermite.rectified_monomial_unit_coefficients(self.degree, degree))
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            out = (s**self.degree)[:, None] * unit[None, :]
        if self.degree == 0:  # at s = 0 the pre-activation is 0 and act(0) = 1
            first = m.asarray(np.eye(1, degree + 1)[0])
            out = m.where((s == 0)[:, None], first[None, :], out)
        return require_finite(self, out, "the Hermite coefficients", s * s)

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
            sin = sine(rho) if sin is None else sin
            return self._arccos_j(n, ops(sin, rho).arctan2(sin, rho), sin, rho) / _TWO_PI
        one = np.ones(())
        return _numeric_duals.numeric_dual(
            self, self.value, self.hermite_coefficients, one, one, rho
        )

    def dual(self, q_xx, q_yy, q_xy):
        # homogeneity: (s_x s_y)^n times the unit-sphere dual, exact at any scale
        _, _, m, rho, sin = pair_geometry(q_xx, q_yy, q_xy, at_zero=1.0)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            out = m**self.degree * self._unit_dual(rho, sin)
        return require_finite(self, out, "E[act(u) act(v)]", q_xx, q_yy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if self.degree == 0:
            raise ValueError("the step function has no NTK (its derivative is a delta)")
        # act' = n t^(n-1) 1[t >= 0]: n^2 times the dual of the order below
        _, _, m, rho, sin = pair_geometry(q_xx, q_yy, q_xy, at_zero=1.0)
        n = self.degree
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            out = n * n * m ** (n - 1) * RectifiedMonomial(n - 1)._unit_dual(rho, sin)
        return require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


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
        m, t = _pointwise_input(t)
        return m.sign(t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return m.zeros_like(t, dtype=_float_dtype(m, t))

    def hermite_coefficients(self, s, degree):
        s = scales_array(s)
        unit = 2.0 * _hermite.rectified_monomial_unit_coefficients(0, degree)
        unit[0] = 0.0
        m = ops(s)
        return m.where(s[:, None] > 0, m.asarray(unit)[None, :], 0.0)

    def derivative_hermite_coefficients(self, s, degree):
        raise ValueError("sign has no NTK: its derivative is a delta function")

    def dual(self, q_xx, q_yy, q_xy):
        _, _, m, _, _, t = pair_geometry(q_xx, q_yy, q_xy, at_zero=1.0, angle=True)
        return ops(m).where(m > 0, 1.0 - 2.0 * t / np.pi, 0.0)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        raise ValueError("sign has no NTK: its derivative is a delta function")


# ----------------------------------------------------------------------------------------------
# Smooth activations with closed forms
# ----------------------------------------------------------------------------------------------


def _moderate(q_xx, q_yy, limit=1e6):
    """Whether every variance lies in ``[0, limit]``: the range where the direct closed forms
    of Erf and GeLU neither overflow nor cancel (the overflow-safe forms cost 3-4x more)."""
    m = ops(q_xx, q_yy)
    q_xx, q_yy = as_float64(m, q_xx, q_yy)
    return bool(m.all((q_xx <= limit) & (q_xx >= 0))) and bool(m.all((q_yy <= limit) & (q_yy >= 0)))


class Erf(Activation):
    """``act(t) = a erf(b t) + c``.

    With ``z = b^2 q`` the scaled variances:
    ``E[act(u) act(v)] = a^2 (2/pi) arcsin(2 z_xy / sqrt((1 + 2 z_xx)(1 + 2 z_yy))) + c^2``
    (the cross terms vanish because erf is odd) and
    ``E[act'(u) act'(v)] = a^2 b^2 (4/pi) / sqrt((1 + 2 z_xx)(1 + 2 z_yy) - 4 z_xy^2)``.
    Evaluated as ``arcsin(r) = arctan2(r, w)`` with ``r = rho gamma_x gamma_y``,
    ``gamma = sqrt(2z / (1 + 2z))`` and ``w = sqrt(1 - r^2)`` from
    :func:`~skntk._pair_geometry.cosine_gap`, so that no ``1 + 2z`` is formed: as ``q -> inf``
    the dual tends to
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
        self.a = real_param("Erf", "a", a)
        self.b = real_param("Erf", "b", b)
        self.c = real_param("Erf", "c", c)

    def value(self, t):
        m, t = _pointwise_input(t)
        return self.a * m.erf(self.b * t) + self.c

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return self.a * self.b * 2.0 / math.sqrt(math.pi) * m.exp(-((self.b * t) ** 2))

    @_host_coefficients
    def derivative_hermite_coefficients(self, s, degree):
        s = as_scales(s)
        return _hermite.gaussian_radial_coefficients(
            2.0 * self.a * self.b / math.sqrt(math.pi), -(self.b**2), s, degree
        )

    @_host_coefficients
    def hermite_coefficients(self, s, degree):
        s = as_scales(s)
        out = np.zeros((s.shape[0], degree + 1))
        out[:, 0] = self.c
        if degree >= 1:
            d = self.derivative_hermite_coefficients(s, degree - 1)
            out[:, 1:] = s[:, None] * d / np.sqrt(np.arange(1, degree + 1))
        return out

    def _terms(self, q_xx, q_yy, q_xy):
        """``r``, ``w = sqrt(1 - r^2)`` and ``b / sqrt(1 + 2 z)`` of both inputs."""
        sx, sy, _, rho, sin = pair_geometry(q_xx, q_yy, q_xy)
        m = ops(sx)
        k = math.sqrt(2.0) * abs(self.b)  # k s <= 2e304: no overflow
        hx, hy = m.hypot(1.0, k * sx), m.hypot(1.0, k * sy)
        ix, iy = 1.0 / hx, 1.0 / hy
        gx, gy = k * sx * ix, k * sy * iy
        w = cosine_gap(rho, sin, ix, gx, iy)
        return rho * gx * gy, w, self.b * ix, self.b * iy

    def _is_moderate(self, q_xx, q_yy):
        return _moderate(q_xx, q_yy, 1e6 / self.b**2 if self.b else np.inf)

    def dual(self, q_xx, q_yy, q_xy):
        if self._is_moderate(q_xx, q_yy):
            return self._moderate_duals(q_xx, q_yy, q_xy, False)[0]
        r, w, _, _ = self._terms(q_xx, q_yy, q_xy)
        return self.a**2 * (2.0 / np.pi) * ops(r).arctan2(r, w) + self.c**2

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if self._is_moderate(q_xx, q_yy) and self.b != 0.0 and self.a != 0.0:
            return self._moderate_duals(q_xx, q_yy, q_xy, True)[1]
        if self.b == 0.0 or self.a == 0.0:
            return ops(q_xx, q_yy, q_xy).zeros(_shape(q_xx, q_yy, q_xy))
        _, w, bx, by = self._terms(q_xx, q_yy, q_xy)
        out = (4.0 / np.pi) * (self.a * bx) * (self.a * by) / w
        return require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)

    def _moderate_duals(self, q_xx, q_yy, q_xy, with_derivative):
        """The direct closed form, 4x faster: exact to rounding while ``q <= 1e6``."""
        m = ops(q_xx, q_yy, q_xy)
        zx, zy, zxy = (self.b**2 * q for q in as_float64(m, q_xx, q_yy, q_xy))
        m2 = (1.0 + 2.0 * zx) * (1.0 + 2.0 * zy)
        r = m.clip(2.0 * zxy / m.sqrt(m2), -1.0, 1.0)
        nngp = self.a**2 * (2.0 / np.pi) * m.arcsin(r) + self.c**2
        if not with_derivative:
            return nngp, None
        det = m.maximum(m2 - 4.0 * zxy * zxy, np.finfo(np.float64).tiny)
        return nngp, (4.0 / np.pi) * self.a**2 * self.b**2 / m.sqrt(det)

    def duals(self, q_xx, q_yy, q_xy, with_derivative=True):
        if self._is_moderate(q_xx, q_yy) and self.b != 0.0 and self.a != 0.0:
            return self._moderate_duals(q_xx, q_yy, q_xy, with_derivative)
        r, w, bx, by = self._terms(q_xx, q_yy, q_xy)
        m = ops(r)
        nngp = self.a**2 * (2.0 / np.pi) * m.arctan2(r, w) + self.c**2
        if not with_derivative:
            return nngp, None
        if self.b == 0.0 or self.a == 0.0:
            return nngp, m.zeros_like(nngp)
        deriv = (4.0 / np.pi) * (self.a * bx) * (self.a * by) / w
        return nngp, require_finite(self, deriv, "E[act'(u) act'(v)]", q_xx, q_yy)


class GeLU(Activation):
    """Exact GeLU, ``act(t) = t Phi(t)``.

    Closed form (second-order Gaussian integration by parts on ``t 1[t - z > 0]``): with
    ``M = sqrt((1 + q_xx)(1 + q_yy))``, ``D = M^2 - q_xy^2`` and
    ``N = q_xx q_yy + q_xy^2 (1 - q_xx q_yy) / M^2``,
    ``E[act(u) act(v)] = q_xy (1/4 + arcsin(q_xy / M) / (2 pi)) + N / (2 pi sqrt(D))``, and its
    derivative in ``q_xy`` (Price's theorem) gives ``E[act'(u) act'(v)]``.

    Evaluated without forming ``M``, ``D`` or ``q_xx q_yy`` (which overflow past 1e154 and
    cancel catastrophically past 1e8): with ``u = 1/(1 + q_xx)``, ``v = 1/(1 + q_yy)``,
    ``r = q_xy / M`` and ``w = sqrt(1 - r^2)`` (:func:`~skntk._pair_geometry.cosine_gap`),
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
        m, t = _pointwise_input(t)
        return t * m.ndtr(t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return m.ndtr(t) + t * m.exp(-0.5 * t * t) / _SQRT_2PI

    @staticmethod
    def _terms(q_xx, q_yy, q_xy):
        sa, sb, mm, rho, sin = pair_geometry(q_xx, q_yy, q_xy)
        m = ops(sa)
        ia = 1.0 / m.sqrt(1.0 + sa * sa)  # sqrt(u) >= 7e-155
        ib = 1.0 / m.sqrt(1.0 + sb * sb)
        ga, gb = sa * ia, sb * ib  # sqrt(q / (1 + q))
        w = cosine_gap(rho, sin, ia, ga, ib)
        r = rho * ga * gb
        # pi/2 + arcsin(r) = arccos(-r): 1/4 + arcsin(r) / (2 pi) without cancellation at r ~ -1
        quarter = m.arctan2(w, -r) / _TWO_PI
        return as_float64(m, q_xy)[0], mm, ia, ib, ga, gb, r, w, quarter

    @staticmethod
    def _nngp(c, m, ia, ib, ga, gb, r, w, quarter):
        return c * quarter + (m * ga * gb * w + r * r * (ia / w) * ib) / _TWO_PI

    @staticmethod
    def _ntk_factor(ia, ib, r, w, quarter):
        u, v = ia * ia, ib * ib
        tail = (r / w) * (u + v + u * v) + ((ia / w) * ib) ** 2 * (r**3 / w)
        return quarter + tail / _TWO_PI

    def dual(self, q_xx, q_yy, q_xy):
        if _moderate(q_xx, q_yy):
            return self._moderate_duals(q_xx, q_yy, q_xy, False)[0]
        c, m, ia, ib, ga, gb, r, w, quarter = self._terms(q_xx, q_yy, q_xy)
        out = self._nngp(c, m, ia, ib, ga, gb, r, w, quarter)
        return require_finite(self, out, "E[act(u) act(v)]", q_xx, q_yy)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if _moderate(q_xx, q_yy):
            return self._moderate_duals(q_xx, q_yy, q_xy, True)[1]
        _, _, ia, ib, _, _, r, w, quarter = self._terms(q_xx, q_yy, q_xy)
        return self._ntk_factor(ia, ib, r, w, quarter)

    @staticmethod
    def _moderate_duals(q_xx, q_yy, q_xy, with_derivative):
        """The direct closed form, 3x faster: exact to rounding while ``q <= 1e6`` (below,
        ``M^2 - q_xy^2`` keeps all but ~1e-4 of its digits' worth of relative accuracy)."""
        m = ops(q_xx, q_yy, q_xy)
        a, b, c = as_float64(m, q_xx, q_yy, q_xy)
        m2 = (1.0 + a) * (1.0 + b)
        k = (1.0 - a * b) / m2
        D = m.maximum(m2 - c * c, np.finfo(np.float64).tiny)
        sqd = m.sqrt(D)
        quarter = 0.25 + m.arcsin(m.clip(c / m.sqrt(m2), -1.0, 1.0)) / _TWO_PI
        n = a * b + c * c * k
        nngp = c * quarter + n / (_TWO_PI * sqd)
        if not with_derivative:
            return nngp, None
        return nngp, quarter + (c / sqd + 2.0 * c * k / sqd + n * c / (D * sqd)) / _TWO_PI

    def duals(self, q_xx, q_yy, q_xy, with_derivative=True):
        if _moderate(q_xx, q_yy):
            return self._moderate_duals(q_xx, q_yy, q_xy, with_derivative)
        c, m, ia, ib, ga, gb, r, w, quarter = self._terms(q_xx, q_yy, q_xy)
        nngp = require_finite(
            self, self._nngp(c, m, ia, ib, ga, gb, r, w, quarter), "E[act(u) act(v)]", q_xx, q_yy
        )
        return nngp, (self._ntk_factor(ia, ib, r, w, quarter) if with_derivative else None)


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
        self.a = real_param(owner, "a", a)
        self.b = real_param(owner, "b", b)
        self.c = real_param(owner, "c", c, max_abs=math.inf)

    def value(self, t):
        m, t = _pointwise_input(t)
        return self.a * m.sin(self.b * t + self.c)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return self.a * self.b * m.cos(self.b * t + self.c)

    def _complex_coefficients(self, s, degree):
        w = self.b * as_scales(s)  # |w| <= 2e304
        l = np.arange(degree + 1)
        with np.errstate(over="ignore"):
            logmag = -0.5 * w[:, None] ** 2 - 0.5 * _hermite.log_factorial(l)[None, :]
        logmag = logmag + xlogy(l[None, :], np.abs(w)[:, None])
        mag = np.exp(logmag)
        if self.b < 0:
            mag = mag * ((-1.0) ** l)[None, :]
        phase = np.exp(1j * (self.c + 0.5 * np.pi * l))
        return self.a * mag * phase[None, :]

    @_host_coefficients
    def hermite_coefficients(self, s, degree):
        return self._complex_coefficients(s, degree).imag

    def _exponentials(self, q_xx, q_yy, q_xy):
        b2 = self.b**2
        m = ops(q_xx, q_yy, q_xy)
        sp = m.exp(-2.0 * b2 * half_distance(q_xx, q_yy, q_xy, -1.0))
        sm = m.exp(-2.0 * b2 * half_distance(q_xx, q_yy, q_xy, 1.0))
        return sp, sm

    def dual(self, q_xx, q_yy, q_xy):
        sp, sm = self._exponentials(q_xx, q_yy, q_xy)
        return self.a**2 / 2 * (sp - sm * math.cos(2 * self.c))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        sp, sm = self._exponentials(q_xx, q_yy, q_xy)
        out = (self.a * self.b) ** 2 / 2 * (sp + sm * math.cos(2 * self.c))
        return require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


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
        m, t = _pointwise_input(t)
        return self.a * m.cos(self.b * t + self.c)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return -self.a * self.b * m.sin(self.b * t + self.c)

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
        self.gamma = real_param(
            "Rbf",
            "gamma",
            gamma,
            minimum=0.0,
            max_abs=0.5 * MAX_PARAM**2,
            reason=" (the RBF kernel exp(-gamma |x - y|^2) needs a real frequency)",
        )
        super().__init__(a=math.sqrt(2.0), b=math.sqrt(2.0 * self.gamma), c=0.25 * math.pi)

    def dual(self, q_xx, q_yy, q_xy):
        return ops(q_xx, q_yy, q_xy).exp(-4.0 * self.gamma * half_distance(q_xx, q_yy, q_xy, -1.0))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        out = 2.0 * self.gamma * self.dual(q_xx, q_yy, q_xy)
        return require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


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
        self.a = real_param("Exp", "a", a)
        self.b = real_param("Exp", "b", b)

    def value(self, t):
        m, t = _pointwise_input(t)
        return self.a * m.exp(self.b * t)

    def derivative(self, t):
        return self.b * self.value(t)

    def _overflow(self, what, q, log_factor=0.0):
        """The error for ``factor a^2 exp(2 b^2 q)`` past float64, with the limit on ``q``."""
        q = to_host(q)
        qmax = float(np.max(q)) if np.size(q) else 0.0
        room = _LOG_FLOAT_MAX - 2.0 * math.log(abs(self.a)) - log_factor
        limit = room / (2.0 * self.b**2) if self.b != 0.0 else math.inf
        return ValueError(
            f"{self!r}: {what} grows like a^2 exp(2 b^2 q) and overflows float64 at "
            f"pre-activation variance {qmax:.3g}; it needs q < {limit:.4g}. Scale the inputs "
            "down, or reduce weight_std, bias_std or depth"
        )

    @_host_coefficients
    def hermite_coefficients(self, s, degree):
        s = as_scales(s)
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
        m = ops(q_xx, q_yy, q_xy)
        shape = _shape(q_xx, q_yy, q_xy)
        if self.a == 0.0 or log_factor == -math.inf:
            return m.zeros(shape)
        half = half_distance(q_xx, q_yy, q_xy, 1.0)
        log_out = 2.0 * math.log(abs(self.a)) + log_factor + 2.0 * self.b**2 * half
        if bool(m.any(log_out > _LOG_FLOAT_MAX)):
            q_xx, q_yy = as_float64(m, q_xx, q_yy)
            raise self._overflow(what, m.maximum(q_xx, q_yy), log_factor)
        return m.copy(m.broadcast_to(m.exp(log_out), shape))

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
    from :func:`~skntk._pair_geometry.cosine_gap`,
    ``r = 2 b q_xy / sqrt((1 - 2b q_xx)(1 - 2b q_yy))``: for ``b < 0`` it stays accurate for
    variances up to 1e300, where the dual tends to
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
        self.a = real_param("Gaussian", "a", a)
        self.b = real_param("Gaussian", "b", b)

    def value(self, t):
        m, t = _pointwise_input(t)
        return self.a * m.exp(self.b * t * t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return 2.0 * self.b * t * self.value(t)

    def _check(self, q, factor=4.0):
        # E[act(u)^2] = E[a^2 exp(2 b u^2)] is finite only when 1 - 4 b q > 0 (the Hermite
        # coefficients themselves exist for 1 - 2 b q > 0)
        m = ops(q)
        (q,) = as_float64(m, q)
        if self.b > 0 and bool(m.any(1.0 - factor * self.b * q <= 0)):
            raise ValueError(
                f"{self!r} with b > 0 needs 1 - {factor:g} b q > 0, i.e. a pre-activation "
                f"variance q < {1.0 / (factor * self.b):.4g}; got q = {float(m.max(q)):.4g}: "
                "the variance is too large for E[act(u)^2] to be finite. Scale the inputs "
                "down or use b <= 0"
            )

    @_host_coefficients
    def hermite_coefficients(self, s, degree):
        s = as_scales(s)
        self._check(s * s, factor=2.0)
        return _hermite.gaussian_radial_coefficients(self.a, self.b, s, degree)

    def _terms(self, q_xx, q_yy, q_xy):
        """``rho``, ``w``, ``i = (1 - 2 b q)^{-1/2}`` and ``gamma = sqrt(2|b| q) i``."""
        self._check(q_xx)
        self._check(q_yy)
        sx, sy, _, rho, sin = pair_geometry(q_xx, q_yy, q_xy)
        m = ops(sx)
        k = math.sqrt(2.0 * abs(self.b))
        tx, ty = k * sx, k * sy
        if self.b < 0:
            ix, iy = 1.0 / m.hypot(1.0, tx), 1.0 / m.hypot(1.0, ty)
            nx, ny = ix, iy
        else:
            ix = 1.0 / m.sqrt((1.0 - tx) * (1.0 + tx))
            iy = 1.0 / m.sqrt((1.0 - ty) * (1.0 + ty))
            r2 = math.sqrt(2.0)  # nu^2 = 1 - gamma^2 = (1 - 2 t^2) / (1 - t^2)
            nx = m.sqrt((1.0 - r2 * tx) * (1.0 + r2 * tx)) * ix
            ny = m.sqrt((1.0 - r2 * ty) * (1.0 + r2 * ty)) * iy
        gx, gy = tx * ix, ty * iy
        return rho, cosine_gap(rho, sin, nx, gx, ny), ix, iy, gx, gy

    def dual(self, q_xx, q_yy, q_xy):
        if self.b == 0.0:
            return ops(q_xx, q_yy, q_xy).full(_shape(q_xx, q_yy, q_xy), self.a**2)
        _, w, ix, iy, _, _ = self._terms(q_xx, q_yy, q_xy)
        return (self.a * ix) * (self.a * iy) / w

    def dual_derivative(self, q_xx, q_yy, q_xy):
        if self.b == 0.0:
            return ops(q_xx, q_yy, q_xy).zeros(_shape(q_xx, q_yy, q_xy))
        rho, w, ix, iy, gx, gy = self._terms(q_xx, q_yy, q_xy)
        # 4 a^2 b^2 q_xy / D^3 = rho gamma_x gamma_y (2|b| i_x i_y) (a i_x / w)(a i_y / w) / w
        out = rho * (gx * gy) * ((2.0 * abs(self.b) * ix) * iy)
        out *= (self.a * ix / w) * (self.a * iy / w) / w
        return require_finite(self, out, "E[act'(u) act'(v)]", q_xx, q_yy)


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
        self.gamma = real_param(
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
        s = scales_array(s)
        m = ops(s)
        return s[:, None] * m.asarray(np.sqrt(self.taylor_coefficients(degree)))[None, :]

    def derivative_hermite_coefficients(self, s, degree):
        s = scales_array(s)
        m = ops(s)
        c = self.taylor_coefficients(degree + 1)
        d = m.asarray(np.sqrt(np.arange(1, degree + 2) * c[1:]))
        return m.copy(m.broadcast_to(d[None, :], (s.shape[0], degree + 1)))

    def dual(self, q_xx, q_yy, q_xy):
        _, _, mxy, rho, _ = pair_geometry(q_xx, q_yy, q_xy, at_zero=1.0)
        return mxy * ops(rho).exp(self.gamma * (rho - 1.0))

    def dual_derivative(self, q_xx, q_yy, q_xy):
        rho = pair_geometry(q_xx, q_yy, q_xy, at_zero=1.0)[3]
        return self.gamma * ops(rho).exp(self.gamma * (rho - 1.0))

    def second_moment(self, q):
        return as_float64(ops(q), q)[0]


# ----------------------------------------------------------------------------------------------
# Polynomials
# ----------------------------------------------------------------------------------------------


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
            real_param("Polynomial", f"coef[{i}]", c) for i, c in enumerate(arr.tolist())
        )
        self.homogeneity = None

    @property
    def _n(self):
        return len(self.coef) - 1

    @staticmethod
    def _polyval(t, coef):
        m, t = _pointwise_input(t)
        if m.is_numpy:
            return np.polynomial.polynomial.polyval(t, coef)
        out = float(coef[-1]) + t * 0.0  # Horner, as NumPy's polyval
        for c in coef[-2::-1]:
            out = float(c) + out * t
        return out

    def value(self, t):
        return self._polyval(t, self.coef)

    def _derivative_coef(self):
        return tuple(np.polynomial.polynomial.polyder(self.coef)) if self._n > 0 else (0.0,)

    def derivative(self, t):
        return self._polyval(t, self._derivative_coef())

    def _reduced(self, s, degree):
        """``A_l(s) = r_l(s) / s^l`` for ``l = 0..degree``."""
        return _hermite.polynomial_reduced_coefficients(self.coef, s, degree)

    def _reduced_derivative(self, s, degree):
        return _hermite.polynomial_reduced_coefficients(self._derivative_coef(), s, degree)

    @staticmethod
    def _times_powers(reduced, s):
        # r_l = A_l s^l; a zero A_l stays 0 even where s^l overflows
        with np.errstate(over="ignore", invalid="ignore"):
            out = reduced * s[:, None] ** np.arange(reduced.shape[1])[None, :]
        out[reduced == 0] = 0.0
        return out

    @_host_coefficients
    def hermite_coefficients(self, s, degree):
        s = as_scales(s)
        out = self._times_powers(self._reduced(s, degree), s)
        return require_finite(self, out, "the Hermite coefficients", s * s)

    @_host_coefficients
    def derivative_hermite_coefficients(self, s, degree):
        s = as_scales(s)
        out = self._times_powers(self._reduced_derivative(s, degree), s)
        return require_finite(self, out, "the derivative's Hermite coefficients", s * s)

    def _mehler(self, reduced_fn, q_xx, q_yy, q_xy):
        m = ops(q_xx, q_yy, q_xy)
        qxx, qyy, qxy = as_float64(m, q_xx, q_yy, q_xy)
        shape = _shape(qxx, qyy, qxy)
        n = self._n

        # coefficients on the un-broadcast variances: (n+1) values per input, not per pair;
        # computed on the host (O(n) numbers) and moved to the variances' namespace
        def table(q):
            s = np.sqrt(np.maximum(to_host(q), 0.0))
            return from_host(reduced_fn(s.ravel(), n).reshape(s.shape + (n + 1,)), q)

        ax, ay = table(qxx), table(qyy)
        out = m.zeros(shape)
        with np.errstate(over="ignore", invalid="ignore"):
            for l in range(n, -1, -1):  # Horner in q_xy
                out *= qxy
                out += ax[..., l] * ay[..., l]
        return require_finite(self, out, "the dual kernel", qxx, qyy)

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
        self.degree = degree_param(
            "Monomial", degree, _MAX_POLY_DEGREE, "the bound on the cost of the exact duals"
        )
        super().__init__([0.0] * self.degree + [1.0])
        self.homogeneity = self.degree


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
        self.degree = degree_param(
            "Hermite", degree, _MAX_POLY_DEGREE, "the bound on the cost of the exact duals"
        )
        coef = np.polynomial.hermite_e.herme2poly([0.0] * self.degree + [1.0])
        log_norm = 0.5 * float(_hermite.log_factorial(self.degree))
        self.coef = tuple(float(c) for c in coef * math.exp(-log_norm))
        self.homogeneity = None

    @staticmethod
    def _recurrence(n, t):
        m, t = _pointwise_input(t)
        t = m.astype(t, _float_dtype(m, t))
        prev, cur = m.ones_like(t), t
        if n == 0:
            return prev
        for l in range(1, n):
            prev, cur = cur, (t * cur - math.sqrt(l) * prev) / math.sqrt(l + 1)
        return cur

    def value(self, t):
        return self._recurrence(self.degree, t)

    def derivative(self, t):
        if self.degree == 0:
            m, t = _pointwise_input(t)
            return m.zeros_like(t, dtype=_float_dtype(m, t))
        # h_n' = sqrt(n) h_(n-1)
        return math.sqrt(self.degree) * self._recurrence(self.degree - 1, t)

    def _reduced(self, s, degree):
        return _hermite.hermite_reduced_coefficients(self.degree, s, degree)

    def _reduced_derivative(self, s, degree):
        if self.degree == 0:
            return np.zeros((s.shape[0], degree + 1))
        return math.sqrt(self.degree) * _hermite.hermite_reduced_coefficients(
            self.degree - 1, s, degree
        )


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
        m, t = _pointwise_input(t)
        return m.exp(-t * t) * m.sin(t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return m.exp(-t * t) * (m.cos(t) - 2.0 * t * m.sin(t))


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
        m, t = _pointwise_input(t)
        return m.tanh(t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return 1.0 - m.tanh(t) ** 2


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
        m, t = _pointwise_input(t)
        return m.expit(t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        e = m.expit(t)
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
        m, t = _pointwise_input(t)
        return m.logaddexp(0.0, t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return m.expit(t)


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
        m, t = _pointwise_input(t)
        return t * m.expit(t)

    def derivative(self, t):
        m, t = _pointwise_input(t)
        e = m.expit(t)
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
        self.alpha = real_param("Elu", "alpha", alpha)
        self.continuous_derivative = self.alpha == 1.0

    def value(self, t):
        m, t = _pointwise_input(t)
        return m.where(t > 0, t, self.alpha * m.expm1(m.minimum(t, 0.0)))

    def derivative(self, t):
        m, t = _pointwise_input(t)
        return m.where(t > 0, 1.0, self.alpha * m.exp(m.minimum(t, 0.0)))

    def _derivative_at_zero(self):
        return 0.5 * (1.0 + self.alpha)


def _reject_activation_class(obj, where):
    """``TypeError`` for an :class:`Activation` subclass passed where an instance belongs."""
    if isinstance(obj, type) and issubclass(obj, Activation):
        raise TypeError(
            f"{where} got the class {obj.__name__}, not an activation: pass an instance, "
            f"e.g. {obj.__name__}()"
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
    _non_finite_cause = (
        "is not finite (it overflows float64, or the callable returns NaN or inf there)"
    )

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
        probe(fn, "activation")
        if derivative is not None:
            probe(derivative, "derivative")
        self.fn = fn
        self.derivative_fn = derivative  # ``derivative`` is the pointwise method's name
        self.continuous_derivative = False  # unknown: sketches take the unbiased Monte Carlo

    def get_params(self, deep=True):
        """``{"fn": ..., "derivative": ...}``, the constructor's arguments."""
        return {"fn": self.fn, "derivative": self.derivative_fn}

    def value(self, t):
        if is_array_api_input(t):  # a NumPy function: evaluated on the host, moved back
            return from_host(self.value(to_host(t)), t)
        return np.asarray(self.fn(np.asarray(t, dtype=np.float64)), dtype=np.float64)

    def derivative(self, t):
        if is_array_api_input(t):  # as value: on the host, moved back
            return from_host(self.derivative(to_host(t)), t)
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
