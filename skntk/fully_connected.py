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
from ._taylor import cosine_distribution, fit_dot_product_polynomial
from .activations import get_activation
from .architectures import fully_connected
from .sketching import SRHT, PolySketch, TensorSRHT

__all__ = ["NTKSketch", "NNGPSketch"]

# Taylor method: the common (mean) direction of the data is split off and handled exactly when
# the mean of the unit rows is at least this long.
_MEAN_DIRECTION_MIN = 0.2


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
        "degree": [Interval(numbers.Integral, 1, None, closed="left")],
        "method": [StrOptions({"auto", "taylor", "hermite"})],
    }

    def __init__(
        self,
        n_components=1024,
        *,
        depth=1,
        activation="relu",
        weight_std=1.0,
        bias_std=0.0,
        degree=8,
        method="auto",
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
        # Below the smallest width a method can lay out (its exact columns plus one sketched
        # column per part), compute at that width and compress with an unbiased SRHT.
        has_bias = self.bias_std > 0
        minimum = 2 if self.method_ == "taylor" else (
            2 + has_bias + (2 if self._kernel == "ntk" else 0))
        self._internal_components = max(self.n_components, minimum)
        if self.method_ == "taylor":
            self._fit_taylor(X, rng)
        else:
            self._fit_hermite(X, rng)
        self._compress = None
        if self._internal_components > self.n_components:
            self._compress = SRHT(self._internal_components, self.n_components, rng)
        return self

    # -- one-shot Taylor sketch ------------------------------------------------------------
    def _fit_taylor(self, X, rng):
        d = X.shape[1]
        p = self.degree
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
        for l in range(1, self.degree + 1):
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

    # -- layer-wise Hermite sketch ---------------------------------------------------------
    def _fit_hermite(self, X, rng):
        d = X.shape[1]
        p = self.degree
        act = self.activation_
        W, b = float(self.weight_std), float(self.bias_std)
        want_ntk = self._kernel == "ntk"
        m = self._internal_components
        has_bias = b > 0
        # exact scalar recursion at the median training variance sizes each layer's budget
        q = W * W * float(np.median(_host_sq_norms(X))) / d + b * b
        t_diag = q
        in_dim = psi_dim = d + has_bias
        # columns of psi that are exact and common to all rows (bias, r_0 terms, exact products)
        psi_common = [d] if has_bias else []
        self._hermite_layers = []
        for layer in range(self.depth):
            last = layer == self.depth - 1
            r = act.hermite_coefficients([math.sqrt(q)], p)[0]
            weights = np.abs(r[1:]) / max(np.linalg.norm(r[1:]), 1e-300)
            e_act, e_der = act.duals(np.array(q), np.array(q), np.array(q), want_ntk)
            q_next = W * W * float(e_act) + b * b
            t_dim = 0
            if want_ntk:
                rd = act.derivative_hermite_coefficients([math.sqrt(q)], p)[0]
                weights = weights + np.abs(rd[1:]) / max(np.linalg.norm(rd[1:]), 1e-300)
                t_part = W * W * t_diag * float(e_der)
                # the NTK output splits its columns between the NNGP part and the tensor part
                # in proportion to their (exact, typical) sizes on the diagonal
                frac = t_part / (q_next + t_part) if q_next + t_part > 0 else 0.5
                t_dim = int(np.clip(round(m * frac), 1, m - 3)) if last else m
                t_diag = q_next + t_part
            phi_dim = m - t_dim if last else m
            if not np.any(weights > 0):
                weights = np.ones(p)
            weights = weights * np.sqrt(np.arange(1, p + 1))
            # columns of phi that are exact and common to all rows: the bias, and from the
            # second layer on the r_0 column; their tensor powers are represented exactly
            common = ([in_dim - 1] if has_bias else []) if layer == 0 else (
                [0] + ([in_dim - 1] if has_bias else []))
            budget = phi_dim - 1 - has_bias
            if budget < 2 * p + (p + 1) * (p + 2) // 2:  # too few columns for the exact split
                common = []
            overhead = [(l + 1 if len(common) == 2 else len(common)) for l in range(1, p + 1)]
            dims, exact, padding = allocate_with_overhead(
                weights, budget, [in_dim] + [None] * (p - 1), overhead
            )
            sketched = [l for l in range(1, p + 1) if dims[l - 1] > 0 and not exact[l - 1]]
            poly = None
            if sketched:
                top = max(sketched)
                poly = PolySketch(in_dim, top, [max(dims[l], 1) for l in range(top)], rng)
            tensor, tensor_common = None, []
            if want_ntk:
                # psi_c (x) dphi_c (dphi's r'_0 column) is represented exactly, the rest sketched
                tensor_common = psi_common if t_dim - len(psi_common) >= max(t_dim // 2, 1) else []
                tensor = TensorSRHT(psi_dim, budget + 1, t_dim - len(tensor_common), rng)
            self._hermite_layers.append({"dims": dims, "exact": exact, "poly": poly,
                                         "tensor": tensor, "common": common,
                                         "padding": padding, "tensor_common": tensor_common})
            psi_common = [0] + ([phi_dim - 1] if has_bias else []) + [
                phi_dim + i for i in range(len(tensor_common))]
            in_dim, psi_dim, q = phi_dim, phi_dim + t_dim, q_next
        self.layer_dims_ = [lay["dims"] for lay in self._hermite_layers]

    def _transform_hermite(self, X, xp):
        d = X.shape[1]
        W, b = float(self.weight_std), float(self.bias_std)
        want_ntk = self._kernel == "ntk"
        dtype = X.dtype
        n = X.shape[0]
        q = W * W * _host_sq_norms(X) / d + b * b
        phi = X * (W / math.sqrt(d))
        if b > 0:
            if sp.issparse(X):
                phi = sp.hstack([phi, np.full((n, 1), b, dtype=dtype)], format="csr")
            else:
                phi = _hcat([phi, xp.ones((n, 1), dtype=dtype) * b], xp)
        psi = phi
        for lay in self._hermite_layers:
            coefs, second_moment = hermite_layer_coefficients(
                self.activation_, q, self.degree, want_ntk
            )
            norms = np.sqrt(_host_sq_norms(phi))
            inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
            U = _scale_rows(phi, _device(inv, phi, dtype), xp)
            Q = lay["poly"].transform(U) if lay["poly"] is not None else []
            common = lay["common"]
            if common and Q:
                E, e = _common_part(U, common, xp)
                Qe = lay["poly"].transform(E)
            blocks = []
            for l in range(1, self.degree + 1):
                if lay["dims"][l - 1] == 0:
                    blocks.append(None)
                elif lay["exact"][l - 1]:
                    blocks.append(_to_dense(U))
                elif common:
                    # exact powers of the common part, and the sketch of the remainder
                    blocks.append(_hcat([_symmetric_power(e, l, xp),
                                         Q[l - 1] - Qe[l - 1]], xp))
                else:
                    blocks.append(Q[l - 1])
            like = next(blk for blk in blocks if blk is not None)
            pad = [xp.zeros((n, lay["padding"]), dtype=dtype)] if lay["padding"] else []
            phi_new = _hcat([_weighted(blocks, _device(coefs[0] * W, like, dtype), xp)] + pad, xp)
            if b > 0:
                phi_new = _hcat([phi_new, xp.ones((n, 1), dtype=dtype) * b], xp)
            if want_ntk:
                dphi = _hcat([_weighted(blocks, _device(coefs[1], like, dtype), xp)] + pad, xp)
                t = lay["tensor"].transform(_to_dense(psi), dphi)
                if lay["tensor_common"]:
                    Pc, pc = _common_part(psi, lay["tensor_common"], xp)
                    Dc, dc = _common_part(dphi, [0], xp)
                    t = _hcat([pc * dc, t - lay["tensor"].transform(_to_dense(Pc), Dc)], xp)
                psi = _hcat([phi_new, t * W], xp)
            phi = phi_new
            q = W * W * second_moment + b * b  # exact variance recursion of the next layer
        return psi if want_ntk else phi

    def _transform_batch(self, X):
        xp = get_namespace(X)
        if self.method_ == "taylor":
            Z = self._transform_taylor(X, xp)
        else:
            Z = self._transform_hermite(X, xp)
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


def _weighted(blocks, coef, xp):
    """``[c_0, c_1 B_1, ..., c_p B_p]`` with per-row coefficients ``coef`` (n, p+1)."""
    n = coef.shape[0]
    parts = [xp.reshape(coef[:, 0], (n, 1))]
    for l, block in enumerate(blocks, start=1):
        if block is not None:
            parts.append(block * coef[:, l : l + 1])
    return _hcat(parts, xp)


def hermite_layer_coefficients(act, q, degree, want_derivative):
    """Per-row Hermite coefficients of one layer, with the truncated tail folded in.

    ``r_l(s)`` (and ``r'_l(s)``) at ``s = sqrt(q)`` for ``l = 0..degree``; the energy of the
    degrees beyond is added to the top even and odd coefficients (:func:`_fold_tail`), so
    ``sum_l r_l^2 = E[act(u)^2]`` exactly: the truncated kernel's diagonal is exact, so the
    sketch's squared feature norms are unbiased for it (a PolySketch does not preserve norms).

    Parameters
    ----------
    act : Activation
    q : ndarray of shape (n,)
        Exact pre-activation variances.
    degree : int
    want_derivative : bool

    Returns
    -------
    coefficients : list of ndarray of shape (n, degree + 1)
        ``[r]`` or ``[r, r']``.
    second_moment : ndarray of shape (n,)
        ``E[act(u)^2]``, the next layer's variance before its Dense layer.
    """
    s = np.sqrt(np.maximum(q, 0.0))
    extra = 4 * degree + 24
    e_act, e_der = act.duals(q, q, q.copy(), want_derivative)
    out = [_fold_tail(act.hermite_coefficients(s, extra), np.asarray(e_act), degree)]
    if want_derivative:
        rd = act.derivative_hermite_coefficients(s, extra)
        out.append(_fold_tail(rd, np.asarray(e_der), degree))
    return out, np.asarray(e_act)


def _fold_tail(r, energy, p):
    """Keep degrees ``0..p`` of ``r`` and add the energy of the rest (by parity) to the top
    even and odd degrees, preserving their signs."""
    head = r[:, : p + 1].copy()
    tail = r[:, p + 1 :]
    parity = np.arange(p + 1, r.shape[1]) % 2
    known = np.sum(tail**2, axis=1)
    residual = np.maximum(energy - np.sum(r**2, axis=1), 0.0)
    for par in (0, 1):
        top = p if p % 2 == par else p - 1
        if top < 0:
            continue
        t = np.sum(tail[:, parity == par] ** 2, axis=1)
        t = t + residual * np.divide(t, known, out=np.full_like(t, 0.5), where=known > 0)
        sign = np.where(head[:, top] < 0, -1.0, 1.0)
        head[:, top] = sign * np.sqrt(head[:, top] ** 2 + t)
    return head


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
    degree : int, default=8
        Polynomial degree ``p``: of the fitted polynomial of the whole kernel (Taylor method) or
        of each layer's truncated Hermite expansion (Hermite method).
    method : {"auto", "taylor", "hermite"}, default="auto"
        ``"taylor"``: one-shot sketch, for homogeneous activations of degree 1 without bias;
        cost independent of depth. ``"hermite"``: layer-wise, any activation, any bias.
        ``"auto"``: Taylor when it applies, else Hermite.
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

    **Hermite method** (any activation, any bias). Layer by layer with exact per-row variances
    ``q`` (a scalar recursion) and the direction ``u = phi/|phi|`` of the current features:
    ``phi_new = [W r_0(s), W r_1(s) Q_1(u), ..., W r_p(s) Q_p(u), b]`` and, for the NTK,
    ``dphi = [r'_0(s), r'_1(s) Q_1(u), ...]`` and ``psi_new = [phi_new, W T(psi, dphi)]`` with
    ``T`` a TensorSRHT. The Hermite tail beyond ``p`` is folded into the top even and odd
    coefficients so the truncated kernel's diagonal is exact (the sketch is unbiased for it;
    single feature norms vary with the sketch). Intermediate layers use ``n_components``
    columns for ``phi`` and for the tensor part; the last NTK layer splits ``n_components``
    between them in proportion to their exact diagonal sizes.
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
    degree_dims_ : list of int
        Taylor method: columns per degree ``1..p``.
    exact_degrees_ : list of int
        Taylor method: degrees represented exactly.
    layer_dims_ : list of list of int
        Hermite method: columns per degree in each layer.
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
    method_, activation_, coefficients_, polynomial_error_, degree_dims_, exact_degrees_,
    layer_dims_, n_features_in_
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


def _common_part(U, columns, xp):
    """``E`` = ``U`` restricted to ``columns`` (zero elsewhere), and those columns, dense."""
    cols = np.asarray(columns)
    if sp.issparse(U):
        U = U.tocsc()
        e = U[:, cols].toarray()
        E = sp.csr_matrix((U.shape[0], U.shape[1]), dtype=U.dtype).tolil()
        E[:, cols] = e
        return E.tocsr(), e
    e = xp.take(U, _device(cols, U, None), axis=1)
    mask = np.zeros(U.shape[1], dtype=U.dtype if isinstance(U, np.ndarray) else np.float64)
    mask[cols] = 1.0
    return U * _device(mask, U, U.dtype), e


def _symmetric_power(e, l, xp):
    """Rows ``sym(e^(x)l)`` for ``e`` with one or two columns: ``<., .>`` is ``<e, e'>^l``."""
    if e.shape[1] == 1:
        return e**l
    a, b = e[:, 0:1], e[:, 1:2]
    cols = [a ** (l - i) * b**i * math.sqrt(math.comb(l, i)) for i in range(l + 1)]
    return _hcat(cols, xp)
