"""Array namespaces the array-API tests run on: array-api-strict (CI) and CuPy (``gpu``).

Each backend makes arrays on a non-default device (array-api-strict's ``device1`` refuses
implicit conversion to NumPy, as a GPU does) and brings results back to the host for the
comparison with NumPy output.
"""

import contextlib
import os

import numpy as np
import pytest
import sklearn


def has_cuda():
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no driver, no runtime: no GPU
        return False


class StrictBackend:
    """array_api_strict on its second device (no implicit conversion to NumPy)."""

    name = "array_api_strict"

    def __init__(self):
        self.xp = pytest.importorskip("array_api_strict")
        self.device = self.xp.Device("device1")
        self.array_type = type(self.xp.asarray(0.0))

    def asarray(self, a):
        return self.xp.asarray(a, device=self.device)

    def to_host(self, a):
        return np.asarray(a.to_device(self.xp.asarray(0.0).device))

    def dtype(self, name):
        return getattr(self.xp, name)


class CuPyBackend:
    name = "cupy"

    def __init__(self):
        import cupy

        self.xp = cupy
        self.device = cupy.cuda.Device(0)
        self.array_type = cupy.ndarray

    def asarray(self, a):
        with self.device:
            return self.xp.asarray(a)

    def to_host(self, a):
        return self.xp.asnumpy(a)

    def dtype(self, name):
        return np.dtype(name)


BACKENDS = [
    pytest.param(StrictBackend, id="array_api_strict"),
    pytest.param(CuPyBackend, id="cupy", marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not has_cuda(), reason="needs CuPy and a CUDA device"),
    ]),
]


@contextlib.contextmanager
def dispatch_setting(on):
    """scikit-learn's ``array_api_dispatch`` set to ``on``; skips the test when turning it on
    is impossible (SciPy imported without ``SCIPY_ARRAY_API=1``)."""
    if on and os.environ.get("SCIPY_ARRAY_API") != "1":
        pytest.skip(
            "array_api_dispatch needs SCIPY_ARRAY_API=1 set before SciPy is imported "
            "(the root conftest.py sets it; export it if a plugin imports SciPy first)"
        )
    with sklearn.config_context(array_api_dispatch=on):
        yield on


def check_output(Z, backend, dtype, shape):
    """``Z`` is an array of ``backend``'s namespace, on its device, of ``dtype`` and ``shape``."""
    assert isinstance(Z, backend.array_type), f"{type(Z)} is not a {backend.name} array"
    assert Z.device == backend.device
    assert Z.dtype == backend.dtype(dtype)
    assert tuple(Z.shape) == shape


def assert_same(got, expected, dtype, float64_tol=1e-10):
    """Host results of two backends agree: float32 within the backends' different summation
    orders and FFTs (observed <= 1e-6 of the largest entry), float64 within ``float64_tol``."""
    tol = 2e-5 if dtype == "float32" else float64_tol
    scale = float(np.abs(expected).max())
    assert scale > 0
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    return request.param()


@pytest.fixture(params=[False, True], ids=["dispatch_off", "dispatch_on"])
def dispatch(request):
    with dispatch_setting(request.param) as on:
        yield on
