"""Activations validate themselves, and their duals stay right at extreme variances.

Ground truths are independent of skntk's formulas: the textbook closed forms evaluated where
they are still accurate in float64, their exact limits (an activation at a large scale
behaves like its homogeneous limit: erf like sign, GeLU and softplus like ReLU, tanh' like a
delta), exact rescaling identities of homogeneous maps, the Lagrange identity
``|x|^2 |y|^2 - (x.y)^2 = sum_{i<j} (x_i y_j - x_j y_i)^2`` (a Gram determinant without
cancellation), and adaptive SciPy quadrature (``conftest.py``).
"""

import itertools
import math

import numpy as np
import pytest

from skntk import NNGPSketch, NTKSketch
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
from skntk.kernels import nngp_kernel, ntk_kernel

TWO_PI = 2.0 * math.pi

# ----------------------------------------------------------------------------------------------
# 1. Parameters are validated at construction
# ----------------------------------------------------------------------------------------------

NON_FINITE = [
    (lambda v: LeakyReLU(alpha=v), "alpha"),
    (lambda v: ABReLU(a=v), "a"),
    (lambda v: ABReLU(b=v), "b"),
    (lambda v: Erf(a=v), "a"),
    (lambda v: Erf(b=v), "b"),
    (lambda v: Erf(c=v), "c"),
    (lambda v: Sin(a=v), "a"),
    (lambda v: Sin(b=v), "b"),
    (lambda v: Sin(c=v), "c"),
    (lambda v: Cos(b=v), "b"),
    (lambda v: Rbf(gamma=v), "gamma"),
    (lambda v: Exp(a=v), "a"),
    (lambda v: Exp(b=v), "b"),
    (lambda v: Gaussian(a=v), "a"),
    (lambda v: Gaussian(b=v), "b"),
    (lambda v: NormalizedGaussian(gamma=v), "gamma"),
    (lambda v: Elu(alpha=v), "alpha"),
    (lambda v: Polynomial([v, 1.0]), r"coef\[0\]"),
    (lambda v: Polynomial([0.0, 1.0, v]), r"coef\[2\]"),
]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=str)
@pytest.mark.parametrize(("make", "param"), NON_FINITE, ids=lambda p: getattr(p, "__name__", p))
def test_non_finite_parameters_are_rejected_by_name(make, param, value):
    with pytest.raises(ValueError, match=rf"{param} must be a finite number; got {value}"):
        make(value)


def test_non_finite_parameters_through_the_registry():
    with pytest.raises(ValueError, match="alpha must be a finite number; got nan"):
        get_activation("leaky_relu", alpha=float("nan"))
    with pytest.raises(ValueError, match=r"coef\[1\] must be a finite number"):
        get_activation("polynomial", coef=[0.0, np.inf])


def _normalized_gaussian_kernel(gamma, X):
    """``|x||y| exp(gamma (rho - 1))`` written out (not through skntk)."""
    norms = np.linalg.norm(X, axis=1)
    rho = np.clip((X @ X.T) / np.outer(norms, norms), -1.0, 1.0)
    return np.outer(norms, norms) * np.exp(gamma * (rho - 1.0))


def test_normalized_gaussian_domain_is_where_the_kernel_is_psd():
    X = np.random.RandomState(0).randn(60, 3)
    # gamma < 0: Taylor coefficients of alternating sign, a kernel with negative eigenvalues
    K = _normalized_gaussian_kernel(-1.0, X)
    assert np.linalg.eigvalsh(K).min() < -1e-3 * np.abs(K).max()
    with pytest.raises(ValueError, match=r"gamma must be >= 0 .*positive semi-definite.*-1"):
        NormalizedGaussian(gamma=-1.0)
    # the accepted range gives PSD kernels through the class's own dual, gamma = 0 included
    for gamma in (0.0, 0.5, 3.0, 50.0):
        act = NormalizedGaussian(gamma=gamma)
        sq = np.einsum("ij,ij->i", X, X)
        K = act.dual(sq[:, None], sq[None, :], X @ X.T)
        np.testing.assert_allclose(K, _normalized_gaussian_kernel(gamma, X), rtol=1e-12)
        assert np.linalg.eigvalsh(K).min() >= -1e-10 * np.abs(K).max()
        assert np.all(np.isfinite(act.taylor_coefficients(20)))
    np.testing.assert_array_equal(NormalizedGaussian(0.0).taylor_coefficients(3), [1, 0, 0, 0])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Rbf(gamma=-0.5), r"gamma must be >= 0 .*real frequency"),
        (lambda: Erf(a=1e200), r"a must be at most 1e\+150 in magnitude"),
        (lambda: Sin(b=-1e151), r"b must be at most 1e\+150"),
        (lambda: Exp(b=1e160), r"b must be at most 1e\+150"),
        (lambda: LeakyReLU(alpha=-1e155), r"alpha must be at most 1e\+150"),
        (lambda: Polynomial([1.0, 1e200]), r"coef\[1\] must be at most 1e\+150"),
        (lambda: Polynomial(np.ones(202)), "at most 201 entries"),
        (lambda: Polynomial([]), "non-empty"),
        (lambda: Polynomial([[1.0, 2.0]]), "1-D"),
        (lambda: Monomial(degree=201), r"non-negative integer <= 200 \(the bound"),
        (lambda: Hermite(degree=-1), "non-negative integer"),
        (lambda: RectifiedMonomial(degree=33), r"non-negative integer <= 32 \(its unit Hermite"),
        (lambda: Monomial(degree=True), "non-negative integer"),
    ],
)
def test_parameters_outside_the_domain_give_the_allowed_range(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: LeakyReLU(alpha="0.1"),
        lambda: Erf(a=True),
        lambda: Sin(c=1j),
        lambda: Polynomial([1.0, 2j]),
        lambda: Polynomial("12"),
        lambda: Elu(alpha=None),
    ],
)
def test_non_real_parameters_are_type_errors(make):
    with pytest.raises(TypeError, match="real number"):
        make()


