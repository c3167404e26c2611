"""Array-namespace helpers: one numerical core for NumPy, CuPy and any array-API library.

Randomness is always drawn on the host with NumPy (so a ``random_state`` gives the same
features on every backend) and moved to the device of the data once per device and dtype,
with :func:`device_constant`. NumPy inputs take fast paths (``scipy.fft`` with worker
threads); other namespaces use the array-API standard functions, including its ``fft``
extension, with CuPy-specific fast paths where the standard lacks a function (the DCT).

What leaves the device during ``transform``: per-row numbers (norms, peaks: ``O(n)``) from
which the exact per-row coefficients are computed on the host; for image networks, the
batch itself, whose exact per-pixel variances (:func:`skntk.planning.pixel_variances`, a
NumPy recursion of the layers) are computed on the host; and the values of an elementwise
function written for NumPy only (:func:`pointwise`, a fallback).
"""

import threading
import weakref
from contextlib import contextmanager

import numpy as np
import scipy.fft
import scipy.sparse as sp
from sklearn.externals import array_api_compat

__all__ = [
    "get_namespace",
    "is_numpy_namespace",
    "is_cupy_namespace",
    "foreign_namespace",
    "device",
    "asarray_like",
    "device_constant",
    "to_numpy",
    "dct2",
    "pointwise",
    "rfft",
    "irfft",
    "fft_workers",
    "one_fft_thread",
]

_THREAD = threading.local()


def fft_workers():
    """Threads of one SciPy FFT call: all cores (``-1``), or one on a thread that shares the
    cores with others (:func:`one_fft_thread`, as ``transform``'s batch threads do)."""
    return getattr(_THREAD, "fft_workers", -1)


@contextmanager
def one_fft_thread():
    """Within the context, this thread's FFTs (:func:`fft_workers`) run on one thread."""
    previous = fft_workers()
    _THREAD.fft_workers = 1
    try:
        yield
    finally:
        _THREAD.fft_workers = previous


def get_namespace(*arrays):
    """Return the array namespace of ``arrays`` (NumPy for NumPy and SciPy sparse input).

    Parameters
    ----------
    *arrays : array-like
        Arrays that must all share one namespace; ``None`` entries are ignored.

    Returns
    -------
    xp : module
        An array-API compatible namespace (``array_api_compat``'s NumPy wrapper for NumPy).

    Examples
    --------
    >>> import numpy as np
    >>> from skntk._backend import get_namespace, is_numpy_namespace
    >>> is_numpy_namespace(get_namespace(np.ones(3)))
    True
    """
    arrays = [a for a in arrays if a is not None and not sp.issparse(a)]
    if not arrays:
        return array_api_compat.array_namespace(np.empty(0))
    return array_api_compat.array_namespace(*arrays)


def is_numpy_namespace(xp):
    """True when ``xp`` is NumPy (plain or wrapped by ``array_api_compat``)."""
    return array_api_compat.is_numpy_namespace(xp)


def is_cupy_namespace(xp):
    """True when ``xp`` is CuPy (plain or wrapped by ``array_api_compat``)."""
    return array_api_compat.is_cupy_namespace(xp)


def foreign_namespace(X):
    """The array namespace of ``X`` when it is an array of another library than NumPy.

    Returns ``None`` for NumPy arrays, SciPy sparse matrices and everything that is not an
    array-API array (lists, DataFrames, ...): scikit-learn's validation handles those.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk._backend import foreign_namespace
    >>> foreign_namespace(np.ones((2, 2))) is None, foreign_namespace([[1.0]]) is None
    (True, True)
    """
    if X is None or isinstance(X, np.ndarray) or sp.issparse(X):
        return None
    if not hasattr(X, "__array_namespace__"):
        return None
    xp = array_api_compat.array_namespace(X)
    return None if is_numpy_namespace(xp) else xp


def device(array):
    """The device of ``array`` (``"cpu"`` for NumPy arrays)."""
    return array_api_compat.device(array)


