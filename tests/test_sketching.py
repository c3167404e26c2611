"""Tests of the sketching primitives: exact identities, unbiasedness with power, variance, layout.

Ground truth, strongest first:

- identities that hold for every draw: a sketch that keeps every coordinate of its orthogonal
  transform (width a multiple of the padded transform length) is an exact isometry; CountSketch
  and TensorSketch map a basis vector (pair) to a signed basis vector; zero rows give zero
  features; the definitions written out as loops;
- unbiasedness, ``E <S a, S b> = <a, b>`` (a product of inner products for the tensor
  sketches, a power for PolySketch), over seeded draws, with the power to see a 5% scale
  error of the Gram matrix, on and off the diagonal (see ``RESOLUTION``);
- the ``1/m`` decay of the variance.

The sizes include input dimensions whose transform length ``scipy.fft.next_fast_len(d,
real=True)`` needs padding (13 -> 15, 17 -> 18, 113 -> 120, 705 -> 720, 784 -> 800; a bug that
scaled by ``d`` instead of the padded length survived tests that used only unpadded sizes), the
digits size 100 (5-smooth, so unpadded), output widths 1, 2, 3 and widths two to three times the
padded length.
"""

import functools
import pickle

import numpy as np
import pytest
import scipy.fft
import scipy.sparse as sp

from skntk.sketching import SRHT, CountSketch, PolySketch, TensorSketch, TensorSRHT

# next_fast_len(d, real=True): 1, 2, 3, 100 -> themselves; 13 -> 15, 17 -> 18, 113 -> 120,
# 705 -> 720, 784 -> 800 (padded)
AWKWARD_DIMS = (1, 2, 3, 13, 17, 100, 113, 705, 784)

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


def _assert_gram_exact(Z, K):
    """``Z Z^T == K`` to rounding (relative to the largest entry of ``K``)."""
    Z = np.asarray(Z, dtype=np.float64)
    np.testing.assert_allclose(Z @ Z.T, K, rtol=1e-9, atol=1e-11 * np.abs(K).max())


# Power of the unbiasedness tests. Every statistic is a ratio estimate / exact target whose
# expectation is exactly 1, averaged over seeded draws. ``_assert_unbiased`` asserts
#   (1) se <= RESOLUTION = 0.8 % for every statistic, so that no test can silently lose power,
#   (2) |mean - 1| <= Z_MAX se, Z_MAX = 4 (a correct sketch fails with probability 6e-5).
# A 5 % scale error moves the mean by >= 6.25 se; (2) misses it only if the noise pulls it back
# by more than 2.25 se, so the power against it is >= 98.8 %. The draw counts were sized from
# the observed per-draw standard deviations to give se <= 0.7 % (stated per case). Draws
# share one RandomState stream: seeding each draw anew would cost more than the sketch.
RESOLUTION = 0.008
Z_MAX = 4.0


def _assert_unbiased(ratios, resolution=RESOLUTION):
    ratios = np.asarray(ratios, dtype=np.float64).reshape(len(ratios), -1)
    mean = ratios.mean(axis=0)
    se = ratios.std(axis=0, ddof=1) / np.sqrt(ratios.shape[0])
    assert np.all(se <= resolution), f"too few draws to see a 5% error: se {se}"
    # a statistic with no randomness (se = 0, e.g. the trace over a basis for CountSketch) must
    # then be exact
    ok = np.abs(mean - 1) <= np.maximum(Z_MAX * se, 1e-9)
    z = (mean - 1) / np.maximum(se, 1e-300)
    assert np.all(ok), f"biased: mean ratio {mean}, se {se}, z {z}"


RHO = 0.6  # cosine within the frame pairs


def _frame_pairs(d, rho=RHO, seed=0):
    """Rows ``a_k`` of a random rotation of R^d; ``b_k = rho a_k + sqrt(1 - rho^2) a_{k+1}``.

    ``|a_k| = 1`` and ``<a_k, b_k> = rho`` exactly. The ``a_k`` form an orthonormal basis, so
    the diagonal statistic ``sum_k |S a_k|^2 = ||S||_F^2`` hardly varies between draws (it is
    constant without padding) and any scale error shows at once. The off-diagonal statistic
    adds the cross terms ``<S a_k, S a_{k+1}>``, which carry the sign randomness; averaging
    them over ``d`` pairs cuts their noise by about ``sqrt(d)``.
    """
    A = _rotation(d, seed)
    return A, rho * A + np.sqrt(1 - rho**2) * np.roll(A, -1, axis=0)


