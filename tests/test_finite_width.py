"""Tests of skntk.finite_width: the empirical NTK of finite networks and FiniteWidthNTK."""

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skntk.architectures import (
    AvgPool,
    Conv,
    Dense,
    GlobalAvgPool,
    Nonlinearity,
    fully_connected,
)
from skntk.finite_width import (
    METHODS,
    FiniteWidthNTK,
    empirical_ntk,
    empirical_ntk_cost,
    empirical_ntk_features,
    init_mlp_weights,
    mlp_apply,
)
from skntk.kernels import kernel, ntk_kernel

DATA = Path(__file__).parent / "data"
ALL_METHODS = (*METHODS, "auto")
# A network with its own activation and standard deviations in every layer.
MIXED = [Dense(1.2, 0.2), Nonlinearity("erf"), Dense(1.5), Nonlinearity("relu"), Dense(0.8, 0.3)]


def _reference():
    with open(DATA / "empirical_public.json") as fh:
        meta = json.load(fh)
    arrays = np.load(DATA / "empirical_public.npz")
    return meta["configs"], arrays


CONFIGS, ARRAYS = _reference()


def _ref_network(cfg):
    key = cfg["key"]
    weights = [
        (ARRAYS[f"{key}_W{i}"], ARRAYS[f"{key}_b{i}"]) for i in range(cfg["n_dense_layers"])
    ]
    return dict(
        weights=weights,
        activation=cfg["activation"],
        weight_std=cfg["weight_std"],
        bias_std=cfg["bias_std"],
    )


def _assert_rel(actual, desired, rtol):
    actual = np.asarray(actual)
    scale = np.max(np.abs(desired))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


# ----------------------------------------------------------------------------------------------
# Reference data (neural-tangents 0.6.5)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c["key"] for c in CONFIGS])
def test_reference_outputs(cfg):
    out = mlp_apply(ARRAYS["x1"], **_ref_network(cfg))
    assert out.shape == (ARRAYS["x1"].shape[0], cfg["n_outputs"])
    _assert_rel(out, ARRAYS[f"{cfg['key']}_out1"], 1e-10)


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=[c["key"] for c in CONFIGS])
def test_reference_ntk(cfg, method):
    net = _ref_network(cfg)
    x1, x2, key = ARRAYS["x1"], ARRAYS["x2"], cfg["key"]
    ref12, ref11 = ARRAYS[f"{key}_ntk12"], ARRAYS[f"{key}_ntk11"]
    K12 = empirical_ntk(x1, x2, method=method, **net)
    K11 = empirical_ntk(x1, method=method, **net)
    assert K12.shape == ref12.shape and K11.shape == ref11.shape
    assert K12.dtype == np.float64
    _assert_rel(K12, ref12, 1e-8)
    _assert_rel(K11, ref11, 1e-8)
    # The trace over outputs, and the same kernel with Y given explicitly.
    _assert_rel(empirical_ntk(x1, x2, method=method, trace=True, **net),
                np.trace(ref12, axis1=2, axis2=3), 1e-8)
    _assert_rel(empirical_ntk(x1, x1, method=method, **net), ref11, 1e-8)


def test_reference_beta_shapes():
    """Biases may be given as (fan_out,) or (1, fan_out)."""
    cfg = CONFIGS[1]
    net = _ref_network(cfg)
    flat = dict(net, weights=[(V, b.ravel()) for V, b in net["weights"]])
    np.testing.assert_array_equal(
        empirical_ntk(ARRAYS["x1"], **flat), empirical_ntk(ARRAYS["x1"], **net)
    )


