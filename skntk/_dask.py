"""Dask support: lazy row-block transforms and tree reductions over row blocks.

skntk's feature maps act row by row, so a fitted map scales out by mapping it over the row
blocks of a :class:`dask.array.Array`, and a linear model on the features needs only sums over
rows (``Z^T Z``, ``Z^T y``, column sums), which reduce block by block. This module holds the two
building blocks; the transformers' ``transform`` and the streaming ridge estimator call them.

Design
------
- **Lazy import.** Dask is an optional extra (``skntk[dask]``). Nothing here imports it at
  module import time, and :func:`is_dask_array` only looks at ``sys.modules``: an array can only
  be a dask array if ``dask.array`` has already been imported, so plain NumPy users never pay
  for (or need) dask.
- **map_blocks with known chunks.** :func:`transform_blocks` rechunks the input to one chunk
  along every axis but the first, then maps the transformer's ordinary NumPy (or CuPy) path
  over the row blocks with ``map_blocks``, declaring the output chunks ``(X.chunks[0],
  (n_components,))``, dtype and meta up front. Dask therefore never calls the transformer to
  guess shapes, and the result has known chunk sizes (slicing, ``rechunk``, ``to_zarr`` and
  reductions work on it without ``compute_chunk_sizes``).
- **One copy of the fitted state.** A fitted map can hold tens of megabytes of projections.
  It enters the graph once, as its own key that every block task depends on, instead of being
  pickled into each task: a worker receives it once, whatever the number of blocks.
- **Tree reduction.** :func:`reduce_row_blocks` applies a function to each row block (one
  task per block, all arrays aligned on the first array's row chunks) and combines the partial
  results ``split_every`` at a time in a tree of depth ``ceil(log_k(n_blocks))``. Only the
  partial results (``m x m`` matrices for a Gram matrix) travel between workers, never a row
  block, and no task holds more than ``split_every`` partial results.
"""

import copy
import math
import numbers
import sys

import numpy as np
import scipy.sparse as sp

from ._backend import one_fft_thread

__all__ = ["is_dask_array", "transform_blocks", "reduce_row_blocks", "reject_dask_fit"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_dask_array(X):
    """True when ``X`` is a :class:`dask.array.Array`.

    Dask is not imported: an object can only be a dask array once ``dask.array`` is in
    ``sys.modules``.

    Parameters
    ----------
    X : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from skntk._dask import is_dask_array
    >>> is_dask_array(np.ones((2, 3)))
    False
    """
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def reject_dask_fit(estimator, X):
    """Raise a TypeError when ``X`` is a dask array: ``fit`` needs the data in memory.

    ``fit`` of a feature map estimates a few statistics from a subsample (typical variances,
    common directions), so a sample of the rows is all it needs; the fitted map then
    transforms the whole dask array lazily. Calling this at the top of ``fit`` also keeps
    ``fit_transform`` from silently computing the whole array.

    Parameters
    ----------
    estimator : estimator
        Named in the message.
    X : object
        The input given to ``fit``.
    """
    if is_dask_array(X):
        name = type(estimator).__name__
        raise TypeError(
            f"{name}.fit (and fit_transform) need the training data in memory, not a dask "
            f"array: fit on a NumPy sample, e.g. {name}(...).fit(X[:10000].compute()), then "
            "call transform on the dask array, which maps it lazily block by block"
        )


def _unknown_rows_message(what):
    return (
        f"{what} has unknown chunk sizes along its rows (NaN in .chunks[0]); call "
        "X.compute_chunk_sizes() first, or build it with known lengths (e.g. "
        "ddf.to_dask_array(lengths=True))"
    )


def _check_known_rows(X, what):
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(_unknown_rows_message(what))


def _one_chunk_after_rows(X):
    """``X`` with a single chunk along every axis but the first (rows keep their chunks)."""
    if all(len(c) == 1 for c in X.chunks[1:]):
        return X
    return X.rechunk({axis: -1 for axis in range(1, X.ndim)})


def _output_dtype(transformer, X):
    """The float dtype the transformer's NumPy path returns for ``X``'s dtype (no compute)."""
    dtype = np.dtype(X.dtype)
    if dtype in _FLOAT_DTYPES:
        return dtype
    if dtype.kind in "biuf":  # bool, integers, float16: validated to float64
        return np.dtype(np.float64)
    name = type(transformer).__name__
    if dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} got a dask array of dtype {dtype}; pass "
            "real data (X.real or abs(X))"
        )
    raise TypeError(
        f"{name} got a dask array of dtype {dtype}; convert it to floating point first, e.g. "
        "X.astype(np.float64)"
    )


