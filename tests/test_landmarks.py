"""The exact landmark (Nystroem) part of the feature maps (``n_landmarks``).

Checked through the estimators, against the exact kernels:

- on the landmark rows themselves the features' Gram matrix is the exact kernel (the sketch's
  part cancels exactly there): a closed form that any wrong weight or correction breaks;
- on rows that were not in the training set the features stay unbiased (the mean of several
  seeds' Gram matrices shrinks like ``1/sqrt(s)`` on the centred kernel) and beat the sketch
  alone on digits;
- ``"auto"`` keeps landmarks where they take most of the centred trace off the sketch
  (digits) and drops them where they do not (Gaussian rows), and its counts.
"""

import numpy as np
import pytest
from _scoring import centred_error, raw_error, seed_mean_ratio
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError

from skntk import CNTKSketch, NeuralKernelFeatures, NNGPSketch, NTKRandomFeatures, NTKSketch
from skntk.architectures import Conv, Dense, GlobalAvgPool, Nonlinearity
from skntk.kernels import cntk_kernel, kernel, nngp_kernel, ntk_kernel
from skntk.landmarks import LandmarkPart

_DIGITS = load_digits().data / 16.0
_TRAIN, _HELD_OUT = _DIGITS[:400], _DIGITS[1000:1250]
_IMAGES = _DIGITS.reshape(-1, 8, 8, 1)

# name: (estimator with the given n_landmarks and seed, exact kernel of rows or images, images?)
_NET = [Dense(1.0, 0.2), Nonlinearity("erf"), Dense(1.3), Nonlinearity("relu"), Dense()]
_CONV_NET = [Conv(3, 1.0, 0.1), Nonlinearity("gelu"), GlobalAvgPool(), Dense()]
CASES = {
    "ntk-taylor": (lambda k, s: NTKSketch(1024, depth=2, n_landmarks=k, random_state=s),
                   lambda X, Y=None: ntk_kernel(X, Y, depth=2), False),
    "ntk-hermite-bias": (
        lambda k, s: NTKSketch(1024, depth=2, bias_std=0.5, n_landmarks=k, random_state=s),
        lambda X, Y=None: ntk_kernel(X, Y, depth=2, bias_std=0.5), False),
    "nngp-gelu": (
        lambda k, s: NNGPSketch(1024, depth=2, activation="gelu", bias_std=0.3, n_landmarks=k,
                                random_state=s),
        lambda X, Y=None: nngp_kernel(X, Y, depth=2, activation="gelu", bias_std=0.3), False),
    "random-features": (
        lambda k, s: NTKRandomFeatures(1024, depth=2, bias_std=0.5, n_landmarks=k,
                                       random_state=s),
        lambda X, Y=None: ntk_kernel(X, Y, depth=2, bias_std=0.5), False),
    "composed": (lambda k, s: NeuralKernelFeatures(_NET, n_components=1024, n_landmarks=k,
                                                   random_state=s),
                 lambda X, Y=None: kernel(X, Y, layers=_NET), False),
    "cntk-myrtle": (
        lambda k, s: CNTKSketch(1024, architecture="myrtle", depth=5, n_landmarks=k,
                                random_state=s),
        lambda X, Y=None: cntk_kernel(X, Y, architecture="myrtle", depth=5), True),
    "composed-conv": (
        lambda k, s: NeuralKernelFeatures(_CONV_NET, kernel="nngp", n_components=1024,
                                          n_landmarks=k, random_state=s),
        lambda X, Y=None: kernel(X, Y, layers=_CONV_NET, kind="nngp"), True),
}


def _inputs(rows, images):
    return rows.reshape(-1, 8, 8, 1) if images else rows


@pytest.mark.parametrize("case", list(CASES))
def test_landmark_rows_get_their_exact_kernel(case):
    make, exact, images = CASES[case]
    est = make(12, 0).fit(_inputs(_TRAIN[:120], images))
    part = est.landmarks_
    assert isinstance(part, LandmarkPart) and part.landmarks.shape[0] == 12
    V = _inputs(part.landmarks, images)
    # the landmarks are training rows (homogeneous networks keep them at unit scale: the
    # same power of two times each)
    train = _TRAIN[:120] / _TRAIN[:120].max()
    scale = np.exp2(np.round(np.log2(part.landmarks.max())))
    assert all(np.any(np.all(train == v / scale, axis=1)) for v in part.landmarks)
    Z = est.transform(V)
    assert Z.shape == (12, 1024)
    K = exact(V)
    np.testing.assert_allclose(Z @ Z.T, K, rtol=1e-7, atol=1e-7 * np.abs(K).max())
    # the exact columns come first, and hold all of it: the sketch's part vanishes there
    r = part.n_exact
    assert r == 12
    np.testing.assert_allclose(Z[:, r:], 0.0, atol=1e-6 * np.abs(Z).max())


@pytest.mark.parametrize("case", ["ntk-hermite-bias", "random-features", "ntk-taylor"])
def test_landmarks_unbiased_and_better_on_new_rows(case):
    """Fitted on some digits, scored on others: the mean of 4 seeds' Gram matrices has
    ``1/sqrt(4) = 0.5`` of the per-seed centred error when unbiased, and the landmarks cut
    the centred error of the sketch alone (measured ratios .55-.65 at 1024 columns)."""
    make, exact, _ = CASES[case]
    K = exact(_HELD_OUT)
    grams, without = [], []
    for seed in range(4):
        est = make(64, seed).fit(_TRAIN)
        assert est.landmarks_.n_exact == 64
        Z = est.transform(_HELD_OUT)
        grams.append(Z @ Z.T)
        Z0 = make(0, seed).fit(_TRAIN).transform(_HELD_OUT)
        without.append(centred_error(Z0 @ Z0.T, K))
    per_seed = np.mean([centred_error(G, K) for G in grams])
    assert seed_mean_ratio(grams, K)[2] < 0.65
    assert per_seed < 0.8 * np.mean(without)
    assert np.mean([raw_error(G, K) for G in grams]) < 0.05


