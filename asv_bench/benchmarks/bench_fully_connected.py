"""NTKSketch / NNGPSketch: transform time, peak memory and error against the exact kernel."""

import numpy as np

from skntk import NNGPSketch, NTKSketch
from skntk.kernels import nngp_kernel, ntk_kernel

from .common import gaussian, relative_error, size


class NTKSketchTransform:
    """Issue #3's speed case: n = 10000, d = 784, float32, n_components = 8192, depth 2."""

    params = ([None, 2],)
    param_names = ["n_jobs"]
    timeout = 600

    def setup(self, n_jobs):
        self.X = gaussian(size(10000, 50), size(784, 20), np.float32)
        self.est = NTKSketch(size(8192, 64), depth=2, random_state=0, n_jobs=n_jobs).fit(self.X)

    def time_transform(self, n_jobs):
        self.est.transform(self.X)

    def peakmem_transform(self, n_jobs):
        self.est.transform(self.X)


class HermiteTransform:
    params = ["gelu", "erf"]
    param_names = ["activation"]
    timeout = 600

    def setup(self, activation):
        self.X = gaussian(size(2000, 40), size(784, 20), np.float32)
        self.est = NTKSketch(
            size(4096, 64), depth=2, activation=activation, bias_std=0.5, random_state=0
        ).fit(self.X)

    def time_transform(self, activation):
        self.est.transform(self.X)


class SketchError:
    """Relative Frobenius error of Z Z^T against the exact kernel (n = 1000, d = 784)."""

    params = (["ntk", "nngp"], ["relu", "gelu"], [1024, 4096])
    param_names = ["kernel", "activation", "n_components"]
    timeout = 600

    def setup(self, kernel, activation, n_components):
        X = gaussian(size(1000, 40), size(784, 20))
        bias = 0.0 if activation == "relu" else 0.5
        cls, fn = (NTKSketch, ntk_kernel) if kernel == "ntk" else (NNGPSketch, nngp_kernel)
        self.K = fn(X, depth=2, activation=activation, bias_std=bias)
        self.Z = cls(
            size(n_components, 64), depth=2, activation=activation, bias_std=bias, random_state=0
        ).fit_transform(X)

    def track_relative_error(self, kernel, activation, n_components):
        return relative_error(self.Z, self.K)

    track_relative_error.unit = "relative Frobenius error"
