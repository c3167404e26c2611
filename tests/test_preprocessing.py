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
    np.testing.assert_allclose(est.eigenvalues_, S, rtol=1e-8, atol=1e-12)
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
