"""NumPy-style array functions for any array namespace (NumPy, CuPy, array-API libraries).

The exact kernels, the activations' duals and the image preprocessing are written once, in
NumPy's vocabulary (``m.sqrt(S, out=S)``, ``m.arctan2``, ``m.ldexp``, ``m.erf``), against the
object that :func:`ops` returns for their input arrays:

* NumPy input: NumPy itself (SciPy for the special functions), so the fused in-place updates
  (``out=``) of the fast paths are unchanged;
* CuPy input: CuPy itself (``cupyx.scipy.special`` for the special functions), also with
  ``out=``, and creation functions on the input's device;
* any other array-API namespace: an adapter that maps the NumPy names onto the standard
  (``arctan2 -> atan2``, ``concatenate -> concat``), ignores ``out=`` (the result is a new
  array) and creates arrays on the input's device. Functions the standard lacks are built
  from standard ones: ``ldexp`` and ``frexp`` exactly (powers of two), ``expit`` in its
  overflow-free form. ``erf`` and ``ndtr`` use the namespace's own function if it has one and
  otherwise compute on the host with SciPy and move the result back (a fallback for
  namespaces without them; NumPy and CuPy never take it).

The callers use the returned object like a module: ``m = ops(q); m.maximum(q, 0.0)``.
"""

import contextlib
import math

import numpy as np
import scipy.sparse as sp
import scipy.special
from sklearn.externals import array_api_compat

from ._backend import asarray_like, to_numpy

__all__ = ["ops", "is_array_api_input", "to_host", "from_host", "host_dtype"]

# numpy spelling -> array API spelling of the elementwise functions the adapter forwards
_RENAMED = {
    "arctan2": "atan2",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "power": "pow",
}
_ELEMENTWISE = (
    "sqrt",
    "exp",
    "expm1",
    "log",
    "log1p",
    "log2",
    "logaddexp",
    "abs",
    "sign",
    "sin",
    "cos",
    "tanh",
    "hypot",
    "isfinite",
    "isnan",
    "floor",
    "ceil",
    "round",
    "trunc",
    "maximum",
    "minimum",
    "multiply",
    "add",
    "subtract",
    "divide",
    "square",
    "negative",
    "logical_and",
    "logical_or",
    "logical_not",
    "greater",
    "less",
    "equal",
) + tuple(_RENAMED)
# largest |exponent| of one exact power-of-two factor in float64 (2^1000 and 2^-1000 are normal)
_PIECE = 1000


def is_array_api_input(X):
    """Whether ``X`` is an array of a namespace other than NumPy (CuPy, array-api-strict, ...).

    Such input is computed on in its own namespace; NumPy arrays, SciPy sparse matrices, lists
    and data frames take the NumPy path.
    """
    if X is None or isinstance(X, np.ndarray | np.generic) or sp.issparse(X):
        return False
    if type(X).__module__.startswith(("pandas", "polars", "dask")):
        return False
    return bool(array_api_compat.is_array_api_obj(X))


def _namespace(arrays):
    arrays = [a for a in arrays if is_array_api_input(a)]
    if not arrays:
        return None, None
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        raise TypeError(
            f"the arrays must all come from one array namespace (library); got "
            f"{sorted({type(a).__module__.split('.')[0] for a in arrays})}: {exc}"
        ) from None
    devices = {_device_key(array_api_compat.device(a)) for a in arrays}
    if len(devices) > 1:
        raise ValueError(
            f"the arrays must all be on one device; got {sorted(devices)}: move them to one "
            "device first"
        )
    return xp, array_api_compat.device(arrays[0])


def _device_key(device):
    return repr(device)


def ops(*arrays):
    """The NumPy-style function set for ``arrays``: NumPy, CuPy or an array-API adapter.

    Entries that are Python numbers, NumPy arrays or ``None`` do not choose the namespace; the
    result is NumPy when no array of another namespace is among them.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk._special import ops
    >>> m = ops(np.ones(2))
    >>> float(m.erf(np.array([0.5]))[0])
    0.5204998778130465
    """
    xp, device = _namespace(arrays)
    if xp is None:
        return _NUMPY
    if array_api_compat.is_cupy_namespace(xp):
        return _cupy_ops(device)
    if array_api_compat.is_numpy_namespace(xp):  # e.g. NumPy scalars wrapped by compat
        return _NUMPY
    key = (xp.__name__, _device_key(device))
    if key not in _ADAPTERS:
        _ADAPTERS[key] = _ArrayAPIOps(xp, device)
    return _ADAPTERS[key]


def to_host(x):
    """``x`` as a NumPy array (a copy from a GPU or another device when needed).

    :func:`skntk._backend.to_numpy`, plus Python and NumPy scalars as 0-d arrays.
    """
    return np.asarray(to_numpy(x))


