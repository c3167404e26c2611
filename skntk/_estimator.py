"""Shared scikit-learn plumbing of the feature-map estimators: validation, batching, tags."""

import math
import mmap
import numbers
import sys
import time
from contextlib import nullcontext
from functools import cache

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, cpu_count, delayed, effective_n_jobs
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from . import _dask
from ._backend import (
    device,
    fft_workers,
    foreign_namespace,
    get_namespace,
    is_numpy_namespace,
    one_fft_thread,
)
from .activations import Activation

__all__ = ["FeatureMapMixin", "allocate_dimensions", "activation_constraint", "OddInteger",
           "Numbers", "POSITIVE_INT", "WEIGHT_STD", "BIAS_STD", "check_parameter"]


class _NotBool:
    """Mixin for constraints on numbers: ``True``/``False`` are not numbers here."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class Numbers(_NotBool, Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` that rejects booleans (and, as
    every Real interval, NaN and infinities)."""


class OddInteger(Numbers):
    """``_parameter_constraints`` entry for a positive odd integer (a SAME convolution's size).
    """

    def __init__(self):
        super().__init__(numbers.Integral, 1, None, closed="left")

    def is_satisfied_by(self, val):
        return super().is_satisfied_by(val) and val % 2 == 1

    def __str__(self):
        return "a positive odd integer"


# The rules shared by the estimators' parameter constraints, the layer classes and the exact
# kernels, so each is written once.
POSITIVE_INT = Numbers(numbers.Integral, 1, None, closed="left")
WEIGHT_STD = Numbers(numbers.Real, 0, None, closed="neither")
BIAS_STD = Numbers(numbers.Real, 0, None, closed="left")
N_LANDMARKS = Numbers(numbers.Integral, 0, None, closed="left")


def check_parameter(value, name, constraint, caller):
    """Raise :class:`~sklearn.utils._param_validation.InvalidParameterError` (a ValueError
    and a TypeError) unless ``constraint`` accepts ``value``, in scikit-learn's wording."""
    validate_parameter_constraints({name: [constraint]}, {name: value}, caller)
    return value


def activation_constraint():
    """``_parameter_constraints`` entry for ``activation``: a name, an Activation or a callable.

    The name itself is validated in ``fit`` by :func:`skntk.activations.get_activation`.
    """
    return [str, Activation, callable]


class FeatureMapMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base of skntk's transformers: ``fit`` validates and draws randomness, ``transform``
    maps rows in bounded-memory batches (optionally in parallel threads) and returns exactly
    ``n_components`` columns in the input's float dtype.

    Subclasses implement ``fit`` and ``_transform_batch(X, rows_data)``; the latter works on
    any array namespace (NumPy, CuPy, array-API) and on SciPy sparse rows. ``rows_data`` is
    the batch's rows of ``_whole_input_data(X)`` (None by default): per-row data better
    computed for all rows in one call than batch by batch.

    **Array namespaces.** An array of another library than NumPy (CuPy, ``array_api_strict``,
    any array-API array) stays in its namespace: ``fit`` accepts it (planning copies only a
    small subsample to the host) and ``transform`` returns an array of the same namespace,
    device and float dtype, whether scikit-learn's ``array_api_dispatch`` is on or off.
    Nothing is silently converted to NumPy: the features are computed where the data is.
    The fitted state (random draws, fitted tables) is host NumPy data whatever the input, and
    moves to a device once, on its first use there; so a map fitted on NumPy can transform
    CuPy arrays and the other way round. With ``array_api_dispatch`` on, scikit-learn's rule
    for array-API estimators applies on top: ``transform`` then takes only arrays of the
    namespace and device ``fit`` saw (a ValueError says so). Dispatch also matters for the
    estimators after the map in a pipeline (``Ridge`` accepts a CuPy array only with
    ``sklearn.set_config(array_api_dispatch=True)``, which in turn needs the environment
    variable ``SCIPY_ARRAY_API=1`` set before SciPy is imported).
    """

    _common_constraints = {
        "n_components": [POSITIVE_INT],
        "random_state": ["random_state"],
        "batch_size": [POSITIVE_INT, StrOptions({"auto"})],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    }
    _accept_sparse = ("csr", "csc")

    def _validate(self, X, reset):
        if foreign_namespace(X) is not None:
            return validate_namespace_array(self, X, reset)
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=self._accept_sparse,
            dtype=[np.float64, np.float32],
            ensure_all_finite=True,
        )

    def _record_namespace(self, X):
        """Remember the namespace and device of the training inputs (called by ``fit``)."""
        self._fit_namespace_ = _namespace_of(X)

    def _check_same_namespace(self, X, method):
        """scikit-learn's rule under ``array_api_dispatch``: inputs of ``method`` must share
        the namespace and device of ``fit``'s."""
        if not get_config()["array_api_dispatch"]:
            return
        fitted = getattr(self, "_fit_namespace_", ("numpy", "cpu"))
        given = _namespace_of(X)
        if given != fitted:
            raise ValueError(
                f"Inputs passed to {type(self).__name__}.{method}() must use the same "
                "namespace and the same device as those passed to fit() when "
                f"array_api_dispatch is on: fit got {fitted[0]} arrays on {fitted[1]}, "
                f"{method} got {given[0]} arrays on {given[1]}. Pass arrays of fit's "
                "namespace and device, fit again on arrays like X, or turn "
                "array_api_dispatch off (the fitted state is host data and serves any "
                "namespace then)"
            )

    def _batch_rows(self, threads=1):
        if self.batch_size != "auto":
            return int(self.batch_size)
        # keep the batch's largest intermediate (a few times n_components) near 64 MB
        width = self.n_components * 4
        return int(np.clip(batch_entries(threads) // max(width, 1), 16, 4096))

    def transform(self, X):
        """Map ``X`` to the feature space.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Or images ``(n_samples, H, W, C)`` for the estimators that take images. A
            :class:`dask.array.Array` chunked along rows is transformed lazily, block by block
            (see :func:`skntk._dask.transform_blocks`).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Same float dtype as ``X``, and for an array of another namespace (CuPy,
            array-API) an array of that namespace on ``X``'s device, with or without
            ``array_api_dispatch`` (batches then run one after another: ``n_jobs`` applies
            to NumPy input). For a dask ``X``, a lazy dask array with chunks
            ``(X.chunks[0], (n_components,))``.
        """
        check_is_fitted(self)
        if _dask.is_dask_array(X):
            # checked without computing; each block task runs this method on NumPy rows
            return _dask.transform_blocks(self, X)
        self._check_same_namespace(X, "transform")
        X = self._validate(X, reset=False)
        return self._transform_validated(X)

    def _transform_validated(self, X):
        n = X.shape[0]
        xp = get_namespace(X)
        numpy_out = is_numpy_namespace(xp) or sp.issparse(X)
        threads = transform_threads(self.n_jobs) if numpy_out else 1  # one device
        batches = list(gen_batches(n, self._batch_rows(threads)))
        dtype = X.dtype
        verbose = self.verbose
        start = time.perf_counter()

        whole = self._whole_input_data(X, threads)
        if numpy_out:
            out = _host_output((n, self.n_components), dtype)
        else:  # filled batch by batch on the input's device (no concatenation copy)
            out = xp.empty((n, self.n_components), dtype=dtype, device=device(X))

        def run(i, sl):
            rows = X[sl] if numpy_out else X[sl, ...]
            with one_fft_thread() if numpy_out else nullcontext():
                Z = self._transform_batch(rows, None if whole is None else whole[sl, ...])
            if not _all_finite(Z):
                raise ValueError(self._nonfinite_message(rows))
            out[sl, ...] = Z  # write in place: no concatenation copy of the whole output
            Z = None
            if verbose:
                elapsed = time.perf_counter() - start
                print(
                    f"[{type(self).__name__}] batch {i + 1}/{len(batches)} "
                    f"({sl.stop} of {n} rows, {elapsed:.1f} s)",
                    file=sys.stderr,
                )
            return Z

        # On NumPy input the cores go to whole batches, each on one thread (its FFTs and BLAS
        # products single-threaded), not to the FFT and BLAS calls of one batch at a time:
        # most of those calls are small, and splitting each of them between threads costs
        # more than it gains. 2 cores, 6000 rows, medians of 5: NTKSketch(8192) gelu 0.290 ->
        # 0.202 ms per row, NTKRandomFeatures(12288) 0.473 -> 0.316.
        with _blas_limit(1) if numpy_out else nullcontext():
            Parallel(n_jobs=threads, prefer="threads")(
                delayed(run)(i, sl) for i, sl in enumerate(batches)
            )
        return out

    def _whole_input_data(self, X, threads):
        """Per-row data for every row of ``X`` at once (see ``_transform_batch``), or None."""
        return None

    def _nonfinite_message(self, X):
        """Why a batch's features are not finite (subclasses name the layer)."""
        return (f"{type(self).__name__} produced non-finite features (overflow); rescale X "
                "(e.g. StandardScaler) or reduce weight_std")

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


@cache
def _blas_controller():
    # the libraries are found once: threadpoolctl.threadpool_limits looks them up at every
    # call (0.36 ms, against 6 microseconds for the limit itself)
    return ThreadpoolController()


def _blas_limit(threads):
    """A context limiting the BLAS libraries to ``threads`` threads."""
    return _blas_controller().limit(limits=threads, user_api="blas")


def _namespace_of(X):
    """``(namespace name, device)`` of an input; NumPy for everything that is not an array
    of another namespace (lists, sparse matrices, data frames)."""
    xp = foreign_namespace(X)
    if xp is None:
        return ("numpy", "cpu")
    return (xp.__name__.removeprefix("array_api_compat."), str(device(X)))


def validate_namespace_array(estimator, X, reset, ndim=2):
    """``validate_data`` for an array of another namespace than NumPy (CuPy, array-API),
    kept in its namespace and on its device whatever ``array_api_dispatch`` says.

    The checks of :func:`sklearn.utils.check_array` that the feature maps rely on: ``ndim``
    dimensions, at least one sample and one feature, a real dtype (float32 and float64 kept,
    integers and booleans converted to float64), finite values; then the number of features
    (``n_features_in_``) as ``validate_data`` does.
    """
    xp = foreign_namespace(X)
    name = type(estimator).__name__
    if X.ndim != ndim:
        raise ValueError(f"Expected a {ndim}-D array, got a {X.ndim}-D array of shape "
                         f"{tuple(X.shape)}; {name} takes (n_samples, n_features) rows"
                         + (" or (n_samples, H, W, C) images" if ndim == 4 else ""))
    if X.shape[0] < 1 or math.prod(X.shape[1:]) < 1:
        raise ValueError(f"Found array with shape {tuple(X.shape)}: {name} needs at least "
                         "one sample and one feature")
    if xp.isdtype(X.dtype, "complex floating"):
        raise ValueError(f"Complex data not supported: X has dtype {X.dtype}; pass real "
                         "values (e.g. the real part or the modulus)")
    if not xp.isdtype(X.dtype, "real floating"):
        if not xp.isdtype(X.dtype, ("integral", "bool")):
            raise ValueError(f"X must contain real numbers, got dtype {X.dtype}")
        X = xp.astype(X, xp.float64)
    elif X.dtype not in (xp.float32, xp.float64):  # float16: compute in float64 (as NumPy)
        X = xp.astype(X, xp.float64)
    if not bool(xp.all(xp.isfinite(X))):
        raise ValueError(f"Input X contains NaN or infinity; {name} needs finite values "
                         "(impute or drop them first)")
    if ndim == 2:
        validate_data(estimator, X, reset=reset, skip_check_array=True)
    return X


def transform_threads(n_jobs):
    """Threads over batches for ``transform`` on NumPy input: ``n_jobs``, where ``None``
    means all usable cores; one on a thread that already shares the cores with others (a
    dask task, :func:`skntk._backend.one_fft_thread`)."""
    if fft_workers() == 1:
        return 1
    if n_jobs is None:
        return cpu_count()
    return effective_n_jobs(n_jobs)


def batch_entries(threads):
    """Entries of intermediates per batch: 2^24 (about 64 MB of float32, the size measured
    fastest on one core), shrunk beyond eight threads so that the concurrent batches stay
    within 2^27 entries."""
    return 2**24 if threads <= 8 else 2**27 // threads


# outputs at least this large are mapped with their pages populated up front (Linux)
_POPULATE_MIN_BYTES = 1 << 26


def _host_output(shape, dtype):
    """An uninitialized C-ordered NumPy array for ``transform``'s output.

    A fresh large array is faulted in page by page as the batches are written, and on the
    2-core machine that cost 0.04-0.07 ms per row of ``NTKSketch(8192)`` (15-20% of the
    gelu path's transform). From 64 MiB up, on systems with ``MAP_POPULATE`` (Linux), the
    array is an anonymous mapping populated in one call (0.011 ms per row); elsewhere, or
    smaller, ``np.empty``.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    populate = getattr(mmap, "MAP_POPULATE", None)
    if populate is None or nbytes < _POPULATE_MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    buffer = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _all_finite(Z):
    if isinstance(Z, np.ndarray):
        return bool(np.isfinite(Z).all())
    xp = get_namespace(Z)
    return bool(xp.all(xp.isfinite(Z)))


def allocate_dimensions(weights, total, exact_dims=None):
    """Split ``total`` columns among sketches in proportion to ``weights``.

    Minimizing ``sum_l w_l^2 / m_l`` subject to ``sum_l m_l = total`` gives ``m_l ~ w_l``; a
    sketch whose exact representation needs no more columns than its share (``exact_dims[l]``)
    takes the exact one, and the remaining columns are shared again among the others.

    Parameters
    ----------
    weights : sequence of float >= 0
        ``w_l``, e.g. a coefficient times the standard deviation of its unit sketch.
    total : int
    exact_dims : sequence of int or None, optional
        Columns of an exact representation per entry (``None`` where there is none).

    Returns
    -------
    dims : list of int
        Summing to ``total``; zero where the weight is zero, and for the smallest weights when
        ``total`` is too small to give every positive weight a column.
    exact : list of bool
        Which entries use their exact representation.

    Examples
    --------
    >>> from skntk._estimator import allocate_dimensions
    >>> allocate_dimensions([1.0, 1.0, 2.0], 8)
    ([2, 2, 4], [False, False, False])
    """
    w = np.asarray(weights, dtype=np.float64)
    k = len(w)
    exact_dims = list(exact_dims) if exact_dims is not None else [None] * k
    exact = [False] * k
    dims = np.zeros(k, dtype=np.int64)
    free = total
    active = w > 0
    if not active.any():
        raise ValueError("at least one weight must be positive")
    while True:
        share = free * w * active / w[active].sum()
        changed = False
        for i in range(k):
            if active[i] and exact_dims[i] is not None and exact_dims[i] <= share[i]:
                exact[i] = True
                dims[i] = exact_dims[i]
                free -= exact_dims[i]
                active[i] = False
                changed = True
        if not changed or not active.any():
            break
    if active.any():
        if free < 1:
            raise ValueError(
                f"{total} columns are too few for the exact parts of this feature map; "
                "increase n_components"
            )
        # too few columns for one each: drop the sketches that matter least
        while free < active.sum():
            i = int(np.argmin(np.where(active, w, np.inf)))
            active[i] = False
        share = free * w * active / w[active].sum()
        base = np.where(active, np.maximum(np.floor(share), 1), 0).astype(np.int64)
        rest = free - base.sum()
        order = np.argsort(-(share - base) * active)
        for i in order:
            if rest <= 0:
                break
            if active[i]:
                base[i] += 1
                rest -= 1
        while rest < 0:  # the minimum of one column overshot: take from the largest
            i = int(np.argmax(base))
            base[i] -= 1
            rest += 1
        dims = np.where(active, base, dims)
    return [int(v) for v in dims], exact


def allocate_with_overhead(weights, total, exact_dims, overhead):
    """:func:`allocate_dimensions` where each *sketched* entry ``l`` also costs ``overhead[l]``
    fixed columns; the block widths ``dims[l] + overhead[l]`` (sketched) or ``dims[l]`` sum to
    ``total`` exactly.

    Returns
    -------
    dims, exact : as in :func:`allocate_dimensions`
    padding : int
        Zero columns to append (only when nothing is sketched and exact blocks leave room).
    """
    k = len(weights)
    reserve = 0
    for _ in range(8):
        dims, exact = allocate_dimensions(weights, max(total - reserve, 1), exact_dims)
        needed = sum(overhead[l] for l in range(k) if dims[l] > 0 and not exact[l])
        if needed == reserve:
            break
        reserve = needed
    widths = [dims[l] + (overhead[l] if dims[l] > 0 and not exact[l] else 0) for l in range(k)]
    diff = total - sum(widths)
    sketched = [l for l in range(k) if dims[l] > 0 and not exact[l]]
    if diff and sketched:
        i = max(sketched, key=lambda l: dims[l])
        if dims[i] + diff >= 1:
            dims[i] += diff
            diff = 0
    if diff < 0:
        raise ValueError(f"{total} columns are too few for this feature map")
    return dims, exact, diff
