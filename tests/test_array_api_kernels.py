"""Exact kernels, activation duals and image preprocessing on arrays of other namespaces.

Everything goes through the public API (``skntk.kernels``, ``skntk.activations``,
``skntk.preprocessing``) with inputs of ``array_api_strict`` (the CPU stand-in that CI runs)
and of CuPy (marked ``gpu``, skipped without a CUDA device). Each result must come back in the
input's namespace, on its device, in the input's float dtype, and equal the NumPy result for
the same inputs: to float64 rounding (``rtol=1e-6``; the NTK of ReLU-like networks is not
Lipschitz at ``rho = 1``, so a diagonal formed by a different summation order moves by
``sqrt(eps) ~ 1e-8``), or to float32's (``rtol=2e-3``: ``sqrt(eps32) ~ 3e-4`` at the diagonal).
The kernels and duals are plain functions: they work in the input's namespace whether
scikit-learn's ``array_api_dispatch`` is on or off (both are tested).
"""

import os

import numpy as np
import pytest
import sklearn
from sklearn.pipeline import make_pipeline

from skntk.activations import ACTIVATIONS, CallableActivation, get_activation
from skntk.architectures import AvgPool, Conv, Dense, GlobalAvgPool, Nonlinearity
from skntk.kernels import cnngp_kernel, cntk_kernel, kernel, nngp_kernel, ntk_kernel
from skntk.preprocessing import ChannelStandardizer, ImageLayerNorm, ZCAWhitening

NAMESPACES = [
    pytest.param("array_api_strict", id="strict"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]
DTYPES = ["float32", "float64"]
# scikit-learn accepts array_api_dispatch=True only when SciPy was imported with this set (the
# repository's root conftest.py sets it)
DISPATCH = os.environ.get("SCIPY_ARRAY_API") == "1"


def _namespace(name):
    if name == "array_api_strict":
        return pytest.importorskip("array_api_strict")
    cupy = pytest.importorskip("cupy")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no driver, no runtime: no GPU
        count = 0
    if count < 1:
        pytest.skip("CuPy is installed but no CUDA device is available")
    return cupy


def _host(a):
    """A result of any namespace as a NumPy array (test-side conversion)."""
    if hasattr(a, "get"):  # CuPy
        return a.get()
    if type(a).__module__.startswith("array_api_strict"):
        import array_api_strict

        return np.asarray(a.to_device(array_api_strict.Device("CPU_DEVICE")))
    return np.asarray(a)


def _check_like(out, like, xp, dtype):
    """``out`` is an array of ``xp``, on ``like``'s device, of ``dtype``."""
    assert type(out).__module__.split(".")[0] == xp.__name__.split(".")[0], type(out)
    assert out.device == like.device
    assert out.dtype == getattr(xp, dtype)


def _assert_close(got, want, dtype):
    rtol = 2e-3 if dtype == "float32" else 1e-6
    atol = rtol * max(float(np.max(np.abs(want))), 1e-300)
    np.testing.assert_allclose(_host(got), want, rtol=rtol, atol=atol)


def _rows(n, d, seed):
    return np.random.RandomState(seed).randn(n, d)


def _images(n, h, w, c, seed):
    return np.random.RandomState(seed).randn(n, h, w, c)


@pytest.fixture(params=[False, True], ids=["dispatch-off", "dispatch-on"])
def dispatch(request):
    """Run the test with scikit-learn's ``array_api_dispatch`` off, and on where SciPy
    allows it."""
    if request.param and not DISPATCH:
        pytest.skip("array_api_dispatch needs SCIPY_ARRAY_API=1 before SciPy is imported")
    with sklearn.config_context(array_api_dispatch=request.param):
        yield request.param


# ----------------------------------------------------------------------------------------------
# Fully connected kernels
# ----------------------------------------------------------------------------------------------

_ARCTAN = CallableActivation(np.arctan, derivative=lambda t: 1.0 / (1.0 + t * t))
# closed forms: every combination; duals by quadrature (a second each): a few
FC_CASES = [
    pytest.param(act, bias, dtype, id=f"{act}-{bias}-{dtype}")
    for act in ("relu", "gelu", "erf", "sin")
    for bias in (0.0, 0.3)
    for dtype in DTYPES
] + [
    pytest.param("tanh", 0.3, "float64", id="tanh-0.3-float64"),
    pytest.param("tanh", 0.0, "float32", id="tanh-0.0-float32"),
    pytest.param(_ARCTAN, 0.0, "float64", id="callable-0.0-float64"),
    pytest.param(_ARCTAN, 0.3, "float32", id="callable-0.3-float32"),
]


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("activation, bias_std, dtype", FC_CASES)
def test_fully_connected_kernels(namespace, dtype, bias_std, activation):
    xp = _namespace(namespace)
    X, Y = _rows(7, 5, 0).astype(dtype), _rows(4, 5, 1).astype(dtype)
    Xd, Yd = xp.asarray(X), xp.asarray(Y)
    for fn in (ntk_kernel, nngp_kernel):
        params = dict(depth=2, activation=activation, bias_std=bias_std, weight_std=1.3)
        K = fn(Xd, Yd, **params)
        _check_like(K, Xd, xp, dtype)
        _assert_close(K, fn(X, Y, **params), dtype)
        K = fn(Xd, **params)  # the symmetric path: upper blocks mirrored
        _check_like(K, Xd, xp, dtype)
        _assert_close(K, fn(X, **params), dtype)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["ntk", "nngp"])
