"""NTKRandomFeatures (the Monte-Carlo strategy of the layer-wise steps): transform time (next to
NTKSketch at equal dimension), fit time, and error against the exact kernel."""

import numpy as np

from skntk import NTKSketch
from skntk.kernels import ntk_kernel
from skntk.random_features import NTKRandomFeatures

from .common import gaussian, relative_error, size


class RandomFeaturesTransform:
    """Issue #5's speed case: n = 2000, d = 784, float32, 8192 columns, ReLU depth 2; NTKSketch
    at the same dimension for comparison (time per row = time / n)."""

    params = (["random_features", "random_features_leverage", "ntk_sketch"],)
    param_names = ["method"]
    timeout = 600

    def setup(self, method):
        self.X = gaussian(size(2000, 40), size(784, 20), np.float32)
        m = size(8192, 64)
        if method == "ntk_sketch":
            self.est = NTKSketch(m, depth=2, random_state=0)
        else:
            self.est = NTKRandomFeatures(
                m, depth=2, leverage_sampling=method.endswith("leverage"), random_state=0
            )
        self.est.fit(self.X)

    def time_transform(self, method):
        self.est.transform(self.X)

    def peakmem_transform(self, method):
        self.est.transform(self.X)


class RandomFeaturesFit:
    params = ([1, 2],)
    param_names = ["depth"]
    timeout = 600

    def setup(self, depth):
        self.X = gaussian(size(2000, 40), size(784, 20), np.float32)

    def time_fit(self, depth):
        NTKRandomFeatures(size(8192, 64), depth=depth, random_state=0).fit(self.X)


class RandomFeaturesAccuracy:
    """Relative Frobenius error of ``Z Z^T`` against the exact NTK (ReLU, depth 2)."""

    params = (["random_features", "random_features_leverage", "ntk_sketch"],)
    param_names = ["method"]
    timeout = 600

    def setup(self, method):
        self.X = gaussian(size(1000, 40), size(784, 20), np.float32)
        self.K = ntk_kernel(self.X.astype(np.float64), depth=2)

    def track_relative_error(self, method):
        m = size(8192, 64)
        if method == "ntk_sketch":
            est = NTKSketch(m, depth=2, random_state=0)
        else:
            est = NTKRandomFeatures(
                m, depth=2, leverage_sampling=method.endswith("leverage"), random_state=0
            )
        return relative_error(est.fit_transform(self.X).astype(np.float64), self.K)

    track_relative_error.unit = "relative error"
