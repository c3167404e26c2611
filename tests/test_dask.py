"""Dask support: lazy ``transform`` of dask arrays and tree reductions over row blocks.

The ground truth is the in-memory path: a feature map's features of a row do not depend on the
other rows, so the dask transform must equal the NumPy transform of the computed array for any
chunking. Reductions are checked on integer-valued floats, whose sums are exact in floating
point in any order, so they must equal the NumPy products exactly.

Most tests run on a ``distributed.LocalCluster`` of 2 single-threaded worker processes; the
rest use dask's default threaded scheduler (``dask.config.set(scheduler="threads")`` takes
precedence over the cluster's client).
"""

import logging
import sys
import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from skntk import (  # noqa: E402
    CNTKSketch,
    FiniteWidthNTK,
    NeuralKernelFeatures,
    NNGPSketch,
    NTKRandomFeatures,
    NTKSketch,
)
from skntk._dask import reduce_row_blocks  # noqa: E402
from skntk.architectures import Dense, Nonlinearity  # noqa: E402

N_ROWS, N_FEATURES, N_COMPONENTS = 41, 5, 48
IMAGE_SHAPE = (4, 4, 2)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, as on a (tiny) cluster."""
    import cloudpickle

    # Functions defined in this module travel to the worker processes by value, whatever
    # pytest's import mode (the workers need not be able to import the test module).
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def _rows(dtype=np.float64, n=N_ROWS, d=N_FEATURES, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


def _images(dtype=np.float64, n=N_ROWS, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *IMAGE_SHAPE)).astype(dtype)


# name -> (unfitted transformer, input kind); small sizes keep each fit well under a second
TRANSFORMERS = {
    "NTKSketch": (lambda: NTKSketch(N_COMPONENTS, depth=2, random_state=0), "rows"),
    "NTKSketch-hermite": (
        lambda: NTKSketch(N_COMPONENTS, depth=2, method="hermite", random_state=0),
        "rows",
    ),
    "NNGPSketch": (lambda: NNGPSketch(N_COMPONENTS, activation="erf", random_state=0), "rows"),
    "NTKRandomFeatures": (lambda: NTKRandomFeatures(N_COMPONENTS, random_state=0), "rows"),
    # hidden layer wider than 1024: StructuredGaussian directions, pickled to the workers
    "NTKRandomFeatures-structured": (
        lambda: NTKRandomFeatures(1536, depth=2, random_state=0),
        "rows",
    ),
    "NeuralKernelFeatures": (
        lambda: NeuralKernelFeatures(
            [Dense(1.0, 0.1), Nonlinearity("gelu"), Dense()],
            n_components=N_COMPONENTS,
            random_state=0,
        ),
        "rows",
    ),
    "CNTKSketch": (lambda: CNTKSketch(N_COMPONENTS, random_state=0), "images"),
    "FiniteWidthNTK": (lambda: FiniteWidthNTK((16,), n_components=32, random_state=0), "rows"),
}

_FITTED = {}


def _fitted(name):
    """The transformer fitted on float64 data (once per module)."""
    if name not in _FITTED:
        make, kind = TRANSFORMERS[name]
        X = _images() if kind == "images" else _rows()
        _FITTED[name] = make().fit(X)
    return _FITTED[name]


def _data(name, dtype):
    return _images(dtype, seed=2) if TRANSFORMERS[name][1] == "images" else _rows(dtype, seed=2)


# row chunks (uneven, one chunk) and column chunks that transform must merge
CHUNKINGS = {
    "uneven": lambda X: ((7, 1, 20, 13),) + tuple((s,) for s in X.shape[1:]),
    "one-chunk": lambda X: X.shape,
    "columns-split": lambda X: (10,) + tuple(max(s // 2, 1) for s in X.shape[1:]),
}


def _tolerance(dtype):
    # atol: entries that cancel to ~1e-15 keep only rounding residues, which depend on how
    # many rows BLAS multiplies at once (features are of order 1)
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-13}


def _check_lazy_result(Z, Xd, n_out, dtype):
    assert isinstance(Z, da.Array)
    assert Z.shape == (Xd.shape[0], n_out)
    assert Z.chunks == (Xd.chunks[0], (n_out,))  # known sizes, the input's row chunks
    assert Z.dtype == dtype


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_transform_equals_numpy_on_cluster(client, name, chunking):
    est = _fitted(name)
    for dtype in (np.float64, np.float32):
        X = _data(name, dtype)
        Xd = da.from_array(X, chunks=CHUNKINGS[chunking](X))
        Z = est.transform(Xd)
        _check_lazy_result(Z, Xd, est._n_features_out, np.dtype(dtype))
        out = Z.compute()
        assert isinstance(out, np.ndarray) and out.dtype == dtype
        assert_allclose(out, est.transform(X), **_tolerance(dtype))


def _counting_array(X, chunks):
    """``X`` as a dask array whose blocks count how often they are computed."""
    calls = []
    lock = threading.Lock()
    Xd = da.from_array(X, chunks=chunks)

    def count(block):
        with lock:
            calls.append(block.shape[0])
        return block

    return Xd.map_blocks(count, dtype=X.dtype, meta=np.empty((0,) * X.ndim, X.dtype)), calls


@pytest.mark.parametrize("name", ["NTKSketch", "CNTKSketch", "FiniteWidthNTK"])
def test_transform_is_lazy_with_threaded_scheduler(threads, name):
    est = _fitted(name)
    X = _data(name, np.float64)
    Xd, calls = _counting_array(X, (9,) + X.shape[1:])
    Z = est.transform(Xd)
    assert calls == []  # nothing computed: checks use shapes and dtypes only
    _check_lazy_result(Z, Xd, est._n_features_out, np.dtype(np.float64))
    expected = est.transform(X)
    _FITTED.pop(name)  # refitted in place: Z must keep the features it was built with
    est.set_params(random_state=1).fit(X)
    assert not np.allclose(est.transform(X), expected)
    assert_allclose(Z.compute(), expected, rtol=1e-10, atol=1e-13)
    assert sorted(calls) == sorted(Xd.chunks[0])  # every block computed once


def test_transform_composes_lazily(threads):
    """Slicing and reductions of the result work without computing chunk sizes."""
    est = _fitted("NTKSketch")
    X = _rows(seed=3, n=60)
    Z = est.transform(da.from_array(X, chunks=(11, 3)))
    expected = est.transform(X)
    assert_allclose(Z[15:40].compute(), expected[15:40], rtol=1e-10, atol=1e-13)
    assert_allclose((Z.T @ Z).compute(), expected.T @ expected, rtol=1e-10)


def test_flattened_images_and_integer_input(threads):
    cntk = _fitted("CNTKSketch")
    X = _images(seed=4)
    flat = X.reshape(len(X), -1)
    Z = cntk.transform(da.from_array(flat, chunks=(8, 5)))
    assert_allclose(Z.compute(), cntk.transform(X), rtol=1e-10, atol=1e-13)

    est = _fitted("NTKSketch")
    Xi = np.random.default_rng(5).integers(-3, 4, (N_ROWS, N_FEATURES))
    Z = est.transform(da.from_array(Xi, chunks=(10, N_FEATURES)))
    assert Z.dtype == np.float64  # as the NumPy path, which validates integers to float64
    assert_allclose(Z.compute(), est.transform(Xi), rtol=1e-10, atol=1e-13)


def test_sparse_blocks(threads):
    """Blocks of SciPy sparse rows (accepted by the fully connected maps) give dense blocks."""
    import scipy.sparse as sp

    est = _fitted("NTKSketch")
    X = _rows(seed=12)
    X[X < 0.5] = 0.0
    Xd = da.from_array(X, chunks=(12, N_FEATURES))
    Xs = Xd.map_blocks(sp.csr_matrix, meta=sp.csr_matrix((0, 0)))
    Z = est.transform(Xs)
    assert type(Z._meta) is np.ndarray and Z.chunks == (Xd.chunks[0], (N_COMPONENTS,))
    out = Z.compute()
    assert type(out) is np.ndarray
    assert_allclose(out, est.transform(sp.csr_matrix(X)), rtol=1e-10, atol=1e-13)


def test_empty_blocks(threads):
    est = _fitted("NTKSketch")
    X = _rows(seed=6)
    Xd = da.from_array(X, chunks=((0, 20, 0, 21), (N_FEATURES,)))
    Z = est.transform(Xd)
    assert Z.chunks[0] == (0, 20, 0, 21)
    assert_allclose(Z.compute(), est.transform(X), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_fit_and_fit_transform_refuse_dask(threads, name):
    make, _ = TRANSFORMERS[name]
    X = _data(name, np.float64)
    Xd, calls = _counting_array(X, (10,) + X.shape[1:])
    for method in ("fit", "fit_transform"):
        with pytest.raises(TypeError, match=r"fit on a NumPy sample, e\.g\. .*compute\(\)"):
            getattr(make(), method)(Xd)
    assert calls == []  # refused before anything was computed


def test_transform_input_errors(threads):
    est = _fitted("NTKSketch")
    with pytest.raises(NotFittedError):
        NTKSketch(8).transform(da.zeros((4, N_FEATURES), chunks=2))
    with pytest.raises(
        ValueError, match=f"X has 3 features, but NTKSketch is expecting {N_FEATURES} features"
    ):
        est.transform(da.zeros((4, 3), chunks=2))
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_features\); got shape"):
        est.transform(da.zeros((4, N_FEATURES, 2), chunks=2))
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.transform(da.zeros((4, N_FEATURES), chunks=2, dtype=np.complex128))
    with pytest.raises(TypeError, match=r"X\.astype\(np\.float64\)"):
        est.transform(da.from_array(np.full((4, N_FEATURES), "a"), chunks=2))
    X = da.from_array(_rows(), chunks=10)
    unknown = X[X[:, 0] > 0]  # boolean masks leave the row counts unknown
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        est.transform(unknown)
    unknown.compute_chunk_sizes()
    assert est.transform(unknown).shape == (int((_rows()[:, 0] > 0).sum()), N_COMPONENTS)

    cntk = _fitted("CNTKSketch")
    with pytest.raises(
        ValueError,
        match=r"images of shape \(4, 4, 3\), but CNTKSketch was "
        r"fitted on images of shape \(4, 4, 2\)",
    ):
        cntk.transform(da.zeros((5, 4, 4, 3), chunks=2))


def test_nonfinite_input_raises_at_compute(threads):
    est = _fitted("NTKSketch")
    X = _rows(seed=7)
    X[30, 2] = np.nan
    Z = est.transform(da.from_array(X, chunks=10))  # lazy: the data are not looked at yet
    with pytest.raises(ValueError, match="NaN"):
        Z.compute()


# -- reduce_row_blocks ---------------------------------------------------------------------


def _integer_problem(n=47, d=6, k=3, seed=8):
    """Integer-valued floats (sums exact in any order); column 0 holds the row index."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-4, 5, (n, d)).astype(np.float64)
    X[:, 0] = np.arange(n)
    y = 3.0 * np.arange(n) + 1.0  # tied to the row index: a misaligned block is detected
    Y = rng.integers(-4, 5, (n, k)).astype(np.float64)
    w = rng.integers(1, 4, n).astype(np.float64)
    return X, y, Y, w