def test_composed_dense_list(namespace, dtype, kind, dispatch):
    xp = _namespace(namespace)
    layers = [
        Dense(1.0, 0.1),
        Nonlinearity("erf"),
        Dense(1.5),
        Nonlinearity("relu"),
        Dense(0.8, 0.2),
        Nonlinearity("elu"),  # no closed form: Mehler series on the device
        Dense(),
    ]
    X, Y = _rows(6, 4, 2).astype(dtype), _rows(5, 4, 3).astype(dtype)
    K = kernel(xp.asarray(X), xp.asarray(Y), layers=layers, kind=kind)
    _check_like(K, xp.asarray(X), xp, dtype)
    _assert_close(K, kernel(X, Y, layers=layers, kind=kind), dtype)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("scale", [1e150, 1e-150])
@pytest.mark.parametrize("activation, bias_std", [("relu", 0.0), ("gelu", 0.0), ("erf", 0.2)])
def test_far_from_unit_scale(namespace, scale, activation, bias_std):
    """Power-of-two rescaling of rows (homogeneous networks: scaled back at the end; others:
    at the covariances) gives NumPy's kernel on any namespace."""
    xp = _namespace(namespace)
    X = _rows(6, 5, 4) * scale
    params = dict(depth=2, activation=activation, bias_std=bias_std)
    K = ntk_kernel(xp.asarray(X), **params)
    _check_like(K, xp.asarray(X), xp, "float64")
    _assert_close(K, ntk_kernel(X, **params), "float64")


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_extreme_variances_inside_an_activation(namespace):
    """A huge weight_std drives the pre-activation variances past 2^500: the homogeneous
    activation's dual is evaluated on rescaled variances, as with NumPy (and GeLU's on its
    overflow-safe form)."""
    xp = _namespace(namespace)
    X = _rows(5, 3, 5)
    layers = [Dense(1e80), Nonlinearity("relu"), Dense(), Nonlinearity("gelu"), Dense()]
    K = kernel(xp.asarray(X), layers=layers, kind="nngp")
    _assert_close(K, kernel(X, layers=layers, kind="nngp"), "float64")


# ----------------------------------------------------------------------------------------------
# Convolutional kernels
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", [cntk_kernel, cnngp_kernel], ids=["cntk", "cnngp"])
def test_gap_and_myrtle(namespace, dtype, fn, dispatch):
    xp = _namespace(namespace)
    X, Y = _images(3, 6, 6, 2, 6).astype(dtype), _images(2, 6, 6, 2, 7).astype(dtype)
    Xd, Yd = xp.asarray(X), xp.asarray(Y)
    K = fn(Xd, Yd, depth=2, activation="relu", bias_std=0.1)
    _check_like(K, Xd, xp, dtype)
    _assert_close(K, fn(X, Y, depth=2, activation="relu", bias_std=0.1), dtype)
    X8 = _images(3, 8, 8, 3, 8).astype(dtype)
    K = fn(xp.asarray(X8), architecture="myrtle", depth=5)
    _check_like(K, xp.asarray(X8), xp, dtype)
    _assert_close(K, fn(X8, architecture="myrtle", depth=5), dtype)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["ntk", "nngp"])