def host_dtype(dtype):
    """The NumPy dtype of the same name as ``dtype`` (a dtype of any namespace)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


def from_host(host, like, dtype=None):
    """The NumPy array ``host`` in the namespace and on the device of ``like``.

    :func:`skntk._backend.asarray_like`, with NumPy as the target when ``like`` is not an
    array of another namespace (also for Python numbers and ``None``).
    """
    return asarray_like(host, like if is_array_api_input(like) else None, dtype)


# ----------------------------------------------------------------------------------------------
# NumPy and CuPy: the libraries themselves, plus a few helpers
# ----------------------------------------------------------------------------------------------


class _NativeOps:
    """NumPy or CuPy with NumPy's names; attribute lookups fall through to the library."""

    native = True

    def __init__(self, lib, special, device=None):
        self.lib = lib
        self.special = special
        self.device = device
        self.is_numpy = lib is np
        self.erf = special.erf
        self.ndtr = special.ndtr
        self.expit = special.expit

    def __getattr__(self, name):
        value = getattr(self.lib, name)
        if not name.startswith("_"):
            setattr(self, name, value)  # later lookups are plain attribute reads
        return value

    def device_context(self):
        if self.device is None or self.is_numpy:
            return contextlib.nullcontext()
        return self.device  # a cupy.cuda.Device is a context manager

    def astype(self, x, dtype, copy=False):
        return x.astype(dtype, copy=copy)

    def copy(self, x):
        return x.copy()

    def asarray(self, x, dtype=None):
        with self.device_context():
            return self.lib.asarray(x, dtype=dtype)

    def empty(self, shape, dtype=np.float64):
        with self.device_context():
            return self.lib.empty(shape, dtype=dtype)

    def zeros(self, shape, dtype=np.float64):
        with self.device_context():
            return self.lib.zeros(shape, dtype=dtype)

    def ones(self, shape, dtype=np.float64):
        with self.device_context():
            return self.lib.ones(shape, dtype=dtype)

    def full(self, shape, value, dtype=np.float64):
        with self.device_context():
            return self.lib.full(shape, value, dtype=dtype)

    def arange(self, *args, dtype=None):
        with self.device_context():
            return self.lib.arange(*args, dtype=dtype)

    def exponent(self, x):
        """``e`` with ``x = f 2^e``, ``0.5 <= |f| < 1`` (0 for ``x = 0``), as int64."""
        return self.lib.frexp(x)[1].astype(np.int64)

    def ldexp(self, a, e, out=None):
        """``a * 2^e`` (exact unless it over- or underflows)."""
        if not self.is_numpy:  # host exponents to the device; CuPy's ldexp takes int32
            e = self.asarray(e)
        e = self.lib.clip(e, -(2**16), 2**16).astype(np.int64 if self.is_numpy else np.int32)
        return self.lib.ldexp(a, e, out=out)

    def host(self, x):
        return x if self.is_numpy else x.get()

    def unique_inverse(self, x):
        return self.lib.unique(x, return_inverse=True)

    def max_or(self, x, initial):
        """``max(x)`` as a Python float, ``initial`` for an empty array."""
        return (
            float(self.lib.max(x, initial=initial))
            if self.is_numpy
            else (float(x.max()) if x.size else float(initial))
        )


_NUMPY = _NativeOps(np, scipy.special)
_CUPY_CACHE = {}
_ADAPTERS = {}


def _cupy_ops(device):
    import cupy
    import cupyx.scipy.special

    key = getattr(device, "id", None)
    if key not in _CUPY_CACHE:
        _CUPY_CACHE[key] = _NativeOps(cupy, cupyx.scipy.special, device)
    return _CUPY_CACHE[key]


# ----------------------------------------------------------------------------------------------
# Any other array-API namespace
# ----------------------------------------------------------------------------------------------


def _drop_out(fn):
    """``fn`` accepting (and ignoring) ``out=``, with NumPy scalars passed as Python numbers."""

    def call(*args, out=None):
        return fn(*(a.item() if isinstance(a, np.generic) else a for a in args))

    return call


def _py(x):
    return x.item() if isinstance(x, np.generic) else x