def test_registry_turns_bad_parameter_types_into_value_errors():
    with pytest.raises(ValueError, match="bad parameters for activation 'erf'.*real number"):
        get_activation("erf", b="2")


def test_gaussian_with_positive_b_states_its_variance_limit():
    act = Gaussian(a=1.0, b=1.0)  # E[exp(2 u^2)] is finite only for q < 1/4
    with pytest.raises(ValueError, match=r"variance q < 0\.25; got q = 1"):
        act.dual(1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"q < 0\.5"):  # coefficients need 1 - 2 b q > 0
        act.hermite_coefficients([1.0], 4)
    # inside the domain: E[exp(u^2) exp(v^2)] = 1 / sqrt((1 - 2 q)^2 - 4 q_xy^2)
    q, qxy = 0.2, 0.05
    np.testing.assert_allclose(
        act.dual(q, q, qxy), 1.0 / math.sqrt((1 - 2 * q) ** 2 - 4 * qxy**2), rtol=1e-13
    )


def test_exp_is_exact_where_representable_and_states_its_limit():
    act = Exp(a=50.0)
    q = 3.0  # a^2 exp(2 q) = 2500 e^6
    np.testing.assert_allclose(act.dual(q, q, q), 2500.0 * math.exp(6.0), rtol=1e-13)
    np.testing.assert_allclose(
        act.dual(q, 1.0, 0.5), 2500.0 * math.exp(0.5 * (q + 1.0) + 0.5), rtol=1e-13
    )
    limit = (math.log(np.finfo(np.float64).max) - 2.0 * math.log(50.0)) / 2.0
    np.testing.assert_allclose(
        act.dual(0.99 * limit, 0.99 * limit, 0.0), 2500.0 * math.exp(0.99 * limit), rtol=1e-12
    )
    with pytest.raises(ValueError, match=rf"overflows float64 .* q < {limit:.4g}\b"):
        act.dual(1.01 * limit, 1.01 * limit, 1.01 * limit)
    with pytest.raises(ValueError, match="Hermite coefficients .*overflows float64"):
        act.hermite_coefficients([40.0], 3)  # r_0 = a exp(s^2 / 2) = 50 e^800
    # ... while where only E[act^2] overflows, r_l(s) (<= sqrt(E[act^2])) are still finite
    r = act.hermite_coefficients([math.sqrt(1.5 * limit)], 3)[0]
    np.testing.assert_allclose(r[0], 50.0 * math.exp(0.75 * limit), rtol=1e-12)
    # a depth-2 network at unit scale reaches q = 2500 e^2 after the first layer: a clear
    # error naming the limit, where it returned NaN before
    X = np.random.RandomState(0).randn(5, 4)
    with pytest.raises(ValueError, match=r"Exp\(a=50.0, b=1.0\).*overflows float64"):
        ntk_kernel(X, depth=2, activation=act)


def test_sin_with_large_amplitude_keeps_its_closed_form():
    act = Sin(a=1e8)
    for q in [(1.0, 1.0, 0.3), (2.0, 0.5, -0.9), (1e4, 1e4, 1e4)]:
        qxx, qyy, qxy = q
        sp = math.exp(-(qxx + qyy) / 2 + qxy)
        sm = math.exp(-(qxx + qyy) / 2 - qxy)
        np.testing.assert_allclose(act.dual(*q), 1e16 / 2 * (sp - sm), rtol=1e-13)
        np.testing.assert_allclose(act.dual_derivative(*q), 1e16 / 2 * (sp + sm), rtol=1e-13)


# ----------------------------------------------------------------------------------------------
# 2. Classes where instances belong
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ReLU, LeakyReLU, Erf, GeLU, Tanh, NormalizedGaussian])
def test_a_class_is_refused_with_a_hint(cls):
    hint = rf"pass an instance, e\.g\. {cls.__name__}\(\)"
    with pytest.raises(TypeError, match=hint):
        get_activation(cls)
    with pytest.raises(TypeError, match=hint):
        CallableActivation(cls)
    X = np.random.RandomState(0).randn(8, 3)
    with pytest.raises(TypeError, match=hint):
        NTKSketch(64, activation=cls, random_state=0).fit(X)
    with pytest.raises(TypeError, match=hint):
        ntk_kernel(X, activation=cls)


# ----------------------------------------------------------------------------------------------
# 3. Callables are probed once
# ----------------------------------------------------------------------------------------------


def nan_above_five(t):
    return np.where(t > 5.0, np.nan, t)


def complex_valued(t):
    return t + 0.5j * t


def scalar_valued(t):
    return float(np.mean(t))


def ragged_shape(t):
    return t[:-1]


def not_vectorized(t):
    return math.tanh(t)


def string_valued(t):
    return np.array(["x"] * t.size)