def test_composed_image_list(namespace, dtype, kind):
    """Conv (5x5 and 3x3), AvgPool, GlobalAvgPool and a Dense/activation head, on flattened
    images with ``image_shape``."""
    xp = _namespace(namespace)
    layers = [
        Conv(5, 1.3, 0.2),
        Nonlinearity("gelu"),
        AvgPool(),
        Conv(3, 1.1),
        Nonlinearity("tanh"),
        GlobalAvgPool(),
        Dense(1.2, 0.1),
        Nonlinearity("relu"),
        Dense(),
    ]
    X = _images(3, 6, 6, 2, 9).astype(dtype).reshape(3, -1)
    Xd = xp.asarray(X)
    K = kernel(Xd, layers=layers, kind=kind, image_shape=(6, 6, 2))
    _check_like(K, Xd, xp, dtype)
    _assert_close(K, kernel(X, layers=layers, kind=kind, image_shape=(6, 6, 2)), dtype)


# ----------------------------------------------------------------------------------------------
# Devices, validation and errors
# ----------------------------------------------------------------------------------------------


def test_results_stay_on_the_input_device():
    """array_api_strict's second simulated device: nothing may be created on the default
    device (mixing devices raises there) and the result is on the input's device."""
    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("device1")
    X, images = _rows(5, 4, 10), _images(2, 4, 4, 2, 11)
    for fn, data, params in (
        (ntk_kernel, X, dict(depth=2, activation="tanh", bias_std=0.1)),
        (nngp_kernel, X * 1e150, dict(depth=2, activation="relu")),
        (cntk_kernel, images, dict(depth=1, activation="erf")),
    ):
        Xd = xps.asarray(data, device=device)
        K = fn(Xd, **params)
        assert K.device == device
        _assert_close(K, fn(data, **params), "float64")
    Xt = ZCAWhitening().fit_transform(xps.asarray(images, device=device))
    assert Xt.device == device


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_integer_input_is_computed_in_float64(namespace):
    xp = _namespace(namespace)
    X = np.arange(12).reshape(4, 3) % 5
    K = ntk_kernel(xp.asarray(X), depth=1)
    _check_like(K, xp.asarray(X), xp, "float64")
    _assert_close(K, ntk_kernel(X, depth=1), "float64")


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_invalid_inputs_raise_clear_errors(namespace):
    xp = _namespace(namespace)
    X = _rows(4, 3, 12)
    with pytest.raises(TypeError, match="same library"):
        ntk_kernel(xp.asarray(X), X)
    bad = X.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        ntk_kernel(xp.asarray(bad))
    with pytest.raises(ValueError, match="image_shape"):
        cntk_kernel(xp.asarray(_rows(2, 12, 13)))
    with pytest.raises(ValueError, match="complex"):
        nngp_kernel(xp.asarray(X + 1j * X))
    # a kernel that float64 cannot hold: the same message as for NumPy input
    with pytest.raises(ValueError, match="overflow float64") as numpy_error:
        ntk_kernel(X * 1e200, depth=2)
    with pytest.raises(ValueError, match="overflow float64") as namespace_error:
        ntk_kernel(xp.asarray(X * 1e200), depth=2)
    assert str(namespace_error.value) == str(numpy_error.value)


# ----------------------------------------------------------------------------------------------
# Activations: every closed-form dual, and the numeric ones, in the input's namespace
# ----------------------------------------------------------------------------------------------


def _all_activations():
    acts = [cls() for name, cls in sorted(ACTIVATIONS.items()) if name != "swish"]
    acts += [
        get_activation("rectified_monomial", degree=5),  # Mehler series of the unit dual
        get_activation("elu", alpha=0.5),  # kink: the pair quadrature on the host
        get_activation("monomial", degree=3),
        get_activation("gaussian", a=1.0, b=0.05),
        CallableActivation(np.arctan),
    ]
    return acts


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("activation", _all_activations(), ids=repr)
def test_activation_duals_and_pointwise_forms(namespace, activation):
    xp = _namespace(namespace)
    rng = np.random.RandomState(13)
    vx, vy = rng.rand(4, 1) * 2 + 0.1, rng.rand(1, 3) * 2 + 0.1
    q = rng.uniform(-0.9, 0.9, (4, 3)) * np.sqrt(vx * vy)
    q[0, 0] = np.sqrt(vx[0, 0] * vy[0, 0])  # a parallel pair: rho = 1
    derivative = activation.name != "sign"
    want = activation.duals(vx, vy, q.copy(), with_derivative=derivative)
    got = activation.duals(xp.asarray(vx), xp.asarray(vy), xp.asarray(q), derivative)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
            continue
        _check_like(g, xp.asarray(q), xp, "float64")
        _assert_close(g, w, "float64")
    if activation.has_pointwise_form:
        t = np.linspace(-3.0, 3.0, 13)
        for fn in (activation.value, activation.derivative):
            out = fn(xp.asarray(t))
            _check_like(out, xp.asarray(t), xp, "float64")
            _assert_close(out, fn(t), "float64")


