"""Validation and numerical range of the exact kernels (``skntk.kernels``), issue 12.

* Parameters follow one set of rules in the four kernel functions and in layer lists; bad
  inputs (complex, empty, malformed ``image_shape``, mismatched DataFrame columns) raise a
  ``ValueError`` or ``TypeError`` that says what to change.
* Scale. A network whose activations are all homogeneous of degree ``k`` and whose biases are
  zero satisfies ``K(c x, c y) = c^(2E) K(x, y)``, ``E = prod k`` (NNGP and NTK alike). The
  kernels at ``c = 1e+-150`` are checked against the reference files in ``tests/data`` times
  that power, and at powers of two (exact rescaling) against the kernel at scale 1. Networks
  of degree-1 activations with biases satisfy ``K(c x, c y; b) = c^2 K(x, y; b / c)``, which
  pairs extreme variances on one side with ordinary ones on the other.
* Values float64 cannot hold raise a ``ValueError`` naming the limit; a kernel that is not
  finite raises one naming the layer where NaN or inf first appeared.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from skntk.activations import Activation, get_activation
from skntk.architectures import Conv, Dense, GlobalAvgPool, Nonlinearity
from skntk.kernels import check_images, cnngp_kernel, cntk_kernel, kernel, nngp_kernel, ntk_kernel

DATA = Path(__file__).parent / "data"
FC_FNS = (nngp_kernel, ntk_kernel)
CONV_FNS = (cnngp_kernel, cntk_kernel)
_X = np.random.RandomState(0).randn(5, 3)
_IMGS = np.random.RandomState(1).randn(3, 4, 4, 2)


def _load(stem):
    with open(DATA / f"{stem}.json") as fh:
        configs = json.load(fh)["configs"]
    with np.load(DATA / f"{stem}.npz") as npz:
        return configs, {k: npz[k] for k in npz.files}


def _assert_entries_close(got, ref, rtol=1e-6, atol_frac=1e-7, what=""):
    """As in test_kernels: each entry within ``rtol`` or ``atol_frac * max|ref|``."""
    assert got.shape == ref.shape
    assert np.all(np.isfinite(got)), what
    err = np.abs(got - ref)
    ok = (err <= rtol * np.abs(ref)) | (err <= atol_frac * np.abs(ref).max())
    assert ok.all(), (what, got[~ok][:3], ref[~ok][:3])


# ----------------------------------------------------------------------------------------------
# Parameters: one set of rules
# ----------------------------------------------------------------------------------------------

# The estimators' rules (skntk._estimator), in scikit-learn's wording, plus the float range of
# the squares the layers take.
_INT = r"'depth' parameter of \w+ must be an int in the range \[1, inf\)"
_W = r"'weight_std' parameter of \w+ must be a float in the range \(0.0, inf\)"
_B = r"'bias_std' parameter of \w+ must be a float in the range \[0.0, inf\)"
PARAM_ERRORS = [
    ({"depth": True}, _INT + ". Got True"),
    ({"depth": np.bool_(True)}, _INT),
    ({"depth": 2.0}, _INT),
    ({"depth": "2"}, _INT),
    ({"depth": 0}, _INT + ". Got 0"),
    ({"weight_std": 0}, _W + ". Got 0"),
    ({"weight_std": -1.0}, _W),
    ({"weight_std": np.nan}, _W),
    ({"weight_std": np.inf}, _W),
    ({"weight_std": "1"}, _W),
    ({"weight_std": True}, _W),
    ({"weight_std": 1e200}, r"weight_std\*\*2 overflows float64; use weight_std < 1.3e\+154"),
    ({"weight_std": 1e-200}, r"weight_std\*\*2 underflows float64; use weight_std >= 1.5e-154"),
    ({"bias_std": -0.1}, _B),
    ({"bias_std": np.nan}, _B),
    ({"bias_std": 1e160}, r"bias_std\*\*2 overflows"),
    ({"bias_std": None}, _B),
]


@pytest.mark.parametrize(("kwargs", "match"), PARAM_ERRORS, ids=lambda v: repr(v)[:30])
def test_fc_and_conv_kernels_share_parameter_rules(kwargs, match):
    for fn in FC_FNS:
        with pytest.raises((ValueError, TypeError), match=match):
            fn(_X, **kwargs)
    for fn in CONV_FNS:
        with pytest.raises((ValueError, TypeError), match=match):
            fn(_IMGS, **kwargs)


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        (Dense(1e200), r"weight_std\*\*2 overflows"),
        (Dense(1e-200), r"weight_std\*\*2 underflows"),
        (Conv(3, 1.0, 1e160), r"bias_std\*\*2 overflows"),
    ],
    ids=repr,
)
def test_layer_lists_follow_the_same_rules(layer, match):
    spatial = isinstance(layer, Conv)
    head = [layer, Nonlinearity("relu")] + ([GlobalAvgPool()] if spatial else [])
    with pytest.raises(ValueError, match=r"layers\[0\] = .*" + match):
        kernel(_IMGS if spatial else _X, layers=head + [Dense()])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filter_size": True}, "'filter_size' parameter of cntk_kernel must be a positive odd"),
        ({"filter_size": 3.0}, "'filter_size' parameter of cntk_kernel must be a positive odd"),
        ({"architecture": 3}, "'architecture' parameter of cntk_kernel must be a str among"),
        ({"architecture": "myrtle", "depth": True}, _INT),
        ({"architecture": "myrtle", "depth": 3}, r"myrtle depth must be one of \[5, 7, 10\]"),
    ],
)
def test_conv_parameter_rules(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cntk_kernel(_IMGS, **kwargs)


def test_kind_and_image_shape_of_layer_lists():
    with pytest.raises((ValueError, TypeError), match="'kind' parameter of kernel must be a str"):
        kernel(_X, layers=[Dense()], kind=1)
    with pytest.raises((ValueError, TypeError), match="image_shape is only for"):
        kernel(_X, layers=[Dense()], image_shape=(1, 1, 3))


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------

_FLAT = _IMGS.reshape(3, -1)


@pytest.mark.parametrize(
    ("image_shape", "exc", "match"),
    [
        ("442", TypeError, "image_shape must be a tuple"),
        ((4.5, 4, 2), TypeError, "4.5 is a float"),
        ((4.0, 4, 2), TypeError, "4.0 is a float"),
        ((True, 4, 2), TypeError, "True is a bool"),
        ((4, 4), ValueError, r"three positive integers, got \(4, 4\)"),
        ((4, 8, 0), ValueError, "three positive integers"),
        ((4, -4, -2), ValueError, "three positive integers"),
        (32, TypeError, "image_shape must be a tuple"),
    ],
)
def test_image_shape_must_be_three_positive_ints(image_shape, exc, match):
    for fn in CONV_FNS:
        with pytest.raises(exc, match=match):
            fn(_FLAT, image_shape=image_shape)
        with pytest.raises(exc, match=match):  # also checked for 4-D images
            fn(_IMGS, image_shape=image_shape)
    with pytest.raises(exc, match=match):
        check_images(_FLAT, image_shape)


def test_image_shape_accepts_lists_and_integer_arrays():
    K = cntk_kernel(_IMGS)
    for shape in ([4, 4, 2], np.array([4, 4, 2]), (np.int64(4), 4, 2)):
        np.testing.assert_array_equal(cntk_kernel(_FLAT, image_shape=shape), K)


@pytest.mark.parametrize(
    "args",
    [
        (_X + 1j,),
        (_X, _X + 0j),
        (sp.csr_matrix(_X + 1j),),
        (np.array((_X + 1j).tolist(), dtype=object),),
    ],
    ids=["dense", "Y", "sparse", "object"],
)
def test_complex_features_are_rejected(args):
    for fn in FC_FNS:
        with pytest.raises(ValueError, match="complex .*real part"):
            fn(*args)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((_IMGS + 1j,), {}),
        ((_IMGS, _IMGS + 0j), {}),
        ((_FLAT + 1j,), {"image_shape": (4, 4, 2)}),
    ],
    ids=["4-D", "Y", "flat"],
)
def test_complex_images_are_rejected_not_truncated(args, kwargs):
    # before: the imaginary part was dropped with a ComplexWarning
    for fn in CONV_FNS:
        with pytest.raises(ValueError, match="complex dtype complex128"):
            fn(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.zeros((0, 4, 4, 2)),), {}, r"X holds no images \(shape \(0, 4, 4, 2\)\)"),
        ((np.zeros((0, 32)),), {"image_shape": (4, 4, 2)}, "X holds no images"),
        ((_IMGS, np.zeros((0, 4, 4, 2))), {}, "Y holds no images"),
        ((np.zeros((3, 4, 0, 2)),), {}, "height, width and channels must be positive"),
    ],
)
def test_empty_images_get_a_clear_message(args, kwargs, match):
    for fn in CONV_FNS:
        with pytest.raises(ValueError, match=match):
            fn(*args, **kwargs)


def test_empty_rows_get_a_clear_message():
    for fn in FC_FNS:
        with pytest.raises(ValueError, match="0 sample"):
            fn(np.zeros((0, 3)))
        with pytest.raises(ValueError, match="0 sample"):
            fn(_X, np.zeros((0, 3)))
        with pytest.raises(ValueError, match="0 feature"):
            fn(np.zeros((3, 0)))


class _Frame:
    """The part of a DataFrame the kernels see: column labels and array conversion."""

    def __init__(self, values, columns):
        self.values = np.asarray(values)
        self.columns = list(columns)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    @property
    def shape(self):
        return self.values.shape

    def __len__(self):
        return len(self.values)


def _frame_type(kind):
    """The stand-in always; pandas when installed (else that case is skipped)."""
    if kind == "stand-in":
        return _Frame
    pd = pytest.importorskip("pandas")
    return lambda values, columns: pd.DataFrame(values, columns=list(columns))


@pytest.mark.parametrize("kind", ["stand-in", "pandas"])
@pytest.mark.parametrize("fn", FC_FNS)
def test_dataframes_with_mismatched_columns_are_rejected(fn, kind):
    frame = _frame_type(kind)
    X, Y = _X, np.random.RandomState(2).randn(4, 3)
    K = fn(frame(X, "abc"), frame(Y, "abc"))
    np.testing.assert_array_equal(K, fn(X, Y))
    # the same columns in another order used to be paired by position, silently
    with pytest.raises(ValueError, match="different order.*Y\\[X.columns\\]"):
        fn(frame(X, "abc"), frame(Y[:, [2, 0, 1]], "cab"))
    with pytest.raises(ValueError, match=r"only in X: \['c'\], only in Y: \['d'\]"):
        fn(frame(X, "abc"), frame(Y, "abd"))
    np.testing.assert_array_equal(fn(frame(X, "abc"), Y), K)  # a plain array: by position


@pytest.mark.parametrize("kind", ["stand-in", "pandas"])
def test_image_dataframes_with_mismatched_columns_are_rejected(kind):
    frame = _frame_type(kind)
    cols = [f"p{i}" for i in range(32)]
    with pytest.raises(ValueError, match="different order"):
        cntk_kernel(frame(_FLAT, cols), frame(_FLAT, cols[::-1]), image_shape=(4, 4, 2))


# ----------------------------------------------------------------------------------------------
# Scale: homogeneous networks without bias are exact at any scale
# ----------------------------------------------------------------------------------------------

FC_CONFIGS, FC_ARRAYS = _load("fc_public")
CONV_DATA = {stem: _load(stem) for stem in ("conv_public", "conv_public_ext")}


def _degree(activation, depth):
    k = activation.homogeneity
    return None if k is None else k**depth


def _homogeneous(config):
    act = get_activation(config["activation"], **config["params"])
    return config["bias_std"] == 0 and act.homogeneity is not None


HOMOGENEOUS_FC = [c for c in FC_CONFIGS if _homogeneous(c)]
HOMOGENEOUS_CONV = [
    (stem, c) for stem, (configs, _) in CONV_DATA.items() for c in configs if _homogeneous(c)
]


@pytest.mark.parametrize("sign", [1, -1], ids=["1e+150", "1e-150"])
@pytest.mark.parametrize("config", HOMOGENEOUS_FC, ids=lambda c: f"{c['key']}-{c['activation']}")
def test_fc_reference_values_at_extreme_scales(config, sign):
    """``K(c x1, c x2) = c^(2E) K_ref(x1, x2)`` with ``c^(2E) = 1e+-300``: ``c = 1e+-150`` for
    degree-1 networks (``c = 10^(+-150/E)`` for the monomial ones, whose power must fit)."""
    act = get_activation(config["activation"], **config["params"])
    E = _degree(act, config["depth"])
    # c^(2E) = 1e+-300, or less where the reference times 1e300 would overflow
    peak = max(np.abs(v).max() for k, v in FC_ARRAYS.items() if k.startswith(config["key"]))
    power = sign * min(300, math.floor(307 - math.log10(peak)))
    c, factor = 10.0 ** (power / (2 * E)), 10.0**power
    kw = dict(depth=config["depth"], activation=act, weight_std=config["weight_std"])
    x1, x2 = c * FC_ARRAYS["x1"], c * FC_ARRAYS["x2"]
    for name, fn in (("nngp", nngp_kernel), ("ntk", ntk_kernel)):
        for tag, args in (("12", (x1, x2)), ("11", (x1,))):
            ref = factor * FC_ARRAYS[f"{config['key']}_{name}{tag}"]
            _assert_entries_close(fn(*args, **kw), ref, what=f"{name}{tag}")


@pytest.mark.parametrize("sign", [1, -1], ids=["1e+150", "1e-150"])
@pytest.mark.parametrize(
    "case", HOMOGENEOUS_CONV, ids=lambda s: f"{s[0][-3:]}-{s[1]['key']}-{s[1]['architecture']}"
)
def test_conv_reference_values_at_extreme_scales(case, sign):
    stem, config = case
    arrays = CONV_DATA[stem][1]
    c = 10.0 ** (sign * 150)  # every homogeneous reference network here has degree 1
    kw = dict(
        architecture=config["architecture"],
        depth=config["depth"],
        activation=get_activation(config["activation"], **config["params"]),
        weight_std=config["weight_std"],
        filter_size=config["filter_size"],
    )
    x1, x2 = c * arrays["x1"], c * arrays["x2"]
    for name, fn in (("nngp", cnngp_kernel), ("ntk", cntk_kernel)):
        ref = c * c * arrays[f"{config['key']}_{name}12"]
        _assert_entries_close(fn(x1, x2, **kw), ref, what=name)


POWER_CASES = [
    ("relu", 1),
    ("relu", 3),
    ("abs", 2),
    (get_activation("leaky_relu", alpha=0.2), 2),
    (get_activation("abrelu", a=-0.3, b=1.2), 1),
    ("normalized_gaussian", 2),
    (get_activation("monomial", degree=2), 2),
    (get_activation("rectified_monomial", degree=2), 1),
]


@pytest.mark.parametrize("exponent", [480, -480])
@pytest.mark.parametrize(("activation", "depth"), POWER_CASES, ids=str)
def test_fc_homogeneity_is_exact_at_powers_of_two(activation, depth, exponent):
    """At ``c = 2^(+-480/E)`` the scaling is exact in floating point: the kernel at scale ``c``
    is the kernel at scale 1 times ``2^(+-960)`` to rounding."""
    act = get_activation(activation)
    E = _degree(act, depth)
    k = exponent // E
    X, Y = _X, np.random.RandomState(3).randn(4, 3)
    for fn in FC_FNS:
        kw = dict(depth=depth, activation=act, weight_std=1.3)
        got = fn(np.ldexp(X, k), np.ldexp(Y, k), **kw)
        want = np.ldexp(fn(X, Y, **kw), 2 * k * E)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=fn.__name__)
        got = fn(np.ldexp(X, k), **kw)
        want = np.ldexp(fn(X, **kw), 2 * k * E)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=fn.__name__)


def test_rows_at_different_scales_scale_separately():
    """``K(a x, b y) = (a b)^E K(x, y)`` per row, zero rows included (they stay exactly 0
    for relu), dense and sparse alike."""
    X = np.random.RandomState(4).randn(6, 3)
    X[0] = 0.0
    k = np.array([0, 400, -400, 0, 250, -700])
    scaled = np.ldexp(X, k[:, None])
    for fn in FC_FNS:
        for E, act in ((1, "relu"), (2, get_activation("monomial", degree=2))):
            if E == 2:
                k2 = k // 2
                scaled2 = np.ldexp(X, k2[:, None])
                want = np.ldexp(fn(X, activation=act), E * (k2[:, None] + k2[None, :]))
                np.testing.assert_allclose(fn(scaled2, activation=act), want, rtol=1e-12, atol=0)
                continue
            K = fn(scaled, depth=2, activation=act)
            want = np.ldexp(fn(X, depth=2, activation=act), k[:, None] + k[None, :])
            np.testing.assert_allclose(K, want, rtol=1e-12, atol=0)
            assert np.all(K[0] == 0) and np.all(K[:, 0] == 0)
            np.testing.assert_allclose(fn(sp.csr_matrix(scaled), depth=2), K, rtol=1e-13, atol=0)
            np.testing.assert_allclose(
                fn(sp.csc_matrix(scaled), scaled[:3], depth=2), K[:, :3], rtol=1e-13, atol=0
            )


@pytest.mark.parametrize("exponent", [600, -600])
def test_degree_zero_networks_ignore_the_scale(exponent):
    """``sign`` is homogeneous of degree 0: its NNGP depends on angles only, at any scale, even
    where ``|x|^2`` itself overflows or underflows. At ``c = 2^(+-600)`` exactly; at
    ``c = 1e+-200`` (rounded inputs) to the conditioning of the depth-1 arccos."""
    c = 2.0**exponent
    for depth in (1, 2):
        K = nngp_kernel(_X, depth=depth, activation="sign")
        np.testing.assert_allclose(
            nngp_kernel(c * _X, depth=depth, activation="sign"), K, rtol=1e-12
        )
    decimal = 10.0 ** (200 * np.sign(exponent))
    np.testing.assert_allclose(
        nngp_kernel(decimal * _X, activation="sign"),
        nngp_kernel(_X, activation="sign"),
        rtol=1e-7,
    )
    imgs = cnngp_kernel(_IMGS, activation="sign")
    np.testing.assert_allclose(cnngp_kernel(c * _IMGS, activation="sign"), imgs, rtol=1e-12)


@pytest.mark.parametrize("exponent", [480, -480])
@pytest.mark.parametrize("architecture,depth", [("gap", 2), ("myrtle", 5)])
def test_conv_homogeneity_is_exact_at_powers_of_two(architecture, depth, exponent):
    imgs = np.random.RandomState(5).randn(3, 8, 8, 2)
    imgs[1] *= 2.0**-100  # images of different scales
    for fn in CONV_FNS:
        kw = dict(architecture=architecture, depth=depth, weight_std=1.2)
        got = fn(np.ldexp(imgs, exponent), **kw)
        np.testing.assert_allclose(got, np.ldexp(fn(imgs, **kw), 2 * exponent), rtol=1e-12)


def test_homogeneous_kernels_in_float32():
    """float32 rows beyond 2^32 are normalized too; the result matches float64 to float32
    accuracy as long as float32 can hold it."""
    X = np.ldexp(_X, 50)
    for fn in FC_FNS:
        got = fn(X.astype(np.float32), depth=2)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, fn(X, depth=2), rtol=2e-5)


# ----------------------------------------------------------------------------------------------
# Scale: degree-1 networks with biases
# ----------------------------------------------------------------------------------------------


class _NaiveReLU(Activation):
    """ReLU with the textbook dual ``(sqrt(q_xx q_yy - q_xy^2) + (pi - t) q_xy) / (2 pi)``:
    ``q_xx q_yy`` overflows above 1e154 and underflows below 1e-154 although the kernel does
    not. Declared homogeneous, so the kernels evaluate it on rescaled variances there."""

    name = "naive_relu"
    homogeneity = 1
    has_closed_form_dual = True

    def value(self, t):
        return np.maximum(np.asarray(t), 0.0)

    def derivative(self, t):
        return (np.asarray(t) > 0).astype(np.float64)

    def _angle(self, q_xx, q_yy, q_xy):
        prod = np.asarray(q_xx, dtype=np.float64) * q_yy
        S = np.sqrt(np.maximum(prod - np.square(q_xy), 0.0))
        return S, np.arctan2(S, q_xy)

    def dual(self, q_xx, q_yy, q_xy):
        S, t = self._angle(q_xx, q_yy, q_xy)
        return (S + (np.pi - t) * q_xy) / (2 * np.pi)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return (np.pi - self._angle(q_xx, q_yy, q_xy)[1]) / (2 * np.pi)


DEGREE_ONE = [
    "relu",
    "abs",
    get_activation("leaky_relu", alpha=0.1),
    "normalized_gaussian",
    _NaiveReLU(),
]


@pytest.mark.parametrize("exponent", [330, -330])
@pytest.mark.parametrize("activation", DEGREE_ONE, ids=str)
def test_biased_degree_one_networks_at_extreme_scales(activation, exponent):
    """``K(c x, c y; b) = c^2 K(x, y; b / c)``: one side has pre-activation variances near
    ``2^(+-660)``, where ``q_xx q_yy`` leaves float64, the other ordinary ones."""
    c = 2.0**exponent
    X, Y = _X, np.random.RandomState(6).randn(4, 3)
    for fn in FC_FNS:
        kw = dict(depth=3, activation=activation, weight_std=1.1)
        got = fn(c * X, c * Y, bias_std=0.3, **kw)
        want = c * c * fn(X, Y, bias_std=0.3 / c, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=fn.__name__)
    imgs = np.random.RandomState(7).randn(2, 5, 5, 2)
    for fn in CONV_FNS:
        kw = dict(depth=2, activation=activation, weight_std=1.1)
        got = fn(c * imgs, bias_std=0.3, **kw)
        want = c * c * fn(imgs, bias_std=0.3 / c, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=fn.__name__)


@pytest.mark.parametrize(
    ("activation", "kinds", "rtol"),
    [
        ("relu", "both", 1e-10),
        # erf: only the NNGP. Its arcsin near +-1 turns the inputs' rounding into ~1e-9 at
        # variances ~2^400; its derivative dual 1 / sqrt((1 + 2 q_xx)(1 + 2 q_yy) - 4 q_xy^2)
        # of a pixel with itself is not determined by float64 inputs there at all (the
        # rounding of q_xy alone moves the determinant by ~q^2 eps >> 1 + 4 q).
        ("erf", "nngp", 1e-8),
    ],
)
def test_conv_and_fc_paths_agree_on_mixed_scales(activation, kinds, rtol):
    """With 1x1 filters the gap network's kernel is the mean over pixel pairs of the fully
    connected kernel of the pixel vectors. One image scaled by 2^200 and one by 2^-300, with a
    bias (no homogeneity to factor out): both paths form their covariances on rescaled inputs
    and scale them back, and must still agree."""
    X = np.random.RandomState(8).randn(3, 2, 3, 4)
    X[0] *= 2.0**200
    X[2] *= 2.0**-300
    kw = dict(depth=2, activation=activation, weight_std=1.2, bias_std=0.3)
    pixels = X.reshape(3 * 6, 4)
    pairs = [(cnngp_kernel, nngp_kernel), (cntk_kernel, ntk_kernel)]
    for conv, fc in pairs if kinds == "both" else pairs[:1]:
        want = fc(pixels, **kw).reshape(3, 6, 3, 6).mean(axis=(1, 3))
        np.testing.assert_allclose(conv(X, filter_size=1, **kw), want, rtol=rtol)


@pytest.mark.parametrize("scale", [1e100, 1e-100])
def test_biased_relu_at_decimal_scales(scale):
    X = _X
    for fn in FC_FNS:
        got = fn(scale * X, depth=2, bias_std=0.2)
        want = scale**2 * fn(X, depth=2, bias_std=0.2 / scale)
        _assert_entries_close(got, want, what=fn.__name__)


def test_sign_with_bias_at_extreme_scale():
    """After ``sign`` the variances are O(1) at any input scale: scaling the inputs and the
    first bias by ``c`` leaves the kernel unchanged."""
    c = 2.0**400
    layers = [
        Dense(1.0, 0.5 * c),
        Nonlinearity("sign"),
        Dense(1.2, 0.3),
        Nonlinearity("relu"),
        Dense(),
    ]
    ref = [Dense(1.0, 0.5), Nonlinearity("sign"), Dense(1.2, 0.3), Nonlinearity("relu"), Dense()]
    np.testing.assert_allclose(
        kernel(c * _X, layers=layers, kind="nngp"), kernel(_X, layers=ref, kind="nngp"), rtol=1e-12
    )


# ----------------------------------------------------------------------------------------------
# Limits: clear errors instead of NaN
# ----------------------------------------------------------------------------------------------


def _with_big_row(X, value):
    X = X.copy()
    X[1] *= value
    return X


def _with_entry(X, value):
    X = X.copy()
    X[2, 1] = value
    return X


@pytest.mark.parametrize(
    "X",
    [_X * 1e160, _with_big_row(_X, 1e200), _with_entry(_X, 1e308)],
    ids=["all x1e160", "row x1e200", "entry 1e308"],
)
def test_unrepresentable_results_raise_naming_the_limit(X):
    for fn in FC_FNS:
        # homogeneous: the kernel itself exceeds float64
        with pytest.raises(ValueError, match=r"overflow float64 in the depth-2 relu N.*rescale X"):
            fn(X, depth=2)
        # a bias or a non-homogeneous activation: the covariances themselves overflow
        for kw in ({"bias_std": 0.1}, {"activation": "erf"}, {"activation": "gelu"}):
            with pytest.raises(ValueError, match=r"X is too large .*\|x\|\^2 / d reaches"):
                fn(X, **kw)
        with pytest.raises(ValueError, match="Y is too large"):
            fn(_X, X, activation="tanh")


def test_unrepresentable_image_results_raise():
    for fn in CONV_FNS:
        with pytest.raises(ValueError, match=r"overflow float64 in the depth-1 relu CN"):
            fn(_IMGS * 1e200)
        with pytest.raises(ValueError, match="X is too large"):
            fn(_IMGS * 1e200, activation="erf")


def test_float32_overflow_says_to_pass_float64():
    for fn in FC_FNS:
        with pytest.raises(ValueError, match="float32.*float64"):
            fn((_X * 1e30).astype(np.float32))
    for fn in CONV_FNS:
        with pytest.raises(ValueError, match="float32.*float64"):
            fn((_IMGS * 1e30).astype(np.float32))


class _Square(Activation):
    """``act(t) = t^2`` (not flagged homogeneous): ``E[u^2 v^2] = q_xx q_yy + 2 q_xy^2``
    overflows float64 once the variances pass 1e154."""

    name = "square_for_tests"
    has_closed_form_dual = True

    def value(self, t):
        return np.asarray(t) ** 2

    def derivative(self, t):
        return 2.0 * np.asarray(t)

    def dual(self, q_xx, q_yy, q_xy):
        return q_xx * q_yy + 2.0 * q_xy**2

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return 4.0 * np.asarray(q_xy, dtype=np.float64)


def test_non_finite_values_name_the_activation_layer():
    for fn in FC_FNS:
        with pytest.raises(
            ValueError,
            match=r"first appears at layer 2 of 3, Nonlinearity\("
            r"activation=_Square\(\)\).*square_for_tests",
        ):
            fn(_X * 1e80, activation=_Square())
    for fn in CONV_FNS:
        with pytest.raises(ValueError, match="layer 2 of 4.*square_for_tests"):
            fn(_IMGS * 1e80, activation=_Square())
    # one pair's overflow is found and named through the cross pass too
    with pytest.raises(ValueError, match="layer 2 of 3"):
        ntk_kernel(_X, _with_big_row(_X, 1e77), activation=_Square())


class _NaNWhenAnticorrelated(Activation):
    """A broken dual (NaN for negatively correlated pairs only): self pairs are fine, so only
    the check of the kernel's output can notice."""

    name = "nan_when_anticorrelated"
    has_closed_form_dual = True

    def value(self, t):
        return np.asarray(t)

    def derivative(self, t):
        return np.ones_like(np.asarray(t, dtype=np.float64))

    def dual(self, q_xx, q_yy, q_xy):
        q_xy = np.asarray(q_xy, dtype=np.float64)
        return np.where(q_xy >= 0, q_xy, np.nan)

    def dual_derivative(self, q_xx, q_yy, q_xy):
        return np.ones(np.shape(q_xy))