# ----------------------------------------------------------------------------------------------
# The three methods agree
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("bias_std", [0.0, 0.3])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("activation", ["relu", "erf", "gelu", "tanh"])
def test_methods_agree(activation, depth, bias_std, n_outputs):
    rng = np.random.default_rng(depth * 10 + n_outputs)
    d = 5
    X = rng.standard_normal((6, d))
    Y = rng.standard_normal((4, d))
    widths = tuple(int(w) for w in rng.integers(5, 12, size=depth))
    w = init_mlp_weights(d, widths, n_outputs, random_state=depth)
    kw = dict(weights=w, activation=activation, weight_std=1.3, bias_std=bias_std)
    ref = empirical_ntk(X, Y, method="jacobian", **kw)
    ref_sym = empirical_ntk(X, method="jacobian", **kw)
    assert ref.shape == (6, 4, n_outputs, n_outputs)
    for method in ("ntvp", "structured", "auto"):
        _assert_rel(empirical_ntk(X, Y, method=method, **kw), ref, 1e-12)
        _assert_rel(empirical_ntk(X, method=method, **kw), ref_sym, 1e-12)
    # Symmetric, positive semi-definite as a (n k) x (n k) matrix.
    M = ref_sym.transpose(0, 2, 1, 3).reshape(6 * n_outputs, 6 * n_outputs)
    np.testing.assert_allclose(M, M.T, atol=1e-12 * np.abs(M).max())
    assert np.linalg.eigvalsh(M).min() > -1e-10 * np.abs(M).max()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_trace_option(method):
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((7, 3))
    w = init_mlp_weights(3, (9, 4), 4, random_state=2)
    kw = dict(weights=w, activation="gelu", bias_std=0.2, method=method)
    full = empirical_ntk(X, Y, **kw)
    tr = empirical_ntk(X, Y, trace=True, **kw)
    assert tr.shape == (5, 7)
    _assert_rel(tr, np.trace(full, axis1=2, axis2=3), 1e-12)
    _assert_rel(empirical_ntk(X, trace=True, **kw),
                np.trace(empirical_ntk(X, **kw), axis1=2, axis2=3), 1e-12)


def test_definition_by_finite_differences():
    """J J^T with J from central differences of mlp_apply (a method-free check)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 2))
    w = init_mlp_weights(2, (4,), 2, random_state=0)
    kw = dict(activation="tanh", weight_std=1.1, bias_std=0.4)
    flat = np.concatenate([np.concatenate([V.ravel(), b]) for V, b in w])

    def unflatten(theta):
        out, pos = [], 0
        for V, b in w:
            Vn = theta[pos:pos + V.size].reshape(V.shape)
            pos += V.size
            out.append((Vn, theta[pos:pos + b.size]))
            pos += b.size
        return out

    eps = 1e-6
    J = np.empty((3, 2, flat.size))
    for p in range(flat.size):
        e = np.zeros_like(flat)
        e[p] = eps
        J[:, :, p] = (mlp_apply(X, weights=unflatten(flat + e), **kw)
                      - mlp_apply(X, weights=unflatten(flat - e), **kw)) / (2 * eps)
    expected = np.einsum("aop,bqp->aboq", J, J)
    for method in METHODS:
        _assert_rel(empirical_ntk(X, weights=w, method=method, **kw), expected, 1e-6)


def test_linear_network():
    """No hidden layer: Theta = (W^2 <x, y> / d + b^2) I_k."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 3))
    w = init_mlp_weights(3, (), 2, random_state=0)
    expected = (1.5**2 * X @ X.T / 3 + 0.7**2)[:, :, None, None] * np.eye(2)
    for method in METHODS:
        K = empirical_ntk(X, weights=w, weight_std=1.5, bias_std=0.7, method=method)
        _assert_rel(K, expected, 1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_sparse_and_float32(method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 8)) * (rng.random((6, 8)) < 0.4)
    Y = rng.standard_normal((3, 8))
    w = init_mlp_weights(8, (10, 7), 2, random_state=0)
    kw = dict(weights=w, activation="erf", bias_std=0.1, method=method)
    ref = empirical_ntk(X, Y, **kw)
    for fmt in (sp.csr_matrix, sp.csc_array):
        _assert_rel(empirical_ntk(fmt(X), Y, **kw), ref, 1e-12)
        _assert_rel(empirical_ntk(fmt(X), **kw), empirical_ntk(X, **kw), 1e-12)
    K32 = empirical_ntk(X.astype(np.float32), Y.astype(np.float32), **kw)
    assert K32.dtype == np.float32
    _assert_rel(K32, ref, 1e-4)
    assert empirical_ntk(X.astype(np.float32), Y, **kw).dtype == np.float64


