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