def test_every_output_entry_is_checked():
    X = np.random.RandomState(9).randn(40, 3)  # some pairs have negative correlation
    act = _NaNWhenAnticorrelated()
    for fn in FC_FNS:
        with pytest.raises(ValueError, match="layer 2 of 3.*nan_when_anticorrelated"):
            fn(X, activation=act)
        with pytest.raises(ValueError, match="layer 2 of 3.*nan_when_anticorrelated"):
            fn(X[:20], X[20:], activation=act)
    imgs = np.random.RandomState(10).randn(4, 3, 3, 2)
    for fn in CONV_FNS:
        with pytest.raises(ValueError, match="layer 2 of 4.*nan_when_anticorrelated"):
            fn(imgs, activation=act)


def test_biased_degree_two_network_at_tiny_variances():
    """``K(c x; b1 c, b2 c^2) = c^4 K(x; b1, b2)`` for ``Dense, Monomial(2), Dense``. At
    ``c = 2^-254`` the pre-activation variances are near ``2^-508``, where the activation is
    evaluated on rescaled variances; its derivative dual scales as ``c^2`` (degree 1)."""
    c = 2.0**-254
    act = get_activation("monomial", degree=2)
    for kind in ("nngp", "ntk"):
        got = kernel(
            c * _X,
            layers=[Dense(1.1, 0.3 * c), Nonlinearity(act), Dense(0.9, 0.2 * c * c)],
            kind=kind,
        )
        want = kernel(_X, layers=[Dense(1.1, 0.3), Nonlinearity(act), Dense(0.9, 0.2)], kind=kind)
        np.testing.assert_allclose(got, c**4 * want, rtol=1e-12, err_msg=kind)


