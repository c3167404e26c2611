"""Exact infinite-width kernels: NNGP and NTK of fully connected and convolutional networks.

These functions are the ground truth for every sketch and benchmark in skntk, and can be used
directly, e.g. as ``SVC(kernel="precomputed")`` input. Conventions follow neural-tangents'
``stax`` (NTK parameterization); see :mod:`skntk.architectures` for the layer rules.

Range of the inputs. Every output is checked: a kernel that is not finite raises a
``ValueError`` naming the layer and activation where NaN or inf first appeared, never returns
NaN. Scale is handled exactly where the network allows it:

* a network whose activations are all homogeneous (``act(c t) = c^k act(t)``, ``c > 0``) and
  whose biases are all zero satisfies ``K(a x, b y) = (a b)^E K(x, y)`` with ``E`` the product
  of the degrees ``k`` (NNGP and NTK alike). Inputs far from unit scale are divided by a power
  of two per row (per image), the kernel of the normalized inputs is computed and multiplied
  back by ``2^(E (k_x + k_y))``: exact at any scale whose result float64 can hold, and a
  ``ValueError`` naming the limit when it cannot;
* any other network needs the covariances themselves: the Gram matrix is formed on rows
  divided by a power of two and scaled back, and a covariance beyond the float range raises a
  ``ValueError``;
* a homogeneous activation whose pre-activation variances leave about ``[2^-500, 2^500]``
  is evaluated on variances divided per input by a power of two, so products like
  ``q_xx q_yy`` inside its dual cannot overflow or underflow.

All of these rescalings are exact (powers of two) and run only when the data need them.

Array namespaces. NumPy and SciPy sparse input take the NumPy path (row blocks sized for the
cache, threads over blocks with ``n_jobs``). Arrays of another library (CuPy, or any
array-API namespace such as ``array_api_strict``) are computed on in their own namespace and on
their device, with no need for scikit-learn's ``array_api_dispatch``: the kernel comes back in
that namespace, float32 for float32 inputs. The layer rules and the activations' duals are the
same code for every namespace; only per-input numbers (scale exponents, Hermite coefficient
tables of activations without closed-form duals) and the few pairs that need a two-variable
quadrature go through the host. ``n_jobs`` is ignored for them (one device, large blocks).
"""

from functools import partial

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.utils import gen_batches

# scikit-learn's error for bad parameters (a ValueError and a TypeError), as the estimators
from sklearn.utils._param_validation import InvalidParameterError, StrOptions

from ._estimator import OddInteger, check_parameter
from ._kernel_inputs import (
    check_feature_pair,
    check_hyperparameters,
    check_image_pair,
    check_images,
)

# skntk.network_features imports _check_layers from here
from ._kernel_inputs import check_layers as _check_layers
from ._kernel_network import Network, all_finite, layer_peak
from ._kernel_scaling import (
    activation_kernel,
    cross_exponents,
    ldexp,
    scale_inputs,
    slice_exponents,
)
from ._special import is_array_api_input, ops, to_host
from .architectures import (
    MYRTLE_BLOCKS,
    KernelState,
    Nonlinearity,
    fully_connected,
    gap_network,
    myrtle_network,
)

__all__ = [
    "kernel",
    "nngp_kernel",
    "ntk_kernel",
    "cnngp_kernel",
    "cntk_kernel",
    "check_images",
    "ARCHITECTURES",
]

ARCHITECTURES = ("gap", "myrtle")
# Bound on the number of float64 entries of one block's pair tensor (about 64 MB).
_MAX_BLOCK_ENTRIES = 2**23
# Entries of one fully connected row block: small enough for the core's cache.
_FC_BLOCK_ENTRIES = 2**17
# Entries of one block for other namespaces (GPUs): large blocks amortize the launches; a few
# float64 temporaries of this size (128 MB each) must fit in the device's memory.
_DEVICE_BLOCK_ENTRIES = 2**24
# The Raises section of every kernel function's docstring (``{raises}`` in the source).
_RAISES_DOC = """    Raises
    ------
    ValueError
        For bad inputs; for bad parameters scikit-learn's ``InvalidParameterError`` (a
        ``ValueError`` and a ``TypeError``), with the estimators' rules. Also when the kernel
        cannot be represented: the message names the limit (inputs too large for float64 or
        float32) or the layer and activation where NaN or inf first appeared.
"""