def _gram_parts(Xb, yb, skipped, Yb, wb):
    """Weighted Gram-like products of one block (checks that the blocks are aligned)."""
    assert skipped is None
    assert Xb.shape[0] == yb.shape[0] == Yb.shape[0] == wb.shape[0]
    assert_array_equal(yb, 3.0 * Xb[:, 0] + 1.0)
    Xw = Xb * wb[:, None]
    return {
        "XtX": Xw.T @ Xb,
        "Xty": Xw.T @ yb,
        "XtY": Xw.T @ Yb,
        "colsum": Xw.sum(axis=0),
        "rows": Xb.shape[0],
    }


def _add_parts(a, b):
    return {key: a[key] + b[key] for key in a}


def _check_gram(result, X, y, Y, w):
    Xw = X * w[:, None]
    assert_array_equal(result["XtX"], Xw.T @ X)
    assert_array_equal(result["Xty"], Xw.T @ y)
    assert_array_equal(result["XtY"], Xw.T @ Y)
    assert_array_equal(result["colsum"], Xw.sum(axis=0))
    assert result["rows"] == len(X)


def _gram_arrays(X, y, Y, w, x_chunks=((5, 1, 17, 9, 15), (2, 4))):
    # every array chunked differently (rows and columns): aligned on X's row chunks
    return [
        da.from_array(X, chunks=x_chunks),
        da.from_array(y, chunks=11),
        None,
        da.from_array(Y, chunks=(13, 1)),
        da.from_array(w, chunks=len(w)),
    ]


