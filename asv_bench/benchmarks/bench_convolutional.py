"""CNTKSketch: transform time per image (Myrtle-5, normalized Gaussian, float32), its scaling
with the image size (linear in pixels), and the error against the exact CNTK."""

import numpy as np

from skntk.convolutional import CNTKSketch
from skntk.kernels import cntk_kernel

from .common import relative_error, size

MYRTLE5 = dict(architecture="myrtle", depth=5, activation="normalized_gaussian",
               weight_std=2**0.5)


def images(n, side, channels=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, side, side, channels)).astype(dtype)


class Myrtle5Transform:
    """Issue #4's speed case: 32x32x3 images, float32; divide the time by ``n`` images."""

    params = ([4096, 8192],)
    param_names = ["n_components"]
    timeout = 600

    def setup(self, n_components):
        self.n = size(16, 2)
        self.X = images(self.n, size(32, 8))
        self.est = CNTKSketch(size(n_components, 256), random_state=0, **MYRTLE5).fit(self.X)

    def time_transform(self, n_components):
        self.est.transform(self.X)

    def peakmem_transform(self, n_components):
        self.est.transform(self.X)


class ImageSizeScaling:
    """Time per image against the side length: linear in the number of pixels."""

    params = ([8, 16, 32, 64],)
    param_names = ["side"]
    timeout = 600

    def setup(self, side):
        side = size(side, min(side, 8))
        self.X = images(size(8, 2), side)
        self.est = CNTKSketch(size(4096, 256), random_state=0, **MYRTLE5).fit(self.X)

    def time_transform(self, side):
        self.est.transform(self.X)


class CNTKError:
    """Relative Frobenius error against :func:`cntk_kernel` (8x8x3 random images)."""

    params = (["gap3-relu", "gap3-gelu", "myrtle5"], [2048, 8192])
    param_names = ["network", "n_components"]
    timeout = 600

    def setup(self, network, n_components):
        self.params_ = MYRTLE5 if network == "myrtle5" else dict(
            depth=3, activation=network.split("-")[1])
        self.X = images(size(100, 10), 8, dtype=np.float64)
        self.K = cntk_kernel(self.X, **self.params_)

    def track_relative_error(self, network, n_components):
        est = CNTKSketch(size(n_components, 512), random_state=0, **self.params_)
        return relative_error(est.fit_transform(self.X), self.K)
