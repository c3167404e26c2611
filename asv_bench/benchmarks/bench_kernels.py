"""Exact kernels: ntk_kernel on n = 4000, d = 784, depth 2, ReLU (issue #2's reference case)."""

import numpy as np

from skntk.kernels import cntk_kernel, ntk_kernel

from .common import gaussian, size


class ExactNTK:
    params = (["float64", "float32"], [None, 2])
    param_names = ["dtype", "n_jobs"]
    timeout = 300

    def setup(self, dtype, n_jobs):
        self.X = gaussian(size(4000, 60), size(784, 20), np.dtype(dtype))

    def time_ntk_relu_depth2(self, dtype, n_jobs):
        ntk_kernel(self.X, depth=2, n_jobs=n_jobs)

    def peakmem_ntk_relu_depth2(self, dtype, n_jobs):
        ntk_kernel(self.X, depth=2, n_jobs=n_jobs)


class ExactNTKActivations:
    params = ["gelu", "erf", "tanh"]
    param_names = ["activation"]
    timeout = 300

    def setup(self, activation):
        self.X = gaussian(size(1000, 30), size(784, 20))

    def time_ntk_depth2_bias(self, activation):
        ntk_kernel(self.X, depth=2, activation=activation, bias_std=0.5)


class ExactCNTK:
    params = [["gap", "myrtle"]]
    param_names = ["architecture"]
    timeout = 300

    def setup(self, architecture):
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((size(20, 2), 8, 8, 3))
        self.depth = 3 if architecture == "gap" else 5

    def time_cntk_8x8(self, architecture):
        cntk_kernel(self.X, architecture=architecture, depth=self.depth)
