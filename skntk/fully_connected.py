"""NTKSketch and NNGPSketch: randomized feature maps of fully connected neural kernels."""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._backend import asarray_like, get_namespace, is_numpy_namespace, to_numpy
from ._estimator import (
    FeatureMapMixin,
    activation_constraint,
    allocate_with_overhead,
)
from ._taylor import cosine_distribution, fit_dot_product_polynomial, normalized_kernel
from .activations import get_activation
from .architectures import fully_connected
from .planning import Planner
from .sketching import SRHT, PolySketch

__all__ = ["NTKSketch", "NNGPSketch"]

# Taylor method: the common (mean) direction of the data is split off and handled exactly when
# the mean of the unit rows is at least this long.
_MEAN_DIRECTION_MIN = 0.2
_HERMITE_DEGREE = 8
# degree="auto", Taylor method: the candidates, smallest first
_TAYLOR_DEGREES = (8, 12, 16, 24, 32)


def _taylor_degree(X, layers, want_ntk, n_components, max_rows=300):
    """The smallest degree whose polynomial's bias is small against the sketch's noise.

    The bias is scored where a model looks: the relative error of the centred polynomial
    kernel ``H (K_p - K) H`` on a training subsample, whose pairs' cosines decide how much the
    truncation matters (data with cosines near 1, like images, sit near the NTK's cusp). It
    must be at most ``0.9 / sqrt(n_components)``, about a fifth of the sketch's per-seed
    centred noise, so averaging seeds still shrinks the error.
    """
    sub = X[:max_rows]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(to_numpy(sub), dtype=np.float64)
    norms = np.linalg.norm(sub, axis=1)
    sub, norms = sub[norms > 0], norms[norms > 0]
    if len(sub) < 3:
        return _TAYLOR_DEGREES[0]
    rho = np.clip((sub / norms[:, None]) @ (sub / norms[:, None]).T, -1.0, 1.0)
    scale = np.outer(norms, norms)
    H = np.eye(len(sub)) - 1.0 / len(sub)
    exact = H @ (scale * normalized_kernel(layers, rho.ravel(), want_ntk).reshape(rho.shape)) @ H
    tol = 0.9 / math.sqrt(n_components)
    rho_sample = rho[np.triu_indices(len(sub), 1)]
    for p in _TAYLOR_DEGREES:
        coef, _ = fit_dot_product_polynomial(layers, p, want_ntk, rho_sample)
        approx = H @ (scale * np.polynomial.polynomial.polyval(rho, coef)) @ H
        if np.linalg.norm(approx - exact) <= tol * np.linalg.norm(exact):
            return p
    return _TAYLOR_DEGREES[-1]


def _scale_rows(X, factors, xp):
    """``diag(factors) X`` for dense or sparse ``X``."""
    if sp.issparse(X):
        return sp.diags(np.asarray(factors, dtype=X.dtype)) @ X
    return X * factors[:, None]


def _exact_square_features(U, xp):
    """Rows ``u (x) u`` in the symmetric basis: ``<f(u), f(v)> = <u, v>^2`` in d(d+1)/2 columns."""
    d = U.shape[1]
    iu, ju = np.triu_indices(d)
    w = np.where(iu == ju, 1.0, math.sqrt(2.0))
    if sp.issparse(U):
        U = U.toarray()
    w = asarray_like(w, U, dtype=U.dtype)
    iu, ju = asarray_like(iu, U), asarray_like(ju, U)
    return xp.take(U, iu, axis=1) * xp.take(U, ju, axis=1) * w


def _to_dense(X):
    return X.toarray() if sp.issparse(X) else X


def _hcat(blocks, xp):
    blocks = [b for b in blocks if b is not None and b.shape[1] > 0]
    if is_numpy_namespace(xp):
        return np.concatenate(blocks, axis=1)
    return xp.concat(blocks, axis=1)