def _shared_doc(fn):
    """``fn`` with ``_RAISES_DOC`` in place of the ``{raises}`` line of its docstring."""
    if fn.__doc__:  # None under python -OO
        fn.__doc__ = fn.__doc__.replace("    {raises}\n", _RAISES_DOC)
    return fn


# ----------------------------------------------------------------------------------------------
# The layer walk
# ----------------------------------------------------------------------------------------------


def _start_state(q, want_ntk, spatial, variances=None):
    """The kernel state before the first layer (``T = 0``): a self state, or a cross state
    given the ``(var_x, var_y)`` of each activation layer."""
    is_self = variances is None
    ntk = ops(q).zeros_like(q) if want_ntk else None
    return KernelState(q, ntk, spatial, is_self, [] if is_self else variances)


def _pair_variances(var_x, var_y, si, sj):
    """The self passes' variances of the inputs of the block ``[si, sj]``, per activation."""
    return [(vx[si, ...], vy[sj, ...]) for vx, vy in zip(var_x, var_y, strict=True)]


def _run(layers, state, exponents=None, net=None):
    """Apply the layers in order.

    ``exponents``: for cross states, one entry per ``Nonlinearity`` (see
    :func:`skntk._kernel_scaling.activation_kernel`); None decides per state. With ``net`` (a
    :class:`skntk._kernel_network.Network`) each layer's output is checked for finiteness and
    a layer's own ``ValueError`` is re-raised naming the layer: the slow path that explains a
    failure of the fast one.
    """
    steps = iter(exponents) if exponents is not None else None
    # Floating-point warnings would only repeat what the finiteness checks report as errors.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i, layer in enumerate(layers):
            step = None
            if isinstance(layer, Nonlinearity):
                step = "auto" if steps is None else next(steps)
            if net is None:
                state = _layer_kernel(layer, state, step)
                continue
            peak = layer_peak(layer, state)
            try:
                state = _layer_kernel(layer, state, step)
            except ValueError as exc:
                raise ValueError(f"the {net.name} failed at {net.where(i, layer)}: {exc}") from exc
            net.check_layer(i, layer, state, peak)
    return state


def _run_explained(layers, make_state, exponents, net, remake_state=None):
    """:func:`_run` on ``make_state()``, the fast path. If a layer raises a ``ValueError``, the
    walk is repeated on ``(remake_state or make_state)()`` with each layer checked (``net``),
    so that the error names the layer."""
    try:
        return _run(layers, make_state(), exponents)
    except ValueError:  # say which layer: run again, checking each layer
        _run(layers, (remake_state or make_state)(), exponents, net=net)
        raise


def _layer_kernel(layer, state, step):
    if isinstance(layer, Nonlinearity):
        return activation_kernel(layer, state, step)
    return layer.kernel(state)


# ----------------------------------------------------------------------------------------------
# Fully connected kernels
# ----------------------------------------------------------------------------------------------


def _gram(X, Y):
    """``X Y^T`` as a dense array (sparse-aware)."""
    G = X @ Y.T
    if sp.issparse(G):
        return G.toarray()
    return G if is_array_api_input(G) else np.asarray(G)


def _row_sq_norms(X):
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1)).ravel()
    m = ops(X)
    if m.is_numpy:
        return np.einsum("ij,ij->i", X, X)
    return m.sum(X * X, axis=1)


def _rows(A, sl):
    """Rows ``sl`` of a matrix or image stack (sparse, NumPy or any namespace)."""
    return A[sl] if sp.issparse(A) else A[sl, ...]