def _check_input_shape(transformer, X):
    """Check ``X``'s shape against the fitted transformer as its NumPy validation would."""
    name = type(transformer).__name__
    image_shape = getattr(transformer, "image_shape_", None)
    takes_images = image_shape is not None and getattr(transformer, "_is_images", lambda: False)()
    if X.ndim == 4 and takes_images:
        if tuple(X.shape[1:]) != tuple(image_shape):
            raise ValueError(
                f"X has images of shape {tuple(X.shape[1:])}, but {name} was fitted on "
                f"images of shape {tuple(image_shape)}"
            )
        return
    if X.ndim != 2:
        shapes = (
            "(n_samples, n_features) or images (n_samples, H, W, C)"
            if takes_images
            else "(n_samples, n_features)"
        )
        raise ValueError(f"{name} expects a dask array of shape {shapes}; got shape {X.shape}")
    expected = getattr(transformer, "n_features_in_", None)
    if expected is not None and X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting {expected} features as input."
        )


def _transform_block(block, transformer, n_out, dtype):
    """One dask task: the transformer's in-memory ``transform`` on one row block."""
    if block.shape[0] == 0:  # the NumPy path rejects empty input; an empty block is fine
        if sp.issparse(block):
            return np.zeros((0, n_out), dtype=dtype)
        from ._backend import get_namespace

        return get_namespace(block).zeros((0, n_out), dtype=dtype)
    with one_fft_thread():  # the scheduler's threads share the cores: one each
        return transformer.transform(block)


