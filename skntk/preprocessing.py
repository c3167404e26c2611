"""Image preprocessing used in front of convolutional neural kernels.

Results of neural kernels on CIFAR-10 (Arora et al. 2019, Lee et al. 2020 "Finite versus
infinite neural networks", Novak et al.) depend strongly on how images are preprocessed before
the kernel sees them. This module provides the three standard steps as scikit-learn
transformers, so they can sit in a :class:`~sklearn.pipeline.Pipeline` in front of
:class:`skntk`'s convolutional sketches:

- :class:`ChannelStandardizer`: per-channel mean and standard deviation from the training set;
- :class:`ImageLayerNorm`: per-image centring and scaling ("layer norm" of each image);
- :class:`ZCAWhitening`: regularized ZCA whitening of whole flattened images.

Input conventions (shared by all three)
---------------------------------------
Images are NHWC. ``X`` is either a 4-D array of shape ``(n_samples, H, W, C)`` or a 2-D array
of shape ``(n_samples, H * W * C)`` holding the row-major flattening of each ``(H, W, C)``
image (the convention of the rest of skntk). The output has the same layout as the input:
4-D in gives 4-D out, 2-D in gives 2-D out. For 2-D input the image shape comes from the
``image_shape`` parameter; when it is ``None`` each row is read as a ``1 x 1`` image with
``n_features`` channels (so :class:`ChannelStandardizer` then standardizes every column, like
:class:`~sklearn.preprocessing.StandardScaler`; the two other transformers do not depend on the
image shape at all). ``float32`` input gives ``float32`` output, ``float64`` gives ``float64``;
other numeric input is converted to ``float64``.

Scale and validation (shared by all three)
------------------------------------------
The three transforms are invariant to multiplying ``X`` by a positive constant (for
:class:`ChannelStandardizer` and :class:`ImageLayerNorm` also to per-channel / per-image
shifts), and they stay so over the whole float range: the data are divided by a power of two
near their largest absolute value (exact in floating point) before anything is squared, so
``X * 1e-300``, ``X * 1e200`` or a single ``1e308`` entry give the same output as ``X`` up to
rounding, not zeros, infinities or NaN. Where a result itself is not representable in the
output dtype (``transform`` of data far larger than the training data, say), a
``ValueError`` says so and names the limit. NaN or infinite entries, complex input and input
without images or without pixels are rejected with a ``ValueError``.

Array namespaces (shared by all three)
--------------------------------------
Arrays of another library than NumPy (CuPy, ``array_api_strict``, any array-API array) are
computed on in their namespace and on their device, whether scikit-learn's
``array_api_dispatch`` is on or off: ``transform`` returns an array of the input's namespace,
device and dtype, and ``fit`` stores the fitted arrays (``mean_``, ``scale_``,
``whitening_``, ...) in the namespace and on the device of its input, as scikit-learn's
array-API estimators do. With dispatch off, ``transform`` also takes arrays of another
namespace than ``fit``'s (the fitted arrays are copied over, through the host, on each call);
with dispatch on it refuses them with a ``ValueError``, scikit-learn's rule. Only ZCA's
``d x d`` eigendecomposition may run on the host, for a namespace without ``linalg.eigh``.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.externals import array_api_compat
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._kernel_inputs import check_namespace_array
from ._special import is_array_api_input, ops, to_host

__all__ = ["ChannelStandardizer", "ImageLayerNorm", "ZCAWhitening"]

# Working-set bound for the float64 accumulations done in row batches (elements per batch).
_BATCH_ELEMENTS = 1 << 22


def _row_batches(n_rows, n_cols):
    """Yield slices of at most ``_BATCH_ELEMENTS`` elements over ``n_rows`` rows."""
    step = max(1, _BATCH_ELEMENTS // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _pow2_scale(max_abs):
    """Return powers of two ``s`` with ``max_abs / s`` in [1, 2) (1 where ``max_abs`` is 0).

    Dividing by a power of two is exact for normal floats, so pre-scaling by ``s`` changes
    no digit of the data while bringing them to order 1, where squares and sums of squares
    neither overflow (data near 1e308) nor underflow (data near 1e-300).
    """
    m = ops(max_abs)
    max_abs = (
        m.astype(max_abs, m.float64)
        if is_array_api_input(max_abs)
        else np.asarray(max_abs, dtype=np.float64)
    )
    exponent = m.exponent(max_abs)  # max_abs = f * 2**exponent with f in [0.5, 1)
    scale = m.ldexp(m.ones_like(max_abs), exponent - 1)
    return m.where(max_abs > 0, scale, 1.0)


def _max_abs(X2, axis=None):
    """Largest absolute value of ``X2`` (over ``axis``) as float64, without a copy of ``X2``."""
    m = ops(X2)
    return m.astype(m.maximum(m.abs(m.max(X2, axis=axis)), m.abs(m.min(X2, axis=axis))), m.float64)


def _divide64(m, block, s):
    """``block / s`` in float64 (``s`` a power of two: exact)."""
    if m.is_numpy:
        return np.divide(block, s, dtype=np.float64)
    return m.astype(block, m.float64) / s


def _check_output_finite(out, estimator, what):
    """Raise a ValueError naming the dtype's limit if ``out`` overflowed."""
    m = ops(out)
    if not bool(m.all(m.isfinite(out))):
        limit = float(m.finfo(out.dtype).max)
        raise ValueError(
            f"{type(estimator).__name__}.transform: {what} exceed the largest {out.dtype} "
            f"value ({limit:.4g}). X lies far outside the scale of the data the transformer "
            "was fitted on; fit it on data of this scale, or rescale X."
        )


