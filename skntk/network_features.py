"""NeuralKernelFeatures: random features of the NNGP or NTK of any composed network."""

import math
import numbers
import sys
import time

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _dask
from ._backend import foreign_namespace, get_namespace, to_numpy
from ._estimator import (
    N_LANDMARKS,
    POSITIVE_INT,
    FeatureMapMixin,
    Numbers,
    batch_entries,
    validate_namespace_array,
)
from ._resources import check_resources
from ._subsample import UnitScaled
from .kernels import _check_layers, check_images
from .landmarks import choose_landmarks, landmark_count, landmark_part
from .planning import Planner, network_homogeneity
from .steps import HermiteStep, MonteCarloStep
from .taylor_step import plan_taylor, taylor_degree, taylor_eligible

__all__ = ["NeuralKernelFeatures"]

# degree="auto" for the layer-wise Hermite steps: each layer's lowest degree whose truncation
# bias stays below the noise of a mean over seeds (planning.hermite_degree), up to this cap.
# With landmarks the noise is several times lower: half the tails, up to 32. NNGPSketch, ReLU
# with bias 0.5, 600 digits, 8192 columns, 6 seeds, per-seed centred error and the share of
# it the mean of the seeds' Grams keeps (1/sqrt(6) = .41 unbiased): degree 8 .0118, .76;
# 20 (the old tails) .0078, .53; 32 .0075, .41. Image networks keep 8: their 512-column
# pixels would split among many more degrees, and their remaining noise still hides the bias
# (gap depth 1 on digits: .42 at 8)
HERMITE_DEGREE = 8
HERMITE_DEGREE_WITH_LANDMARKS = 32
TAIL_TOLERANCE_WITH_LANDMARKS = 0.5


