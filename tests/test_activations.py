"""Tests of skntk.activations against independent computations.

Ground truths: the definitions in DESIGN.md section 2 written out with ``math``/``scipy.special``,
adaptive SciPy quadrature (``conftest.py``: Hermite coefficients and Gaussian pair expectations),
Mehler's formula and classical closed forms (Isserlis' theorem, Hermite orthonormality).
Nothing is compared with numbers copied from skntk's own output.
"""

import copy
import math
import pickle

import numpy as np
import pytest
from scipy.special import erf, eval_hermitenorm, expit, ndtr

import skntk.activations as A
from skntk.activations import (
    ACTIVATIONS,
    ABReLU,
    Abs,
    CallableActivation,
    Cos,
    Elu,
    Erf,
    Exp,
    Gabor,
    Gaussian,
    GeLU,
    Hermite,
    LeakyReLU,
    Monomial,
    NormalizedGaussian,
    Polynomial,
    Rbf,
    RectifiedMonomial,
    ReLU,
    Sigmoid,
    Sign,
    Silu,
    Sin,
    Softplus,
    Tanh,
    get_activation,
)


def _arctan_derivative(t):
    return 1.0 / (1.0 + np.asarray(t, dtype=np.float64) ** 2)


def _default_instances():
    """One default-constructed instance of every registered class (``swish`` is ``silu``)."""
    return [cls() for name, cls in sorted(ACTIVATIONS.items()) if name != "swish"]


EXTRA_INSTANCES = [
    LeakyReLU(alpha=0.1),
    ABReLU(a=-0.3, b=1.2),
    RectifiedMonomial(degree=0),
    RectifiedMonomial(degree=2),
    RectifiedMonomial(degree=3),
    RectifiedMonomial(degree=4),
    Erf(a=1.3, b=0.7, c=0.2),
    Sin(a=0.8, b=1.3, c=0.4),
    Sin(a=1.1, b=-0.9, c=2.0),
    Cos(a=0.9, b=0.6, c=-0.3),
    Rbf(gamma=0.5),
    Exp(a=0.7, b=-0.8),
    Gaussian(a=0.5, b=0.05),
    Polynomial(coef=[0.1, 1.0, 0.5, 0.2]),
    Monomial(degree=3),
    Hermite(degree=4),
    Elu(alpha=0.5),
    NormalizedGaussian(gamma=2.5),
    CallableActivation(np.arctan, derivative=_arctan_derivative),
]
ALL_INSTANCES = _default_instances() + EXTRA_INSTANCES
POINTWISE = [a for a in ALL_INSTANCES if a.has_pointwise_form]


def _has_ntk(act):
    """Sign and the step function have a delta derivative: no NTK."""
    return not (isinstance(act, Sign) or (isinstance(act, RectifiedMonomial) and act.degree == 0))


WITH_NTK = [a for a in POINTWISE if _has_ntk(a)]
# For the (slow) coefficient quadratures: every registered class once, plus the parameter
# choices that take different code paths (negative frequency, b > 0, kinks of other orders).
_SAME_PATH_AS_A_DEFAULT = (
    LeakyReLU(alpha=0.1),
    Sin(a=0.8, b=1.3, c=0.4),
    Cos(a=0.9, b=0.6, c=-0.3),
    Rbf(gamma=0.5),
    Monomial(degree=3),
)
COEF_INSTANCES = [a for a in POINTWISE if a not in _SAME_PATH_AS_A_DEFAULT]
COEF_WITH_NTK = [a for a in COEF_INSTANCES if _has_ntk(a)]
CLOSED_FORM = [a for a in ALL_INSTANCES if a.has_closed_form_dual]
NUMERIC_DUAL = [a for a in POINTWISE if not a.has_closed_form_dual]
SCALES = [0.3, 1.0, 2.5]
DEGREE = 12


def _ids(act):
    return repr(act)


def _horner(coef):
    coef = [float(c) for c in coef]

    def fn(t):
        out = 0.0
        for c in reversed(coef):
            out = out * t + c
        return out

    return fn


def _scalar_value(act, gauss_quad):
    """Fast scalar ``act(t)`` for the quadrature (polynomials by Horner's rule)."""
    if isinstance(act, Polynomial):
        return _horner(act.coef)
    return gauss_quad.scalar(act.value)


