"""Tests of the sketching primitives: identities in expectation, variance, layout, backends."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from skntk.sketching import SRHT, CountSketch, PolySketch, TensorSketch, TensorSRHT

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _pair(d, rho, norms=(1.0, 1.0), seed=0):
    """Two vectors with the given norms and cosine ``rho``, as the rows of a (2, d) array."""
    rs = np.random.RandomState(seed)
    e1, e2 = np.linalg.qr(rs.randn(d, 2))[0].T
    u = e1 * norms[0]
    v = (rho * e1 + np.sqrt(1 - rho**2) * e2) * norms[1]
    return np.stack([u, v])


def _gram_entries(Z):
    """``[<z0, z0>, <z0, z1>]`` for the first two rows of ``Z``."""
    Z = np.asarray(Z, dtype=np.float64)
    return np.array([Z[0] @ Z[0], Z[0] @ Z[1]])


def _assert_unbiased(samples, target, rel_se=0.05):
    """Mean within 5 standard errors of ``target``, and the test resolves ``rel_se * |target|``."""
    samples = np.asarray(samples, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    assert np.all(se > 0), "estimator has no randomness: the test would be vacuous"
    assert np.all(se < rel_se * np.abs(target)), f"standard error too large: {se} vs {target}"
    assert np.all(np.abs(mean - target) < 5 * se), f"biased: mean {mean}, target {target}, se {se}"


def _unit_rows(n, d, seed=0):
    X = np.random.RandomState(seed).randn(n, d)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _upper_gram(Z):
    Z = np.asarray(Z, dtype=np.float64)
    return (Z @ Z.T)[np.triu_indices(Z.shape[0])]


def _var_ratio(make, X, seeds, m_small, m_large):
    """Summed empirical variance of the Gram entries at ``m_small`` over that at ``m_large``.

    Summing over all the pairs of rows of ``X`` averages out the heavy tails of single
    estimates (products of near-Gaussian coordinates), which makes the ratio stable.
    """
    small = np.array([_upper_gram(make(m_small, s).transform(X)) for s in seeds])
    large = np.array([_upper_gram(make(m_large, s).transform(X)) for s in seeds])
    return small.var(axis=0, ddof=1).sum() / large.var(axis=0, ddof=1).sum()


# --------------------------------------------------------------------------------------------
# identities in expectation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d, m",
    [(32, 11), (20, 24), (30, 47)],  # m < N (odd); m > N (every coordinate, plus a sample)
)
def test_srht_unbiased(d, m):
    X = _pair(d, 0.6, norms=(1.3, 0.7))
    target = [X[0] @ X[0], X[0] @ X[1]]
    samples = [_gram_entries(SRHT(d, m, rng=s).transform(X)) for s in range(600)]
    _assert_unbiased(samples, target, rel_se=0.03)


@pytest.mark.parametrize("d, m", [(32, 7), (10, 23)])
def test_countsketch_unbiased(d, m):
    X = _pair(d, 0.6, norms=(1.3, 0.7))
    target = [X[0] @ X[0], X[0] @ X[1]]
    samples = [_gram_entries(CountSketch(d, m, rng=s).transform(X)) for s in range(800)]
    _assert_unbiased(samples, target, rel_se=0.05)


@pytest.mark.parametrize("cls", [TensorSRHT, TensorSketch])
@pytest.mark.parametrize("m", [15, 40])
def test_tensor_sketches_unbiased(cls, m):
    A = _pair(12, 0.7, norms=(1.2, 0.9), seed=1)
    B = _pair(9, -0.5, norms=(0.8, 1.5), seed=2)
    target = [(A[0] @ A[0]) * (B[0] @ B[0]), (A[0] @ A[1]) * (B[0] @ B[1])]
    samples = [_gram_entries(cls(12, 9, m, rng=s).transform(A, B)) for s in range(600)]
    _assert_unbiased(samples, target, rel_se=0.05)


@pytest.mark.parametrize(
    "d, kwargs",
    [
        (16, {}),  # leaves: DCT of the raw input
        (40, {"base_dim": 16}),  # leaves: CountSketch to 16, then DCT
        (16, {"internal_dim": 23}),  # odd internal dimension
    ],
)
def test_polysketch_unbiased(d, kwargs):
    degree = 5
    dims = [5, 12, 17, 32, 47]
    X = _pair(d, 0.85, norms=(1.1, 0.9))
    inner = X[0] @ X[1]
    sq = X[0] @ X[0]
    targets = np.array([[sq**l, inner**l] for l in range(1, degree + 1)])
    samples = []
    for s in range(800):
        Q = PolySketch(d, degree, dims, rng=s, **kwargs).transform(X)
        assert [q.shape for q in Q] == [(2, m) for m in dims]
        samples.append([_gram_entries(q) for q in Q])
    _assert_unbiased(samples, targets, rel_se=0.1)


# --------------------------------------------------------------------------------------------
# variance
# --------------------------------------------------------------------------------------------


def test_srht_variance_falls_like_one_over_m():
    N, m = 256, 8
    ratio = _var_ratio(lambda k, s: SRHT(N, k, rng=s), _unit_rows(6, N), range(300), m, 4 * m)
    expected = 4 * (N - m) / (N - 4 * m)  # sampling without replacement: finite population
    assert 0.7 * expected < ratio < 1.5 * expected


class _Tensor:
    """Sketch ``x (x) x`` with a two-input sketch, so that it has a one-input ``transform``."""

    def __init__(self, sketch):
        self.sketch = sketch

    def transform(self, X):
        return self.sketch.transform(X, X)


@pytest.mark.parametrize(
    "make, d",
    [
        (lambda k, s: CountSketch(64, k, rng=s), 64),
        (lambda k, s: _Tensor(TensorSRHT(32, 32, k, rng=s)), 32),
        (lambda k, s: _Tensor(TensorSketch(32, 32, k, rng=s)), 32),
    ],
    ids=["CountSketch", "TensorSRHT", "TensorSketch"],
)
def test_variance_falls_like_one_over_m(make, d):
    ratio = _var_ratio(make, _unit_rows(6, d, seed=3), range(300), 16, 64)
    assert 2.8 < ratio < 6.0


def test_polysketch_variance_falls_like_one_over_m():
    d, m = 256, 32
    X = _unit_rows(6, d, seed=4)

    def grams(k, s):
        return [_upper_gram(q) for q in PolySketch(d, 3, k, rng=s).transform(X)]

    small = np.array([grams(m, s) for s in range(300)])
    large = np.array([grams(4 * m, s) for s in range(300)])
    ratio = small.var(axis=0, ddof=1).sum(axis=-1) / large.var(axis=0, ddof=1).sum(axis=-1)
    # degree 1 samples m of the leaf's d coordinates without replacement; degrees 2 and 3 sit
    # a little above 4 because of the second-order (1/m^2) terms of nested sampling nodes
    expected = np.array([4 * (d - m) / (d - 4 * m), 4.0, 4.0])
    assert np.all((0.7 * expected < ratio) & (ratio < 1.6 * expected)), ratio


def test_polysketch_variance_grows_about_linearly_in_degree():
    # u = v: every target is 1, so variances are relative variances
    d, degree, m = 32, 8, 128
    X = _pair(d, 1.0)[:1]
    norms = np.array(
        [[np.sum(q**2) for q in PolySketch(d, degree, m, rng=s).transform(X)] for s in range(300)]
    )
    _assert_unbiased(norms[:, 1:], np.ones(degree - 1), rel_se=0.05)
    var = norms.var(axis=0, ddof=1)
    per_node = var[1:] / np.arange(1, degree)  # degree l has l - 1 sampling nodes
    # about constant per node (exponential growth, e.g. 3^l, would break this at once)
    assert np.all(per_node < 3.0 * per_node[0]), per_node
    assert var[-1] > 2.0 * var[1]  # and the test can see growth at all


# --------------------------------------------------------------------------------------------
# exact cases (deterministic)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d, m", [(10, 10), (12, 24), (7, 7)])
def test_srht_full_dimension_is_an_isometry(d, m):
    X = np.random.RandomState(0).randn(5, d)
    Z = SRHT(d, m, rng=1).transform(X)
    np.testing.assert_allclose(Z @ Z.T, X @ X.T, atol=1e-12)


def test_tensor_srht_all_pairs_is_exact():
    rs = np.random.RandomState(0)
    A, B = rs.randn(4, 3), rs.randn(4, 5)
    Z = TensorSRHT(3, 5, 15, rng=2).transform(A, B)
    np.testing.assert_allclose(Z @ Z.T, (A @ A.T) * (B @ B.T), atol=1e-12)


def test_tensor_sketch_is_countsketch_of_tensor_product():
    rs = np.random.RandomState(0)
    A, B = rs.randn(3, 4), rs.randn(3, 6)
    m = 5
    T = TensorSketch(4, 6, m, rng=3)
    h1, s1 = T.sketch1_.buckets_, T.sketch1_.signs_
    h2, s2 = T.sketch2_.buckets_, T.sketch2_.signs_
    expected = np.zeros((3, m))
    for i in range(4):
        for j in range(6):
            expected[:, (h1[i] + h2[j]) % m] += s1[i] * s2[j] * A[:, i] * B[:, j]
    np.testing.assert_allclose(T.transform(A, B), expected, atol=1e-12)


def test_countsketch_matches_definition():
    rs = np.random.RandomState(0)
    X = rs.randn(3, 9)
    C = CountSketch(9, 4, rng=5)
    expected = np.zeros((3, 4))
    for j in range(9):
        expected[:, C.buckets_[j]] += C.signs_[j] * X[:, j]
    np.testing.assert_allclose(C.transform(X), expected, atol=1e-14)


def test_polysketch_with_full_dimensions_is_exact():
    # d = 2: every sampling node keeps all pairs, so each degree is an exact isometry
    rs = np.random.RandomState(0)
    X = rs.randn(4, 2)
    P = PolySketch(2, 4, [2, 4, 8, 16], rng=6, internal_dim=4)
    for l, q in enumerate(P.transform(X), start=1):
        np.testing.assert_allclose(q @ q.T, (X @ X.T) ** l, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# shapes, dtypes, determinism, sparse input
# --------------------------------------------------------------------------------------------


def _all_outputs(dtype, n=3, seed=0):
    rs = np.random.RandomState(10)
    X = rs.randn(n, 7).astype(dtype)
    B = rs.randn(n, 5).astype(dtype)
    outs = {
        "SRHT": SRHT(7, 5, rng=seed).transform(X),
        "SRHT_wide": SRHT(7, 13, rng=seed).transform(X),
        "CountSketch": CountSketch(7, 3, rng=seed).transform(X),
        "TensorSRHT": TensorSRHT(7, 5, 9, rng=seed).transform(X, B),
        "TensorSRHT_wide": TensorSRHT(2, 3, 11, rng=seed).transform(X[:, :2], B[:, :3]),
        "TensorSketch": TensorSketch(7, 5, 9, rng=seed).transform(X, B),
    }
    for l, q in enumerate(PolySketch(7, 4, [3, 5, 7, 1], rng=seed).transform(X), start=1):
        outs[f"Poly{l}"] = q
    for l, q in enumerate(PolySketch(7, 3, 9, rng=seed, base_dim=4).transform(X), start=1):
        outs[f"PolyHashed{l}"] = q
    return outs


EXPECTED_SHAPES = {
    "SRHT": 5,
    "SRHT_wide": 13,
    "CountSketch": 3,
    "TensorSRHT": 9,
    "TensorSRHT_wide": 11,
    "TensorSketch": 9,
    "Poly1": 3,
    "Poly2": 5,
    "Poly3": 7,
    "Poly4": 1,
    "PolyHashed1": 9,
    "PolyHashed2": 9,
    "PolyHashed3": 9,
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_and_dtypes(dtype):
    outs = _all_outputs(dtype)
    assert set(outs) == set(EXPECTED_SHAPES)
    for name, Z in outs.items():
        assert isinstance(Z, np.ndarray)
        assert Z.shape == (3, EXPECTED_SHAPES[name]), name
        assert Z.dtype == dtype, name
        assert np.all(np.isfinite(Z)), name


def test_float32_agrees_with_float64():
    o32, o64 = _all_outputs(np.float32), _all_outputs(np.float64)
    for name in o64:
        np.testing.assert_allclose(o32[name], o64[name], rtol=2e-4, atol=2e-4, err_msg=name)


def test_integer_input_becomes_float64():
    X = np.arange(12).reshape(3, 4)
    assert SRHT(4, 3, rng=0).transform(X).dtype == np.float64
    assert CountSketch(4, 3, rng=0).transform(X).dtype == np.float64
    assert PolySketch(4, 2, 3, rng=0).transform(X)[1].dtype == np.float64


def test_zero_rows_and_empty_batches():
    X = np.zeros((2, 7))
    for Z in _all_outputs(np.float64).values():
        assert np.all(np.isfinite(Z))
    for q in PolySketch(7, 3, 4, rng=0).transform(X):
        np.testing.assert_array_equal(q, 0.0)
    empty = [q.shape for q in PolySketch(7, 3, 4, rng=0, base_dim=3).transform(X[:0])]
    assert empty == [(0, 4)] * 3


def test_same_seed_same_output_and_pickle():
    a, b = _all_outputs(np.float64, seed=4), _all_outputs(np.float64, seed=4)
    c = _all_outputs(np.float64, seed=5)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert any(not np.allclose(a[name], c[name]) for name in a)

    X = np.random.RandomState(0).randn(3, 7)
    P = PolySketch(7, 3, [4, 5, 6], rng=np.random.RandomState(8), base_dim=5)
    Q = P.transform(X)  # fills the (unpickled) caches first
    P2 = pickle.loads(pickle.dumps(P))
    for q, q2 in zip(Q, P2.transform(X), strict=True):
        np.testing.assert_array_equal(q, q2)


def test_rng_accepts_int_and_randomstate():
    X = np.random.RandomState(0).randn(3, 6)
    np.testing.assert_array_equal(
        SRHT(6, 4, rng=3).transform(X), SRHT(6, 4, rng=np.random.RandomState(3)).transform(X)
    )


def test_fortran_and_c_ordered_input_agree():
    X = np.random.RandomState(0).randn(5, 9)
    XF = np.asfortranarray(X)
    for make in (lambda: SRHT(9, 4, rng=1), lambda: CountSketch(9, 4, rng=1)):
        np.testing.assert_allclose(make().transform(X), make().transform(XF), atol=1e-14)
    P = PolySketch(9, 3, 4, rng=1)
    for q, qf in zip(P.transform(X), P.transform(XF), strict=True):
        np.testing.assert_allclose(q, qf, atol=1e-13)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_countsketch_sparse_equals_dense(fmt, dtype):
    Xs = sp.random(6, 50, density=0.2, format=fmt, random_state=0, dtype=dtype)
    C = CountSketch(50, 8, rng=0)
    Z = C.transform(Xs)
    assert isinstance(Z, np.ndarray) and Z.dtype == dtype
    np.testing.assert_allclose(Z, C.transform(Xs.toarray()), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("base_dim", [16, 64])  # 16 < d: CountSketch leaves; 64: plain DCT
def test_polysketch_sparse_equals_dense(fmt, base_dim):
    d = 60
    Xs = sp.random(5, d, density=0.15, format=fmt, random_state=1)
    P = PolySketch(d, 3, [6, 7, 8], rng=0, base_dim=base_dim)
    assert (P.hashing_ is not None) == (base_dim < d)
    leaves = P.leaf_features(Xs)
    assert leaves.shape == (5, 3 * P.leaf_fft_len)
    np.testing.assert_allclose(leaves, P.leaf_features(Xs.toarray()), atol=1e-12)
    for q, qd in zip(P.transform(Xs), P.transform(Xs.toarray()), strict=True):
        np.testing.assert_allclose(q, qd, atol=1e-12)


def test_tensor_sketch_accepts_sparse():
    rs = np.random.RandomState(0)
    A = sp.random(4, 30, density=0.2, format="csr", random_state=0)
    B = rs.randn(4, 5)
    T = TensorSketch(30, 5, 7, rng=0)
    np.testing.assert_allclose(T.transform(A, B), T.transform(A.toarray(), B), atol=1e-12)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4"])
def test_invalid_dimensions(bad):
    with pytest.raises(ValueError):
        SRHT(bad, 3, rng=0)
    with pytest.raises(ValueError):
        CountSketch(4, bad, rng=0)
    with pytest.raises(ValueError):
        PolySketch(4, bad, 3, rng=0)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="features"):
        SRHT(4, 3, rng=0).transform(np.ones((2, 5)))
    with pytest.raises(ValueError, match="2-D"):
        CountSketch(4, 3, rng=0).transform(np.ones(4))
    with pytest.raises(ValueError, match="rows"):
        TensorSRHT(2, 3, 4, rng=0).transform(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="rows"):
        TensorSketch(2, 3, 4, rng=0).transform(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="output_dims"):
        PolySketch(4, 3, [2, 3], rng=0)


# --------------------------------------------------------------------------------------------
# array API (array_api_strict as a stand-in for CuPy)
# --------------------------------------------------------------------------------------------


def _xp_cases():
    rs = np.random.RandomState(11)
    X, B = rs.randn(4, 13), rs.randn(4, 5)
    return [
        ("SRHT", lambda: SRHT(13, 9, rng=0), (X,)),
        ("SRHT_wide", lambda: SRHT(13, 30, rng=0), (X,)),
        ("CountSketch", lambda: CountSketch(13, 4, rng=0), (X,)),
        ("CountSketch_wide", lambda: CountSketch(13, 40, rng=0), (X,)),
        ("TensorSRHT", lambda: TensorSRHT(13, 5, 11, rng=0), (X, B)),
        ("TensorSketch", lambda: TensorSketch(13, 5, 11, rng=0), (X, B)),
        ("PolySketch", lambda: PolySketch(13, 5, [3, 4, 5, 6, 7], rng=0), (X,)),
        ("PolySketch_hashed", lambda: PolySketch(13, 4, 6, rng=0, base_dim=6), (X,)),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _xp_cases(), ids=lambda c: c[0])
def test_array_api_strict_matches_numpy(case, dtype):
    xp = pytest.importorskip("array_api_strict")
    _, make, args = case
    args = [a.astype(dtype) for a in args]
    device = xp.Device("device1")
    sketch = make()
    expected = sketch.transform(*args)
    got = sketch.transform(*[xp.asarray(a, device=device) for a in args])
    if not isinstance(expected, list):
        expected, got = [expected], [got]
    tol = 1e-4 if dtype == "float32" else 1e-10
    for e, g in zip(expected, got, strict=True):
        assert type(g) is type(xp.asarray(0.0)), type(g)
        assert g.dtype == getattr(xp, dtype)
        assert g.device == device
        scale = max(1.0, float(np.abs(e).max()))
        g_host = np.asarray(g.to_device(xp.asarray(0.0).device))
        np.testing.assert_allclose(g_host, e, rtol=tol, atol=tol * scale)