def test_array_api_namespace():
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((3, 4))
    w = init_mlp_weights(4, (6, 5), 2, random_state=0)
    kw = dict(weights=w, activation="gelu", bias_std=0.3)
    for method in METHODS:
        for trace in (False, True):
            K = empirical_ntk(xps.asarray(X), xps.asarray(Y), method=method, trace=trace, **kw)
            assert isinstance(K, type(xps.asarray(X)))
            _assert_rel(np.from_dlpack(K), empirical_ntk(X, Y, method=method, trace=trace, **kw),
                        1e-12)
    Z = empirical_ntk_features(xps.asarray(X), n_components=12, random_state=0, **kw)
    _assert_rel(np.from_dlpack(Z),
                empirical_ntk_features(X, n_components=12, random_state=0, **kw), 1e-12)


# ----------------------------------------------------------------------------------------------
# Cost model and "auto"
# ----------------------------------------------------------------------------------------------


def test_cost_model():
    n, d = 500, 100
    ratios = []
    for width in (256, 1024, 4096):
        cost = empirical_ntk_cost(n, None, (d, width, width, width, 1))
        assert min(cost, key=cost.get) == "structured"
        ratios.append(cost["jacobian"] / cost["structured"])
    assert ratios[0] < ratios[1] < ratios[2]  # the advantage grows with width
    many = empirical_ntk_cost(n, n, (d, 512, 512, 10))
    assert many["ntvp"] < many["jacobian"]  # NTK-vector products avoid the k^2 factor
    tr = empirical_ntk_cost(n, n, (d, 512, 512, 10), trace=True)
    assert tr["structured"] < many["structured"] and tr["jacobian"] < many["jacobian"]
    with pytest.raises(ValueError, match="layer_sizes"):
        empirical_ntk_cost(3, None, (4,))


# ----------------------------------------------------------------------------------------------
# Features and their projection
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_exact_features(n_outputs):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((7, 4)), rng.standard_normal((3, 4))
    est = FiniteWidthNTK(widths=(12, 9), activation="tanh", bias_std=0.3, n_outputs=n_outputs,
                         random_state=0).fit(X)
    Z, ZY = est.transform(X), est.transform(Y)
    n_hidden = (4 + 1) * 12 + (12 + 1) * 9
    assert Z.shape == (7, n_outputs * n_hidden + 9 + 1)
    assert est.n_params_ == n_hidden + (9 + 1) * n_outputs
    if n_outputs == 1:
        assert Z.shape[1] == est.n_params_
    K = empirical_ntk(X, Y, weights=est.weights_, activation="tanh", bias_std=0.3)
    expected = np.trace(K, axis1=2, axis2=3) / n_outputs
    _assert_rel(Z @ ZY.T, expected, 1e-12)
    _assert_rel(est.kernel(X, Y), expected, 1e-12)
    _assert_rel(est.kernel(X), Z @ Z.T, 1e-12)
    names = est.get_feature_names_out()
    assert len(names) == Z.shape[1] and names[0] == "finitewidthntk0"


