"""Tests of the estimator helpers: ``allocate_dimensions`` and the Taylor polynomial fit.

Ground truth here is closed-form: the optimum of ``sum_l w_l^2 / m_l`` under ``sum_l m_l = M``
is ``m_l ~ w_l``; kernels of polynomial activations are polynomials in the cosine (Mehler), and
the exact kernels of :mod:`skntk.kernels` (validated against neural-tangents) give ``kappa``.
"""

import math

import numpy as np
import pytest

from skntk._estimator import allocate_dimensions
from skntk._taylor import cosine_distribution, fit_dot_product_polynomial, normalized_kernel
from skntk.activations import get_activation
from skntk.architectures import fully_connected
from skntk.kernels import nngp_kernel, ntk_kernel

# ---------------------------------------------------------------------------------------------
# allocate_dimensions
# ---------------------------------------------------------------------------------------------


def test_allocate_docstring_example():
    assert allocate_dimensions([1.0, 1.0, 2.0], 8) == ([2, 2, 4], [False, False, False])


@pytest.mark.parametrize("total", [1, 2, 3, 10, 37, 101, 1000, 4097])
@pytest.mark.parametrize(
    "weights",
    [[1.0, 1.0, 1.0], [3.0, 0.0, 1.0, 0.5], [0.9, 0.1, 0.01, 1e-4], [0.0, 2.0], [1.0]],
)
def test_allocate_sums_to_total_and_zero_where_weight_zero(weights, total):
    dims, exact = allocate_dimensions(weights, total)
    assert len(dims) == len(weights) and len(exact) == len(weights)
    assert sum(dims) == total
    assert all(isinstance(m, int) for m in dims)
    assert not any(exact)
    assert all(m == 0 for w, m in zip(weights, dims, strict=True) if w == 0)
    n_active = sum(w > 0 for w in weights)
    if total >= n_active:
        # every positive weight gets at least one column
        assert all(m >= 1 for w, m in zip(weights, dims, strict=True) if w > 0)
    else:
        # too few columns for one each: the smallest weights are dropped, not the largest
        kept = [w for w, m in zip(weights, dims, strict=True) if m > 0]
        dropped = [w for w, m in zip(weights, dims, strict=True) if m == 0 and w > 0]
        assert len(kept) == total
        assert min(kept) >= max(dropped)


@pytest.mark.parametrize("total", [100, 999, 10_000])
def test_allocate_is_proportional_to_weights(total):
    w = np.array([5.0, 3.0, 1.5, 0.5])
    dims, _ = allocate_dimensions(w, total)
    # rounding to integers moves each entry by less than one column
    np.testing.assert_array_less(np.abs(np.array(dims) - total * w / w.sum()), 1.0 + 1e-12)


def test_allocate_minimizes_the_variance_objective():
    # sum_l w_l^2 / m_l is minimal at the returned split among all neighbours that move one
    # column from one entry to another
    w = np.array([4.0, 2.0, 1.0, 0.3])
    dims, _ = allocate_dimensions(w, 200)

    def cost(m):
        return float(np.sum(w**2 / np.asarray(m, dtype=float)))

    best = cost(dims)
    for i in range(len(w)):
        for j in range(len(w)):
            if i != j and dims[i] > 1:
                m = list(dims)
                m[i] -= 1
                m[j] += 1
                assert cost(m) >= best - 1e-12


def test_allocate_takes_exact_representation_when_it_fits():
    # entry 0 needs 10 exact columns, its share is 50: exact; the others share the remaining 90
    dims, exact = allocate_dimensions([1.0, 1.0], 100, [10, None])
    assert exact == [True, False]
    assert dims == [10, 90]
    # its share (50) is smaller than the exact size (60): sketched
    dims, exact = allocate_dimensions([1.0, 1.0], 100, [60, None])
    assert exact == [False, False]
    assert dims == [50, 50]


def test_allocate_exact_cascade():
    # once entry 0 takes its small exact form, entry 1's share grows past its exact size
    # (share of entry 1: 100/3 = 33 < 40 at first, then (100 - 5) / 2 = 47.5 >= 40)
    dims, exact = allocate_dimensions([1.0, 1.0, 1.0], 100, [5, 40, None])
    assert exact == [True, True, False]
    assert dims == [5, 40, 55]
    assert sum(dims) == 100


def test_allocate_raises_without_columns():
    # an exact entry that fits its share always leaves a column for the sketched ones
    dims, exact = allocate_dimensions([1.0, 1.0, 1.0], 30, [10, 10, None])
    assert (dims, exact) == ([10, 10, 10], [True, True, False])
    with pytest.raises(ValueError, match="too few"):
        allocate_dimensions([1.0, 1.0], 0)
    with pytest.raises(ValueError, match="positive"):
        allocate_dimensions([0.0, 0.0], 10)


# ---------------------------------------------------------------------------------------------
# _taylor
# ---------------------------------------------------------------------------------------------


def _relu_layers(depth):
    return fully_connected(depth, get_activation("relu"), 1.0, 0.0)