# ----------------------------------------------------------------------------------------------
# Image preprocessing
# ----------------------------------------------------------------------------------------------

TRANSFORMERS = [
    ChannelStandardizer,
    ImageLayerNorm,
    lambda **kw: ZCAWhitening(regularization=0.1, **kw),
]


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["nhwc", "flat"])
@pytest.mark.parametrize("make", TRANSFORMERS, ids=["channel", "layernorm", "zca"])
def test_preprocessing_transformers(namespace, dtype, layout, make, dispatch):
    xp = _namespace(namespace)
    images = _images(30, 4, 4, 3, 14) * [0.5, 2.0, 7.0] + [1.0, -3.0, 10.0]
    new = _images(5, 4, 4, 3, 15) * 3.0
    if layout == "flat":
        images, new = images.reshape(30, -1), new.reshape(5, -1)
    images, new = images.astype(dtype), new.astype(dtype)
    kw = {} if layout == "nhwc" else {"image_shape": (4, 4, 3)}
    est, ref = make(**kw), make(**kw)
    Xd = xp.asarray(images)
    Xt = est.fit_transform(Xd)
    _check_like(Xt, Xd, xp, dtype)
    assert Xt.shape == images.shape
    _assert_close(Xt, ref.fit_transform(images), dtype)
    out = est.transform(xp.asarray(new))
    _check_like(out, Xd, xp, dtype)
    _assert_close(out, ref.transform(new), dtype)
    # fitted arrays live where fit's input did (scikit-learn's array-API convention)
    for name in ("mean_", "scale_", "whitening_", "eigenvalues_"):
        if hasattr(est, name):
            value = getattr(est, name)
            assert value.device == Xd.device and value.dtype == xp.float64
            _assert_close(value, getattr(ref, name), "float64")


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_preprocessing_across_namespaces(namespace):
    """Dispatch off: a transformer fitted on NumPy transforms arrays of another namespace (and
    back), answering in the input's namespace. Dispatch on: scikit-learn's rule, a
    ValueError."""
    xp = _namespace(namespace)
    images = _images(20, 3, 3, 2, 16)
    for make in TRANSFORMERS:
        est = make().fit(images)
        out = est.transform(xp.asarray(images))
        _check_like(out, xp.asarray(images), xp, "float64")
        _assert_close(out, est.transform(images), "float64")
        back = make().fit(xp.asarray(images)).transform(images)
        assert isinstance(back, np.ndarray)
        _assert_close(back, est.transform(images), "float64")
        if DISPATCH:
            with sklearn.config_context(array_api_dispatch=True):
                with pytest.raises(ValueError, match="same namespace"):
                    est.transform(xp.asarray(images))


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_preprocessing_pipeline_into_a_kernel(namespace):
    """Preprocessing chained in a Pipeline, then the exact CNTK: the arrays never leave the
    namespace."""
    xp = _namespace(namespace)
    images = _images(6, 4, 4, 3, 17).astype("float32")
    pipe = make_pipeline(ImageLayerNorm(), ZCAWhitening(regularization=0.5))
    Z = pipe.fit_transform(xp.asarray(images))
    K = cntk_kernel(Z, depth=1)
    _check_like(K, xp.asarray(images), xp, "float32")
    Zn = make_pipeline(ImageLayerNorm(), ZCAWhitening(regularization=0.5)).fit_transform(images)
    _assert_close(K, cntk_kernel(Zn, depth=1), "float32")


def test_preprocessing_validation_in_the_namespace():
    xps = pytest.importorskip("array_api_strict")
    X = _images(4, 3, 3, 2, 18)
    bad = X.copy()
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        ChannelStandardizer().fit(xps.asarray(bad))
    est = ZCAWhitening().fit(xps.asarray(X))
    with pytest.raises(ValueError, match="image shape"):
        est.transform(xps.asarray(_images(2, 3, 2, 3, 19)))
    with pytest.raises(ValueError, match="3-D"):
        ImageLayerNorm().fit(xps.asarray(X[0]))