@functools.cache
def _rotation(d, seed):
    A = np.linalg.qr(np.random.RandomState(seed).randn(d, d))[0]
    A.flags.writeable = False
    return A


def _frame_ratios(Z, off_target):
    """``[mean_k |z(a_k)|^2, mean_k <z(a_k), z(b_k)> / off_target]``; ``Z`` sketches ``[A; B]``."""
    Z = np.asarray(Z, dtype=np.float64)
    k = Z.shape[0] // 2
    Za, Zb = Z[:k], Z[k:]
    return [np.sum(Za * Za) / k, np.sum(Za * Zb) / (k * off_target)]


def _pixel_rows(n, d, seed=0):
    """Non-negative rows (like pixel intensities) with norms between 0.5 and 1.5.

    A large common mode: pairwise cosines are about 0.75. Biases in the cross terms, such as
    CountSketch buckets without random signs (which add ``sum_{j != k} a_j b_k / m``), are
    large here, whereas on the isotropic frames above they largely cancel in the mean.
    """
    rs = np.random.RandomState(seed)
    X = rs.rand(n, d)
    return X * (rs.uniform(0.5, 1.5, size=(n, 1)) / np.linalg.norm(X, axis=1, keepdims=True))


def _gram_ratios(Z, K):
    """``[trace(G) / trace(K), sum_{i<j} G_ij / sum_{i<j} K_ij]`` for ``G = Z Z^T``."""
    Z = np.asarray(Z, dtype=np.float64)
    G = Z @ Z.T
    iu = np.triu_indices(K.shape[0], 1)
    return [np.trace(G) / np.trace(K), G[iu].sum() / K[iu].sum()]


def _xp_or_skip(backend):
    if backend == "numpy":
        return None
    return pytest.importorskip(backend)


def _to(xp, X):
    return X if xp is None else xp.asarray(X)


def _from(xp, Z):
    return np.asarray(Z) if xp is None else np.asarray(Z.to_device(xp.asarray(0.0).device))


# --------------------------------------------------------------------------------------------
# exact identities at awkward sizes (every draw)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])  # scipy DCT / Makhoul rfft
@pytest.mark.parametrize("reps", [1, 2, 3])
@pytest.mark.parametrize("d", AWKWARD_DIMS)
def test_srht_keeping_every_coordinate_is_an_isometry(d, reps, backend):
    # m = reps * N keeps every coordinate of the orthogonal H D reps times, scaled by
    # sqrt(N / m) = 1 / sqrt(reps): Z Z^T = X X^T for every draw. A scale built from d
    # instead of the padded N would give (d / N) X X^T, 0.93 X X^T for d = 13.
    xp = _xp_or_skip(backend)
    N = scipy.fft.next_fast_len(d, real=True)  # the documented transform length
    S = SRHT(d, reps * N, rng=d + reps)
    assert S.fft_len == N >= d
    X = np.random.RandomState(d).randn(6, d)
    Z = _from(xp, S.transform(_to(xp, X)))
    assert Z.shape == (6, reps * N)
    _assert_gram_exact(Z, X @ X.T)


@pytest.mark.parametrize("reps", [1, 2])
@pytest.mark.parametrize("d1, d2", [(13, 17), (1, 13), (17, 2), (3, 113), (1, 1)])
def test_tensor_srht_keeping_every_pair_is_exact(d1, d2, reps):
    # all N1 N2 pairs of (H1 D1 a) (x) (H2 D2 b), each reps times: an isometry of a (x) b
    N1, N2 = (scipy.fft.next_fast_len(d1, real=True), scipy.fft.next_fast_len(d2, real=True))
    rs = np.random.RandomState(d1 * d2)
    A, B = rs.randn(5, d1), rs.randn(5, d2)
    Z = TensorSRHT(d1, d2, reps * N1 * N2, rng=reps).transform(A, B)
    _assert_gram_exact(Z, (A @ A.T) * (B @ B.T))


