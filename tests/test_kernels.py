"""Tests of the exact kernels in skntk.kernels against independent ground truths.

* the reference files ``tests/data/{fc_public,conv_public,conv_public_ext}.*``: neural-tangents
  values, except the tanh and softplus fully connected entries, which come from an independent
  high-order quadrature of the recursion (see the ``numerical_oracle`` note in fc_public.json);
* a pure-SciPy implementation of the fully connected recursion (quadrature, no skntk code);
* the closed-form ReLU kernels of DESIGN.md section 1;
* Monte-Carlo statistics of explicit finite-width random networks (NTK parameterization);
* structural identities: symmetry, positive semi-definiteness, block consistency, invariances.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import integrate
from scipy.special import erf, expit

import skntk.kernels as kernels_module
from skntk.activations import Elu, Erf, NormalizedGaussian, get_activation
from skntk.kernels import cnngp_kernel, cntk_kernel, nngp_kernel, ntk_kernel

DATA = Path(__file__).parent / "data"


def _load(stem):
    with open(DATA / f"{stem}.json") as fh:
        meta = json.load(fh)
    with np.load(DATA / f"{stem}.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    return meta["configs"], arrays


FC_CONFIGS, FC_ARRAYS = _load("fc_public")
CONV_FILES = {stem: _load(stem) for stem in ("conv_public", "conv_public_ext")}


def _fc_id(c):
    return f"{c['key']}-{c['activation']}-d{c['depth']}"


def _conv_id(case):
    stem, c = case
    arch = f"{c['architecture']}{c['depth']}-f{c['filter_size']}"
    short = "ext" if stem.endswith("_ext") else "base"
    return f"{short}-{c['key']}-{arch}-{c['activation']}"


def _assert_entries_close(got, ref, rtol=1e-6, atol_frac=1e-7, what=""):
    """Each entry within ``rtol`` relative error or within ``atol_frac * max|ref|``."""
    assert got.shape == ref.shape
    err = np.abs(got - ref)
    ok = (err <= rtol * np.abs(ref)) | (err <= atol_frac * np.abs(ref).max())
    bad = np.argwhere(~ok)
    assert bad.size == 0, (
        f"{what}: {len(bad)} entries off, e.g. {[tuple(b) for b in bad[:4]]}: "
        f"got {got[tuple(bad[0])]!r}, reference {ref[tuple(bad[0])]!r}"
    )


# ----------------------------------------------------------------------------------------------
# Reference files
# ----------------------------------------------------------------------------------------------

# DESIGN.md asks for 1e-6 (relative, or 1e-7 of the largest entry). Observed, each entry's
# smaller of the two: ReLU family and abs <= 1.1e-9 (the reference's arccos near rho = 1), other
# FC activations <= 2.2e-11 (gabor), both image files <= 4e-15.
# The tanh and softplus entries of fc_public come from an independent high-order quadrature:
# skntk agrees with them to <= 1.8e-11 (c134 ntk11; 9e-11 relative only on an entry 4e-13 of the
# largest), so they are held to 1e-10 instead of the neural-tangents 1e-6.
QUADRATURE_ORACLE_ACTIVATIONS = {"tanh", "softplus", "sigmoid", "silu"}
QUADRATURE_ORACLE_TOL = 1e-10


def _compare_with_reference(key, arrays, fns, x1, x2, kwargs, tol=(1e-6, 1e-7)):
    for name, fn in fns.items():
        for tag, args in (("12", (x1, x2)), ("11", (x1,))):
            got, ref = fn(*args, **kwargs), arrays[f"{key}_{name}{tag}"]
            _assert_entries_close(got, ref, *tol, what=f"{key} {name}{tag}")


@pytest.mark.parametrize("config", FC_CONFIGS, ids=_fc_id)
def test_fc_kernels_match_reference(config):
    c = config
    kwargs = dict(
        depth=c["depth"],
        activation=get_activation(c["activation"], **c["params"]),
        weight_std=c["weight_std"],
        bias_std=c["bias_std"],
    )
    fns = {"nngp": nngp_kernel, "ntk": ntk_kernel}
    tol = (1e-6, 1e-7)
    if c["activation"] in QUADRATURE_ORACLE_ACTIVATIONS:
        tol = (QUADRATURE_ORACLE_TOL, QUADRATURE_ORACLE_TOL)
    x1, x2 = FC_ARRAYS["x1"], FC_ARRAYS["x2"]
    _compare_with_reference(c["key"], FC_ARRAYS, fns, x1, x2, kwargs, tol)


CONV_CASES = [(stem, c) for stem, (configs, _) in CONV_FILES.items() for c in configs]


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv_kernels_match_reference(case):
    stem, c = case
    arrays = CONV_FILES[stem][1]
    kwargs = dict(
        architecture=c["architecture"],
        depth=c["depth"],
        activation=get_activation(c["activation"], **c["params"]),
        weight_std=c["weight_std"],
        bias_std=c["bias_std"],
        filter_size=c["filter_size"],
    )
    fns = {"nngp": cnngp_kernel, "ntk": cntk_kernel}
    _compare_with_reference(c["key"], arrays, fns, arrays["x1"], arrays["x2"], kwargs)


def test_reference_files_cover_what_they_claim():
    assert len(FC_CONFIGS) == 148
    assert {"tanh", "softplus"} <= {c["activation"] for c in FC_CONFIGS}
    base, base_arrays = CONV_FILES["conv_public"]
    assert {c["architecture"] for c in base} == {"gap", "myrtle"}
    assert base_arrays["x1"].shape[1:] == (8, 8, 3)
    ext, ext_arrays = CONV_FILES["conv_public_ext"]
    assert len(ext) == 22
    assert ext_arrays["x1"].shape[1:] == ext_arrays["x2"].shape[1:] == (8, 12, 2)  # non-square
    myrtle = {(c["depth"], c["activation"], c["bias_std"] > 0) for c in ext if c["depth"] >= 5}
    for depth in (5, 7, 10):
        for act in ("relu", "gelu", "erf", "normalized_gaussian"):
            assert (depth, act, False) in myrtle or (depth, act, True) in myrtle
        assert (depth, "relu", True) in myrtle and (depth, "relu", False) in myrtle
    gap_filters = {c["filter_size"] for c in ext if c["architecture"] == "gap"}
    assert gap_filters == {1, 5, 7}


# ----------------------------------------------------------------------------------------------
# Pure-SciPy fully connected recursion (independent of skntk)
# ----------------------------------------------------------------------------------------------

_INV_2PI = 1.0 / (2.0 * math.pi)
_WINDOW = 12.0


def _softplus(t):
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


SCIPY_ACTIVATIONS = {
    "tanh": (math.tanh, lambda t: 1.0 - math.tanh(t) ** 2),
    "softplus": (_softplus, lambda t: float(expit(t))),
}


def _quad_1d(fn, q):
    """``E[fn(u)]``, ``u ~ N(0, q)``, by ``scipy.integrate.quad``."""
    s = math.sqrt(q)
    val, _ = integrate.quad(
        lambda g: fn(s * g) * math.exp(-0.5 * g * g),
        -_WINDOW,
        _WINDOW,
        epsabs=1e-14,
        epsrel=1e-12,
        limit=200,
    )
    return val / math.sqrt(2.0 * math.pi)


def _dblquad(f, q_xx, q_yy, q_xy):
    """``E[f(u) f(v)]`` by ``scipy.integrate.dblquad`` (smooth ``f`` only)."""
    sx, sy = math.sqrt(q_xx), math.sqrt(q_yy)
    rho = q_xy / (sx * sy)
    c = math.sqrt(1.0 - rho * rho)
    val, _ = integrate.dblquad(
        lambda g2, g1: (
            f(sx * g1) * f(sy * (rho * g1 + c * g2)) * math.exp(-0.5 * (g1 * g1 + g2 * g2))
        ),
        -_WINDOW,
        _WINDOW,
        -_WINDOW,
        _WINDOW,
        epsabs=1e-13,
        epsrel=1e-11,
    )
    return val * _INV_2PI


def scipy_fc_kernels(x, y, depth, activation, weight_std, bias_std):
    """NNGP and NTK of ``x, y`` for depths ``1..depth`` by the DESIGN.md recursion.

    Diagonal pairs (``x is y``) use one-dimensional ``quad``; others ``dblquad``.
    """
    f, df = SCIPY_ACTIVATIONS[activation]
    w2, b2 = weight_std**2, bias_std**2
    d = x.size
    same = y is x
    q_xx, q_yy, q_xy = x @ x / d, y @ y / d, x @ y / d
    T = 0.0
    out = []
    for _ in range(depth):
        q_xx, q_yy, q_xy = w2 * q_xx + b2, w2 * q_yy + b2, w2 * q_xy + b2  # Dense
        T = q_xy + w2 * T
        if same:
            new_xy = _quad_1d(lambda t: f(t) ** 2, q_xx)
            T *= _quad_1d(lambda t: df(t) ** 2, q_xx)
        else:
            new_xy = _dblquad(f, q_xx, q_yy, q_xy)
            T *= _dblquad(df, q_xx, q_yy, q_xy)
        q_xy = new_xy
        q_xx = _quad_1d(lambda t: f(t) ** 2, q_xx)
        q_yy = q_xx if same else _quad_1d(lambda t: f(t) ** 2, q_yy)
        readout = w2 * q_xy + b2
        out.append((readout, readout + w2 * T))
    return out


SQRT2 = math.sqrt(2.0)
# (activation, W, b, reference keys of depth 1 and 2)
SCIPY_CASES = [
    ("tanh", SQRT2, 0.0, ("c131", "c134")),
    ("tanh", 1.3, 0.4, ("c132", "c135")),
    ("softplus", SQRT2, 0.0, ("c140", "c143")),
    ("softplus", 1.3, 0.4, ("c141", "c144")),
]
# Pairs (row of x1, "x1"/"x2", row): x1[3] has the largest norm (the hardest quadrature).
SCIPY_PAIRS = [(3, "x1", 3), (0, "x2", 1), (3, "x2", 0)]


@pytest.mark.parametrize("pair", SCIPY_PAIRS, ids=lambda p: f"x1[{p[0]}]-{p[1]}[{p[2]}]")
@pytest.mark.parametrize("case", SCIPY_CASES, ids=lambda c: f"{c[0]}-W{c[1]:.2f}-b{c[2]}")
def test_fc_kernel_matches_scipy_recursion(case, pair):
    """Adaptive ``scipy.integrate`` quadrature checks both skntk and the reference file's own
    (fixed-rule) quadrature for tanh and softplus: three independent evaluations agree."""
    activation, w, b, keys = case
    i, other, j = pair
    x1 = FC_ARRAYS["x1"]
    x = x1[i]
    y = x if other == "x1" and i == j else FC_ARRAYS[other][j]
    expected = scipy_fc_kernels(x, y, 2, activation, w, b)
    tag = "11" if other == "x1" else "12"
    for depth, (nngp, ntk) in enumerate(expected, start=1):
        kw = dict(depth=depth, activation=activation, weight_std=w, bias_std=b)
        got_nngp = nngp_kernel(x[None], y[None], **kw)[0, 0]
        got_ntk = ntk_kernel(x[None], y[None], **kw)[0, 0]
        # observed <= 3.4e-12 (softplus, W = sqrt(2), depth 2, x1[3] with itself)
        np.testing.assert_allclose([got_nngp, got_ntk], [nngp, ntk], rtol=1e-11)
        # The reference file's quadrature: observed <= 2.0e-11 (tanh depth-2 diagonal).
        key = keys[depth - 1]
        ref_nngp = FC_ARRAYS[f"{key}_nngp{tag}"][i, j]
        ref_ntk = FC_ARRAYS[f"{key}_ntk{tag}"][i, j]
        np.testing.assert_allclose([ref_nngp, ref_ntk], [nngp, ntk], rtol=5e-11)


def test_callable_activation_kernel_matches_quadrature(gauss_quad):
    """``np.arctan`` with its derivative: depth-1 NNGP and NTK by nested quadrature."""

    def darctan(t):
        return 1.0 / (1.0 + np.asarray(t, dtype=np.float64) ** 2)

    act = get_activation(np.arctan, derivative=darctan)
    rng = np.random.RandomState(3)
    X = rng.randn(2, 4)
    w, b = 1.2, 0.3
    K = nngp_kernel(X, activation=act, weight_std=w, bias_std=b)
    T = ntk_kernel(X, activation=act, weight_std=w, bias_std=b)
    q = w * w * (X @ X.T) / 4 + b * b
    f, df = gauss_quad.scalar(np.arctan), gauss_quad.scalar(darctan)
    for i, j in [(0, 1), (1, 1)]:
        args = (q[i, i], q[j, j], q[i, j])
        nngp = w * w * gauss_quad.pair_expectation(f, f, *args) + b * b
        ntk = nngp + w * w * q[i, j] * gauss_quad.pair_expectation(df, df, *args)
        np.testing.assert_allclose(K[i, j], nngp, rtol=1e-8)
        np.testing.assert_allclose(T[i, j], ntk, rtol=1e-8)


# ----------------------------------------------------------------------------------------------
# Closed forms (DESIGN.md section 1)
# ----------------------------------------------------------------------------------------------


def _relu_depth1(X, Y):
    d = X.shape[1]
    nx, ny = np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1)
    cos = np.clip((X @ Y.T) / np.outer(nx, ny), -1.0, 1.0)
    t = np.arccos(cos)
    nngp = np.outer(nx, ny) / (2 * np.pi * d) * (np.sin(t) + (np.pi - t) * cos)
    ntk = nngp + (X @ Y.T) / d * (np.pi - t) / (2 * np.pi)
    return nngp, ntk


def test_relu_depth1_closed_form():
    rng = np.random.RandomState(0)
    X, Y = rng.randn(7, 6) * rng.uniform(0.2, 3.0, (7, 1)), rng.randn(5, 6)
    Y[0] = -X[0]  # antiparallel pair: t = pi
    Y[1] = 2.5 * X[1]  # parallel pair: t = 0
    nngp, ntk = _relu_depth1(X, Y)
    # The angle of a (nearly) parallel or antiparallel pair is only determined to ~sqrt(eps)
    # by the rounded covariances (S = sqrt(q_xx q_yy - q_xy^2) cancels), so those entries are
    # exact only up to ~1e-8 of the kernel's scale.
    atol = 1e-7 * np.abs(ntk).max()
    np.testing.assert_allclose(nngp_kernel(X, Y), nngp, rtol=1e-10, atol=atol)
    np.testing.assert_allclose(ntk_kernel(X, Y), ntk, rtol=1e-10, atol=atol)
    # Without bias, ReLU is 1-homogeneous: W scales both kernels by W^4 at depth 1.
    np.testing.assert_allclose(
        nngp_kernel(X, Y, weight_std=2.0), 16 * nngp, rtol=1e-10, atol=16 * atol
    )
    np.testing.assert_allclose(
        ntk_kernel(X, Y, weight_std=2.0), 16 * ntk, rtol=1e-10, atol=16 * atol
    )


def test_erf_depth1_closed_form():
    # Williams (1997): arcsine kernel; with bias, q = W^2 <x,y>/d + b^2.
    rng = np.random.RandomState(1)
    X = rng.randn(5, 3)
    w, b = 1.3, 0.4
    q = w * w * (X @ X.T) / 3 + b * b
    dg = np.diag(q)
    nngp = w * w * (2 / np.pi) * np.arcsin(2 * q / np.sqrt(np.outer(1 + 2 * dg, 1 + 2 * dg)))
    nngp += b * b
    deriv = (4 / np.pi) / np.sqrt(np.outer(1 + 2 * dg, 1 + 2 * dg) - 4 * q * q)
    ntk = nngp + w * w * q * deriv
    kw = dict(activation="erf", weight_std=w, bias_std=b)
    np.testing.assert_allclose(nngp_kernel(X, **kw), nngp, rtol=1e-12)
    np.testing.assert_allclose(ntk_kernel(X, **kw), ntk, rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Monte Carlo: explicit finite-width networks (NTK parameterization)
# ----------------------------------------------------------------------------------------------


def _mc_inputs():
    rng = np.random.RandomState(7)
    X = rng.randn(4, 5)
    X[1] *= 2.0
    X[2] = -0.6 * X[0] + 0.3 * rng.randn(5)  # negatively correlated pair
    return X


ACT_FUNCTIONS = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
    "erf": (erf, lambda z: 2.0 / np.sqrt(np.pi) * np.exp(-z * z)),
}


def _hidden(X, weights, act, w, b):
    """Hidden activations ``h_depth`` of ``z = (W / sqrt(fan_in)) h @ V + b beta``."""
    h = X
    for V, beta in weights:
        h = act(w / np.sqrt(h.shape[1]) * h @ V + b * beta)
    return h


MC_CASES = [("relu", SQRT2, 0.0), ("erf", 1.2, 0.3)]


@pytest.fixture(scope="module")
def mc_networks():
    """Shared random weights: ``n_nets`` networks of width 2000 and depth up to 2."""
    rng = np.random.default_rng(2024)
    width, n_deep, n_shallow = 2000, 30, 200
    X = _mc_inputs()
    nets = []
    for k in range(n_shallow):
        layers = [(rng.standard_normal((X.shape[1], width)), rng.standard_normal(width))]
        if k < n_deep:
            layers.append((rng.standard_normal((width, width)), rng.standard_normal(width)))
        readout = (rng.standard_normal(width), rng.standard_normal())
        nets.append((layers, readout))
    return X, width, nets


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("case", MC_CASES, ids=lambda c: f"{c[0]}-W{c[1]:.2f}-b{c[2]}")
def test_nngp_matches_random_networks(case, depth, mc_networks):
    """The NNGP is ``E[f(x) f(y)]`` over random networks with a width-1 readout.

    Two estimators: the mean of ``f(x) f(y)`` itself (noisy: its standard deviation is O(K)),
    and its exact average over the Gaussian readout weights given the hidden layer,
    ``W^2 <h(x), h(y)> / width + b^2`` (Rao-Blackwellized, standard deviation O(K / sqrt(width))).
    Finite width biases depth >= 2 by O(1/width); depth 1 is unbiased.
    """
    name, w, b = case
    act = ACT_FUNCTIONS[name][0]
    X, width, nets = mc_networks
    nets = [n for n in nets if len(n[0]) >= depth]
    products, conditional = [], []
    for layers, (v, beta) in nets:
        h = _hidden(X, layers[:depth], act, w, b)
        f = w / np.sqrt(width) * h @ v + b * beta
        products.append(np.outer(f, f))
        conditional.append(w * w * (h @ h.T) / width + b * b)
    K = nngp_kernel(X, depth=depth, activation=name, weight_std=w, bias_std=b)
    scale = np.sqrt(np.outer(np.diag(K), np.diag(K)))
    bias = 0.0 if depth == 1 else 3.0 / width * scale
    for samples in (np.array(conditional), np.array(products)):
        mean = samples.mean(axis=0)
        se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
        assert np.all(np.abs(mean - K) <= 4 * se + bias), (mean, K, se)
    # The Rao-Blackwellized estimate is also tight in absolute terms.
    assert np.all(np.abs(np.mean(conditional, axis=0) - K) <= 0.02 * scale)


def _mlp_jacobian(X, V1, beta1, v, w, b, act, dact):
    """Output and Jacobian of ``f = (w/sqrt(n)) act(z) @ v + b beta_out``,
    ``z = (w/sqrt(d)) X @ V1 + b beta1``, with respect to ``(V1, beta1, v, beta_out)``."""
    n_points, d = X.shape
    n = V1.shape[1]
    z = w / np.sqrt(d) * X @ V1 + b * beta1
    h, g = act(z), dact(z)
    f = w / np.sqrt(n) * h @ v  # + b * beta_out (its value is irrelevant to J)
    back = w / np.sqrt(n) * g * v  # df/dz, (n_points, n)
    dV1 = (w / np.sqrt(d)) * X[:, :, None] * back[:, None, :]  # (n_points, d, n)
    J = np.concatenate(
        [
            dV1.reshape(n_points, d * n),
            b * back,
            w / np.sqrt(n) * h,
            np.full((n_points, 1), b),
        ],
        axis=1,
    )
    return f, J


def test_mlp_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4))
    V1, beta1, v = rng.standard_normal((4, 6)), rng.standard_normal(6), rng.standard_normal(6)
    w, b = 1.3, 0.4
    act, dact = np.tanh, lambda z: 1 - np.tanh(z) ** 2
    f0, J = _mlp_jacobian(X, V1, beta1, v, w, b, act, dact)
    params = [V1, beta1, v]
    eps = 1e-6
    col = 0
    for p in params:
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            fp, _ = _mlp_jacobian(X, V1, beta1, v, w, b, act, dact)
            p[idx] = old - eps
            fm, _ = _mlp_jacobian(X, V1, beta1, v, w, b, act, dact)
            p[idx] = old
            np.testing.assert_allclose(J[:, col], (fp - fm) / (2 * eps), rtol=1e-6, atol=1e-9)
            col += 1
    assert col == J.shape[1] - 1  # the last column is df/dbeta_out = b
    np.testing.assert_allclose(J[:, -1], b)


@pytest.mark.parametrize("case", MC_CASES, ids=lambda c: f"{c[0]}-W{c[1]:.2f}-b{c[2]}")
def test_ntk_matches_empirical_ntk_of_wide_networks(case):
    """Depth 1: the mean empirical NTK ``J J^T`` of width-4000 networks (unbiased)."""
    name, w, b = case
    act, dact = ACT_FUNCTIONS[name]
    X = _mc_inputs()
    rng = np.random.default_rng(11)
    width, n_nets = 4000, 12
    samples = []
    for _ in range(n_nets):
        V1 = rng.standard_normal((X.shape[1], width))
        beta1, v = rng.standard_normal(width), rng.standard_normal(width)
        _, J = _mlp_jacobian(X, V1, beta1, v, w, b, act, dact)
        samples.append(J @ J.T)
    samples = np.array(samples)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(n_nets)
    K = ntk_kernel(X, depth=1, activation=name, weight_std=w, bias_std=b)
    scale = np.sqrt(np.outer(np.diag(K), np.diag(K)))
    assert np.all(np.abs(mean - K) <= 4 * se + 1e-3 * scale), (mean, K, se)
    assert np.all(np.abs(mean - K) <= 0.03 * scale)


# ----------------------------------------------------------------------------------------------
# Structural properties
# ----------------------------------------------------------------------------------------------

PSD_ACTIVATIONS = [
    "relu",
    "erf",
    "gelu",
    "tanh",
    "abs",
    NormalizedGaussian(gamma=2.0),
    Elu(alpha=0.5),
    "sin",
]


def _assert_psd(K, what):
    np.testing.assert_allclose(K, K.T, rtol=1e-12, atol=1e-14 * np.abs(K).max())
    eig = np.linalg.eigvalsh(0.5 * (K + K.T))
    assert eig.min() >= -1e-8 * eig.max(), (what, eig.min(), eig.max())


@pytest.mark.parametrize("activation", PSD_ACTIVATIONS, ids=str)
def test_fc_kernels_symmetric_psd(activation):
    rng = np.random.RandomState(4)
    X = rng.randn(12, 4) * rng.uniform(0.3, 2.0, (12, 1))
    X[5] = 1.001 * X[4]  # nearly parallel rows
    for depth, w, b in [(1, 1.0, 0.0), (3, 1.3, 0.4)]:
        kw = dict(depth=depth, activation=activation, weight_std=w, bias_std=b)
        _assert_psd(nngp_kernel(X, **kw), ("nngp", activation, depth))
        _assert_psd(ntk_kernel(X, **kw), ("ntk", activation, depth))


@pytest.mark.parametrize(
    ("architecture", "depth", "activation"),
    [("gap", 2, "relu"), ("gap", 1, "erf"), ("gap", 2, "tanh"), ("myrtle", 5, "relu")],
)
def test_conv_kernels_symmetric_psd(architecture, depth, activation):
    rng = np.random.RandomState(5)
    X = rng.randn(6, 4, 4, 2)
    kw = dict(architecture=architecture, depth=depth, activation=activation, bias_std=0.2)
    _assert_psd(cnngp_kernel(X, **kw), ("cnngp", architecture, activation))
    _assert_psd(cntk_kernel(X, **kw), ("cntk", architecture, activation))


@pytest.mark.parametrize("fn", [nngp_kernel, ntk_kernel])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sin"])
def test_fc_block_consistency(fn, activation):
    rng = np.random.RandomState(6)
    X, Y = rng.randn(5, 3), 1.7 * rng.randn(4, 3)
    kw = dict(depth=2, activation=activation, weight_std=1.2, bias_std=0.3)
    full = fn(np.vstack([X, Y]), **kw)
    np.testing.assert_allclose(fn(X, Y, **kw), full[:5, 5:], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fn(Y, X, **kw), full[5:, :5], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fn(X, **kw), full[:5, :5], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fn(X, X, **kw), full[:5, :5], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fn", [cnngp_kernel, cntk_kernel])
def test_conv_block_consistency(fn):
    rng = np.random.RandomState(8)
    X, Y = rng.randn(3, 4, 4, 2), rng.randn(2, 4, 4, 2)
    kw = dict(depth=2, activation="erf", weight_std=1.2, bias_std=0.3)
    full = fn(np.concatenate([X, Y]), **kw)
    np.testing.assert_allclose(fn(X, Y, **kw), full[:3, 3:], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fn(Y, X, **kw), full[3:, :3], rtol=1e-12, atol=1e-14)


def test_blocking_and_threads_do_not_change_results(monkeypatch):
    rng = np.random.RandomState(9)
    X, Y = rng.randn(9, 3), rng.randn(7, 3)
    imgs = rng.randn(5, 4, 4, 2)
    kw = dict(depth=2, activation="gelu", bias_std=0.2)
    fc = [nngp_kernel(X, Y, **kw), ntk_kernel(X, **kw)]
    conv = [cnngp_kernel(imgs, imgs[:3], **kw), cntk_kernel(imgs, **kw)]
    monkeypatch.setattr(kernels_module, "_MAX_BLOCK_ENTRIES", 1)  # one row/pair per block
    for n_jobs in (None, 2):
        kw["n_jobs"] = n_jobs
        np.testing.assert_allclose(nngp_kernel(X, Y, **kw), fc[0], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(ntk_kernel(X, **kw), fc[1], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(cnngp_kernel(imgs, imgs[:3], **kw), conv[0], rtol=1e-14)
        np.testing.assert_allclose(cntk_kernel(imgs, **kw), conv[1], rtol=1e-14)


@pytest.mark.parametrize("depth", [1, 2])
def test_conv_with_1x1_filters_is_mean_of_pixel_fc_kernels(depth):
    """With ``filter_size=1`` pixels never mix: the gap network's kernel is the mean over pixel
    pairs ``(p, p')`` of the fully connected kernel of the pixel vectors (``d = C``)."""
    rng = np.random.RandomState(10)
    X, Y = rng.randn(3, 2, 3, 4), rng.randn(2, 2, 3, 4)
    kw = dict(depth=depth, activation="erf", weight_std=1.2, bias_std=0.3)
    conv_nngp = cnngp_kernel(X, Y, filter_size=1, **kw)
    conv_ntk = cntk_kernel(X, Y, filter_size=1, **kw)
    px, py = X.reshape(3 * 6, 4), Y.reshape(2 * 6, 4)
    fc_nngp = nngp_kernel(px, py, **kw).reshape(3, 6, 2, 6).mean(axis=(1, 3))
    fc_ntk = ntk_kernel(px, py, **kw).reshape(3, 6, 2, 6).mean(axis=(1, 3))
    np.testing.assert_allclose(conv_nngp, fc_nngp, rtol=1e-12)
    np.testing.assert_allclose(conv_ntk, fc_ntk, rtol=1e-12)


def test_conv_kernel_invariances():
    """Zero SAME padding is symmetric: flipping or transposing all images keeps the kernel."""
    rng = np.random.RandomState(11)
    X = rng.randn(3, 5, 5, 2)
    kw = dict(depth=2, activation="relu", bias_std=0.2)
    K = cntk_kernel(X, **kw)
    np.testing.assert_allclose(cntk_kernel(X[:, ::-1], **kw), K, rtol=1e-12)
    np.testing.assert_allclose(cntk_kernel(X[:, :, ::-1], **kw), K, rtol=1e-12)
    np.testing.assert_allclose(cntk_kernel(X.transpose(0, 2, 1, 3), **kw), K, rtol=1e-12)
    # ... but a generic pixel permutation changes it (the test can fail).
    perm = rng.permutation(25)
    Xp = X.reshape(3, 25, 2)[:, perm].reshape(3, 5, 5, 2)
    assert not np.allclose(cntk_kernel(Xp, **kw), K, rtol=1e-6)


def test_fc_kernel_depends_only_on_gram():
    """Rotating all inputs leaves the FC kernels unchanged."""
    rng = np.random.RandomState(12)
    X = rng.randn(5, 4)
    Q, _ = np.linalg.qr(rng.randn(4, 4))
    kw = dict(depth=2, activation="gelu", weight_std=1.1, bias_std=0.2)
    np.testing.assert_allclose(ntk_kernel(X @ Q, **kw), ntk_kernel(X, **kw), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------


def _nan_at(X, value=np.nan):
    X = X.copy()
    X[0, 0] = value
    return X


_X = np.random.RandomState(13).randn(4, 3)
_IMGS = np.random.RandomState(14).randn(3, 4, 4, 2)

FC_ERRORS = [
    ((_nan_at(_X),), {}, ValueError, "NaN"),
    ((_X, _nan_at(_X, np.inf)), {}, ValueError, "infinity"),
    ((_X, _X[:, :2]), {}, ValueError, "same number of features"),
    ((_X[0],), {}, ValueError, "2D array"),
    ((np.array([["a", "b"], ["c", "d"]]),), {}, ValueError, "string"),
    ((np.zeros((0, 3)),), {}, ValueError, "0 sample"),
    ((_X,), {"depth": 0}, ValueError, "depth"),
    ((_X,), {"depth": -1}, ValueError, "depth"),
    ((_X,), {"depth": 2.0}, ValueError, "depth"),
    ((_X,), {"depth": 1.5}, ValueError, "depth"),
    ((_X,), {"depth": "2"}, ValueError, "depth"),
    ((_X,), {"activation": "nope"}, ValueError, "unknown activation"),
    ((_X,), {"activation": 3}, TypeError, "activation"),
    ((_X,), {"weight_std": -1.0}, ValueError, "weight_std"),
    ((_X,), {"bias_std": -0.1}, ValueError, "bias_std"),
    ((_X,), {"bias_std": np.inf}, ValueError, "bias_std"),
    ((_X,), {"weight_std": "1"}, ValueError, "weight_std"),
]


@pytest.mark.parametrize("fn", [nngp_kernel, ntk_kernel])
@pytest.mark.parametrize(("args", "kwargs", "exc", "match"), FC_ERRORS)
def test_fc_input_validation(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


CONV_ERRORS = [
    ((_IMGS.reshape(3, -1),), {}, ValueError, "image_shape"),
    ((_IMGS.reshape(3, -1),), {"image_shape": (4, 4, 3)}, ValueError, "image_shape"),
    ((_IMGS,), {"image_shape": (4, 2, 4)}, ValueError, "image_shape"),
    ((_IMGS.reshape(3, -1),), {"image_shape": (4, 4)}, ValueError, "image_shape"),
    ((_IMGS[0],), {}, ValueError, "4-D"),
    ((_IMGS[None],), {}, ValueError, "4-D"),
    ((_IMGS, _IMGS[:, :2]), {}, ValueError, "shape"),
    ((_IMGS, _IMGS[..., :1]), {}, ValueError, "shape"),
    ((_IMGS,), {"filter_size": 2}, ValueError, "filter_size"),
    ((_IMGS,), {"filter_size": 0}, ValueError, "filter_size"),
    ((_IMGS,), {"architecture": "myrtle", "depth": 3}, ValueError, "myrtle depth"),
    ((_IMGS,), {"architecture": "resnet"}, ValueError, "architecture"),
    ((_IMGS,), {"depth": 0}, ValueError, "depth"),
    ((_IMGS,), {"activation": "nope"}, ValueError, "unknown activation"),
    ((_IMGS,), {"weight_std": -1.0}, ValueError, "weight_std"),
    ((np.where(_IMGS > 0, "a", "b"),), {}, ValueError, "numbers"),
    ((np.where(_IMGS > 0, np.nan, 1.0),), {}, ValueError, "NaN"),
    ((sp.csr_matrix(_IMGS.reshape(3, -1)),), {"image_shape": (4, 4, 2)}, TypeError, "sparse"),
]


@pytest.mark.parametrize("fn", [cnngp_kernel, cntk_kernel])
@pytest.mark.parametrize(("args", "kwargs", "exc", "match"), CONV_ERRORS)
def test_conv_input_validation(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


ZERO_ROW_ACTIVATIONS = [
    "relu",
    "erf",
    "tanh",
    "gelu",
    "softplus",
    "sin",
    "normalized_gaussian",
    Elu(alpha=0.5),
    "gabor",
    "rectified_monomial",
]


@pytest.mark.parametrize("activation", ZERO_ROW_ACTIVATIONS, ids=str)
def test_fc_zero_rows_are_the_limit_of_small_rows(activation):
    # a zero row takes the special case q = 0 (s = 0) of every dual: it must be finite and
    # the limit of rows shrinking to zero (every listed activation's kernels are continuous)
    X = np.random.RandomState(15).randn(3, 4)
    X[1] = 0.0
    X_small = X.copy()
    X_small[1] = 1e-7 * np.random.RandomState(16).randn(4)
    for b in (0.0, 0.4):
        kw = dict(depth=2, activation=activation, bias_std=b)
        for fn in (nngp_kernel, ntk_kernel):
            K = fn(X, **kw)
            assert np.all(np.isfinite(K)), (fn.__name__, b, K)
            _assert_psd(K, (fn.__name__, activation))
            np.testing.assert_allclose(
                K, fn(X_small, **kw), rtol=0, atol=1e-5 * np.abs(K).max(), err_msg=fn.__name__
            )


def test_zero_rows_exact_values():
    # q = 0 at the zero row: relu(0) = 0 so without bias its whole row and column vanish;
    # erf with c = 0.5 gives E[act(0) act(v)] = 0.5 E[act(v)] = 0.25, readout W^2 * 0.25.
    X = np.random.RandomState(16).randn(3, 4)
    X[0] = 0.0
    for fn in (nngp_kernel, ntk_kernel):
        K = fn(X, depth=2)
        np.testing.assert_array_equal(K[0], 0.0)
        np.testing.assert_array_equal(K[:, 0], 0.0)
    K = nngp_kernel(X, depth=1, activation=Erf(a=1.0, b=1.0, c=0.5), weight_std=1.5)
    np.testing.assert_allclose(K[0], 1.5**2 * 0.25, rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh", "normalized_gaussian"])
def test_conv_zero_images_are_the_limit_of_small_images(activation):
    X = np.random.RandomState(17).randn(3, 4, 4, 2)
    X[0] = 0.0
    X[1, :2] = 0.0  # partly zero image
    X_small = X.copy()
    X_small[0] = 1e-7 * np.random.RandomState(18).randn(4, 4, 2)
    X_small[1, :2] = 1e-7 * np.random.RandomState(19).randn(2, 4, 2)
    for fn in (cnngp_kernel, cntk_kernel):
        K = fn(X, depth=2, activation=activation)
        assert np.all(np.isfinite(K)), (fn.__name__, K)
        _assert_psd(K, (fn.__name__, activation))
        np.testing.assert_allclose(
            K,
            fn(X_small, depth=2, activation=activation),
            rtol=0,
            atol=1e-5 * np.abs(K).max(),
            err_msg=fn.__name__,
        )


@pytest.mark.parametrize("fn", [nngp_kernel, ntk_kernel])
def test_fc_dtypes(fn):
    X = np.random.RandomState(18).randn(5, 3)
    K64 = fn(X, depth=2, activation="tanh")
    K32 = fn(X.astype(np.float32), depth=2, activation="tanh")
    assert K64.dtype == np.float64 and K32.dtype == np.float32
    np.testing.assert_allclose(K32, K64, rtol=1e-5)
    assert fn(X.astype(np.float32), X, depth=2).dtype == np.float64
    assert fn(np.round(3 * X).astype(np.int64), depth=2).dtype == np.float64
    np.testing.assert_allclose(fn(X.tolist(), depth=2), fn(X, depth=2), rtol=1e-15)


@pytest.mark.parametrize("fn", [cnngp_kernel, cntk_kernel])
def test_conv_dtypes(fn):
    X = np.random.RandomState(19).randn(3, 4, 4, 2)
    K64 = fn(X, depth=2)
    K32 = fn(X.astype(np.float32), depth=2)
    assert K64.dtype == np.float64 and K32.dtype == np.float32
    np.testing.assert_allclose(K32, K64, rtol=1e-5)
    assert fn(X.astype(np.float32), X, depth=2).dtype == np.float64


@pytest.mark.parametrize("fn", [nngp_kernel, ntk_kernel])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_fc_sparse_equals_dense(fn, fmt):
    rng = np.random.RandomState(20)
    X = rng.randn(6, 8) * (rng.rand(6, 8) < 0.3)
    X[2] = 0.0  # an empty sparse row
    Y = rng.randn(4, 8) * (rng.rand(4, 8) < 0.5)
    S, T = sp.csr_matrix(X).asformat(fmt), sp.csr_matrix(Y).asformat(fmt)
    kw = dict(depth=2, activation="erf", bias_std=0.3)
    dense = fn(X, Y, **kw)
    np.testing.assert_allclose(fn(S, T, **kw), dense, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fn(S, Y, **kw), dense, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fn(S, **kw), fn(X, **kw), rtol=1e-13, atol=1e-15)
    assert fn(S.astype(np.float32), **kw).dtype == np.float32


@pytest.mark.parametrize("fn", [cnngp_kernel, cntk_kernel])
def test_conv_flat_images_equal_4d(fn):
    rng = np.random.RandomState(21)
    X, Y = rng.randn(3, 4, 5, 2), rng.randn(2, 4, 5, 2)
    kw = dict(depth=2, activation="relu", bias_std=0.1)
    K = fn(X, Y, **kw)
    flat_x, flat_y = X.reshape(3, -1), Y.reshape(2, -1)  # row-major (H, W, C)
    np.testing.assert_allclose(fn(flat_x, flat_y, image_shape=(4, 5, 2), **kw), K, rtol=1e-14)
    np.testing.assert_allclose(fn(flat_x, Y, image_shape=(4, 5, 2), **kw), K, rtol=1e-14)
    np.testing.assert_allclose(fn(X, Y, image_shape=(4, 5, 2), **kw), K, rtol=1e-14)
    # A wrong layout is not silently accepted as the same kernel.
    Xt = X.transpose(0, 3, 1, 2).reshape(3, -1)  # NCHW flattening
    assert not np.allclose(fn(Xt, flat_y, image_shape=(4, 5, 2), **kw), K)


def test_layers_are_value_objects():
    """Layers compare, hash, pickle and print by their parameters, like activations, so
    parameter lists holding them survive ``clone``, ``GridSearchCV`` and pickle."""
    import pickle

    from sklearn.base import clone

    from skntk import activations, architectures
    from skntk.architectures import AvgPool, Conv, Dense, GlobalAvgPool, Nonlinearity

    layers = [Conv(5, 1.3, 0.2), Nonlinearity("relu"), AvgPool(), GlobalAvgPool(), Dense(1.5)]
    again = [Conv(5, 1.3, 0.2), Nonlinearity("relu"), AvgPool(), GlobalAvgPool(), Dense(1.5)]
    assert layers == again and len(set(layers + again)) == len(layers)
    assert Conv(3) != Conv(5) and Dense() != Conv(1) and Nonlinearity("relu") != Nonlinearity("erf")
    namespace = {**vars(activations), **vars(architectures)}
    assert [eval(repr(layer), namespace) for layer in layers] == layers
    assert pickle.loads(pickle.dumps(layers)) == layers
    assert clone(layers, safe=False) == layers
    assert layers[0].get_params() == {"filter_size": 5, "weight_std": 1.3, "bias_std": 0.2}