def _namespace_key(a):
    """``(namespace, device)`` of an array, to compare where two arrays live."""
    xp = array_api_compat.array_namespace(a)
    return xp.__name__.rsplit(".", 1)[-1], repr(array_api_compat.device(a))


def _dtype_description(X):
    """A short description of the dtype(s) of ``X`` for error messages."""
    if hasattr(X, "dtypes"):  # data frames
        return ", ".join(sorted({str(d) for d in np.atleast_1d(X.dtypes)}))
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(X).dtype
        except Exception:
            return "unknown"
    if dtype.kind == "O":
        return "object (holding complex numbers)"
    return str(dtype)


def _check_image_shape(image_shape):
    """Validate the ``image_shape`` parameter and return it as a tuple of 3 ints (or None)."""
    if image_shape is None:
        return None
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape
    ):
        raise ValueError(
            "image_shape must be None or a tuple of three positive integers (H, W, C), "
            f"got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)


def _eigh(m, cov):
    """Eigenvalues (ascending) and eigenvectors of the symmetric ``cov``: NumPy's or CuPy's
    ``linalg.eigh``, the namespace's ``linalg.eigh`` (array-API ``linalg`` extension), or
    NumPy's on a host copy for a namespace without it (a ``d x d`` matrix, once per fit)."""
    if m.native:
        return m.linalg.eigh(cov)
    linalg = getattr(m.xp, "linalg", None)
    if linalg is not None and hasattr(linalg, "eigh"):
        return tuple(linalg.eigh(cov))
    eigvals, eigvecs = np.linalg.eigh(to_host(cov))
    return m.asarray(eigvals), m.asarray(eigvecs)


class _ImageTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Shared input handling: 2-D / 4-D NHWC images, dtype and shape checks."""

    def _validate_images(self, X, *, reset):
        """Validate ``X`` and return ``(X2, image_shape, is_4d)``.

        ``X2`` is a 2-D ``(n_samples, H*W*C)`` float32/float64 array (a view of the validated
        input where possible), ``image_shape`` the ``(H, W, C)`` used to read it. With
        ``reset=True`` this sets ``n_features_in_`` (and ``feature_names_in_``) and the caller
        stores ``image_shape_``; with ``reset=False`` the widths and image shapes are checked
        against the fitted ones when the estimator is fitted.
        """
        if not (sp.issparse(X) or hasattr(X, "dtype") or hasattr(X, "columns")):
            try:  # lists: convert once here so that a complex dtype can be named below
                X = np.asarray(X)
            except Exception:
                pass  # ragged lists and the like: check_array gives its own message
        try:
            return self._validate_images_inner(X, reset=reset)
        except (ValueError, TypeError) as exc:
            # scikit-learn's message for complex input prints the whole array, and object
            # arrays of complex numbers fail in float() with a TypeError; name the dtype
            # instead (keeping the first words, which scikit-learn's estimator checks expect).
            message = str(exc)
            if not (
                message.startswith("Complex data not supported")
                or (isinstance(exc, TypeError) and "'complex'" in message)
            ):
                raise
            raise ValueError(
                f"Complex data not supported: {type(self).__name__} got X of dtype "
                f"{_dtype_description(X)}. Images must be real; pass X.real or np.abs(X) "
                "explicitly if one of those is meant."
            ) from None

    def _validate_images_inner(self, X, *, reset):
        param_shape = _check_image_shape(self.image_shape)
        fitted_shape = None if reset else getattr(self, "image_shape_", None)
        dtypes = (np.float64, np.float32)
        if is_array_api_input(X):  # kept in its namespace and on its device
            Xa = check_namespace_array(X, "X", ndims=(2, 4))
            if Xa.ndim == 4:
                return self._validate_4d(Xa, param_shape, fitted_shape, reset)
            X2 = validate_data(self, Xa, reset=reset, skip_check_array=True)
        elif sp.issparse(X) or hasattr(X, "columns") or hasattr(X, "__dataframe__"):
            # Sparse input (rejected with scikit-learn's message) and data frames (whose column
            # names are recorded) go straight to validate_data: they are 2-D.
            X2 = validate_data(self, X, reset=reset, dtype=dtypes)
        else:
            Xa = check_array(
                X,
                allow_nd=True,
                dtype=dtypes,
                input_name="X",
                estimator=self,
                ensure_min_samples=0,
            )
            if Xa.ndim in (2, 4) and Xa.shape[0] == 0:
                raise ValueError(
                    f"X holds 0 images (shape={Xa.shape}); {type(self).__name__} needs at "
                    "least one image (Found array with 0 sample(s))."
                )
            if Xa.ndim not in (2, 4):
                raise ValueError(
                    f"{type(self).__name__} expects X of shape (n_samples, H*W*C) or "
                    f"(n_samples, H, W, C); got an array of shape {Xa.shape}."
                )
            if Xa.ndim == 4:
                return self._validate_4d(Xa, param_shape, fitted_shape, reset)
            X2 = validate_data(
                self, Xa, reset=reset, dtype=dtypes, ensure_all_finite=False, copy=False
            )
        n_features = X2.shape[1]
        if fitted_shape is not None:
            return X2, fitted_shape, False
        if param_shape is None:
            return X2, (1, 1, n_features), False
        if int(np.prod(param_shape)) != n_features:
            raise ValueError(
                f"image_shape={param_shape} implies {int(np.prod(param_shape))} features per "
                f"image (H*W*C), but X has {n_features} features."
            )
        return X2, param_shape, False

    def _validate_4d(self, X4, param_shape, fitted_shape, reset):
        """Check a validated 4-D array against the image shapes; return it flattened."""
        shape = tuple(int(s) for s in X4.shape[1:])
        if 0 in shape:
            raise ValueError(
                f"X holds images of shape {shape} (H, W, C), which have no pixels; every "
                "image dimension must be at least 1."
            )
        if fitted_shape is not None and shape != fitted_shape:
            raise ValueError(
                f"X has image shape {shape}, but {type(self).__name__} was fitted with "
                f"image shape {fitted_shape}."
            )
        if fitted_shape is None and param_shape is not None and shape != param_shape:
            raise ValueError(
                f"image_shape={param_shape} does not match the shape of the images in X, "
                f"{shape} (X has shape {X4.shape})."
            )
        if is_array_api_input(X4):
            X2 = ops(X4).reshape(X4, (X4.shape[0], -1))
            return validate_data(self, X2, reset=reset, skip_check_array=True), shape, True
        X2 = X4.reshape(X4.shape[0], -1)
        X2 = validate_data(
            self,
            X2,
            reset=reset,
            dtype=(np.float64, np.float32),
            ensure_all_finite=False,
            copy=False,
        )
        return X2, shape, True

    @staticmethod
    def _restore(Xt2, image_shape, is_4d):
        """Return the 2-D result in the layout of the input."""
        if is_4d:
            return ops(Xt2).reshape(Xt2, (Xt2.shape[0],) + tuple(image_shape))
        return Xt2

    def _fitted_like(self, X2, *values):
        """Fitted arrays in the namespace and on the device of ``X2``.

        With ``array_api_dispatch`` on, scikit-learn's rule: ``X2`` must live where ``fit``'s
        input did (a ``ValueError`` otherwise). With it off, fitted arrays of another
        namespace are copied over through the host.
        """
        where = _namespace_key(X2)
        out = []
        for v in values:
            if _namespace_key(v) == where:
                out.append(v)
                continue
            self._check_fit_namespace(_namespace_key(v), where)
            out.append(ops(X2).asarray(to_host(v)))
        return out

    def _check_fit_namespace(self, fitted, where):
        """scikit-learn's rule under ``array_api_dispatch``: ``transform``'s input must live
        where ``fit``'s did (``(namespace, device)`` keys)."""
        if fitted is None or fitted == where or not get_config()["array_api_dispatch"]:
            return
        raise ValueError(
            f"Inputs passed to {type(self).__name__}.transform() must use the same "
            "namespace and the same device as those passed to fit() when "
            f"array_api_dispatch is on: fit got {fitted[0]} arrays on {fitted[1]}, "
            f"transform got {where[0]} arrays on {where[1]}. Pass arrays like fit's, "
            "fit again on arrays like X, or turn array_api_dispatch off"
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.array_api_support = True
        return tags


class ChannelStandardizer(_ImageTransformer):
    r"""Standardize every colour channel with statistics of the training images.

    For channel :math:`c`, with :math:`x_{i,h,w,c}` the training pixels,

    .. math::

        \mu_c = \frac{1}{nHW} \sum_{i,h,w} x_{i,h,w,c}, \qquad
        \sigma_c^2 = \frac{1}{nHW} \sum_{i,h,w} (x_{i,h,w,c} - \mu_c)^2,

    and ``transform`` returns :math:`(x_{i,h,w,c} - \mu_c) / \sigma_c`. On the training set every
    channel of the output then has mean 0 and (population) variance 1. A channel that is
    constant in the training data gets :math:`\sigma_c = 1` (and maps to 0 there).

    Parameters
    ----------
    image_shape : tuple of 3 int (H, W, C), default=None
        Shape of one image, used to read 2-D input ``(n_samples, H*W*C)`` (row-major
        flattening of ``(H, W, C)``). Ignored for 4-D input, except that it must then match
        ``X.shape[1:]``. When ``None`` and ``X`` is 2-D, each row is a ``1 x 1`` image with
        ``n_features`` channels, i.e. every column is standardized on its own (as
        :class:`~sklearn.preprocessing.StandardScaler` does).

    Attributes
    ----------
    mean_ : ndarray of shape (C,)
        Per-channel mean :math:`\mu_c` (float64).
    scale_ : ndarray of shape (C,)
        Per-channel standard deviation :math:`\sigma_c` (1 for constant channels, float64).
    image_shape_ : tuple of 3 int
        The ``(H, W, C)`` image shape seen in ``fit``.
    n_features_in_ : int
        Number of features per image, ``H * W * C``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit`` (only when ``X`` has string column names).

    See Also
    --------
    ImageLayerNorm : Per-image centring and scaling.
    ZCAWhitening : Whitening of whole images.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.preprocessing import ChannelStandardizer
    >>> X = np.random.RandomState(0).rand(10, 4, 4, 3).astype(np.float32)
    >>> Xt = ChannelStandardizer().fit_transform(X)
    >>> Xt.shape, Xt.dtype
    ((10, 4, 4, 3), dtype('float32'))
    >>> np.allclose(Xt.mean(axis=(0, 1, 2)), 0, atol=1e-6)
    True
    >>> np.allclose(Xt.std(axis=(0, 1, 2)), 1, atol=1e-5)
    True
    """

    _parameter_constraints: dict = {"image_shape": [None, tuple, list]}

    def __init__(self, image_shape=None):
        self.image_shape = image_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the per-channel mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Training images (NHWC, or their row-major flattening).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X2, shape, _ = self._validate_images(X, reset=True)
        m = ops(X2)
        n_channels = shape[2]
        pixels = m.reshape(X2, (-1, n_channels))  # one row per (image, pixel)
        n_pixels = pixels.shape[0]
        lo = m.astype(m.min(pixels, axis=0), m.float64)
        hi = m.astype(m.max(pixels, axis=0), m.float64)
        constant = lo == hi
        # Statistics of pixels / s, s a power of two per channel: sums neither overflow
        # (values near 1e308) nor do squares underflow (values near 1e-300).
        s = _pow2_scale(m.maximum(m.abs(lo), m.abs(hi)))
        total = m.zeros(n_channels, dtype=m.float64)
        for rows in _row_batches(n_pixels, n_channels):
            total += m.sum(_divide64(m, pixels[rows, ...], s), axis=0)
        # exact for constant channels: they map to 0
        mean_s = m.where(constant, lo / s, total / n_pixels)
        sq = m.zeros(n_channels, dtype=m.float64)
        for rows in _row_batches(n_pixels, n_channels):
            diff = _divide64(m, pixels[rows, ...], s) - mean_s
            sq += np.einsum("ij,ij->j", diff, diff) if m.is_numpy else m.sum(diff * diff, axis=0)
        mean = mean_s * s
        scale = m.sqrt(sq / n_pixels) * s
        if bool(m.any(~constant & (scale == 0))):
            raise ValueError(
                "ChannelStandardizer.fit: the standard deviation of a non-constant channel "
                "underflows to 0 (below the smallest float64, "
                f"{np.finfo(np.float64).smallest_subnormal:.3g}); multiply X by a constant (the "
                "standardized output does not change)."
            )
        self.mean_ = mean
        self.scale_ = m.where(constant, 1.0, scale)
        self.image_shape_ = shape
        return self

    def transform(self, X):
        """Standardize every channel of every image.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Images with the image shape seen in ``fit``.

        Returns
        -------
        X_new : ndarray of the same shape as X
            Standardized images, float32 for float32 input and float64 otherwise.
        """
        check_is_fitted(self)
        X2, shape, is_4d = self._validate_images(X, reset=False)
        m = ops(X2)
        mean, scale = self._fitted_like(X2, self.mean_, self.scale_)
        n_channels = shape[2]
        pixels = m.reshape(X2, (-1, n_channels))
        # (x - mean) / scale computed as (x/s - mean/s) / (scale/s), s a power of two: the
        # same roundings, but x - mean cannot overflow for values near the float64 limit.
        s = _pow2_scale(m.maximum(m.abs(mean), scale))
        mean_s, scale_s = mean / s, scale / s
        out = m.empty_like(pixels)
        with np.errstate(over="ignore"):
            for rows in _row_batches(pixels.shape[0], n_channels):
                block = _divide64(m, pixels[rows, ...], s)
                block -= mean_s
                block /= scale_s
                out[rows, ...] = block if m.native else m.astype(block, out.dtype)
        _check_output_finite(out, self, "the standardized values")
        return self._restore(m.reshape(out, X2.shape), shape, is_4d)


class ImageLayerNorm(_ImageTransformer):
    r"""Centre every image and scale it to a fixed norm (layer normalization of each image).

    For one image flattened to :math:`x \in \mathbb{R}^d`, :math:`d = HWC`:

    .. math::

        \bar x = \frac{1}{d} \sum_{j=1}^d x_j, \qquad
        T(x) = \sqrt{d}\, \frac{x - \bar x}{\lVert x - \bar x \rVert_2}.

    Every transformed image has mean 0 over all its pixels and channels, Euclidean norm
    :math:`\sqrt d` and so per-entry second moment :math:`\frac1d \sum_j T(x)_j^2 = 1`.
    Constant images (zero images included) have :math:`x - \bar x = 0` and are mapped to the
    zero image (no NaN). Computations are done in float64 and cast back to the input dtype.

    The transformer is stateless: ``fit`` only validates ``X`` and records ``n_features_in_``
    and ``image_shape_``; ``transform`` can also be called on an unfitted instance.

    Parameters
    ----------
    image_shape : tuple of 3 int (H, W, C), default=None
        Shape of one image for 2-D input ``(n_samples, H*W*C)``. The result does not depend on
        it (the normalization runs over all pixels and channels); it is checked against the
        number of features (and, for 4-D input, against ``X.shape[1:]``). When ``None``, a 2-D
        row is read as one flat image.

    Attributes
    ----------
    image_shape_ : tuple of 3 int
        The ``(H, W, C)`` image shape seen in ``fit`` (``(1, 1, n_features)`` for 2-D input
        without ``image_shape``).
    n_features_in_ : int
        Number of features per image, ``H * W * C``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit`` (only when ``X`` has string column names).

    See Also
    --------
    ChannelStandardizer : Per-channel standardization with training statistics.
    ZCAWhitening : Whitening of whole images.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.preprocessing import ImageLayerNorm
    >>> X = np.array([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 1.0, 5.0], [5.0, 5.0, 5.0, 5.0]])
    >>> Xt = ImageLayerNorm().fit_transform(X)
    >>> Xt[[0, 2]]
    array([[-1., -1.,  1.,  1.],
           [ 0.,  0.,  0.,  0.]])
    >>> np.allclose(Xt.mean(axis=1), 0), np.allclose((Xt[:2] ** 2).mean(axis=1), 1)
    (True, True)
    """

    _parameter_constraints: dict = {"image_shape": [None, tuple, list]}

    def __init__(self, image_shape=None):
        self.image_shape = image_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate ``X`` and record its number of features and image shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Images (NHWC, or their row-major flattening).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X2, shape, _ = self._validate_images(X, reset=True)
        self.image_shape_ = shape
        self._fit_namespace_ = _namespace_key(X2)  # for scikit-learn's rule under dispatch
        return self

    def transform(self, X):
        """Centre every image and scale it to norm ``sqrt(H*W*C)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Images; when fitted, with the image shape seen in ``fit``.

        Returns
        -------
        X_new : ndarray of the same shape as X
            Normalized images, float32 for float32 input and float64 otherwise.
        """
        X2, shape, is_4d = self._validate_images(X, reset=False)
        self._check_fit_namespace(getattr(self, "_fit_namespace_", None), _namespace_key(X2))
        m = ops(X2)
        n, d = X2.shape
        out = m.empty_like(X2)
        for rows in _row_batches(n, d):
            X_rows = X2[rows, ...]
            hi, lo = m.max(X_rows, axis=1), m.min(X_rows, axis=1)
            # Each image divided by a power of two near its largest |value| (exact), so the
            # sum of squares neither overflows nor underflows at any scale of the input.
            s = _pow2_scale(_max_abs(X_rows, axis=1))
            block = _divide64(m, X_rows, s[:, None])
            block -= m.mean(block, axis=1, keepdims=True)
            norm = m.sqrt(m.sum(block * block, axis=1))
            # A row is exactly constant iff its centred version carries no signal; test it on
            # the input so that rounding residues of constant rows are not blown up.
            keep = (hi > lo) & (norm > 0)
            factor = m.where(keep, float(np.sqrt(d)) / m.where(keep, norm, 1.0), 0.0)
            scaled = block * factor[:, None]
            out[rows, ...] = scaled if m.native else m.astype(scaled, out.dtype)
        return self._restore(out, shape, is_4d)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class ZCAWhitening(_ImageTransformer):
    r"""Regularized ZCA whitening of whole (flattened) images.

    With :math:`X \in \mathbb{R}^{n \times d}` the flattened training images, :math:`\mu` their
    mean and :math:`C = \frac1n (X - \mu)^\top (X - \mu) = U \operatorname{diag}(S) U^\top`
    their (population) covariance, the whitening matrix is

    .. math::

        W = U \left(\operatorname{diag}(S) + \lambda \bar S I\right)^{-1/2} U^\top,
        \qquad \bar S = \frac1d \sum_j S_j = \frac{\operatorname{tr} C}{d},

    with :math:`\lambda` = ``regularization`` measured relative to the mean eigenvalue
    :math:`\bar S` (the convention of Lee et al. 2020, "Finite versus infinite neural networks:
    an empirical study", whose CIFAR-10 kernels use ZCA with :math:`\lambda = 0.1`), and
    ``transform(X) = (X - mu) @ W``. :math:`W` is symmetric, so the whitened training data have
    covariance :math:`U \operatorname{diag}(S / (S + \lambda \bar S)) U^\top`: the identity for
    :math:`\lambda = 0` and full-rank data, a smooth shrinkage of the low-variance directions
    otherwise. Directions where :math:`S_j + \lambda \bar S \le d\,\epsilon \max_j S_j` (only
    possible with :math:`\lambda = 0` or constant data) are dropped, i.e. :math:`W` uses the
    pseudo-inverse there, so rank-deficient data give finite output.

    ZCA whitening is invariant to scaling: :math:`X \to cX` gives :math:`S \to c^2 S`,
    :math:`W \to W / c`, and the same output. The covariance is formed from :math:`X / s`, with
    :math:`s` a power of two near :math:`\max |X|` (``input_scale_``), so this holds across
    the float64 range.

    The whitening is over whole images (a :math:`d \times d` matrix, :math:`d = HWC`); patch-wise
    ZCA is not implemented. Statistics are accumulated in float64; ``transform`` multiplies in
    the dtype of the input.

    Parameters
    ----------
    regularization : float, default=0.1
        :math:`\lambda \ge 0`, the ridge added to the covariance eigenvalues, as a fraction of
        their mean.
    image_shape : tuple of 3 int (H, W, C), default=None
        Shape of one image for 2-D input ``(n_samples, H*W*C)``. The result does not depend on
        it; it is checked against the number of features (and, for 4-D input, against
        ``X.shape[1:]``). When ``None``, a 2-D row is read as one flat image.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features_in_,)
        Mean training image :math:`\mu` (flattened, float64).
    input_scale_ : float
        The power of two :math:`s` that the training images were divided by before their
        covariance was formed, :math:`1 \le \max |X| / s < 2` (1 for all-zero data). The
        division is exact, and keeps the covariance representable for data near the limits
        of float64, whose squares would overflow or underflow.
    eigenvalues_ : ndarray of shape (n_features_in_,)
        Eigenvalues of the covariance of :math:`X / s`, in decreasing order (float64, clipped
        at 0). The eigenvalues of the training covariance :math:`C` are
        ``eigenvalues_ * input_scale_ ** 2`` (when representable in float64: for
        :math:`\max|X|` beyond about 1e154 they are not).
    whitening_ : ndarray of shape (n_features_in_, n_features_in_)
        The symmetric whitening matrix :math:`W` (float64), so that ``transform(X)`` is
        ``(X - mean_) @ whitening_``.
    image_shape_ : tuple of 3 int
        The ``(H, W, C)`` image shape seen in ``fit`` (``(1, 1, n_features)`` for 2-D input
        without ``image_shape``).
    n_features_in_ : int
        Number of features per image, ``H * W * C``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit`` (only when ``X`` has string column names).

    See Also
    --------
    ChannelStandardizer : Per-channel standardization with training statistics.
    ImageLayerNorm : Per-image centring and scaling, usually applied before ZCA.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.preprocessing import ZCAWhitening
    >>> X = np.random.RandomState(0).randn(500, 2, 2, 1) * [[[3.0], [1.0]], [[0.5], [2.0]]]
    >>> Xt = ZCAWhitening(regularization=0.0).fit_transform(X)
    >>> Xt.shape
    (500, 2, 2, 1)
    >>> np.allclose(np.cov(Xt.reshape(500, -1).T, bias=True), np.eye(4))
    True
    """

    _parameter_constraints: dict = {
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "image_shape": [None, tuple, list],
    }

    def __init__(self, regularization=0.1, image_shape=None):
        self.regularization = regularization
        self.image_shape = image_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the mean image and the whitening matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Training images (NHWC, or their row-major flattening).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X2, shape, _ = self._validate_images(X, reset=True)
        m = ops(X2)
        n, d = X2.shape
        # Work with X / s, s a power of two near max |X| (exact): its covariance has entries
        # of order 1, where X's own would overflow (|X| > 1e154) or underflow (< 1e-154).
        # The whitening of X / s is s times that of X, so nothing else changes.
        s = float(_pow2_scale(_max_abs(X2)))
        total = m.zeros(d, dtype=m.float64)
        for rows in _row_batches(n, d):
            total += m.sum(_divide64(m, X2[rows, ...], s), axis=0)
        mean_s = total / n
        cov = m.zeros((d, d), dtype=m.float64)
        for rows in _row_batches(n, d):
            block = _divide64(m, X2[rows, ...], s) - mean_s
            cov += block.T @ block
        cov /= n
        eigvals, eigvecs = _eigh(m, cov)
        eigvals = m.maximum(eigvals, 0.0)
        shifted = eigvals + float(self.regularization) * m.mean(eigvals)
        tol = d * float(np.finfo(np.float64).eps) * m.max(eigvals)
        keep = shifted > tol
        inv_sqrt = m.where(keep, 1.0 / m.sqrt(m.where(keep, shifted, 1.0)), 0.0)
        whitening_s = (eigvecs * inv_sqrt) @ eigvecs.T
        with np.errstate(over="ignore"):
            whitening = 0.5 * (whitening_s + whitening_s.T) / s
        if not bool(m.all(m.isfinite(whitening))):
            raise ValueError(
                "ZCAWhitening.fit: the whitening matrix of X has entries above the largest "
                f"float64 value ({np.finfo(np.float64).max:.4g}) because X is tiny (max |X| = "
                f"{float(_max_abs(X2)):.3g}); multiply X by a constant (ZCA whitening is scale "
                "invariant)."
            )
        self.mean_ = mean_s * s
        self.input_scale_ = s
        self.eigenvalues_ = m.copy(eigvals[::-1])
        self.whitening_ = whitening
        self.image_shape_ = shape
        return self

    def transform(self, X):
        """Whiten images: ``(X - mean_) @ whitening_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Images with the image shape seen in ``fit``.

        Returns
        -------
        X_new : ndarray of the same shape as X
            Whitened images, float32 for float32 input and float64 otherwise.
        """
        check_is_fitted(self)
        X2, shape, is_4d = self._validate_images(X, reset=False)
        m = ops(X2)
        mean, whitening = self._fitted_like(X2, self.mean_, self.whitening_)
        dtype = X2.dtype
        n, d = X2.shape
        # (X - mean_) @ W as (X/s - mean_/s) @ (s W), s = input_scale_ (a power of two): the
        # same numbers, but X - mean_ cannot overflow near the float64 limit and the factors
        # stay in the range of float32 for float32 input.
        s = self.input_scale_
        mean_s = mean / s
        whitening_s = m.astype(whitening * s, dtype)
        out = m.empty((n, d), dtype=dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            for rows in _row_batches(n, d):
                block = m.astype(_divide64(m, X2[rows, ...], s) - mean_s, dtype)
                out[rows, ...] = block @ whitening_s
        _check_output_finite(out, self, "the whitened values")
        return self._restore(out, shape, is_4d)