@pytest.mark.parametrize("want_ntk", [False, True])
@pytest.mark.parametrize("depth", [1, 3])
def test_normalized_kernel_matches_exact_kernel(depth, want_ntk):
    # rows of norm sqrt(d): q_xx = q_yy = 1 and q_xy = rho
    rng = np.random.default_rng(0)
    d = 7
    X = rng.standard_normal((9, d))
    X *= math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True)
    rho = np.clip((X @ X.T) / d, -1.0, 1.0)
    exact = (ntk_kernel if want_ntk else nngp_kernel)(X, depth=depth)
    kappa = normalized_kernel(_relu_layers(depth), rho.ravel(), want_ntk).reshape(rho.shape)
    # (the NTK has a square-root singularity at rho = 1: a rounding of rho by 1e-16 on the
    # diagonal moves it by ~1e-8, hence rtol=1e-7)
    np.testing.assert_allclose(kappa, exact, rtol=1e-7, atol=1e-12)


def test_normalized_kernel_relu_closed_form():
    # depth 1, W = 1, b = 0: NNGP = (sin t + (pi - t) cos t) / (2 pi),
    # NTK = NNGP + rho (pi - t) / (2 pi), t = arccos(rho)
    rho = np.linspace(-1, 1, 41)
    t = np.arccos(rho)
    nngp = (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)
    ntk = nngp + rho * (np.pi - t) / (2 * np.pi)
    layers = _relu_layers(1)
    np.testing.assert_allclose(normalized_kernel(layers, rho, False), nngp, atol=1e-12)
    np.testing.assert_allclose(normalized_kernel(layers, rho, True), ntk, atol=1e-12)


@pytest.mark.parametrize(
    ("want_ntk", "expected"),
    # t^2 with unit variance: E[u^2 v^2] = 1 + 2 rho^2 and E[2u 2v] = 4 rho, so
    # NNGP = 1 + 2 rho^2, NTK = (1 + 2 rho^2) + rho * 4 rho = 1 + 6 rho^2
    [(False, [1.0, 0.0, 2.0, 0.0]), (True, [1.0, 0.0, 6.0, 0.0])],
)
def test_fit_recovers_a_polynomial_kernel(want_ntk, expected):
    layers = fully_connected(1, get_activation("monomial", degree=2), 1.0, 0.0)
    coef, err = fit_dot_product_polynomial(layers, 3, want_ntk)
    np.testing.assert_allclose(coef, expected, atol=1e-8)
    assert err < 1e-8


@pytest.mark.parametrize("want_ntk", [False, True])
@pytest.mark.parametrize("depth", [1, 2])
def test_fit_relu_polynomial(depth, want_ntk):
    layers = _relu_layers(depth)
    grid = np.linspace(-1, 1, 4001)  # contains the 801-point fitting grid
    kappa = normalized_kernel(layers, grid, want_ntk)
    errors = []
    for degree in (2, 4, 8, 16):
        coef, err = fit_dot_product_polynomial(layers, degree, want_ntk)
        assert coef.shape == (degree + 1,)
        assert np.all(coef >= 0)
        # exact at rho = 1 (the diagonal of the kernel)
        assert abs(coef.sum() - kappa[-1]) <= 1e-10 * kappa[-1]
        # the reported error is the maximum error, up to the grid resolution
        poly = np.polynomial.polynomial.polyval(grid, coef)
        true_err = np.abs(poly - kappa).max()
        assert err <= true_err + 1e-12
        assert true_err <= 1.5 * err + 1e-9
        errors.append(err)
    # the uniform error decreases with the degree and is small at degree 16 (the NTK is only
    # Hoelder-1/2 at rho = 1, so its polynomial error decreases slowly)
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False))
    assert errors[-1] < (0.03 if want_ntk else 1e-3) * kappa[-1]


def test_fit_favours_the_sampled_cosines():
    # weighting towards a narrow band of cosines lowers the error there
    layers = _relu_layers(2)
    band = np.random.default_rng(0).uniform(-0.1, 0.1, size=5000)
    grid = np.linspace(-0.1, 0.1, 201)
    kappa = normalized_kernel(layers, grid, True)
    c_uniform, _ = fit_dot_product_polynomial(layers, 3, True)
    c_band, _ = fit_dot_product_polynomial(layers, 3, True, band)
    err_uniform = np.abs(np.polynomial.polynomial.polyval(grid, c_uniform) - kappa).max()
    err_band = np.abs(np.polynomial.polynomial.polyval(grid, c_band) - kappa).max()
    assert err_band < err_uniform


def test_cosine_distribution():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 5))
    X[3] = 0.0  # zero rows have no direction: left out
    rho = cosine_distribution(X)
    assert rho.shape == (29 * 28 // 2,)
    U = np.delete(X, 3, axis=0)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    expected = (U @ U.T)[np.triu_indices(29, 1)]
    np.testing.assert_allclose(np.sort(rho), np.sort(expected), atol=1e-12)
    # subsampling bounds the number of pairs
    assert cosine_distribution(rng.standard_normal((50, 5)), max_rows=10).shape == (45,)
    assert np.all(np.abs(rho) <= 1.0)
