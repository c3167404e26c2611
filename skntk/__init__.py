"""skntk: scikit-learn compatible randomized feature maps for neural network kernels."""

__version__ = "0.1.0.dev0"