def test_features_match_jacobian_layout():
    """For k = 1 the exact features are the Jacobian in parameter order (V_0, beta_0, ...)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 2))
    w = init_mlp_weights(2, (3,), 1, random_state=0)
    kw = dict(activation="erf", weight_std=1.2, bias_std=0.5)
    Z = empirical_ntk_features(X, weights=w, **kw)
    flat = np.concatenate([np.concatenate([V.ravel(), b]) for V, b in w])
    eps = 1e-6
    for p in range(flat.size):
        def f(theta):
            V0, b0 = theta[:6].reshape(2, 3), theta[6:9]
            V1, b1 = theta[9:12].reshape(3, 1), theta[12:]
            return mlp_apply(X, weights=[(V0, b0), (V1, b1)], **kw)[:, 0]
        e = np.zeros_like(flat)
        e[p] = eps
        np.testing.assert_allclose(Z[:, p], (f(flat + e) - f(flat - e)) / (2 * eps), atol=1e-7)


@pytest.mark.parametrize("n_components", [2, 7, 30])
def test_projection_unbiased(n_components):
    """Mean of Z Z^T over independent projections equals the exact kernel (within 4.5 SE)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 3))
    w = init_mlp_weights(3, (6, 5), 2, random_state=1)
    kw = dict(weights=w, activation="tanh", bias_std=0.4)
    exact = empirical_ntk(X, trace=True, **kw) / 2
    S = 600
    samples = np.empty((S, 4, 4))
    for s in range(S):
        Z = empirical_ntk_features(X, n_components=n_components, random_state=s, **kw)
        assert Z.shape == (4, n_components)
        samples[s] = Z @ Z.T
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(S)
    z = np.abs(mean - exact) / se
    assert z.max() < 4.5, z


def test_projection_concentrates():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 5))
    est = FiniteWidthNTK(widths=(32, 32), n_outputs=2, bias_std=0.1, random_state=0).fit(X)
    K = est.kernel(X)
    errors = []
    for m in (30, 3000):
        Z = clone(est).set_params(n_components=m).fit(X).transform(X)
        errors.append(np.linalg.norm(Z @ Z.T - K) / np.linalg.norm(K))
    assert errors[1] < 0.15 and errors[1] < errors[0] / 3


def test_estimator_weights_do_not_depend_on_projection():
    X = np.random.default_rng(0).standard_normal((5, 3))
    a = FiniteWidthNTK(widths=(8,), random_state=3).fit(X)
    b = FiniteWidthNTK(widths=(8,), n_components=20, random_state=3).fit(X)
    for (Va, ba), (Vb, bb) in zip(a.weights_, b.weights_, strict=True):
        np.testing.assert_array_equal(Va, Vb)
        np.testing.assert_array_equal(ba, bb)
    assert a.projection_ is None and len(b.projection_) == 2


def test_estimator_dtype_sparse_pickle():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 6)) * (rng.random((8, 6)) < 0.5)
    for n_components in (None, 40):
        est = FiniteWidthNTK(widths=(10, 6), activation="gelu", n_outputs=2,
                             n_components=n_components, random_state=0).fit(X)
        Z = est.transform(X)
        Z32 = est.transform(X.astype(np.float32))
        assert Z.dtype == np.float64 and Z32.dtype == np.float32
        np.testing.assert_allclose(Z32, Z, rtol=1e-4, atol=1e-5 * np.abs(Z).max())
        np.testing.assert_allclose(est.transform(sp.csr_matrix(X)), Z, atol=1e-12)
        est2 = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(est2.transform(X), Z)
        np.testing.assert_array_equal(clone(est).fit(X).transform(X), Z)


