"""NeuralKernelFeatures on a composed network: transform time per row for the Hermite and the
Monte-Carlo strategies, and their error against the exact kernel of the same layer list."""

import numpy as np

from skntk import NeuralKernelFeatures
from skntk.architectures import Dense, Nonlinearity
from skntk.kernels import kernel

from .common import gaussian, relative_error, size

# a mixed network: each layer its own scales and activation
NETWORK = [Dense(1.0, 0.1), Nonlinearity("erf"), Dense(1.5, 0.2), Nonlinearity("relu"), Dense()]


class ComposedTransform:
    """Transform time of 2000 (smoke: 64) rows of 784 features; divide by ``n`` rows."""

    params = (["hermite", "monte_carlo"], [4096, 8192])
    param_names = ["strategy", "n_components"]
    timeout = 600

    def setup(self, strategy, n_components):
        self.X = gaussian(size(2000, 64), 784, np.float32)
        self.est = NeuralKernelFeatures(NETWORK, n_components=size(n_components, 256),
                                        strategy=strategy, random_state=0).fit(self.X)

    def time_transform(self, strategy, n_components):
        self.est.transform(self.X)


class ComposedError:
    """Relative Frobenius error against ``kernel(X, layers=NETWORK)`` (400 rows, d = 100)."""

    params = (["hermite", "monte_carlo"], [2048, 8192])
    param_names = ["strategy", "n_components"]
    timeout = 600

    def setup(self, strategy, n_components):
        self.X = gaussian(size(400, 40), 100)
        self.K = kernel(self.X, layers=NETWORK)
        self.m = size(n_components, 256)

    def track_error(self, strategy, n_components):
        Z = NeuralKernelFeatures(NETWORK, n_components=self.m, strategy=strategy,
                                 random_state=0).fit_transform(self.X)
        return relative_error(Z, self.K)
