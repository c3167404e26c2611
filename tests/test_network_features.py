"""Tests of NeuralKernelFeatures (random features of the NNGP / NTK of any composed network).

Ground truth: the exact kernels :func:`skntk.kernels.kernel` (validated against independent
references in ``test_kernels.py``), an explicit per-pixel recursion written here in NumPy, and
statistics over random seeds. No expected number comes from the sketch's own output.

Errors are scored raw and on the centred kernel ``H K H`` (``tests/_scoring.py``). The sketch
truncates every activation's Hermite series at ``degree`` (8): the truncation alone biases a
ReLU after a global pooling of digits (cosines 0.98-0.999) by 1.7% on the centred kernel and
6.5e-5 on the raw one (computed exactly from the folded coefficients). Statistics below
therefore accept a bias up to ``TRUNCATION`` = (3e-4 raw, 0.02 centred) on top of the sampling
noise; every other deviation counts as a bias of the sketch.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from _scoring import (
    SLOW_MARKS,
    assert_beats_baselines,
    centre,
    errors,
    raw_error,
    seed_mean_ratio,
)
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skntk import NeuralKernelFeatures, NNGPSketch, NTKSketch
from skntk.activations import LeakyReLU, get_activation
from skntk.architectures import (
    AvgPool,
    Conv,
    Dense,
    GlobalAvgPool,
    Nonlinearity,
    fully_connected,
)
from skntk.kernels import kernel
from skntk.planning import pixel_variances

TRUNCATION = (3e-4, 0.02)  # (raw, centred) bias the degree-8 Hermite truncation may cause
KINDS = ("ntk", "nngp")


# =============================================================================================
# Data and random compositions
# =============================================================================================
def _rows(n):
    """Gaussian rows in 7 dimensions around a common mean (cosines spread over (-1, 1), with a
    shared direction the sketch splits off)."""
    return np.random.RandomState(1).randn(n, 7) + 0.5


def _images(name, n):
    """``"random"``: N(0, 1) pixels, 6x6x2; ``"digits"``: load_digits / 16 as 8x8x1 images
    (nonnegative strokes, nearly parallel after pooling: a large common mode)."""
    if name == "random":
        return np.random.RandomState(2).randn(n, 6, 6, 2)
    return load_digits().data[:n].reshape(n, 8, 8, 1) / 16.0


FC_ACTIVATIONS = ("relu", "gelu", "erf", "tanh", "leaky_relu")
# tanh has no closed-form dual: with pooling its exact per-pixel variances cost seconds per fit
IMAGE_ACTIVATIONS = ("relu", "gelu", "erf", "leaky_relu")


def _activation(rng, names):
    name = names[rng.randint(len(names))]
    return Nonlinearity(LeakyReLU(alpha=0.2) if name == "leaky_relu" else name)


def _linear(rng, filter_size=None):
    """Dense (or Conv) with ``W`` in [0.8, 1.5] and ``b`` 0 (probability 0.4) or in [0.1, 0.5]."""
    w = round(float(rng.uniform(0.8, 1.5)), 2)
    b = 0.0 if rng.rand() < 0.4 else round(float(rng.uniform(0.1, 0.5)), 2)
    return Dense(w, b) if filter_size is None else Conv(filter_size, w, b)


def _draw_fc(rng):
    """``depth x [Dense, act] + Dense``, depth 1 or 2."""
    layers = []
    for _ in range(rng.randint(1, 3)):
        layers += [_linear(rng), _activation(rng, FC_ACTIVATIONS)]
    return layers + [_linear(rng)]


def _draw_image(rng):
    """``Conv, act, [AvgPool], [Conv, act], GlobalAvgPool, [Dense, act], Dense`` (each optional
    part with probability 1/2; filter sizes 1, 3 or 5)."""
    layers = [_linear(rng, int(rng.choice([1, 3, 5]))), _activation(rng, IMAGE_ACTIVATIONS)]
    if rng.rand() < 0.5:
        layers.append(AvgPool())
    if rng.rand() < 0.5:
        layers += [_linear(rng, int(rng.choice([1, 3, 5]))), _activation(rng, IMAGE_ACTIVATIONS)]
    layers.append(GlobalAvgPool())
    if rng.rand() < 0.5:  # a nonlinearity after the global pooling
        layers += [_linear(rng), _activation(rng, IMAGE_ACTIVATIONS)]
    return layers + [_linear(rng)]


# the first seed whose default lists cover every activation, depths 1 and 2, filter sizes 1, 3
# and 5, with and without AvgPool, one and two Conv layers, with and without a nonlinearity
# after the global pooling (test_default_draws_cover_the_layer_space checks this)
DRAW_SEED = 17
N_DEFAULT, N_DRAWN = 4, 8  # lists of each family: tested by default / drawn (rest slow)


def _draw_all(seed=DRAW_SEED):
    rng = np.random.RandomState(seed)
    fc = [_draw_fc(rng) for _ in range(N_DRAWN)]
    images = [_draw_image(rng) for _ in range(N_DRAWN)]
    return fc, images


FC_NETS, IMAGE_NETS = _draw_all()


def _cases():
    """``(id, layers, data, slow)``: rows for the fully connected lists; digits and random
    images alternately for the image lists."""
    out = []
    for i, layers in enumerate(FC_NETS):
        out.append((f"fc{i}", layers, "rows", i >= N_DEFAULT))
    for i, layers in enumerate(IMAGE_NETS):
        data = ("digits", "random")[i % 2]
        out.append((f"img{i}-{data}", layers, data, i >= N_DEFAULT))
    return out


CASES = {case_id: (layers, data) for case_id, layers, data, _ in _cases()}
N_ROWS, N_IMAGES = 30, 12


# A known bias (issue 11 follow-up): a ReLU after GlobalAvgPool on digits, whose pooled images
# are nearly parallel (cosines 0.98-0.999): at 512 columns the centred NNGP comes out 5.5% low
# (z 11): -1.7% from the degree-8 Hermite truncation of ReLU at those cosines, the rest from
# normalizing sketched features (noise lowers the cosines of nearly parallel vectors); it
# shrinks with n_components (2048: -3.7%, 8192: -0.9%, not significant) and with the degree.
# borderline, not strict: the centred ratio of seeds 0-7, 8-15, 16-23 is .46, .62, .39 (.81,
# .49, .65 before the 5-smooth transform lengths)
_KNOWN_BIASED = {("img0-digits", "nngp"): "issue 11 follow-up: ReLU after global pooling of "
                 "nearly parallel images: centred NNGP up to 5% low at 512 columns"}


def _params(kinds=KINDS, known_biased=None):
    def marks(case_id, kind, slow):
        out = [*SLOW_MARKS] if slow else []
        if known_biased and (case_id, kind) in known_biased:
            out.append(pytest.mark.xfail(strict=False, raises=AssertionError,
                                         reason=known_biased[(case_id, kind)]))
        return out

    return [pytest.param(case_id, kind, id=f"{kind}-{case_id}", marks=marks(case_id, kind, slow))
            for case_id, _, _, slow in _cases() for kind in kinds]


def _inputs(data):
    return _rows(N_ROWS) if data == "rows" else _images(data, N_IMAGES)


_EXACT = {}


def _exact(case_id, kind):
    """``kernel(X, layers=..., kind=kind)`` of a case, computed once."""
    if (case_id, kind) not in _EXACT:
        layers, data = CASES[case_id]
        _EXACT[case_id, kind] = kernel(_inputs(data), layers=layers, kind=kind)
    return _EXACT[case_id, kind]


def _gram(layers, X, kind, n_components, seed, **params):
    Z = NeuralKernelFeatures(layers, kernel=kind, n_components=n_components, random_state=seed,
                             **params).fit_transform(X)
    assert Z.shape == (len(X), n_components)
    return Z @ Z.T


def test_default_draws_cover_the_layer_space():
    fc, images = FC_NETS[:N_DEFAULT], IMAGE_NETS[:N_DEFAULT]
    acts = {layer.activation.name for net in fc for layer in net
            if isinstance(layer, Nonlinearity)}
    assert acts == set(FC_ACTIVATIONS)
    assert {sum(isinstance(layer, Nonlinearity) for layer in net) for net in fc} == {1, 2}
    assert {layer.filter_size for net in images for layer in net
            if isinstance(layer, Conv)} == {1, 3, 5}
    assert {any(isinstance(layer, AvgPool) for layer in net) for net in images} == {True, False}
    assert {sum(isinstance(layer, Conv) for layer in net) for net in images} == {1, 2}
    assert {isinstance(net[-2], Nonlinearity) for net in images} == {True, False}
    assert any(isinstance(layer.activation, LeakyReLU) for net in fc for layer in net
               if isinstance(layer, Nonlinearity))


# =============================================================================================
# Random compositions against the exact kernel
# =============================================================================================
# For s independent seeds, the error of the mean Gram matrix over the mean per-seed error is
# 1/sqrt(s) for an unbiased sketch (0.35 for 8 seeds) and tends to 1 under a bias; we require
# <= 0.6 for the centred error (or an error of the mean within TRUNCATION). The projection of
# each seed's centred Gram matrix on the exact one, <H G H, H K H> / |H K H|^2 - 1, has more
# power against a scale error: its mean must be within 4 standard errors (plus the
# truncation). The raw error of images is mostly one number per seed, the scale of the common
# mode: for a one-dimensional error the ratio exceeds 0.6 in 18% of unbiased 8-seed draws, so
# the raw error's projection on K gets the same 4-standard-error test, and the ratio test
# applies to what is left of it.
UNBIASED_SEEDS, UNBIASED_COMPONENTS = 8, 512
_GRAMS = {}


def _cached_gram(case_id, kind, n_components, seed, internal_components="auto"):
    key = (case_id, kind, n_components, seed, internal_components)
    if key not in _GRAMS:
        layers, data = CASES[case_id]
        _GRAMS[key] = _gram(layers, _inputs(data), kind, n_components, seed,
                            internal_components=internal_components)
    return _GRAMS[key]


@pytest.mark.parametrize(("case_id", "kind"), _params(known_biased=_KNOWN_BIASED))
def test_unbiased_over_seeds(case_id, kind):
    """Power: sketching the same network with the readout's weight_std 2% too large (a 4%
    kernel scale) fails this test for fc0, fc1, img1-random and img3-random, both kinds."""
    K = _exact(case_id, kind)
    grams = [_cached_gram(case_id, kind, UNBIASED_COMPONENTS, s) for s in range(UNBIASED_SEEDS)]
    raw_scale, raw_se = _scale_errors(grams, K)
    rest = [G - (1 + a) * K for G, a in zip(grams, raw_scale, strict=True)]
    per_raw = float(np.mean([np.linalg.norm(R) for R in rest])) / np.linalg.norm(K)
    of_mean_raw = np.linalg.norm(np.mean(rest, axis=0)) / np.linalg.norm(K)
    per_cen, of_mean_cen, _ = seed_mean_ratio(grams, K)
    scale, se = _scale_errors([centre(G) for G in grams], centre(K))
    report = dict(raw_scale=(raw_scale.mean(), raw_se), raw_rest=(per_raw, of_mean_raw),
                  centred=(per_cen, of_mean_cen), scale=(scale.mean(), se))
    assert abs(raw_scale.mean()) <= 4 * raw_se + TRUNCATION[0], report
    assert of_mean_raw <= max(0.6 * per_raw, TRUNCATION[0]), report
    assert of_mean_cen <= max(0.6 * per_cen, TRUNCATION[1]), report
    assert abs(scale.mean()) <= 4 * se + TRUNCATION[1], report


def _scale_errors(grams, K):
    """Per seed ``<G, K> / |K|^2 - 1`` (the error along ``K``), and its standard error."""
    scale = np.array([np.sum(G * K) for G in grams]) / np.sum(K * K) - 1
    return scale, scale.std(ddof=1) / np.sqrt(len(grams))


def _mean_errors(case_id, kind, n_components, seeds=(0, 1)):
    """Mean ``(raw, centred)`` errors over ``seeds``. Image networks get
    ``internal_components = n_components // 8``: with "auto" (``max(128, n_components // 16)``)
    the per-pixel width only doubles from 512 to 4096 columns, and the error of the inner
    layers falls by about 0.7 only."""
    layers, data = CASES[case_id]
    internal = "auto" if data == "rows" else n_components // 8
    K = _exact(case_id, kind)
    return np.mean([errors(_cached_gram(case_id, kind, n_components, s, internal), K)
                    for s in seeds], axis=0)


@pytest.mark.parametrize(("case_id", "kind"), _params())
def test_error_falls_with_n_components(case_id, kind):
    """8x the columns: ideally 1/sqrt(8) = 0.35 of the error; we require < 0.7 (or an error
    within TRUNCATION). Raw and centred for rows; centred only for images, whose raw error is
    a random overall scale of the common mode, heavy-tailed over seeds (img2-digits, NTK, raw
    errors of seeds 0-5: .004-.051 at 512 columns, .0006-.007 at 4096, .0025-.0073 at 16384:
    two seeds cannot rank 512 against 4096)."""
    layers, data = CASES[case_id]
    small = _mean_errors(case_id, kind, 512)
    big = _mean_errors(case_id, kind, 4096)
    scores = (0, 1) if data == "rows" else (1,)
    for i in scores:
        assert big[i] < 0.7 * small[i] or big[i] <= TRUNCATION[i], (small, big)


@pytest.mark.parametrize(("case_id", "kind"), _params())
def test_beats_trivial_baselines(case_id, kind):
    """At 4096 columns, raw and 1.5x centred errors below the baselines built from the exact
    kernel. Raw only for rows: the kernel of pooled images is nearly constant plus diagonal
    (rank-1 raw errors 0.0005-0.008), and the sketch's raw error there is a random overall
    scale of the common mode; the centred score carries the test for images."""
    layers, data = CASES[case_id]
    raw, cen = _mean_errors(case_id, kind, 4096)
    X = _inputs(data) if data == "rows" else None
    assert_beats_baselines(raw, cen, _exact(case_id, kind), X,
                           raw_margin=1.0 if data == "rows" else 0.0)


def test_out_of_sample_rows_as_accurate_as_training_rows():
    """``transform`` of new inputs: the cross Gram ``Z(Y) Z(X)^T`` approximates
    ``kernel(Y, X)`` as well as the training Gram approximates ``kernel(X)`` (the fit-time
    planning only sizes the steps; errors averaged over seeds 0-2, within 1.5x)."""
    for case_id in ("fc2", "img1-random"):
        layers, data = CASES[case_id]
        if data == "rows":
            X, Y = _rows(N_ROWS), np.random.RandomState(7).randn(15, 7) + 0.5
        else:
            X, Y = _images(data, N_IMAGES), np.random.RandomState(7).randn(8, 6, 6, 2)
        K_train = kernel(X, layers=layers)
        K_cross = kernel(Y, X, layers=layers)
        train, cross = [], []
        for seed in range(3):
            est = NeuralKernelFeatures(layers, n_components=2048, random_state=seed).fit(X)
            Zx, Zy = est.transform(X), est.transform(Y)
            train.append(raw_error(Zx @ Zx.T, K_train))
            cross.append(np.linalg.norm(Zy @ Zx.T - K_cross) / np.linalg.norm(K_cross))
        assert np.mean(cross) <= 1.5 * np.mean(train), (case_id, train, cross)


# =============================================================================================
# Same accuracy as the fully connected sketches
# =============================================================================================
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [1, 2])
def test_fully_connected_as_accurate_as_hermite_sketch(depth, kind):
    """``fully_connected(depth, "gelu", 1.0, 0.5)`` is what NTKSketch / NNGPSketch with
    ``method="hermite"`` sketch (the same layer-wise Hermite steps): at the same width their
    mean errors over seeds 0-3 agree within 1.5x, raw and centred."""
    X = _rows(40)
    layers = fully_connected(depth, "gelu", 1.0, 0.5)
    K = kernel(X, layers=layers, kind=kind)
    cls = NTKSketch if kind == "ntk" else NNGPSketch
    ours, ref = [], []
    for seed in range(4):
        ours.append(errors(_gram(layers, X, kind, 1024, seed), K))
        Z = cls(1024, depth=depth, activation="gelu", bias_std=0.5, method="hermite",
                random_state=seed).fit_transform(X)
        ref.append(errors(Z, K))
    ours, ref = np.mean(ours, axis=0), np.mean(ref, axis=0)
    assert np.all(ours <= 1.5 * ref) and np.all(ref <= 1.5 * ours), (ours, ref)


# =============================================================================================
# pixel_variances
# =============================================================================================
def _shift_matrix(h, w, dh, dw):
    """``S`` with ``(S v)[p] = v[p + (dh, dw)]``, zero where that pixel is outside."""
    S = np.zeros((h * w, h * w))
    for i in range(h):
        for j in range(w):
            if 0 <= i + dh < h and 0 <= j + dw < w:
                S[i * w + j, (i + dh) * w + j + dw] = 1.0
    return S


def _pool_matrix(h, w):
    """2x2 average pooling, stride 2 (odd trailing rows and columns dropped)."""
    A = np.zeros(((h // 2) * (w // 2), h * w))
    for i in range(h // 2):
        for j in range(w // 2):
            for a in range(2):
                for b in range(2):
                    A[i * (w // 2) + j, (2 * i + a) * w + 2 * j + b] = 0.25
    return A


def _explicit_self_nngp(X, layers):
    """Each image's full pixel-pair NNGP matrix pushed through ``layers`` with matrices:
    Conv ``q <- W^2 / f^2 sum_delta S_delta q S_delta^T + b^2``, AvgPool ``A q A^T``, GAP the
    mean of all entries, Dense ``W^2 q + b^2``, activations by their dual kernel on every
    pixel pair. Returns the per-pixel variances entering each activation and the final
    ``k(x, x)``."""
    n, h, w, c = X.shape
    x = X.reshape(n, h * w, c)
    q = np.einsum("npc,nqc->npq", x, x) / c
    variances = []
    for layer in layers:
        if isinstance(layer, Conv):
            r = layer.filter_size // 2
            shifts = [_shift_matrix(h, w, dh, dw)
                      for dh in range(-r, r + 1) for dw in range(-r, r + 1)]
            q = sum(S @ q @ S.T for S in shifts) * layer.weight_std**2 / len(shifts)
            q = q + layer.bias_std**2
        elif isinstance(layer, Dense):
            q = layer.weight_std**2 * q + layer.bias_std**2
        elif isinstance(layer, AvgPool):
            A = _pool_matrix(h, w)
            q = A @ q @ A.T
            h, w = h // 2, w // 2
        elif isinstance(layer, GlobalAvgPool):
            q = q.mean(axis=(1, 2)).reshape(n, 1, 1)
            h = w = 1
        else:
            d = np.einsum("npp->np", q).copy()
            variances.append(d.reshape(n, h, w))
            act = get_activation(layer.activation)
            q = np.asarray(act.duals(d[:, :, None], d[:, None, :], q.copy(), False)[0])
    return variances, q.reshape(n)


POOLED_NET = [Conv(3), Nonlinearity("relu"), AvgPool(), Conv(3, 1.0, 0.2), Nonlinearity("erf"),
              GlobalAvgPool(), Dense(1.2, 0.3), Nonlinearity("gelu"), Dense()]


@pytest.mark.parametrize("data", ["random", "digits"])
def test_pixel_variances_equal_the_exact_self_kernel(data):
    X = np.random.RandomState(3).randn(5, 6, 6, 2) if data == "random" else _images(data, 5)
    expected, final = _explicit_self_nngp(X, POOLED_NET)
    # the explicit recursion is itself the exact kernel's diagonal
    np.testing.assert_allclose(final, np.diag(kernel(X, layers=POOLED_NET, kind="nngp")),
                               rtol=1e-10)
    got = pixel_variances(X, POOLED_NET)
    assert [v.shape for v in got] == [v.shape for v in expected]
    assert got[0].shape[1:] == X.shape[1:3] and got[1].shape[1:] == (X.shape[1] // 2,) * 2
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    # after the global pooling: the NNGP diagonal of the network cut before the activation
    cut = kernel(X, layers=POOLED_NET[:7], kind="nngp")
    np.testing.assert_allclose(got[2][:, 0, 0], np.diag(cut), rtol=1e-10)
    # flattened images with image_shape
    flat = pixel_variances(X.reshape(len(X), -1), POOLED_NET, image_shape=X.shape[1:])
    for a, b in zip(flat, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_pixel_variances_of_rows():
    X = _rows(6)
    layers = FC_NETS[0]  # Dense, LeakyReLU, Dense, GeLU, Dense
    got = pixel_variances(X, layers)
    cuts = [i for i, layer in enumerate(layers) if isinstance(layer, Nonlinearity)]
    assert len(got) == len(cuts)
    for v, i in zip(got, cuts, strict=True):
        assert v.shape == (len(X), 1, 1)
        np.testing.assert_allclose(v[:, 0, 0], np.diag(kernel(X, layers=layers[:i], kind="nngp")),
                                   rtol=1e-10)


# =============================================================================================
# scikit-learn conventions
# =============================================================================================
@parametrize_with_checks([NeuralKernelFeatures([Dense(), Nonlinearity("relu"), Dense()],
                                               n_components=64, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _regression(n=120):
    rng = np.random.RandomState(4)
    X = rng.randn(n, 5)
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.05 * rng.randn(n)
    return X, y


def test_clone_and_grid_search_in_pipeline():
    X, y = _regression()
    small, deep = fully_connected(1, "relu"), fully_connected(2, "erf", 1.2, 0.1)
    est = NeuralKernelFeatures(small, n_components=64, random_state=0)
    copy = clone(est)
    assert copy.get_params()["layers"] == small and copy is not est
    pipe = Pipeline([("features", est), ("ridge", Ridge(alpha=1e-2))])
    grid = GridSearchCV(pipe, {"features__n_components": [32, 256],
                               "features__layers": [small, deep]}, cv=3).fit(X, y)
    assert grid.best_params_["features__n_components"] in (32, 256)
    assert grid.best_params_["features__layers"] in (small, deep)
    assert len(grid.cv_results_["params"]) == 4
    features = grid.best_estimator_.named_steps["features"]
    assert features.transform(X[:3]).shape == (3, grid.best_params_["features__n_components"])
    # the nonlinear features help on this nonlinear target
    linear = GridSearchCV(Ridge(), {"alpha": [1e-2, 1.0]}, cv=3).fit(X, y)
    assert grid.best_score_ > linear.best_score_ + 0.1, (grid.best_score_, linear.best_score_)


@pytest.mark.parametrize("case_id", ["fc0", "img2-digits"])
def test_pickle_roundtrip_and_determinism(case_id):
    layers, data = CASES[case_id]
    X = _inputs(data)[:6]
    est = NeuralKernelFeatures(layers, n_components=128, random_state=0).fit(X)
    Z = est.transform(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), Z)
    again = NeuralKernelFeatures(layers, n_components=128, random_state=0).fit_transform(X)
    np.testing.assert_array_equal(again, Z)
    other = NeuralKernelFeatures(layers, n_components=128, random_state=1).fit_transform(X)
    assert not np.allclose(other, Z)


def test_flattened_images_equal_4d_images():
    layers, data = CASES["img1-random"]
    X = _inputs(data)[:5]
    Z = NeuralKernelFeatures(layers, n_components=256, random_state=0).fit_transform(X)
    est = NeuralKernelFeatures(layers, n_components=256, image_shape=X.shape[1:],
                               random_state=0).fit(X.reshape(len(X), -1))
    np.testing.assert_allclose(est.transform(X.reshape(len(X), -1)), Z, rtol=1e-12)
    np.testing.assert_allclose(est.transform(X), Z, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_rows_equal_dense_rows(fmt, kind):
    X = _rows(20)
    X[np.abs(X) < 0.6] = 0.0  # about a third zeros
    layers = FC_NETS[0]
    dense = NeuralKernelFeatures(layers, kernel=kind, n_components=256,
                                 random_state=0).fit_transform(X)
    est = NeuralKernelFeatures(layers, kernel=kind, n_components=256, random_state=0)
    Z = est.fit_transform(sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X))
    assert isinstance(Z, np.ndarray)
    np.testing.assert_allclose(Z, dense, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.transform(X), dense, rtol=1e-10, atol=1e-12)


def test_sparse_images_rejected():
    layers, _ = CASES["img1-random"]
    X = sp.csr_matrix(np.random.RandomState(0).randn(4, 72))
    with pytest.raises((TypeError, ValueError), match="(?i)sparse"):
        NeuralKernelFeatures(layers, image_shape=(6, 6, 2)).fit(X)


@pytest.mark.parametrize("case_id", ["fc1", "img3-random"])
def test_float32_in_float32_out(case_id):
    layers, data = CASES[case_id]
    X = _inputs(data)[:6]
    est = NeuralKernelFeatures(layers, n_components=256, random_state=0).fit(X)
    Z64 = est.transform(X)
    Z32 = est.transform(X.astype(np.float32))
    assert Z64.dtype == np.float64 and Z32.dtype == np.float32
    np.testing.assert_allclose(Z32, Z64, rtol=1e-3, atol=1e-4 * np.abs(Z64).max())
    Z = NeuralKernelFeatures(layers, n_components=256, random_state=0).fit_transform(
        X.astype(np.float32))
    assert Z.dtype == np.float32


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case_id", ["fc0", "fc1", "img0-digits", "img1-random"])
def test_tiny_n_components(case_id, kind):
    layers, data = CASES[case_id]
    X = _inputs(data)[:4]
    for m in (1, 5):
        Z = NeuralKernelFeatures(layers, kernel=kind, n_components=m,
                                 random_state=0).fit_transform(X)
        assert Z.shape == (4, m) and np.all(np.isfinite(Z))


@pytest.mark.parametrize("kind", KINDS)
def test_more_components_than_a_linear_network_has(kind):
    """A network without activations has exact, narrow features (the inputs, windows and bias
    columns): asked for more, the output has exactly ``n_components`` columns and its Gram
    matrix is the exact kernel."""
    rows = _rows(6)
    layers = [Dense(1.3, 0.2), Dense(0.9, 0.4)]
    Z = NeuralKernelFeatures(layers, kernel=kind, n_components=50,
                             random_state=0).fit_transform(rows)
    assert Z.shape == (6, 50)
    np.testing.assert_allclose(Z @ Z.T, kernel(rows, layers=layers, kind=kind), rtol=1e-10)
    images = np.random.RandomState(5).randn(4, 5, 5, 2)
    layers = [Conv(3, 1.1, 0.2), AvgPool(), GlobalAvgPool(), Dense(0.9, 0.1)]
    Z = NeuralKernelFeatures(layers, kernel=kind, n_components=100,
                             random_state=0).fit_transform(images)
    assert Z.shape == (4, 100)
    np.testing.assert_allclose(Z @ Z.T, kernel(images, layers=layers, kind=kind), rtol=1e-10)


# =============================================================================================
# Errors
# =============================================================================================
def test_layers_must_be_a_list_of_layer_instances():
    X = _rows(4)
    with pytest.raises(TypeError, match="layers"):
        NeuralKernelFeatures(Dense()).fit(X)
    with pytest.raises(TypeError, match="layers"):
        NeuralKernelFeatures("relu").fit(X)
    with pytest.raises(TypeError, match=r"layers\[1\].*not a layer"):
        NeuralKernelFeatures([Dense(), "relu", Dense()]).fit(X)
    with pytest.raises(TypeError, match=r"layers\[0\] is the class Dense.*Dense\(\)"):
        NeuralKernelFeatures([Dense, Nonlinearity("relu"), Dense()]).fit(X)
    with pytest.raises(ValueError, match="at least one layer"):
        NeuralKernelFeatures([]).fit(X)


def test_image_network_structure_is_checked():
    X = np.random.RandomState(0).randn(3, 6, 6, 2)
    with pytest.raises(ValueError, match="GlobalAvgPool"):
        NeuralKernelFeatures([Conv(3), Nonlinearity("relu"), Dense()]).fit(X)
    with pytest.raises(ValueError, match="GlobalAvgPool"):
        NeuralKernelFeatures([Conv(3), GlobalAvgPool(), Dense(), GlobalAvgPool(),
                              Dense()]).fit(X)
    with pytest.raises(ValueError, match="before the GlobalAvgPool"):
        NeuralKernelFeatures([Conv(3), GlobalAvgPool(), Conv(1), Dense()]).fit(X)


def test_wrong_image_shapes_raise():
    layers, data = CASES["img1-random"]
    X = _inputs(data)[:4]  # 6x6x2
    est = NeuralKernelFeatures(layers, n_components=64, random_state=0).fit(X)
    with pytest.raises(ValueError, match="shape"):
        est.transform(np.zeros((2, 5, 6, 2)))
    with pytest.raises(ValueError, match="shape"):
        est.transform(np.zeros((2, 6, 6, 3)))
    with pytest.raises(ValueError):
        est.transform(np.zeros((2, 50)))
    with pytest.raises(ValueError):
        est.transform(np.zeros((2, 6, 6)))
    with pytest.raises(ValueError, match="image_shape"):
        NeuralKernelFeatures(layers, image_shape=(5, 5, 2)).fit(X.reshape(4, -1))
    with pytest.raises(ValueError, match="image_shape"):
        NeuralKernelFeatures(layers, image_shape=(6, 6, 3)).fit(X)


@pytest.mark.parametrize("params", [dict(kernel="foo"), dict(degree=0), dict(n_components=0),
                                    dict(internal_components="big")])
def test_invalid_parameters_raise_at_fit(params):
    est = NeuralKernelFeatures([Dense(), Nonlinearity("relu"), Dense()], **params)
    with pytest.raises(InvalidParameterError):
        est.fit(_rows(4))


# =============================================================================================
# The Monte-Carlo strategy of the activation steps
# =============================================================================================
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case_id", ["fc0", "fc1", "img1-random"])
def test_monte_carlo_strategy_is_unbiased_and_converges(case_id, kind):
    """``strategy="monte_carlo"``: no Hermite truncation, so the mean over seeds converges to
    the exact kernel (ratio <= 0.6 for 8 seeds, where 0.35 is unbiased), and the error falls
    with ``n_components`` (1/sqrt(8) = 0.35 from 512 to 4096; required < 0.7)."""
    layers, data = CASES[case_id]
    X, K = _inputs(data), _exact(case_id, kind)
    grams = [_gram(layers, X, kind, 512, s, strategy="monte_carlo") for s in range(8)]
    per_seed, of_mean, ratio = seed_mean_ratio(grams, K)
    assert ratio <= 0.6, (per_seed, of_mean)
    params = dict(strategy="monte_carlo")
    if data != "rows":
        params["internal_components"] = 64
    small = np.mean([raw_error(_gram(layers, X, kind, 512, s, **params), K) for s in (0, 1)])
    if data != "rows":
        params["internal_components"] = 512
    large = np.mean([raw_error(_gram(layers, X, kind, 4096, s, **params), K) for s in (0, 1)])
    assert large < 0.7 * small, (small, large)


def test_monte_carlo_strategy_handles_unnormalized_sin():
    """``sin`` of inputs of norm ~10: its Hermite series converges slowly at that scale; the
    Monte-Carlo strategy, which has no truncation, is unbiased there (ratio near 0.5 for 4
    seeds)."""
    X = _rows(N_ROWS) * 3.0
    layers = [Dense(1.0, 0.5), Nonlinearity("sin"), Dense()]
    K = kernel(X, layers=layers, kind="nngp")
    grams = [_gram(layers, X, "nngp", 2048, s, strategy="monte_carlo") for s in range(4)]
    _, _, ratio = seed_mean_ratio(grams, K)
    assert ratio <= 0.7


def test_monte_carlo_strategy_errors():
    X = _rows(10)
    with pytest.raises(ValueError, match="pointwise"):
        NeuralKernelFeatures([Dense(), Nonlinearity("normalized_gaussian"), Dense()],
                             strategy="monte_carlo").fit(X)
    with pytest.raises(ValueError, match="Monte-Carlo"):
        NeuralKernelFeatures([Dense(), Nonlinearity("relu"), Dense()], method="taylor",
                             strategy="monte_carlo").fit(X)
    with pytest.raises(InvalidParameterError):
        NeuralKernelFeatures([Dense()], strategy="mc").fit(X)