def test_auto_keeps_landmarks_only_where_they_pay():
    # digits: 50 landmarks (one per 8 rows) leave about half the centred trace to the sketch
    est = NTKSketch(2048, depth=2, bias_std=0.5, random_state=0).fit(_TRAIN)
    assert est.landmarks_ is not None and est.landmarks_.landmarks.shape[0] == 50
    # Gaussian rows: the spectrum is flat, 64 landmarks take a few percent of it
    X = np.random.RandomState(0).standard_normal((600, 300))
    est = NTKSketch(2048, depth=2, bias_std=0.5, random_state=0).fit(X)
    assert est.landmarks_ is None
    assert est.transform(X[:5]).shape == (5, 2048)
    # asked for explicitly, they are used anyway
    est = NTKSketch(2048, depth=2, bias_std=0.5, n_landmarks=16, random_state=0).fit(X)
    assert est.landmarks_.n_exact == 16
    # off
    assert NTKSketch(2048, n_landmarks=0, random_state=0).fit(_TRAIN).landmarks_ is None


def test_auto_landmark_counts():
    # at most one per 8 training rows and n_components / 16
    assert NTKSketch(2048, random_state=0).fit(_TRAIN[:200]).landmarks_.landmarks.shape[0] == 25
    assert NTKSketch(512, random_state=0).fit(_TRAIN).landmarks_.landmarks.shape[0] == 32
    # images: 1024 / pixels, none from 32x32 on (their exact kernel costs too much)
    est = CNTKSketch(1024, random_state=0).fit(_IMAGES[:200])
    assert est.landmarks_.landmarks.shape[0] == 16
    big = np.random.RandomState(0).uniform(size=(20, 32, 32, 1))
    assert CNTKSketch(256, random_state=0).fit(big).landmarks_ is None


def test_landmark_parameter_checks():
    with pytest.raises(InvalidParameterError, match="n_landmarks"):
        NTKSketch(256, n_landmarks=-1).fit(_TRAIN)
    with pytest.raises(InvalidParameterError, match="n_landmarks"):
        NTKSketch(256, n_landmarks=2.5).fit(_TRAIN)
    with pytest.raises(ValueError, match="smaller than n_components"):
        NTKSketch(256, n_landmarks=256).fit(_TRAIN)
    with pytest.warns(UserWarning, match="n_samples=20"):
        est = NTKSketch(256, n_landmarks=50, random_state=0).fit(_TRAIN[:20])
    assert est.landmarks_.landmarks.shape[0] == 20


def test_landmarks_with_sparse_and_float32_rows():
    import scipy.sparse as sp

    X = sp.csr_matrix(_TRAIN[:200])
    est = NTKSketch(1024, depth=2, bias_std=0.5, n_landmarks=16, random_state=0).fit(X)
    dense = NTKSketch(1024, depth=2, bias_std=0.5, n_landmarks=16, random_state=0)
    np.testing.assert_allclose(est.transform(X), dense.fit(_TRAIN[:200]).transform(_TRAIN[:200]),
                               rtol=1e-9, atol=1e-9)
    Z32 = dense.transform(_TRAIN[:200].astype(np.float32))
    assert Z32.dtype == np.float32
    K = ntk_kernel(_TRAIN[:200], depth=2, bias_std=0.5)
    Z = Z32.astype(np.float64)
    assert centred_error(Z @ Z.T, K) < 1.02 * centred_error(
        dense.transform(_TRAIN[:200]) @ dense.transform(_TRAIN[:200]).T, K) + 1e-4


def test_landmarks_in_other_namespaces_and_dask():
    """The exact part runs where the data is: array-API arrays stay in their namespace, and
    dask blocks give the NumPy features."""
    xps = pytest.importorskip("array_api_strict")
    da = pytest.importorskip("dask.array")
    est = NTKSketch(512, depth=2, bias_std=0.5, n_landmarks=16, random_state=0).fit(_TRAIN)
    expected = est.transform(_HELD_OUT)
    Z = est.transform(xps.asarray(_HELD_OUT))
    assert isinstance(Z, type(xps.asarray(_HELD_OUT)))
    np.testing.assert_allclose(np.asarray(Z), expected, rtol=1e-8, atol=1e-8)
    lazy = est.transform(da.from_array(_HELD_OUT, chunks=(60, -1)))
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=1e-12)


def test_landmarks_raise_the_hermite_degree_cap():
    """With landmarks the sketch's noise no longer hides the truncation bias of ReLU's
    Hermite series at degree 8: fully connected layers may go to 32, with half the tails
    (ReLU takes 32)."""
    kw = dict(depth=2, bias_std=0.5, random_state=0)
    assert NNGPSketch(1024, **kw).fit(_TRAIN).degree_ == 32
    assert NNGPSketch(1024, n_landmarks=0, **kw).fit(_TRAIN).degree_ == 8
    assert NNGPSketch(1024, activation="gelu", **kw).fit(_TRAIN).degree_ < 8
    # image networks keep 8
    assert CNTKSketch(1024, random_state=0).fit(_IMAGES[:200]).degree_ == 8


def test_verbose_reports_the_exact_kernel(capsys):
    est = NTKSketch(512, n_landmarks=8, verbose=1, random_state=0).fit(_TRAIN)
    est.transform(_HELD_OUT)
    err = capsys.readouterr().err
    assert f"exact kernel of {len(_HELD_OUT)} rows against 8 landmarks" in err
    assert "batch 1/" in err