def _scalar_derivative(act, gauss_quad):
    if isinstance(act, Polynomial):
        return _horner([i * c for i, c in enumerate(act.coef)][1:] or [0.0])
    return gauss_quad.scalar(act.derivative)


def _close(got, want, rtol, atol):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return np.abs(got - want) <= rtol * np.abs(want) + atol


# ----------------------------------------------------------------------------------------------
# Pointwise definitions (DESIGN.md section 2)
# ----------------------------------------------------------------------------------------------


def _sqrt_fact(n):
    return math.sqrt(math.factorial(n))


DEFINITIONS = [
    (ReLU(), lambda t: max(t, 0.0)),
    (LeakyReLU(alpha=0.1), lambda t: max(t, 0.1 * t)),
    (Abs(), abs),
    (ABReLU(a=-0.3, b=1.2), lambda t: -0.3 * min(t, 0.0) + 1.2 * max(t, 0.0)),
    (Erf(a=1.3, b=0.7, c=0.2), lambda t: 1.3 * math.erf(0.7 * t) + 0.2),
    (GeLU(), lambda t: t * 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))),
    (Sin(a=0.8, b=1.3, c=0.4), lambda t: 0.8 * math.sin(1.3 * t + 0.4)),
    (Cos(a=0.9, b=0.6, c=-0.3), lambda t: 0.9 * math.cos(0.6 * t - 0.3)),
    (Rbf(gamma=0.5), lambda t: math.sqrt(2.0) * math.sin(t + math.pi / 4)),
    (Gabor(), lambda t: math.exp(-t * t) * math.sin(t)),
    (Exp(a=0.7, b=-0.8), lambda t: 0.7 * math.exp(-0.8 * t)),
    (Gaussian(a=0.5, b=0.05), lambda t: 0.5 * math.exp(0.05 * t * t)),
    (Monomial(degree=3), lambda t: t**3),
    (RectifiedMonomial(degree=2), lambda t: t * t if t >= 0 else 0.0),
    (Polynomial(coef=[0.1, 1.0, 0.5, 0.2]), lambda t: 0.1 + t + 0.5 * t * t + 0.2 * t**3),
    (Hermite(degree=4), lambda t: (t**4 - 6 * t * t + 3) / _sqrt_fact(4)),
    (Sign(), lambda t: math.copysign(1.0, t) if t != 0 else 0.0),
    (Elu(alpha=0.5), lambda t: t if t > 0 else 0.5 * (math.exp(t) - 1.0)),
    (Tanh(), math.tanh),
    (Sigmoid(), lambda t: 1.0 / (1.0 + math.exp(-t))),
    (Softplus(), lambda t: math.log1p(math.exp(t))),
    (Silu(), lambda t: t / (1.0 + math.exp(-t))),
]


