"""Array-namespace helpers: one numerical core for NumPy, CuPy and any array-API library.

Randomness is always drawn on the host with NumPy (so a ``random_state`` gives the same
features on every backend) and moved to the device of the data once, with :func:`asarray_like`.
NumPy inputs take fast paths (``scipy.fft`` with worker threads); other namespaces use the
array-API standard functions, including its ``fft`` extension.
"""

import numpy as np
import scipy.fft
import scipy.sparse as sp
from sklearn.externals import array_api_compat

__all__ = [
    "get_namespace",
    "is_numpy_namespace",
    "asarray_like",
    "to_numpy",
    "rfft",
    "irfft",
]


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


def to_numpy(array):
    """Return ``array`` as a NumPy array (copying from a GPU when needed)."""
    if isinstance(array, np.ndarray) or sp.issparse(array):
        return array
    if hasattr(array, "get"):  # CuPy
        return array.get()
    return np.asarray(array)


def rfft(x, n, xp):
    """Real FFT along the last axis, zero-padded or cropped to length ``n``."""
    if is_numpy_namespace(xp):
        return scipy.fft.rfft(np.asarray(x), n=n, axis=-1, workers=-1)
    return xp.fft.rfft(x, n=n, axis=-1)


def irfft(x, n, xp):
    """Inverse of :func:`rfft` for a real signal of length ``n``."""
    if is_numpy_namespace(xp):
        return scipy.fft.irfft(np.asarray(x), n=n, axis=-1, workers=-1)
    return xp.fft.irfft(x, n=n, axis=-1)
