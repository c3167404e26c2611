"""Scores of approximate kernel matrices, and trivial baselines built from the exact kernel.

A sketch's Gram matrix ``G = Z Z^T`` is scored against the exact kernel ``K`` twice:

- raw: ``||G - K||_F / ||K||_F``;
- centred: ``||H (G - K) H||_F / ||H K H||_F`` with ``H = I - 11^T/n``. This is the part of the
  kernel a model with an intercept sees; on data such as digits a large common mode dominates
  ``K`` and hides errors (a bias) in the raw score.

An accuracy test has power only if trivial approximations fail it. The baselines here are built
from the exact kernel itself (a best case for them):

- ``rank1``: the best rank-1 approximation of ``K`` (its top eigenpair);
- ``diag_const``: the exact diagonal plus the best constant off the diagonal (their mean);
- ``dot_norm``: the least-squares fit ``a |x||y|/d + b <x, y>/d`` (inputs ``X`` needed).

:func:`seed_mean_ratio` checks unbiasedness on the centred kernel: the centred error of the mean
of ``s`` seeds' Gram matrices over the mean per-seed centred error, ``1/sqrt(s)`` for an unbiased
sketch, and higher under a bias.

:func:`gelu_zero_row_kernel` is the closed form of the kernel of a zero input row (GeLU, with
bias), for the zero-row tests of several estimators.

Nothing here imports skntk. ``SLOW_MARKS`` (``pytest.param(..., marks=SLOW_MARKS)``) and
:func:`slow` (a decorator) mark the long statistical versions, which run with
``SKNTK_SLOW_TESTS=1``.
"""

import os

import numpy as np
import pytest
from scipy.special import ndtr

SLOW = bool(os.environ.get("SKNTK_SLOW_TESTS"))
SLOW_MARKS = (
    pytest.mark.slow,
    pytest.mark.skipif(not SLOW, reason="long statistical version: set SKNTK_SLOW_TESTS=1"),
)


def slow(test):
    """Decorator: run ``test`` only with ``SKNTK_SLOW_TESTS=1``."""
    for mark in SLOW_MARKS:
        test = mark(test)
    return test


def _gram(Z_or_G, K):
    """``Z Z^T``, or the argument itself if it is already a (symmetric) Gram matrix."""
    A = np.asarray(Z_or_G, dtype=np.float64)
    if A.shape == K.shape and np.allclose(A, A.T):
        return A
    return A @ A.T


def centre(K):
    """``H K H``: rows and columns of ``K`` with their means removed."""
    K = np.asarray(K, dtype=np.float64)
    K = K - K.mean(axis=0, keepdims=True)
    return K - K.mean(axis=1, keepdims=True)


def raw_error(Z_or_G, K):
    """``||G - K||_F / ||K||_F`` with ``G = Z Z^T`` (or ``G`` given as a square matrix)."""
    return float(np.linalg.norm(_gram(Z_or_G, K) - K) / np.linalg.norm(K))


def centred_error(Z_or_G, K):
    """``||H (G - K) H||_F / ||H K H||_F``."""
    return float(np.linalg.norm(centre(_gram(Z_or_G, K) - K)) / np.linalg.norm(centre(K)))


def errors(Z_or_G, K):
    """``(raw, centred)`` errors."""
    G = _gram(Z_or_G, K)
    return raw_error(G, K), centred_error(G, K)


def rank1_baseline(K):
    """Best rank-1 approximation of the (symmetric) ``K`` in Frobenius norm."""
    w, V = np.linalg.eigh(K)
    i = int(np.argmax(np.abs(w)))
    return w[i] * np.outer(V[:, i], V[:, i])


def diag_const_baseline(K):
    """The exact diagonal, and the mean of the off-diagonal entries everywhere else."""
    n = K.shape[0]
    c = (K.sum() - np.trace(K)) / (n * n - n)
    return np.full_like(K, c) + np.diag(np.diag(K) - c)


def dot_norm_baseline(X, K):
    """Least-squares fit of ``K`` by ``a |x||y|/d + b <x, y>/d`` (two parameters)."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    norms = np.linalg.norm(X, axis=1)
    A = np.stack([np.outer(norms, norms).ravel() / d, (X @ X.T).ravel() / d], axis=1)
    coef = np.linalg.lstsq(A, K.ravel(), rcond=None)[0]
    return (A @ coef).reshape(K.shape)


def baseline_errors(K, X=None):
    """``{name: (raw, centred)}`` of the trivial baselines (``dot_norm`` only when ``X`` is
    given)."""
    out = {"rank1": errors(rank1_baseline(K), K), "diag_const": errors(diag_const_baseline(K), K)}
    if X is not None:
        out["dot_norm"] = errors(dot_norm_baseline(X, K), K)
    return out


def assert_beats_baselines(raw, centred, K, X=None, raw_margin=1.0, centred_margin=1.5):
    """The sketch's raw error times ``raw_margin`` and centred error times ``centred_margin``
    are below those of every baseline."""
    for name, (b_raw, b_cen) in baseline_errors(K, X).items():
        assert raw_margin * raw < b_raw, (name, "raw", raw, b_raw)
        assert centred_margin * centred < b_cen, (name, "centred", centred, b_cen)


def seed_mean_ratio(grams, K):
    """``(mean per-seed centred error, centred error of the mean Gram, their ratio)`` for the
    Gram matrices ``grams`` of independent seeds."""
    per_seed = float(np.mean([centred_error(G, K) for G in grams]))
    of_mean = centred_error(np.mean(grams, axis=0), K)
    return per_seed, of_mean, of_mean / per_seed


def gelu_zero_row_kernel(expectation, want_ntk, depth, b, W=1.0):
    """Closed form of ``k(0, 0)`` for a GeLU network with bias ``b`` (it depends on nothing else).

    Every pre-activation of a zero row is ``u_l ~ N(0, q_l)`` with ``q_1 = b^2`` and
    ``q_{l+1} = W^2 E[gelu(u_l)^2] + b^2``; the NTK follows ``theta_1 = q_1``,
    ``theta_{l+1} = q_{l+1} + W^2 theta_l E[gelu'(u_l)^2]``. ``expectation(fn, q)`` is
    ``E[fn(u)]`` for ``u ~ N(0, q)`` (``gauss_quad.expectation`` of ``conftest.py``).
    """

    def gelu(t):
        return t * ndtr(t)

    def gelu_derivative(t):
        return ndtr(t) + t * np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)

    q = theta = b * b
    for _ in range(depth):
        e_act = expectation(lambda u: gelu(u) ** 2, q)
        e_der = expectation(lambda u: gelu_derivative(u) ** 2, q)
        q, theta = W * W * e_act + b * b, W * W * e_act + b * b + W * W * theta * e_der
    return theta if want_ntk else q