# ----------------------------------------------------------------------------------------------
# Infinite-width limit
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation, bias_std", [("relu", 0.0), ("erf", 0.2)])
def test_convergence_to_ntk_kernel(activation, bias_std):
    """Relative Frobenius error to ntk_kernel falls like 1/sqrt(width): ~2x per 4x width."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8))
    K = ntk_kernel(X, depth=2, activation=activation, bias_std=bias_std)
    widths = (64, 256, 1024)
    errors = []
    for width in widths:
        err = []
        for seed in range(8):
            est = FiniteWidthNTK(widths=(width, width), activation=activation, bias_std=bias_std,
                                 random_state=seed).fit(X)
            err.append(np.linalg.norm(est.kernel(X) - K) / np.linalg.norm(K))
        errors.append(np.mean(err))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all(ratios > 1.5), (errors, ratios)
    slope = np.polyfit(np.log(widths), np.log(errors), 1)[0]
    assert -0.75 < slope < -0.35, (errors, slope)
    assert errors[-1] < 0.1


# ----------------------------------------------------------------------------------------------
# Networks given as layer lists
# ----------------------------------------------------------------------------------------------


UNIFORM = [("relu", 1.0, 0.0), ("erf", 1.3, 0.2), ("tanh", 0.7, 0.5), ("gelu", 1.0, 0.1)]


@pytest.mark.parametrize("activation, weight_std, bias_std", UNIFORM)
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_uniform_layer_list_is_identical(activation, weight_std, bias_std, n_outputs):
    """fully_connected(...) as ``layers`` gives exactly the single-activation results."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 4)), rng.standard_normal((3, 4))
    w = init_mlp_weights(4, (9, 7), n_outputs, random_state=1)
    args = dict(activation=activation, weight_std=weight_std, bias_std=bias_std)
    layers = fully_connected(2, activation, weight_std, bias_std)
    for method in ALL_METHODS:
        for trace in (False, True):
            for Yi in (None, Y):
                np.testing.assert_array_equal(
                    empirical_ntk(X, Yi, weights=w, layers=layers, method=method, trace=trace),
                    empirical_ntk(X, Yi, weights=w, method=method, trace=trace, **args),
                )
    for n_components in (None, 11):
        np.testing.assert_array_equal(
            empirical_ntk_features(X, weights=w, layers=layers, n_components=n_components,
                                   random_state=0),
            empirical_ntk_features(X, weights=w, n_components=n_components, random_state=0,
                                   **args),
        )
    # The estimator: same weights, same features and kernel.
    for n_components in (None, 15):
        a = FiniteWidthNTK(widths=(9, 7), n_outputs=n_outputs, n_components=n_components,
                           random_state=0, **args).fit(X)
        b = FiniteWidthNTK(widths=(9, 7), n_outputs=n_outputs, n_components=n_components,
                           layers=layers, random_state=0).fit(X)
        np.testing.assert_array_equal(a.transform(Y), b.transform(Y))
        np.testing.assert_array_equal(a.kernel(X, Y), b.kernel(X, Y))
        assert a.layers_ == layers and b.layers_ == layers
        assert b.activation_ is None and a.activation_ == layers[1].activation


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_mlp_apply_with_layers(depth):
    rng = np.random.default_rng(depth)
    X = rng.standard_normal((5, 3))
    w = init_mlp_weights(3, (6,) * depth, 2, random_state=depth)
    for activation, weight_std, bias_std in UNIFORM:
        np.testing.assert_array_equal(
            mlp_apply(X, weights=w, layers=fully_connected(depth, activation, weight_std,
                                                           bias_std)),
            mlp_apply(X, weights=w, activation=activation, weight_std=weight_std,
                      bias_std=bias_std),
        )
    # A mixed list applies each layer's own stds and activation.
    acts = ["erf", "relu", "tanh"][:depth]
    stds = [(1.1, 0.3), (1.7, 0.0), (0.6, 0.9), (1.3, 0.4)][: depth + 1]
    layers = []
    for (W, b), act in zip(stds, [*acts, None], strict=True):
        layers += [Dense(W, b)] + ([Nonlinearity(act)] if act else [])
    h = X
    for i, ((V, beta), (W, b)) in enumerate(zip(w, stds, strict=True)):
        h = W / np.sqrt(V.shape[0]) * h @ V + b * beta
        if i < depth:
            h = layers[2 * i + 1].activation.value(h)
    _assert_rel(mlp_apply(X, weights=w, layers=layers), h, 1e-13)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_mixed_layers_by_finite_differences(n_outputs):
    """Per-layer stds and activations in every algorithm: J J^T from differences of mlp_apply."""
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((3, 2)), rng.standard_normal((2, 2))
    w = init_mlp_weights(2, (4, 3), n_outputs, random_state=0)
    layers = [Dense(1.2, 0.2), Nonlinearity("erf"), Dense(1.5), Nonlinearity("tanh"),
              Dense(0.8, 0.3)]
    sizes = [(V.shape, b.shape) for V, b in w]
    flat = np.concatenate([np.concatenate([V.ravel(), b]) for V, b in w])

    def unflatten(theta):
        out, pos = [], 0
        for shape_V, shape_b in sizes:
            nV, nb = int(np.prod(shape_V)), shape_b[0]
            out.append((theta[pos:pos + nV].reshape(shape_V), theta[pos + nV:pos + nV + nb]))
            pos += nV + nb
        return out

    def jac(A):
        eps = 1e-6
        J = np.empty((A.shape[0], n_outputs, flat.size))
        for p in range(flat.size):
            e = np.zeros_like(flat)
            e[p] = eps
            J[:, :, p] = (mlp_apply(A, weights=unflatten(flat + e), layers=layers)
                          - mlp_apply(A, weights=unflatten(flat - e), layers=layers)) / (2 * eps)
        return J

    JX, JY = jac(X), jac(Y)
    expected = np.einsum("aop,bqp->aboq", JX, JY)
    for method in ALL_METHODS:
        K = empirical_ntk(X, Y, weights=w, layers=layers, method=method)
        _assert_rel(K, expected, 1e-6)
        _assert_rel(empirical_ntk(X, Y, weights=w, layers=layers, method=method, trace=True),
                    np.trace(expected, axis1=2, axis2=3), 1e-6)
    Z = empirical_ntk_features(np.vstack([X, Y]), weights=w, layers=layers)
    _assert_rel(Z[:3] @ Z[3:].T, np.trace(expected, axis1=2, axis2=3) / n_outputs, 1e-6)


