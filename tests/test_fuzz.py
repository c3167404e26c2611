"""Hostile inputs against every public estimator and function (issue 12).

A parametrized matrix: each input class (extreme scales, non-finite values, complex, empty,
wrong shapes, uint8 images, strings, booleans) meets each public entry point (the feature
maps, the exact kernels, the finite-width network functions and the preprocessors). Every case
must end as a finite result or a ValueError/TypeError whose message says what is wrong; never
NaN, never another exception type.
"""

import numpy as np
import pytest

from skntk import (
    CNTKSketch,
    FiniteWidthNTK,
    NeuralKernelFeatures,
    NNGPSketch,
    NTKRandomFeatures,
    NTKSketch,
    empirical_ntk,
)
from skntk.architectures import Dense, Nonlinearity
from skntk.finite_width import empirical_ntk_features, init_mlp_weights, mlp_apply
from skntk.kernels import cnngp_kernel, cntk_kernel, kernel, nngp_kernel, ntk_kernel
from skntk.preprocessing import ChannelStandardizer, ImageLayerNorm, ZCAWhitening

RNG = np.random.RandomState(0)
BASE = RNG.rand(12, 16)  # 12 rows, also 12 images of 4x4x1


def _scaled_row(factor):
    X = BASE.copy()
    X[3] *= factor
    return X


def _single(value):
    X = BASE.copy()
    X[2, 5] = value
    return X


INPUTS = {
    "x1e160": BASE * 1e160,
    "x1e-160": BASE * 1e-160,
    "x1e-300": BASE * 1e-300,
    "row1e200": _scaled_row(1e200),
    "entry1e308": _single(1e308),
    "column1e6": BASE * np.r_[1e6, np.ones(15)],
    "nan": _single(np.nan),
    "inf": _single(np.inf),
    "complex": BASE + 1j,
    "empty": np.zeros((0, 16)),
    "zero_rows": np.zeros((12, 16)),
    "uint8": (BASE * 255).astype(np.uint8),
    "bool": BASE > 0.5,
    "strings": BASE.astype(str),
    "one_d": BASE[0],
    "three_d": BASE.reshape(12, 4, 4),
}

_FC = [Dense(1.0, 0.1), Nonlinearity("gelu"), Dense()]
_WEIGHTS = init_mlp_weights(16, [8, 8], random_state=0)

ENTRY_POINTS = {
    "NTKSketch": lambda X: NTKSketch(64, depth=2, random_state=0).fit_transform(X),
    "NTKSketch-gelu-bias": lambda X: NTKSketch(64, depth=2, activation="gelu", bias_std=0.3,
                                               random_state=0).fit_transform(X),
    "NNGPSketch-erf": lambda X: NNGPSketch(64, activation="erf", random_state=0).fit_transform(X),
    "NTKRandomFeatures": lambda X: NTKRandomFeatures(64, depth=2, random_state=0).fit_transform(X),
    "NeuralKernelFeatures": lambda X: NeuralKernelFeatures(_FC, n_components=64,
                                                           random_state=0).fit_transform(X),
    "CNTKSketch": lambda X: CNTKSketch(64, image_shape=(4, 4, 1), internal_components=16,
                                       random_state=0).fit_transform(X),
    "ntk_kernel": lambda X: ntk_kernel(X, depth=2),
    "nngp_kernel-gelu": lambda X: nngp_kernel(X, activation="gelu"),
    "kernel-layers": lambda X: kernel(X, layers=_FC),
    "cntk_kernel": lambda X: cntk_kernel(X, image_shape=(4, 4, 1)),
    "cnngp_kernel-erf": lambda X: cnngp_kernel(X, image_shape=(4, 4, 1), activation="erf"),
    "empirical_ntk": lambda X: empirical_ntk(X, weights=_WEIGHTS),
    "mlp_apply": lambda X: mlp_apply(X, weights=_WEIGHTS),
    "empirical_ntk_features": lambda X: empirical_ntk_features(X, weights=_WEIGHTS),
    "FiniteWidthNTK": lambda X: FiniteWidthNTK(widths=(8,), random_state=0).fit_transform(X),
    "ZCAWhitening": lambda X: ZCAWhitening().fit_transform(_images(X)),
    "ImageLayerNorm": lambda X: ImageLayerNorm().fit_transform(_images(X)),
    "ChannelStandardizer": lambda X: ChannelStandardizer().fit_transform(_images(X)),
}


def _images(X):
    X = np.asarray(X)
    return X.reshape(X.shape[0], 4, 4, -1) if X.ndim == 2 and X.shape[1] == 16 else X


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("case", list(INPUTS))
def test_hostile_input_gives_a_finite_result_or_a_clear_error(entry, case):
    X = INPUTS[case]
    try:
        out = ENTRY_POINTS[entry](X)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert len(message) > 20, message  # says something, not just a value
        return
    out = np.asarray(out)
    assert np.issubdtype(out.dtype, np.floating), out.dtype
    assert np.all(np.isfinite(out)), f"{entry} on {case}: non-finite output"
