"""StructuredGaussian (skntk._structured): an FFT-applied ``G`` whose every column is exactly
``N(0, I_D)``, through its public methods only.

The references are closed forms (the covariance ``<u, u'>`` of projections, the ReLU NNGP
kernel ``|u||v| (sin t + (pi - t) cos t) / (2 pi)``), the law ``N(0, 1)`` itself, a dense iid
Gaussian ``G`` drawn in the test, and the class's own materialized ``G`` for the algebraic
identities (``transform = X @ G``, exact column norms, namespaces, dtypes, pickling).

Statistical tolerances are stated where they are used, as multiples of the standard error of
the statistic (all seeds are fixed, so the tests are deterministic; the multiples say how
unlikely a correct implementation would be to fail with other seeds).
"""

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from _backends import check_output
from scipy import stats
from sklearn.datasets import load_digits

from skntk.sketching import StructuredGaussian


def relu_nngp(X):
    """Closed-form ``E_g[relu(<g, u>) relu(<g, v>)]`` for all row pairs, ``g ~ N(0, I)``."""
    norms = np.linalg.norm(X, axis=1)
    cos = np.clip((X @ X.T) / np.outer(norms, norms), -1.0, 1.0)
    t = np.arccos(cos)
    return np.outer(norms, norms) / (2 * np.pi) * (np.sin(t) + (np.pi - t) * cos)


def relu_gram(Z):
    """Monte-Carlo estimate ``mean_j relu(z_j(u)) relu(z_j(v))`` from projections ``Z``."""
    F = np.maximum(Z, 0.0)
    return F @ F.T / Z.shape[1]


# --------------------------------------------------------------------------------------------
# 1. every column is exactly N(0, I_D)
# --------------------------------------------------------------------------------------------


def _block_len(D):
    """The FFT length of full blocks at input dimension D (read off a wide projection)."""
    return StructuredGaussian(D, 10**5, rng=0).fft_len


