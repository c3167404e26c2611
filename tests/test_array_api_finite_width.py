"""The finite-width NTK on other array namespaces than NumPy, through the public API only.

``empirical_ntk`` (every method, with and without ``trace``), ``empirical_ntk_features``,
``mlp_apply`` and ``FiniteWidthNTK`` (``fit``, ``transform``, ``fit_transform``, ``kernel``)
are run on arrays of ``array_api_strict`` on its non-default device (which refuses implicit
conversion to NumPy, as a GPU does) and, on a machine with a CUDA device, CuPy (marked
``gpu``), with scikit-learn's ``array_api_dispatch`` off and on, in float32 and float64.
The output must be an array of the input's namespace, on its device, in its dtype, and equal
the NumPy output for the same weights / ``random_state`` (the weights and projections are drawn
on the host). A linear network's NTK has a closed form, ``(W^2 <x, y> / d + b^2) I_k``, which
checks the namespace path independently of the NumPy one.
"""


import os

import numpy as np
import pytest
import sklearn
from _backends import assert_same as _assert_same
from _backends import check_output
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from skntk.finite_width import (
    METHODS,
    FiniteWidthNTK,
    empirical_ntk,
    empirical_ntk_features,
    init_mlp_weights,
    mlp_apply,
)


def assert_same(got, expected, dtype):
    # the finite networks agree to 1e-11 in float64 (the namespaces sum in different orders)
    _assert_same(got, expected, dtype, float64_tol=1e-11)


_rs = np.random.RandomState(0)
_X = _rs.standard_normal((9, 5))
_Y = _rs.standard_normal((4, 5))
_WEIGHTS = init_mlp_weights(5, (7, 6), n_outputs=3, random_state=0)


