r"""Finite-width neural tangent kernel: the empirical NTK of actual fully connected networks.

A fully connected network with ``L`` hidden layers of widths ``n_1, ..., n_L`` on ``n_0 = d``
features and ``k = n_{L+1}`` outputs, in the NTK parameterization of neural-tangents
(DESIGN.md, section 1): with ``h_0 = x`` and Dense layers ``i = 0, ..., L``,

.. math::

    z_{i+1} = c_i\, h_i V_i + b_i\, \beta_i, \qquad c_i = W_i / \sqrt{n_i}, \qquad
    h_{i+1} = \sigma_{i+1}(z_{i+1}) \ (i < L), \qquad f(x) = z_{L+1},

with ``V_i`` of shape ``(n_i, n_{i+1})``, ``beta_i`` of shape ``(n_{i+1},)``, ``W_i`` and ``b_i``
the ``weight_std`` and ``bias_std`` of Dense layer ``i`` and ``sigma_{i+1}`` the activation after
it. The network is described either by one ``activation``, ``weight_std`` and ``bias_std``
shared by all layers, or by a list of :class:`~skntk.architectures.Dense` and
:class:`~skntk.architectures.Nonlinearity` layers (``layers``, the same list that
:func:`skntk.kernels.kernel` takes); the former is the list
:func:`~skntk.architectures.fully_connected` builds. The empirical NTK is
``Theta(x, y) = J(x) J(y)^T`` (a ``k x k`` matrix), ``J`` the Jacobian of ``f`` with respect
to all ``V_i`` and ``beta_i``. With the backpropagated
gradients ``G_i(x) = df/dz_{i+1}`` (shape ``(k, n_{i+1})``; ``G_L = I_k``), the derivative with
respect to ``V_i`` for output ``o`` is the outer product ``c_i h_i(x) (x) G_i(x)[o]`` and with
respect to ``beta_i`` it is ``b_i G_i(x)[o]``, hence the *structured* form

.. math::

    \Theta(x, y) = \sum_{i=0}^{L} \bigl(c_i^2 \langle h_i(x), h_i(y)\rangle + b_i^2\bigr)\,
    G_i(x) G_i(y)^T .

Three algorithms compute it (Novak, Sohl-Dickstein and Schoenholz, "Fast Finite Width Neural
Tangent Kernel", ICML 2022), all exact up to rounding:

* ``"jacobian"``: Jacobian contraction ``J(X) J(Y)^T``, the Jacobian of all inputs formed one block
  of parameters at a time (a layer, split by output units so a block stays under ~256 MB);
* ``"ntvp"``: NTK-vector products, forward-over-reverse: for a block of points ``y`` and outputs
  ``o'``, reverse mode gives the cotangents ``v = J(y)^T e_{o'}`` (dense parameter vectors), and
  one forward-mode pass (a Jacobian-vector product, batched over the block) through the network on
  all of ``X`` gives ``J(X) v = Theta(X, y)[:, :, o']``. ``J`` is never stored for all inputs;
* ``"structured"``: the formula above, per layer an ``(n1, n2)`` Gram of layer inputs times the
  ``(n1 k, n2 k)`` Gram of backpropagated gradients (two BLAS products); never forms ``J``.

``"auto"`` takes the method with the fewest floating-point operations according to
:func:`empirical_ntk_cost`.

All computations use the array namespace of the input (NumPy, CuPy, any array-API library):
pointwise activations go through :mod:`skntk.activations` (on the host when the activation only
understands NumPy arrays), random draws happen on the host with NumPy.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.externals import array_api_compat
from sklearn.utils import check_array, check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _dask
from ._backend import asarray_like, foreign_namespace, get_namespace, is_numpy_namespace
from ._estimator import (
    BIAS_STD,
    WEIGHT_STD,
    FeatureMapMixin,
    check_parameter,
    validate_namespace_array,
)
from .activations import Activation, get_activation
from .architectures import AvgPool, Conv, Dense, GlobalAvgPool, Nonlinearity, fully_connected

__all__ = [
    "empirical_ntk",
    "empirical_ntk_cost",
    "empirical_ntk_features",
    "init_mlp_weights",
    "mlp_apply",
    "FiniteWidthNTK",
    "METHODS",
]

METHODS = ("jacobian", "ntvp", "structured")
# Working-set bound (bytes) for one Jacobian block or one block of NTK-vector products.
_BLOCK_BYTES = 2**28


# ----------------------------------------------------------------------------------------------
# Validation and namespace helpers
# ----------------------------------------------------------------------------------------------


def _is_foreign_array(a):
    """True for a dense array of a non-NumPy array-API library (CuPy, array-api-strict...)."""
    return (
        a is not None
        and not sp.issparse(a)
        and not isinstance(a, np.ndarray)
        and hasattr(a, "__array_namespace__")
    )


def _check_input(X, name):
    """Validate a 2-D finite float32/float64 array (dense, CSR/CSC sparse, or array-API)."""
    if _is_foreign_array(X):
        xp = get_namespace(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got an array of shape {tuple(X.shape)}")
        if X.dtype not in (xp.float32, xp.float64):
            X = xp.astype(X, xp.float64)
        if not bool(xp.all(xp.isfinite(X))):
            raise ValueError(f"{name} contains NaN or infinity")
        return X
    return check_array(
        X,
        accept_sparse=("csr", "csc"),
        dtype=(np.float64, np.float32),
        ensure_all_finite=True,
        input_name=name,
    )


def _device(xp, a):
    return None if is_numpy_namespace(xp) else array_api_compat.device(a)


def _to_host(a):
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):  # CuPy
        return a.get()
    try:
        return np.asarray(a)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(a)


def _to_namespace(a, xp, dtype, like):
    """``a`` (host or device array) as an array of ``xp`` with ``dtype`` on ``like``'s device."""
    if is_numpy_namespace(xp):
        return np.asarray(_to_host(a) if _is_foreign_array(a) else a, dtype=dtype)
    if _is_foreign_array(a):
        return xp.astype(xp.asarray(a, device=_device(xp, like)), dtype)
    return asarray_like(np.asarray(a, dtype=np.float64), like, dtype=dtype)


def _check_scalar(value, name):
    """``weight_std`` (> 0) or ``bias_std`` (>= 0), finite: the rules of every layer and
    estimator (:mod:`skntk._estimator`)."""
    rule = WEIGHT_STD if name.endswith("weight_std") else BIAS_STD
    return float(check_parameter(value, name, rule, "the finite network"))


def _check_activation(activation):
    act = get_activation(activation)
    if not getattr(act, "has_pointwise_form", True):
        raise ValueError(
            f"activation {act!r} has no pointwise form, so a finite network cannot use it"
        )
    return act


def _pointwise(fn, Z, xp):
    """Apply a NumPy-style pointwise function to ``Z`` of namespace ``xp``, keeping its dtype."""
    if is_numpy_namespace(xp):
        return np.asarray(fn(Z), dtype=Z.dtype)
    try:
        out = fn(Z)
        if type(out) is type(Z):  # the function understood the device array (e.g. CuPy ufuncs)
            return xp.astype(out, Z.dtype)
    except Exception:  # noqa: BLE001 - any failure: fall back to the host
        pass
    host = _to_host(Z)
    return asarray_like(np.asarray(fn(host), dtype=host.dtype), Z)