@pytest.mark.parametrize(("act", "definition"), DEFINITIONS, ids=[repr(a) for a, _ in DEFINITIONS])
def test_value_matches_definition(act, definition):
    t = np.array([-3.1, -1.2, -0.4, 0.0, 0.3, 1.0, 2.7])
    want = np.array([definition(float(v)) for v in t])
    np.testing.assert_allclose(act.value(t), want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(act(t), want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("act", WITH_NTK, ids=_ids)
def test_derivative_matches_finite_difference(act):
    t = np.array([-2.3, -0.7, -0.1, 0.2, 0.9, 1.9])  # away from kinks at 0
    h = 1e-6
    fd = (act.value(t + h) - act.value(t - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(t), fd, rtol=1e-6, atol=1e-8)


def test_normalized_gaussian_has_no_pointwise_form():
    act = NormalizedGaussian(gamma=1.0)
    assert not act.has_pointwise_form
    with pytest.raises(ValueError, match="pointwise"):
        act.value(np.zeros(2))
    with pytest.raises(ValueError, match="pointwise"):
        act.derivative(np.zeros(2))


# ----------------------------------------------------------------------------------------------
# Hermite coefficients vs scipy.integrate.quad
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("act", COEF_INSTANCES, ids=_ids)
def test_hermite_coefficients_match_quad(act, gauss_quad):
    fn = _scalar_value(act, gauss_quad)
    got = act.hermite_coefficients(SCALES, DEGREE)
    assert got.shape == (len(SCALES), DEGREE + 1)
    for row, s in zip(got, SCALES, strict=True):
        want = np.array([gauss_quad.hermite_coefficient(fn, s, l) for l in range(DEGREE + 1)])
        ok = _close(row, want, rtol=1e-10, atol=1e-12)
        assert ok.all(), (s, np.flatnonzero(~ok), row[~ok], want[~ok])


@pytest.mark.parametrize("act", COEF_INSTANCES, ids=_ids)
@pytest.mark.parametrize("span", [(1.0, 1.3), (0.2, 0.25), (0.01, 2.0)])
def test_hermite_coefficients_of_a_batch_match_one_scale_at_a_time(act, span, gauss_quad):
    # a batch of >= 96 scales may be interpolated in s (activations without closed forms);
    # each scale alone is integrated directly. Both, and quad at a few scales, must agree to
    # 1e-11 of the largest coefficient (a wide span may fall back to the direct rule).
    scales = np.sort(np.random.default_rng(0).uniform(*span, size=200))
    batch = act.hermite_coefficients(scales, DEGREE)
    alone = np.array([act.hermite_coefficients([s], DEGREE)[0] for s in scales])
    size = np.abs(alone).max()
    np.testing.assert_allclose(batch, alone, rtol=0, atol=1e-11 * size)
    fn = _scalar_value(act, gauss_quad)
    for i in (0, 77, 199):
        want = [gauss_quad.hermite_coefficient(fn, scales[i], l) for l in range(DEGREE + 1)]
        np.testing.assert_allclose(batch[i], want, rtol=0, atol=1e-10 * size)


@pytest.mark.parametrize("act", COEF_WITH_NTK, ids=_ids)
def test_derivative_hermite_coefficients_match_quad(act, gauss_quad):
    fn = _scalar_derivative(act, gauss_quad)
    scales = [0.01] + SCALES  # a small scale probes Stein's division r_{l+1}(s) / s
    got = act.derivative_hermite_coefficients(scales, DEGREE)
    assert got.shape == (len(scales), DEGREE + 1)
    for row, s in zip(got, scales, strict=True):
        want = np.array([gauss_quad.hermite_coefficient(fn, s, l) for l in range(DEGREE + 1)])
        # At s = 0.01 Stein's division by s amplifies rounding (~1e-16 / s): ask for 1e-10
        # relative to the coefficient vector there.
        atol = 1e-12 if s >= 0.3 else 1e-10 * np.abs(want).max()
        ok = _close(row, want, rtol=1e-10, atol=atol)
        assert ok.all(), (s, np.flatnonzero(~ok), row[~ok], want[~ok])


@pytest.mark.parametrize("act", [Sigmoid(), Softplus()], ids=_ids)
def test_derivative_hermite_coefficients_tiny_scale(act, gauss_quad):
    fn = gauss_quad.scalar(act.derivative)
    s = 1e-8
    got = act.derivative_hermite_coefficients([s], 6)[0]
    want = np.array([gauss_quad.hermite_coefficient(fn, s, l) for l in range(7)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def test_relu_coefficients_closed_form():
    # r_0 = 1/sqrt(2 pi), r_1 = 1/2, r_2 = 1/(2 sqrt(pi)), odd l >= 3 vanish.
    r = ReLU().hermite_coefficients([1.0, 2.0], 5)
    want = np.array([1 / math.sqrt(2 * math.pi), 0.5, 1 / (2 * math.sqrt(math.pi)), 0.0])
    np.testing.assert_allclose(r[0, :4], want, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(r[1], 2 * r[0], rtol=1e-14, atol=1e-16)  # homogeneity
    assert abs(r[0, 5]) < 1e-16


_STEP = "RectifiedMonomial(degree=0)"


@pytest.mark.parametrize(
    "act",
    [
        a
        for a in POINTWISE
    ],
    ids=_ids,
)
def test_hermite_coefficients_at_zero_scale(act):
    # u = 0 * g is the constant 0: r_l(0) = act(0) [l == 0].
    got = act.hermite_coefficients([0.0], DEGREE)[0]
    want = np.zeros(DEGREE + 1)
    want[0] = float(act.value(0.0))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


SMOOTH = [
    a
    for a in WITH_NTK
    if not isinstance(a, ABReLU | RectifiedMonomial) and not (isinstance(a, Elu) and a.alpha != 1)
]


@pytest.mark.parametrize("act", SMOOTH, ids=_ids)
def test_derivative_coefficients_at_zero_scale(act):
    got = act.derivative_hermite_coefficients([0.0, 1e-4], DEGREE)
    h = 1e-5
    slope = float((act.value(h) - act.value(-h)) / (2 * h))  # act'(0), without act.derivative
    want = np.zeros(DEGREE + 1)
    want[0] = slope
    # Central differences are O(h) accurate for ELU (its second derivative jumps at 0).
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-9)
    # ... and it is the limit s -> 0+ (r'_0 = act'(0) + O(s^2), r'_l = O(s^l)).
    np.testing.assert_allclose(got[1], got[0], rtol=0, atol=1e-3 * max(1.0, abs(slope)))


@pytest.mark.parametrize("act", [ReLU(), ABReLU(a=-0.3, b=1.2), Abs()], ids=_ids)
def test_piecewise_linear_derivative_coefficients_scale_free(act):
    # act' is homogeneous of degree 0: its coefficients do not depend on s, also at s = 0.
    d = act.derivative_hermite_coefficients([0.0, 0.5, 3.0], DEGREE)
    np.testing.assert_allclose(d[0], d[1], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(d[2], d[1], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("act", [a for a in POINTWISE if a.homogeneity is not None], ids=_ids)
def test_homogeneous_coefficients_scale_as_power(act):
    k = act.homogeneity
    r1 = act.hermite_coefficients([1.0], DEGREE)[0]
    r = act.hermite_coefficients([0.4, 2.2], DEGREE)
    np.testing.assert_allclose(r, np.outer([0.4**k, 2.2**k], r1), rtol=1e-12, atol=1e-15)


def test_no_ntk_for_sign_and_step():
    with pytest.raises(ValueError, match="no NTK"):
        Sign().derivative_hermite_coefficients([1.0], 3)
    with pytest.raises(ValueError, match="no NTK"):
        Sign().dual_derivative(1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="no NTK"):
        RectifiedMonomial(degree=0).dual_derivative(1.0, 1.0, 0.5)


@pytest.mark.parametrize("bad", [[-1.0], [np.nan], [[1.0, 2.0]]])
def test_bad_scales_rejected(bad):
    with pytest.raises(ValueError, match="scales"):
        ReLU().hermite_coefficients(bad, 3)


# ----------------------------------------------------------------------------------------------
# Mehler's formula
# ----------------------------------------------------------------------------------------------

MEHLER_DEGREE = 200  # |rho| <= 0.9: 0.9^200 ~ 7e-10 bounds the tail even for slow decay
SCALE_PAIRS = [(0.6, 1.4), (1.0, 1.0), (1.7, 0.4)]
RHOS = np.linspace(-0.9, 0.9, 7)


def _mehler(rx, ry, rho):
    return np.sum(rx * ry * rho ** np.arange(rx.size))


@pytest.mark.parametrize("act", CLOSED_FORM, ids=_ids)
def test_mehler_series_matches_closed_form_dual(act):
    for sx, sy in SCALE_PAIRS:
        rx, ry = act.hermite_coefficients([sx, sy], MEHLER_DEGREE)
        energy = math.sqrt(
            act.dual(sx * sx, sx * sx, sx * sx) * act.dual(sy * sy, sy * sy, sy * sy)
        )
        for rho in RHOS:
            exact = float(act.dual(sx * sx, sy * sy, rho * sx * sy))
            series = _mehler(rx, ry, rho)
            assert abs(series - exact) <= 1e-8 * abs(exact) + 1e-10 * energy, (sx, sy, rho)


@pytest.mark.parametrize("act", [a for a in CLOSED_FORM if _has_ntk(a)], ids=_ids)
def test_mehler_series_matches_closed_form_dual_derivative(act):
    for sx, sy in SCALE_PAIRS:
        dx, dy = act.derivative_hermite_coefficients([sx, sy], MEHLER_DEGREE)
        energy = math.sqrt(
            act.dual_derivative(sx * sx, sx * sx, sx * sx)
            * act.dual_derivative(sy * sy, sy * sy, sy * sy)
        )
        for rho in RHOS:
            exact = float(act.dual_derivative(sx * sx, sy * sy, rho * sx * sy))
            series = _mehler(dx, dy, rho)
            assert abs(series - exact) <= 1e-8 * abs(exact) + 1e-10 * energy, (sx, sy, rho)


POLYNOMIALS = [
    Polynomial(coef=[0.1, 1.0, 0.5, 0.2]),
    Polynomial(coef=[0.0, -0.3, 0.0, 0.0, 0.7, 0.25]),
    Monomial(degree=2),
    Monomial(degree=5),
    Hermite(degree=3),
    Hermite(degree=6),
]


@pytest.mark.parametrize("act", POLYNOMIALS, ids=_ids)
def test_polynomial_mehler_is_exact(act):
    n = len(act.coef) - 1
    for sx, sy in SCALE_PAIRS + [(0.0, 1.3)]:
        rx, ry = act.hermite_coefficients([sx, sy], n + 3)
        dx, dy = act.derivative_hermite_coefficients([sx, sy], n + 3)
        assert np.all(rx[n + 1 :] == 0) and np.all(dx[n:] == 0)
        for rho in np.linspace(-1.0, 1.0, 9):
            qxy = rho * sx * sy
            exact = float(act.dual(sx * sx, sy * sy, qxy))
            np.testing.assert_allclose(_mehler(rx, ry, rho), exact, rtol=1e-12, atol=1e-14)
            exact_d = float(act.dual_derivative(sx * sx, sy * sy, qxy))
            np.testing.assert_allclose(_mehler(dx, dy, rho), exact_d, rtol=1e-12, atol=1e-14)


def test_polynomial_duals_closed_forms():
    # Isserlis: E[u^2 v^2] = q_xx q_yy + 2 q_xy^2 and E[(2u)(2v)] = 4 q_xy.
    sq = Monomial(degree=2)
    for q in [(1.3, 0.7, 0.5), (2.0, 0.5, -0.8), (0.0, 1.0, 0.0)]:
        np.testing.assert_allclose(sq.dual(*q), q[0] * q[1] + 2 * q[2] ** 2, rtol=1e-13)
        np.testing.assert_allclose(sq.dual_derivative(*q), 4 * q[2], rtol=1e-13, atol=1e-15)
    # Orthonormal Hermite polynomials on the unit sphere: E[h_n(u) h_n(v)] = rho^n.
    for n in (0, 1, 4, 7):
        rho = np.linspace(-1, 1, 11)
        np.testing.assert_allclose(Hermite(degree=n).dual(1.0, 1.0, rho), rho**n, atol=1e-13)
    t = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(
        Hermite(degree=5).value(t), eval_hermitenorm(5, t) / _sqrt_fact(5), rtol=1e-12, atol=1e-12
    )


def test_normalized_gaussian_taylor_coefficients():
    act = NormalizedGaussian(gamma=2.5)
    l = np.arange(30)
    want = np.exp(-2.5) * 2.5**l / np.array([math.factorial(int(k)) for k in l], dtype=float)
    np.testing.assert_allclose(act.taylor_coefficients(29), want, rtol=1e-12)
    # Kernel on any norms: sqrt(q_xx q_yy) exp(gamma (rho - 1)).
    got = act.dual(4.0, 0.25, 0.3)
    np.testing.assert_allclose(got, 1.0 * math.exp(2.5 * (0.3 - 1.0)), rtol=1e-14)
    np.testing.assert_allclose(act.second_moment(3.0), 3.0, rtol=1e-15)


# ----------------------------------------------------------------------------------------------
# Dual kernels vs two-dimensional quadrature
# ----------------------------------------------------------------------------------------------

Q_TRIPLES = [(1.3, 0.7, 0.5), (2.0, 0.5, -0.8)]
# A nearly parallel pair (rho = 0.999) exercises the quadrature fallback of numeric duals.
Q_NEAR_PARALLEL = (1.3, 0.7, 0.999 * math.sqrt(1.3 * 0.7))

# One representative per closed-form family (the ABReLU family shares one formula), with the
# two covariance triples alternating to keep the quadrature affordable.
CLOSED_FORM_QUAD = [
    ReLU(),
    ABReLU(a=-0.3, b=1.2),
    Abs(),
    RectifiedMonomial(degree=0),
    RectifiedMonomial(degree=2),
    RectifiedMonomial(degree=3),
    Sign(),
    Erf(),
    Erf(a=1.3, b=0.7, c=0.2),
    GeLU(),
    Sin(a=0.8, b=1.3, c=0.4),
    Cos(a=0.9, b=0.6, c=-0.3),
    Rbf(gamma=0.5),
    Exp(a=0.7, b=-0.8),
    Gaussian(),
    Gaussian(a=0.5, b=0.05),
    Polynomial(coef=[0.1, 1.0, 0.5, 0.2]),
    Hermite(degree=4),
]
assert all(a.has_closed_form_dual for a in CLOSED_FORM_QUAD)


def _check_pair(got, want):
    assert abs(float(got) - want) <= 1e-8 * abs(want) + 1e-12, (float(got), want)


@pytest.mark.parametrize(
    ("act", "q"),
    [(a, Q_TRIPLES[i % 2]) for i, a in enumerate(CLOSED_FORM_QUAD)]
    + [(GeLU(), Q_TRIPLES[0]), (ReLU(), Q_TRIPLES[1])],
    ids=lambda v: repr(v) if isinstance(v, A.Activation) else "q=" + "/".join(map(str, v)),
)
def test_closed_form_dual_matches_quadrature(act, q, gauss_quad):
    f = _scalar_value(act, gauss_quad)
    _check_pair(act.dual(*q), gauss_quad.pair_expectation(f, f, *q))
    if _has_ntk(act):
        df = _scalar_derivative(act, gauss_quad)
        _check_pair(act.dual_derivative(*q), gauss_quad.pair_expectation(df, df, *q))


@pytest.mark.parametrize("act", NUMERIC_DUAL, ids=_ids)
def test_numeric_dual_matches_quadrature(act, gauss_quad):
    f = gauss_quad.scalar(act.value)
    df = gauss_quad.scalar(act.derivative)
    triples = [Q_TRIPLES[0]]
    if isinstance(act, Tanh | Softplus | Elu | CallableActivation):
        triples.append(Q_NEAR_PARALLEL)  # costly: a few representatives
    for q in triples:
        _check_pair(act.dual(*q), gauss_quad.pair_expectation(f, f, *q))
        _check_pair(act.dual_derivative(*q), gauss_quad.pair_expectation(df, df, *q))
    # rho = 1 exactly: a one-dimensional expectation.
    _check_pair(act.dual(0.8, 0.8, 0.8), gauss_quad.expectation(lambda t: f(t) ** 2, 0.8))
    _check_pair(
        act.dual_derivative(0.8, 0.8, 0.8), gauss_quad.expectation(lambda t: df(t) ** 2, 0.8)
    )


@pytest.mark.xfail(
    strict=True,
    reason="BUG (accuracy): for an activation whose derivative jumps (ELU with alpha != 1), "
    "dual_derivative of nearly parallel pairs (rho in [0.9995, 1)) is off by up to ~1e-4 "
    "relative: the fixed 2-D fallback rule does not resolve the O(sqrt(1-rho^2)) wide "
    "transition of the inner integral around g1 = 0",
)
@pytest.mark.parametrize("rho", [0.9995, 0.99999, 0.999999])
def test_elu_dual_derivative_nearly_parallel(rho, gauss_quad):
    act = Elu(alpha=0.5)
    df = gauss_quad.scalar(act.derivative)
    _check_pair(act.dual_derivative(1.0, 1.0, rho), gauss_quad.pair_expectation(df, df, 1, 1, rho))


def test_elu_dual_derivative_near_diagonal_asymptotics(gauss_quad):
    # Independent check of the quadrature used above: with a' jumping by (1 - alpha) at 0,
    # E[a'(u) a'(v)] = E[a'(u)^2] - (1 - alpha)^2 P(sign u != sign v) / 2 + O(1 - rho)
    # and P(sign u != sign v) = arccos(rho) / pi.
    act = Elu(alpha=0.5)
    df = gauss_quad.scalar(act.derivative)
    at_one = 0.5 + 0.25 * math.exp(2.0) * ndtr(-2.0)  # E[a'(u)^2], u ~ N(0, 1)
    for rho in (0.999999, 0.9999999):
        approx = at_one - 0.125 * math.acos(rho) / math.pi
        assert abs(gauss_quad.pair_expectation(df, df, 1.0, 1.0, rho) - approx) < 5 * (1 - rho)


@pytest.mark.parametrize("act", POINTWISE, ids=_ids)
def test_second_moment_matches_quadrature(act, gauss_quad):
    f = _scalar_value(act, gauss_quad)
    for q in (0.2, 1.0, 2.6):
        want = gauss_quad.expectation(lambda t, f=f: f(t) ** 2, q)
        np.testing.assert_allclose(act.second_moment(q), want, rtol=1e-9)


@pytest.mark.parametrize("act", [ReLU(), Erf(), Tanh(), Elu(alpha=0.5), GeLU()], ids=_ids)
def test_dual_broadcasts_and_is_symmetric(act):
    rng = np.random.RandomState(0)
    qxx, qyy = rng.uniform(0.2, 2.0, (3, 1)), rng.uniform(0.2, 2.0, (1, 4))
    qxy = rng.uniform(-0.9, 0.9, (3, 4)) * np.sqrt(qxx * qyy)
    out = act.dual(qxx, qyy, qxy)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, act.dual(qyy.T, qxx.T, qxy.T).T, rtol=1e-12, atol=1e-14)
    for i, j in [(0, 0), (2, 3)]:
        np.testing.assert_allclose(
            out[i, j], act.dual(qxx[i, 0], qyy[0, j], qxy[i, j]), rtol=1e-12, atol=1e-14
        )


def test_relu_dual_closed_form():
    # Arc-cosine kernel of order 1 (Cho and Saul) on explicit angles.
    for t in np.linspace(0, math.pi, 7):
        got = ReLU().dual(4.0, 1.0, 2.0 * math.cos(t))
        want = 2.0 / (2 * math.pi) * (math.sin(t) + (math.pi - t) * math.cos(t))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(
            ReLU().dual_derivative(4.0, 1.0, 2.0 * math.cos(t)),
            (math.pi - t) / (2 * math.pi),
            rtol=1e-12,
            atol=1e-15,
        )


def test_erf_dual_closed_form():
    q = (1.3, 0.7, 0.5)
    want = 2 / math.pi * math.asin(2 * q[2] / math.sqrt((1 + 2 * q[0]) * (1 + 2 * q[1])))
    np.testing.assert_allclose(Erf().dual(*q), want, rtol=1e-14)
    np.testing.assert_allclose(erf(0.3), Erf().value(0.3), rtol=1e-15)
    np.testing.assert_allclose(Silu().value(0.4), 0.4 * expit(0.4), rtol=1e-15)
    np.testing.assert_allclose(GeLU().value(0.4), 0.4 * ndtr(0.4), rtol=1e-15)


def test_gaussian_positive_b_infinite_moment_is_rejected():
    act = Gaussian(a=1.0, b=0.2)  # q = 2: 1 - 2bq = 0.2 > 0 but 1 - 4bq = -0.6 < 0
    with pytest.raises(ValueError, match="1 - 2 b q|variance"):
        act.dual(2.0, 2.0, 2.0)


# ----------------------------------------------------------------------------------------------
# Value objects and the registry
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ALL_INSTANCES, ids=_ids)
def test_deepcopy_and_pickle_preserve_equality(act):
    for clone in (copy.deepcopy(act), pickle.loads(pickle.dumps(act))):
        assert clone == act and hash(clone) == hash(act)
        assert repr(clone) == repr(act)


@pytest.mark.parametrize(
    "act", [a for a in ALL_INSTANCES if not isinstance(a, CallableActivation)], ids=_ids
)
def test_repr_round_trips(act):
    again = eval(repr(act), vars(A))  # our own reprs
    assert again == act and hash(again) == hash(act)
    assert type(again) is type(act)


def test_equality_and_hash():
    assert ReLU() == ReLU() and hash(ReLU()) == hash(ReLU())
    assert LeakyReLU(alpha=0.1) == LeakyReLU(0.1)
    assert LeakyReLU(alpha=0.1) != LeakyReLU(alpha=0.2)
    assert Polynomial([1, 2]) == Polynomial((1.0, 2.0))
    assert hash(Polynomial([1, 2])) == hash(Polynomial(np.array([1.0, 2.0])))
    assert Erf(1, 1, 0) != Erf(1, 1, 0.5)
    assert Sin() != Cos()
    assert ReLU() != "relu" and ReLU() != None  # noqa: E711
    assert len({ReLU(), ReLU(), Tanh(), LeakyReLU(0.1), LeakyReLU(alpha=0.1)}) == 3
    assert repr(LeakyReLU(alpha=0.1)) == "LeakyReLU(alpha=0.1)"
    assert LeakyReLU(alpha=0.1).get_params() == {"alpha": 0.1}
    assert repr(CallableActivation(np.arctan)) == "CallableActivation(arctan)"


def test_get_activation_names_and_params():
    assert get_activation() == ReLU()
    assert get_activation("relu") == ReLU()
    assert get_activation("ReLU") == ReLU()
    assert get_activation("leaky_relu", alpha=0.1) == LeakyReLU(alpha=0.1)
    assert get_activation("erf", a=2.0, b=0.5, c=0.1) == Erf(2.0, 0.5, 0.1)
    assert get_activation("polynomial", coef=[0.1, 1.0]) == Polynomial([0.1, 1.0])
    assert get_activation("swish") == Silu()
    act = Tanh()
    assert get_activation(act) is act
    for name, cls in ACTIVATIONS.items():
        assert isinstance(get_activation(name), cls)


@pytest.mark.parametrize(
    ("args", "params", "exc", "match"),
    [
        (("nope",), {}, ValueError, "unknown activation 'nope'"),
        (("relu",), {"alpha": 0.1}, ValueError, "bad parameters for activation 'relu'"),
        (("leaky_relu",), {"slope": 0.1}, ValueError, "bad parameters"),
        (("monomial",), {"degree": -1}, ValueError, "non-negative integer"),
        (("monomial",), {"degree": 1.5}, ValueError, "non-negative integer"),
        (("rectified_monomial",), {"degree": -2}, ValueError, "non-negative integer"),
        (("hermite",), {"degree": "3"}, ValueError, "non-negative integer"),
        (("polynomial",), {"coef": []}, ValueError, "coef"),
        ((3,), {}, TypeError, "activation must be a name"),
        ((None,), {}, TypeError, "activation must be a name"),
        ((ReLU(),), {"alpha": 1.0}, ValueError, "only be given with an activation name"),
    ],
)
def test_get_activation_errors(args, params, exc, match):
    with pytest.raises(exc, match=match):
        get_activation(*args, **params)


def test_callable_activation(gauss_quad):
    act = get_activation(np.arctan, derivative=_arctan_derivative)
    assert isinstance(act, CallableActivation)
    assert act == CallableActivation(np.arctan, derivative=_arctan_derivative)
    with pytest.raises(TypeError, match="callable"):
        CallableActivation(3.0)
    t = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(act.value(t), np.arctan(t), rtol=1e-15)
    # Without a derivative: central finite differences, accurate to ~1e-8.
    fd = get_activation(np.arctan)
    np.testing.assert_allclose(fd.derivative(t), 1 / (1 + t * t), rtol=1e-8)
    f = gauss_quad.scalar(np.arctan)
    df = gauss_quad.scalar(_arctan_derivative)
    q = (1.1, 0.6, -0.4)
    _check_pair(act.dual(*q), gauss_quad.pair_expectation(f, f, *q))
    _check_pair(act.dual_derivative(*q), gauss_quad.pair_expectation(df, df, *q))
    # The finite-difference derivative is good to ~1e-8, so its NTK dual is too.
    np.testing.assert_allclose(
        fd.dual_derivative(*q), gauss_quad.pair_expectation(df, df, *q), rtol=1e-7
    )


@pytest.mark.parametrize(
    "activation",
    [LeakyReLU(alpha=0.1), Erf(a=0.8, b=1.5, c=0.2), CallableActivation(np.arctan)],
    ids=repr,
)
def test_estimators_holding_activation_objects_clone_and_search(activation):
    """``clone`` rebuilds parameters that have ``get_params`` from ``get_params(deep=False)``:
    activation objects passed to an estimator (as the README shows) must survive it, and so
    GridSearchCV over them. (Before, ``get_params`` took no ``deep`` and clone raised.)"""
    from sklearn.base import clone
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from skntk import NTKSketch

    est = NTKSketch(64, activation=activation, random_state=0)
    cloned = clone(est)
    assert cloned.activation == activation
    X = np.random.RandomState(0).randn(30, 3)
    y = np.sin(X[:, 0])
    np.testing.assert_array_equal(cloned.fit_transform(X), est.fit_transform(X))
    pipe = make_pipeline(NTKSketch(64, random_state=0), Ridge())
    search = GridSearchCV(pipe, {"ntksketch__activation": [activation, "relu"]}, cv=2)
    search.fit(X, y)
    assert search.cv_results_["params"][0]["ntksketch__activation"] == activation