# --------------------------------------------------------------------------------------------
# functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("trace", [False, True], ids=["full", "trace"])
@pytest.mark.parametrize("method", METHODS)
def test_empirical_ntk_in_the_input_namespace(backend, dispatch, method, trace, dtype):
    kw = dict(weights=_WEIGHTS, activation="gelu", bias_std=0.3, method=method, trace=trace)
    X, Y = _X.astype(dtype), _Y.astype(dtype)
    shape = (9, 4) if trace else (9, 4, 3, 3)
    K = empirical_ntk(backend.asarray(X), backend.asarray(Y), **kw)
    check_output(K, backend, dtype, shape)
    assert_same(backend.to_host(K), empirical_ntk(X, Y, **kw), dtype)
    # Y = None shares the symmetric work
    K = empirical_ntk(backend.asarray(X), **kw)
    check_output(K, backend, dtype, shape[:1] * 2 + shape[2:])
    assert_same(backend.to_host(K), empirical_ntk(X, **kw), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", METHODS)
def test_linear_network_closed_form(backend, method, dtype):
    # no hidden layer: f(x) = (W / sqrt(d)) x V + b beta, so J(x) J(y)^T = (W^2 <x,y>/d + b^2) I_k
    w = init_mlp_weights(5, (), n_outputs=2, random_state=1)
    X, Y = _X.astype(dtype), _Y.astype(dtype)
    K = empirical_ntk(
        backend.asarray(X),
        backend.asarray(Y),
        weights=w,
        weight_std=1.5,
        bias_std=0.7,
        method=method,
    )
    check_output(K, backend, dtype, (9, 4, 2, 2))
    expected = (1.5**2 * _X @ _Y.T / 5 + 0.7**2)[:, :, None, None] * np.eye(2)
    assert_same(backend.to_host(K), expected, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_on_the_device(backend, dtype):
    # weights already in the namespace (moved once by the caller) give the same kernel
    X = _X.astype(dtype)
    w_dev = [
        (backend.asarray(V.astype(dtype)), backend.asarray(b.astype(dtype))) for V, b in _WEIGHTS
    ]
    K = empirical_ntk(backend.asarray(X), weights=w_dev, bias_std=0.2, method="structured")
    check_output(K, backend, dtype, (9, 9, 3, 3))
    expected = empirical_ntk(X, weights=_WEIGHTS, bias_std=0.2, method="structured")
    assert_same(backend.to_host(K), expected, dtype)
    out = mlp_apply(backend.asarray(X), weights=w_dev, bias_std=0.2)
    check_output(out, backend, dtype, (9, 3))
    assert_same(backend.to_host(out), mlp_apply(X, weights=_WEIGHTS, bias_std=0.2), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_components", [None, 20], ids=["exact", "sketch"])
def test_features_and_forward_pass(backend, dispatch, n_components, dtype):
    kw = dict(weights=_WEIGHTS, activation="erf", bias_std=0.4)
    X = _X.astype(dtype)
    Z = empirical_ntk_features(backend.asarray(X), n_components=n_components, random_state=0, **kw)
    expected = empirical_ntk_features(X, n_components=n_components, random_state=0, **kw)
    check_output(Z, backend, dtype, expected.shape)
    assert_same(backend.to_host(Z), expected, dtype)
    out = mlp_apply(backend.asarray(X), **kw)
    check_output(out, backend, dtype, (9, 3))
    assert_same(backend.to_host(out), mlp_apply(X, **kw), dtype)


# --------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_components", [None, 24], ids=["exact", "sketch"])
def test_estimator_in_the_input_namespace(backend, dispatch, n_components, dtype):
    def make():
        return FiniteWidthNTK(
            (6, 5), bias_std=0.2, n_outputs=2, n_components=n_components, random_state=0
        )

    X, Y = _X.astype(dtype), _Y.astype(dtype)
    ref = make().fit(X)
    est = make().fit(backend.asarray(X))
    assert est.n_features_in_ == 5
    for (V, b), (Vr, br) in zip(est.weights_, ref.weights_, strict=True):
        # the fitted state is host data, drawn the same way whatever the input
        assert isinstance(V, np.ndarray)
        np.testing.assert_array_equal(V, Vr)
        np.testing.assert_array_equal(b, br)
    expected = ref.transform(Y)
    Z = est.transform(backend.asarray(Y))
    check_output(Z, backend, dtype, expected.shape)
    assert_same(backend.to_host(Z), expected, dtype)
    Z = make().fit_transform(backend.asarray(X))
    check_output(Z, backend, dtype, (9, expected.shape[1]))
    assert_same(backend.to_host(Z), ref.transform(X), dtype)
    K = est.kernel(backend.asarray(X), backend.asarray(Y))
    check_output(K, backend, dtype, (9, 4))
    assert_same(backend.to_host(K), ref.kernel(X, Y), dtype)
    K = est.kernel(backend.asarray(X))
    check_output(K, backend, dtype, (9, 9))
    assert_same(backend.to_host(K), ref.kernel(X), dtype)


def test_estimator_invalid_namespace_input(backend):
    est = FiniteWidthNTK((4,), random_state=0).fit(backend.asarray(_X))
    with pytest.raises(ValueError, match="5 features"):
        est.transform(backend.asarray(_X[:, :3]))
    bad = _X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        FiniteWidthNTK((4,)).fit(backend.asarray(bad))
    with pytest.raises(ValueError, match="2-D"):
        est.kernel(backend.asarray(_X[:, :, None]))


def test_integer_input_gives_float64(backend):
    X = (np.arange(9 * 5).reshape(9, 5) % 7 - 3).astype(np.int64)
    Z = FiniteWidthNTK((4,), random_state=0).fit_transform(backend.asarray(X))
    check_output(Z, backend, "float64", (9, Z.shape[1]))
    expected = FiniteWidthNTK((4,), random_state=0).fit_transform(X.astype(np.float64))
    assert_same(backend.to_host(Z), expected, "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pipeline_with_ridge_stays_in_the_namespace(backend, dtype):
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        pytest.skip("array_api_dispatch needs SCIPY_ARRAY_API=1 set before SciPy is imported")
    y = (np.sin(_X[:, 0]) * _X[:, 1]).astype(dtype)
    X = _X.astype(dtype)

    def model():
        return make_pipeline(
            FiniteWidthNTK((8,), n_components=16, random_state=0), Ridge(alpha=0.1, solver="svd")
        )

    expected = model().fit(X, y).predict(_Y.astype(dtype))
    with sklearn.config_context(array_api_dispatch=True):
        fitted = model().fit(backend.asarray(X), backend.asarray(y))
        pred = fitted.predict(backend.asarray(_Y.astype(dtype)))
    check_output(pred, backend, dtype, (4,))
    # Ridge's SVD solve amplifies the features' float32 rounding a little
    assert_same(backend.to_host(pred), expected, dtype)


def test_fitted_on_numpy_serves_the_namespace(backend):
    # the fitted state is host data: without dispatch any namespace is served; with dispatch,
    # scikit-learn's rule (transform and kernel take fit's namespace and device) applies
    est = FiniteWidthNTK((6,), bias_std=0.3, random_state=2).fit(_X)
    with sklearn.config_context(array_api_dispatch=False):
        Z = est.transform(backend.asarray(_Y))
        check_output(Z, backend, "float64", (4, est.transform(_Y).shape[1]))
        assert_same(backend.to_host(Z), est.transform(_Y), "float64")
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        return
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=r"FiniteWidthNTK.transform\(\) must use the same"):
            est.transform(backend.asarray(_Y))
        with pytest.raises(ValueError, match=r"FiniteWidthNTK.kernel\(\) must use the same"):
            est.kernel(_X, backend.asarray(_Y))
