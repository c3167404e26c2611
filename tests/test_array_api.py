"""Feature maps on other array namespaces than NumPy, through the public API only.

Every transformer (``NTKSketch``, ``NNGPSketch``, ``NTKRandomFeatures``, ``CNTKSketch``,
``NeuralKernelFeatures``) is fitted and applied to arrays of ``array_api_strict`` (the CI
stand-in for a GPU library) and, on a machine with a CUDA device, CuPy (marked ``gpu``), with
scikit-learn's ``array_api_dispatch`` off and on, in float32 and float64. The policy under
test (see :class:`skntk._estimator.FeatureMapMixin`): the output is an array of the input's
namespace, on its device, in its dtype, whatever the dispatch setting, never a NumPy array;
and the features equal those of the same estimator (same ``random_state``) on NumPy
input, because every random draw is made on the host at fit time and only moved to the
device. ``array_api_strict`` arrays live on its non-default device, which refuses implicit
conversion to NumPy (as a GPU does), so a silent host round trip fails these tests.

The reference is NumPy output, computed by the same library: what is checked is that the
backends agree (to float32 rounding), not the kernel approximation, which the other test
files check against exact kernels.
"""

import os

import numpy as np
import pytest
import sklearn
from _backends import assert_same, check_output
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from skntk import CNTKSketch, NeuralKernelFeatures, NNGPSketch, NTKRandomFeatures, NTKSketch
from skntk.architectures import AvgPool, Conv, Dense, GlobalAvgPool, Nonlinearity, fully_connected

# --------------------------------------------------------------------------------------------
# every transformer, fitted and applied in the namespace
# --------------------------------------------------------------------------------------------

_rs = np.random.RandomState(0)
_ROWS = _rs.standard_normal((40, 8))
_ROWS_TEST = _rs.standard_normal((37, 8))
_IMAGES = _rs.uniform(size=(7, 6, 6, 2))
_IMAGES_TEST = _rs.uniform(size=(5, 6, 6, 2))
_IMAGES_MYRTLE = _rs.uniform(size=(4, 8, 8, 3))

