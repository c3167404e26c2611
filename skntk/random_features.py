r"""NTKRandomFeatures: Monte-Carlo random features of the NNGP and NTK of fully connected nets.

A thin front-end: it builds the layer list of :func:`skntk.architectures.fully_connected` and
lets :class:`skntk.network_features.NetworkFeatureMap` plan it with the Monte-Carlo strategy of
the activation steps (:class:`skntk.steps.MonteCarloStep`, planned by
:func:`skntk.planning.plan_monte_carlo`). For ReLU these are centred arc-cosine features of
order 1 (the values) and order 0 (the derivatives), optionally with leverage-score sampling of
the Gaussian directions (Han, Avron, Shoham, Kim and Shin, *Random features for the neural
tangent kernel*, 2021), drawn here exactly from its radial representation
(:func:`sample_leverage_gaussian`).
"""

import warnings

from sklearn.utils._param_validation import StrOptions

from ._estimator import (
    BIAS_STD,
    N_LANDMARKS,
    POSITIVE_INT,
    WEIGHT_STD,
    FeatureMapMixin,
    activation_constraint,
)
from .activations import get_activation
from .architectures import fully_connected
from .network_features import NetworkFeatureMap
from .sketching import leverage_radii, sample_leverage_gaussian  # public here too

__all__ = ["NTKRandomFeatures", "leverage_radii", "sample_leverage_gaussian"]