def asarray_like(host_array, like, dtype=None):
    """Move a host (NumPy) array to the namespace and device of ``like``.

    Parameters
    ----------
    host_array : ndarray
        Array drawn on the host, e.g. random signs or sampled indices.
    like : array
        Array whose namespace and device the result should live on.
    dtype : dtype of the target namespace, optional
        Target dtype; defaults to ``host_array``'s dtype mapped into the namespace.
    """
    if like is None or sp.issparse(like) or isinstance(like, np.ndarray):
        out = np.asarray(host_array)
        return out if dtype is None else out.astype(dtype, copy=False)
    xp = get_namespace(like)
    return xp.asarray(host_array, dtype=dtype, device=array_api_compat.device(like))


# Device copies of fit-time constants (sketch signs, sampled indices, Gaussian directions),
# keyed by the host array's identity, the namespace, the device and the dtype. An entry lives
# as long as its host array (a weak reference removes it), so a fitted estimator's constants
# cross to a device once, not once per batch.
_DEVICE_CACHE = {}
_CACHE_LOCK = threading.Lock()


def device_constant(host_array, like, dtype=None):
    """:func:`asarray_like` for a constant host array that outlives the call (fit-time
    randomness stored on a fitted object): the device copy is made once and reused.

    NumPy targets get ``host_array`` itself (cast to ``dtype`` when given), as with
    :func:`asarray_like`.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk._backend import device_constant
    >>> signs = np.array([1.0, -1.0])
    >>> device_constant(signs, np.zeros(2)) is signs
    True
    """
    if like is None or sp.issparse(like) or isinstance(like, np.ndarray):
        return asarray_like(host_array, like, dtype)
    xp = get_namespace(like)
    device = array_api_compat.device(like)
    key = (id(host_array), xp.__name__, str(device), str(dtype))
    with _CACHE_LOCK:
        hit = _DEVICE_CACHE.get(key)
    if hit is not None and hit[0]() is host_array:
        return hit[1]
    out = xp.asarray(host_array, dtype=dtype, device=device)
    try:
        # the cache is bound as a default: at interpreter exit the module global may be gone
        ref = weakref.ref(host_array,
                          lambda _, key=key, cache=_DEVICE_CACHE: cache.pop(key, None))
    except TypeError:  # not weakly referenceable (a NumPy scalar): no cache
        return out
    with _CACHE_LOCK:
        _DEVICE_CACHE[key] = (ref, out)
    return out


def to_numpy(array):
    """Return ``array`` as a NumPy array (copying from a GPU or another device when needed).
    """
    if isinstance(array, np.ndarray) or sp.issparse(array):
        return array
    if hasattr(array, "get") and type(array).__module__.startswith("cupy"):
        return array.get()
    try:
        return np.asarray(array)
    except (TypeError, RuntimeError, ValueError):
        # arrays on a device NumPy cannot read implicitly: an explicit DLPack copy
        return np.from_dlpack(array)


# ----------------------------------------------------------------------------------------------
# transforms the array API lacks
# ----------------------------------------------------------------------------------------------