class _FullyConnectedSketch(FeatureMapMixin):
    """Shared implementation of :class:`NTKSketch` (``_kernel = "ntk"``) and NNGPSketch."""

    _kernel = "ntk"

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "activation": activation_constraint(),
        "weight_std": [Interval(numbers.Real, 0, None, closed="left")],
        "bias_std": [Interval(numbers.Real, 0, None, closed="left")],
        "degree": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "method": [StrOptions({"auto", "taylor", "hermite"})],
        "internal_components": [Interval(numbers.Integral, 2, None, closed="left"),
                                StrOptions({"auto"})],
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
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the polynomial or Hermite coefficients and draw all sketches.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; it sets ``n_features_in_`` and, for the Taylor method, the range of
            cosines the polynomial fit favours.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X = self._validate(X, reset=True)
        rng = check_random_state(self.random_state)
        self.activation_ = get_activation(self.activation)
        taylor_ok = self.activation_.homogeneity == 1 and self.bias_std == 0
        if self.method == "taylor" and not taylor_ok:
            raise ValueError(
                "method='taylor' needs a homogeneous activation of degree 1 (relu, leaky_relu, "
                "abs, abrelu, normalized_gaussian) and bias_std=0; use method='hermite'"
            )
        self.method_ = "taylor" if (self.method == "taylor" or
                                    (self.method == "auto" and taylor_ok)) else "hermite"
        self._layers = fully_connected(
            self.depth, self.activation_, self.weight_std, self.bias_std
        )
        self._compress = None
        self.degree_ = self.degree if self.degree != "auto" else (
            _taylor_degree(X, self._layers, self._kernel == "ntk", self.n_components)
            if self.method_ == "taylor" else _HERMITE_DEGREE)
        if self.method_ == "hermite":
            # layer-wise: the steps every layer plans for itself (skntk.planning)
            self.plan_ = Planner(
                self._layers, X, (1, 1, X.shape[1]), want_ntk=self._kernel == "ntk",
                n_components=self.n_components,
                internal_components=(self.n_components if self.internal_components == "auto"
                                     else self.internal_components),
                degree=self.degree_, rng=rng,
            ).plan()
            self.layer_dims_ = [step.dims for step in self.plan_.steps if hasattr(step, "dims")]
            return self
        # Below the smallest width the one-shot sketch can lay out (the degree-0 column plus
        # one sketched column), compute at that width and compress with an unbiased SRHT.
        self._internal_components = max(self.n_components, 2)
        self._fit_taylor(X, rng)
        if self._internal_components > self.n_components:
            self._compress = SRHT(self._internal_components, self.n_components, rng)
        return self

    # -- one-shot Taylor sketch ------------------------------------------------------------
    def _fit_taylor(self, X, rng):
        d = X.shape[1]
        p = self.degree_
        coef, err = fit_dot_product_polynomial(
            self._layers, p, self._kernel == "ntk", cosine_distribution(X)
        )
        self.coefficients_ = coef
        self.polynomial_error_ = err
        # column budget: degree 0 takes one column; sqrt(l) approximates the standard deviation
        # of the degree-l sketch's inner products (the PolySketch tree's variance grows ~ l)
        weights = coef[1:] * np.sqrt(np.arange(1, p + 1))
        exact = [d, d * (d + 1) // 2] + [None] * (p - 2)
        budget = self._internal_components - 1
        # The mean direction mu of the unit rows is common to all pairs; sketched degrees carry
        # the exact scalar (x^.mu)^l in one extra column each (see ``_transform_taylor``).
        mean = _unit_row_mean(X)
        use_mean = np.linalg.norm(mean) >= _MEAN_DIRECTION_MIN and budget >= 2 * p
        self._mean_direction = mean / np.linalg.norm(mean) if use_mean else None
        dims, is_exact, self._padding = allocate_with_overhead(
            weights, budget, exact[:p], [1 if use_mean else 0] * p
        )
        self.degree_dims_ = [
            dims[l] + (1 if use_mean and dims[l] > 0 and not is_exact[l] else 0) for l in range(p)
        ]
        self.exact_degrees_ = [l + 1 for l in range(p) if is_exact[l]]
        sketched = [l for l in range(1, p + 1) if dims[l - 1] > 0 and not is_exact[l - 1]]
        self._poly = None
        if sketched:
            out = [max(dims[l - 1], 1) for l in range(1, max(sketched) + 1)]
            self._poly = PolySketch(d, max(sketched), out, rng)
            if use_mean:
                self._mean_sketch = [
                    q[0] for q in self._poly.transform(self._mean_direction[None, :])
                ]

    def _transform_taylor(self, X, xp):
        d = X.shape[1]
        norms = np.sqrt(_host_sq_norms(X))
        inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
        U = _scale_rows(X, _device(inv, X, X.dtype), xp)
        coef = self.coefficients_
        Q = self._poly.transform(U) if self._poly is not None else []
        n = X.shape[0]
        dtype = X.dtype
        if self._mean_direction is not None:
            e = U @ _device(self._mean_direction, U, dtype)
            e = _device(np.asarray(e).ravel(), Q[0], dtype) if sp.issparse(U) else e
        blocks = [xp.ones((n, 1), dtype=dtype) * math.sqrt(coef[0])]
        for l in range(1, self.degree_ + 1):
            m = self.degree_dims_[l - 1]
            if m == 0:
                continue
            if l in self.exact_degrees_:
                block = _to_dense(U) if l == 1 else _exact_square_features(U, xp)
            elif self._mean_direction is not None:
                # Q_l(e mu) = e^l Q_l(mu) by multilinearity: the split costs nothing
                ep = e**l
                block = _hcat(
                    [ep[:, None], Q[l - 1] - ep[:, None] * _device(
                        self._mean_sketch[l - 1][None, :], Q[l - 1], dtype)], xp)
            else:
                block = Q[l - 1]
            blocks.append(block * math.sqrt(coef[l]))
        if self._padding:
            blocks.append(xp.zeros((n, self._padding), dtype=dtype))
        Z = _hcat(blocks, xp)
        scale = np.sqrt(_host_sq_norms(X)) / math.sqrt(d)
        return Z * _device(scale, Z, dtype)[:, None]

    def _transform_batch(self, X):
        xp = get_namespace(X)
        if self.method_ == "hermite":
            return self.plan_.transform(X)
        Z = self._transform_taylor(X, xp)
        return Z if self._compress is None else self._compress.transform(Z)


def _host_sq_norms(X):
    """Squared row norms as a host NumPy array (the per-row scalar recursions run on the host)."""
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    xp = get_namespace(X)
    return to_numpy(xp.sum(X * X, axis=1)).astype(np.float64)


def _device(host, like, dtype):
    """Host array to the namespace/device of ``like`` (NumPy for sparse ``like``)."""
    if sp.issparse(like):
        return np.asarray(host, dtype=dtype)
    return asarray_like(np.asarray(host), like, dtype=dtype)


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
        of each layer's truncated Hermite expansion (Hermite method). ``"auto"``: 8 for the
        Hermite method; for the Taylor method the smallest of 8, 12, 16, 24, 32 whose
        polynomial's centred error on a training subsample is at most
        ``0.9 / sqrt(n_components)`` (data whose cosines sit near 1, like images, need more
        degrees near the NTK's cusp at ``rho = 1``; others keep 8).
    method : {"auto", "taylor", "hermite"}, default="auto"
        ``"taylor"``: one-shot sketch, for homogeneous activations of degree 1 without bias;
        cost independent of depth. ``"hermite"``: layer-wise, any activation, any bias.
        ``"auto"``: Taylor when it applies, else Hermite.
    internal_components : int or "auto", default="auto"
        Hermite method: columns of the intermediate layers' features ("auto":
        ``n_components``).
    random_state : int, RandomState instance or None, default=None
        Seeds every random sketch (drawn in ``fit``).
    batch_size : int or "auto", default="auto"
        Rows per batch in ``transform`` (bounds memory).
    n_jobs : int, default=None
        Threads over batches in ``transform`` (None means 1, -1 all cores).
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
    (the training rows' mean direction, the bias) are handled exactly; the derivative's mean
    ``r'_0`` is split off the tensor sketch; a discontinuous derivative (ReLU's step) is
    estimated by Monte Carlo, ``act'(z G)``, whose mean is exact where its truncated Hermite
    series is biased. Intermediate layers use ``internal_components`` columns for ``phi`` and
    for the tensor part; the last NTK layer splits ``n_components`` between them in
    proportion to their typical diagonal sizes.
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
    method_ : str
        The method used ("taylor" or "hermite").
    activation_ : Activation
    coefficients_ : ndarray of shape (degree + 1,)
        Taylor method: the fitted ``a_j``.
    polynomial_error_ : float
        Taylor method: max over ``rho`` of ``|sum_j a_j rho^j - kappa(rho)|``.
    degree_ : int
        The degree used (``degree``, or the one ``"auto"`` chose).
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
    method_, activation_, coefficients_, polynomial_error_, degree_, degree_dims_,
    exact_degrees_, layer_dims_, plan_, n_features_in_
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


def _unit_row_mean(X, max_rows=5000):
    """Mean of the unit-normalized rows of (a subsample of) ``X``."""
    sub = X[:max_rows]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub, dtype=np.float64)
    norms = np.linalg.norm(sub, axis=1)
    keep = norms > 0
    if not keep.any():
        return np.zeros(X.shape[1])
    return (sub[keep] / norms[keep, None]).mean(axis=0)
