r"""NTKRandomFeatures: Monte-Carlo random features of the NNGP and NTK of fully connected nets.

Every hidden layer draws a Gaussian matrix and applies the activation to the random
pre-activations (the network at finite width ``m``, one sample of its weights); the derivative
features are combined with the previous NTK features by a degree-2 tensor sketch
(:class:`skntk.sketching.TensorSRHT`). For ReLU these are the arc-cosine features of order 1
(the values) and order 0 (the derivatives), optionally with leverage-score sampling of the
Gaussian directions (Han, Avron, Shoham, Kim and Shin, *Random features for the neural tangent
kernel*, 2021), drawn here exactly from its radial representation.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._estimator import FeatureMapMixin, activation_constraint
from .activations import get_activation
from .sketching import TensorSRHT

__all__ = ["NTKRandomFeatures", "sample_leverage_gaussian"]

# rows of a Gaussian matrix drawn at once (bounds the float64 temporary when storing float32)
_DRAW_CHUNK = 512


def sample_leverage_gaussian(dim, n_samples, rng, dtype=np.float64):
    r"""Exact samples from the density ``p(w) = |w|^2 N(w; 0, I_dim) / dim``.

    In polar coordinates ``w = r u`` the density factors into a uniform direction ``u`` on the
    sphere and a radius with ``r^2 ~ chi^2(dim + 2)`` (the factor ``|w|^2 = r^2`` turns the
    ``chi^2(dim)`` law of ``|g|^2``, density ``~ t^{dim/2-1} e^{-t/2}``, into
    ``~ t^{dim/2} e^{-t/2}``, i.e. ``chi^2(dim + 2)``). So ``w = r g/|g|`` with
    ``g ~ N(0, I)`` and an independent ``r = sqrt(chi^2(dim + 2))``: no Markov chain needed.

    Parameters
    ----------
    dim : int
    n_samples : int
    rng : RandomState or Generator
    dtype : numpy dtype, default=float64

    Returns
    -------
    w : ndarray of shape (dim, n_samples)
        One sample per column.
    radius_sq : ndarray of shape (n_samples,)
        ``|w|^2`` (float64).

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.random_features import sample_leverage_gaussian
    >>> w, r2 = sample_leverage_gaussian(5, 3, np.random.default_rng(0))
    >>> w.shape, bool(np.allclose((w**2).sum(axis=0), r2))
    ((5, 3), True)
    """
    gen = _generator(rng)
    g = _gaussian(gen, dim, n_samples, dtype)
    norms = np.sqrt(np.einsum("ij,ij->j", g, g, dtype=np.float64))
    norms[norms == 0] = 1.0
    radius_sq = gen.chisquare(dim + 2, size=n_samples)
    g *= (np.sqrt(radius_sq) / norms).astype(dtype)[None, :]
    return g, radius_sq


def _generator(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    rng = check_random_state(rng)
    return np.random.default_rng(rng.randint(0, 2**31 - 1, size=4))


def _gaussian(gen, rows, cols, dtype):
    """Standard Gaussian (rows, cols) drawn in float64 chunks and stored in ``dtype`` (so float32
    and float64 fits with the same seed use the same numbers up to rounding)."""
    out = np.empty((rows, cols), dtype=dtype)
    for start in range(0, rows, _DRAW_CHUNK):
        stop = min(start + _DRAW_CHUNK, rows)
        out[start:stop] = gen.standard_normal((stop - start, cols))
    return out


class NTKRandomFeatures(FeatureMapMixin):
    r"""Monte-Carlo random features of the NTK (or NNGP) of a fully connected network.

    ``transform(X) @ transform(Y).T`` approximates :func:`skntk.kernels.ntk_kernel` (or, with
    ``kernel="nngp"``, :func:`skntk.kernels.nngp_kernel`) with the same ``depth``,
    ``activation``, ``weight_std`` and ``bias_std``. It is unbiased at ``depth=1`` for every
    activation; deeper, composing random layers leaves a bias of order ``1/n_components``.

    **Algorithm** (NTK parameterization, ``W = weight_std``, ``b = bias_std``). The input
    features are ``a_0(x) = [W x/sqrt(d), b]`` (the bias entry only when ``b > 0``), so that
    ``<a_0(x), a_0(y)> = q_1(x, y)``, the first pre-activation covariance, and the NTK features
    start as ``psi_0 = a_0``. Layer ``l = 1..L`` draws ``G_l`` with i.i.d. ``N(0, 1)`` entries
    (``D_l x m``, ``D_l`` the length of ``a_{l-1}``) and sets

    .. math::

        z = a_{l-1}(x) G_l, \qquad
        \phi_l(x) = \sigma(z) / \sqrt{m}, \qquad
        \dot\phi_l(x) = \sigma'(z) / \sqrt{m},

    ``a_l = [W phi_l, b]`` and ``psi_l = [W phi_l, b, W T_l(psi_{l-1}, dphi_l)]`` with
    ``T_l`` a :class:`~skntk.sketching.TensorSRHT`. Each column ``g`` of ``G_l`` makes
    ``(a(x) g, a(y) g)`` a centred Gaussian pair with covariance ``q_l``, so
    ``E <phi_l(x), phi_l(y)> = E[sigma(u) sigma(v)]`` (the NNGP layer) and
    ``E <dphi_l(x), dphi_l(y)> = E[sigma'(u) sigma'(v)]``; with ``E <T(a, b), T(a', b')> =
    <a, a'> <b, b'>`` this reproduces the NTK recursion ``T <- q_new + W^2 T E[sigma' sigma']``.
    The output is ``[W phi_L, b]`` (NNGP) or ``psi_L`` (NTK). At depth 1 everything entering
    a random map is exact, hence the estimate is unbiased. For ReLU, ``sigma(z) = max(z, 0)``
    and ``sigma' = 1[z > 0]`` are the arc-cosine features of order 1 and 0.

    **Column budget.** The output has exactly ``n_components`` columns: one for the bias (when
    ``b > 0``), the rest shared by ``phi_L`` and the tensor part of ``psi_L`` in proportion to
    their diagonal sizes ``s_phi = W^2 E[sigma^2]`` and ``s_T = W^2 T_{L-1} E[sigma'^2]`` (the
    scalar recursion at the median squared norm of the training rows): minimizing
    ``sum_i c_i s_i^2 / m_i`` under ``sum_i m_i = M`` gives ``m_i ~ sqrt(c_i) s_i``. The tensor
    features are products of two random factors, so their relative variance ``c_T`` is larger;
    ``s_T`` is weighted by 1.5 (tuned on ReLU, depth 2, Gaussian data: about 2 % lower error
    than 1.0). With too few columns for one per block (``n_components`` of 1 or 2), a single
    column holds a random-sign sum of the one-column blocks (still unbiased).

    **Widths.** Hidden layers have width ``h = hidden_width`` (default ``n_components``) for
    ``phi`` and for the tensor part, so a hidden layer after the first costs an ``h x h``
    Gaussian matrix (memory ``8 h^2`` bytes, 1.2 GB at ``h = 12288`` in float64, half in
    float32: the matrices are stored in the dtype of the data passed to ``fit``) and
    ``O(h^2)`` flops per row. The last layer draws ``n_components`` columns: ``dphi_L`` uses all
    of them, ``phi_L`` the first ``phi_dim_``; both are unbiased. The bias at depth >= 2 comes
    from the hidden layers and is ``O(1/h)``.

    **Leverage-score sampling** (``leverage_sampling=True``; activations homogeneous of degree
    1, e.g. ReLU). The columns of ``G_l`` are drawn from ``p(w) = |w|^2 N(w; 0, I_D) / D``
    instead of ``N(0, I_D)`` (``E_N |w|^2 = D`` normalizes it). Exactly and in O(D m):
    ``w = r u`` with ``u`` uniform on the sphere and ``r^2 ~ chi^2(D + 2)``
    (:func:`sample_leverage_gaussian`). Importance weighting keeps the estimates unbiased:
    ``E_N[f(w)] = E_p[f(w) N(w) / p(w)] = E_p[f(w) D / |w|^2]``, i.e. each feature is
    multiplied by ``sqrt(N(w)/p(w)) = sqrt(D) / |w|``. This weight is applied to the
    **order-1** features ``sigma(z)``: by homogeneity
    ``sigma(a w) sqrt(D)/|w| = sqrt(D) sigma(a u)``, so the radial noise of plain Gaussian
    features disappears. The **order-0** features ``sigma'(z) = 1[a w > 0]`` depend on the
    direction ``u`` only, which is uniform under both ``N`` and ``p``: they are unbiased without
    any weight (the weight ``sqrt(D)/|w|`` would also be unbiased, since ``E_p[D/|w|^2] = 1``,
    but would only add variance), so none is applied.

    Parameters
    ----------
    n_components : int, default=1024
        Number of output features (exactly); also the default width of hidden layers.
    depth : int, default=1
        Number of hidden layers (activations).
    activation : str, Activation or callable, default="relu"
        See :func:`skntk.activations.get_activation`; it needs a pointwise form
        (``normalized_gaussian`` has none).
    kernel : {"ntk", "nngp"}, default="ntk"
        Which kernel the features approximate.
    weight_std, bias_std : float, default=1.0, 0.0
        ``W`` and ``b`` of every Dense layer (NTK parameterization).
    leverage_sampling : bool, default=False
        Draw the Gaussian directions from the leverage density (see above). Requires an
        activation homogeneous of degree 1 (relu, leaky_relu, abs, abrelu).
    hidden_width : int or None, default=None
        Width ``h`` of the hidden layers (all but the last); None means ``n_components``.
    random_state : int, RandomState instance or None, default=None
        Seeds all randomness (drawn in ``fit``).
    batch_size : int or "auto", default="auto"
        Rows per batch in ``transform``.
    n_jobs : int, default=None
        Threads over batches in ``transform``.
    verbose : int, default=0
        Progress of ``transform`` on stderr.

    Attributes
    ----------
    activation_ : Activation
    weights_ : list of ndarray
        ``G_l`` of shape ``(D_l, m)``; with ``bias_std > 0`` the last row multiplies ``b``.
    feature_scales_ : list of ndarray
        Per-column multipliers of ``sigma(z)``: ``1/sqrt(m)``, times ``sqrt(D)/|w|`` with
        leverage sampling.
    phi_dim_ : int
        Columns of ``W phi_L`` in the output.
    tensor_dim_ : int
        Columns of the tensor part of the output (0 for ``kernel="nngp"``).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.random_features import NTKRandomFeatures
    >>> from skntk.kernels import ntk_kernel
    >>> X = np.random.RandomState(0).randn(40, 10)
    >>> Z = NTKRandomFeatures(n_components=4096, random_state=0).fit_transform(X)
    >>> K = ntk_kernel(X)
    >>> bool(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K) < 0.1)
    True
    """

    # relative noise of the tensor part versus the NNGP part in the column split (see fit)
    _tensor_weight = 1.5

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "activation": activation_constraint(),
        "kernel": [StrOptions({"ntk", "nngp"})],
        "weight_std": [Interval(numbers.Real, 0, None, closed="left")],
        "bias_std": [Interval(numbers.Real, 0, None, closed="left")],
        "leverage_sampling": ["boolean"],
        "hidden_width": [Interval(numbers.Integral, 1, None, closed="left"), None],
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
        hidden_width=None,
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
        self.hidden_width = hidden_width
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the Gaussian matrices and tensor sketches of every layer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sets ``n_features_in_``, the storage dtype of the random matrices, and (through
            the median squared row norm) the split of the output columns.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X = self._validate(X, reset=True)
        act = get_activation(self.activation)
        if not act.has_pointwise_form:
            raise ValueError(
                f"activation {act!r} has no pointwise form; random features need one"
            )
        if self.leverage_sampling and act.homogeneity != 1:
            raise ValueError(
                "leverage_sampling=True needs an activation homogeneous of degree 1 "
                "(relu, leaky_relu, abs, abrelu)"
            )
        self.activation_ = act
        want_ntk = self.kernel == "ntk"
        W, b = float(self.weight_std), float(self.bias_std)
        has_bias = b > 0
        d = X.shape[1]
        m = int(self.n_components)
        budget = m - has_bias
        # column split of the last layer by the scalar recursion of the diagonal at the median
        # squared norm (the activation's exact second moments; only a budget split)
        if sp.issparse(X):
            sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
        else:
            sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        q = W * W * float(np.median(sq)) / d + b * b
        t = q
        for layer in range(self.depth):
            qa = np.array(q, dtype=np.float64)
            e_act, e_der = act.duals(qa, qa, qa.copy(), want_ntk)
            e_act, e_der = float(e_act), float(e_der) if want_ntk else 0.0
            q_next = W * W * e_act + b * b
            if layer == self.depth - 1:
                phi_size, t_size = W * W * e_act, W * W * t * e_der
            else:
                t, q = q_next + W * W * t * e_der, q_next
        if want_ntk:
            t_size = t_size * self._tensor_weight
            total = phi_size + t_size
            frac = t_size / total if np.isfinite(total) and total > 0 else 0.5
            t_dim = int(np.clip(round(budget * frac), 1, budget - 1)) if budget > 1 else 1
        else:
            t_dim = 0
        # Too few columns for one per block ([W phi, b, W T]): a single column holds the sum of
        # the one-column blocks with random signs, whose cross terms average out (unbiased).
        self._merge_signs = None
        if budget < 1 + want_ntk:
            n_blocks = 1 + has_bias + want_ntk
            signs = check_random_state(self.random_state).choice([-1.0, 1.0], n_blocks)
            self._merge_signs = signs
            budget, t_dim = 1 + want_ntk, int(want_ntk)
        self.phi_dim_ = budget - t_dim
        self.tensor_dim_ = t_dim

        rng = check_random_state(self.random_state)
        gen = _generator(rng)
        store = X.dtype
        self.weights_, self.feature_scales_, self._tensors = [], [], []
        h = m if self.hidden_width is None else int(self.hidden_width)
        in_dim, psi_dim = d, d + has_bias
        for layer in range(self.depth):
            last = layer == self.depth - 1
            width = m if last else h
            D = in_dim + has_bias
            if self.leverage_sampling:
                G, r2 = sample_leverage_gaussian(D, width, gen, store)
                scale = np.sqrt(D / r2) / math.sqrt(width)
            else:
                G = _gaussian(gen, D, width, store)
                scale = np.full(width, 1.0 / math.sqrt(width))
            self.weights_.append(G)
            self.feature_scales_.append(scale)
            tensor = None
            if want_ntk:
                tensor = TensorSRHT(psi_dim, width, t_dim if last else h, rng)
            self._tensors.append(tensor)
            in_dim, psi_dim = h, 2 * h + has_bias
        return self

    def _transform_batch(self, X):
        dtype = X.dtype
        act = self.activation_
        want_ntk = self.kernel == "ntk"
        W, b = float(self.weight_std), float(self.bias_std)
        has_bias = b > 0
        n, d = X.shape
        bias_col = np.full((n, 1), b, dtype=dtype) if has_bias else None
        psi = None
        if want_ntk:
            x0 = X.toarray() if sp.issparse(X) else X
            psi = _hcat([x0 * dtype.type(W / math.sqrt(d)), bias_col])
        phi = None
        n_layers = len(self.weights_)
        for layer, (G, scale, tensor) in enumerate(
            zip(self.weights_, self.feature_scales_, self._tensors, strict=True)
        ):
            G = G.astype(dtype, copy=False)
            last = layer == n_layers - 1
            m = G.shape[1]
            if layer == 0:
                z = np.asarray(X @ G[:d]) * dtype.type(W / math.sqrt(d))
            else:
                z = (phi @ G[: phi.shape[1]]) * dtype.type(W)
            if has_bias:
                z += dtype.type(b) * G[-1]
            width = self.phi_dim_ if last else m
            # feature_scales_ hold 1/sqrt(m); the last layer's phi uses `width` of the m columns
            scale = (scale[:width] * math.sqrt(m / width)).astype(dtype)
            phi_new = np.asarray(act.value(z[:, :width]), dtype=dtype) * scale
            if want_ntk:
                # order-0 / derivative features: no importance weight (scale-invariant)
                dphi = np.asarray(act.derivative(z), dtype=dtype) * dtype.type(1 / math.sqrt(m))
                T = tensor.transform(psi, dphi)
                psi = _hcat([phi_new * dtype.type(W), bias_col, T * dtype.type(W)])
            phi = phi_new
        out = psi if want_ntk else _hcat([phi * dtype.type(W), bias_col])
        if self._merge_signs is not None:
            out = out @ self._merge_signs.astype(dtype)[:, None]
        return out


def _hcat(blocks):
    blocks = [blk for blk in blocks if blk is not None]
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks, axis=1)
