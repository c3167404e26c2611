"""NTKSketch and NNGPSketch: randomized feature maps of fully connected neural kernels.

Thin front-ends: they build the layer list of :func:`skntk.architectures.fully_connected` and
let :class:`skntk.network_features.NetworkFeatureMap` plan it (the Taylor fusion or the
layer-wise Hermite steps).
"""

import numbers

from sklearn.utils._param_validation import StrOptions

from ._estimator import (
    BIAS_STD,
    N_LANDMARKS,
    POSITIVE_INT,
    WEIGHT_STD,
    FeatureMapMixin,
    Numbers,
    activation_constraint,
)
from .activations import get_activation
from .architectures import fully_connected
from .network_features import NetworkFeatureMap

__all__ = ["NTKSketch", "NNGPSketch"]


class _FullyConnectedSketch(NetworkFeatureMap):
    """Shared front-end of :class:`NTKSketch` (``_kernel = "ntk"``) and NNGPSketch."""

    _kernel = "ntk"

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "depth": [POSITIVE_INT],
        "activation": activation_constraint(),
        "weight_std": [WEIGHT_STD],
        "bias_std": [BIAS_STD],
        "degree": [POSITIVE_INT, StrOptions({"auto"})],
        "method": [StrOptions({"auto", "taylor", "hermite"})],
        "internal_components": [Numbers(numbers.Integral, 2, None, closed="left"),
                                StrOptions({"auto"})],
        "n_landmarks": [N_LANDMARKS, StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components=1024,
        *,
        depth=1,
        activation="relu",
        weight_std=1.0,
        bias_std=0.0,
        degree="auto",
        method="auto",
        internal_components="auto",
        n_landmarks="auto",
        random_state=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.depth = depth
        self.activation = activation
        self.weight_std = weight_std
        self.bias_std = bias_std
        self.degree = degree
        self.method = method
        self.internal_components = internal_components
        self.n_landmarks = n_landmarks
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _network(self):
        self.activation_ = get_activation(self.activation)
        return fully_connected(self.depth, self.activation_, self.weight_std, self.bias_std)

    def _want_ntk(self):
        return self._kernel == "ntk"

    def _is_images(self):
        return False

    # fitted state, read from the plan
    def _taylor(self, name):
        if self.method_ != "taylor":
            raise AttributeError(f"{name} exists only for method='taylor'")
        return getattr(self.plan_.steps[0], name)

    coefficients_ = property(lambda self: self._taylor("coefficients"))
    polynomial_error_ = property(lambda self: self._taylor("polynomial_error"))
    degree_dims_ = property(lambda self: self._taylor("degree_dims"))
    exact_degrees_ = property(lambda self: self._taylor("exact_degrees"))
    _mean_direction = property(lambda self: self._taylor("mean_direction"))

    @property
    def layer_dims_(self):
        if self.method_ != "hermite":
            raise AttributeError("layer_dims_ exists only for method='hermite'")
        return [step.dims for step in self.plan_.steps if hasattr(step, "dims")]


_PARAMS_DOC = """
    Parameters
    ----------
    n_components : int, default=1024
        Number of output features (exactly).
    depth : int, default=1
        Number of hidden layers (activations) of the network.
    activation : str, Activation or callable, default="relu"
        See :func:`skntk.activations.get_activation`.
    weight_std, bias_std : float, default=1.0, 0.0
        ``W`` and ``b`` of every Dense layer (NTK parameterization).
    degree : int or "auto", default="auto"
        Polynomial degree ``p``: of the fitted polynomial of the whole kernel (Taylor method) or
        of each layer's truncated Hermite expansion (Hermite method). ``"auto"``: for the
        Hermite method, per layer the lowest degree from 4 to 8 (to 32, with half the tails,
        with landmarks, whose lower noise would show the truncation's bias) whose series
        captures the activation at the layer's scale
        (:func:`skntk.planning.hermite_degree`; ``degree_`` is the largest); for the Taylor
        method the smallest of 8, 12, 16, 24, 32 whose polynomial's centred error on a
        training subsample is at most
        ``0.9 / sqrt(n_components)`` (data whose cosines sit near 1, like images, need more
        degrees near the NTK's cusp at ``rho = 1``; others keep 8).
    method : {"auto", "taylor", "hermite"}, default="auto"
        ``"taylor"``: one-shot sketch, for homogeneous activations of degree 1 without bias;
        cost independent of depth. ``"hermite"``: layer-wise Hermite/PolySketch steps, any
        activation, any bias (warns, :class:`skntk.planning.TruncationWarning`, when the
        degree-``p`` series misses much of an activation's energy at the data's scale).
        ``"auto"``: Taylor when it applies, else layer-wise, each activation layer Hermite
        unless its series misses more than 2% of ``E[act(u)^2]`` at the layer's variances
        on the training data (e.g. ``sin`` or ``erf`` of unscaled inputs), then Monte Carlo
        (:class:`skntk.steps.MonteCarloStep`); see ``strategies_``.
    internal_components : int or "auto", default="auto"
        Hermite method: columns of the intermediate layers' features ("auto":
        ``n_components``; activations with a continuous derivative, such as gelu, keep 3/4
        as many NTK tensor columns there).
    n_landmarks : int or "auto", default="auto"
        Training rows on whose feature span the kernel is kept exact, the sketch carrying the
        rest (:mod:`skntk.landmarks`; still unbiased). ``"auto"``: 64, kept where they take
        20% of the centred trace off the sketch (600 digits, ReLU with bias 0.5, 8192
        columns: centred error .072 to .036; Gaussian rows: none); ``0``: none.
    random_state : int, RandomState instance or None, default=None
        Seeds every random sketch (drawn in ``fit``).
    batch_size : int or "auto", default="auto"
        Rows per batch in ``transform`` (bounds memory).
    n_jobs : int, default=None
        Threads of ``transform`` on NumPy input: batches of rows run concurrently, each on
        one thread (its FFTs and BLAS products single-threaded). ``None`` or ``-1``: all
        usable cores; ``1``: one thread.
    verbose : int, default=0
        Progress of ``transform`` on stderr, one line per batch.
"""

_ALGO_DOC = """
    **Taylor method** (ReLU family, normalized Gaussian; ``bias_std=0``). The kernel is
    ``|x||y|/d kappa(rho)``. ``fit`` computes ``kappa`` exactly on a grid of ``rho`` (by the
    layer recursion of :mod:`skntk.kernels`) and fits ``sum_j a_j rho^j`` with ``a_j >= 0`` by
    nonnegative least squares, weighted towards the cosines of training pairs and exact at
    ``rho = 1`` (so the kernel's diagonal is exact). The map is
    ``phi(x) = |x|/sqrt(d) [sqrt(a_0), sqrt(a_1) Q_1(x^), ..., sqrt(a_p) Q_p(x^)]`` with
    ``x^ = x/|x|`` and ``Q_l`` PolySketches of ``x^ (x) ... (x) x^``. Columns go to degree ``l``
    in proportion to ``a_l sqrt(l)`` (the variance-optimal split when a degree-l sketch's
    inner products have standard deviation ~ ``sqrt(l / m)``). Degrees 1 and 2 are represented
    exactly (``x^`` itself, and the ``d(d+1)/2`` symmetric products) whenever that needs no more
    columns than their share, e.g. degree 1 for MNIST and degree 2 too for 8x8 digits.

    **Hermite method** (any activation, any bias). The network's layer list
    (:func:`skntk.architectures.fully_connected`) plans its own feature steps, shared with
    :class:`skntk.CNTKSketch` and :class:`skntk.NeuralKernelFeatures` (see :mod:`skntk.steps`):
    layer by layer with the exact per-row variances ``q`` and the direction ``u = phi/|phi|``
    of the current features, ``phi_new = [W r_0(s), W r_1(s) Q_1(u), ..., W r_p(s) Q_p(u), b]``
    and, for the NTK, ``psi_new = [phi_new, W T(psi, dphi)]`` with
    ``dphi = [r'_0(s), r'_1(s) Q_1(u), ...]``. The Hermite tail beyond ``p`` is folded into
    the top even and odd coefficients, so the diagonal is exact. The directions all rows share
    (the training rows' mean direction, the bias) are handled exactly, in ``phi`` and in the
    tensor sketch; the derivative's mean ``r'_0`` is split off the tensor sketch; a
    discontinuous derivative (ReLU's step) is its sketched Hermite series to degree 3 plus a
    Monte-Carlo estimate of the tail, ``act'(z G) - sum_l r'_l h_l(u G)``, unbiased where the
    truncated series alone is biased. Intermediate layers use ``internal_components``
    columns for ``phi`` and for the tensor part; the last NTK layer splits ``n_components``
    between them in proportion to their typical diagonal sizes.
"""


class NTKSketch(_FullyConnectedSketch):
    __doc__ = (
        """Random features of the neural tangent kernel of a fully connected network.

    ``transform(X) @ transform(Y).T`` approximates :func:`skntk.kernels.ntk_kernel` with the
    same ``depth``, ``activation``, ``weight_std`` and ``bias_std``; its expectation is the
    polynomial (Taylor) or Hermite-truncated kernel, whose diagonal is exact.
"""
        + _ALGO_DOC
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    landmarks_ : LandmarkPart or None
        The fitted exact part (:class:`skntk.landmarks.LandmarkPart`); None without
        landmarks.
    method_ : str
        The method used ("taylor" or "hermite", the layer-wise steps).
    strategies_ : list of str
        Per activation layer: ``"taylor"``, ``"hermite"`` or ``"monte_carlo"``.
    activation_ : Activation
    coefficients_ : ndarray of shape (degree + 1,)
        Taylor method: the fitted ``a_j``.
    polynomial_error_ : float
        Taylor method: max over ``rho`` of ``|sum_j a_j rho^j - kappa(rho)|``.
    degree_ : int
        The degree used (``degree``, or the one ``"auto"`` chose; Hermite method: the largest
        layer's, see ``layer_dims_``).
    degree_dims_ : list of int
        Taylor method: columns per degree ``1..p``.
    exact_degrees_ : list of int
        Taylor method: degrees represented exactly.
    layer_dims_ : list of list of int
        Hermite method: columns per degree in each layer.
    plan_ : NetworkPlan
        Hermite method: the fitted feature steps, one per layer
        (:class:`skntk.planning.NetworkPlan`).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NTKSketch
    >>> from skntk.kernels import ntk_kernel
    >>> X = np.random.RandomState(0).randn(50, 20)
    >>> Z = NTKSketch(n_components=4096, depth=2, random_state=0).fit_transform(X)
    >>> K = ntk_kernel(X, depth=2)
    >>> bool(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K) < 0.05)
    True
"""
    )
    _kernel = "ntk"


class NNGPSketch(_FullyConnectedSketch):
    __doc__ = (
        """Random features of the NNGP kernel of a fully connected network.

    ``transform(X) @ transform(Y).T`` approximates :func:`skntk.kernels.nngp_kernel` with the
    same parameters.
"""
        + _ALGO_DOC
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    method_, strategies_, activation_, coefficients_, polynomial_error_, degree_,
    degree_dims_, exact_degrees_, layer_dims_, plan_, n_features_in_
        As in :class:`NTKSketch`.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NNGPSketch
    >>> X = np.random.RandomState(0).randn(50, 20)
    >>> NNGPSketch(n_components=256, activation="erf", bias_std=0.5).fit_transform(X).shape
    (50, 256)
"""
    )
    _kernel = "nngp"