def _fixed_rows(D):
    """Three fixed rows: a generic vector, one spike, a constant vector."""
    generic = np.cos(np.arange(D) * 1.7 + 0.3) * np.linspace(0.5, 2.0, D)
    spike = np.zeros(D)
    spike[D // 2] = 1.5
    return np.stack([generic, spike, np.ones(D)])


@pytest.mark.parametrize("D", [6, 13])  # 13: not a fast length, two-stage mixing
def test_columns_have_the_gaussian_covariance_over_seeds(D):
    """Over 2000 seeds, ``(z_j(u))_u`` for fixed rows has covariance ``U U^T`` for every j
    checked: both halves of a block (real and imaginary parts), later blocks and the
    truncated last block."""
    m, seeds = 27, 2000
    U = _fixed_rows(D)
    Z = np.stack([StructuredGaussian(D, m, rng=s).transform(U) for s in range(seeds)])
    proj = StructuredGaussian(D, m, rng=0)
    block = 2 * proj.fft_len
    assert proj.n_blocks >= 3
    cols = sorted({0, 1, 3, block, block + 1, m - 1})
    target = U @ U.T
    # standard error of a sample covariance of jointly Gaussian variables:
    # sqrt((S_aa S_bb + S_ab^2) / n); allow 5 of them
    se = np.sqrt((np.outer(np.diag(target), np.diag(target)) + target**2) / seeds)
    for j in cols:
        emp = Z[:, :, j].T @ Z[:, :, j] / seeds  # mean zero is known
        assert np.all(np.abs(emp - target) <= 5 * se), (j, emp, target)
        # and zero mean (standard error sqrt(S_aa / n))
        mean = Z[:, :, j].mean(axis=0)
        assert np.all(np.abs(mean) <= 5 * np.sqrt(np.diag(target) / seeds)), (j, mean)


def test_columns_are_normal_with_high_power():
    """Given the shared mixing, one column per block gives iid ``N(0, |u|^2)`` samples (fresh
    Gaussian weights per block), so one projection with 20000 blocks tests the law itself:
    kurtosis 3 within 5 standard errors (``sqrt(24 / n)``), a KS test against ``N(0, 1)``,
    and no correlation between consecutive blocks. A spike input (one coordinate) is the
    worst case: any non-Gaussian weight (e.g. unit-modulus phases) shows up as kurtosis
    below 3 there."""
    D = 6
    L = _block_len(D)
    n_blocks = 20000
    proj = StructuredGaussian(D, 2 * L * n_blocks, rng=3)
    assert proj.n_blocks == n_blocks and proj.fft_len == L
    U = _fixed_rows(D)
    Z = proj.transform(U).reshape(len(U), n_blocks, 2 * L)
    for row, u in zip(Z, U, strict=True):
        for j in (0, 1, 2 * L - 1):
            z = row[:, j] / np.linalg.norm(u)
            n = z.size
            assert abs(np.mean(z)) < 5 / math.sqrt(n)
            assert abs(np.var(z) - 1.0) < 5 * math.sqrt(2.0 / n)
            assert abs(stats.kurtosis(z, fisher=False) - 3.0) < 5 * math.sqrt(24.0 / n)
            assert stats.kstest(z, "norm").pvalue > 1e-3
            lag1 = np.corrcoef(z[:-1], z[1:])[0, 1]
            assert abs(lag1) < 5 / math.sqrt(n)


def test_real_and_imaginary_columns_of_one_frequency_are_independent():
    """``z_{2j}`` and ``z_{2j+1}`` (real and imaginary part of one DFT output) are
    uncorrelated, hence independent (jointly Gaussian): correlation within 5 / sqrt(n)."""
    D, n_blocks = 6, 20000
    L = _block_len(D)
    proj = StructuredGaussian(D, 2 * L * n_blocks, rng=4)
    assert proj.n_blocks == n_blocks
    u = _fixed_rows(D)[0]
    z = proj.transform(u[None])[0].reshape(n_blocks, 2 * L)
    for j in range(L):
        r = np.corrcoef(z[:, 2 * j], z[:, 2 * j + 1])[0, 1]
        assert abs(r) < 5 / math.sqrt(n_blocks), (j, r)


# --------------------------------------------------------------------------------------------
# 2. Monte-Carlo kernels are unbiased
# --------------------------------------------------------------------------------------------


def _kernel_rows():
    """Rows that are hard for structured transforms: mass on one coordinate, and rows with a
    large common mode; plus a generic Gaussian row."""
    D = 64
    rng = np.random.RandomState(7)
    spike = np.zeros(D)
    spike[5] = 2.0
    spike_mix = spike.copy()
    spike_mix[40] = -1.0
    common = 5.0 + 0.3 * rng.standard_normal((2, D))
    return np.vstack([spike, spike_mix, common, rng.standard_normal(D)])


def test_relu_kernel_is_unbiased_and_error_falls_like_inverse_sqrt_seeds():
    """The ReLU NNGP estimate averaged over 4096 seeds matches the closed form within 5
    standard errors for every entry; and the RMS error of means over ``s`` seeds falls like
    ``1 / sqrt(s)``: the ratio between ``s = 64`` (64 groups) and ``s = 16`` (256 groups) is
    0.5 (a bias would hold it up; with these group counts the ratio's standard deviation
    is about 0.05, accepted range [0.35, 0.7])."""
    X = _kernel_rows()
    D, m, seeds = X.shape[1], 128, 4096
    K = relu_nngp(X)
    est = np.stack([relu_gram(StructuredGaussian(D, m, rng=s).transform(X)) for s in range(seeds)])
    mean = est.mean(axis=0)
    se = est.std(axis=0, ddof=1) / math.sqrt(seeds)
    assert np.all(np.abs(mean - K) <= 5 * se), np.max(np.abs(mean - K) / se)
    rel = (est - K) / np.abs(K)  # pool the entries on a common scale

    def rms_of_group_means(s):
        groups = rel.reshape(seeds // s, s, *K.shape).mean(axis=1)
        return math.sqrt(np.mean(groups**2))

    ratio = rms_of_group_means(64) / rms_of_group_means(16)
    assert 0.35 < ratio < 0.7, ratio


# --------------------------------------------------------------------------------------------
# 3. variance comparable to a dense iid Gaussian G
# --------------------------------------------------------------------------------------------


def _rms_relative_error(X, project, seeds):
    K = relu_nngp(X)
    errs = [np.linalg.norm(relu_gram(project(X, s)) - K) / np.linalg.norm(K) for s in seeds]
    return math.sqrt(np.mean(np.square(errs)))


def _datasets():
    rng = np.random.RandomState(0)
    digits = load_digits().data[:200] / 16.0
    return {
        "gaussian784": rng.standard_normal((200, 784)),
        "digits64": digits,
        "digits_padded784": np.pad(digits, ((0, 0), (0, 720))),
    }


@pytest.mark.parametrize("name", ["gaussian784", "digits64", "digits_padded784"])
def test_relu_gram_error_is_within_1_3x_of_dense_iid(name):
    """Relative Frobenius error of the ReLU NNGP Gram matrix (200 rows, m = 4096), RMS over
    24 seeds, against the same with a dense iid ``G``. The construction cancels the linear
    part of the variance (module docstring) so it is usually below the dense error (measured
    0.8-1.0x); 1.3x leaves room for the RMS's own noise (~15% per side at 24 seeds)."""
    X = _datasets()[name]
    D, m = X.shape[1], 4096
    seeds = range(24)
    structured = _rms_relative_error(
        X, lambda A, s: StructuredGaussian(D, m, rng=s).transform(A), seeds
    )
    dense = _rms_relative_error(
        X, lambda A, s: A @ np.random.RandomState(1000 + s).standard_normal((D, m)), seeds
    )
    print(
        f"\n{name}: relative Frobenius error structured {structured:.4f}, "
        f"dense iid {dense:.4f}, ratio {structured / dense:.2f}"
    )
    assert structured <= 1.3 * dense, (structured, dense)


# --------------------------------------------------------------------------------------------
# 4. identities: materialize, norms, dtypes, sparse, pickling, namespaces
# --------------------------------------------------------------------------------------------

SHAPES = [(1, 1), (1, 5), (2, 1), (6, 20), (13, 7), (13, 64), (64, 300), (97, 3), (784, 1000)]


@pytest.mark.parametrize("D, m", SHAPES)
def test_transform_is_the_product_with_the_materialized_matrix(D, m):
    proj = StructuredGaussian(D, m, rng=1)
    G = proj.materialize()
    assert G.shape == (D, m) and G.dtype == np.float64
    X = np.random.RandomState(2).standard_normal((7, D))
    Z = proj.transform(X)
    assert Z.shape == (7, m) and Z.dtype == np.float64
    scale = np.linalg.norm(X, axis=1)[:, None] * np.linalg.norm(G, axis=0)[None, :]
    assert np.all(np.abs(Z - X @ G) <= 1e-12 * scale)
    v = X[3]
    np.testing.assert_allclose(proj.columns_along(v), Z[3], rtol=0, atol=1e-12 * scale.max())
    assert proj.columns_along(v).dtype == np.float64
    assert proj.columns_along(v).shape == (m,)


@pytest.mark.parametrize("D, m", SHAPES)
def test_column_norms_are_exact(D, m):
    proj = StructuredGaussian(D, m, rng=5)
    G = proj.materialize()
    norms = proj.column_norms_squared()
    assert norms.shape == (m,) and norms.dtype == np.float64
    np.testing.assert_allclose(norms, (G**2).sum(axis=0), rtol=1e-11)


def test_column_norms_are_chi_squared():
    """``|g_j|^2 ~ chi^2_D``: the mean over many independent blocks is D within 5 standard
    errors (``sqrt(2 D / n)``). Catches norms of a wrong (e.g. zero-padded) vector."""
    D = 13
    L = _block_len(D)
    proj = StructuredGaussian(D, 2 * L * 5000, rng=8)
    assert proj.n_blocks == 5000
    first = proj.column_norms_squared().reshape(-1, 2 * L)[:, 0]
    assert abs(first.mean() - D) < 5 * math.sqrt(2 * D / first.size)


def test_full_blocks_sum_to_zero():
    """The documented antithetic structure: the even (real-part) columns of a full block sum
    to zero, and so do the odd ones."""
    proj = StructuredGaussian(40, 200, rng=3)
    G = proj.materialize()
    L = proj.fft_len
    assert proj.n_blocks * 2 * L >= 200 > 2 * L
    block = G[:, : 2 * L].reshape(40, L, 2)
    np.testing.assert_allclose(block.sum(axis=1), 0.0, atol=1e-10 * np.abs(G).max())


def test_blocks_and_lengths_cover_output_dim():
    for D, m in SHAPES + [(12289, 12288)]:
        proj = StructuredGaussian(D, m, rng=0)
        assert proj.input_dim == D and proj.output_dim == m
        assert proj.n_blocks == math.ceil(m / (2 * proj.fft_len))
        assert 1 <= proj.fft_len


def test_float32_in_float32_out_and_close_to_float64():
    D, m = 300, 700
    proj = StructuredGaussian(D, m, rng=2)
    X = np.random.RandomState(0).standard_normal((11, D))
    Z64 = proj.transform(X)
    Z32 = proj.transform(X.astype(np.float32))
    assert Z32.dtype == np.float32 and Z32.shape == (11, m)
    assert np.abs(Z32 - Z64).max() <= 1e-5 * np.abs(Z64).max()
    # integers are promoted to float64
    assert proj.transform(np.ones((2, D), dtype=np.int64)).dtype == np.float64


def test_sparse_input_equals_dense():
    D, m = 50, 90
    proj = StructuredGaussian(D, m, rng=4)
    X = sp.random(9, D, density=0.2, random_state=0, format="csr")
    np.testing.assert_array_equal(proj.transform(X), proj.transform(X.toarray()))
    X32 = X.astype(np.float32)
    assert proj.transform(X32).dtype == np.float32
    np.testing.assert_array_equal(proj.transform(X32), proj.transform(X32.toarray()))


def test_pickle_round_trip_and_determinism():
    D, m = 37, 150
    proj = StructuredGaussian(D, m, rng=6)
    X = np.random.RandomState(1).standard_normal((4, D))
    Z = proj.transform(X)
    proj.transform(X.astype(np.float32))  # fills the per-dtype cache before pickling
    clone = pickle.loads(pickle.dumps(proj))
    np.testing.assert_array_equal(clone.transform(X), Z)
    np.testing.assert_array_equal(StructuredGaussian(D, m, rng=6).transform(X), Z)
    np.testing.assert_array_equal(
        StructuredGaussian(D, m, rng=np.random.RandomState(6)).transform(X), Z
    )
    assert not np.allclose(StructuredGaussian(D, m, rng=7).transform(X), Z)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("D, m", [(6, 20), (13, 64), (97, 3), (784, 1000)])
def test_namespace_matches_numpy(backend, dtype, D, m):
    """The array-API path (Makhoul DCT from ``xp.fft.rfft``, ``xp.fft.fft``) gives the same
    ``G`` as the NumPy/SciPy path, on the input's device and in its dtype: within 1e-5
    (float32) or 1e-10 (float64) of the largest entry."""
    proj = StructuredGaussian(D, m, rng=9)
    X = np.random.RandomState(3).standard_normal((5, D)).astype(dtype)
    expected = proj.transform(X)
    Z = proj.transform(backend.asarray(X))
    check_output(Z, backend, dtype, (5, m))
    tol = 1e-5 if dtype == "float32" else 1e-10
    assert np.abs(backend.to_host(Z) - expected).max() <= tol * np.abs(expected).max()


# --------------------------------------------------------------------------------------------
# 5. bad input
# --------------------------------------------------------------------------------------------


def test_wrong_number_of_features_names_the_expected_count():
    proj = StructuredGaussian(6, 10, rng=0)
    with pytest.raises(ValueError, match="X has 5 features, expected 6"):
        proj.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="2-D"):
        proj.transform(np.ones(6))
    with pytest.raises(ValueError, match="length 6"):
        proj.columns_along(np.ones((2, 6)))
    with pytest.raises(ValueError, match="has 7 features, expected 6"):
        proj.columns_along(np.ones(7))
    with pytest.raises(ValueError, match="real"):
        proj.transform(np.ones((2, 6), dtype=complex))


def test_wrong_number_of_features_in_a_namespace(backend):
    proj = StructuredGaussian(6, 10, rng=0)
    with pytest.raises(ValueError, match="X has 4 features, expected 6"):
        proj.transform(backend.asarray(np.ones((3, 4))))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_dim=0, output_dim=3), "input_dim must be a positive integer, got 0"),
        (dict(input_dim=4, output_dim=0), "output_dim must be a positive integer, got 0"),
        (dict(input_dim=-2, output_dim=3), "input_dim must be a positive integer, got -2"),
    ],
)
def test_dimensions_below_one_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StructuredGaussian(rng=0, **kwargs)


@pytest.mark.parametrize("bad", [2.5, True, "3", None])
def test_non_integer_dimensions_raise_value_error(bad):
    # the rule of every sketch in skntk.sketching (SRHT, CountSketch, ...)
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        StructuredGaussian(bad, 3, rng=0)
    with pytest.raises(ValueError, match="output_dim must be a positive integer"):
        StructuredGaussian(3, bad, rng=0)