@pytest.mark.parametrize(
    ("fn", "exc", "match"),
    [
        (nan_above_five, ValueError, r"nan_above_five returns non-finite values .*t = 5\.05"),
        (np.log, ValueError, r"log returns non-finite values"),
        (complex_valued, ValueError, "complex_valued returns complex values"),
        (scalar_valued, ValueError, r"scalar_valued returns shape \(\) for an input of shape"),
        (ragged_shape, ValueError, r"ragged_shape returns shape \(400,\)"),
        (string_valued, ValueError, "string_valued returns an array of dtype"),
        (not_vectorized, TypeError, r"not_vectorized failed on a float64 array .*vectorized"),
    ],
)
def test_callable_is_probed_at_construction(fn, exc, match):
    with pytest.raises(exc, match=match):
        get_activation(fn)
    with pytest.raises(exc, match=match):
        CallableActivation(np.tanh, derivative=fn)
    X = np.random.RandomState(0).randn(8, 3)
    with pytest.raises(exc, match=match):
        NNGPSketch(64, activation=fn, random_state=0).fit(X)


def test_a_good_callable_passes_the_probe_unchanged():
    act = get_activation(np.tanh, derivative=lambda t: 1.0 - np.tanh(t) ** 2)
    np.testing.assert_allclose(act.dual(1.3, 0.7, 0.5), Tanh().dual(1.3, 0.7, 0.5), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# 4. Duals at extreme variances
# ----------------------------------------------------------------------------------------------

VARIANCES = [1e-300, 1e-150, 1e-40, 1e-8, 1.0, 1e8, 1e40, 1e150, 1e300]
RHOS = np.array([-0.9, -0.4, 0.0, 0.3, 0.8])


def _pairs(q, ratio=1.0, rhos=RHOS):
    """``q_xx = q``, ``q_yy = ratio q`` and ``q_xy = rho sqrt(q_xx q_yy)``."""
    qxx = np.full(rhos.shape, q)
    qyy = qxx * ratio
    return qxx, qyy, rhos * np.sqrt(qxx) * np.sqrt(qyy)


def _arccos_kernel(rho):
    """ReLU's unit-sphere dual and derivative dual (Cho and Saul)."""
    t = np.arccos(rho)
    return (np.sin(t) + (np.pi - t) * np.cos(t)) / TWO_PI, (np.pi - t) / TWO_PI


def _erf_textbook(qxx, qyy, qxy):
    """The textbook erf duals, accurate in float64 while (1 + 2q)^2 fits and |rho| < 1."""
    den = (1 + 2 * qxx) * (1 + 2 * qyy)
    return (2 / np.pi) * np.arcsin(2 * qxy / np.sqrt(den)), (4 / np.pi) / np.sqrt(
        den - 4 * qxy * qxy
    )


def _gelu_textbook(a, b, c):
    m2 = (1 + a) * (1 + b)
    D = m2 - c * c
    N = a * b + c * c * (1 - a * b) / m2
    return c * (0.25 + np.arcsin(c / np.sqrt(m2)) / TWO_PI) + N / (TWO_PI * np.sqrt(D))


@pytest.mark.parametrize("q", VARIANCES, ids=lambda q: f"q{q:.0e}")
@pytest.mark.parametrize("ratio", [1.0, 1e-6])
def test_erf_duals_at_any_variance(q, ratio):
    act = Erf()
    qxx, qyy, qxy = _pairs(q, ratio)
    nngp, ntk = act.duals(qxx, qyy, qxy.copy())
    assert np.all(np.isfinite(nngp)) and np.all(np.isfinite(ntk))
    np.testing.assert_array_equal(act.dual(qxx, qyy, qxy), nngp)
    np.testing.assert_array_equal(act.dual_derivative(qxx, qyy, qxy), ntk)
    if q * ratio >= 1e150:  # (2/pi) arcsin(rho) up to O(1/q)
        np.testing.assert_allclose(nngp, (2 / np.pi) * np.arcsin(RHOS), rtol=1e-14, atol=1e-300)
        want = (2 / np.pi) / (np.sqrt(qxx) * np.sqrt(qyy) * np.sqrt(1 - RHOS**2))
        np.testing.assert_allclose(ntk, want, rtol=1e-14)
    elif q <= 1e-150:  # erf(u) ~ 2u / sqrt(pi): E = (4/pi) q_xy, E' = 4/pi
        np.testing.assert_allclose(nngp, (4 / np.pi) * qxy, rtol=1e-14, atol=0)
        np.testing.assert_allclose(ntk, 4 / np.pi, rtol=1e-14)
    else:
        want, want_d = _erf_textbook(qxx, qyy, qxy)
        np.testing.assert_allclose(nngp, want, rtol=1e-12, atol=0)
        np.testing.assert_allclose(ntk, want_d, rtol=1e-12)


@pytest.mark.parametrize("q", VARIANCES, ids=lambda q: f"q{q:.0e}")
def test_erf_diagonal_at_any_variance(q):
    # E[erf(u)^2] = (2/pi) arcsin(2q / (1 + 2q)), written for large q as
    # 1 - (4/pi) arcsin(sqrt(1 / (2 (1 + 2q)))) (arccos(1 - e) = 2 arcsin(sqrt(e / 2))).
    if q < 1.0:
        want = (2 / np.pi) * math.asin(2 * q / (1 + 2 * q))
    else:
        want = 1.0 - (4 / np.pi) * math.asin(math.sqrt(0.5 / (1.0 + 2.0 * q)))
    np.testing.assert_allclose(Erf().dual(q, q, q), want, rtol=1e-13, atol=0)
    np.testing.assert_allclose(
        Erf().dual_derivative(q, q, q), (4 / np.pi) / math.sqrt(1.0 + 4.0 * q), rtol=1e-13
    )
    np.testing.assert_allclose(Erf().second_moment(q), want, rtol=1e-13)


@pytest.mark.parametrize("q", VARIANCES, ids=lambda q: f"q{q:.0e}")
@pytest.mark.parametrize("ratio", [1.0, 1e-6])
def test_gelu_duals_at_any_variance(q, ratio):
    act = GeLU()
    qxx, qyy, qxy = _pairs(q, ratio)
    nngp, ntk = act.duals(qxx, qyy, qxy.copy())
    assert np.all(np.isfinite(nngp)) and np.all(np.isfinite(ntk))
    np.testing.assert_array_equal(act.dual(qxx, qyy, qxy), nngp)
    np.testing.assert_array_equal(act.dual_derivative(qxx, qyy, qxy), ntk)
    m = np.sqrt(qxx) * np.sqrt(qyy)
    unit, unit_d = _arccos_kernel(RHOS)
    if q * ratio >= 1e40:  # ReLU's arc-cosine kernels, up to O(1/sqrt(q))
        np.testing.assert_allclose(nngp, m * unit, rtol=1e-13)
        np.testing.assert_allclose(ntk, unit_d, rtol=1e-13)
    elif q <= 1e-150:  # gelu(u) = u/2 + O(u^2): E = q_xy / 4 + O(q^2), E' = 1/4
        np.testing.assert_allclose(nngp, qxy / 4, rtol=1e-13, atol=q * q)
        np.testing.assert_allclose(ntk, 0.25, rtol=1e-13)
    elif q <= 1e8:
        np.testing.assert_allclose(nngp, _gelu_textbook(qxx, qyy, qxy), rtol=1e-10, atol=0)


@pytest.mark.parametrize("q", [1e-4, 1.0, 30.0, 1e4])
def test_gelu_derivative_dual_matches_quadrature_on_nearly_parallel_pairs(q, gauss_quad):
    # the textbook derivative cancels at large q; adaptive quadrature does not
    df = gauss_quad.scalar(GeLU().derivative)
    for qxx, qyy, qxy in [(q, q, 0.999 * q), (q, 0.5 * q, -0.6 * q / math.sqrt(2))]:
        want = gauss_quad.pair_expectation(df, df, qxx, qyy, qxy)
        np.testing.assert_allclose(GeLU().dual_derivative(qxx, qyy, qxy), want, rtol=1e-8)


@pytest.mark.parametrize("q", VARIANCES, ids=lambda q: f"q{q:.0e}")
def test_gelu_diagonal_at_any_variance(q):
    # a = b = c = q in the closed form: E = q/4 + q arcsin(q/(1+q)) / (2 pi)
    # + q^2 / (pi (1+q) sqrt(1+2q)), with arcsin(q/(1+q)) = pi/2 - 2 arcsin(sqrt(1/(2(1+q))))
    arcsin = math.pi / 2 - 2 * math.asin(math.sqrt(0.5 / (1 + q)))
    third = q / (math.pi * math.sqrt(1 + 2 * q)) * (q / (1 + q))
    want = q / 4 + q * arcsin / TWO_PI + third
    np.testing.assert_allclose(GeLU().dual(q, q, q), want, rtol=1e-13, atol=0)


GAUSSIAN_FAMILY = [
    Gaussian(),
    Gaussian(a=0.5, b=-3.0),
    Rbf(gamma=0.7),
    Sin(a=1.2, b=0.8, c=0.3),
    Cos(a=0.9, b=1.5, c=-0.2),
    NormalizedGaussian(gamma=2.5),
]


def _gaussian_family_textbook(act, qxx, qyy, qxy):
    """Textbook duals (fine while the products below fit in float64)."""
    if isinstance(act, Gaussian):
        a, b = act.a, act.b
        D = np.sqrt((1 - 2 * b * qxx) * (1 - 2 * b * qyy) - 4 * b * b * qxy**2)
        return a * a / D, 4 * a * a * b * b * qxy / D**3
    if isinstance(act, Rbf):
        k = np.exp(-act.gamma * (qxx + qyy - 2 * qxy))
        return k, 2 * act.gamma * k
    if isinstance(act, NormalizedGaussian):
        rho = qxy / np.sqrt(qxx * qyy)
        e = np.exp(act.gamma * (rho - 1))
        return np.sqrt(qxx * qyy) * e, act.gamma * e
    c = act.c + (0.5 * np.pi if isinstance(act, Cos) else 0.0)
    sp = np.exp(act.b**2 * (-(qxx + qyy) / 2 + qxy))
    sm = np.exp(act.b**2 * (-(qxx + qyy) / 2 - qxy))
    return (
        act.a**2 / 2 * (sp - sm * np.cos(2 * c)),
        act.a**2 * act.b**2 / 2 * (sp + sm * np.cos(2 * c)),
    )


@pytest.mark.parametrize("q", VARIANCES, ids=lambda q: f"q{q:.0e}")
@pytest.mark.parametrize("act", GAUSSIAN_FAMILY, ids=repr)
def test_gaussian_family_at_any_variance(act, q):
    qxx, qyy, qxy = _pairs(q, 0.25)
    nngp, ntk = act.duals(qxx, qyy, qxy.copy())
    assert np.all(np.isfinite(nngp)) and np.all(np.isfinite(ntk)), (nngp, ntk)
    textbook = 1e-100 <= q <= 1e100 if isinstance(act, NormalizedGaussian) else q <= 1e100
    if textbook:
        want, want_d = _gaussian_family_textbook(act, qxx, qyy, qxy)
        np.testing.assert_allclose(nngp, want, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(ntk, want_d, rtol=1e-12, atol=1e-300)
    elif isinstance(act, Gaussian):  # a^2 / (2|b| sqrt(q_xx q_yy) sqrt(1 - rho^2)) + O(1/q^2)
        m = np.sqrt(qxx) * np.sqrt(qyy)
        want = act.a**2 / (2 * abs(act.b) * m * np.sqrt(1 - RHOS**2))
        np.testing.assert_allclose(nngp, want, rtol=1e-13)
    elif isinstance(act, NormalizedGaussian):  # homogeneous: exact rescaling, tiny q too
        want, want_d = _gaussian_family_textbook(act, *_pairs(1.0, 0.25))
        np.testing.assert_allclose(nngp, q * want, rtol=1e-13)
        np.testing.assert_allclose(ntk, want_d, rtol=1e-13)
    else:  # sin, cos, rbf: every pair with |rho| < 1 decorrelates completely
        np.testing.assert_array_equal(nngp, 0.0)
        np.testing.assert_array_equal(ntk, 0.0)


@pytest.mark.parametrize("q", [1e150, 1e300])
@pytest.mark.parametrize("act", GAUSSIAN_FAMILY[2:5], ids=repr)
def test_periodic_diagonal_tends_to_half_the_amplitude(act, q):
    # E[a^2 sin^2(b u + c)] = a^2 / 2 (1 - exp(-2 b^2 q) cos 2c) -> a^2 / 2
    got = act.dual(q, q, q)
    np.testing.assert_allclose(got, act.a**2 / 2, rtol=1e-14)


HOMOGENEOUS = [ReLU(), LeakyReLU(alpha=0.1), ABReLU(a=-0.3, b=1.2), Abs(), Sign()]
HOMOGENEOUS += [RectifiedMonomial(degree=0), RectifiedMonomial(degree=2)]
HOMOGENEOUS += [RectifiedMonomial(degree=4), NormalizedGaussian(gamma=1.5)]


@pytest.mark.parametrize("exponent", [-300, -200, -60, 60, 200, 300])
@pytest.mark.parametrize("act", HOMOGENEOUS, ids=repr)
def test_homogeneous_duals_are_exact_at_any_scale(act, exponent):
    """``dual(c q) = c^k dual(q)`` with ``c = 10^exponent`` for variances far past the point
    where ``q_xx q_yy`` leaves float64; at unit scale the tests of test_activations hold."""
    k = act.homogeneity
    c = 10.0**exponent
    if abs(exponent * k) > 300:
        pytest.skip("the dual itself is not representable")
    # rho = 1 only as an exactly parallel pair (q_xx = q_yy = q_xy): the rounding of
    # sqrt(q_xx q_yy) would otherwise tilt it by an angle ~1e-8, different at each scale
    base = tuple(np.append(v, 1.0) for v in _pairs(1.0, 0.3))
    scaled = tuple(c * v for v in base)
    # c q rounds each variance once: rho moves by ~1e-16, which a dual that is small near
    # rho = -1 (J_n(t) ~ (pi - t)^(2n+1)) feels relative to its diagonal only
    want = c**k * act.dual(*base)
    np.testing.assert_allclose(act.dual(*scaled), want, rtol=1e-12, atol=1e-13 * abs(want[-1]))
    if not isinstance(act, Sign) and act != RectifiedMonomial(degree=0):
        want = c ** (k - 1) * act.dual_derivative(*base)
        got = act.dual_derivative(*scaled)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13 * abs(want[-1]))


def test_homogeneous_duals_of_zero_variance_inputs():
    # u = 0: act(0) = 0 for these, so E[act(u) act(v)] = 0
    for act in (ReLU(), Abs(), Sign(), RectifiedMonomial(degree=2), NormalizedGaussian()):
        np.testing.assert_array_equal(act.dual(0.0, np.array([0.0, 2.0]), 0.0), [0.0, 0.0])


def test_rectified_power_overflow_is_an_error_not_inf():
    act = RectifiedMonomial(degree=3)
    with pytest.raises(ValueError, match=r"RectifiedMonomial\(degree=3\).*overflows float64"):
        act.dual(1e300, 1e300, 0.5e300)
    with pytest.raises(ValueError, match="overflows float64"):  # 9 q^3 + ... ~ 1e360
        Monomial(degree=3).dual(1e120, 1e120, 0.5e120)
    # E[act(u)^2] = 2 q for a slope 2: past float32 at q = 3e38
    q32 = np.float32(3e38)
    np.testing.assert_allclose(ABReLU(b=2.0).duals(1e38, 1e38, np.float32(1e38))[0], 2e38)
    with pytest.raises(ValueError, match=r"ABReLU\(a=0.0, b=2.0\).*overflows"):
        ABReLU(b=2.0).duals(q32, q32, np.array([q32]))


# tanh-like activations without closed forms: limits at large scale s = sqrt(q), with the
# leading correction O(1/s^2) (odd saturating functions) or O(1/s) (the others)
def _tanh_limits(qxx, qyy, rho):
    m = np.sqrt(qxx) * np.sqrt(qyy)
    # tanh -> sign; tanh' = sech^2 -> 2 delta, so E[tanh' tanh'] -> 4 p(0, 0)
    return (2 / np.pi) * np.arcsin(rho), 2.0 / (np.pi * m * np.sqrt(1 - rho**2))


def _sigmoid_limits(qxx, qyy, rho):
    m = np.sqrt(qxx) * np.sqrt(qyy)
    return (np.pi - np.arccos(rho)) / TWO_PI, 1.0 / (TWO_PI * m * np.sqrt(1 - rho**2))


def _relu_like_limits(qxx, qyy, rho):
    unit, unit_d = _arccos_kernel(rho)
    return np.sqrt(qxx) * np.sqrt(qyy) * unit, unit_d


NUMERIC_LIMITS = [
    (Tanh(), _tanh_limits, 2),
    (Sigmoid(), _sigmoid_limits, 2),
    (CallableActivation(np.tanh, derivative=lambda t: 1 - np.tanh(t) ** 2), _tanh_limits, 2),
    (Softplus(), _relu_like_limits, 1),
    (Silu(), _relu_like_limits, 1),
    (Elu(alpha=0.5), _relu_like_limits, 1),
]


@pytest.mark.parametrize("q", [1e8, 1e40, 1e150, 1e300], ids=lambda q: f"q{q:.0e}")
@pytest.mark.parametrize(
    ("act", "limits", "order"), NUMERIC_LIMITS, ids=[repr(c[0]) for c in NUMERIC_LIMITS]
)
def test_numeric_duals_tend_to_their_limits(act, limits, order, q):
    qxx, qyy, qxy = _pairs(q, 0.5)
    nngp, ntk = act.duals(qxx, qyy, qxy.copy())
    want, want_d = limits(qxx, qyy, RHOS)
    # the limit's own error ~ 1/s^order with s ~ 1e4 at q = 1e8; 1e-11 floor of the rules
    tol = max(1e-10, 50.0 * q ** (-order / 2))
    atol = tol * np.abs(want).max()
    np.testing.assert_allclose(nngp, want, rtol=tol, atol=atol)
    np.testing.assert_allclose(ntk, want_d, rtol=tol)


@pytest.mark.parametrize("q", [1e-300, 1e-150, 1e-40])
@pytest.mark.parametrize("act", [Tanh(), Sigmoid(), Softplus(), Silu(), Elu(), Gabor()], ids=repr)
def test_numeric_duals_at_tiny_variance_linearize(act, q):
    # act(u) = act(0) + act'(0) u + O(u^2): E = act(0)^2 + act'(0)^2 q_xy + O(q^2),
    # E' = act'(0)^2 + O(q)
    qxx, qyy, qxy = _pairs(q, 0.5)
    a0, d0 = float(act.value(0.0)), float(act.derivative(0.0))
    got = act.dual(qxx, qyy, qxy)
    np.testing.assert_allclose(got, a0**2 + d0**2 * qxy, rtol=1e-12, atol=1e-9 * q)
    np.testing.assert_allclose(act.dual_derivative(qxx, qyy, qxy), d0**2, rtol=1e-9)


@pytest.mark.parametrize(
    "act", [Tanh(), Gabor(), Softplus(), Elu(alpha=0.5), Sigmoid(), Silu()], ids=repr
)
def test_numeric_duals_at_intermediate_scales_match_quadrature(act, gauss_quad):
    """Scales 10-50: the transition of tanh (or the bump of its derivative) is 1/s wide in the
    standard variable, where a fixed quadrature rule loses digits (up to 1e-2 before)."""
    f, df = gauss_quad.scalar(act.value), gauss_quad.scalar(act.derivative)
    for q in [(100.0, 900.0, -210.0), (2500.0, 2500.0, 0.99 * 2500)]:
        np.testing.assert_allclose(
            act.dual(*q), gauss_quad.pair_expectation(f, f, *q), rtol=1e-9, atol=1e-14
        )
        np.testing.assert_allclose(
            act.dual_derivative(*q), gauss_quad.pair_expectation(df, df, *q), rtol=1e-7
        )


@pytest.mark.parametrize("act", [Tanh(), Softplus(), Gabor(), Elu(alpha=0.5)], ids=repr)
def test_numeric_coefficients_at_intermediate_scales_match_quadrature(act, gauss_quad):
    """At s = 10 and 100 the function changes within |g| < 5 / s; the scale-graded rule
    resolves it (the Hermite sketches and the Mehler duals both read these)."""
    scales = [10.0, 100.0]
    got = act.hermite_coefficients(scales, 10)
    got_d = act.derivative_hermite_coefficients(scales, 10)
    f, df = gauss_quad.scalar(act.value), gauss_quad.scalar(act.derivative)
    for i, s in enumerate(scales):
        want = np.array([gauss_quad.hermite_coefficient(f, s, l) for l in range(11)])
        want_d = np.array([gauss_quad.hermite_coefficient(df, s, l) for l in range(11)])
        np.testing.assert_allclose(got[i], want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
        np.testing.assert_allclose(got_d[i], want_d, rtol=1e-10, atol=1e-12 * np.abs(want_d).max())


SCALES = np.array([0.0, 1e-150, 1e-5, 1.0, 3.0, 1e5, 1e150])


@pytest.mark.parametrize(
    "act",
    [cls() for name, cls in sorted(ACTIVATIONS.items()) if name != "swish"]
    + [Erf(a=1.3, b=0.7, c=0.2), Sin(a=2.0, b=-3.0, c=1.0), Gaussian(a=0.5, b=-4.0)],
    ids=repr,
)
def test_hermite_coefficients_at_extreme_scales_are_finite_or_refused(act):
    """Never NaN: finite, or a ValueError where the coefficients overflow float64 (powers of
    huge scales, exp(b^2 s^2 / 2))."""
    for s in SCALES:
        for method in ("hermite_coefficients", "derivative_hermite_coefficients"):
            if isinstance(act, Sign) and method.startswith("derivative"):
                continue
            try:
                r = getattr(act, method)([s], 12)
            except ValueError as exc:
                assert "overflow" in str(exc), exc
                assert s >= 1e5 or isinstance(act, Exp), (s, exc)
                continue
            assert np.all(np.isfinite(r)), (method, s, r)


def test_bounded_coefficients_at_huge_scale_match_their_limits():
    # erf -> sign: r_l = 2 He_{l-1}(0) phi(0) / sqrt(l!) for odd l (derivative 2 delta)
    r = Erf().hermite_coefficients([1e150], 7)[0]
    phi0 = 1 / math.sqrt(TWO_PI)
    want = [0, 2 * phi0, 0, -2 * phi0 / math.sqrt(6), 0, 2 * 3 * phi0 / math.sqrt(120), 0]
    np.testing.assert_allclose(r[:7], want, rtol=1e-13, atol=1e-300)
    # tanh, too, by quadrature resolved at the 1/s scale
    np.testing.assert_allclose(
        Tanh().hermite_coefficients([1e150], 6)[0], r[:7], rtol=1e-12, atol=1e-16
    )
    # Gaussian(b < 0): r_0 = a / sqrt(1 + 2|b| s^2), exact closed form
    g = Gaussian(a=1.0, b=-1.0).hermite_coefficients([1e150], 2)[0]
    np.testing.assert_allclose(g[0], 1.0 / math.sqrt(2.0) * 1e-150, rtol=1e-14)
    # Hermite(n) at s = 1: r_l = [l == n], also for a high degree (no cancellation)
    h = Hermite(degree=80).hermite_coefficients([1.0], 82)[0]
    np.testing.assert_array_equal(h, np.eye(83)[80])


def test_hermite_polynomials_of_high_degree_are_exact():
    act = Hermite(degree=100)
    rho = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(act.dual(1.0, 1.0, rho), rho**100, rtol=1e-12, atol=1e-300)
    # h_n' = sqrt(n) h_{n-1}: E[h_n'(u) h_n'(v)] = n rho^(n-1) on the unit sphere
    np.testing.assert_allclose(act.dual_derivative(1.0, 1.0, rho), 100 * rho**99, rtol=1e-12)
    t = np.linspace(-3, 3, 7)
    from scipy.special import eval_hermitenorm

    want = eval_hermitenorm(30, t) / math.sqrt(math.factorial(30))
    np.testing.assert_allclose(Hermite(degree=30).value(t), want, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# 5. The public kernels on unscaled data
# ----------------------------------------------------------------------------------------------


def _X(n=12, d=5, seed=0):
    return np.random.RandomState(seed).randn(n, d)


def _gram_parts(X, weight_std=1.0, bias_std=0.0):
    """``q_xx``, ``q_xy`` and ``det = q_xx q_yy - q_xy^2`` of the first Dense layer, the
    determinant by the Lagrange identity (no cancellation at any scale)."""
    d = X.shape[1]
    w2, b2 = weight_std**2, bias_std**2
    sq = np.einsum("ij,ij->i", X, X) / d
    G = X @ X.T / d
    wedge = sum(
        (np.outer(X[:, i], X[:, j]) - np.outer(X[:, j], X[:, i])) ** 2
        for i, j in itertools.combinations(range(d), 2)
    ) / (d * d)
    dist = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1) / d
    q, qxy = w2 * sq + b2, w2 * G + b2
    det = w2 * w2 * wedge + w2 * b2 * dist
    return q, qxy, det


def _erf_depth1_reference(X, weight_std=1.0, bias_std=0.0):
    """Depth-1 erf NNGP and NTK from the closed forms with ``1 - r^2`` from the Lagrange
    determinant: ``(1 + 2a)(1 + 2b) - 4c^2 = 1 + 2a + 2b + 4 det``."""
    w2, b2 = weight_std**2, bias_std**2
    q, c, det = _gram_parts(X, weight_std, bias_std)
    a, b = q[:, None], q[None, :]
    inner = 1 + 2 * a + 2 * b + 4 * det
    e = (2 / np.pi) * np.arctan2(2 * c, np.sqrt(inner))
    ed = (4 / np.pi) / np.sqrt(inner)
    nngp = w2 * e + b2
    return nngp, nngp + w2 * c * ed


def _relu_depth1(X, weight_std=1.0):
    w2 = weight_std**2
    q, c, det = _gram_parts(X, weight_std)
    m = np.sqrt(q[:, None]) * np.sqrt(q[None, :])
    t = np.arctan2(np.sqrt(det), c)
    e = (m * np.sin(t) + (np.pi - t) * c) / TWO_PI
    nngp = w2 * e
    return nngp, nngp + w2 * c * (np.pi - t) / TWO_PI


def _one_big_column(X, value):
    X = X.copy()
    X[:, 0] *= value
    return X


UNSCALED = {
    "x1": lambda X: X,
    "x1e6": lambda X: 1e6 * X,
    "x1e8": lambda X: 1e8 * X,
    "column x1e6": lambda X: _one_big_column(X, 1e6),
}


@pytest.mark.parametrize("case", list(UNSCALED))
@pytest.mark.parametrize("bias_std", [0.0, 0.3])
def test_erf_kernels_on_unscaled_data(case, bias_std):
    X = UNSCALED[case](_X())
    kw = dict(depth=1, activation="erf", weight_std=1.2, bias_std=bias_std)
    nngp, ntk = nngp_kernel(X, **kw), ntk_kernel(X, **kw)
    want, want_ntk = _erf_depth1_reference(X, 1.2, bias_std)
    # Near rho = 1 (the diagonal; rows dominated by one big column) the duals depend on
    # 1 + 2a + 2b + 4 det, where the Gram's own rounding moves det by ~eps a b: a condition
    # number a b / (1 + 2a + 2b + 4 det) (up to 1e11 here) that no formula of (q_xx, q_yy,
    # q_xy) can undo. The reference takes det exactly (Lagrange): allow eps times it.
    q, _, det = _gram_parts(X, 1.2, bias_std)
    a, b = q[:, None], q[None, :]
    rtol = 1e-12 + 100 * np.finfo(float).eps * a * b / (1 + 2 * a + 2 * b + 4 * det)
    assert np.all(np.abs(nngp - want) <= rtol * np.abs(want) + 1e-14)
    assert np.all(np.abs(ntk - want_ntk) <= rtol * np.abs(want_ntk) + 1e-14)
    if case == "x1":  # unit scale: well conditioned
        np.testing.assert_allclose(ntk, want_ntk, rtol=1e-12, atol=1e-14)
    for depth in (2, 3):  # deeper: finite, symmetric and positive semi-definite
        for fn in (nngp_kernel, ntk_kernel):
            K = fn(X, depth=depth, activation="erf", bias_std=bias_std)
            assert np.all(np.isfinite(K))
            np.testing.assert_allclose(K, K.T, rtol=1e-12)
            assert np.linalg.eigvalsh(K).min() >= -1e-10 * np.abs(K).max()


@pytest.mark.parametrize("scale", [1e6, 1e8, 1e40])
def test_gelu_kernels_tend_to_relu_on_unscaled_data(scale):
    """GeLU differs from ReLU by a bump of unit width: at input scale ``c`` its kernels are
    ReLU's up to relative O(1/c) (O(1/c^2) for the NNGP)."""
    X = scale * _X()
    for depth in (1, 2, 3):
        kw = dict(depth=depth, weight_std=1.1)
        got_nngp = nngp_kernel(X, activation="gelu", **kw)
        got_ntk = ntk_kernel(X, activation="gelu", **kw)
        # 1e-8: the NTK's diagonal at depth >= 2 is off by ~5e-9 when the Gram's diagonal
        # differs from the squared row norms by one rounding (angle ~1e-8 instead of 0)
        tol = max(1e-8, 100.0 / scale)
        np.testing.assert_allclose(got_nngp, nngp_kernel(X, activation="relu", **kw), rtol=tol)
        np.testing.assert_allclose(got_ntk, ntk_kernel(X, activation="relu", **kw), rtol=tol)
    want, want_ntk = _relu_depth1(X, 1.1)
    tol = max(1e-8, 100.0 / scale)
    np.testing.assert_allclose(nngp_kernel(X, activation="gelu", weight_std=1.1), want, rtol=tol)
    np.testing.assert_allclose(ntk_kernel(X, activation="gelu", weight_std=1.1), want_ntk, rtol=tol)


def test_gelu_kernels_with_one_unscaled_column():
    """The issue's case: one column around 1e6 gave NaN in 112 of 1600 entries."""
    X = _one_big_column(_X(40, 5, seed=3), 1e6)
    for fn in (nngp_kernel, ntk_kernel):
        for depth in (1, 2):
            K = fn(X, depth=depth, activation="gelu")
            assert np.all(np.isfinite(K))
            np.testing.assert_allclose(K, K.T, rtol=1e-12)
            assert np.linalg.eigvalsh(K).min() >= -1e-10 * np.abs(K).max()
    # depth 1 NNGP: the textbook closed form with D = 1 + a + b + det, N = (ab (1 + a + b +
    # det) + c^2) / M^2 (no cancellation), and arcsin(c / M) = arctan2(c, sqrt(D))
    q, c, det = _gram_parts(X)
    a, b = q[:, None], q[None, :]
    D = 1 + a + b + det
    M2 = (1 + a) * (1 + b)
    N = (a * b * (1 + a + b + det) + c * c) / M2
    want = c * (0.25 + np.arctan2(c, np.sqrt(D)) / TWO_PI) + N / (TWO_PI * np.sqrt(D))
    # antiparallel rows (rho ~ -1): both sides cancel to ~1e-16 of |x||y|
    K = nngp_kernel(X, activation="gelu")
    np.testing.assert_allclose(K, want, rtol=1e-9, atol=1e-14 * np.abs(want).max())


@pytest.mark.parametrize("scale", [1e6, 1e8])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
def test_numeric_activation_kernels_on_unscaled_data(activation, scale):
    """Depth 1 at scale ``c``: the saturating limits of test_numeric_duals_tend_to_their_limits,
    through the public kernels (the NTK used to be wrong by up to 100%)."""
    X = scale * _X(8, 4)
    q, c, det = _gram_parts(X)
    rho = np.clip(c / (np.sqrt(q[:, None]) * np.sqrt(q[None, :])), -1, 1)
    limits = {"tanh": _tanh_limits, "sigmoid": _sigmoid_limits, "softplus": _relu_like_limits}
    with np.errstate(divide="ignore"):  # the derivative limit at rho = 1, not compared
        e, ed = limits[activation](q[:, None], q[None, :], rho)
    off = ~np.eye(len(X), dtype=bool)  # the derivative limit is singular at rho = 1
    tol = 100.0 / scale
    nngp = nngp_kernel(X, activation=activation)
    ntk = ntk_kernel(X, activation=activation)
    np.testing.assert_allclose(nngp, e, rtol=tol, atol=tol * np.abs(e).max())
    np.testing.assert_allclose((ntk - nngp)[off], (c * ed)[off], rtol=tol)