@pytest.mark.parametrize(
    "d, dims, kwargs",
    [
        # leaves padded 13 -> 15; internal nodes keep all 15^2 pairs; degree 1 at width 2N
        (13, [30, 225, 225 * 15, 225 * 225], {"internal_dim": 225}),
        # internal nodes keep all 9 pairs 13 times (117), then are padded 117 -> 120
        (3, [3, 9, 120 * 3, 120 * 120], {"internal_dim": 117}),
        (2, [2, 4, 8, 16], {"internal_dim": 4}),
        (1, [1, 2, 3], {}),
    ],
)
def test_polysketch_keeping_everything_is_exact(d, dims, kwargs):
    # every sampling node keeps all pairs of its (orthogonally transformed) children, so each
    # degree is an isometry of u^{(x) l}: Q_l Q_l^T = (X X^T)^l exactly
    X = np.random.RandomState(d).randn(4, d)
    P = PolySketch(d, len(dims), dims, rng=7, **kwargs)
    assert P.hashing_ is None and P.leaf_fft_len == scipy.fft.next_fast_len(d, real=True)
    for l, q in enumerate(P.transform(X), start=1):
        _assert_gram_exact(q, (X @ X.T) ** l)


@pytest.mark.parametrize("m", [1, 2, 3, 50])
@pytest.mark.parametrize("d", [1, 2, 13, 17, 784])
def test_countsketch_maps_basis_vectors_to_signed_basis_vectors(d, m):
    # C e_j = s_j e_{h(j)} with s_j = +-1: the whole map, read off its columns (a sketch is
    # linear); in particular sum_j |C e_j|^2 = d exactly
    Z = np.asarray(CountSketch(d, m, rng=d + m).transform(np.eye(d)))
    assert Z.shape == (d, m)
    assert np.all(np.count_nonzero(Z, axis=1) == 1)
    np.testing.assert_array_equal(np.abs(Z).sum(axis=1), 1.0)
    X = np.random.RandomState(0).randn(3, d)
    np.testing.assert_allclose(CountSketch(d, m, rng=d + m).transform(X), X @ Z, atol=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3, 500])
