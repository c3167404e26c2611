"""Streaming kernel ridge regression and classification on skntk's feature maps.

``Pipeline([NTKSketch(m), Ridge()])`` holds the whole ``n x m`` feature matrix. The estimators
here never do: ``fit`` fits the feature map, then walks the rows in batches and accumulates
the sufficient statistics of ridge regression,

.. math::

    G = \\sum_i w_i (z_i - c)(z_i - c)^T, \\quad
    B = \\sum_i w_i (z_i - c)(y_i - c_y)^T, \\quad
    s = \\sum_i w_i (z_i - c), \\quad
    \\sum_i w_i (y_i - c_y), \\quad
    \\sum_i w_i (y_i - c_y)^2, \\quad \\sum_i w_i,

with ``z_i`` the features of row ``i`` and a fixed shift ``(c, c_y)`` (the mean of the first
rows' features and targets; zero without an intercept), which only keeps the final centring
free of cancellation. They are sums over rows, so row blocks can be processed in any order,
in threads (``n_jobs``), in chunks (``partial_fit``) or as dask tasks reduced in a tree. The
memory is ``O(m^2 + batch x m)``, independent of the number of rows.

Modules, one job each:

- ``_stats``: the statistics of one row block (and its leave-one-out errors); they add.
- ``_solve``: centring, the Cholesky or eigen solve, GCV and leave-one-out scores.
- ``_targets``: targets and sample weights, checked and coded as float columns.
- ``_streaming``: walking the row batches (threads, progress) or dask's row blocks.
- ``_base``: the estimator machinery shared by the two estimators (``_ridge``).
"""

from ._ridge import NeuralKernelRidge, NeuralKernelRidgeClassifier

__all__ = ["NeuralKernelRidge", "NeuralKernelRidgeClassifier"]
