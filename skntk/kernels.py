"""Exact infinite-width kernels: NNGP and NTK of fully connected and convolutional networks.

These functions are the ground truth for every sketch and benchmark in skntk, and can be used
directly, e.g. as ``SVC(kernel="precomputed")`` input. Conventions follow neural-tangents'
``stax`` (NTK parameterization); see :mod:`skntk.architectures` for the layer rules.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.utils import check_array, gen_batches

from .activations import get_activation
from .architectures import (
    MYRTLE_BLOCKS,
    AvgPool,
    Conv,
    Dense,
    GlobalAvgPool,
    KernelState,
    Nonlinearity,
    fully_connected,
    gap_network,
    myrtle_network,
)

__all__ = ["kernel", "nngp_kernel", "ntk_kernel", "cnngp_kernel", "cntk_kernel", "ARCHITECTURES"]

ARCHITECTURES = ("gap", "myrtle")
# Bound on the number of float64 entries of one block's pair tensor (about 64 MB).
_MAX_BLOCK_ENTRIES = 2**23
# Entries of one fully connected row block: small enough for the core's cache.
_FC_BLOCK_ENTRIES = 2**17


def _check_hyperparameters(depth, weight_std, bias_std, activation):
    if not isinstance(depth, numbers.Integral) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    for name, value in (("weight_std", weight_std), ("bias_std", bias_std)):
        if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return get_activation(activation)


def _check_features(X, name, dtype=(np.float64, np.float32)):
    return check_array(
        X,
        accept_sparse=("csr", "csc"),
        dtype=dtype,
        ensure_all_finite=True,
        input_name=name,
    )


def _gram(X, Y):
    """``X Y^T`` as a dense array (sparse-aware)."""
    G = X @ Y.T
    return G.toarray() if sp.issparse(G) else np.asarray(G)


def _row_sq_norms(X):
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", X, X)


def _run(layers, state):
    for layer in layers:
        state = layer.kernel(state)
    return state


def _fc_kernels(X, Y, layers, want_ntk, n_jobs):
    X = _check_features(X, "X")
    symmetric = Y is None
    Y = X if symmetric else _check_features(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features, got {X.shape[1]} and {Y.shape[1]}"
        )
    # float32 inputs are computed in float32 (the user asked for single precision), else float64
    dtype = np.result_type(X.dtype, Y.dtype)
    d = X.shape[1]

    def self_pass(Z):
        q = _row_sq_norms(Z).astype(np.float64) / d
        state = KernelState(q, np.zeros_like(q) if want_ntk else None, 0, True, [])
        return [v.astype(dtype) for v in _run(layers, state).variances]

    var_x = self_pass(X)
    var_y = var_x if symmetric else self_pass(Y)
    K = _gram(X.astype(dtype, copy=False), Y.astype(dtype, copy=False))
    K *= 1.0 / d

    n1, n2 = K.shape
    # Duals without a closed form amortize their Hermite coefficients over large blocks.
    closed = all(
        getattr(layer, "activation", None) is None or layer.activation.has_closed_form_dual
        for layer in layers
    )
    rows = max(1, (_FC_BLOCK_ENTRIES if closed else _MAX_BLOCK_ENTRIES) // max(n2, 1))

    def block(sl):
        # symmetric: only the upper triangle (columns from the block's first row on)
        cols = slice(sl.start if symmetric else 0, n2)
        q = K[sl, cols]
        state = KernelState(
            q,
            np.zeros_like(q) if want_ntk else None,
            0,
            False,
            [(vx[sl], vy[cols]) for vx, vy in zip(var_x, var_y, strict=True)],
        )
        out = _run(layers, state)
        K[sl, cols] = out.ntk if want_ntk else out.nngp
        if symmetric:  # mirror this strip into the lower triangle (disjoint across blocks)
            K[sl.stop :, sl] = K[sl, sl.stop :].T
            diag = K[sl, sl]
            upper = np.triu(diag, 1)
            diag[...] = upper + upper.T + np.diag(np.diag(diag))

    Parallel(n_jobs=n_jobs, prefer="threads")(delayed(block)(sl) for sl in gen_batches(n1, rows))
    return K


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
        float32 when both inputs are float32, else float64 (computed in float64).

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
        _check_hyperparameters(depth, weight_std, bias_std, activation),
        weight_std,
        bias_std,
    )
    return _fc_kernels(X, Y, layers, want_ntk=False, n_jobs=n_jobs)


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
        _check_hyperparameters(depth, weight_std, bias_std, activation),
        weight_std,
        bias_std,
    )
    return _fc_kernels(X, Y, layers, want_ntk=True, n_jobs=n_jobs)


# ----------------------------------------------------------------------------------------------
# Convolutional kernels
# ----------------------------------------------------------------------------------------------


def check_images(X, image_shape, name="X"):
    """Validate images: 4-D ``(n, H, W, C)`` or 2-D ``(n, H*W*C)`` with ``image_shape``.

    Returns the images as a float 4-D array and the shape ``(H, W, C)``.
    """
    if sp.issparse(X):
        raise TypeError(f"{name}: sparse images are not supported; pass a dense array")
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must contain numbers, got dtype {arr.dtype}") from None
    if arr.ndim == 4:
        if image_shape is not None and tuple(image_shape) != arr.shape[1:]:
            raise ValueError(
                f"image_shape={tuple(image_shape)} does not match {name}'s shape {arr.shape}"
            )
        image_shape = arr.shape[1:]
    elif arr.ndim == 2:
        if image_shape is None:
            raise ValueError(
                f"{name} is 2-D of shape {arr.shape}: pass image_shape=(H, W, C), or 4-D images"
            )
        image_shape = tuple(int(v) for v in image_shape)
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be three positive integers, got {image_shape}")
        if np.prod(image_shape) != arr.shape[1]:
            raise ValueError(
                f"image_shape={image_shape} has {np.prod(image_shape)} values per image but "
                f"{name} has {arr.shape[1]} columns"
            )
        arr = arr.reshape((arr.shape[0],) + image_shape)
    else:
        raise ValueError(
            f"{name} must be 4-D (n, H, W, C) or 2-D (n, H*W*C), got {arr.ndim}-D array"
        )
    flat = check_array(
        arr.reshape(arr.shape[0], -1), dtype=(np.float64, np.float32), input_name=name
    )
    return flat.reshape(arr.shape), tuple(image_shape)


def _conv_layers(architecture, depth, activation, weight_std, bias_std, filter_size):
    act = _check_hyperparameters(depth, weight_std, bias_std, activation)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    if not isinstance(filter_size, numbers.Integral) or filter_size < 1 or filter_size % 2 == 0:
        raise ValueError(f"filter_size must be a positive odd integer, got {filter_size!r}")
    if architecture == "myrtle":
        if depth not in MYRTLE_BLOCKS:
            raise ValueError(f"myrtle depth must be one of {sorted(MYRTLE_BLOCKS)}, got {depth}")
        return myrtle_network(depth, act, weight_std, bias_std, filter_size)
    return gap_network(depth, act, weight_std, bias_std, filter_size)


def _conv_kernels(X, Y, image_shape, layers, want_ntk, n_jobs):
    X, shape_x = check_images(X, image_shape, "X")
    symmetric = Y is None
    if symmetric:
        Y, shape_y = X, shape_x
    else:
        Y, shape_y = check_images(Y, image_shape if image_shape is not None else shape_x, "Y")
    if shape_x != shape_y:
        raise ValueError(f"X and Y images differ in shape: {shape_x} and {shape_y}")
    dtype = np.result_type(X.dtype, Y.dtype)
    h, w, c = shape_x
    pair = (h * w) ** 2

    def self_pass(Z):
        out = []
        for sl in gen_batches(Z.shape[0], max(1, _MAX_BLOCK_ENTRIES // pair)):
            z = Z[sl].astype(np.float64)
            q = np.einsum("ahwc,aijc->ahwij", z, z) / c
            state = KernelState(q, np.zeros_like(q) if want_ntk else None, 2, True, [])
            out.append(_run(layers, state).variances)
        return [np.concatenate(v) for v in zip(*out, strict=True)]

    var_x = self_pass(X)
    var_y = var_x if symmetric else self_pass(Y)
    n1, n2 = X.shape[0], Y.shape[0]
    K = np.empty((n1, n2))
    side = max(1, int(np.sqrt(_MAX_BLOCK_ENTRIES / pair)))

    def block(si, sj):
        x, y = X[si].astype(np.float64), Y[sj].astype(np.float64)
        q = np.einsum("ahwc,bijc->abhwij", x, y) / c
        state = KernelState(
            q,
            np.zeros_like(q) if want_ntk else None,
            2,
            False,
            [(vx[si], vy[sj]) for vx, vy in zip(var_x, var_y, strict=True)],
        )
        out = _run(layers, state)
        K[si, sj] = out.ntk if want_ntk else out.nngp

    Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(block)(si, sj) for si in gen_batches(n1, side) for sj in gen_batches(n2, side)
    )
    return K.astype(dtype, copy=False)


_CONV_DOC_PARAMS = """
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
"""


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
    layers = _conv_layers(architecture, depth, activation, weight_std, bias_std, filter_size)
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
    layers = _conv_layers(architecture, depth, activation, weight_std, bias_std, filter_size)
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


_LAYER_TYPES = (Dense, Conv, Nonlinearity, AvgPool, GlobalAvgPool)


def _check_layers(layers):
    """The layer list as a list, and whether it is an image network (one with spatial layers).

    An image network must reduce its pixels to one value per image pair with exactly one
    ``GlobalAvgPool``, after which only ``Dense`` and ``Nonlinearity`` layers may follow.
    """
    if isinstance(layers, str | bytes) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a list of layer objects, got {type(layers).__name__}")
    layers = list(layers)
    if not layers:
        raise ValueError("layers must contain at least one layer")
    for i, layer in enumerate(layers):
        if isinstance(layer, type):
            raise TypeError(
                f"layers[{i}] is the class {layer.__name__}; pass an instance, e.g. "
                f"{layer.__name__}()"
            )
        if not isinstance(layer, _LAYER_TYPES):
            names = ", ".join(t.__name__ for t in _LAYER_TYPES)
            raise TypeError(f"layers[{i}] = {layer!r} is not a layer ({names})")
    spatial = [i for i, layer in enumerate(layers) if isinstance(layer, Conv | AvgPool)]
    pools = [i for i, layer in enumerate(layers) if isinstance(layer, GlobalAvgPool)]
    if not spatial and not pools:
        return layers, False
    if len(pools) != 1:
        raise ValueError(
            "an image network (with Conv or AvgPool layers) needs exactly one GlobalAvgPool, "
            f"got {len(pools)}"
        )
    if spatial and max(spatial) > pools[0]:
        raise ValueError("Conv and AvgPool layers must come before the GlobalAvgPool")
    return layers, True


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
    if kind not in ("ntk", "nngp"):
        raise ValueError(f"kind must be 'ntk' or 'nngp', got {kind!r}")
    layers, images = _check_layers(layers)
    want_ntk = kind == "ntk"
    if images:
        return _conv_kernels(X, Y, image_shape, layers, want_ntk, n_jobs)
    if image_shape is not None:
        raise ValueError("image_shape is only for networks with Conv or AvgPool layers")
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
        q = np.array(q, dtype=np.float64)
        state = KernelState(q, np.zeros_like(q) if want_ntk else None, 0, True, [])
        return _run(layers, state).variances

    q = np.array(q_xy, dtype=np.float64)
    state = KernelState(
        q,
        np.zeros_like(q) if want_ntk else None,
        0,
        False,
        list(zip(self_pass(q_xx), self_pass(q_yy), strict=True)),
    )
    out = _run(layers, state)
    return out.ntk if want_ntk else out.nngp