def _mirror_strip(K, sl):
    """Copy the strip ``K[sl, sl.start:]`` of a symmetric kernel into the lower triangle."""
    m = ops(K)
    K[sl.stop :, sl] = K[sl, sl.stop :].T
    diag = K[sl, sl]
    if m.is_numpy:
        upper = np.triu(diag, 1)
        diag[...] = upper + upper.T + np.diag(np.diag(diag))
    else:  # upper triangle with the diagonal, plus the strict upper one mirrored
        K[sl, sl] = m.triu(diag) + m.triu(diag, k=1).T


def _fc_block_rows(layers, n2, native_numpy=True):
    """Rows of one block of a fully connected kernel with ``n2`` columns."""
    if not native_numpy:
        return max(1, _DEVICE_BLOCK_ENTRIES // max(n2, 1))
    # Duals without a closed form amortize their Hermite coefficients over large blocks.
    closed = all(
        getattr(layer, "activation", None) is None or layer.activation.has_closed_form_dual
        for layer in layers
    )
    return max(1, (_FC_BLOCK_ENTRIES if closed else _MAX_BLOCK_ENTRIES) // max(n2, 1))


def _blocks(m, n_jobs, tasks):
    """Run the block tasks: threads for NumPy, in order on the device otherwise."""
    if m.is_numpy:
        Parallel(n_jobs=n_jobs, prefer="threads")(delayed(task)(*args) for task, args in tasks)
    else:
        for task, args in tasks:
            task(*args)


def _fc_kernels(X, Y, layers, want_ntk, n_jobs):
    symmetric = Y is None
    X, Y = check_feature_pair(X, Y)
    with ops(X).device_context():
        return _fc_kernels_checked(X, Y, symmetric, layers, want_ntk, n_jobs)


def _fc_kernels_checked(X, Y, symmetric, layers, want_ntk, n_jobs):
    net = Network(layers, want_ntk)
    m = ops(X)
    # float32 inputs are computed in float32 (the user asked for single precision), else float64
    dtype = m.result_type(X.dtype, Y.dtype)
    d = X.shape[1]
    # Rows far from unit scale are divided by 2^k (exact). A homogeneous network gets the scale
    # back at the end, any other network right after forming the covariances.
    Xs, Ys, kx, ky, mx, my = scale_inputs(net, X, None if symmetric else Y, dtype)
    restore = net.degree is None

    def self_pass(Z, k, top, name):
        q = m.astype(_row_sq_norms(Z), m.float64) / d
        if restore and k.any():
            q_scaled, q = q, ldexp(q, 2 * k)
            net.check_input(q, q_scaled, k, top, name, np.float64)
        # O(n): always checked
        variances = _run(layers, _start_state(q, want_ntk, 0), net=net).variances
        return [net.check_cast(v, dtype, "pre-activation variances") for v in variances]

    var_x = self_pass(Xs, kx, mx, "X")
    var_y = var_x if symmetric else self_pass(Ys, ky, my, "Y")
    exponents = cross_exponents(layers, var_x, var_y, dtype)

    def initial_q(si=slice(None), sj=slice(None)):
        xs, ys = (Xs, Ys) if si == sj == slice(None) else (_rows(Xs, si), _rows(Ys, sj))
        q = _gram(_astype(xs, dtype), _astype(ys, dtype))
        q *= 1.0 / d
        if restore and (kx[si].any() or ky[sj].any()):
            q = ldexp(q, kx[si][:, None] + ky[sj][None, :], out=q)
        return q

    K = initial_q()
    n1, n2 = K.shape
    rows = _fc_block_rows(layers, n2, m.is_numpy)

    def cross_state(si, sj, q=None):
        q = initial_q(si, sj) if q is None else q
        return _start_state(q, want_ntk, 0, _pair_variances(var_x, var_y, si, sj))

    def block(sl):
        # symmetric: only the upper triangle (columns from the block's first row on)
        cols = slice(sl.start if symmetric else 0, n2)
        steps = slice_exponents(exponents, sl, cols)
        # a failed walk may have overwritten K[sl, cols]: the rerun starts from the inputs
        fresh = partial(cross_state, sl, cols)
        out = _run_explained(layers, partial(fresh, K[sl, cols]), steps, net, fresh)
        result = out.ntk if want_ntk else out.nngp
        if not all_finite(result):  # checked while in cache; located after the walk
            failed.append(sl)
        K[sl, cols] = result
        if symmetric:  # mirror this strip into the lower triangle (disjoint across blocks)
            _mirror_strip(K, sl)

    failed = []
    _blocks(m, n_jobs, [(block, (sl,)) for sl in gen_batches(n1, rows)])

    def diagnose(i, j):
        si, sj = slice(i, i + 1), slice(j, j + 1)
        steps = slice_exponents(exponents, si, sj)
        _run(layers, cross_state(si, sj), steps, net=net)

    if failed:
        net.check_output(K, diagnose)
    return net.rescale(K, kx, ky, max(mx.max(initial=0.0), my.max(initial=0.0)))


@_shared_doc
def nngp_kernel(
    X, Y=None, *, depth=1, activation="relu", weight_std=1.0, bias_std=0.0, n_jobs=None
):
    """NNGP kernel of a fully connected network of ``depth`` hidden layers.

    The network is ``depth x [Dense, act] + Dense`` with every Dense using weight standard
    deviation ``W = weight_std`` and bias standard deviation ``b = bias_std``. Starting from
    ``q_xy = <x, y> / d``, each Dense maps ``q <- W^2 q + b^2`` and each activation
    ``q_xy <- E[act(u) act(v)]`` with ``(u, v) ~ N(0, [[q_xx, q_xy], [q_xy, q_yy]])``.
    Example: ReLU, depth 1, ``W = 1``, ``b = 0`` gives
    ``|x||y| / (2 pi d) (sin t + (pi - t) cos t)``, ``t`` the angle between ``x`` and ``y``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        If None, ``Y = X``.
    depth : int, default=1
        Number of hidden layers (activations).
    activation : str, Activation or callable, default="relu"
        See :func:`skntk.activations.get_activation`.
    weight_std, bias_std : float, default=1.0, 0.0
        ``W`` and ``b``.
    n_jobs : int, default=None
        Threads over row blocks (None means 1, -1 all cores).

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        float32 when both inputs are float32, else float64 (computed in float64). For inputs
        of another array namespace (CuPy, array-API libraries) an array of that namespace, on
        the inputs' device (see the module docstring).

    {raises}

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.kernels import nngp_kernel
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> K = nngp_kernel(X)
    >>> K.round(4)  # diagonal: |x|^2 / (2 d); orthogonal pair: |x||y| / (2 pi d)
    array([[0.25  , 0.0796],
           [0.0796, 0.25  ]])
    """
    layers = fully_connected(
        depth,
        check_hyperparameters(depth, weight_std, bias_std, activation, "nngp_kernel"),
        weight_std,
        bias_std,
    )
    return _fc_kernels(X, Y, layers, want_ntk=False, n_jobs=n_jobs)


@_shared_doc
def ntk_kernel(X, Y=None, *, depth=1, activation="relu", weight_std=1.0, bias_std=0.0, n_jobs=None):
    """Neural tangent kernel of a fully connected network of ``depth`` hidden layers.

    Same network and NNGP recursion as :func:`nngp_kernel`; the NTK starts at ``T = 0`` and each
    Dense maps ``T <- q_new + W^2 T``, each activation ``T <- T E[act'(u) act'(v)]``.
    Example: ReLU, depth 1, ``W = 1``, ``b = 0`` gives
    ``NTK = NNGP + <x, y> / d (pi - t) / (2 pi)``.

    Parameters
    ----------
    X, Y, depth, activation, weight_std, bias_std, n_jobs
        As in :func:`nngp_kernel`.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        In the namespace and on the device of the inputs (NumPy, CuPy, array-API).

    {raises}

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.kernels import ntk_kernel
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> ntk_kernel(X).round(4)  # diagonal: 1/4 + 1/4
    array([[0.5   , 0.0796],
           [0.0796, 0.5   ]])
    """
    layers = fully_connected(
        depth,
        check_hyperparameters(depth, weight_std, bias_std, activation, "ntk_kernel"),
        weight_std,
        bias_std,
    )
    return _fc_kernels(X, Y, layers, want_ntk=True, n_jobs=n_jobs)


# ----------------------------------------------------------------------------------------------
# Convolutional kernels
# ----------------------------------------------------------------------------------------------


def _conv_layers(architecture, depth, activation, weight_std, bias_std, filter_size, caller):
    act = check_hyperparameters(depth, weight_std, bias_std, activation, caller)
    check_parameter(architecture, "architecture", StrOptions(set(ARCHITECTURES)), caller)
    check_parameter(filter_size, "filter_size", OddInteger(), caller)
    if architecture == "myrtle":
        if depth not in MYRTLE_BLOCKS:
            raise InvalidParameterError(
                f"myrtle depth must be one of {sorted(MYRTLE_BLOCKS)}, got {depth}"
            )
        return myrtle_network(depth, act, weight_std, bias_std, filter_size)
    return gap_network(depth, act, weight_std, bias_std, filter_size)


def _astype(A, dtype):
    return A.astype(dtype, copy=False) if sp.issparse(A) else ops(A).astype(A, dtype)


def _first_non_finite(variances):
    """Index of the first input whose per-pixel variances (at any layer) hold NaN or inf."""
    variances = [to_host(v) for v in variances]
    bad = np.zeros(len(variances[0]), bool)
    for v in variances:
        bad |= ~np.isfinite(v.reshape(len(v), -1)).all(axis=1)
    return int(np.argmax(bad))


def _pixel_gram(x, y, c):
    """``q[a, b, p, p'] = <x_a[p], y_b[p']> / C`` of image stacks ``x``, ``y`` (NHWC):
    shape ``(a, b, h, w, h, w)``, or ``(a, h, w, h, w)`` for ``y`` None (each image with
    itself)."""
    m = ops(x)
    a, h, w, _ = x.shape
    if m.is_numpy:
        if y is None:
            return np.einsum("ahwc,aijc->ahwij", x, x) / c
        return np.einsum("ahwc,bijc->abhwij", x, y) / c
    px = m.reshape(x, (a, h * w, c))
    if y is None:
        q = px @ m.transpose(px, (0, 2, 1))
        return m.reshape(q, (a, h, w, h, w)) / c
    b = y.shape[0]
    q = m.reshape(px, (a * h * w, c)) @ m.reshape(y, (b * h * w, c)).T
    q = m.transpose(m.reshape(q, (a, h, w, b, h, w)), (0, 3, 1, 2, 4, 5))
    return q / c


def _conv_kernels(X, Y, image_shape, layers, want_ntk, n_jobs):
    symmetric = Y is None
    X, Y, shape = check_image_pair(X, Y, image_shape)
    with ops(X).device_context():
        return _conv_kernels_checked(X, Y, symmetric, shape, layers, want_ntk, n_jobs)


def _conv_kernels_checked(X, Y, symmetric, shape, layers, want_ntk, n_jobs):
    net = Network(layers, want_ntk)
    (h, w, c) = shape
    m = ops(X)
    dtype = m.result_type(X.dtype, Y.dtype)
    pair = (h * w) ** 2
    block_entries = _MAX_BLOCK_ENTRIES if m.is_numpy else _DEVICE_BLOCK_ENTRIES
    # Images far from unit scale are divided by 2^k (exact), as rows in _fc_kernels; the walk
    # runs in float64.
    Xs, Ys, kx, ky, mx, my = scale_inputs(net, X, None if symmetric else Y, np.float64)
    restore = net.degree is None

    def self_state(Z, k, top, name, sl):
        z = m.astype(Z[sl, ...], m.float64)
        q = _pixel_gram(z, None, c)
        if restore and k[sl].any():
            q_scaled = m.copy(q)
            q = ldexp(q, 2 * k[sl].reshape(-1, 1, 1, 1, 1), out=q)
            net.check_input(q, q_scaled, k[sl].reshape(-1, 1, 1, 1, 1), top, name, np.float64)
        return _start_state(q, want_ntk, 2)

    def self_pass(Z, k, top, name):
        out = []
        for sl in gen_batches(Z.shape[0], max(1, block_entries // pair)):
            state = _run_explained(layers, partial(self_state, Z, k, top, name, sl), None, net)
            variances = state.variances
            if not all(all_finite(v) for v in variances):  # name the layer for one input
                i = sl.start + _first_non_finite(variances)
                _run(layers, self_state(Z, k, top, name, slice(i, i + 1)), net=net)
                raise ValueError(f"the {net.name} is not finite for {name}[{i}]")
            out.append(variances)
        return [m.concatenate(v) for v in zip(*out, strict=True)]

    var_x = self_pass(Xs, kx, mx, "X")
    var_y = var_x if symmetric else self_pass(Ys, ky, my, "Y")
    exponents = cross_exponents(layers, var_x, var_y, np.float64)
    n1, n2 = X.shape[0], Y.shape[0]
    K = m.empty((n1, n2), dtype=m.float64)
    side = max(1, int(np.sqrt(block_entries / pair)))

    def cross_state(si, sj):
        x, y = m.astype(Xs[si, ...], m.float64), m.astype(Ys[sj, ...], m.float64)
        q = _pixel_gram(x, y, c)
        if restore and (kx[si].any() or ky[sj].any()):
            e = (kx[si][:, None] + ky[sj][None, :]).reshape(tuple(q.shape[:2]) + (1,) * 4)
            q = ldexp(q, e, out=q)
        return _start_state(q, want_ntk, 2, _pair_variances(var_x, var_y, si, sj))

    def block(si, sj):
        steps = slice_exponents(exponents, si, sj)
        out = _run_explained(layers, lambda: cross_state(si, sj), steps, net)
        K[si, sj] = out.ntk if want_ntk else out.nngp

    _blocks(
        m,
        n_jobs,
        [(block, (si, sj)) for si in gen_batches(n1, side) for sj in gen_batches(n2, side)],
    )

    def diagnose(i, j):
        si, sj = slice(i, i + 1), slice(j, j + 1)
        _run(layers, cross_state(si, sj), slice_exponents(exponents, si, sj), net=net)

    net.check_output(K, diagnose)
    K = net.rescale(K, kx, ky, max(mx.max(initial=0.0), my.max(initial=0.0)))
    return net.check_cast(K, dtype)


_CONV_DOC_PARAMS = (
    """
    Parameters
    ----------
    X : array-like of shape (n_samples_X, H, W, C) or (n_samples_X, H*W*C)
        Images in NHWC layout; a 2-D array is the row-major flattening of ``(H, W, C)`` and
        needs ``image_shape``.
    Y : array-like, default=None
        Second set of images (same layout); if None, ``Y = X``.
    image_shape : tuple (H, W, C), default=None
        Required for 2-D input.
    architecture : {"gap", "myrtle"}, default="gap"
        ``"gap"``: ``depth x [Conv, act] + GlobalAvgPool + Dense``. ``"myrtle"``: Myrtle-5/7/10
        (``depth`` 5, 7 or 10): blocks of (2,1,1)/(2,2,2)/(3,3,3) ``[Conv 3x3, act]`` separated
        by ``AvgPool(2x2)``, then ``GlobalAvgPool + Dense``.
    depth : int, default=1
    activation : str, Activation or callable, default="relu"
    weight_std, bias_std : float, default=1.0, 0.0
    filter_size : int, default=3
        Odd convolution size ``f`` (SAME zero padding, stride 1).
    n_jobs : int, default=None
        Threads over blocks of image pairs.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        In the namespace and on the device of the inputs (NumPy, CuPy, array-API).

"""
    + _RAISES_DOC
)


def cnngp_kernel(
    X,
    Y=None,
    *,
    image_shape=None,
    architecture="gap",
    depth=1,
    activation="relu",
    weight_std=1.0,
    bias_std=0.0,
    filter_size=3,
    n_jobs=None,
):
    layers = _conv_layers(
        architecture, depth, activation, weight_std, bias_std, filter_size, "cnngp_kernel"
    )
    return _conv_kernels(X, Y, image_shape, layers, want_ntk=False, n_jobs=n_jobs)


def cntk_kernel(
    X,
    Y=None,
    *,
    image_shape=None,
    architecture="gap",
    depth=1,
    activation="relu",
    weight_std=1.0,
    bias_std=0.0,
    filter_size=3,
    n_jobs=None,
):
    layers = _conv_layers(
        architecture, depth, activation, weight_std, bias_std, filter_size, "cntk_kernel"
    )
    return _conv_kernels(X, Y, image_shape, layers, want_ntk=True, n_jobs=n_jobs)


cnngp_kernel.__doc__ = (
    """Convolutional NNGP kernel of images (pixel-pair recursion, cost O(n^2 (HW)^2)).

    Per pixel pair the input covariance is ``q[p, p'] = <x_p, y_p'> / C``; convolutions average
    shifted pixel pairs, activations act per pixel pair with the per-pixel variances, pooling
    averages pixel pairs (see :mod:`skntk.architectures`). Memory is bounded: image pairs are
    processed in blocks.
"""
    + _CONV_DOC_PARAMS
    + """
    Examples
    --------
    >>> import numpy as np
    >>> from skntk.kernels import cnngp_kernel
    >>> X = np.random.RandomState(0).randn(3, 4, 4, 2)
    >>> cnngp_kernel(X, depth=2).shape
    (3, 3)
"""
)
cntk_kernel.__doc__ = (
    """Convolutional NTK of images; same network as :func:`cnngp_kernel`, with
    ``T' = q' + W^2 (window mean of T)`` at each convolution and ``T <- T E[act' act']`` at each
    activation.
"""
    + _CONV_DOC_PARAMS
    + """
    Examples
    --------
    >>> import numpy as np
    >>> from skntk.kernels import cntk_kernel
    >>> X = np.random.RandomState(0).randn(3, 8, 8, 3)
    >>> cntk_kernel(X, architecture="myrtle", depth=5).shape
    (3, 3)
"""
)


@_shared_doc
def kernel(X, Y=None, *, layers, kind="ntk", image_shape=None, n_jobs=None):
    """Exact NNGP or NTK of any network described as a list of layers.

    The network is the composition of ``layers`` (see :mod:`skntk.architectures`), each
    applying its own rule to the kernel state of every input pair, starting from
    ``q_xy = <x, y> / d`` (features) or ``q[p, p'] = <x_p, y_p'> / C`` (images, per pixel
    pair) and ``T = 0``:

    * ``Dense(W, b)``: ``q <- W^2 q + b^2``, ``T <- q + W^2 T``;
    * ``Conv(f, W, b)``: ``q'[p, p'] = W^2 / f^2 sum_delta q[p+delta, p'+delta] + b^2`` (SAME
      zero padding), ``T' = q' + W^2 (window mean of T)``;
    * ``Nonlinearity(act)``: ``q <- E[act(u) act(v)]``, ``T <- T E[act'(u) act'(v)]``;
    * ``AvgPool()`` (2x2, stride 2) and ``GlobalAvgPool()``: averages over pixel pairs.

    The NNGP is the final ``q``, the NTK the final ``T``. :func:`nngp_kernel`, :func:`ntk_kernel`,
    :func:`cnngp_kernel` and :func:`cntk_kernel` are this function on the layer lists of
    :func:`~skntk.architectures.fully_connected`, :func:`~skntk.architectures.gap_network` and
    :func:`~skntk.architectures.myrtle_network`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features), or images
        Rows of features for a network of ``Dense`` and ``Nonlinearity`` layers; images
        ``(n, H, W, C)`` (or flattened, with ``image_shape``) for a network with ``Conv`` or
        ``AvgPool`` layers, which must contain exactly one ``GlobalAvgPool``.
    Y : array-like, default=None
        Second set of inputs; if None, ``Y = X``.
    layers : list of layers
        Instances of :class:`~skntk.architectures.Dense`, :class:`~skntk.architectures.Conv`,
        :class:`~skntk.architectures.Nonlinearity`, :class:`~skntk.architectures.AvgPool` and
        :class:`~skntk.architectures.GlobalAvgPool`, applied in order. End with a ``Dense``
        readout to match the conventions of the other kernel functions.
    kind : {"ntk", "nngp"}, default="ntk"
    image_shape : tuple (H, W, C), default=None
        For flattened images.
    n_jobs : int, default=None
        Threads over blocks of input pairs.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        In the namespace and on the device of the inputs (NumPy, CuPy, array-API).

    {raises}

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import Conv, Dense, GlobalAvgPool, Nonlinearity
    >>> from skntk.kernels import kernel, ntk_kernel
    >>> X = np.random.RandomState(0).randn(4, 5)
    >>> layers = [Dense(1.0, 0.1), Nonlinearity("erf"), Dense(1.5), Nonlinearity("relu"), Dense()]
    >>> kernel(X, layers=layers, kind="nngp").shape
    (4, 4)
    >>> from skntk.architectures import fully_connected
    >>> bool(np.allclose(kernel(X, layers=fully_connected(2, "relu")), ntk_kernel(X, depth=2)))
    True
    >>> images = np.random.RandomState(0).randn(3, 6, 6, 2)
    >>> net = [Conv(5, 1.3, 0.2), Nonlinearity("gelu"), GlobalAvgPool(), Dense()]
    >>> kernel(images, layers=net).shape
    (3, 3)
    """
    check_parameter(kind, "kind", StrOptions({"ntk", "nngp"}), "kernel")
    layers, images = _check_layers(layers)
    want_ntk = kind == "ntk"
    if images:
        return _conv_kernels(X, Y, image_shape, layers, want_ntk, n_jobs)
    if image_shape is not None:
        raise InvalidParameterError("image_shape is only for networks with Conv or AvgPool layers")
    return _fc_kernels(X, Y, layers, want_ntk, n_jobs)


def fc_kernel_from_covariances(layers, q_xx, q_yy, q_xy, want_ntk):
    """Run a fully connected layer list from input covariances.

    Parameters
    ----------
    layers : list
        From :func:`skntk.architectures.fully_connected`.
    q_xx : ndarray of shape (n1,)
    q_yy : ndarray of shape (n2,)
    q_xy : ndarray of shape (n1, n2)
        Input covariances ``<x, y> / d``.
    want_ntk : bool

    Returns
    -------
    K : ndarray of shape (n1, n2)
        The NTK if ``want_ntk`` else the NNGP.
    """

    def self_pass(q):
        return _run(layers, _start_state(np.array(q, dtype=np.float64), want_ntk, 0)).variances

    q = np.array(q_xy, dtype=np.float64)
    variances = list(zip(self_pass(q_xx), self_pass(q_yy), strict=True))
    out = _run(layers, _start_state(q, want_ntk, 0, variances))
    K = out.ntk if want_ntk else out.nngp
    if not all_finite(K):
        raise ValueError(f"the {Network(layers, want_ntk).name} of these covariances is not finite")
    return K