class NetworkFeatureMap(FeatureMapMixin):
    """Shared ``fit``/``transform`` of the estimators that sketch a layer list.

    Subclasses say which network (``_network()``), and may set ``_leaf_cap``, the rule for
    ``internal_components="auto"`` (``_internal_width``), and, as parameters or class
    attributes, the activation steps' ``strategy`` and ``method`` ("hermite" when absent),
    ``degree`` ("auto" when absent) and the Monte-Carlo strategy's ``leverage_sampling``.
    ``fit`` validates the inputs (rows, or images with their shape), plans every layer's
    feature step once (:class:`skntk.planning.Planner`) and keeps the result in ``plan_``;
    ``transform`` applies it to bounded batches.
    """

    # PolySketch leaves CountSketch neighbourhood concatenations wider than this (images only)
    _leaf_cap = 512

    def _network(self):
        raise NotImplementedError

    def _want_ntk(self):
        return self.kernel == "ntk"

    # -- validation ---------------------------------------------------------------------------
    def _validate(self, X, reset):
        if not self._is_images():
            return super()._validate(X, reset)
        if foreign_namespace(X) is not None:
            return self._validate_namespace_images(X, reset)
        ndim = getattr(X, "ndim", None)
        if ndim is None:
            try:
                ndim = np.asarray(X).ndim
            except (TypeError, ValueError):
                ndim = None
        if ndim == 4:
            images, shape = check_images(X, self.image_shape, "X")
            if reset:
                self.n_features_in_ = int(np.prod(shape))
                self.image_shape_ = shape
            elif shape != self.image_shape_:
                raise ValueError(
                    f"X has images of shape {shape}, but {type(self).__name__} was fitted on "
                    f"images of shape {self.image_shape_}"
                )
            return images.reshape(images.shape[0], -1)
        X = validate_data(self, X, reset=reset, accept_sparse=False,
                          dtype=[np.float64, np.float32], ensure_all_finite=True)
        if reset:
            shape = (1, 1, X.shape[1]) if self.image_shape is None else self.image_shape
            _, self.image_shape_ = check_images(X[:1], shape, "X")
        return X

    def _validate_namespace_images(self, X, reset):
        """:meth:`_validate` for images of another namespace (CuPy, array-API): checked and
        flattened to ``(n, H*W*C)`` rows on their device."""
        if X.ndim != 4:
            X = validate_namespace_array(self, X, reset)
            if reset:
                shape = (1, 1, X.shape[1]) if self.image_shape is None else self.image_shape
                _, self.image_shape_ = check_images(to_numpy(X[:1, ...]), shape, "X")
            return X
        X = validate_namespace_array(self, X, reset, ndim=4)
        shape = tuple(int(v) for v in X.shape[1:])
        if self.image_shape is not None and tuple(self.image_shape) != shape:
            raise ValueError(f"image_shape={tuple(self.image_shape)} does not match X's shape "
                             f"{tuple(X.shape)}")
        if reset:
            self.n_features_in_ = math.prod(shape)
            self.image_shape_ = shape
        elif shape != self.image_shape_:
            raise ValueError(
                f"X has images of shape {shape}, but {type(self).__name__} was fitted on "
                f"images of shape {self.image_shape_}"
            )
        return get_namespace(X).reshape(X, (X.shape[0], math.prod(shape)))

    def _is_images(self):
        return True

    def _internal_width(self, images):
        if self.internal_components != "auto":
            return int(self.internal_components)
        if images:
            return max(128, int(self.n_components) // 16)
        return int(self.n_components)

    # -- fit / transform ----------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Plan every layer's feature step and draw all sketches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or images (n_samples, H, W, C)
            Training inputs; they fix the input shape, the typical variances that split each
            layer's columns among Hermite degrees, and the directions common to all rows.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        _dask.reject_dask_fit(self, X)  # fit on a sample; transform maps the rest lazily
        layers = self._network()
        X = self._validate(X, reset=True)
        self._record_namespace(X)
        if not self._is_images():
            self.image_shape_ = (1, 1, X.shape[1])
        rng = check_random_state(self.random_state)
        self.method_ = self._choose_method(layers)
        n_train = X.shape[0]
        if network_homogeneity(layers) is not None:  # plan at unit scale (see NetworkPlan)
            X = UnitScaled(X)  # the planners scale only the subsamples they take
        landmarks = self._choose_landmarks(X, n_train, layers, rng)
        width = self.n_components - (0 if landmarks is None else landmarks[1].shape[1])
        h, w, _ = self.image_shape_
        self._fit_plan(X, layers, width, rng, low_noise=landmarks is not None and h * w == 1)
        self.landmarks_ = None if landmarks is None else landmark_part(
            *landmarks, self.plan_.transform(landmarks[0]), layers, self._kind(),
            self._kernel_image_shape(layers))
        return self

    def _kind(self):
        return "ntk" if self._want_ntk() else "nngp"

    def _kernel_image_shape(self, layers):
        return self.image_shape_ if _check_layers(layers)[1] else None

    def _choose_landmarks(self, X, n_train, layers, rng):
        """``(V, weights)`` of the exact landmark part (:mod:`skntk.landmarks`), or None."""
        h, w, _ = self.image_shape_
        k = landmark_count(self.n_landmarks, self.n_components, n_train, h * w)
        if k == 0:
            return None
        return choose_landmarks(X, k, layers, self._kind(), self._kernel_image_shape(layers),
                                rng, gated=self.n_landmarks == "auto")

    def _fit_plan(self, X, layers, width, rng, low_noise):
        """Plan the sketch of ``width`` columns (``n_components`` less the landmarks'); with
        ``low_noise`` (landmarks), ``degree="auto"`` goes to higher Hermite degrees."""
        want_ntk = self._want_ntk()
        if self.method_ == "taylor":
            check_resources(type(self).__name__, layers, self.image_shape_, width, width,
                            32 if self.degree == "auto" else self.degree, want_ntk,
                            monte_carlo=None)
            self.degree_ = (self.degree if self.degree != "auto"
                            else taylor_degree(X, layers, want_ntk, width, rng=rng))
            self.plan_ = plan_taylor(layers, X, want_ntk=want_ntk, n_components=width,
                                     degree=self.degree_, rng=rng)
            return
        degree = getattr(self, "degree", "auto")  # NTKRandomFeatures has none
        cap = HERMITE_DEGREE_WITH_LANDMARKS if low_noise else HERMITE_DEGREE
        degree = degree if degree != "auto" else cap
        h, w, _ = self.image_shape_
        spatial = h * w > 1
        self.internal_components_ = self._internal_width(spatial)
        strategy = self._strategy()
        check_resources(type(self).__name__, layers, self.image_shape_, width,
                        self.internal_components_, degree, want_ntk,
                        monte_carlo=strategy != "hermite")
        self.plan_ = Planner(
            layers, X, self.image_shape_, want_ntk=want_ntk,
            n_components=width, internal_components=self.internal_components_,
            degree=degree, rng=rng, leaf_cap=self._leaf_cap if spatial else None,
            strategy=strategy, adaptive_degree=getattr(self, "degree", "auto") == "auto",
            leverage=getattr(self, "leverage_sampling", False),
            tail_tolerance=TAIL_TOLERANCE_WITH_LANDMARKS if low_noise else 1.0,
        ).plan()
        if hasattr(self, "degree"):  # "auto": each Hermite layer's own; report the largest
            self.degree_ = max((step.degree for step in self.plan_.steps
                                if type(step) is HermiteStep), default=degree)

    def _strategy(self):
        """The activation layers' strategy: the estimator's ``strategy``, else ``"hermite"``
        for an explicit ``method="hermite"`` (which then warns in a bad regime) and ``"auto"``
        (Hermite, or Monte Carlo where the series misses too much) otherwise."""
        if hasattr(self, "strategy"):
            return self.strategy
        return "hermite" if getattr(self, "method", "auto") == "hermite" else "auto"

    @property
    def strategies_(self):
        """How each activation layer is sketched: ``"hermite"``, ``"monte_carlo"``, or
        ``"taylor"`` (every layer, fused) for ``method_="taylor"``."""
        check_is_fitted(self)
        if self.method_ == "taylor":
            return ["taylor"] * sum(hasattr(la, "activation") for la in self.plan_.layers)
        return [("monte_carlo" if isinstance(step, MonteCarloStep) else "hermite")
                for step in self.plan_.steps if isinstance(step, HermiteStep)]

    def _choose_method(self, layers):
        method = getattr(self, "method", "hermite")
        if getattr(self, "strategy", "hermite") == "monte_carlo":
            if method == "taylor":
                raise ValueError("method='taylor' has no Monte-Carlo strategy; use "
                                 "method='auto' or 'hermite' with strategy='monte_carlo'")
            return "hermite"
        eligible = not self._is_images() and taylor_eligible(layers)
        if method == "taylor" and not eligible:
            raise ValueError(
                "method='taylor' needs a fully connected network whose activations are "
                "homogeneous of degree 1 (relu, leaky_relu, abs, abrelu, normalized_gaussian) "
                "and whose Dense layers have bias_std=0; use method='hermite'"
            )
        return "taylor" if method == "taylor" or (method == "auto" and eligible) else "hermite"

    def _whole_input_data(self, X, threads):
        # the landmarks' exact features: one kernel call for all rows (per batch of a few
        # dozen rows its fixed cost was 2.5 ms, 0.16 ms per row on 16-row batches)
        if self.landmarks_ is None:
            return None
        start = time.perf_counter()
        exact = self.landmarks_.exact_features(X, n_jobs=threads)
        if self.verbose:
            print(f"[{type(self).__name__}] exact kernel of {X.shape[0]} rows against "
                  f"{self.landmarks_.landmarks.shape[0]} landmarks "
                  f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)
        return exact

    def _transform_batch(self, X, exact):
        Z = self.plan_.transform(X)
        # exact at any scale, as the plan is: K(c x, v) = c^p K(x, v) for homogeneous networks,
        # whose landmarks were drawn at unit scale (skntk.kernels rescales rows itself)
        return Z if self.landmarks_ is None else self.landmarks_.apply(Z, exact)

    def _nonfinite_message(self, X):
        where = self.plan_.locate_nonfinite(X)
        return (f"{type(self).__name__} produced non-finite features: {where}. The input "
                "(or weight_std) is too large for float64 at this depth; rescale X (e.g. "
                "StandardScaler or divide by its largest absolute value)")

    def _batch_rows(self, threads=1):
        if self.batch_size != "auto":
            return int(self.batch_size)
        return int(np.clip(batch_entries(threads) // max(self.plan_.row_cost, 1), 1, 4096))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = not self._is_images()
        return tags


class NeuralKernelFeatures(NetworkFeatureMap):
    """Random features of the NNGP or NTK of any network composed from layers.

    ``transform(X) @ transform(Y).T`` approximates :func:`skntk.kernels.kernel` with the same
    ``layers`` and ``kind=kernel``. Every layer plans its own feature step in ``fit``
    (:mod:`skntk.steps`): ``Dense`` and ``Conv`` concatenate (neighbours') features and a bias
    column, exactly; ``AvgPool`` and ``GlobalAvgPool`` average them, exactly; a
    ``Nonlinearity`` applies the layer-wise Hermite/PolySketch step
    (:class:`skntk.steps.HermiteStep`) with the exact per-pixel variances:
    ``phi <- [r_0(s), r_1(s) Q_1(u), ..., r_p(s) Q_p(u)]`` with ``u = phi / |phi|``, and for
    the NTK ``psi <- psi (x) dphi`` through a tensor sketch with the derivative's mean split
    off. The output has ``n_components`` columns: the last activation layer is sized so the
    readout's columns add up to it (an unbiased SRHT compresses when the network cannot be
    that narrow).

    Parameters
    ----------
    layers : list of layers
        :class:`~skntk.architectures.Dense`, :class:`~skntk.architectures.Conv`,
        :class:`~skntk.architectures.Nonlinearity`, :class:`~skntk.architectures.AvgPool`
        and :class:`~skntk.architectures.GlobalAvgPool` instances, in order (see
        :func:`skntk.kernels.kernel` for the rules). A network with ``Conv`` or ``AvgPool``
        layers takes images and needs one ``GlobalAvgPool``.
    kernel : {"ntk", "nngp"}, default="ntk"
    n_components : int, default=1024
        Number of output features (exactly).
    image_shape : tuple (H, W, C) or None, default=None
        For image networks given 2-D input ``(n, H*W*C)`` (NHWC flattening).
    degree : int or "auto", default="auto"
        Hermite method: degree of each activation layer's truncated Hermite expansion
        ("auto": per layer, the lowest degree from 4 to 8, to 32 for fully connected networks
        with landmarks, whose series captures the activation at the layer's scale,
        :func:`skntk.planning.hermite_degree`; ``degree_`` is the largest). Taylor method:
        degree of the fitted polynomial ("auto": the smallest of 8, 12, 16, 24, 32 whose
        centred bias on the training data is small against the sketch's noise; see
        :class:`skntk.NTKSketch`).
    method : {"auto", "taylor", "hermite"}, default="auto"
        ``"taylor"``: one fused step for a fully connected chain of Dense layers without bias
        and degree-1 homogeneous activations (:mod:`skntk.taylor_step`; cost independent of
        depth). ``"hermite"``: the layer-wise steps, for any network. ``"auto"``: Taylor when
        the network is eligible.
    strategy : {"auto", "hermite", "monte_carlo"}, default="auto"
        How the layer-wise method sketches activation layers: ``"hermite"``, truncated
        Hermite series with PolySketches (:class:`skntk.steps.HermiteStep`);
        ``"monte_carlo"``, Gaussian random features centred on their exact means
        (:class:`skntk.steps.MonteCarloStep`): no truncation, so robust for activations whose
        Hermite series converges slowly at the data's scale (e.g. ``sin`` of unnormalized
        inputs), but a dense projection per layer. ``"auto"``: per layer, Hermite unless its
        series misses more than 2% of ``E[act(u)^2]`` (20% of ``E[act'(u)^2]``) at the
        layer's 90th-percentile variance on the training data
        (:func:`skntk.planning.hermite_tails`); the choice is in ``strategies_``. An explicit
        ``"hermite"`` in that regime warns (:class:`skntk.planning.TruncationWarning`).
    internal_components : int or "auto", default="auto"
        NNGP (and NTK tensor) columns of intermediate activation layers. ``"auto"``:
        ``n_components`` for fully connected networks, ``max(128, n_components // 16)`` per
        pixel for image networks. Fully connected Hermite layers of activations with a
        continuous derivative (gelu, erf, ...) keep 3/4 as many tensor columns.
    n_landmarks : int or "auto", default="auto"
        Training inputs on whose feature span the kernel is kept exact, the sketch carrying
        the rest (:mod:`skntk.landmarks`; still unbiased). ``"auto"``: 64 for fully connected
        networks, ``1024 / (H W)`` for images (none from 32x32 on), kept only where they
        take 20% of the centred trace off the sketch; ``0``: none.
    random_state : int, RandomState instance or None, default=None
    batch_size : int or "auto", default="auto"
        Inputs per batch of ``transform`` ("auto": about 128 MB of intermediates).
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
    plan_ : NetworkPlan
        The fitted steps (:class:`skntk.planning.NetworkPlan`): one per layer (Hermite
        method) or one fused :class:`~skntk.taylor_step.TaylorStep`.
    method_ : str
    degree_ : int
    image_shape_ : tuple (H, W, C)
        ``(1, 1, n_features)`` for fully connected networks.
    internal_components_ : int
    strategies_ : list of str
        Per activation layer: ``"hermite"``, ``"monte_carlo"`` or ``"taylor"``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NeuralKernelFeatures
    >>> from skntk.architectures import Dense, Nonlinearity
    >>> from skntk.kernels import kernel
    >>> X = np.random.RandomState(0).randn(40, 10)
    >>> net = [Dense(1.0, 0.1), Nonlinearity("erf"), Dense(1.5), Nonlinearity("relu"), Dense()]
    >>> Z = NeuralKernelFeatures(net, n_components=4096, random_state=0).fit_transform(X)
    >>> K = kernel(X, layers=net)
    >>> bool(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K) < 0.1)
    True
    """

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "layers": [list, tuple],
        "kernel": [StrOptions({"ntk", "nngp"})],
        "image_shape": [tuple, list, None],
        "degree": [POSITIVE_INT, StrOptions({"auto"})],
        "method": [StrOptions({"auto", "taylor", "hermite"})],
        "strategy": [StrOptions({"auto", "hermite", "monte_carlo"})],
        "internal_components": [Numbers(numbers.Integral, 2, None, closed="left"),
                                StrOptions({"auto"})],
        "n_landmarks": [N_LANDMARKS, StrOptions({"auto"})],
    }

    def __init__(self, layers, *, kernel="ntk", n_components=1024, image_shape=None,
                 degree="auto", method="auto", strategy="auto", internal_components="auto",
                 n_landmarks="auto", random_state=None, batch_size="auto", n_jobs=None,
                 verbose=0):
        self.layers = layers
        self.kernel = kernel
        self.n_components = n_components
        self.image_shape = image_shape
        self.degree = degree
        self.method = method
        self.strategy = strategy
        self.internal_components = internal_components
        self.n_landmarks = n_landmarks
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _network(self):
        return _check_layers(self.layers)[0]

    def _is_images(self):
        return _check_layers(self.layers)[1]