# name: (estimator factory, train inputs, test inputs, check of the fitted plan on NumPy)
CASES = {
    # Taylor: degrees 1 and 2 exact (d = 8), higher ones sketched
    "ntk-relu-taylor": (
        lambda: NTKSketch(300, depth=2, batch_size=16, random_state=0),
        _ROWS,
        _ROWS_TEST,
        lambda est: (
            est.method_ == "taylor"
            and est.exact_degrees_ == [1, 2]
            and est.plan_.steps[0].mean_direction is None
        ),
    ),
    # Taylor with the rows' common direction split off (uncentred rows)
    "ntk-relu-taylor-mean": (
        lambda: NTKSketch(300, depth=2, batch_size=16, random_state=0),
        _ROWS + 1.5,
        _ROWS_TEST + 1.5,
        lambda est: est.method_ == "taylor" and est.plan_.steps[0].mean_direction is not None,
    ),
    "nngp-erf-hermite": (
        lambda: NNGPSketch(200, depth=2, activation="erf", batch_size=16, random_state=0),
        _ROWS,
        _ROWS_TEST,
        lambda est: est.strategies_ == ["hermite", "hermite"],
    ),
    "ntk-gelu-bias-hermite": (
        lambda: NTKSketch(
            300,
            depth=2,
            activation="gelu",
            bias_std=0.5,
            method="hermite",
            batch_size=16,
            random_state=0,
        ),
        _ROWS,
        _ROWS_TEST,
        lambda est: est.strategies_ == ["hermite", "hermite"],
    ),
    # ReLU with bias: Hermite steps whose derivative rest is Monte Carlo (act' pointwise)
    "ntk-relu-bias-hermite": (
        lambda: NTKSketch(300, depth=2, bias_std=0.5, batch_size=16, random_state=0),
        _ROWS,
        _ROWS_TEST,
        lambda est: est.method_ == "hermite" and est.plan_.steps[1].mc_derivative is not None,
    ),
    "ntk-sin-monte-carlo": (
        lambda: NeuralKernelFeatures(
            fully_connected(2, "sin", 1.0, 0.5),
            n_components=200,
            strategy="monte_carlo",
            batch_size=16,
            random_state=0,
        ),
        _ROWS,
        _ROWS_TEST,
        lambda est: est.strategies_ == ["monte_carlo", "monte_carlo"],
    ),
    "random-features-relu": (
        lambda: NTKRandomFeatures(200, depth=2, bias_std=0.2, batch_size=16, random_state=0),
        _ROWS,
        _ROWS_TEST,
        lambda est: est.strategies_ == ["monte_carlo", "monte_carlo"],
    ),
    # hidden layer wider than 1024: StructuredGaussian directions (FFTs), stratified, leverage
    "random-features-structured": (
        lambda: NTKRandomFeatures(1536, depth=2, leverage_sampling=True, batch_size=16,
                                  random_state=0),
        _ROWS,
        _ROWS_TEST,
        lambda est: type(est.plan_.steps[3].mc_derivative.base).__name__ == "StackedGaussian",
    ),
    "random-features-leverage": (
        lambda: NTKRandomFeatures(
            200, depth=1, leverage_sampling=True, batch_size=16, random_state=0
        ),
        _ROWS,
        _ROWS_TEST,
        lambda est: est.plan_.steps[1].value_weights is not None,
    ),
    "cntk-gap-1": (
        lambda: CNTKSketch(128, depth=1, batch_size=2, random_state=0),
        _IMAGES,
        _IMAGES_TEST,
        lambda est: est.image_shape_ == (6, 6, 2),
    ),
    "cntk-myrtle-5": (
        lambda: CNTKSketch(
            256,
            architecture="myrtle",
            depth=5,
            internal_components=32,
            batch_size=3,
            random_state=0,
        ),
        _IMAGES_MYRTLE,
        _IMAGES_MYRTLE[::-1] * 2.0,
        lambda est: est.image_shape_ == (8, 8, 3),
    ),
    # a composed list on flattened images (2-D input with image_shape), NNGP
    "features-conv-nngp": (
        lambda: NeuralKernelFeatures(
            [
                Conv(3, 1.0, 0.2),
                Nonlinearity("erf"),
                AvgPool(),
                Conv(1),
                Nonlinearity("relu"),
                GlobalAvgPool(),
                Dense(),
            ],
            kernel="nngp",
            n_components=128,
            image_shape=(6, 6, 2),
            batch_size=2,
            random_state=0,
        ),
        _IMAGES.reshape(7, -1),
        _IMAGES_TEST.reshape(5, -1),
        lambda est: est.image_shape_ == (6, 6, 2),
    ),
}

_REFERENCE = {}


