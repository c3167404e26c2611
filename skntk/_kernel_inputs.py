"""Validation of the exact kernels' arguments, with messages that say what to change.

Hyper-parameters follow the estimators' rules (scikit-learn's ``InvalidParameterError``) and
must have squares that float64 holds; layer lists must be lists of layer instances, with one
``GlobalAvgPool`` in an image network; inputs are real feature matrices (dense, sparse or
DataFrames paired by column) or images.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.externals import array_api_compat
from sklearn.utils import check_array

# scikit-learn's error for bad parameters (a ValueError and a TypeError), as the estimators
from sklearn.utils._param_validation import InvalidParameterError

from ._estimator import BIAS_STD, POSITIVE_INT, WEIGHT_STD, check_parameter
from ._special import is_array_api_input, ops
from .activations import get_activation
from .architectures import AvgPool, Conv, Dense, GlobalAvgPool, Nonlinearity

# weight_std and bias_std are squared by the layers: their squares must be finite and, for
# weight_std, non-zero.
_MAX_STD = math.sqrt(np.finfo(np.float64).max)
_MIN_WEIGHT_STD = math.sqrt(np.finfo(np.float64).tiny)
_LAYER_TYPES = (Dense, Conv, Nonlinearity, AvgPool, GlobalAvgPool)


# ----------------------------------------------------------------------------------------------
# Parameters (the same rules for the four kernel functions and layer lists)
# ----------------------------------------------------------------------------------------------


def check_square(name, value, caller):
    """The layers square ``weight_std`` and ``bias_std``: the squares must be float64 numbers
    (and ``weight_std**2`` non-zero), beyond the shared range rules."""
    value = float(value)
    if value >= _MAX_STD:
        raise InvalidParameterError(
            f"{caller}: {name}={value:.3g} is too large, {name}**2 overflows float64; use "
            f"{name} < {_MAX_STD:.2g}"
        )
    if name == "weight_std" and value < _MIN_WEIGHT_STD:
        raise InvalidParameterError(
            f"{caller}: weight_std={value:.3g} is too small, weight_std**2 underflows float64; "
            f"use weight_std >= {_MIN_WEIGHT_STD:.2g}"
        )


def check_hyperparameters(depth, weight_std, bias_std, activation, caller):
    """The estimators' rules (:mod:`skntk._estimator`), in scikit-learn's wording; returns the
    activation object."""
    check_parameter(depth, "depth", POSITIVE_INT, caller)
    for name, value, rule in (
        ("weight_std", weight_std, WEIGHT_STD),
        ("bias_std", bias_std, BIAS_STD),
    ):
        check_parameter(value, name, rule, caller)
        check_square(name, value, caller)
    return get_activation(activation)


def check_image_shape(image_shape):
    """``None`` or a tuple of three positive ints (a tuple, list or 1-D integer array)."""
    if image_shape is None:
        return None
    if isinstance(image_shape, np.ndarray) and image_shape.ndim == 1:
        image_shape = image_shape.tolist()
    if not isinstance(image_shape, tuple | list):
        raise InvalidParameterError(
            "image_shape must be a tuple (H, W, C) of three positive integers, got "
            f"{image_shape!r} of type {type(image_shape).__name__}"
        )
    if len(image_shape) != 3:
        raise InvalidParameterError(
            f"image_shape must be a tuple (H, W, C) of three positive integers, got "
            f"{tuple(image_shape)} ({len(image_shape)} values)"
        )
    for v in image_shape:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
            raise InvalidParameterError(
                f"image_shape must hold three positive integers, got {tuple(image_shape)}: "
                f"{v!r} is a {type(v).__name__}"
            )
        if v < 1:
            raise InvalidParameterError(
                f"image_shape must hold three positive integers, got {tuple(image_shape)}"
            )
    return tuple(int(v) for v in image_shape)


def check_layers(layers):
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
        _check_layer(i, layer)
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


def _check_layer(i, layer):
    """``layers[i]`` is a layer instance; a Dense or Conv layer's stds follow the kernel
    functions' rules."""
    if isinstance(layer, type):
        raise TypeError(
            f"layers[{i}] is the class {layer.__name__}; pass an instance, e.g. {layer.__name__}()"
        )
    if not isinstance(layer, _LAYER_TYPES):
        names = ", ".join(t.__name__ for t in _LAYER_TYPES)
        raise TypeError(f"layers[{i}] = {layer!r} is not a layer ({names})")
    if isinstance(layer, Dense | Conv):  # the same rules as the kernel functions' stds
        where = f"layers[{i}] = {layer!r}"
        check_parameter(layer.weight_std, "weight_std", WEIGHT_STD, where)
        check_parameter(layer.bias_std, "bias_std", BIAS_STD, where)
        check_square("weight_std", layer.weight_std, where)
        check_square("bias_std", layer.bias_std, where)


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------