def test_non_finite_values_name_the_linear_layer():
    """A Dense (Conv) layer whose ``weight_std^2 q`` overflows is named, with the network's
    activation."""
    for fn in FC_FNS:
        with pytest.raises(
            ValueError,
            match=r"depth-2 relu N.*layer 3 of 5, Dense\(weight_std="
            r"1e\+150",
        ):
            fn(_X, depth=2, weight_std=1e150, bias_std=0.1)
    for fn in CONV_FNS:
        with pytest.raises(ValueError, match=r"depth-2 relu CN.*layer 3 of 6, Conv\("):
            fn(_IMGS, depth=2, weight_std=1e150, bias_std=0.1)
    layers = [
        Dense(1.0, 0.1),
        Nonlinearity("erf"),
        Dense(1e150),
        Nonlinearity("relu"),
        Dense(1e150),
    ]
    with pytest.raises(ValueError, match=r"depth-2 erf/relu NNGP.*layer 5 of 5, Dense\("):
        kernel(_X * 1e10, layers=layers, kind="nngp")


def test_moderate_scales_need_no_rescaling():
    """Inside the ordinary range nothing is rescaled: results are the plain recursion's
    (checked against the closed-form depth-1 ReLU NNGP)."""
    X = 1e30 * _X
    K = nngp_kernel(X)
    n = np.linalg.norm(X, axis=1)
    cos = np.clip(X @ X.T / np.outer(n, n), -1, 1)
    t = np.arccos(cos)
    want = np.outer(n, n) / (2 * math.pi * 3) * (np.sin(t) + (math.pi - t) * cos)
    np.testing.assert_allclose(K, want, rtol=1e-7)