def _numpy_reference(case, dtype):
    """NumPy fit on the training inputs: (features of the test inputs, of the training
    inputs by fit_transform)."""
    if (case, dtype) not in _REFERENCE:
        make, train, test, check = CASES[case]
        est = make().fit(train.astype(dtype))
        assert check(est), f"{case}: the plan does not exercise what the case is for"
        _REFERENCE[case, dtype] = (
            est.transform(test.astype(dtype)),
            make().fit_transform(train.astype(dtype)),
        )
    return _REFERENCE[case, dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_features_in_the_input_namespace(backend, dispatch, case, dtype):
    make, train, test, check = CASES[case]
    expected_test, expected_train = _numpy_reference(case, dtype)
    n_out = expected_test.shape[1]
    Xtr, Xte = backend.asarray(train.astype(dtype)), backend.asarray(test.astype(dtype))
    est = make().fit(Xtr)
    assert check(est)
    Z = est.transform(Xte)  # several batches, the last one partial
    check_output(Z, backend, dtype, (test.shape[0], n_out))
    assert_same(backend.to_host(Z), expected_test, dtype, float64_tol=_LANDMARK_TOL)
    Z = make().fit_transform(Xtr)
    check_output(Z, backend, dtype, (train.shape[0], n_out))
    assert_same(backend.to_host(Z), expected_train, dtype, float64_tol=_LANDMARK_TOL)


# The landmark part (n_landmarks) holds the exact kernel of a training row and itself, where
# arc-cosine duals lose half the digits (theta = arccos(1 - eps) ~ sqrt(eps)): NumPy and the
# other namespaces round the cosine differently, 5e-9 apart on ReLU.
_LANDMARK_TOL = 1e-8


# --------------------------------------------------------------------------------------------
# a pipeline that stays in the namespace, mixed fits, validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pipeline_with_ridge_stays_in_the_namespace(backend, dtype):
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        pytest.skip("array_api_dispatch needs SCIPY_ARRAY_API=1 set before SciPy is imported")
    y = np.sin(_ROWS[:, 0]) * _ROWS[:, 1]
    X, y = _ROWS.astype(dtype), y.astype(dtype)

    def model():
        return make_pipeline(
            NTKSketch(256, depth=2, random_state=0), Ridge(alpha=0.1, solver="svd")
        )

    expected = model().fit(X, y).predict(_ROWS_TEST.astype(dtype))
    with sklearn.config_context(array_api_dispatch=True):
        fitted = model().fit(backend.asarray(X), backend.asarray(y))
        pred = fitted.predict(backend.asarray(_ROWS_TEST.astype(dtype)))
    check_output(pred, backend, dtype, (_ROWS_TEST.shape[0],))
    assert isinstance(fitted[-1].coef_, backend.array_type)
    assert_same(backend.to_host(pred), expected, dtype)


def test_fitted_on_numpy_applied_to_the_namespace_and_back(backend):
    # the fitted state is host data: without dispatch, a map fitted on the host serves device
    # arrays, and one fitted on the device host arrays
    est = NTKSketch(200, depth=2, bias_std=0.3, random_state=1).fit(_ROWS)
    expected = est.transform(_ROWS_TEST)
    Z = est.transform(backend.asarray(_ROWS_TEST))
    check_output(Z, backend, "float64", (_ROWS_TEST.shape[0], 200))
    assert_same(backend.to_host(Z), expected, "float64")
    on_device = NTKSketch(200, depth=2, bias_std=0.3, random_state=1)
    on_device.fit(backend.asarray(_ROWS))
    Z = on_device.transform(_ROWS_TEST)
    assert isinstance(Z, np.ndarray)
    assert_same(Z, expected, "float64")
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        return
    # with dispatch, scikit-learn's rule: transform takes fit's namespace and device
    with sklearn.config_context(array_api_dispatch=True):
        for fitted, X in ((est, backend.asarray(_ROWS_TEST)), (on_device, _ROWS_TEST)):
            with pytest.raises(ValueError, match=r"NTKSketch.transform\(\) must use the same"):
                fitted.transform(X)


def test_integer_input_gives_float64_features(backend):
    X = np.arange(40 * 8).reshape(40, 8) % 7 - 3
    Z = NTKSketch(64, random_state=0).fit_transform(backend.asarray(X))
    check_output(Z, backend, "float64", (40, 64))
    expected = NTKSketch(64, random_state=0).fit_transform(X.astype(np.float64))
    assert_same(backend.to_host(Z), expected, "float64")


def test_invalid_namespace_input_raises(backend):
    X = _ROWS.copy()
    est = NTKSketch(64, random_state=0).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="8 features"):
        est.transform(backend.asarray(X[:, :5]))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        NTKSketch(64).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="2-D"):
        NTKSketch(64).fit(backend.asarray(_ROWS[:, :, None]))
    cntk = CNTKSketch(64, random_state=0).fit(backend.asarray(_IMAGES))
    with pytest.raises(ValueError, match=r"fitted on images of shape \(6, 6, 2\)"):
        cntk.transform(backend.asarray(_IMAGES_MYRTLE))


def test_homogeneous_map_at_the_edge_of_float32(backend):
    # rows near float32's largest value: a ReLU network (f(c x) = c f(x)) maps them rescaled
    # by powers of two below 2^-126 (outside float32's normal range: the scaling is done in
    # float64) and scales the features back
    X = (_ROWS / np.abs(_ROWS).max() * 2.0**126).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # scikit-learn's finiteness check sums
        expected = NTKSketch(128, depth=2, random_state=0).fit(X).transform(X)
    assert np.isfinite(expected).all() and np.abs(expected).max() > 1e36
    Z = NTKSketch(128, depth=2, random_state=0).fit(backend.asarray(X)).transform(
        backend.asarray(X)
    )
    check_output(Z, backend, "float32", X.shape[:1] + (128,))
    assert_same(backend.to_host(Z), expected, "float32")