def _gram(A, B, xp):
    """``A B^T`` as a dense array of ``xp`` (either factor may be SciPy sparse)."""
    if sp.issparse(A) or sp.issparse(B):
        G = A @ B.T
        return G.toarray() if sp.issparse(G) else np.asarray(G)
    return A @ B.T


def _dense(A):
    return A.toarray() if sp.issparse(A) else A


_LAYER_HELP = "layers must alternate Dense, Nonlinearity, Dense, ..., Dense"


def _uses_defaults(activation, weight_std, bias_std):
    """Whether the single-activation arguments are left at their defaults."""
    return (
        isinstance(activation, str) and activation == "relu"
        and weight_std == 1.0 and not isinstance(weight_std, bool)
        and bias_std == 0.0 and not isinstance(bias_std, bool)
    )


def _check_layers(layers, n_dense, source=None):
    """Validate a fully connected layer list; return its Dense and Nonlinearity layers.

    ``layers`` must alternate ``Dense, Nonlinearity, ..., Dense`` with ``n_dense`` Dense layers
    (one per weight matrix; ``source`` says where that number comes from in error messages).
    Returns ``(dense, acts)``: the ``n_dense`` Dense layers and the ``n_dense - 1`` resolved
    activations, each checked (non-negative finite stds, pointwise activations).
    """
    if isinstance(layers, str | bytes) or not isinstance(layers, list | tuple):
        raise TypeError(
            "layers must be a list of Dense and Nonlinearity layers, got "
            f"{type(layers).__name__}"
        )
    if len(layers) == 0:
        raise ValueError(f"layers must not be empty; {_LAYER_HELP}")
    dense, acts = [], []
    for i, layer in enumerate(layers):
        if isinstance(layer, type):
            raise TypeError(
                f"layers[{i}] is the class {layer.__name__}; pass an instance, e.g. "
                f"{layer.__name__}()"
            )
        if isinstance(layer, Conv | AvgPool | GlobalAvgPool):
            raise ValueError(
                f"layers[{i}] = {layer!r}: a finite fully connected network only takes Dense "
                f"and Nonlinearity layers ({_LAYER_HELP})"
            )
        if not isinstance(layer, Dense | Nonlinearity):
            raise TypeError(
                f"layers[{i}] = {layer!r} is not a Dense or Nonlinearity layer ({_LAYER_HELP})"
            )
        expected = Dense if i % 2 == 0 else Nonlinearity
        if not isinstance(layer, expected):
            where = "comes first" if i == 0 else f"follows {layers[i - 1]!r}"
            raise ValueError(
                f"layers[{i}] = {layer!r} {where}, where a {expected.__name__} layer is "
                f"expected ({_LAYER_HELP})"
            )
        if expected is Dense:
            _check_scalar(layer.weight_std, f"layers[{i}].weight_std")
            _check_scalar(layer.bias_std, f"layers[{i}].bias_std")
            dense.append(layer)
        else:
            acts.append(_check_activation(layer.activation))
    if isinstance(layers[-1], Nonlinearity):
        raise ValueError(
            f"layers[{len(layers) - 1}] = {layers[-1]!r} is last, but the network must end "
            f"with a Dense readout ({_LAYER_HELP})"
        )
    if len(dense) != n_dense:
        if source is None:
            source = f"weights holds {n_dense} (V, beta) pair(s)"
        raise ValueError(
            f"layers has {len(dense)} Dense layer(s) but {source}: one Dense layer per "
            "weight matrix"
        )
    return dense, acts


def _resolve_layers(layers, activation, weight_std, bias_std, n_dense, source=None):
    """``(dense, acts)`` of ``layers``, or of the equivalent ``fully_connected`` list."""
    if layers is None:
        activation = _check_activation(activation)
        weight_std = _check_scalar(weight_std, "weight_std")
        bias_std = _check_scalar(bias_std, "bias_std")
        layers = fully_connected(n_dense - 1, activation, weight_std, bias_std)
    elif not _uses_defaults(activation, weight_std, bias_std):
        raise ValueError(
            "layers replaces activation, weight_std and bias_std: give each Dense layer its "
            "weight_std and bias_std and each Nonlinearity its activation, and leave those "
            f"arguments at their defaults (got activation={activation!r}, "
            f"weight_std={weight_std!r}, bias_std={bias_std!r})"
        )
    return _check_layers(layers, n_dense, source)


class _Network:
    """Validated weights of a fully connected network, in one namespace and dtype.

    Dense layer ``i`` has the scale ``scales[i] = W_i / sqrt(n_i)`` and the bias std
    ``bias_stds[i]``; hidden layer ``i + 1`` the activation ``acts[i]``.
    """

    def __init__(self, weights, n_features, layers, activation, weight_std, bias_std, xp, dtype,
                 like):
        if not isinstance(weights, list | tuple) or len(weights) == 0:
            raise ValueError(
                "weights must be a non-empty list of (V, beta) pairs, one per Dense layer, got "
                f"{type(weights).__name__}"
                + (" of length 0" if isinstance(weights, list | tuple) else "")
            )
        dense, self.acts = _resolve_layers(layers, activation, weight_std, bias_std,
                                           len(weights))
        self.weight_stds = [float(layer.weight_std) for layer in dense]
        self.bias_stds = [float(layer.bias_std) for layer in dense]
        self.xp = xp
        self.V, self.beta, self.sizes = [], [], [int(n_features)]
        for i, pair in enumerate(weights):
            try:
                V, beta = pair
            except (TypeError, ValueError):
                raise ValueError(
                    f"weights[{i}] must be a pair (V, beta) with V of shape (fan_in, fan_out) "
                    "and beta of shape (fan_out,)"
                ) from None
            V = _to_namespace(V, xp, dtype, like)
            beta = _to_namespace(beta, xp, dtype, like)
            if V.ndim != 2:
                raise ValueError(
                    f"weights[{i}]: V must be 2-D (fan_in, fan_out), got shape {tuple(V.shape)}"
                )
            if beta.ndim == 2 and beta.shape[0] == 1:
                beta = xp.reshape(beta, (beta.shape[1],))
            if beta.ndim != 1 or beta.shape[0] != V.shape[1]:
                raise ValueError(
                    f"weights[{i}]: beta has shape {tuple(beta.shape)}, expected "
                    f"({V.shape[1]},) to match V of shape {tuple(V.shape)}"
                )
            fan_in = self.sizes[-1]
            if V.shape[0] != fan_in:
                source = (
                    f"the number of features of X ({fan_in})"
                    if i == 0
                    else f"the fan_out of weights[{i - 1}] ({fan_in})"
                )
                raise ValueError(
                    f"weights[{i}]: V has shape {tuple(V.shape)}; its fan_in {V.shape[0]} "
                    f"does not match {source}"
                )
            if not (bool(xp.all(xp.isfinite(V))) and bool(xp.all(xp.isfinite(beta)))):
                raise ValueError(f"weights[{i}] contains NaN or infinity")
            self.V.append(V)
            self.beta.append(beta)
            self.sizes.append(int(V.shape[1]))
        self.depth = len(self.V) - 1  # hidden layers L
        self.k = self.sizes[-1]
        self.scales = [
            w / math.sqrt(n) for w, n in zip(self.weight_stds, self.sizes[:-1], strict=True)
        ]
        pairs = zip(self.sizes[:-1], self.sizes[1:], strict=True)
        self.n_params = sum((a + 1) * b for a, b in pairs)

    # -- forward and reverse passes --------------------------------------------------------
    def forward(self, X):
        """Return ``(hs, Ds, f)``: layer inputs ``h_0 = X, ..., h_L``, derivatives
        ``act_1'(z_1), ..., act_L'(z_L)`` and the outputs ``f`` of shape (n, k)."""
        xp = self.xp
        hs, Ds = [X], []
        h = X
        for i in range(self.depth + 1):
            z = self.scales[i] * (h @ self.V[i]) + self.bias_stds[i] * self.beta[i]
            if i < self.depth:
                act = self.acts[i]
                Ds.append(_pointwise(act.derivative, z, xp))
                h = _pointwise(act.value, z, xp)
                hs.append(h)
        return hs, Ds, z

    def backprop(self, G, i, D):
        """``G_{i-1} = (G_i (c_i V_i)^T) * act_i'(z_i)``; ``G=None`` stands for ``G_L = I_k``.

        Gradients are laid out output-major, ``G[o, x, unit]`` of shape (k, n, width), so that
        every product below is one large BLAS call with long contiguous rows.
        """
        xp = self.xp
        Vt = self.scales[i] * self.V[i].T  # (n_{i+1}, n_i)
        if G is None:
            return Vt[:, None, :] * D[None, :, :]  # (k, n, n_i), since k = n_{L+1}
        k, n, m = G.shape
        G = xp.reshape(xp.reshape(G, (k * n, m)) @ Vt, (k, n, Vt.shape[1]))
        G *= D[None, :, :]
        return G

    def layers(self, X, explicit_identity=False):
        """Yield ``(i, h_i, G_i)`` from the readout (``i = L``) down to the first layer.

        ``G_i[o, x, :] = d f_o(x) / d z_{i+1}``, of shape (k, n, n_{i+1}); ``G_L`` is ``None``
        (the identity) unless ``explicit_identity``. The gradients are computed on the fly, so
        only one of them is alive at a time.
        """
        hs, Ds, _ = self.forward(X)
        G = None
        for i in range(self.depth, -1, -1):
            if i == self.depth and explicit_identity:
                yield i, hs[i], self._identity(X.shape[0])
            else:
                yield i, hs[i], G
            if i > 0:
                G = self.backprop(G, i, Ds[i - 1])

    def _identity(self, n):
        xp = self.xp
        eye = xp.eye(self.k, dtype=self.V[0].dtype, device=_device(xp, self.V[0]))
        return xp.broadcast_to(eye[:, None, :], (self.k, n, self.k))