def test_reduce_row_blocks_exact_on_cluster(client):
    X, y, Y, w = _integer_problem()
    for split_every in (2, 3, 8):
        result = reduce_row_blocks(
            _gram_parts, _gram_arrays(X, y, Y, w), _add_parts, split_every=split_every
        )
        _check_gram(result, X, y, Y, w)


def test_reduce_row_blocks_of_features_on_cluster(client):
    """The streaming ridge's use: Gram matrix of lazily transformed features."""
    est = _fitted("NTKSketch")
    X = _rows(seed=9, n=70)
    Z = est.transform(da.from_array(X, chunks=(16, 2)))
    y = np.arange(70.0)

    def products(Zb, yb):
        return Zb.T @ Zb, Zb.T @ yb

    gram, cross = reduce_row_blocks(products, [Z, y], lambda a, b: (a[0] + b[0], a[1] + b[1]))
    Zn = est.transform(X)
    assert_allclose(gram, Zn.T @ Zn, rtol=1e-10)
    assert_allclose(cross, Zn.T @ y, rtol=1e-10)


@pytest.mark.parametrize("split_every", [2, 3, 8])
def test_reduce_row_blocks_tree_with_threaded_scheduler(threads, split_every):
    X, y, Y, w = _integer_problem(n=200, seed=10)
    calls = []
    lock = threading.Lock()

    def combine(a, b):
        with lock:
            calls.append(1)
        return _add_parts(a, b)

    arrays = _gram_arrays(X, y, Y, w, x_chunks=(10, 3))  # 20 row blocks
    _check_gram(
        reduce_row_blocks(_gram_parts, arrays, combine, split_every=split_every), X, y, Y, w
    )
    assert len(calls) == 19  # each of 20 partial results combined once