@pytest.mark.parametrize("d1, d2", [(13, 17), (1, 3), (2, 1)])
def test_tensor_sketch_maps_basis_pairs_to_signed_basis_vectors(d1, d2, m):
    # T(e_i, e_j) = s1_i s2_j e_{(h1(i) + h2(j)) mod m}: one entry +-1 (to FFT rounding)
    T = TensorSketch(d1, d2, m, rng=m)
    i, j = np.divmod(np.arange(d1 * d2), d2)
    Z = np.asarray(T.transform(np.eye(d1)[i], np.eye(d2)[j]))
    assert Z.shape == (d1 * d2, m)
    big = np.abs(Z) > 0.5
    assert np.all(big.sum(axis=1) == 1)
    np.testing.assert_allclose(np.abs(Z[big]), 1.0, atol=1e-12)
    np.testing.assert_allclose(Z[~big], 0.0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# unbiasedness with power (see RESOLUTION)
# --------------------------------------------------------------------------------------------


def _draws(make, inputs, ratios, draws, seed):
    """``ratios(make(rs).transform(*inputs))`` for ``draws`` sketches from one seeded stream."""
    rs = np.random.RandomState(seed)
    return [ratios(make(rs).transform(*inputs)) for _ in range(draws)]


# (d, m, draws). Tiny widths, widths around N / 2, and widths above N with a remainder (every
# coordinate once or twice, plus a sample). The draws give se <= 0.7 %; the observed per-draw
# sd of the off-diagonal ratio is in the comment (the diagonal one is at most 0.05).
SRHT_FRAME_CASES = [
    (3, 2, 1000),  # sd 0.21
    (13, 1, 2900),  # sd 0.34
    (13, 3, 900),  # sd 0.18
    (13, 7, 250),  # sd 0.099
    (13, 17, 40),  # sd 0.031
    (13, 31, 40),  # sd 0.020
    (17, 2, 1250),  # sd 0.22
    (17, 9, 150),  # sd 0.069
    (17, 40, 40),  # sd 0.012
    (113, 1, 400),  # sd 0.13
    (113, 50, 40),  # sd 0.013
    (113, 250, 40),  # sd 0.001
    (784, 3, 40),  # sd 0.035
]


CS_FRAME_CASES = [  # (d, m, draws); the diagonal ratio is exactly 1 (sum_j s_j^2 = d)
    (3, 2, 1900),  # sd 0.28
    (13, 1, 2800),  # sd 0.34
    (13, 3, 900),  # sd 0.20
    (17, 2, 1150),  # sd 0.22
    (17, 40, 70),  # sd 0.053
    (113, 3, 150),  # sd 0.078
    (784, 1, 60),  # sd 0.044
]


@pytest.mark.parametrize(
    "cls, d, m, draws",
    [(SRHT, *case) for case in SRHT_FRAME_CASES]
    + [(CountSketch, *case) for case in CS_FRAME_CASES],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_srht_and_countsketch_unbiased_on_a_frame(cls, d, m, draws):
    A, B = _frame_pairs(d)
    ratios = _draws(
        lambda rs: cls(d, m, rng=rs),
        (np.vstack([A, B]),),
        lambda Z: _frame_ratios(Z, RHO),
        draws,
        seed=d * 1000 + m,
    )
    _assert_unbiased(ratios)


PIXEL_CASES = [  # (name, d, m, draws); per-draw sd of the off-diagonal ratio in the comment
    ("SRHT", 113, 30, 1300),  # sd 0.23
    ("SRHT", 784, 64, 750),  # sd 0.17
    ("CountSketch", 113, 30, 1700),  # sd 0.27
    ("CountSketch", 784, 64, 750),  # sd 0.18
]


@pytest.mark.parametrize("name, d, m, draws", PIXEL_CASES)
def test_unbiased_on_pixel_like_rows(name, d, m, draws):
    cls = {"SRHT": SRHT, "CountSketch": CountSketch}[name]
    X = _pixel_rows(8, d)
    ratios = _draws(
        lambda rs: cls(d, m, rng=rs),
        (X,),
        lambda Z: _gram_ratios(Z, X @ X.T),
        draws,
        seed=d * 1000 + m,
    )
    _assert_unbiased(ratios)


TENSOR_RHO = 0.8


def _tensor_frames(d1, d2):
    """Pairs ``(a_i, b_j)`` of two frames and their partners ``(a'_i, b'_j)``, over all ``i, j``.

    ``k -> (k mod d1, k mod d2)`` covers every pair when d1 and d2 are coprime. Returns the
    stacked inputs ``[a; a']``, ``[b; b']`` and the target ``<a (x) b, a' (x) b'> = rho^2``.
    """
    A, A2 = _frame_pairs(d1, TENSOR_RHO, seed=1)
    B, B2 = _frame_pairs(d2, TENSOR_RHO, seed=2)
    k = np.arange(np.lcm(d1, d2))
    i, j = k % d1, k % d2
    return np.vstack([A[i], A2[i]]), np.vstack([B[j], B2[j]]), TENSOR_RHO**2


TENSOR_CASES = [  # (name, d1, d2, m, draws); per-draw sd of the off-diagonal ratio
    ("TensorSRHT", 13, 17, 1, 1900),  # sd 0.27
    ("TensorSRHT", 13, 17, 3, 700),  # sd 0.16
    ("TensorSRHT", 13, 17, 40, 60),  # sd 0.039
    ("TensorSRHT", 13, 17, 300, 40),  # > N1 N2 = 252: all pairs, plus 48 sampled; sd 0.006
    ("TensorSRHT", 2, 3, 5, 1000),  # sd 0.15
    ("TensorSketch", 13, 17, 1, 1900),  # sd 0.26
    ("TensorSketch", 13, 17, 3, 700),  # sd 0.15
    ("TensorSketch", 13, 17, 40, 60),  # sd 0.041
    ("TensorSketch", 13, 17, 600, 40),  # sd 0.010
]


@pytest.mark.parametrize("name, d1, d2, m, draws", TENSOR_CASES)
def test_tensor_sketches_unbiased_on_frames(name, d1, d2, m, draws):
    cls = {"TensorSRHT": TensorSRHT, "TensorSketch": TensorSketch}[name]
    A, B, target = _tensor_frames(d1, d2)
    ratios = _draws(
        lambda rs: cls(d1, d2, m, rng=rs),
        (A, B),
        lambda Z: _frame_ratios(Z, target),
        draws,
        seed=d1 * d2 * 1000 + m,
    )
    _assert_unbiased(ratios)


@pytest.mark.parametrize("name, draws", [("TensorSRHT", 950), ("TensorSketch", 1250)])
def test_tensor_sketches_unbiased_on_pixel_like_rows(name, draws):
    # per-draw sd of the off-diagonal ratio: 0.17 (TensorSRHT), 0.22 (TensorSketch)
    cls = {"TensorSRHT": TensorSRHT, "TensorSketch": TensorSketch}[name]
    A, B = _pixel_rows(8, 13, seed=1), _pixel_rows(8, 17, seed=2)
    K = (A @ A.T) * (B @ B.T)
    ratios = _draws(
        lambda rs: cls(13, 17, 128, rng=rs), (A, B), lambda Z: _gram_ratios(Z, K), draws, seed=5
    )
    _assert_unbiased(ratios)


def _flat_tensor(d1, d2, m, rs, first, second):
    return TensorSRHT(d1, d2, m, rng=rs).flatten_along(first=first, second=second)


@pytest.mark.parametrize("which", ["first", "second", "both"])
def test_flattened_tensor_srht_unbiased(which):
    # frames: every direction counts alike, so a wrong flat part shows as a scale error; pixel
    # rows: the flattened directions are the rows' common mode, which carries most of K
    # per-draw sd of the off-diagonal ratio: frames 0.042-0.047, pixel rows 0.033-0.095
    # (se <= 0.0053)
    A, B, target = _tensor_frames(13, 17)
    v = np.random.RandomState(3).randn(13) if which != "second" else None
    w = np.random.RandomState(4).randn(17) if which != "first" else None
    ratios = _draws(lambda rs: _flat_tensor(13, 17, 40, rs, v, w), (A, B),
                    lambda Z: _frame_ratios(Z, target), 80, seed=11)
    _assert_unbiased(ratios)
    A, B = _pixel_rows(8, 13, seed=1), _pixel_rows(8, 17, seed=2)
    K = (A @ A.T) * (B @ B.T)
    v = A.mean(axis=0) if which != "second" else None
    w = B.mean(axis=0) if which != "first" else None
    ratios = _draws(lambda rs: _flat_tensor(13, 17, 128, rs, v, w), (A, B),
                    lambda Z: _gram_ratios(Z, K), 300, seed=5)
    _assert_unbiased(ratios)


def test_flattened_tensor_srht_is_less_noisy_on_rows_with_a_common_direction():
    # pixel-like rows (cosines to the mean direction ~0.87): most of <a, a'> <b, b'> lies
    # along the mean directions. With fewer pairs than coordinates of either factor (32
    # against 60 and 72), the plain sketch samples the mixed mean directions' uneven
    # coordinates; the summed variance of the flattened sketch's Gram entries is 0.18-0.19 of
    # the plain one's (rows of seeds 1-3, 60 sketches each); 0.4 leaves room for the noise
    A, B = _pixel_rows(40, 60, seed=1), _pixel_rows(40, 70, seed=2)
    v, w = A.mean(axis=0), B.mean(axis=0)

    def variance(flat):
        grams = [_upper_gram(_flat_tensor(60, 70, 32, s, *((v, w) if flat else (None, None)))
                             .transform(A, B)) for s in range(60)]
        return np.var(grams, axis=0, ddof=1).sum()

    assert variance(True) <= 0.4 * variance(False)


@pytest.mark.parametrize("d1, d2, m", [(13, 17, 40), (13, 17, 300), (60, 70, 32),
                                       (72, 12000, 8120), (12, 18, 216), (12, 18, 500)])
def test_tensor_srht_pairs_are_distinct_and_balanced(d1, d2, m):
    # every coordinate of either factor is used m // N or m // N + 1 times, and the pairs are
    # distinct until all N1 N2 of them are used (then each is used equally often, +-1)
    T = TensorSRHT(d1, d2, m, rng=d1 + m)
    i, j, scale = T.plan_
    N1, N2 = T.fft_len1, T.fft_len2
    for index, N in ((i, N1), (j, N2)):
        counts = np.bincount(index, minlength=N)
        assert counts.min() >= m // N and counts.max() <= -(-m // N)
    pair_counts = np.bincount(i * N2 + j, minlength=N1 * N2)
    assert pair_counts.min() >= m // (N1 * N2) and pair_counts.max() <= -(-m // (N1 * N2))
    np.testing.assert_allclose(scale, np.sqrt(N1 * N2 / m))


def test_tensor_srht_balanced_pairs_are_less_noisy_than_independent_ones():
    # pixel-like rows (a large common mode) and 8 pairs per coordinate of each factor
    # (N1 = 15, N2 = 16, m = 120): balanced pairs use every coordinate of H1 D1 a and of
    # H2 D2 b equally often, so the parts of the product that depend on one factor's
    # coordinates only are nearly exact; independently drawn pairs (the same law for each
    # pair) sample them too. The summed Gram variance is 0.40-0.45 of the independent pairs'
    # (rows of seeds 1-4, 80 sketches each)
    A, B = _pixel_rows(30, 15, seed=1), _pixel_rows(30, 16, seed=2)

    def variance(independent):
        grams = []
        for s in range(80):
            T = TensorSRHT(15, 16, 120, rng=s)
            if independent:
                rs = np.random.RandomState(1000 + s)
                T.plan_ = (rs.randint(T.fft_len1, size=120), rs.randint(T.fft_len2, size=120),
                           T.plan_[2])
            grams.append(_upper_gram(T.transform(A, B)))
        return np.var(grams, axis=0, ddof=1).sum()

    assert variance(False) <= 0.6 * variance(True)


def test_flattened_tensor_srht_is_bilinear_and_checks_its_directions():
    rs = np.random.RandomState(0)
    T = TensorSRHT(5, 7, 30, rng=0).flatten_along(first=rs.rand(5), second=rs.rand(7))
    A, A2, B, B2 = rs.randn(3, 5), rs.randn(3, 5), rs.randn(3, 7), rs.randn(3, 7)
    np.testing.assert_allclose(T.transform(2 * A + A2, B),
                               2 * T.transform(A, B) + T.transform(A2, B), atol=1e-12)
    np.testing.assert_allclose(T.transform(A, 2 * B - B2),
                               2 * T.transform(A, B) - T.transform(A, B2), atol=1e-12)
    np.testing.assert_allclose(T.transform(sp.csr_matrix(A), sp.csc_matrix(B)),
                               T.transform(A, B), atol=1e-12)
    assert T.transform(A.astype(np.float32), B).dtype == np.float32
    for bad in (np.zeros(5), np.ones(4), np.array([1.0, np.nan, 0, 0, 0])):
        with pytest.raises(ValueError, match="direction"):
            TensorSRHT(5, 7, 30, rng=0).flatten_along(first=bad)
    with pytest.raises(ValueError, match="direction"):
        TensorSRHT(5, 7, 30, rng=0).flatten_along(second=np.ones(5))


POLY_RHO = 0.9  # the targets rho^l stay away from zero up to degree 5
POLY_CASES = [  # (d, output_dims, kwargs, draws); largest per-draw sd over degrees and ratios
    (113, [1, 2, 3], {"base_dim": 113}, 1300),  # tiny widths; leaves padded 113 -> 120; sd 0.24
    (13, [7, 30, 60, 90, 120], {"internal_dim": 91}, 450),  # internal padded 91 -> 96; sd 0.14
    (17, [40, 400, 400, 400], {}, 60),  # wider than leaf (18), pair (324) lengths; sd 0.048
    (784, [3, 5, 7], {"base_dim": 13}, 130),  # CountSketch leaves to 13, padded to 15; sd 0.085
]


@pytest.mark.parametrize("d, dims, kwargs, draws", POLY_CASES)
def test_polysketch_unbiased_on_a_frame(d, dims, kwargs, draws):
    A, B = _frame_pairs(d, POLY_RHO)
    X = np.vstack([A, B])

    def ratios(Q):
        assert [q.shape for q in Q] == [(2 * d, m) for m in dims]
        return [_frame_ratios(q, POLY_RHO**l) for l, q in enumerate(Q, start=1)]

    _assert_unbiased(
        _draws(
            lambda rs: PolySketch(d, len(dims), dims, rng=rs, **kwargs), (X,), ratios, draws, seed=d
        )
    )


def test_polysketch_hashed_unbiased_on_pixel_like_rows():
    # hashed leaves (784 -> 113 buckets, padded to 120) on rows with a common mode: the sums
    # over all bucket members cancel on average only if the hash signs are random. Per-draw
    # sd of the ratios: 0.13 (degree 1) and 0.43 (degree 2), hence 5000 draws.
    X = _pixel_rows(8, 784)
    K = X @ X.T

    def ratios(Q):
        return [_gram_ratios(q, K**l) for l, q in enumerate(Q, start=1)]

    _assert_unbiased(
        _draws(lambda rs: PolySketch(784, 2, 64, rng=rs, base_dim=113), (X,), ratios, 5000, seed=3)
    )


@pytest.mark.parametrize("d, m", [(13, 2), (17, 3), (113, 7), (784, 3)])
def test_countsketch_hash_is_uniform(d, m):
    # every coordinate lands in each bucket with probability 1 / m (public: C e_j is nonzero
    # only in bucket h(j)); over R draws each bucket count is Binomial(R d, 1 / m), so a
    # count off by 4 sd fails (a bucket never used, or one used twice as often, is >= 26 sd off)
    R = -(-4000 // d)
    rs = np.random.RandomState(m)
    eye = np.eye(d)
    counts = sum(
        np.count_nonzero(CountSketch(d, m, rng=rs).transform(eye), axis=0) for _ in range(R)
    )
    n, p = R * d, 1.0 / m
    z = (counts - n * p) / np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(z) < 4), z


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
    _assert_unbiased(norms[:, 1:], resolution=0.05)  # a sanity check; power: see above
    var = norms.var(axis=0, ddof=1)
    per_node = var[1:] / np.arange(1, degree)  # degree l has l - 1 sampling nodes
    # about constant per node (exponential growth, e.g. 3^l, would break this at once)
    assert np.all(per_node < 3.0 * per_node[0]), per_node
    assert var[-1] > 2.0 * var[1]  # and the test can see growth at all


# --------------------------------------------------------------------------------------------
# definitions written out
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d1, d2, m", [(4, 6, 5), (13, 17, 1), (13, 17, 3), (2, 3, 40)])
def test_tensor_sketch_is_countsketch_of_tensor_product(d1, d2, m):
    rs = np.random.RandomState(0)
    A, B = rs.randn(3, d1), rs.randn(3, d2)
    T = TensorSketch(d1, d2, m, rng=3)
    h1, s1 = T.sketch1_.buckets_, T.sketch1_.signs_
    h2, s2 = T.sketch2_.buckets_, T.sketch2_.signs_
    expected = np.zeros((3, m))
    for i in range(d1):
        for j in range(d2):
            expected[:, (h1[i] + h2[j]) % m] += s1[i] * s2[j] * A[:, i] * B[:, j]
    np.testing.assert_allclose(T.transform(A, B), expected, atol=1e-12)


@pytest.mark.parametrize("d, m", [(9, 4), (13, 1), (17, 60)])
def test_countsketch_matches_definition(d, m):
    rs = np.random.RandomState(0)
    X = rs.randn(3, d)
    C = CountSketch(d, m, rng=5)
    assert set(np.unique(C.signs_)) <= {-1, 1} and C.buckets_.max() < m
    expected = np.zeros((3, m))
    for j in range(d):
        expected[:, C.buckets_[j]] += C.signs_[j] * X[:, j]
    np.testing.assert_allclose(C.transform(X), expected, atol=1e-14)


# --------------------------------------------------------------------------------------------
# shapes, dtypes, zero rows, determinism, sparse input
# --------------------------------------------------------------------------------------------


def _all_outputs(dtype, n=3, seed=0):
    """Every primitive at padded sizes (13 -> 14, 17 -> 18), tiny and wide widths."""
    rs = np.random.RandomState(10)
    X = rs.randn(n, 13).astype(dtype)
    B = rs.randn(n, 17).astype(dtype)
    outs = {
        "SRHT": SRHT(13, 5, rng=seed).transform(X),
        "SRHT_wide": SRHT(13, 31, rng=seed).transform(X),
        "CountSketch": CountSketch(13, 3, rng=seed).transform(X),
        "TensorSRHT": TensorSRHT(13, 17, 9, rng=seed).transform(X, B),
        "TensorSRHT_wide": TensorSRHT(2, 3, 11, rng=seed).transform(X[:, :2], B[:, :3]),
        "TensorSketch": TensorSketch(13, 17, 9, rng=seed).transform(X, B),
    }
    for l, q in enumerate(PolySketch(13, 4, [3, 5, 7, 1], rng=seed).transform(X), start=1):
        outs[f"Poly{l}"] = q
    for l, q in enumerate(PolySketch(13, 3, 9, rng=seed, base_dim=4).transform(X), start=1):
        outs[f"PolyHashed{l}"] = q
    return outs


EXPECTED_SHAPES = {
    "SRHT": 5,
    "SRHT_wide": 31,
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


def test_shapes_dtypes_and_float32_agrees_with_float64():
    o32, o64 = _all_outputs(np.float32), _all_outputs(np.float64)
    assert set(o64) == set(EXPECTED_SHAPES)
    for name, Z in o64.items():
        for out, dtype in ((Z, np.float64), (o32[name], np.float32)):
            assert isinstance(out, np.ndarray)
            assert out.shape == (3, EXPECTED_SHAPES[name]), name
            assert out.dtype == dtype, name
        # the same sketch in single precision: |z32 - z64| <= 3.1e-6 (1 + |z64|) observed over
        # six seeds (entries up to ~300 for degree 4); was rtol = atol = 2e-4
        np.testing.assert_allclose(o32[name], Z, rtol=1e-5, atol=1e-5, err_msg=name)


def test_integer_input_is_sketched_as_float64():
    X = np.arange(12).reshape(3, 4)
    for make in (lambda: SRHT(4, 3, rng=0), lambda: CountSketch(4, 3, rng=0)):
        Z = make().transform(X)
        assert Z.dtype == np.float64
        np.testing.assert_array_equal(Z, make().transform(X.astype(np.float64)))
    Q = PolySketch(4, 2, 3, rng=0).transform(X)[1]
    assert Q.dtype == np.float64
    np.testing.assert_array_equal(Q, PolySketch(4, 2, 3, rng=0).transform(X * 1.0)[1])


def _one_input_sketches():
    return {
        "SRHT": SRHT(13, 5, rng=0),
        "SRHT_wide": SRHT(17, 40, rng=0),
        "CountSketch": CountSketch(13, 3, rng=0),
        "PolySketch": PolySketch(13, 3, [1, 2, 3], rng=0),
        "PolySketch_hashed": PolySketch(13, 3, 4, rng=0, base_dim=3),
    }


def test_zero_rows_give_zero_features_and_rows_are_independent():
    # linear (multilinear) sketches map a zero row to exactly zero features, and each row is
    # sketched on its own: a batch with zero rows interleaved gives the other rows' features
    rs = np.random.RandomState(0)
    X = rs.randn(5, 13)
    X[[0, 3]] = 0.0
    for name, S in _one_input_sketches().items():
        Xd = np.zeros((5, S.input_dim))  # input_dim >= 13: pad X with zero columns
        Xd[:, :13] = X
        full, part = S.transform(Xd), S.transform(Xd[[1, 2, 4]])
        for Z, Zp in zip(
            full if isinstance(full, list) else [full],
            part if isinstance(part, list) else [part],
            strict=True,
        ):
            np.testing.assert_array_equal(Z[[0, 3]], 0.0, err_msg=name)
            np.testing.assert_allclose(Z[[1, 2, 4]], Zp, atol=1e-12, err_msg=name)
    A, B = rs.randn(4, 13), rs.randn(4, 17)
    A[0], B[1] = 0.0, 0.0
    for T in (TensorSRHT(13, 17, 7, rng=0), TensorSketch(13, 17, 7, rng=0)):
        Z = T.transform(A, B)
        np.testing.assert_array_equal(Z[:2], 0.0)  # a zero factor on either side
        np.testing.assert_allclose(Z[2:], T.transform(A[2:], B[2:]), atol=1e-12)
        assert np.all(np.abs(Z[2:]) > 0)


def test_empty_batches():
    for name, S in _one_input_sketches().items():
        out = S.transform(np.zeros((0, S.input_dim)))
        dims = S.output_dims if isinstance(S, PolySketch) else [S.output_dim]
        shapes = [q.shape for q in (out if isinstance(out, list) else [out])]
        assert shapes == [(0, m) for m in dims], name
    for T in (TensorSRHT(13, 17, 7, rng=0), TensorSketch(13, 17, 7, rng=0)):
        assert T.transform(np.zeros((0, 13)), np.zeros((0, 17))).shape == (0, 7)


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
    # complex input raises (a cast would drop the imaginary part)
    Xc = np.ones((2, 4)) * (1 + 1j)
    with pytest.raises(ValueError, match="X must be real"):
        SRHT(4, 3, rng=0).transform(Xc)
    with pytest.raises(ValueError, match="X must be real"):
        PolySketch(4, 2, 3, rng=0).transform(sp.csr_matrix(Xc))
    with pytest.raises(ValueError, match="B must be real"):
        TensorSRHT(4, 4, 3, rng=0).transform(np.ones((2, 4)), Xc)


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
        ("TensorSRHT_flat", lambda: TensorSRHT(13, 5, 11, rng=0).flatten_along(
            first=np.arange(1.0, 14.0), second=np.ones(5)), (X, B)),
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