class NTKRandomFeatures(NetworkFeatureMap):
    r"""Monte-Carlo random features of the NTK (or NNGP) of a fully connected network.

    ``transform(X) @ transform(Y).T`` approximates :func:`skntk.kernels.ntk_kernel` (or, with
    ``kernel="nngp"``, :func:`skntk.kernels.nngp_kernel`) with the same ``depth``,
    ``activation``, ``weight_std`` and ``bias_std``. It is unbiased at ``depth=1`` for every
    activation with a pointwise form; deeper, the random directions of the hidden layers leave
    a bias of order ``1/internal_components``.

    The network :func:`~skntk.architectures.fully_connected` (``depth`` x [Dense, activation]
    + Dense, NTK parameterization with ``W = weight_std``, ``b = bias_std``) is planned layer
    by layer (:class:`~skntk.network_features.NetworkFeatureMap`, layer-wise method) with the
    Monte-Carlo strategy of the activation steps (:class:`~skntk.steps.MonteCarloStep`):

    - **Dense** (exact): ``phi <- [W phi, b]`` (the ``b`` column when ``b > 0``), from
      ``phi_0 = x / sqrt(d)``; for the NTK ``psi <- [phi_new, W psi]``.
    - **Activation**, with ``q`` the exact pre-activation variance of the input (the diagonal
      of the kernel recursion, :func:`skntk.planning.pixel_variances`), ``s = sqrt(q)``, the
      direction ``u = phi / |phi|`` of the current features (``D`` entries) and Gaussian
      directions ``G`` (``D x m'``): ``z = s (u G)``. Given ``u``, each column of ``z`` is a
      Gaussian pair with the exact variances and the features' cosine. The values are centred
      on their exact conditional mean ``r_0(s) = E[act(s g)]`` (closed forms, or quadrature
      resolving kinks; ``s / sqrt(2 pi)`` for ReLU), which is kept as one exact column:

      .. math::

          \phi \leftarrow \big[r_0(s),\ (act(z_j) - r_0(s)) / \sqrt{m}\big]_{j \le m},

      so ``E <phi(x), phi(y)> = r_0 r_0' + Cov = E[act(u) act(v)]``: unbiased like plain
      features, with a much smaller variance (the common mode, which dominates for ReLU, is
      exact). For the NTK the derivative features ``(act'(z_j) - r'_0(s)) / sqrt(m')``,
      centred on ``r'_0(s) = E[act'(s g)]`` (1/2 for ReLU), multiply ``psi``. The ``r'_0``
      part is split off the tensor sketch: ``psi <- [r'_0(s) S(psi), T(psi, rest)]``, with
      ``T`` a :class:`~skntk.sketching.TensorSRHT` and ``S`` the identity or an unbiased
      :class:`~skntk.steps.PartialCompress` (the columns of ``psi`` with the most energy kept
      exact, the rest through an SRHT, the rows' common direction exact).

    The values use the first ``m`` columns of ``G``, the derivatives all ``m'`` of them
    (``m' = m + t`` at the last layer, ``t`` its tensor columns). The component of ``G`` along
    the directions all rows share (their mean direction, the bias coordinate), which carries
    the kernel's common mode, is stratified: each column stays exactly ``N(0, I_D)``, so the
    features stay unbiased, but the common mode's sampling error (the seed-to-seed spread of
    the raw error) mostly disappears. Intermediate activation layers have
    ``internal_components`` NNGP and tensor columns; the last one splits what the output needs
    between them in proportion to their typical diagonal sizes, so the output has exactly
    ``n_components`` columns (a request below the planner's smallest width, 40 columns, is
    planned at that width and compressed by an unbiased SRHT; intermediate widths below it are
    raised to it).

    **Leverage-score sampling** (``leverage_sampling=True``; activations homogeneous of degree
    1, e.g. ReLU). The columns ``w`` of ``G`` are drawn from ``p(w) = |w|^2 N(w; 0, I_D) / D``
    instead of ``N(0, I_D)``, exactly and in ``O(D m')``: ``w = r v`` with ``v`` uniform on
    the sphere (the direction of the Gaussian column) and ``r^2 ~ chi^2(D + 2)``
    (:func:`sample_leverage_gaussian`, :func:`leverage_radii`). The importance
    weight ``sqrt(D) / |w|`` on the values keeps them unbiased (``E_N[f] = E_p[f D / |w|^2]``);
    by homogeneity ``act(s u w) sqrt(D) / |w| = s sqrt(D) act(u v)``, so the radial noise of
    plain Gaussian features disappears. Their exact conditional mean, the mean column then, is
    ``r_0(s) sqrt(D) / E|g|`` with ``E|g| = sqrt(2) Gamma((D + 1)/2) / Gamma(D/2)``
    (``g ~ N(0, I_D)``). The derivative features depend on the direction ``v`` only, uniform
    under both laws: no weight, centred on ``r'_0(s)`` as before. (Once the common mode is
    exact, leverage sampling changes the errors little.)

    Parameters
    ----------
    n_components : int, default=1024
        Number of output features (exactly).
    depth : int, default=1
        Number of hidden layers (activations).
    activation : str, Activation or callable, default="relu"
        See :func:`skntk.activations.get_activation`; it needs a pointwise form
        (``normalized_gaussian`` has none: use :class:`skntk.NTKSketch`).
    kernel : {"ntk", "nngp"}, default="ntk"
        Which kernel the features approximate.
    weight_std, bias_std : float, default=1.0, 0.0
        ``W`` and ``b`` of every Dense layer (NTK parameterization).
    leverage_sampling : bool, default=False
        Draw the Gaussian directions from the leverage density (see above). Requires an
        activation homogeneous of degree 1 (relu, leaky_relu, abs, abrelu).
    internal_components : int or "auto", default="auto"
        NNGP (and NTK tensor) columns of the intermediate activation layers; "auto" means
        ``n_components`` (the same name as in the sketches).
    n_landmarks : int or "auto", default="auto"
        Training rows on whose feature span the kernel is kept exact, the random features
        carrying the rest (:mod:`skntk.landmarks`; still unbiased). ``"auto"``: 64, kept
        where they pay (600 digits, ReLU with bias 0.5, 8192 columns: centred error .086 to
        .034); ``0``: none.
    hidden_width : int, optional
        Deprecated alias of ``internal_components``.
    random_state : int, RandomState instance or None, default=None
        Seeds all randomness (drawn in ``fit``).
    batch_size : int or "auto", default="auto"
        Rows per batch in ``transform`` ("auto": about 128 MB of intermediates).
    n_jobs : int, default=None
        Threads of ``transform`` on NumPy input: batches of rows run concurrently, each on
        one thread (its FFTs and BLAS products single-threaded). ``None`` or ``-1``: all
        usable cores; ``1``: one thread.
    verbose : int, default=0
        Progress of ``transform`` on stderr.

    Attributes
    ----------
    landmarks_ : LandmarkPart or None
        The fitted exact part (:class:`skntk.landmarks.LandmarkPart`); None without
        landmarks.
    plan_ : NetworkPlan
        The fitted steps (:class:`skntk.planning.NetworkPlan`), one per layer: ``LinearStep``
        for the Dense layers and :class:`~skntk.steps.MonteCarloStep` for the activations
        (its fields: the Gaussian directions ``mc_derivative``, the leverage weights
        ``value_weights`` and ``mean_factor``, the tensor sketch and ``PartialCompress``).
    method_ : str
        ``"hermite"``: the layer-wise method (never the Taylor fusion).
    internal_components_ : int
        The intermediate width requested (``n_components`` for "auto").
    activation_ : Activation
    n_features_in_ : int

    Notes
    -----
    Changed: ``NTKRandomFeatures`` is now a front-end of the layer-list Monte-Carlo strategy
    (the same steps as ``NeuralKernelFeatures(strategy="monte_carlo")``) and its fitted state
    is ``plan_``. Gone are ``weights_`` (now ``mc_derivative`` of each ``MonteCarloStep`` in
    ``plan_.steps``; values and derivatives share it), ``feature_scales_`` (``value_weights``
    with leverage sampling; the ``1/sqrt(m)`` is applied in the transform), ``layout_``,
    ``merged_``, ``phi_dim_`` and ``tensor_dim_`` (the steps' ``widths``; the output is the
    last Dense layer's features, and a request too small for the network is compressed by
    ``plan_.final`` instead of summing blocks with random signs). The scale of the Gaussian
    projections is the exact per-input standard deviation rather than the norm of the
    sketched row, and intermediate widths below 40 are raised to 40.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.random_features import NTKRandomFeatures
    >>> from skntk.kernels import ntk_kernel
    >>> X = np.random.RandomState(0).randn(40, 10)
    >>> est = NTKRandomFeatures(n_components=4096, depth=2, random_state=0).fit(X)
    >>> Z = est.transform(X)
    >>> K = ntk_kernel(X, depth=2)
    >>> bool(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K) < 0.05)
    True
    >>> [type(step).__name__ for step in est.plan_.steps]
    ['LinearStep', 'MonteCarloStep', 'LinearStep', 'MonteCarloStep', 'LinearStep']
    """

    strategy = "monte_carlo"  # read by NetworkFeatureMap.fit (not a parameter here)

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "depth": [POSITIVE_INT],
        "activation": activation_constraint(),
        "kernel": [StrOptions({"ntk", "nngp"})],
        "weight_std": [WEIGHT_STD],
        "bias_std": [BIAS_STD],
        "leverage_sampling": ["boolean"],
        "internal_components": [
            POSITIVE_INT,
            StrOptions({"auto"}),
        ],
        "n_landmarks": [N_LANDMARKS, StrOptions({"auto"})],
        "hidden_width": [
            POSITIVE_INT,
            StrOptions({"deprecated"}),
        ],
    }

    def __init__(
        self,
        n_components=1024,
        *,
        depth=1,
        activation="relu",
        kernel="ntk",
        weight_std=1.0,
        bias_std=0.0,
        leverage_sampling=False,
        internal_components="auto",
        n_landmarks="auto",
        hidden_width="deprecated",
        random_state=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.depth = depth
        self.activation = activation
        self.kernel = kernel
        self.weight_std = weight_std
        self.bias_std = bias_std
        self.leverage_sampling = leverage_sampling
        self.internal_components = internal_components
        self.n_landmarks = n_landmarks
        self.hidden_width = hidden_width
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _network(self):
        self.activation_ = get_activation(self.activation)
        return fully_connected(self.depth, self.activation_, self.weight_std, self.bias_std)

    def _is_images(self):
        return False

    def _internal_width(self, images):
        width = self.internal_components
        if self.hidden_width != "deprecated":
            warnings.warn(
                "hidden_width is deprecated; use internal_components", FutureWarning, stacklevel=4
            )
            width = self.hidden_width
        return int(self.n_components) if width == "auto" else int(width)