def _makhoul_tables(N):
    """Index and coefficient tables computing an orthonormal DCT-II from an rfft."""
    perm = np.empty(N, dtype=np.int64)
    perm[: (N + 1) // 2] = np.arange(0, N, 2)
    half = np.arange(N // 2)
    perm[N - 1 - half] = 2 * half + 1
    k = np.arange(N)
    fold = np.minimum(k, N - k)
    theta = np.pi * k / (2 * N)
    norm = np.full(N, np.sqrt(2.0 / N))
    norm[0] = np.sqrt(1.0 / N)
    sign = np.where(k <= N // 2, 1.0, -1.0)
    return perm, fold, np.cos(theta) * norm, sign * np.sin(theta) * norm


_MAKHOUL = {}


def _makhoul(N):
    if N not in _MAKHOUL:  # kept alive here, so their device copies are cached too
        _MAKHOUL[N] = _makhoul_tables(N)
    return _MAKHOUL[N]


def dct2(Y, N, xp, axis=-2):
    r"""Orthonormal DCT-II along ``axis`` (-2 or -1) of ``Y``, zero-padded (or cropped) to
    length ``N``.

    .. math:: (H y)_k = c_k \sum_j y_j \cos\big(\pi k (2 j + 1) / (2 N)\big), \quad
              c_0 = \sqrt{1/N},\ c_k = \sqrt{2/N}.

    NumPy uses ``scipy.fft.dct`` with worker threads and CuPy ``cupyx.scipy.fft.dct``. Other
    namespaces, whose ``fft`` extension has no DCT, compute it from an ``rfft`` of the
    reordered signal (Makhoul, 1980): ``H y = Re(e^{-i pi k / 2N} V_k)`` with ``V`` the DFT
    of ``[y_0, y_2, ..., y_3, y_1]``, so all backends agree to rounding.

    Examples
    --------
    >>> import numpy as np, scipy.fft
    >>> from skntk._backend import dct2, get_namespace
    >>> Y = np.random.RandomState(0).randn(5, 3)
    >>> bool(np.allclose(dct2(Y, 8, get_namespace(Y)),
    ...                  scipy.fft.dct(Y, n=8, axis=0, norm="ortho")))
    True
    """
    if is_numpy_namespace(xp):
        return scipy.fft.dct(Y, type=2, n=N, axis=axis, norm="ortho", workers=fft_workers())
    if is_cupy_namespace(xp):
        import cupyx.scipy.fft

        return cupyx.scipy.fft.dct(Y, type=2, n=N, axis=axis, norm="ortho")
    last = axis == -1
    d = Y.shape[axis]
    if N > d:
        shape = (*Y.shape[:-1], N - d) if last else (*Y.shape[:-2], N - d, Y.shape[-1])
        zeros = xp.zeros(shape, dtype=Y.dtype, device=array_api_compat.device(Y))
        Y = xp.concat([Y, zeros], axis=axis)
    elif N < d:
        Y = Y[..., :N] if last else Y[..., :N, :]
    perm, fold, coef_re, coef_im = _makhoul(N)
    V = xp.fft.rfft(xp.take(Y, device_constant(perm, Y), axis=axis), axis=axis)
    fold = device_constant(fold, Y)
    re = xp.take(xp.real(V), fold, axis=axis)
    im = xp.take(xp.imag(V), fold, axis=axis)
    shape = (N,) if last else (N, 1)
    return (re * xp.reshape(device_constant(coef_re, Y, Y.dtype), shape)
            + im * xp.reshape(device_constant(coef_im, Y, Y.dtype), shape))


def pointwise(fn, z):
    """``fn(z)`` for an elementwise function ``fn`` (an activation's pointwise form), in
    ``z``'s namespace, device and dtype.

    NumPy arrays call ``fn`` directly. Other arrays call it too, and keep the result when
    ``fn`` is written for any namespace (it returns an array of ``z``'s namespace); when it
    is NumPy-only code (``np.asarray`` of a GPU array raises a TypeError) or returns NumPy,
    the values are computed on the host and moved back. That host round trip is a fallback
    for functions without a device implementation (e.g. ``scipy.special.erf``, or a user's
    NumPy callable), not the path of an activation written with
    :func:`get_namespace`.
    """
    if isinstance(z, np.ndarray):
        return np.asarray(fn(z), dtype=z.dtype)
    xp = get_namespace(z)
    try:
        out = fn(z)
    except (TypeError, RuntimeError):  # NumPy-only code on a device array
        out = None
    if out is not None and not isinstance(out, np.ndarray | np.generic):
        try:
            same = array_api_compat.array_namespace(out) is xp
        except TypeError:
            same = False
        if same:
            return out if out.dtype == z.dtype else xp.astype(out, z.dtype)
    if out is None or not isinstance(out, np.ndarray | np.generic):
        out = fn(to_numpy(z))
    return xp.asarray(np.asarray(out), dtype=z.dtype, device=array_api_compat.device(z))


def rfft(x, n, xp):
    """Real FFT along the last axis, zero-padded or cropped to length ``n``."""
    if is_numpy_namespace(xp):
        return scipy.fft.rfft(np.asarray(x), n=n, axis=-1, workers=fft_workers())
    return xp.fft.rfft(x, n=n, axis=-1)


def irfft(x, n, xp):
    """Inverse of :func:`rfft` for a real signal of length ``n``."""
    if is_numpy_namespace(xp):
        return scipy.fft.irfft(np.asarray(x), n=n, axis=-1, workers=fft_workers())
    return xp.fft.irfft(x, n=n, axis=-1)