class _ArrayAPIOps:
    """NumPy's names over an array-API namespace ``xp``, creating arrays on ``device``.

    ``out=`` arguments are accepted and ignored: every call returns a new array, so callers
    always use the return value (``S = m.sqrt(S, out=S)``).
    """

    native = False
    is_numpy = False

    def __init__(self, xp, device):
        self.xp = xp
        self.device = device
        for name in _ELEMENTWISE:  # a namespace without one fails only where it is used
            fn = getattr(xp, _RENAMED.get(name, name), None)
            if fn is not None:
                setattr(self, name, _drop_out(fn))
        for name in (
            "float32",
            "float64",
            "int64",
            "int32",
            "bool",
            "finfo",
            "result_type",
            "broadcast_to",
            "stack",
            "triu",
            "tril",
            "isdtype",
            "nonzero",
            "sort",
        ):
            if hasattr(xp, name):
                setattr(self, name, getattr(xp, name))

    def device_context(self):
        return contextlib.nullcontext()

    # -- creation and conversion ---------------------------------------------------------------
    def asarray(self, x, dtype=None):
        return self.xp.asarray(x, dtype=dtype, device=self.device)

    def astype(self, x, dtype, copy=False):
        return self.xp.astype(x, dtype, copy=copy)

    def copy(self, x):
        return self.xp.asarray(x, copy=True)

    def empty(self, shape, dtype=None):
        return self.xp.empty(shape, dtype=dtype or self.xp.float64, device=self.device)

    def zeros(self, shape, dtype=None):
        return self.xp.zeros(shape, dtype=dtype or self.xp.float64, device=self.device)

    def ones(self, shape, dtype=None):
        return self.xp.ones(shape, dtype=dtype or self.xp.float64, device=self.device)

    def full(self, shape, value, dtype=None):
        return self.xp.full(shape, value, dtype=dtype or self.xp.float64, device=self.device)

    def arange(self, *args, dtype=None):
        return self.xp.arange(*args, dtype=dtype, device=self.device)

    def zeros_like(self, x, dtype=None):
        return self.xp.zeros_like(x, dtype=dtype)

    def empty_like(self, x, dtype=None):
        return self.xp.empty_like(x, dtype=dtype)

    def ones_like(self, x, dtype=None):
        return self.xp.ones_like(x, dtype=dtype)

    def full_like(self, x, value, dtype=None):
        return self.xp.full_like(x, value, dtype=dtype)

    def host(self, x):
        return to_host(x)

    def unique_inverse(self, x):
        return tuple(self.xp.unique_inverse(x))

    def cumsum(self, x, axis):
        return self.xp.cumulative_sum(x, axis=axis)

    def take(self, x, indices, axis=None):
        return self.xp.take(x, indices, axis=axis)

    # -- shapes ------------------------------------------------------------------------------
    def reshape(self, x, shape):
        return self.xp.reshape(x, shape)

    def concatenate(self, arrays, axis=0):
        return self.xp.concat(list(arrays), axis=axis)

    def transpose(self, x, axes):
        return self.xp.permute_dims(x, tuple(axes))

    # -- elementwise with NumPy's signatures ---------------------------------------------------
    def clip(self, x, lo, hi, out=None):
        return self.xp.clip(x, _py(lo), _py(hi))

    def where(self, cond, a, b):
        return self.xp.where(cond, _py(a), _py(b))

    # -- reductions ----------------------------------------------------------------------------
    def all(self, x, axis=None):
        return self.xp.all(x, axis=axis)

    def any(self, x, axis=None):
        return self.xp.any(x, axis=axis)

    def sum(self, x, axis=None, dtype=None, keepdims=False):
        return self.xp.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, x, axis=None, keepdims=False):
        return self.xp.mean(x, axis=axis, keepdims=keepdims)

    def max(self, x, axis=None, keepdims=False):
        return self.xp.max(x, axis=axis, keepdims=keepdims)

    def min(self, x, axis=None, keepdims=False):
        return self.xp.min(x, axis=axis, keepdims=keepdims)

    def max_or(self, x, initial):
        return float(self.xp.max(x)) if math.prod(x.shape) else float(initial)

    # -- functions the standard lacks ----------------------------------------------------------
    def exponent(self, x):
        """``e`` with ``x = f 2^e``, ``0.5 <= |f| < 1`` (0 for ``x = 0`` and non-finite ``x``),
        as int64: ``log2`` gives it up to one unit, and an exact power-of-two test fixes it."""
        xp = self.xp
        a = xp.abs(xp.astype(x, xp.float64))
        ok = (a > 0) & xp.isfinite(a)
        safe = xp.where(ok, a, xp.ones_like(a))
        e = xp.floor(xp.log2(safe)) + 1.0
        f = self.ldexp(safe, -xp.astype(e, xp.int64))
        e = xp.where(f >= 1.0, e + 1.0, xp.where(f < 0.5, e - 1.0, e))
        return xp.astype(xp.where(ok, e, xp.zeros_like(e)), xp.int64)

    def ldexp(self, a, e, out=None):
        """``a * 2^e`` in three exact power-of-two factors of at most ``2^1000`` each, computed
        in float64 and rounded once to ``a``'s dtype."""
        xp = self.xp
        dtype = a.dtype
        e = xp.astype(
            xp.clip(xp.asarray(e, device=self.device), -3 * _PIECE, 3 * _PIECE), xp.float64
        )
        out = xp.astype(a, xp.float64, copy=True)
        two = xp.asarray(2.0, dtype=xp.float64, device=self.device)
        rest = e
        for k in (3, 2, 1):
            piece = xp.trunc(rest / k)
            out = out * xp.pow(two, piece)
            rest = rest - piece
        return xp.astype(out, dtype, copy=False)

    def expit(self, x):
        """``1 / (1 + exp(-x))`` without overflow: ``exp(-|x|)`` is at most 1."""
        xp = self.xp
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def erf(self, x):
        return self._special("erf", x)

    def ndtr(self, x):
        return self._special("ndtr", x)

    def _special(self, name, x):
        own = getattr(self.xp, name, None) or getattr(getattr(self.xp, "special", None), name, None)
        if own is not None:
            return own(x)
        # Fallback for namespaces without the function: SciPy on the host, and back.
        host = to_host(x)
        return self.xp.asarray(getattr(scipy.special, name)(host), device=self.device)