def test_mixed_layers_converge_to_exact_kernel():
    """The empirical NTK of wide networks built from MIXED tends to kernel(X, layers=MIXED).

    Mean relative Frobenius error over 4 seeds (observed: 0.12 at width 256, 0.048 at 2048,
    0.029 at 4096, i.e. about 1/sqrt(width)).
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8))
    K = kernel(X, layers=MIXED, kind="ntk")
    errors = {}
    for width in (256, 2048, 4096):
        err = []
        for seed in range(4):
            w = init_mlp_weights(8, (width, width), random_state=seed)
            Kw = empirical_ntk(X, weights=w, layers=MIXED, trace=True)
            err.append(np.linalg.norm(Kw - K) / np.linalg.norm(K))
        errors[width] = np.mean(err)
    assert errors[2048] < 0.1, errors
    assert errors[4096] < 0.6 * errors[256], errors
    # The exact kernel of the list is not that of a uniform network with either activation.
    for act in ("erf", "relu"):
        other = kernel(X, layers=fully_connected(2, act, 1.2, 0.2), kind="ntk")
        assert np.linalg.norm(other - K) / np.linalg.norm(K) > 5 * errors[4096]


def test_estimator_with_layers_clone_and_search():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(30)
    est = FiniteWidthNTK(widths=(16, 16), layers=MIXED, random_state=0)
    cl = clone(est)
    assert cl.get_params()["layers"] == MIXED and cl.get_params()["layers"] is not MIXED
    Z = est.fit(X).transform(X)
    np.testing.assert_array_equal(cl.fit(X).transform(X), Z)
    np.testing.assert_allclose(Z @ Z.T, est.kernel(X), rtol=1e-12, atol=1e-12 * np.abs(Z).max())
    np.testing.assert_array_equal(
        est.kernel(X), empirical_ntk(X, weights=est.weights_, layers=MIXED, trace=True)
    )
    assert est.layers_ == MIXED and est.activation_ is None
    pickled = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(pickled.transform(X), Z)

    choices = [
        MIXED,
        fully_connected(2, "tanh", 1.0, 0.1),
        [Dense(), Nonlinearity("gelu"), Dense(2.0, 0.5), Nonlinearity("erf"), Dense()],
    ]
    pipe = make_pipeline(FiniteWidthNTK(widths=(16, 16), random_state=0), Ridge(alpha=1.0))
    search = GridSearchCV(pipe, {"finitewidthntk__layers": choices}, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert search.best_params_["finitewidthntk__layers"] in choices
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and len(set(np.round(scores, 12))) == 3
    best = search.best_estimator_[0]
    assert best.layers_ == search.best_params_["finitewidthntk__layers"]


_W3 = init_mlp_weights(3, (4, 5), 1, random_state=0)  # three Dense layers


def test_layer_scales_are_checked_when_the_layer_is_built():
    """The layers validate their scales themselves (the rules every estimator uses), so a
    bad layer never reaches a finite network."""
    with pytest.raises(ValueError, match=r"weight_std.*\(0\.0, inf\)"):
        Dense(-1.0)
    with pytest.raises(ValueError, match=r"bias_std.*\[0\.0, inf\)"):
        Dense(1.0, np.nan)


@pytest.mark.parametrize(
    "layers, error, msg",
    [
        ("relu", TypeError, "layers must be a list"),
        ([], ValueError, "must not be empty"),
        ([Dense(), Dense(), Nonlinearity("relu"), Dense(), Nonlinearity("relu"), Dense()],
         ValueError, r"layers\[1\] = Dense\(.*\) follows Dense\(.*where a Nonlinearity"),
        ([Nonlinearity("relu"), Dense(), Nonlinearity("relu"), Dense(), Dense()],
         ValueError, r"layers\[0\] = Nonlinearity\(activation=ReLU\(\)\) comes first"),
        ([Dense(), Nonlinearity("relu"), Nonlinearity("erf"), Dense(), Dense()],
         ValueError, r"layers\[2\] = Nonlinearity\(activation=Erf\(.*\)\) follows Nonlin"),
        ([Dense(), Nonlinearity("relu"), Dense(), Nonlinearity("relu")],
         ValueError, r"layers\[3\] = .* must end with a Dense readout"),
        ([Conv(3), Nonlinearity("relu"), Dense(), Nonlinearity("relu"), Dense()],
         ValueError, r"layers\[0\] = Conv\(filter_size=3.*only takes Dense and Nonlinearity"),
        ([Dense(), AvgPool(), Dense(), Nonlinearity("relu"), Dense()],
         ValueError, r"layers\[1\] = AvgPool\(\)"),
        ([Dense(), Nonlinearity("relu"), GlobalAvgPool(), Nonlinearity("relu"), Dense()],
         ValueError, r"layers\[2\] = GlobalAvgPool\(\)"),
        ([Dense(), Nonlinearity("relu"), Dense, Nonlinearity("relu"), Dense()],
         TypeError, r"layers\[2\] is the class Dense"),
        ([Dense(), "relu", Dense(), Nonlinearity("relu"), Dense()],
         TypeError, r"layers\[1\] = 'relu' is not a Dense or Nonlinearity layer"),
        (fully_connected(1, "relu"), ValueError, r"layers has 2 Dense layer\(s\) but"),
        (fully_connected(3, "relu"), ValueError, r"layers has 4 Dense layer\(s\) but"),
        ([Dense(), Nonlinearity("normalized_gaussian"), Dense(), Nonlinearity("relu"), Dense()],
         ValueError, "pointwise"),
    ],
)
def test_bad_layer_lists(layers, error, msg):
    X = np.ones((2, 3))
    for method in ALL_METHODS:
        with pytest.raises(error, match=msg):
            empirical_ntk(X, weights=_W3, layers=layers, method=method)
    with pytest.raises(error, match=msg):
        mlp_apply(X, weights=_W3, layers=layers)
    with pytest.raises(error, match=msg):
        empirical_ntk_features(X, weights=_W3, layers=layers, n_components=5)
    if msg.startswith("layers has"):  # the estimator counts the Dense layers against widths
        msg = msg + r".*widths=\(4, 5\) needs 3"
    with pytest.raises((TypeError, ValueError), match=msg if error is ValueError else None):
        FiniteWidthNTK(widths=(4, 5), layers=layers).fit(X)


@pytest.mark.parametrize(
    "kwargs", [dict(activation="erf"), dict(weight_std=2.0), dict(bias_std=0.1),
               dict(activation=fully_connected(1, "relu")[1].activation)]
)
def test_layers_exclude_single_activation_arguments(kwargs):
    X = np.ones((2, 3))
    layers = fully_connected(2, "relu")
    msg = re.escape("layers replaces activation, weight_std and bias_std")
    with pytest.raises(ValueError, match=msg):
        empirical_ntk(X, weights=_W3, layers=layers, **kwargs)
    with pytest.raises(ValueError, match=msg):
        mlp_apply(X, weights=_W3, layers=layers, **kwargs)
    with pytest.raises(ValueError, match=msg):
        empirical_ntk_features(X, weights=_W3, layers=layers, **kwargs)
    with pytest.raises(ValueError, match=msg):
        FiniteWidthNTK(widths=(4, 5), layers=layers, **kwargs).fit(X)
    # Defaults given explicitly are fine.
    np.testing.assert_array_equal(
        empirical_ntk(X, weights=_W3, layers=layers, activation="relu", weight_std=1.0,
                      bias_std=0.0),
        empirical_ntk(X, weights=_W3),
    )


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_bad_weights():
    X = np.ones((2, 3))
    good = init_mlp_weights(3, (4,), 2, random_state=0)
    (V0, b0), (V1, b1) = good
    cases = [
        ([], "non-empty list"),
        (None, "non-empty list"),
        ([(V0, b0), V1], r"weights\[1\] must be a pair"),
        ([(V0[:2], b0), (V1, b1)], r"weights\[0\]: V has shape \(2, 4\); its fan_in 2 does not "
                                   "match the number of features of X"),
        ([(V0, b0), (V1[:3], b1)], r"weights\[1\].*fan_out of weights\[0\] \(4\)"),
        ([(V0, b0[:3]), (V1, b1)], r"weights\[0\]: beta has shape \(3,\), expected \(4,\)"),
        ([(V0.ravel(), b0), (V1, b1)], r"weights\[0\]: V must be 2-D"),
        ([(V0, b0), (V1 * np.nan, b1)], "NaN or infinity"),
    ]
    for weights, msg in cases:
        for method in METHODS:
            with pytest.raises(ValueError, match=msg):
                empirical_ntk(X, weights=weights, method=method)
    with pytest.raises(ValueError, match="fan_in"):
        mlp_apply(np.ones((2, 5)), weights=good)


def test_bad_arguments():
    X = np.ones((2, 3))
    w = init_mlp_weights(3, (4,), 1, random_state=0)
    with pytest.raises(ValueError, match="method must be one of"):
        empirical_ntk(X, weights=w, method="fast")
    with pytest.raises(ValueError, match="same number of features"):
        empirical_ntk(X, np.ones((2, 4)), weights=w)
    with pytest.raises(ValueError, match="NaN|infinity"):
        empirical_ntk(np.full((2, 3), np.nan), weights=w)
    with pytest.raises(ValueError, match="weight_std"):
        empirical_ntk(X, weights=w, weight_std=-1.0)
    with pytest.raises(ValueError, match="pointwise"):
        empirical_ntk(X, weights=w, activation="normalized_gaussian")
    with pytest.raises(ValueError, match="n_components"):
        empirical_ntk_features(X, weights=w, n_components=0)
    with pytest.raises(ValueError, match="widths"):
        FiniteWidthNTK(widths=(4, 0)).fit(X)
    with pytest.raises(ValueError, match="widths"):
        FiniteWidthNTK(widths=("a",)).fit(X)
    with pytest.raises(ValueError, match="unknown activation"):
        FiniteWidthNTK(activation="nope").fit(X)
    est = FiniteWidthNTK(widths=(4,)).fit(X)
    with pytest.raises(ValueError, match="features"):
        est.transform(np.ones((2, 5)))
    with pytest.raises(ValueError, match="features"):
        est.kernel(X, np.ones((2, 5)))


# ----------------------------------------------------------------------------------------------
# scikit-learn compatibility
# ----------------------------------------------------------------------------------------------


@parametrize_with_checks(
    [
        FiniteWidthNTK(),
        FiniteWidthNTK(widths=(16, 8), n_outputs=2, n_components=40, bias_std=0.1),
        FiniteWidthNTK(widths=(8, 8), layers=MIXED),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
