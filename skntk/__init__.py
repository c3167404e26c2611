"""skntk: scikit-learn compatible randomized feature maps for neural network kernels."""

from .convolutional import CNTKSketch
from .finite_width import FiniteWidthNTK, empirical_ntk
from .fully_connected import NNGPSketch, NTKSketch
from .linear_model import NeuralKernelRidge, NeuralKernelRidgeClassifier
from .network_features import NeuralKernelFeatures
from .random_features import NTKRandomFeatures

__version__ = "0.1.0.dev0"

__all__ = [
    "NeuralKernelFeatures",
    "NTKSketch",
    "NNGPSketch",
    "NTKRandomFeatures",
    "CNTKSketch",
    "FiniteWidthNTK",
    "empirical_ntk",
    "NeuralKernelRidge",
    "NeuralKernelRidgeClassifier",
    "__version__",
]