def transform_blocks(transformer, X):
    """Lazily map a fitted transformer over the row blocks of a dask array.

    Each row block ``X_b`` becomes the task ``transformer.transform(X_b)`` on an in-memory
    block (NumPy, CuPy or SciPy sparse), so ``Z = transform_blocks(t, X)`` satisfies
    ``Z.compute() == t.transform(X.compute())`` row by row: the features of a row do not
    depend on the other rows.

    The input is checked against the fitted transformer without computing anything (number of
    features, or the image shape for 4-D images where the transformer takes images; a dtype
    that the NumPy path accepts). Chunks along columns (or image axes) are merged into one
    first, as each task needs whole rows.

    Parameters
    ----------
    transformer : fitted transformer
        A skntk feature map (or any transformer whose ``transform`` maps rows independently
        and returns ``_n_features_out`` columns in the input's float dtype).
    X : dask.array.Array of shape (n_samples, n_features) or (n_samples, H, W, C)
        Chunked along rows, with known row chunk sizes.

    Returns
    -------
    Z : dask.array.Array of shape (n_samples, n_components)
        Lazy, with chunks ``(X.chunks[0], (n_components,))``; float32 for float32 input and
        float64 otherwise (as the NumPy path). It holds a copy of the fitted transformer, so
        refitting ``transformer`` later does not change it. Errors found only in the data
        (NaN, overflow) are raised when ``Z`` is computed.

    Raises
    ------
    ValueError
        Wrong number of features or image shape, complex dtype, unknown row chunk sizes.
    TypeError
        A non-numeric dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import pytest
    >>> da = pytest.importorskip("dask.array")  # the example is skipped without dask
    >>> from skntk import NTKSketch
    >>> from skntk._dask import transform_blocks
    >>> X = np.random.default_rng(0).standard_normal((50, 4))
    >>> sketch = NTKSketch(n_components=16, random_state=0).fit(X)
    >>> Z = transform_blocks(sketch, da.from_array(X, chunks=(20, 4)))
    >>> Z.chunks
    ((20, 20, 10), (16,))
    >>> np.allclose(Z.compute(), sketch.transform(X))
    True
    """
    import dask
    from dask.array.utils import meta_from_array

    _check_input_shape(transformer, X)
    dtype = _output_dtype(transformer, X)
    _check_known_rows(X, "X")
    X = _one_chunk_after_rows(X)
    n_out = int(transformer._n_features_out)
    meta = X._meta
    # Sparse blocks give dense features; NumPy and CuPy blocks give blocks of their own kind.
    meta = (
        np.empty((0, 0), dtype=dtype)
        if sp.issparse(meta)
        else meta_from_array(meta, ndim=2, dtype=dtype)
    )
    # The fitted state enters the graph once, as one key the block tasks depend on. It is a
    # snapshot: refitting the transformer before Z is computed must not change Z (nor leave
    # Z's name, derived from the old state, naming new values).
    fitted = dask.delayed(copy.deepcopy(transformer), pure=True)
    drop_axis = list(range(2, X.ndim))  # image axes (4-D input) are flattened into features
    return X.map_blocks(
        _transform_block,
        fitted,
        n_out,
        dtype,
        chunks=(X.chunks[0], (n_out,)),
        drop_axis=drop_axis or None,
        dtype=dtype,
        meta=meta,
        token=f"{type(transformer).__name__.lower()}-transform",
    )


def _call(func, *blocks):
    return func(*blocks)


def _fold(combine, *parts):
    result = parts[0]
    for part in parts[1:]:
        result = combine(result, part)
    return result