def _complex_message(name, dtype):
    return (
        f"{name} has complex dtype {dtype}; the kernels are defined for real inputs. Pass its "
        f"real part (np.real({name})), or its real and imaginary parts as separate features "
        f"(np.concatenate([{name}.real, {name}.imag], axis=-1))"
    )


def _reject_complex(X, name):
    dtypes = getattr(X, "dtypes", None)  # DataFrames: one dtype per column
    if dtypes is not None and not isinstance(dtypes, np.dtype):
        try:
            kinds = [getattr(dt, "kind", "") for dt in dtypes]
        except TypeError:
            kinds = []
        if "c" in kinds:
            raise ValueError(_complex_message(name, "complex (some columns)"))
        return
    dtype = getattr(X, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "c":
        raise ValueError(_complex_message(name, dtype))


def _column_names(X):
    """Column labels of a DataFrame-like input (pandas, polars), else None."""
    if sp.issparse(X) or isinstance(X, np.ndarray):
        return None
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(columns, str):
        return None
    try:
        return list(columns)
    except TypeError:
        return None


def _check_same_columns(X, Y):
    """DataFrames are paired by position: their columns must be the same, in the same order."""
    cx, cy = _column_names(X), _column_names(Y)
    if cx is None or cy is None or cx == cy:
        return
    if len(cx) == len(cy) and set(cx) == set(cy):
        raise ValueError(
            "Y has the same columns as X but in a different order; the kernels pair columns by "
            "position, so reorder Y first, e.g. Y[X.columns]"
        )
    only_x = [c for c in cx if c not in set(cy)][:5]
    only_y = [c for c in cy if c not in set(cx)][:5]
    raise ValueError(
        f"X and Y have different columns (only in X: {only_x}, only in Y: {only_y}); the "
        "kernels pair columns by position, so pass Y with the columns of X, in the same order"
    )


def _check_features(X, name, dtype=(np.float64, np.float32)):
    _reject_complex(X, name)
    try:
        return check_array(
            X,
            accept_sparse=("csr", "csc"),
            dtype=dtype,
            ensure_all_finite=True,
            input_name=name,
        )
    except TypeError as exc:  # e.g. an object array holding complex numbers
        if "complex" in str(exc):
            raise ValueError(_complex_message(name, "object (holding complex numbers)")) from None
        raise


# ----------------------------------------------------------------------------------------------
# Arrays of other namespaces (CuPy, array-API libraries): checked and kept where they are
# ----------------------------------------------------------------------------------------------


def namespace_input(X, Y):
    """Whether the pair is computed in another namespace than NumPy (CuPy, array-API).

    Both arrays must then come from that one library: a NumPy ``Y`` with a CuPy ``X`` (or the
    reverse) is refused with a ``TypeError`` that says to convert one of them.
    """
    foreign = [is_array_api_input(A) for A in (X, Y) if A is not None]
    if not any(foreign):
        return False
    if not all(foreign):
        raise TypeError(
            "X and Y must be arrays of the same library: got "
            f"{type(X).__module__.split('.')[0]} and {type(Y).__module__.split('.')[0]}. "
            "Convert one of them, e.g. Y = xp.asarray(Y, device=X.device) with xp the "
            "namespace of X, or pass NumPy arrays for both"
        )
    ops(X, Y)  # one namespace and one device, else a TypeError / ValueError naming them
    return True


def check_namespace_array(X, name, ndims=(2,)):
    """``X`` of another namespace, checked as :func:`~sklearn.utils.check_array` would, and
    kept in its namespace and on its device.

    ``ndims`` are the allowed numbers of dimensions; at least one sample and one value per
    sample; real values (float32 and float64 kept, integers and booleans converted to
    float64, complex refused); finite.
    """
    xp = array_api_compat.array_namespace(X)
    m = ops(X)
    if X.ndim not in ndims:
        shapes = " or ".join(f"{k}-D" for k in ndims)
        raise ValueError(
            f"{name} must be a {shapes} array, got a {X.ndim}-D array of shape {tuple(X.shape)}"
        )
    if X.shape[0] < 1 or math.prod(X.shape[1:]) < 1:
        raise ValueError(
            f"{name} has shape {tuple(X.shape)}: pass at least one sample (row) and one feature"
        )
    if xp.isdtype(X.dtype, "complex floating"):
        raise ValueError(_complex_message(name, X.dtype))
    if not xp.isdtype(X.dtype, "real floating"):
        if not xp.isdtype(X.dtype, ("integral", "bool")):
            raise ValueError(f"{name} must contain real numbers, got dtype {X.dtype}")
        X = m.astype(X, m.float64)
    elif X.dtype not in (m.float32, m.float64):  # float16: computed in float64, as NumPy
        X = m.astype(X, m.float64)
    if not bool(m.all(m.isfinite(X))):
        raise ValueError(
            f"Input {name} contains NaN or infinity; the kernels need finite "
            "values: impute or drop them first"
        )
    return X


def check_feature_pair(X, Y):
    """``X`` and ``Y`` (``X`` itself when ``Y`` is None) as float32/float64 feature matrices,
    dense or CSR/CSC, with the same features. Arrays of another namespace (CuPy, array-API)
    stay in it, on their device."""
    if namespace_input(X, Y):
        X = check_namespace_array(X, "X")
        Y = X if Y is None else check_namespace_array(Y, "Y")
    else:
        if Y is not None:
            _check_same_columns(X, Y)
        X = _check_features(X, "X")
        Y = X if Y is None else _check_features(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features, got {X.shape[1]} and {Y.shape[1]}"
        )
    return X, Y


def check_image_pair(X, Y, image_shape):
    """``X`` and ``Y`` (``X`` itself when ``Y`` is None) as images of one shape, and the shape
    ``(H, W, C)``; see :func:`check_images`."""
    image_shape = check_image_shape(image_shape)
    if Y is not None and not namespace_input(X, Y):
        _check_same_columns(X, Y)
    X, shape_x = check_images(X, image_shape, "X")
    if Y is None:
        return X, X, shape_x
    Y, shape_y = check_images(Y, image_shape if image_shape is not None else shape_x, "Y")
    if shape_x != shape_y:
        raise ValueError(f"X and Y images differ in shape: {shape_x} and {shape_y}")
    return X, Y, shape_x


def check_images(X, image_shape, name="X"):
    """Validate images: 4-D ``(n, H, W, C)`` or 2-D ``(n, H*W*C)`` with ``image_shape``.

    Parameters
    ----------
    X : array-like
        Real images; complex, sparse and empty inputs are rejected.
    image_shape : tuple of three positive ints or None
        ``(H, W, C)``; required for 2-D input, checked against 4-D input.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    images : ndarray of shape (n, H, W, C)
        float64, or float32 for float32 input. Arrays of another namespace than NumPy (CuPy,
        array-API libraries) are returned in their namespace, on their device.
    shape : tuple (H, W, C)

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.kernels import check_images
    >>> images, shape = check_images(np.zeros((2, 12)), (2, 3, 2))
    >>> images.shape, shape
    ((2, 2, 3, 2), (2, 3, 2))
    """
    image_shape = check_image_shape(image_shape)
    if is_array_api_input(X):
        arr = check_namespace_array(X, name, ndims=(2, 4))
        arr, image_shape = _as_nhwc(arr, image_shape, name)
        return arr, tuple(image_shape)
    arr, image_shape = _as_nhwc(_real_array(X, name), image_shape, name)
    if arr.shape[0] == 0:
        raise ValueError(f"{name} holds no images (shape {arr.shape}); pass at least one image")
    flat = check_array(
        arr.reshape(arr.shape[0], -1), dtype=(np.float64, np.float32), input_name=name
    )
    return flat.reshape(arr.shape), tuple(image_shape)


def _real_array(X, name):
    """``X`` as a dense NumPy array of real numbers (not yet checked for shape or finiteness)."""
    if sp.issparse(X):
        raise TypeError(f"{name}: sparse images are not supported; pass a dense array")
    _reject_complex(X, name)
    arr = np.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(_complex_message(name, arr.dtype))
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must contain real numbers, got dtype {arr.dtype}") from None
    return arr


def _as_nhwc(arr, image_shape, name):
    """4-D images ``(n, H, W, C)`` from 4-D or flattened 2-D ``arr``, and their ``(H, W, C)``."""
    shape = tuple(int(v) for v in arr.shape)
    if arr.ndim == 4:
        if image_shape is not None and image_shape != shape[1:]:
            raise ValueError(f"image_shape={image_shape} does not match {name}'s shape {shape}")
        if min(shape[1:]) < 1:
            raise ValueError(
                f"{name} has images of shape {shape[1:]}: height, width and channels must "
                "be positive"
            )
        return arr, shape[1:]
    if arr.ndim == 2:
        if image_shape is None:
            raise ValueError(
                f"{name} is 2-D of shape {arr.shape}: pass image_shape=(H, W, C), or 4-D images"
            )
        if np.prod(image_shape) != arr.shape[1]:
            raise ValueError(
                f"image_shape={image_shape} has {np.prod(image_shape)} values per image but "
                f"{name} has {arr.shape[1]} columns"
            )
        return ops(arr).reshape(arr, (shape[0],) + image_shape), image_shape
    raise ValueError(f"{name} must be 4-D (n, H, W, C) or 2-D (n, H*W*C), got {arr.ndim}-D array")