def test_reduce_row_blocks_one_block_and_numpy_companions(threads):
    X, y, Y, w = _integer_problem(n=12, seed=11)
    calls = []

    def combine(a, b):
        calls.append(1)
        return _add_parts(a, b)

    arrays = [da.from_array(X, chunks=-1), y, None, Y, w]  # in-memory y, Y and w are split too
    _check_gram(reduce_row_blocks(_gram_parts, arrays, combine), X, y, Y, w)
    assert calls == []
    arrays[0] = da.from_array(X, chunks=(5, 6))
    _check_gram(reduce_row_blocks(_gram_parts, arrays, _add_parts), X, y, Y, w)


def test_reduce_row_blocks_errors(threads):
    X = da.ones((10, 3), chunks=4)
    with pytest.raises(ValueError, match=r"arrays\[1\] has 9 rows but arrays\[0\] has 10"):
        reduce_row_blocks(lambda a, b: 0, [X, da.ones(9, chunks=4)], np.add)
    with pytest.raises(ValueError, match="split_every must be an integer >= 2; got 1"):
        reduce_row_blocks(lambda a: 0, [X], np.add, split_every=1)
    with pytest.raises(ValueError, match="at least one dask array"):
        reduce_row_blocks(lambda a: 0, [None], np.add)
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        reduce_row_blocks(lambda a: 0, [X[X[:, 0] > 0]], np.add)
    with pytest.raises(TypeError, match=r"arrays\[1\], the first array, must be a dask array"):
        reduce_row_blocks(lambda a, b: 0, [None, np.ones((10, 3))], np.add)
    # a leading None: the first array present sets the row blocks
    assert reduce_row_blocks(lambda a, b: b.shape[0], [None, X], lambda a, b: a + b) == 10
