"""Tests for skntk.preprocessing: closed forms, layouts, dtypes, validation, sklearn checks."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skntk.preprocessing import ChannelStandardizer, ImageLayerNorm, ZCAWhitening

SHAPE = (4, 5, 3)  # H, W, C
D = int(np.prod(SHAPE))


def _images(n=40, seed=0, dtype=np.float64):
    """Images with very different per-channel means and scales, and correlated pixels."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, *SHAPE) * np.array([0.5, 2.0, 7.0]) + np.array([1.0, -3.0, 10.0])
    X += rng.randn(n, 1, 1, 1)  # a shared per-image offset: strongly correlated pixels
    return X.astype(dtype)


def _eig_desc(M):
    S, U = np.linalg.eigh(M)
    return S[::-1], U[:, ::-1]


@parametrize_with_checks([ChannelStandardizer(), ImageLayerNorm(), ZCAWhitening()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------------------------
# ChannelStandardizer


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_channel_standardizer_output_stats(dtype, tol):
    X = _images(dtype=dtype)
    est = ChannelStandardizer().fit(X)
    Xt = est.transform(X)
    assert Xt.shape == X.shape and Xt.dtype == dtype
    np.testing.assert_allclose(Xt.mean(axis=(0, 1, 2), dtype=np.float64), 0, atol=tol)
    np.testing.assert_allclose(Xt.std(axis=(0, 1, 2), dtype=np.float64), 1, atol=tol)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(est.mean_, X64.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(est.scale_, X64.std(axis=(0, 1, 2)), rtol=1e-6)
    assert est.image_shape_ == SHAPE and est.n_features_in_ == D


def test_channel_standardizer_uses_training_statistics():
    X, Xnew = _images(seed=0), _images(n=7, seed=1)
    est = ChannelStandardizer().fit(X)
    mu, sd = X.mean(axis=(0, 1, 2)), X.std(axis=(0, 1, 2))
    np.testing.assert_allclose(est.transform(Xnew), (Xnew - mu) / sd, rtol=1e-12, atol=1e-12)


def test_channel_standardizer_2d_layouts():
    X = _images()
    X2 = X.reshape(len(X), -1)
    est4 = ChannelStandardizer().fit(X)
    est2 = ChannelStandardizer(image_shape=SHAPE).fit(X2)
    Xt2 = est2.transform(X2)
    assert Xt2.shape == X2.shape
    np.testing.assert_allclose(Xt2, est4.transform(X).reshape(len(X), -1), rtol=1e-12)
    # Fitted on 4-D, a 2-D transform reads rows with the fitted image shape, and vice versa.
    np.testing.assert_allclose(est4.transform(X2), Xt2, rtol=1e-12)
    np.testing.assert_allclose(est2.transform(X), est4.transform(X), rtol=1e-12)
    # image_shape=None and 2-D input: every column is its own channel (= StandardScaler).
    est = ChannelStandardizer().fit(X2)
    assert est.image_shape_ == (1, 1, D)
    np.testing.assert_allclose(est.transform(X2), StandardScaler().fit_transform(X2), atol=1e-12)


def test_channel_standardizer_constant_channel():
    X = _images()
    X[..., 1] = 4.2
    est = ChannelStandardizer().fit(X)
    assert est.scale_[1] == 1.0
    Xt = est.transform(X)
    assert np.all(Xt[..., 1] == 0)
    assert np.all(np.isfinite(Xt))


# ----------------------------------------------------------------------------------------------
# ImageLayerNorm


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_layer_norm_closed_form(dtype, tol):
    X = _images(dtype=dtype)
    Xt = ImageLayerNorm().fit_transform(X)
    assert Xt.shape == X.shape and Xt.dtype == dtype
    rows = Xt.reshape(len(X), -1).astype(np.float64)
    np.testing.assert_allclose(rows.mean(axis=1), 0, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), np.sqrt(D), rtol=tol)
    Xc = X.reshape(len(X), -1).astype(np.float64)
    Xc = Xc - Xc.mean(axis=1, keepdims=True)
    expected = np.sqrt(D) * Xc / np.linalg.norm(Xc, axis=1, keepdims=True)
    np.testing.assert_allclose(rows, expected, rtol=tol, atol=tol)


def test_layer_norm_invariances_and_layouts():
    X = _images()
    X2 = X.reshape(len(X), -1)
    est = ImageLayerNorm()
    Xt = est.fit_transform(X)
    # Invariant to a positive scaling and a shift of each image.
    np.testing.assert_allclose(est.transform(3.5 * X - 2.0), Xt, atol=1e-12)
    # Row-wise, and the 2-D layout gives the same numbers (with or without image_shape).
    np.testing.assert_allclose(ImageLayerNorm().fit_transform(X2), Xt.reshape(len(X), -1))
    est2 = ImageLayerNorm(image_shape=SHAPE).fit(X2)
    np.testing.assert_allclose(est2.transform(X2), Xt.reshape(len(X), -1))
    np.testing.assert_allclose(est2.transform(X), Xt)
    # Stateless: usable without fit.
    np.testing.assert_allclose(ImageLayerNorm().transform(X), Xt)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_constant_images_are_zero(dtype):
    X = _images(n=5, dtype=dtype)
    X[1] = 0.0
    X[3] = dtype(0.3)  # constant but not representable: centring leaves rounding residue
    Xt = ImageLayerNorm().fit_transform(X)
    assert np.all(np.isfinite(Xt))
    assert np.all(Xt[1] == 0) and np.all(Xt[3] == 0)
    assert np.linalg.norm(Xt[0]) > 1


# ----------------------------------------------------------------------------------------------
# ZCAWhitening


def test_zca_reg_zero_gives_identity_covariance():
    X = _images(n=200)
    Xt = ZCAWhitening(regularization=0.0).fit_transform(X).reshape(len(X), -1)
    np.testing.assert_allclose(Xt.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(np.cov(Xt.T, bias=True), np.eye(D), atol=1e-8)


@pytest.mark.parametrize("reg", [0.1, 1.0])
def test_zca_regularized_covariance_closed_form(reg):
    X = _images(n=200)
    X2 = X.reshape(len(X), -1)
    est = ZCAWhitening(regularization=reg).fit(X)
    S, U = _eig_desc(np.cov(X2.T, bias=True))
    # eigenvalues_ are those of the covariance of X / input_scale_, a power of two near max|X|.
    s = est.input_scale_
    assert s == 2.0 ** np.floor(np.log2(np.abs(X2).max()))
    np.testing.assert_allclose(est.eigenvalues_ * s**2, S, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(est.mean_, X2.mean(axis=0), atol=1e-12)
    expected_W = (U / np.sqrt(S + reg * S.mean())) @ U.T
    np.testing.assert_allclose(est.whitening_, expected_W, atol=1e-8)
    np.testing.assert_allclose(est.whitening_, est.whitening_.T)
    Xt = est.transform(X).reshape(len(X), -1)
    expected_cov = (U * (S / (S + reg * S.mean()))) @ U.T
    np.testing.assert_allclose(np.cov(Xt.T, bias=True), expected_cov, atol=1e-8)
    # New data: (X - mean) @ W.
    Xnew = _images(n=6, seed=3).reshape(6, -1)
    np.testing.assert_allclose(
        est.transform(Xnew), (Xnew - X2.mean(axis=0)) @ expected_W, atol=1e-8
    )


def test_zca_rank_deficient_reg_zero_is_projection():
    rng = np.random.RandomState(0)
    n, d, rank = 50, 12, 4
    X = rng.randn(n, rank) @ rng.randn(rank, d) + 5.0
    Xt = ZCAWhitening(regularization=0.0).fit_transform(X)
    assert np.all(np.isfinite(Xt))
    C = np.cov(Xt.T, bias=True)
    # Covariance of the output: the orthogonal projector on the range of the data covariance.
    np.testing.assert_allclose(C @ C, C, atol=1e-8)
    np.testing.assert_allclose(np.trace(C), rank, atol=1e-8)


def test_zca_layouts_and_float32():
    X = _images(n=100)
    X2 = X.reshape(len(X), -1)
    Xt4 = ZCAWhitening().fit_transform(X)
    assert Xt4.shape == X.shape
    Xt2 = ZCAWhitening(image_shape=SHAPE).fit_transform(X2)
    assert Xt2.shape == X2.shape
    np.testing.assert_allclose(Xt2, Xt4.reshape(len(X), -1), atol=1e-10)
    np.testing.assert_allclose(ZCAWhitening().fit_transform(X2), Xt2, atol=1e-10)
    Xt32 = ZCAWhitening().fit_transform(X.astype(np.float32))
    assert Xt32.dtype == np.float32 and Xt32.shape == X.shape
    np.testing.assert_allclose(Xt32, Xt4, atol=1e-4)


def test_pipeline_layer_norm_then_zca():
    X = _images(n=100)
    pipe = make_pipeline(ImageLayerNorm(), ZCAWhitening(regularization=0.0))
    Xt = pipe.fit_transform(X.reshape(len(X), -1))
    # Layer norm removes one direction (the mean of each image): rank d - 1.
    C = np.cov(Xt.T, bias=True)
    np.testing.assert_allclose(np.trace(C), D - 1, atol=1e-6)
    assert len(pipe.get_feature_names_out()) == D
    assert clone(pipe).get_params()["zcawhitening__regularization"] == 0.0


# ----------------------------------------------------------------------------------------------
# Validation (all three)

ESTIMATORS = [ChannelStandardizer, ImageLayerNorm, ZCAWhitening]


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_raise(Est, bad):
    for X in (_images(n=5), _images(n=5).reshape(5, -1)):
        X[2].flat[3] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            Est().fit(X)
        with pytest.raises(ValueError, match="NaN|infinity"):
            Est().fit(_images(n=5)).transform(X)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_shape_errors(Est):
    X = _images(n=10)
    X2 = X.reshape(10, -1)
    est = Est().fit(X)
    with pytest.raises(ValueError, match=f"has {D - 1} features.*expecting {D}"):
        est.transform(X2[:, :-1])
    with pytest.raises(ValueError, match=r"image shape \(5, 4, 3\).*fitted with.*\(4, 5, 3\)"):
        est.transform(X.reshape(10, 5, 4, 3))
    with pytest.raises(ValueError, match="implies 60 features.*X has 59"):
        Est(image_shape=SHAPE).fit(X2[:, :-1])
    with pytest.raises(ValueError, match="does not match the shape of the images"):
        Est(image_shape=(5, 4, 3)).fit(X)
    with pytest.raises(ValueError, match="H, W, C"):
        Est().fit(X.reshape(10, 20, 3))
    for bad_shape in [(4, 15), (4, 5, 0), (4.0, 5, 3)]:
        with pytest.raises(ValueError, match="image_shape must be"):
            Est(image_shape=bad_shape).fit(X2)
    with pytest.raises(InvalidParameterError):
        Est(image_shape="4x5x3").fit(X2)


def test_fitted_checks_and_regularization_validation():
    X = _images(n=5)
    for est in (ChannelStandardizer(), ZCAWhitening()):
        with pytest.raises(NotFittedError):
            est.transform(X)
    with pytest.raises(InvalidParameterError, match="regularization"):
        ZCAWhitening(regularization=-0.1).fit(X)


# ----------------------------------------------------------------------------------------------
# Extreme scales: every transform is scale invariant, and stays so across the float64 range.

SCALES = [1e-300, 1e-160, 1e160, 1e200]


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("c", SCALES)
def test_scale_invariance_at_extreme_scales(Est, c):
    X, Xnew = _images(n=60), _images(n=7, seed=5)
    est1, estc = Est().fit(X), Est().fit(X * c)
    ref = est1.transform(X)
    out = estc.transform(X * c)
    assert np.all(np.isfinite(out))
    # Not zeros: the output at scale 1 has entries of order 1.
    assert np.abs(ref).max() > 0.5
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(estc.transform(Xnew * c), est1.transform(Xnew), atol=1e-9)


@pytest.mark.parametrize("c", SCALES)
def test_fitted_attributes_scale_with_the_data(c):
    X = _images(n=60)
    cs1, csc = ChannelStandardizer().fit(X), ChannelStandardizer().fit(X * c)
    np.testing.assert_allclose(csc.mean_, c * cs1.mean_, rtol=1e-12)
    np.testing.assert_allclose(csc.scale_, c * cs1.scale_, rtol=1e-12)
    z1, zc = ZCAWhitening().fit(X), ZCAWhitening().fit(X * c)
    np.testing.assert_allclose(zc.mean_, c * z1.mean_, rtol=1e-12)
    # W -> W / c; the eigenvalues of the covariance of X / input_scale_ are dimensionless.
    np.testing.assert_allclose(zc.whitening_ * c, z1.whitening_, rtol=1e-8, atol=1e-10)
    ratio = (zc.input_scale_ / z1.input_scale_) / c  # in [0.5, 2]: both are powers of two
    np.testing.assert_allclose(
        zc.eigenvalues_ * ratio**2, z1.eigenvalues_, rtol=1e-8, atol=1e-12 * z1.eigenvalues_[0]
    )


@pytest.mark.parametrize("big", [1e308, -1e308, np.finfo(np.float64).max])
def test_layer_norm_single_huge_entry(big):
    X = _images(n=4)
    X2 = X.reshape(4, -1).copy()
    X2[1, 7] = big
    Xt = ImageLayerNorm().fit_transform(X2)
    # Row 1 is big * e_7 up to relative 1e-307: T(e_7) = sqrt(d) (e_7 - 1/d) / ||e_7 - 1/d||,
    # i.e. sqrt(d - 1) at entry 7 and -1 / sqrt(d - 1) elsewhere (signs flip with big < 0).
    expected = np.full(D, -1.0 / np.sqrt(D - 1))
    expected[7] = np.sqrt(D - 1)
    np.testing.assert_allclose(Xt[1], np.sign(big) * expected, rtol=1e-12)
    rest = [0, 2, 3]
    np.testing.assert_allclose(Xt[rest], ImageLayerNorm().fit_transform(X2[rest]), rtol=1e-12)


def test_layer_norm_opposite_extreme_entries():
    # x - mean(x) and ||x||^2 both overflow when computed naively here.
    top = np.finfo(np.float64).max
    X2 = np.zeros((1, D))
    X2[0, 3], X2[0, 10] = top, -top
    Xt = ImageLayerNorm().fit_transform(X2)
    expected = np.zeros(D)
    expected[3], expected[10] = np.sqrt(D / 2), -np.sqrt(D / 2)
    np.testing.assert_allclose(Xt[0], expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("big", [1e308, np.finfo(np.float64).max])
def test_channel_standardizer_single_huge_entry(big):
    X = _images(n=10)
    X[2, 1, 3, 1] = big
    Xt = ChannelStandardizer().fit_transform(X)
    assert np.all(np.isfinite(Xt))
    # Channel 1 is big * (one-hot over its N pixels) up to relative 1e-307: mean big / N,
    # standard deviation big * sqrt(N - 1) / N.
    N = 10 * SHAPE[0] * SHAPE[1]
    ch = Xt[..., 1]
    assert ch[2, 1, 3] == pytest.approx(np.sqrt(N - 1), rel=1e-12)
    others = np.delete(ch.ravel(), np.ravel_multi_index((2, 1, 3), ch.shape))
    np.testing.assert_allclose(others, -1.0 / np.sqrt(N - 1), rtol=1e-12)
    # The other channels are untouched.
    ref = ChannelStandardizer().fit_transform(_images(n=10))
    np.testing.assert_allclose(Xt[..., [0, 2]], ref[..., [0, 2]], rtol=1e-12)


@pytest.mark.parametrize("reg", [0.1, 1.0])
def test_zca_single_huge_entry(reg):
    n = 50
    X = _images(n=n).reshape(n, -1)
    k = 11
    X[4, k] = 1e308
    Xt = ZCAWhitening(regularization=reg).fit_transform(X)
    assert np.all(np.isfinite(Xt))
    # Up to relative 1e-308 the data are a = 1e308 at (4, k): covariance a^2 (n-1)/n^2 e_k e_k^T,
    # eigenvalue S_k = a^2 (n-1)/n^2, mean eigenvalue S_k / d. Column k of the output is
    # (x_ik - a/n) / sqrt(S_k (1 + reg/d)); the other columns are O(1) / sqrt(reg S_k / d) ~ 0.
    factor = 1.0 / np.sqrt(1.0 + reg / D)
    expected = np.full(n, -factor / np.sqrt(n - 1))
    expected[4] = factor * np.sqrt(n - 1)
    np.testing.assert_allclose(Xt[:, k], expected, rtol=1e-10)
    np.testing.assert_allclose(np.delete(Xt, k, axis=1), 0.0, atol=1e-290)


@pytest.mark.parametrize("Est", [ChannelStandardizer, ZCAWhitening])
def test_unrepresentable_transform_raises_naming_the_limit(Est):
    X = _images(n=60)
    est = Est().fit(X * 1e-10)
    with pytest.raises(ValueError, match=r"exceed the largest float64 value \(1\.798e\+308\)"):
        est.transform(X * 1e300)
    # Fitted on float64 data of tiny scale, float32 data of scale 1 standardize to ~1e40.
    est = Est().fit(X * 1e-40)
    with pytest.raises(ValueError, match=r"exceed the largest float32 value \(3\.403e\+38\)"):
        est.transform(X.astype(np.float32))


def test_unrepresentable_fit_statistics_raise():
    X = _images(n=60)
    # The whitening matrix scales as 1 / |X|: beyond the float64 range for subnormal data.
    with pytest.raises(ValueError, match=r"largest float64 value.*multiply X by a constant"):
        ZCAWhitening().fit(X * 1e-310)
    # A channel whose standard deviation (~1e-325) is below the smallest subnormal.
    X = np.zeros((100, 1))
    X[3] = 5e-324
    with pytest.raises(ValueError, match=r"underflows to 0 \(below the smallest float64"):
        ChannelStandardizer().fit(X)


# ----------------------------------------------------------------------------------------------
# Hostile input: non-finite, complex, empty.


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_values_beyond_float64_are_rejected(Est):
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 here")
    X = _images(n=5).astype(np.longdouble)
    X[1, 0, 0, 0] = np.longdouble("1e400")
    with pytest.raises(ValueError, match="infinity or a value too large for dtype"):
        Est().fit(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        Est().fit(_images(n=5).tolist() + [[[[float("inf")] * 3] * 5] * 4])


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "make, dtype_name",
    [
        (lambda X: X + 0.5j, "complex128"),
        (lambda X: X.astype(np.complex64), "complex64"),  # zero imaginary part: still rejected
        (lambda X: X.reshape(len(X), -1) * (1 + 1j), "complex128"),
        (lambda X: (X.reshape(len(X), -1) * 1j).tolist(), "complex128"),
        (lambda X: (X.reshape(len(X), -1) * 1j).astype(object), "object"),
    ],
)
def test_complex_input_rejected_naming_the_dtype(Est, make, dtype_name):
    X = _images(n=6)
    Xc = make(X)
    for call in (lambda: Est().fit(Xc), lambda: Est().fit(X).transform(Xc)):
        with pytest.raises(ValueError, match=f"Complex data not supported.*{dtype_name}") as info:
            call()
        assert len(str(info.value)) < 300  # names the dtype instead of printing the array


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_empty_input_messages(Est):
    X = _images(n=6)
    fitted = Est().fit(X)
    for empty in (X[:0], X.reshape(6, -1)[:0]):
        for call in (lambda e=empty: Est().fit(e), lambda e=empty: fitted.transform(e)):
            with pytest.raises(ValueError, match=r"0 images \(shape=\(0, .*at least one image"):
                call()
    for no_pixels in (np.zeros((6, 0, 5, 3)), np.zeros((6, 4, 5, 0))):
        with pytest.raises(ValueError, match=r"images of shape .* have no pixels"):
            Est().fit(no_pixels)
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        Est().fit(np.zeros((6, 0)))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_fit_does_not_depend_on_row_order(Est):
    # No transformer subsamples in fit: every statistic is over all training images.
    X = _images(n=80)
    perm = np.random.RandomState(3).permutation(len(X))
    a, b = Est().fit(X), Est().fit(X[perm])
    Xnew = _images(n=5, seed=9)
    np.testing.assert_allclose(a.transform(Xnew), b.transform(Xnew), rtol=1e-10, atol=1e-10)
