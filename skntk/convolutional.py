"""CNTKSketch: randomized feature maps of convolutional NTK and NNGP kernels (images)."""

import numbers

from sklearn.utils._param_validation import StrOptions

from ._estimator import (
    BIAS_STD,
    N_LANDMARKS,
    POSITIVE_INT,
    WEIGHT_STD,
    FeatureMapMixin,
    Numbers,
    OddInteger,
    activation_constraint,
)
from .activations import get_activation
from .architectures import gap_network, myrtle_network
from .network_features import NetworkFeatureMap
from .planning import pixel_variances

__all__ = ["CNTKSketch", "pixel_variances"]


class CNTKSketch(NetworkFeatureMap):
    """Random features of the convolutional NTK (or NNGP) of images.

    ``transform(X) @ transform(Y).T`` approximates :func:`skntk.kernels.cntk_kernel`
    (``kernel="ntk"``) or :func:`skntk.kernels.cnngp_kernel` (``kernel="nngp"``) with the same
    ``architecture``, ``depth``, ``activation``, ``weight_std``, ``bias_std`` and
    ``filter_size`` (SAME padding, NHWC images).

    The network is a layer list (:func:`skntk.architectures.gap_network` or
    :func:`~skntk.architectures.myrtle_network`) whose layers plan their own feature steps,
    shared with :class:`skntk.NTKSketch` and :class:`skntk.NeuralKernelFeatures`.

    **Algorithm.** Each pixel carries NNGP features ``phi`` and NTK features ``psi`` (inner
    products approximate the pixel-pair kernels ``q[p, p']`` and ``T[p, p']``), and the exact
    per-pixel variances ``q[p, p]`` come from a banded self-kernel recursion (linear in the
    number of pixels). Input: ``phi = x_p / sqrt(C)``. A convolution concatenates the ``f^2``
    zero-padded neighbours' features scaled by ``W / f`` and a bias column ``b`` (exact:
    inner products are the convolution's window mean), and for the NTK
    ``psi <- [phi_conv, W / f neighbours(psi)]``. An activation applies the layer-wise Hermite
    step of :class:`skntk.NTKSketch` per pixel: with ``u = phi / |phi|`` and the exact scale
    ``s = sqrt(q[p, p])``, ``phi <- [r_0(s), r_1(s) Q_1(u), ..., r_p(s) Q_p(u)]`` (``Q_l`` a
    PolySketch, whose first stage compresses the concatenation (a CountSketch to 512 buckets,
    then one DCT per leaf); the Hermite tail is folded so feature norms are exact. The part of
    ``u`` along a direction common to all pixels is handled exactly: the mean direction of
    the training pixels' neighbourhood features (at the first layer when pronounced, e.g.
    nonnegative images; at deeper layers, where activations give all features a large
    common part, computed from a few training images pushed through the layers drawn so far;
    the neighbours' ``r_0`` columns when it is not pronounced), and the bias. Otherwise the
    sketching error of that common part would be one random error shared by every pair.
    For the NTK, ``psi <- psi (x) [r'_0(s), r'_1(s) Q_1(u), ...]``: the ``r'_0`` part
    (the mean of the derivative, which dominates it) is split off the tensor sketch,
    ``psi <- [r'_0(s) S(psi), TensorSRHT(psi, rest)]`` with ``S`` the identity when ``psi``
    is narrow (the first layer) and otherwise an SRHT (unbiased) that keeps ``psi``'s own mean
    direction exact; the columns go to the two parts in proportion to ``|r'_0| sqrt(e)`` and
    ``|r'_{1..}|`` (``e``: the share of ``psi``'s energy outside that direction). For
    activations whose derivative is discontinuous (ReLU's step) the rest
    is Monte-Carlo at every layer: ``(act'(z G) - r'_0(s)) / sqrt(m)`` with ``z`` the
    layer's input features and ``G`` Gaussian, unbiased for ``E[act'(u) act'(v)] - r'_0 r'_0``
    given ``z`` (the truncated Hermite series of a step, evaluated at cosines near 1, is
    biased: Myrtle-5's centred NTK came out 13-19% low). AvgPool and GlobalAvgPool
    average the features (exact: inner products average). The readout gives
    ``[W phi, b]`` (NNGP) or ``[W phi, b, W psi]`` (NTK); the bias column is present only when
    ``bias_std > 0``. Intermediate pixels carry ``internal_components`` columns; the last
    activation layer carries the ``n_components`` output columns.

    Parameters
    ----------
    n_components : int, default=1024
        Number of output features (exactly).
    image_shape : tuple (H, W, C) or None, default=None
        Shape of the images when ``X`` is 2-D ``(n, H*W*C)`` (row-major NHWC flattening).
        ``None`` with 2-D input treats each row as a 1x1 image with ``n_features`` channels
        (the kernel is then that of a fully connected network); 4-D input ``(n, H, W, C)``
        sets the shape itself.
    architecture : {"gap", "myrtle"}, default="gap"
        ``"gap"``: ``depth x [Conv, act] + GlobalAvgPool + Dense``; ``"myrtle"``: Myrtle-5/7/10.
    depth : int, default=1
    activation : str, Activation or callable, default="relu"
        Any activation of :func:`skntk.activations.get_activation` (layer-wise Hermite).
    kernel : {"ntk", "nngp"}, default="ntk"
    weight_std, bias_std : float, default=1.0, 0.0
    filter_size : int, default=3
        Odd convolution size.
    degree : int or "auto", default="auto"
        Degree of each layer's truncated Hermite expansion. ``"auto"``: per layer, the lowest
        degree from 4 to 8 whose series captures the activation at the layer's scale
        (:func:`skntk.planning.hermite_degree`; 5 for the normalized Gaussian).
    internal_components : int or "auto", default="auto"
        Columns of the per-pixel ``phi`` and ``psi`` of the intermediate layers. ``"auto"``
        uses ``max(128, n_components // 16)``, so the error keeps falling as ``n_components``
        grows (a fixed internal width sets an error floor for deep networks).
    n_landmarks : int or "auto", default="auto"
        Training images on whose feature span the kernel is kept exact, the sketch carrying
        the rest (:mod:`skntk.landmarks`; still unbiased). ``"auto"``: ``1024 / (H W)`` (16
        for 8x8 images, none from 32x32 on: the exact kernel of an image pair costs
        ``O((H W)^2)``), kept where they pay; ``0``: none.
    random_state : int, RandomState instance or None, default=None
    batch_size : int or "auto", default="auto"
        Images per batch of ``transform`` ("auto": bounded memory, about 128 MB).
    n_jobs : int, default=None
        Threads of ``transform`` on NumPy input: batches of rows run concurrently, each on
        one thread (its FFTs and BLAS products single-threaded). ``None`` or ``-1``: all
        usable cores; ``1``: one thread.
    verbose : int, default=0
        One progress line per batch on stderr.

    Attributes
    ----------
    landmarks_ : LandmarkPart or None
        The fitted exact part (:class:`skntk.landmarks.LandmarkPart`); None without
        landmarks.
    activation_ : Activation
    image_shape_ : tuple
    internal_components_ : int
        The intermediate width used.
    layer_dims_ : list of list of int
        Columns per Hermite degree of each activation layer.
    plan_ : NetworkPlan
        The fitted feature steps, one per layer (:class:`skntk.planning.NetworkPlan`).
    strategies_ : list of str
        Per activation layer: ``"hermite"``, or ``"monte_carlo"`` where the degree-``p``
        Hermite series misses more than 2% of the activation's energy at the layer's
        variances on the training data (unscaled images; see
        :func:`skntk.planning.hermite_tails`).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.convolutional import CNTKSketch
    >>> X = np.random.RandomState(0).randn(5, 6, 6, 3)
    >>> CNTKSketch(n_components=256, depth=2, random_state=0).fit_transform(X).shape
    (5, 256)
    """

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "image_shape": [tuple, list, None],
        "architecture": [StrOptions({"gap", "myrtle"})],
        "depth": [POSITIVE_INT],
        "activation": activation_constraint(),
        "kernel": [StrOptions({"ntk", "nngp"})],
        "weight_std": [WEIGHT_STD],
        "bias_std": [BIAS_STD],
        "filter_size": [OddInteger()],
        "degree": [POSITIVE_INT, StrOptions({"auto"})],
        "internal_components": [Numbers(numbers.Integral, 2, None, closed="left"),
                                StrOptions({"auto"})],
        "n_landmarks": [N_LANDMARKS, StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components=1024,
        *,
        image_shape=None,
        architecture="gap",
        depth=1,
        activation="relu",
        kernel="ntk",
        weight_std=1.0,
        bias_std=0.0,
        filter_size=3,
        degree="auto",
        internal_components="auto",
        n_landmarks="auto",
        random_state=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.image_shape = image_shape
        self.architecture = architecture
        self.depth = depth
        self.activation = activation
        self.kernel = kernel
        self.weight_std = weight_std
        self.bias_std = bias_std
        self.filter_size = filter_size
        self.degree = degree
        self.internal_components = internal_components
        self.n_landmarks = n_landmarks
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _network(self):
        act = self.activation_ = get_activation(self.activation)
        args = (act, self.weight_std, self.bias_std, self.filter_size)
        if self.architecture == "gap":
            return gap_network(self.depth, *args)
        return myrtle_network(self.depth, *args)

    def fit(self, X, y=None):
        """Draw all sketches and size each layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Training images; they fix the image shape and the typical variances used to split
            each layer's columns among Hermite degrees.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        return super().fit(X, y)

    @property
    def layer_dims_(self):
        """Columns per Hermite degree of each activation layer."""
        return [step.dims for step in self.plan_.steps if hasattr(step, "dims")]
