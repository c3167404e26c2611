r"""NTKRandomFeatures: Monte-Carlo random features of the NNGP and NTK of fully connected nets.

Every hidden layer draws a Gaussian matrix and applies the activation to the random
pre-activations (the network at finite width ``m``, one sample of its weights). Each random
feature is centred on its exact conditional mean, which is kept as one extra, exact column; the
derivative features are split the same way, so the tensor product with the previous NTK
features is exact for the mean part and only the centred part goes through a degree-2 tensor
sketch (:class:`skntk.sketching.TensorSRHT`). For ReLU these are centred arc-cosine features
of order 1 (the values) and order 0 (the derivatives), optionally with leverage-score sampling
of the Gaussian directions (Han, Avron, Shoham, Kim and Shin, *Random features for the neural
tangent kernel*, 2021), drawn here exactly from its radial representation.
"""

import math
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._estimator import FeatureMapMixin, activation_constraint
from .activations import get_activation
from .sketching import SRHT, TensorSRHT

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
    activation; deeper, composing random layers leaves a bias of order ``1/internal_components``.

    **Random layers** (NTK parameterization, ``W = weight_std``, ``b = bias_std``). The input
    features are ``a_0(x) = [W x/sqrt(d), b]`` (the bias entry only when ``b > 0``), so that
    ``<a_0(x), a_0(y)> = q_1(x, y)``, the first pre-activation covariance. Layer ``l = 1..L``
    draws ``G_l`` (``D_l x m``, ``D_l`` the length of ``a_{l-1}``) with i.i.d. ``N(0, 1)``
    columns ``g_j``. Each column makes ``(a(x) g, a(y) g)`` a centred Gaussian pair with
    covariance ``q_l``, so the features ``f_j(a) = sigma(a g_j)`` and ``f'_j(a) = sigma'(a g_j)``
    satisfy ``E[f_j(a(x)) f_j(a(y))] = E[sigma(u) sigma(v)]`` (the NNGP layer) and
    ``E[f'_j f'_j] = E[sigma'(u) sigma'(v)]``.

    **Centring.** The conditional mean of a feature given its input depends only on
    ``s = |a|`` and is known exactly: ``mu(s) = E[sigma(s g)]`` and ``mu'(s) = E[sigma'(s g)]``,
    ``g ~ N(0, 1)``, the degree-0 radial Hermite coefficients of the activation and of its
    derivative (closed forms, ``s^k E[sigma(g)]`` for activations homogeneous of degree ``k``,
    else composite quadrature resolving kinks; ``mu = s / sqrt(2 pi)`` and ``mu' = 1/2`` for
    ReLU). A layer is represented by the mean and the centred columns,

    .. math::

        \phi_l(x) = \big[\mu(s),\ (f_j(a) - \mu(s)) / \sqrt{m}\big]_{j \le m}, \qquad
        \dot\phi_l(x) = \big[\mu'(s),\ (f'_j(a) - \mu'(s)) / \sqrt{m}\big]_{j \le m},

    so that ``E <phi_l(x), phi_l(y)> = mu_x mu_y + E[f f'] - mu_x mu_y = E[f(x) f(y)]``:
    unbiased exactly like the plain features, with a smaller variance (the common mode, which
    dominates for ReLU, is exact; e.g. for the order-0 ReLU features of orthogonal inputs the
    per-column variance falls from 3/16 to 1/16). ``s`` is the norm of the *actual* random row
    ``a_{l-1}(x)``, so the centring is the exact conditional mean at every depth and adds no
    bias. The next layer takes ``a_l = [W phi_l, b]`` (the mean is one more input coordinate:
    ``G_{l+1}`` has ``1 + m + 1`` rows).

    **NTK.** With ``psi_0 = a_0`` and ``dphi_l = [mu', c'_l]`` (``c'_l`` the centred derivative
    columns), ``psi_{l-1} (x) dphi_l = [mu' psi_{l-1}, psi_{l-1} (x) c'_l]``: the first part is
    kept exactly (``psi_{l-1}`` scaled per row) and only the second is sketched,

    .. math::

        \psi_l = \big[W \phi_l,\ b,\ W \mu'_l \psi_{l-1},\ W\, T_l(\psi_{l-1}, c'_l)\big],

    ``T_l`` a :class:`~skntk.sketching.TensorSRHT` (``E <T(a, c), T(a', c')> = <a, a'>
    <c, c'>``), which reproduces the NTK recursion ``Theta_l = q_{l+1} + W^2 Theta_{l-1}
    E[sigma'(u) sigma'(v)]`` in expectation. The output is ``[W phi_L, b]`` (NNGP) or ``psi_L``
    (NTK). Unrolled, ``psi_L = [A_L, A_{L-1}, ..., A_1, psi_0, T_1, ..., T_L]`` with
    ``A_l = [W mu_l, W c_l, b]``, every level-``l`` block times ``prod_{j > l} W mu'_j(x)``.
    Inside the network (the input of ``T_{l+1}``) the hidden levels use all their columns; in
    the output a hidden level keeps ``p_l`` of its ``h`` centred columns, scaled by
    ``sqrt(h/p_l)`` (i.i.d. columns: unbiased), and its own, independent tensor sketch of
    ``t_l`` columns. At depth 1 everything entering a random map is exact, hence the estimate
    is unbiased.

    **Column budget.** The output has exactly ``n_components = M`` columns: one mean and one
    bias column per level (fixed) and the free blocks: per level ``p_l`` centred value columns
    and ``t_l`` tensor columns, and ``k_0`` columns for ``psi_0``. The widths minimize
    ``sum_i c_i s_i^2 / m_i`` under ``sum_i m_i = M - fixed``, i.e. ``m_i ~ sqrt(c_i) s_i``
    (water-filling with ``1 <= m_i <= cap_i``), where ``s_i`` is the block's contribution to
    the diagonal of the kernel at the median squared norm of the training rows, from the
    scalar recursion with the activation's exact ``duals`` and means: ``s_phi = F_l W^2
    (E[sigma^2] - mu^2)``, ``s_T = F_l W^2 Theta_{l-1} (E[sigma'^2] - mu'^2)`` and ``s_in = F_0
    q_1``, with ``F_l = prod_{j > l} W^2 mu'_j^2``. All ``c_i = 1``: for nearly orthogonal
    inputs a product of two centred features and a TensorSRHT column have about the same
    relative variance (checked on ReLU, depth 2: a tensor weight ``sqrt(c_T)`` of 0.75 to 1
    is best for the Frobenius error; larger weights, i.e. more tensor columns, lower the
    spectral error in the small-eigenvalue directions at some cost in Frobenius error). Caps:
    ``p_l <= h`` for hidden levels (at ``p_l = h`` the level is output whole), and
    ``k_0 <= d + 1``: ``psi_0`` is output exactly when its share reaches ``d + 1`` columns
    (e.g. d = 784 at ``M = 12288``), otherwise it is compressed by an
    :class:`~skntk.sketching.SRHT` to ``k_0`` columns (``E <S a, S a'> = <a, a'>``: still
    unbiased, and better than falling back to uncentred tensor features for wide inputs).
    When even one column per free block does not fit (a few columns, e.g. ``n_components``
    of 1 to 3 at depth 1), the smallest layout is summed into ``n_components`` columns with
    random signs (cross terms average out: unbiased).

    **Widths.** Hidden layers have width ``h = internal_components`` (default ``n_components``) for
    ``phi`` and for the internal tensor sketch, so a hidden layer after the first costs an
    ``(h + 2) x h`` Gaussian matrix (1.2 GB at ``h = 12288`` in float64, half in float32: the
    matrices are stored in the dtype of the data passed to ``fit``) and ``O(h^2)`` flops per
    row; the internal ``psi_l`` is about ``2 l h + d`` wide. The last layer draws
    ``n_components`` columns (``phi_dim_`` for ``kernel="nngp"``): the derivative features use
    all of them, ``phi_L`` the first ``phi_dim_``.

    **Leverage-score sampling** (``leverage_sampling=True``; activations homogeneous of degree
    1, e.g. ReLU). The columns of ``G_l`` are drawn from ``p(w) = |w|^2 N(w; 0, I_D) / D``
    instead of ``N(0, I_D)``. Exactly and in O(D m): ``w = r u`` with ``u`` uniform on the
    sphere and ``r^2 ~ chi^2(D + 2)`` (:func:`sample_leverage_gaussian`). Importance weighting
    keeps the estimates unbiased: ``E_N[f(w)] = E_p[f(w) D / |w|^2]``, so each order-1 feature is
    multiplied by ``sqrt(D) / |w|``; by homogeneity ``sigma(a w) sqrt(D)/|w| = sqrt(D)
    sigma(a u)``, and the radial noise of plain Gaussian features disappears. Its conditional
    mean is ``sqrt(D) |a| E[sigma(g)] / E|g|`` with ``E|g| = sqrt(2) Gamma((D+1)/2) /
    Gamma(D/2)`` (``g ~ N(0, I_D)``), the centring used then. The order-0 features
    ``sigma'(a w)`` depend on the direction ``u`` only, which is uniform under both ``N`` and
    ``p``: they are unbiased without any weight and are centred on ``mu'`` as before. (Once the
    common mode is exact, leverage sampling changes the errors little.)

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
    internal_components : int or "auto", default="auto"
        Width ``h`` of the hidden layers (all but the last); "auto" means ``n_components``
        (the same name as in the sketches).
    hidden_width : int, optional
        Deprecated alias of ``internal_components``.
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
        ``G_l`` of shape ``(D_l, m)``. Row 0 of ``G_l``, ``l >= 2``, multiplies the mean
        column of the previous layer, the next rows its centred columns, and with
        ``bias_std > 0`` the last row multiplies ``b``.
    feature_scales_ : list of ndarray
        Per-column multipliers of ``sigma(z)`` before centring: ``1/sqrt(m)``, times
        ``sqrt(D)/|w|`` with leverage sampling.
    layout_ : list of (str, int)
        The output blocks in order with their widths: ``"mean_l"``, ``"phi_l"``, ``"bias_l"``
        (level ``l``), ``"input"`` (``psi_0``) and ``"tensor_l"``. The widths sum to
        ``n_components`` unless ``merged_`` is True.
    merged_ : bool
        Whether the layout (at one column per block) was summed into fewer columns with random
        signs because ``n_components`` is too small for it.
    phi_dim_ : int
        Centred value columns of the last layer in the output (``p_L``).
    tensor_dim_ : int
        Columns of the last layer's tensor sketch in the output (0 for ``kernel="nngp"``).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.random_features import NTKRandomFeatures
    >>> from skntk.kernels import ntk_kernel
    >>> X = np.random.RandomState(0).randn(40, 10)
    >>> Z = NTKRandomFeatures(n_components=4096, random_state=0).fit_transform(X)
    >>> K = ntk_kernel(X)
    >>> bool(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K) < 0.05)
    True
    """

    # sqrt(c_T): relative noise of a tensor column versus a centred value column (see the
    # class docstring, "Column budget")
    _tensor_weight = 1.0

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "activation": activation_constraint(),
        "kernel": [StrOptions({"ntk", "nngp"})],
        "weight_std": [Interval(numbers.Real, 0, None, closed="left")],
        "bias_std": [Interval(numbers.Real, 0, None, closed="left")],
        "leverage_sampling": ["boolean"],
        "internal_components": [Interval(numbers.Integral, 1, None, closed="left"),
                                StrOptions({"auto"})],
        "hidden_width": [Interval(numbers.Integral, 1, None, closed="left"),
                         StrOptions({"deprecated"})],
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
        self.hidden_width = hidden_width
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- exact conditional means ------------------------------------------------------------
    def _value_mean(self, s, rows, leverage):
        """``E[f(a)]`` given ``|a| = s`` (float64, shape of ``s``) for ``rows = len(a)``."""
        act = self.activation_
        k = act.homogeneity
        if k is not None and k >= 1:
            mu = self._unit_mean * np.power(s, k)
            if leverage:  # sqrt(D) sigma(|a| u_1): E[sigma(u_1)] = E[sigma(g_1)] / E|g|
                log_norm = 0.5 * math.log(2.0) + gammaln((rows + 1) / 2) - gammaln(rows / 2)
                mu = mu * (math.sqrt(rows) * math.exp(-log_norm))
            return mu
        return act.hermite_coefficients(s, 0)[:, 0]

    def _derivative_mean(self, s):
        """``E[sigma'(s g)]``; at ``s = 0`` the feature's own value ``sigma'(0)``."""
        act = self.activation_
        k = act.homogeneity
        if k is not None and k >= 1:
            out = self._unit_dmean * np.power(s, k - 1)
        else:
            out = np.array(act.derivative_hermite_coefficients(s, 0)[:, 0])
        zero = s == 0
        if np.any(zero):
            out[zero] = float(np.asarray(act.derivative(np.zeros(1)))[0])
        return out

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
        ntk = self.kernel == "ntk"
        W, b = float(self.weight_std), float(self.bias_std)
        hb = int(b > 0)
        d = X.shape[1]
        M, L = int(self.n_components), int(self.depth)
        width = self.internal_components
        if self.hidden_width != "deprecated":
            warnings.warn("hidden_width is deprecated; use internal_components",
                          FutureWarning, stacklevel=2)
            width = self.hidden_width
        h = M if width == "auto" else int(width)
        homog = act.homogeneity is not None and act.homogeneity >= 1
        one = np.ones(1)
        self._unit_mean = float(act.hermite_coefficients(one, 0)[0, 0]) if homog else None
        self._unit_dmean = (
            float(act.derivative_hermite_coefficients(one, 0)[0, 0]) if homog and ntk else None
        )

        # -- scalar recursion of the diagonal at the median squared norm (budget split only)
        if sp.issparse(X):
            sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
        else:
            sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        q = W * W * float(np.median(sq)) / d + b * b
        theta = q
        stats = []
        for _ in range(L):
            qa = np.array([q])
            e2, e2d = act.duals(qa, qa, qa.copy(), ntk)
            s = np.sqrt(qa)
            mu = float(self._value_mean(s, 1, False)[0])
            st = {"theta": theta, "e2": float(e2[0]), "mu": mu}
            if ntk:
                st["e2d"] = float(e2d[0])
                st["dmu"] = float(self._derivative_mean(s)[0])
            stats.append(st)
            q = W * W * st["e2"] + b * b
            if ntk:
                theta = q + W * W * theta * st["e2d"]

        # -- widths of the free blocks: m_i ~ sqrt(c_i) s_i with s_i the block's share of the
        # diagonal; every block gets >= 1 column, a hidden phi <= h, the input <= d + 1 (exact)
        factor = [1.0] * (L + 1)  # F_l = prod_{j > l} W^2 mu'_j^2: scale of level l's blocks
        for level in range(L - 1, -1, -1):
            factor[level] = factor[level + 1] * (
                W * W * stats[level]["dmu"] ** 2 if ntk else 1.0
            )
        levels = list(range(L, 0, -1)) if ntk else [L]
        free = []  # (kind, level, weight, cap)
        for level in levels:
            st = stats[level - 1]
            size = factor[level] * W * W * max(st["e2"] - st["mu"] ** 2, 0.0)
            free.append(("phi", level, size, h if level < L else M))
        if ntk:
            free.append(("input", 0, factor[0] * stats[0]["theta"], d + hb))
            for level in range(1, L + 1):
                st = stats[level - 1]
                size = factor[level] * W * W * st["theta"] * max(st["e2d"] - st["dmu"] ** 2, 0.0)
                free.append(("tensor", level, self._tensor_weight * size, np.inf))
        n_fixed = len(levels) * (1 + hb)
        self.merged_ = n_fixed + len(free) > M
        if self.merged_:
            widths = [1] * len(free)
        else:
            widths = _split_columns([f[2] for f in free], [f[3] for f in free], M - n_fixed)
        width_of = {(f[0], f[1]): w for f, w in zip(free, widths, strict=True)}

        # -- output layout [A_L, ..., A_1, psi_0, T_1, ..., T_L] (NNGP: A_L)
        layout = []
        for level in levels:
            layout += [("mean", level, 1), ("phi", level, width_of[("phi", level)])]
            if hb:
                layout.append(("bias", level, 1))
        if ntk:
            layout.append(("input", 0, width_of[("input", 0)]))
            layout += [("tensor", level, width_of[("tensor", level)]) for level in range(1, L + 1)]
        offsets = np.cumsum([0] + [w for _, _, w in layout])
        slices = {
            (kind, level): slice(int(offsets[i]), int(offsets[i + 1]))
            for i, (kind, level, _) in enumerate(layout)
        }
        self.layout_ = [
            ("input" if kind == "input" else f"{kind}_{level}", w) for kind, level, w in layout
        ]
        self._full_width = int(offsets[-1])
        self.phi_dim_ = width_of[("phi", L)]
        self.tensor_dim_ = width_of.get(("tensor", L), 0)

        rng = check_random_state(self.random_state)
        self._merge = None
        if self.merged_:  # sum the blocks into M columns with random signs (unbiased)
            signs = rng.choice([-1.0, 1.0], self._full_width)
            S = np.zeros((self._full_width, M))
            S[np.arange(self._full_width), np.arange(self._full_width) % M] = signs
            self._merge = S
        self._input_sketch = None
        if ntk and width_of[("input", 0)] < d + hb:
            self._input_sketch = SRHT(d + hb, width_of[("input", 0)], rng)
        gen = _generator(rng)
        store = X.dtype
        self.weights_, self.feature_scales_, self._layers = [], [], []
        psi_dim = d + hb  # length of the internal psi_{l-1}
        for level in range(1, L + 1):
            last = level == L
            D = d + hb if level == 1 else 1 + h + hb
            width = (M if ntk else self.phi_dim_) if last else h
            if self.leverage_sampling:
                G, r2 = sample_leverage_gaussian(D, width, gen, store)
                scale = np.sqrt(D / r2) / math.sqrt(width)
            else:
                G = _gaussian(gen, D, width, store)
                scale = np.full(width, 1.0 / math.sqrt(width))
            self.weights_.append(G)
            self.feature_scales_.append(scale)
            in_out = level in levels
            spec = {
                "phi_width": self.phi_dim_ if last else h,
                "out": in_out,
                "slices": {kind: slices.get((kind, level)) for kind in ("mean", "phi", "bias")},
                "p": width_of.get(("phi", level)),
                "tensor_slice": slices.get(("tensor", level)),
                "lower": None,
                "tensor": None,
                "out_tensor": None,
            }
            if ntk:
                if not last:
                    spec["tensor"] = TensorSRHT(psi_dim, width, h, rng)
                spec["out_tensor"] = TensorSRHT(psi_dim, width, width_of[("tensor", level)], rng)
                # the output blocks of the levels below (contiguous), scaled by W mu'_l
                start = slices[("mean", level - 1) if level > 1 else ("input", 0)].start
                stop = slices[("tensor", level - 1) if level > 1 else ("input", 0)].stop
                spec["lower"] = slice(start, stop)
            self._layers.append(spec)
            psi_dim = (1 + h + hb) + psi_dim + h
        return self

    def _transform_batch(self, X):
        dtype = X.dtype
        ft = dtype.type
        act = self.activation_
        ntk = self.kernel == "ntk"
        W, b = float(self.weight_std), float(self.bias_std)
        hb = b > 0
        n, d = X.shape
        out = np.zeros((n, self._full_width), dtype=dtype)
        bias_col = np.full((n, 1), b, dtype=dtype) if hb else None
        if sp.issparse(X):
            s2 = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
        else:
            s2 = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        s2 = W * W * s2 / d + b * b
        psi = None
        if ntk:
            x0 = X.toarray() if sp.issparse(X) else X
            psi = _hcat([x0 * ft(W / math.sqrt(d)), bias_col])
            sk = self._input_sketch
            out[:, self._layers[0]["lower"]] = psi if sk is None else sk.transform(psi)
        mean, cent = None, None
        n_layers = len(self._layers)
        for layer, (G, scale, spec) in enumerate(
            zip(self.weights_, self.feature_scales_, self._layers, strict=True)
        ):
            G = G.astype(dtype, copy=False)
            last = layer == n_layers - 1
            m = G.shape[1]
            if layer == 0:
                z = np.asarray(X @ G[:d]) * ft(W / math.sqrt(d))
            else:
                z = cent @ G[1 : 1 + cent.shape[1]]
                z += mean.astype(dtype)[:, None] * G[0]
                z *= ft(W)
            if hb:
                z += ft(b) * G[-1]
            s = np.sqrt(np.maximum(s2, 0.0))
            mu = self._value_mean(s, G.shape[0], self.leverage_sampling)
            width = spec["phi_width"]
            # feature_scales_ hold w_j/sqrt(m); the last layer's phi uses `width` of m columns
            col_scale = (scale[:width] * math.sqrt(m / width)).astype(dtype)
            new_cent = np.asarray(act.value(z[:, :width]), dtype=dtype) * col_scale
            new_cent -= (mu / math.sqrt(width)).astype(dtype)[:, None]
            if spec["out"]:
                sl = spec["slices"]
                out[:, sl["mean"]] = (W * mu).astype(dtype)[:, None]
                p = spec["p"]
                out[:, sl["phi"]] = new_cent[:, :p] * ft(W * math.sqrt(width / p))
                if hb:
                    out[:, sl["bias"]] = b
            if ntk:
                dmu = self._derivative_mean(s)
                dcent = np.asarray(act.derivative(z), dtype=dtype) * ft(1 / math.sqrt(m))
                dcent -= (dmu / math.sqrt(m)).astype(dtype)[:, None]
                if spec["out"]:
                    T = spec["out_tensor"].transform(psi, dcent)
                    out[:, spec["tensor_slice"]] = T * ft(W)
                    out[:, spec["lower"]] *= (W * dmu).astype(dtype)[:, None]
                if not last:
                    T = spec["tensor"].transform(psi, dcent)
                    psi = _hcat(
                        [
                            (W * mu).astype(dtype)[:, None],
                            new_cent * ft(W),
                            bias_col,
                            psi * (W * dmu).astype(dtype)[:, None],
                            T * ft(W),
                        ]
                    )
            if not last:  # |a_l|^2 of the actual random row, for the next layer's means
                c2 = np.einsum("ij,ij->i", new_cent, new_cent, dtype=np.float64)
                s2 = W * W * (mu * mu + c2) + b * b
            mean, cent = mu, new_cent
        if self._merge is not None:
            out = out @ self._merge.astype(dtype)
        return out


def _split_columns(weights, caps, total):
    """Integer widths ``m_i`` proportional to ``weights`` with ``1 <= m_i <= caps_i`` and
    ``sum m_i = total`` (water-filling; assumes ``len(weights) <= total <= sum(caps)``)."""
    w = np.asarray(weights, dtype=np.float64)
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    w = np.maximum(w, 1e-9 * w.max()) if w.max() > 0 else np.ones_like(w)
    caps = np.asarray(caps, dtype=np.float64)
    n = w.size
    fixed = np.full(n, np.nan)
    while True:
        free = np.isnan(fixed)
        if not free.any():
            share = fixed
            break
        rest = total - np.nansum(fixed)
        share = np.where(free, rest * w / w[free].sum(), fixed)
        over = free & (share > caps)
        if over.any():
            fixed[over] = caps[over]
            continue
        under = free & (share < 1)
        if under.any():
            fixed[under] = 1.0
            continue
        break
    dims = np.clip(np.floor(share), 1, caps).astype(np.int64)
    rest = total - int(dims.sum())
    order = np.argsort(-(share - dims))
    while rest > 0:
        grew = False
        for i in order:
            if rest > 0 and dims[i] < caps[i]:
                dims[i] += 1
                rest -= 1
                grew = True
        if not grew:
            break
    while rest < 0:
        i = int(np.argmax(dims))
        dims[i] -= 1
        rest += 1
    return [int(v) for v in dims]


def _hcat(blocks):
    blocks = [blk for blk in blocks if blk is not None]
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks, axis=1)