def _prepare(X, Y, weights, activation, weight_std, bias_std, layers=None):
    X = _check_input(X, "X")
    Y = None if Y is None else _check_input(Y, "Y")
    if Y is not None and X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features, got {X.shape[1]} and {Y.shape[1]}"
        )
    xp = get_namespace(X, Y)
    dtype = xp.float32 if all(A.dtype == xp.float32 for A in (X, Y) if A is not None) else (
        xp.float64
    )
    if X.dtype != dtype:
        X = X.astype(np.float64) if sp.issparse(X) else xp.astype(X, dtype)
    if Y is not None and Y.dtype != dtype:
        Y = Y.astype(np.float64) if sp.issparse(Y) else xp.astype(Y, dtype)
    like = next((A for A in (X, Y) if A is not None and not sp.issparse(A)), None)
    net = _Network(weights, X.shape[1], layers, activation, weight_std, bias_std, xp, dtype,
                   like)
    return X, Y, net


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------


def init_mlp_weights(n_features, widths, n_outputs=1, random_state=None):
    """Draw the weights of a fully connected network: ``V_i, beta_i ~ N(0, 1)`` i.i.d.

    Parameters
    ----------
    n_features : int
        Input dimension ``d``.
    widths : sequence of int
        Hidden widths ``n_1, ..., n_L`` (may be empty: a linear model).
    n_outputs : int, default=1
        Number of outputs ``k``.
    random_state : int, RandomState instance or None, default=None
        Seeds the host NumPy generator.

    Returns
    -------
    weights : list of (V, beta)
        ``V_i`` of shape ``(n_i, n_{i+1})`` and ``beta_i`` of shape ``(n_{i+1},)``, float64, drawn
        in the order ``V_0, beta_0, V_1, beta_1, ...``.

    Examples
    --------
    >>> from skntk.finite_width import init_mlp_weights
    >>> w = init_mlp_weights(3, (4, 5), n_outputs=2, random_state=0)
    >>> [(V.shape, beta.shape) for V, beta in w]
    [((3, 4), (4,)), ((4, 5), (5,)), ((5, 2), (2,))]
    """
    sizes = [int(n_features), *(int(w) for w in widths), int(n_outputs)]
    if any(s < 1 for s in sizes):
        raise ValueError(f"n_features, widths and n_outputs must be positive, got {sizes}")
    rng = check_random_state(random_state)
    return [
        (rng.standard_normal((a, b)), rng.standard_normal(b))
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def mlp_apply(X, *, weights, activation="relu", weight_std=1.0, bias_std=0.0, layers=None):
    """Outputs of a fully connected network in the NTK parameterization.

    ``h_0 = x``, ``z_{i+1} = (W_i / sqrt(n_i)) h_i V_i + b_i beta_i``,
    ``h_{i+1} = act_{i+1}(z_{i+1})`` for the hidden layers and ``f(x) = z_{L+1}`` (no activation
    after the readout), with ``W_i = weight_std``, ``b_i = bias_std`` and ``act_i = activation``
    for every layer, or the per-layer values of ``layers``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    weights : list of (V, beta)
        One pair per Dense layer, ``V_i`` of shape ``(fan_in, fan_out)``, ``beta_i`` of shape
        ``(fan_out,)`` (or ``(1, fan_out)``).
    activation : str, Activation or callable, default="relu"
        See :func:`skntk.activations.get_activation`.
    weight_std, bias_std : float, default=1.0, 0.0
        ``W`` and ``b``.
    layers : list of layers, default=None
        The network as a list of :class:`~skntk.architectures.Dense` and
        :class:`~skntk.architectures.Nonlinearity` layers alternating ``Dense, Nonlinearity,
        Dense, ..., Dense``, one Dense layer per pair of ``weights``: Dense layer ``i`` scales
        ``V_i`` by its ``weight_std / sqrt(n_i)`` and ``beta_i`` by its ``bias_std``, the
        Nonlinearity after it applies its activation (pointwise). The same list gives the
        infinite-width limit, ``skntk.kernels.kernel(X, layers=layers, kind="ntk")``. When given,
        ``activation``, ``weight_std`` and ``bias_std`` must keep their defaults; when None, the
        network is ``fully_connected(len(weights) - 1, activation, weight_std, bias_std)``.

    Returns
    -------
    f : array of shape (n_samples, n_outputs)

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.finite_width import mlp_apply
    >>> weights = [(np.eye(2), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))]
    >>> mlp_apply(np.array([[2.0, -8.0]]), weights=weights)  # relu, W = 1: (1 + 0) / sqrt(2)^2
    array([[1.]])

    A layer list with its own standard deviations and activation per layer:

    >>> from skntk.architectures import Dense, Nonlinearity, fully_connected
    >>> from skntk.finite_width import init_mlp_weights
    >>> X = np.random.default_rng(0).standard_normal((4, 3))
    >>> w = init_mlp_weights(3, (16, 16), random_state=0)
    >>> layers = [Dense(1.0, 0.1), Nonlinearity("erf"), Dense(1.5), Nonlinearity("relu"), Dense()]
    >>> mlp_apply(X, weights=w, layers=layers).shape
    (4, 1)
    >>> bool(np.array_equal(mlp_apply(X, weights=w, layers=fully_connected(2, "tanh", 1.2)),
    ...                     mlp_apply(X, weights=w, activation="tanh", weight_std=1.2)))
    True
    """
    X, _, net = _prepare(X, None, weights, activation, weight_std, bias_std, layers)
    return _finite(net.forward(X)[2], "mlp_apply")


def empirical_ntk_cost(n_samples_X, n_samples_Y, layer_sizes, *, trace=False):
    r"""Floating-point operation counts of the three empirical-NTK algorithms (the cost model).

    With layer sizes ``n_0 = d, n_1, ..., n_L, n_{L+1} = k``, ``p_i = n_i n_{i+1}``,
    ``S = sum_i p_i`` (weights), ``P = sum_i (n_i + 1) n_{i+1}`` (all parameters),
    ``N = n1 + n2`` (``n1`` when ``Y = X``) and ``kk = k^2`` (``k`` with ``trace``), a
    multiply-add counting 2:

    * shared forward and reverse passes: ``F = 2 N S + 2 N k sum_{i=1}^{L} p_i``;
    * ``jacobian``: ``F + N k P + 2 n1 n2 kk P`` (form the Jacobian, then ``J(X) J(Y)^T``);
    * ``ntvp``: ``F + n2 k P + 2 n1 n2 k (S + sum_{i=1}^{L} p_i)`` (one cotangent per point of
      ``Y`` and output, then a Jacobian-vector product through the network on all of ``X``:
      ``h_i dV_i`` in every layer and ``dh_i V_i`` after the first);
    * ``structured``: ``F + 2 n1 n2 (sum_{i=0}^{L} n_i + kk sum_{i=1}^{L} n_i)`` (Gram of the layer
      inputs and of the gradients; the readout's gradient Gram is the identity).

    So structured derivatives cost ``O(n1 n2 k^2 sum_i n_i)`` against ``O(n1 n2 k^2 P)`` for
    Jacobian contraction and ``O(n1 n2 k P)`` for NTK-vector products: for a width-``n`` network
    structured derivatives win by a factor of order ``n``.

    Parameters
    ----------
    n_samples_X : int
    n_samples_Y : int or None
        None for the symmetric case ``Y = X``.
    layer_sizes : sequence of int
        ``(d, n_1, ..., n_L, k)``.
    trace : bool, default=False
        Count the cost of the trace over outputs only.

    Returns
    -------
    dict
        ``{"jacobian": flops, "ntvp": flops, "structured": flops}`` (floats).

    Examples
    --------
    >>> from skntk.finite_width import empirical_ntk_cost
    >>> cost = empirical_ntk_cost(500, None, (100, 1024, 1024, 1024, 10))
    >>> min(cost, key=cost.get)
    'structured'
    >>> round(cost["jacobian"] / cost["structured"])
    620
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"layer_sizes must hold at least two positive integers, got {sizes}")
    n1 = float(n_samples_X)
    n2 = n1 if n_samples_Y is None else float(n_samples_Y)
    N = n1 if n_samples_Y is None else n1 + n2
    k = float(sizes[-1])
    kk = k if trace else k * k
    p = [float(a) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    S = sum(p)
    P = sum((a + 1.0) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    inner = sum(p[1:])
    F = 2 * N * S + 2 * N * k * inner
    return {
        "jacobian": F + N * k * P + 2 * n1 * n2 * kk * P,
        "ntvp": F + n2 * k * P + 2 * n1 * n2 * k * (S + inner),
        "structured": F + 2 * n1 * n2 * (sum(sizes[:-1]) + kk * sum(sizes[1:-1])),
    }


def _choose_method(method, n1, n2, sizes, trace):
    if method != "auto":
        return method
    cost = empirical_ntk_cost(n1, n2, sizes, trace=trace)
    # Ties go to the method listed first: structured derivatives, then NTK-vector products.
    return min(("structured", "ntvp", "jacobian"), key=lambda m: cost[m])


def empirical_ntk(X, Y=None, *, weights, activation="relu", weight_std=1.0, bias_std=0.0,
                  method="auto", trace=False, layers=None):
    r"""Empirical neural tangent kernel ``J(x) J(y)^T`` of a finite fully connected network.

    The network is ``z_{i+1} = (W_i / sqrt(n_i)) h_i V_i + b_i beta_i`` with ``h_0 = x``,
    ``h_{i+1} = act_{i+1}(z_{i+1})`` for the hidden layers and outputs ``f = z_{L+1}`` (see
    :func:`mlp_apply`; ``W_i = weight_std``, ``b_i = bias_std``, ``act_i = activation``, or the
    per-layer values of ``layers``), ``J`` its Jacobian with respect to all ``V_i`` and
    ``beta_i``. With ``G_i(x) = df/dz_{i+1}`` the result equals

    .. math::

        \Theta(x, y) = \sum_i \bigl(\tfrac{W_i^2}{n_i}\langle h_i(x), h_i(y)\rangle
        + b_i^2\bigr) G_i(x) G_i(y)^T .

    As the widths grow it converges to :func:`skntk.kernels.ntk_kernel` (or, for ``layers``,
    :func:`skntk.kernels.kernel` with the same list) times ``I_k``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n1, n_features)
        NumPy, SciPy CSR/CSC (the first layer never densifies it, except in ``"jacobian"``), or
        any array-API array (e.g. CuPy); the computation runs in its namespace.
    Y : same as X, of shape (n2, n_features), default=None
        If None, ``Y = X`` (and the symmetric work is shared).
    weights : list of (V, beta)
        ``[(V_0, beta_0), ..., (V_L, beta_L)]``, ``V_i`` of shape ``(fan_in, fan_out)`` and
        ``beta_i`` of shape ``(fan_out,)`` (``(1, fan_out)`` is accepted).
    activation : str, Activation or callable, default="relu"
        Any pointwise activation of :func:`skntk.activations.get_activation`.
    weight_std, bias_std : float, default=1.0, 0.0
        ``W`` and ``b``.
    method : {"auto", "jacobian", "ntvp", "structured"}, default="auto"
        ``"jacobian"``: Jacobian contraction, ``J`` formed one block of parameters at a time;
        ``"ntvp"``: NTK-vector products (reverse mode for ``J(y)^T e_o`` on a block of points,
        forward mode for ``J(X) v``), never storing ``J`` for all inputs; ``"structured"``:
        the per-layer Gram formula above, never forming ``J``. ``"auto"``: the cheapest by
        :func:`empirical_ntk_cost`.
    trace : bool, default=False
        Return the trace over outputs, ``sum_o Theta(x, y)[o, o]``, of shape (n1, n2) (cheaper
        by a factor ``k`` for ``"jacobian"`` and ``"structured"``).
    layers : list of layers, default=None
        The network as a list of :class:`~skntk.architectures.Dense` and
        :class:`~skntk.architectures.Nonlinearity` layers alternating ``Dense, Nonlinearity,
        Dense, ..., Dense``, one Dense layer per pair of ``weights``: Dense layer ``i`` scales
        ``V_i`` by its ``weight_std / sqrt(n_i)`` and ``beta_i`` by its ``bias_std``, the
        Nonlinearity after it applies its activation (pointwise). The same list gives the
        infinite-width limit, ``skntk.kernels.kernel(X, layers=layers, kind="ntk")``. When given,
        ``activation``, ``weight_std`` and ``bias_std`` must keep their defaults; when None, the
        network is ``fully_connected(len(weights) - 1, activation, weight_std, bias_std)``.

    Returns
    -------
    ntk : array of shape (n1, n2, n_outputs, n_outputs), or (n1, n2) with ``trace=True``
        ``ntk[a, b, o, o'] = <d f_o(x_a)/d params, d f_o'(y_b)/d params>``; float32 when the
        inputs are float32, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.finite_width import empirical_ntk, init_mlp_weights
    >>> X = np.random.default_rng(0).standard_normal((4, 3))
    >>> w = init_mlp_weights(3, (16, 16), n_outputs=2, random_state=0)
    >>> K = empirical_ntk(X, weights=w, activation="erf", bias_std=0.1)
    >>> K.shape
    (4, 4, 2, 2)
    >>> all(np.allclose(K, empirical_ntk(X, weights=w, activation="erf", bias_std=0.1, method=m))
    ...     for m in ("jacobian", "ntvp"))
    True
    >>> np.allclose(empirical_ntk(X, weights=w, activation="erf", bias_std=0.1, trace=True),
    ...             np.trace(K, axis1=2, axis2=3))
    True

    The same network as a layer list, then one with different activations and standard
    deviations per layer; with wide layers it approaches the exact kernel of the same list:

    >>> from skntk.architectures import Dense, Nonlinearity, fully_connected
    >>> uniform = fully_connected(2, "erf", weight_std=1.0, bias_std=0.1)
    >>> bool(np.array_equal(empirical_ntk(X, weights=w, layers=uniform),
    ...                     empirical_ntk(X, weights=w, activation="erf", bias_std=0.1)))
    True
    >>> layers = [Dense(1.0, 0.1), Nonlinearity("erf"), Dense(1.5), Nonlinearity("relu"), Dense()]
    >>> empirical_ntk(X, weights=w, layers=layers).shape
    (4, 4, 2, 2)
    >>> from skntk.kernels import kernel
    >>> wide = init_mlp_weights(3, (2048, 2048), random_state=0)
    >>> K_wide = empirical_ntk(X, weights=wide, layers=layers, trace=True)
    >>> K_inf = kernel(X, layers=layers, kind="ntk")
    >>> bool(np.linalg.norm(K_wide - K_inf) < 0.1 * np.linalg.norm(K_inf))
    True
    """
    if method not in ("auto", *METHODS):
        raise ValueError(f"method must be one of {('auto', *METHODS)}, got {method!r}")
    X, Y, net = _prepare(X, Y, weights, activation, weight_std, bias_std, layers)
    n2 = None if Y is None else Y.shape[0]
    method = _choose_method(method, X.shape[0], n2, net.sizes, bool(trace))
    fn = {"jacobian": _ntk_jacobian, "ntvp": _ntk_ntvp, "structured": _ntk_structured}[method]
    return _finite(fn(net, X, Y, bool(trace)), "empirical_ntk")


# ----------------------------------------------------------------------------------------------
# The three algorithms
# ----------------------------------------------------------------------------------------------


def _finite(out, what):
    """``out``, after checking it is finite: large inputs overflow the finite network's
    float arithmetic (pre-activations grow like |x|, the NTK like |x|^2)."""
    xp = get_namespace(out)
    if not bool(xp.all(xp.isfinite(out))):
        raise ValueError(
            f"{what} produced non-finite values: the inputs (or weight_std) are too large for "
            "the float arithmetic of the network (pre-activations grow like |x| and the NTK "
            "like |x|^2 per layer); rescale X (e.g. StandardScaler)"
        )
    return out


def _finish(net, out, n1, n2):
    """(k n1, k n2), rows and columns output-major -> (n1, n2, k, k)."""
    xp, k = net.xp, net.k
    out = xp.permute_dims(xp.reshape(out, (k, n1, k, n2)), (1, 3, 0, 2))
    return np.ascontiguousarray(out) if is_numpy_namespace(xp) else out


def _zeros(net, shape):
    V = net.V[0]
    return net.xp.zeros(shape, dtype=V.dtype, device=_device(net.xp, V))


def _input_major(net, G):
    """(k, n, m) -> (n, k m): all outputs of one input on one row."""
    k, n, m = G.shape
    return net.xp.reshape(net.xp.permute_dims(G, (1, 0, 2)), (n, k * m))


def _ntk_structured(net, X, Y, trace):
    xp, k = net.xp, net.k
    n1 = X.shape[0]
    n2 = n1 if Y is None else Y.shape[0]
    iter_y = None if Y is None else net.layers(Y)
    out = ident = None
    for i, hx, Gx in net.layers(X):
        if iter_y is None:
            hy, Gy = hx, Gx
        else:
            _, hy, Gy = next(iter_y)
        H = _gram(hx, hy, xp)  # (n1, n2) Gram of the layer inputs
        H *= net.scales[i] ** 2
        b2 = net.bias_stds[i] ** 2
        if b2:
            H += b2
        if Gx is None:  # readout: G G^T = I_k
            ident = H
            continue
        if trace:  # sum_o G[o] G'[o]^T as one product over (output, unit) pairs
            A = _input_major(net, Gx)
            term = A @ A.T if Gy is Gx else A @ _input_major(net, Gy).T
            term *= H
        else:  # (k n1, k n2) Gram of the gradients, times H broadcast over output pairs
            m = Gx.shape[2]
            A = xp.reshape(Gx, (k * n1, m))
            term = A @ A.T if Gy is Gx else A @ xp.reshape(Gy, (k * n2, m)).T
            term = xp.reshape(term, (k, n1, k, n2))
            term *= H[None, :, None, :]
        if out is None:
            out = term
        else:
            out += term
    if trace:
        ident *= k
        if out is None:
            return ident
        out += ident
        return out
    if out is None:
        out = _zeros(net, (k, n1, k, n2))
    for o in range(k):
        out[o, :, o, :] += ident
    return _finish(net, xp.reshape(out, (k * n1, k * n2)), n1, n2)


def _jacobian_blocks(net, i, h, G, trace):
    """Yield the Jacobian of all inputs w.r.t. blocks of layer ``i``'s parameters.

    Rows are ``(output, input)`` pairs (for ``trace``: inputs, with all outputs' columns side
    by side); columns are the weights ``V_i[:, units]`` of a chunk of output units (sized so a
    block stays under ``_BLOCK_BYTES``), then the biases ``beta_i``.
    """
    xp, c, k = net.xp, net.scales[i], net.k
    m = G.shape[2]
    n, a = h.shape
    chunk = max(1, _BLOCK_BYTES // (8 * max(1, n * k * a)))
    ch = c * h
    if trace:
        Gp = xp.permute_dims(G, (1, 0, 2))  # (n, k, m)
        for sl in gen_batches(m, chunk):
            J = ch[:, None, :, None] * Gp[:, :, None, sl]  # (n, k, a, s)
            yield xp.reshape(J, (n, -1))
            del J  # one block alive at a time
        yield xp.reshape(net.bias_stds[i] * Gp, (n, k * m))
    else:
        for sl in gen_batches(m, chunk):
            J = ch[None, :, :, None] * G[:, :, None, sl]  # (k, n, a, s)
            yield xp.reshape(J, (k * n, -1))
            del J
        yield xp.reshape(net.bias_stds[i] * G, (k * n, m))


def _ntk_jacobian(net, X, Y, trace):
    n1 = X.shape[0]
    n2 = n1 if Y is None else Y.shape[0]
    iter_y = None if Y is None else net.layers(_dense(Y), explicit_identity=True)
    out = None
    for i, hx, Gx in net.layers(_dense(X), explicit_identity=True):
        blocks_x = _jacobian_blocks(net, i, hx, Gx, trace)
        if iter_y is not None:
            _, hy, Gy = next(iter_y)
            blocks_y = _jacobian_blocks(net, i, hy, Gy, trace)
        for Jx in blocks_x:
            if iter_y is None:
                term = Jx @ Jx.T
            else:
                Jy = next(blocks_y)
                term = Jx @ Jy.T
                del Jy
            del Jx  # free the block before the next one is formed
            if out is None:
                out = term
            else:
                out += term
    return out if trace else _finish(net, out, n1, n2)


def _ntk_ntvp(net, X, Y, trace):
    xp, k = net.xp, net.k
    Y = X if Y is None else Y
    n1, n2 = X.shape[0], Y.shape[0]
    sizes, L = net.sizes, net.depth
    hsX, DsX, _ = net.forward(X)
    cV = [c * V for c, V in zip(net.scales, net.V, strict=True)]
    per_tangent = 8 * (net.n_params + 3 * n1 * max(sizes))
    rows = max(1, _BLOCK_BYTES // (per_tangent * k))
    out = _zeros(net, (n1, n2) if trace else (n1, n2, k, k))
    for sl in gen_batches(n2, rows):
        Yb = _dense(Y[sl, :])
        B = Yb.shape[0]
        T = k * B  # tangents t = (output o', point j), t = o' B + j
        # Reverse mode on the block: J(y_j)^T e_o' is, for layer i, the weight cotangent
        # c_i h_i(y_j) (x) G_i(y_j)[o'] and the bias cotangent b G_i(y_j)[o'].
        hsY, Gs = [None] * (L + 1), [None] * (L + 1)
        for i, h, G in net.layers(Yb, explicit_identity=True):
            hsY[i], Gs[i] = h, G
        # Forward mode (JVP) through the network on all of X for the T tangents at once:
        # d z_{i+1} = c_i (h_i dV_i + dh_i V_i) + b_i dbeta_i,
        # dh_{i+1} = act_{i+1}'(z_{i+1}) d z_{i+1};
        # the scales c_i are folded into dV_i and V_i. dz has shape (n1, T, n_{i+1}).
        dh = None
        for i in range(L + 1):
            a, m, b = sizes[i], sizes[i + 1], net.bias_stds[i]
            Gt = xp.reshape(Gs[i], (T, m))
            ht = xp.reshape(
                xp.broadcast_to((net.scales[i] ** 2 * hsY[i])[None, :, :], (k, B, a)), (T, a)
            )
            dV = xp.reshape(ht.T[:, :, None] * Gt[None, :, :], (a, T * m))
            dz = xp.reshape(hsX[i] @ dV, (n1, T, m))
            if dh is not None:
                dz += xp.reshape(xp.reshape(dh, (n1 * T, a)) @ cV[i], (n1, T, m))
            if b:
                dz += (b * b) * Gt[None, :, :]
            if i < L:
                dz *= DsX[i][:, None, :]
                dh = dz
        # dz[x, (o', j), o] = Theta(x, y_j)[o, o']
        res = xp.reshape(dz, (n1, k, B, k))
        if trace:
            acc = res[:, 0, :, 0]
            for o in range(1, k):
                acc = acc + res[:, o, :, o]
            out[:, sl] = acc
        else:
            out[:, sl, :, :] = xp.permute_dims(res, (0, 2, 3, 1))
    return out


# ----------------------------------------------------------------------------------------------
# Jacobian features and their random projection
# ----------------------------------------------------------------------------------------------


def _n_jacobian_features(sizes):
    """Columns of the exact output-averaged Jacobian features (see FiniteWidthNTK)."""
    k = sizes[-1]
    hidden = sum((a + 1) * m for a, m in zip(sizes[:-2], sizes[1:-1], strict=True))
    return k * hidden + sizes[-2] + 1


def _draw_projection(sizes, n_components, rng):
    """Gaussian factors ``(A_i, B_i)`` of the tensor-product sketch, per Dense layer.

    ``A_i`` is (m_i, n_i + 1); ``B_i`` is (m_i, k n_{i+1}) for the hidden layers and None for the
    readout, whose gradient Gram is the identity. Every layer gets ``q = m // (L + 1)``
    components and ``r = m mod (L + 1)`` randomly chosen layers one more, so that
    ``E[m_i] = m / (L + 1)`` for every layer: with every component scaled by
    ``sqrt((L + 1) / m)`` the sketch is unbiased for any ``m >= 1``.
    """
    L, k = len(sizes) - 2, sizes[-1]
    n_layers = L + 1
    q, r = divmod(int(n_components), n_layers)
    ms = np.full(n_layers, q)
    if r:
        ms[rng.choice(n_layers, size=r, replace=False)] += 1
    proj = []
    for i, m in enumerate(ms):
        A = rng.standard_normal((int(m), sizes[i] + 1))
        B = rng.standard_normal((int(m), k * sizes[i + 1])) if i < L else None
        proj.append((A, B))
    return proj


def _features(net, X, projection):
    """Output-averaged Jacobian features ``Z`` with ``Z Z^T = (1/k) sum_o Theta[..., o, o]``."""
    xp, k = net.xp, net.k
    n = X.shape[0]
    exact = projection is None
    if not exact:  # every component carries sqrt((L + 1) / m), see _draw_projection
        scale = math.sqrt(len(projection) / sum(A.shape[0] for A, _ in projection))
    per_layer = {}
    for i, h, G in net.layers(_dense(X) if exact else X):
        c, b = net.scales[i], net.bias_stds[i]
        if exact:
            if G is None:  # readout: [c h_L, b] (the k outputs' blocks collapse into one)
                ones = xp.ones((n, 1), dtype=h.dtype, device=_device(xp, h))
                per_layer[i] = [c * h, b * ones]
                continue
            Gk = G / math.sqrt(k)
            blocks = []
            for o in range(k):
                g = Gk[o, :, :]
                blocks.append(xp.reshape((c * h)[:, :, None] * g[:, None, :], (n, -1)))
                blocks.append(b * g)
            per_layer[i] = blocks
            continue
        A, B = projection[i]
        A = _to_namespace(A, xp, net.V[0].dtype, net.V[0])
        U = c * _gram(h, A[:, :-1], xp) + b * A[:, -1][None, :]  # (n, m_i): A [c h, b]
        if G is None:
            per_layer[i] = [U * scale]
        else:
            B = _to_namespace(B, xp, net.V[0].dtype, net.V[0])
            Gflat = _input_major(net, G)  # (n, k n_{i+1}): vec(G_i(x)) per row
            per_layer[i] = [U * (Gflat @ B.T) * (scale / math.sqrt(k))]
    return xp.concat([blk for i in sorted(per_layer) for blk in per_layer[i]], axis=1)


def empirical_ntk_features(X, *, weights, activation="relu", weight_std=1.0, bias_std=0.0,
                           n_components=None, random_state=None, layers=None):
    r"""Jacobian features of a finite network: ``Z Z^T`` is the output-averaged empirical NTK.

    Exact features (``n_components=None``): for hidden layer ``i`` and output ``o`` the Jacobian
    blocks ``c_i h_i(x) (x) G_i(x)[o]`` (weights, row-major ``(fan_in, fan_out)``) and
    ``b_i G_i(x)[o]`` (biases), divided by ``sqrt(k)``; the readout's ``k`` blocks, which are
    ``[c_L h_L, b_L] (x) e_o``, collapse exactly into the single block ``[c_L h_L(x), b_L]``. Column
    order: layer 0 (output 0 weights, output 0 biases, output 1 weights, ...), ..., layer
    ``L-1``, readout. So ``Z Z^T = (1/k) sum_o Theta(x, y)[o, o]`` exactly, with
    ``k sum_{i<L} (n_i + 1) n_{i+1} + n_L + 1`` columns (the number of parameters when ``k=1``).

    Random projection (``n_components=m``): an unbiased sketch that never forms the Jacobian.
    Layer ``i``'s block of the output-averaged kernel is ``<u_i(x), u_i(y)> <g_i(x), g_i(y)>`` with
    ``u_i = [c_i h_i, b_i]`` and ``g_i = vec(G_i) / sqrt(k)``: a tensor product. Layer ``i`` gets
    ``m_i`` of the ``m`` components: ``m // (L + 1)`` each, plus one for ``m mod (L + 1)``
    randomly chosen layers, so that ``E[m_i] = m / (L + 1)``. With independent standard
    Gaussian matrices ``A_i`` (``m_i x (n_i + 1)``) and ``B_i`` (``m_i x k n_{i+1}``), the
    Gaussian tensor-product sketch ``phi_i(x) = (A_i u_i(x)) * (B_i g_i(x)) sqrt((L + 1) / m)``
    satisfies ``E[<phi_i(x), phi_i(y)>] = <u_i(x), u_i(y)> <g_i(x), g_i(y)>`` (each component
    contributes ``E[(a.u)(a.u')] E[(b.g)(b.g')] = <u, u'> <g, g'>`` by independence of ``a`` and
    ``b`` and ``E[a a^T] = I``), so the whole sketch is unbiased for every ``m >= 1``. The
    readout's gradient Gram is 1, so its block is a plain Gaussian projection
    ``A_L u_L(x) sqrt((L + 1) / m)``. Cost ``O(n m_i (n_i + k n_{i+1}))`` per layer, memory
    for ``A_i, B_i`` of ``m_i (n_i + 1 + k n_{i+1})`` numbers.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    weights, activation, weight_std, bias_std
        As in :func:`empirical_ntk`.
    n_components : int or None, default=None
        None for the exact features, else the number ``m`` of random components.
    random_state : int, RandomState instance or None, default=None
        Draws the projection (on the host); ignored without ``n_components``.
    layers : list of layers, default=None
        The network as an alternating list ``Dense, Nonlinearity, ..., Dense`` instead of
        ``activation``, ``weight_std`` and ``bias_std`` (see :func:`empirical_ntk`).

    Returns
    -------
    Z : array of shape (n_samples, n_features_out)

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.finite_width import empirical_ntk, empirical_ntk_features, init_mlp_weights
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> w = init_mlp_weights(3, (8,), n_outputs=2, random_state=0)
    >>> Z = empirical_ntk_features(X, weights=w, bias_std=0.5)
    >>> Z.shape  # k (3 + 1) 8 + 8 + 1
    (5, 73)
    >>> np.allclose(Z @ Z.T, empirical_ntk(X, weights=w, bias_std=0.5, trace=True) / 2)
    True

    With a layer list (different activations and standard deviations per layer):

    >>> from skntk.architectures import Dense, Nonlinearity
    >>> layers = [Dense(1.0, 0.1), Nonlinearity("erf"), Dense(1.5), Nonlinearity("relu"), Dense()]
    >>> w2 = init_mlp_weights(3, (8, 8), n_outputs=2, random_state=0)
    >>> Z = empirical_ntk_features(X, weights=w2, layers=layers)
    >>> np.allclose(Z @ Z.T, empirical_ntk(X, weights=w2, layers=layers, trace=True) / 2)
    True
    """
    X, _, net = _prepare(X, None, weights, activation, weight_std, bias_std, layers)
    projection = None
    if n_components is not None:
        if not isinstance(n_components, numbers.Integral) or n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
        projection = _draw_projection(net.sizes, int(n_components), check_random_state(
            random_state))
    return _finite(_features(net, X, projection), "empirical_ntk_features")


# ----------------------------------------------------------------------------------------------
# Estimator
# ----------------------------------------------------------------------------------------------


def _check_widths(widths):
    if isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
        widths = (widths,)
    try:
        out = tuple(widths)
    except TypeError:
        raise ValueError(
            f"widths must be a sequence of positive integers, got {widths!r}"
        ) from None
    if not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1
               for w in out):
        raise ValueError(f"widths must be a sequence of positive integers, got {widths!r}")
    return tuple(int(w) for w in out)


class FiniteWidthNTK(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Jacobian features of a randomly initialized finite network (the empirical NTK).

    ``fit`` draws the weights of a fully connected network with hidden ``widths``, ``n_outputs``
    outputs and the NTK parameterization ``z_{i+1} = (W_i / sqrt(n_i)) h_i V_i + b_i beta_i``
    (see :func:`mlp_apply`), ``V_i, beta_i ~ N(0, 1)``; ``W_i``, ``b_i`` and the activations are
    ``weight_std``, ``bias_std`` and ``activation`` for every layer, or those of the layer list
    ``layers``. ``transform`` returns features ``Z`` with

    .. math::

        Z(x) Z(y)^T = \frac{1}{k} \sum_{o=1}^{k} \Theta(x, y)_{oo}
        = \frac{1}{k} \sum_o \langle \nabla_\theta f_o(x), \nabla_\theta f_o(y) \rangle,

    the empirical NTK averaged over the ``k`` outputs: the exact Jacobian
    (:func:`empirical_ntk_features`, about ``k`` times the number of parameters of columns) or,
    with ``n_components``, an unbiased Gaussian tensor-product sketch of it computed without
    forming the Jacobian. As the widths grow, ``Z Z^T`` tends to
    :func:`skntk.kernels.ntk_kernel` with ``depth=len(widths)`` (with ``layers``:
    ``skntk.kernels.kernel(X, layers=layers, kind="ntk")``), at rate ``1/sqrt(width)``.

    Parameters
    ----------
    widths : sequence of int, default=(512, 512)
        Hidden layer widths (an int means one hidden layer; empty means a linear model).
    activation : str, Activation or callable, default="relu"
        Pointwise activation, see :func:`skntk.activations.get_activation`.
    weight_std : float, default=1.0
        ``W``.
    bias_std : float, default=0.0
        ``b``.
    n_outputs : int, default=1
        Number of outputs ``k`` of the network.
    n_components : int or None, default=None
        None: exact Jacobian features; an int ``m``: unbiased random projection to ``m``
        columns (split evenly over the Dense layers, see :func:`empirical_ntk_features`).
    method : {"auto", "jacobian", "ntvp", "structured"}, default="auto"
        Algorithm of :meth:`kernel` (see :func:`empirical_ntk`).
    random_state : int, RandomState instance or None, default=None
        Draws the weights, then the projection. The weights do not depend on
        ``n_components``.
    layers : list of layers, default=None
        The network as a list of :class:`~skntk.architectures.Dense` and
        :class:`~skntk.architectures.Nonlinearity` layers alternating ``Dense, Nonlinearity,
        ..., Dense``, with ``len(widths) + 1`` Dense layers (the hidden widths still come from
        ``widths``), each with its own ``weight_std`` and ``bias_std`` and each Nonlinearity
        with its own activation: the list that :func:`skntk.kernels.kernel` takes. When given,
        ``activation``, ``weight_std`` and ``bias_std`` must keep their defaults; when None,
        the network is ``fully_connected(len(widths), activation, weight_std, bias_std)``.

    Attributes
    ----------
    weights_ : list of (ndarray, ndarray)
        ``[(V_0, beta_0), ..., (V_L, beta_L)]``, float64, usable with :func:`mlp_apply` and
        :func:`empirical_ntk`.
    projection_ : list of (ndarray, ndarray or None) or None
        Gaussian sketch factors ``(A_i, B_i)`` per Dense layer (None without ``n_components``).
    activation_ : Activation or None
        The resolved activation (None when ``layers`` is given).
    layers_ : list of layers
        The network as a layer list: ``layers``, or the ``fully_connected`` list of
        ``activation``, ``weight_std`` and ``bias_std``.
    layer_sizes_ : tuple of int
        ``(n_features_in_, *widths, n_outputs)``.
    n_params_ : int
        Number of parameters of the network.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names.

    See Also
    --------
    empirical_ntk : the (n1, n2, k, k) empirical NTK with a choice of algorithm.
    skntk.kernels.ntk_kernel : the infinite-width limit.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.finite_width import FiniteWidthNTK
    >>> X = np.random.default_rng(0).standard_normal((6, 4))
    >>> est = FiniteWidthNTK(widths=(32, 32), random_state=0).fit(X)
    >>> Z = est.transform(X)
    >>> Z.shape, est.n_params_  # k = 1: one column per parameter
    ((6, 1249), 1249)
    >>> np.allclose(Z @ Z.T, est.kernel(X))
    True
    >>> est.set_params(n_components=300).fit(X).transform(X).shape
    (6, 300)

    Per-layer activations and standard deviations through a layer list:

    >>> from skntk.architectures import Dense, Nonlinearity
    >>> layers = [Dense(1.0, 0.1), Nonlinearity("erf"), Dense(1.5), Nonlinearity("relu"), Dense()]
    >>> est = FiniteWidthNTK(widths=(32, 32), layers=layers, random_state=0).fit(X)
    >>> est.transform(X).shape
    (6, 1249)
    >>> np.allclose(est.transform(X) @ est.transform(X).T, est.kernel(X))
    True
    """

    _parameter_constraints: dict = {
        "widths": [list, tuple, Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [str, Activation, callable],
        "weight_std": [WEIGHT_STD],
        "bias_std": [BIAS_STD],
        "n_outputs": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "method": [StrOptions({"auto", *METHODS})],
        "random_state": ["random_state"],
        "layers": [None, list, tuple],
    }

    def __init__(self, widths=(512, 512), *, activation="relu", weight_std=1.0, bias_std=0.0,
                 n_outputs=1, n_components=None, method="auto", random_state=None,
                 layers=None):
        self.widths = widths
        self.activation = activation
        self.weight_std = weight_std
        self.bias_std = bias_std
        self.n_outputs = n_outputs
        self.n_components = n_components
        self.method = method
        self.random_state = random_state
        self.layers = layers

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the network's weights (and the projection) for inputs like ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Only its number of features is used.
        y : None
            Ignored.

        Returns
        -------
        self : FiniteWidthNTK
        """
        _dask.reject_dask_fit(self, X)
        self._record_namespace(X)
        X = self._validate(X, reset=True)
        widths = _check_widths(self.widths)
        _resolve_layers(self.layers, self.activation, self.weight_std, self.bias_std,
                        len(widths) + 1, source=f"widths={widths} needs {len(widths) + 1}")
        if self.layers is None:
            self.activation_ = _check_activation(self.activation)
            self.layers_ = fully_connected(len(widths), self.activation_,
                                           float(self.weight_std), float(self.bias_std))
        else:
            self.activation_ = None
            self.layers_ = list(self.layers)
        sizes = (self.n_features_in_, *widths, int(self.n_outputs))
        rng = check_random_state(self.random_state)
        self.weights_ = init_mlp_weights(sizes[0], widths, sizes[-1], random_state=rng)
        self.projection_ = (
            None
            if self.n_components is None
            else _draw_projection(sizes, int(self.n_components), rng)
        )
        self.layer_sizes_ = sizes
        self.n_params_ = int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))
        return self

    # scikit-learn's rule under array_api_dispatch (transform and kernel take arrays of fit's
    # namespace and device), shared with the feature maps
    _record_namespace = FeatureMapMixin._record_namespace
    _check_same_namespace = FeatureMapMixin._check_same_namespace

    def _validate(self, X, reset):
        # An array of another namespace (CuPy, array-API) is checked where it lives:
        # validate_data would convert it to NumPy (dispatch off) or reject NumPy dtypes (on).
        if foreign_namespace(X) is not None:
            return validate_namespace_array(self, X, reset)
        return validate_data(
            self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32), reset=reset
        )

    def _network(self, X):
        return _prepare(X, None, self.weights_, "relu", 1.0, 0.0, layers=self.layers_)

    def transform(self, X):
        """Jacobian features (exact, or their random projection with ``n_components``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        Z : array of shape (n_samples, n_features_out)
            ``Z Z^T`` is (an unbiased estimate of) the output-averaged empirical NTK; dtype of X.
            For an array of another namespace (CuPy, array-API), an array of that namespace
            on X's device, whatever ``array_api_dispatch`` says.
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):  # lazy, block by block (skntk._dask.transform_blocks)
            return _dask.transform_blocks(self, X)
        self._check_same_namespace(X, "transform")
        X = self._validate(X, reset=False)
        X, _, net = self._network(X)
        return _finite(_features(net, X, self.projection_), type(self).__name__)

    def kernel(self, X, Y=None):
        """Output-averaged empirical NTK ``(1/k) sum_o Theta(x, y)[o, o]`` (no projection).

        Uses ``method`` (by default the cheapest, structured derivatives for any real network).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n1, n_features)
        Y : {array-like, sparse matrix} of shape (n2, n_features), default=None
            If None, ``Y = X``.

        Returns
        -------
        K : array of shape (n1, n2)
            In the namespace and on the device of ``X`` (as ``transform``).
        """
        check_is_fitted(self)
        self._check_same_namespace(X, "kernel")
        X = self._validate(X, reset=False)
        if Y is not None:
            self._check_same_namespace(Y, "kernel")
            Y = self._validate(Y, reset=False)
        K = empirical_ntk(
            X, Y, weights=self.weights_, layers=self.layers_, method=self.method, trace=True,
        )
        return _finite(K / self.layer_sizes_[-1], type(self).__name__)

    @property
    def _n_features_out(self):
        if self.n_components is not None:
            return int(self.n_components)
        return _n_jacobian_features(self.layer_sizes_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
