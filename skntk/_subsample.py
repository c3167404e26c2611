"""Training subsamples that do not depend on the order of the rows.

``fit`` estimates a few things from a subsample (typical variances, the data's mean
directions, the cosines a polynomial is fitted on). Taking the first rows would make the
result depend on the order of the training set (data sorted by class gives a subsample of one
class). Instead, every row gets a pseudo-random key computed from its *content* and the random
state, and the subsample is the rows of smallest key, in key order: a uniform random
subsample, the same for any permutation of the rows.
"""

import numpy as np
import scipy.sparse as sp

from ._backend import asarray_like, foreign_namespace, to_numpy

__all__ = ["subsample_rows", "UnitScaled"]

_CHUNK = 4096  # rows hashed at once (bounds the integer temporary)
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def subsample_rows(X, max_rows, rng):
    """At most ``max_rows`` rows of ``X`` chosen by content keys drawn from ``rng``.

    Parameters
    ----------
    X : ndarray, sparse matrix or array-API array of shape (n, d)
    max_rows : int
    rng : RandomState
        Seeds the keys (one draw).

    Returns
    -------
    rows : same type as ``X``, shape (min(n, max_rows), d)
        Rows of ``X`` in increasing key order; a permutation of ``X``'s rows gives the same
        result. For an array of another namespace (e.g. CuPy), a NumPy copy of the rows:
        ``fit`` plans on the host, so only the subsample leaves the device (and the keys,
        computed on host copies of row chunks, are those of the NumPy data).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> a = subsample_rows(X, 3, np.random.RandomState(0))
    >>> b = subsample_rows(X[::-1], 3, np.random.RandomState(0))
    >>> a.shape, bool(np.array_equal(a, b))
    ((3, 2), True)
    """
    factor = 1.0
    if isinstance(X, UnitScaled):
        X, factor = X.X, X.factor
    keys = row_keys(X, np.random.RandomState(rng.randint(0, 2**31 - 1)), factor)
    order = np.lexsort((np.arange(len(keys)), keys))[:max_rows]
    xp = foreign_namespace(X)
    if xp is not None:
        X = to_numpy(xp.take(X, asarray_like(order, X), axis=0))
        order = slice(None)
    return X[order] if factor == 1.0 else _times(X[order], factor)


class UnitScaled:
    """``X / 2^E`` (:func:`skntk._scaling.unit_exponent`) for :func:`subsample_rows`, without
    a copy of ``X``: only the rows taken are scaled, and the keys are those of the scaled
    rows, so the subsample equals that of ``X / 2^E`` (``fit`` plans a homogeneous
    network at unit scale from subsamples; a copy of ``X`` would cost memory linear in n).

    Attributes
    ----------
    X : ndarray or sparse matrix
    factor : float
        ``2^-E``.
    shape, dtype
        ``X``'s.
    """

    def __init__(self, X):
        from ._scaling import unit_exponent

        self.X = X
        self.factor = float(np.ldexp(1.0, -unit_exponent(X)))
        self.shape, self.dtype = X.shape, X.dtype


def _times(X, factor):
    from ._scaling import scale_rows

    return scale_rows(X, np.full(X.shape[0], factor))


def row_keys(X, rng, factor=1.0):
    """Pseudo-random 64-bit keys of the rows of ``X * factor``: a random odd multiplier per
    column times the bits of each value with its high half folded into its low half, summed
    with wrap-around (exact, so independent of where the row sits) and mixed (splitmix64
    finalizer).

    The fold matters: values with few mantissa bits (digits' ``k / 16`` have 48 trailing zero
    bits) would otherwise keep only the low bits of the multipliers, and different rows would
    share keys (42 of the 1797 digits did), their ties then broken by position. One xor-shift
    per value costs a fifth of a full mix (10000 x 784 values: 0.01 s against 0.04 s)."""
    d = X.shape[1]
    mult = rng.randint(0, 2**62, size=d, dtype=np.int64).astype(np.uint64) * 2 + 1
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        data = X.data if factor == 1.0 else _times(X.data[None, :], factor)[0]
        bits = _spread(_value_bits(data)) * mult[X.indices]
        sums = np.zeros(X.shape[0], dtype=np.uint64)
        nonempty = np.diff(X.indptr) > 0
        if bits.size:
            sums[nonempty] = np.add.reduceat(bits, X.indptr[:-1][nonempty])
    else:
        # another namespace (a GPU): the bits of host copies of row chunks
        host = foreign_namespace(X) is None
        X = np.asarray(X) if host else X
        sums = np.empty(X.shape[0], dtype=np.uint64)
        for start in range(0, X.shape[0], _CHUNK):
            stop = min(start + _CHUNK, X.shape[0])
            block = X[start:stop] if host else to_numpy(X[start:stop, ...])
            block = _spread(_value_bits(block if factor == 1.0 else _times(block, factor)))
            sums[start:start + _CHUNK] = np.sum(block * mult, axis=1, dtype=np.uint64)
    return _mix(sums)


def _value_bits(a):
    """The bit patterns of the values as uint64 (``+0.0`` and ``-0.0`` alike)."""
    a = np.ascontiguousarray(a)
    a = a + a.dtype.type(0) if a.dtype.kind == "f" else a  # -0.0 + 0.0 = +0.0
    width = a.dtype.itemsize
    if width == 8:
        return a.view(np.uint64)
    return a.view({4: np.uint32, 2: np.uint16, 1: np.uint8}[width]).astype(np.uint64)


def _spread(bits):
    """``bits ^ (bits >> 32)``: the sign, exponent and top mantissa bits reach the low half."""
    return bits ^ (bits >> np.uint64(32))


def _mix(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9) & _MASK
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB) & _MASK
        return z ^ (z >> np.uint64(31))