def reduce_row_blocks(func, arrays, combine, split_every=8):
    r"""Apply ``func`` to every row block of aligned arrays and combine the results in a tree.

    For the row blocks ``b = 1..B`` of the arrays ``A_1, ..., A_k`` (split like the first
    array that is not None), this computes

    .. math::

        R = r_1 \oplus r_2 \oplus \dots \oplus r_B, \qquad
        r_b = \mathrm{func}(A_{1,b}, \dots, A_{k,b}), \qquad
        a \oplus b = \mathrm{combine}(a, b),

    bracketed as a tree: each combine task folds ``split_every`` partial results, level by
    level (depth ``ceil(log(B) / log(split_every))``), so ``combine`` must be associative. For
    per-block Gram matrices ``r_b = Z_b^T Z_b`` and ``combine = numpy.add``, ``R = Z^T Z``.
    Each ``r_b`` is one dask task, which the scheduler places next to its blocks; only
    partial results move between workers. The reduction is computed at once with the active
    scheduler (the ``distributed.Client`` in use, if any) and its concrete result returned.

    Parameters
    ----------
    func : callable
        ``func(*blocks) -> r_b``, called with one in-memory block (NumPy or CuPy) per entry of
        ``arrays`` (None for a None entry), in the order of ``arrays``. It enters the graph
        once, so it may hold large state (e.g. a fitted feature map in a
        :func:`functools.partial`).
    arrays : list of dask.array.Array or None
        Arrays with the same number of rows (1-D, 2-D or more; rows on axis 0). NumPy arrays
        are accepted too and split like the reference array. Entries are rechunked to the row
        chunks of the first array that is not None and to one chunk along their other axes.
    combine : callable
        ``combine(a, b) -> partial result``, associative (e.g. ``numpy.add`` for arrays, or a
        function adding tuples of arrays element-wise).
    split_every : int, default=8
        How many partial results one combine task folds (at least 2).

    Returns
    -------
    result : object
        ``combine`` of all ``r_b``, or ``r_1`` when there is one block.

    Raises
    ------
    ValueError
        No array, arrays with different numbers of rows, unknown row chunk sizes, or
        ``split_every < 2``.
    TypeError
        The first array that is not None is not a dask array.

    Examples
    --------
    >>> import numpy as np
    >>> import pytest
    >>> da = pytest.importorskip("dask.array")  # the example is skipped without dask
    >>> from skntk._dask import reduce_row_blocks
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> y = np.arange(6.0)
    >>> gram = reduce_row_blocks(
    ...     lambda Xb, yb, wb: (Xb.T @ Xb, Xb.T @ yb),
    ...     [da.from_array(X, chunks=(4, 1)), da.from_array(y, chunks=3), None],
    ...     lambda a, b: (a[0] + b[0], a[1] + b[1]))
    >>> np.array_equal(gram[0], X.T @ X), np.array_equal(gram[1], X.T @ y)
    (True, True)
    """
    import dask
    import dask.array as da
    from dask.base import tokenize

    if (
        not isinstance(split_every, numbers.Integral)
        or isinstance(split_every, bool)
        or split_every < 2
    ):
        raise ValueError(f"split_every must be an integer >= 2; got {split_every!r}")
    arrays = list(arrays)
    first = next((i for i, a in enumerate(arrays) if a is not None), None)
    if first is None:
        raise ValueError(
            "arrays holds no array; pass at least one dask array (None entries "
            "are only passed through)"
        )
    reference = arrays[first]
    if not is_dask_array(reference):
        raise TypeError(
            f"arrays[{first}], the first array, must be a dask array; got "
            f"{type(reference).__name__} (compute the reduction in memory instead)"
        )
    _check_known_rows(reference, f"arrays[{first}]")
    n_rows = reference.shape[0]
    row_chunks = reference.chunks[0]
    present = []
    for i, a in enumerate(arrays):
        if a is None:
            continue
        if getattr(a, "ndim", 0) < 1:
            raise ValueError(
                f"arrays[{i}] must have rows (ndim >= 1); got "
                f"{type(a).__name__} of shape {getattr(a, 'shape', None)}"
            )
        if a.shape[0] != n_rows:
            raise ValueError(
                f"arrays[{i}] has {a.shape[0]} rows but arrays[{first}] has {n_rows}; every "
                "array must have one row per sample"
            )
        if not is_dask_array(a):  # in-memory companions (a target y, weights)
            a = da.from_array(a, chunks=(row_chunks, *a.shape[1:]))
        _check_known_rows(a, f"arrays[{i}]")
        present.append(a.rechunk((row_chunks, *((s,) for s in a.shape[1:]))))
    # One joint optimization (arrays derived from the same source share their tasks), then
    # one Delayed per block: a flat list of B blocks per array.
    present = dask.optimize(*present)
    blocks = iter([a.to_delayed(optimize_graph=False).ravel() for a in present])
    per_array = [None if a is None else next(blocks) for a in arrays]

    token = tokenize(func, combine, [a.name for a in present], split_every)
    # func and combine enter the graph once each (they may carry a fitted feature map).
    func_d = dask.delayed(func, pure=True)
    combine_d = dask.delayed(combine, pure=True)
    call = dask.delayed(_call, pure=True)
    fold = dask.delayed(_fold, pure=True)
    parts = [
        call(
            func_d,
            *[None if b is None else b[i] for b in per_array],
            dask_key_name=(f"skntk-reduce-rows-{token}", i),
        )
        for i in range(len(row_chunks))
    ]
    level = 0
    while len(parts) > 1:
        level += 1
        parts = [
            fold(
                combine_d,
                *parts[j : j + split_every],
                dask_key_name=(f"skntk-reduce-combine-{token}", level, j // split_every),
            )
            for j in range(0, len(parts), split_every)
        ]
    (result,) = dask.compute(parts[0])
    return result
