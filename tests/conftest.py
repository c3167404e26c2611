"""Shared test helpers: independent Gaussian expectations by adaptive SciPy quadrature.

Nothing here uses skntk: these integrals are the ground truth the library is compared with.
The helpers are plain scalar code on purpose (slow but obviously correct): Gaussian
expectations are written out as integrals against the standard normal density, truncated at
``|g| <= 12`` (mass outside below 1e-32; ``|g| <= 9`` for the two-dimensional ones), and split
at the points where an activation may have a kink or a jump (``u = 0`` and ``v = 0``), so that
``scipy.integrate.quad`` sees smooth pieces.
"""

import math
import warnings
from types import SimpleNamespace

import pytest
from _backends import backend, dispatch  # noqa: F401  (fixtures of the array-API tests)
from scipy.integrate import IntegrationWarning, quad
from scipy.special import eval_hermitenorm

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_WINDOW = 12.0
_EPSABS = 1e-14
_EPSREL = 1e-12


def _quad_pieces(fn, breaks, epsabs=_EPSABS, epsrel=_EPSREL):
    """``sum`` of ``quad(fn)`` over consecutive intervals of ``breaks`` (sorted, deduplicated)."""
    pts = sorted(set(breaks))
    total = 0.0
    with warnings.catch_warnings():
        # Roundoff warnings at these tight tolerances are harmless: the results are compared
        # with the library at looser tolerances, so a truly inaccurate integral fails the test.
        warnings.simplefilter("ignore", IntegrationWarning)
        for a, b in zip(pts[:-1], pts[1:], strict=True):
            total += quad(fn, a, b, epsabs=epsabs, epsrel=epsrel, limit=500)[0]
    return total


def scalar(fn):
    """Wrap a vectorized function as a Python-float scalar function."""
    return lambda t: float(fn(t))


def gaussian_expectation(fn, q, window=_WINDOW):
    """``E[fn(u)]`` for ``u ~ N(0, q)`` by ``quad`` (split at ``u = 0``)."""
    s = math.sqrt(q)
    return _quad_pieces(
        lambda g: fn(s * g) * math.exp(-0.5 * g * g) * _INV_SQRT_2PI, (-window, 0.0, window)
    )


def hermite_coefficient(fn, s, l, window=16.0):
    """``E[fn(s g) h_l(g)]`` with ``h_l = He_l / sqrt(l!)`` (SciPy's ``eval_hermitenorm``)."""
    norm = _INV_SQRT_2PI / math.sqrt(math.factorial(l))
    return _quad_pieces(
        lambda g: fn(s * g) * eval_hermitenorm(l, g) * math.exp(-0.5 * g * g) * norm,
        (-window, 0.0, window),
        epsabs=1e-14,
        epsrel=1e-12,
    )


def pair_expectation(f, h, q_xx, q_yy, q_xy, window=9.0):
    """``E[f(u) h(v)]`` for ``(u, v) ~ N(0, [[q_xx, q_xy], [q_xy, q_yy]])`` (nested ``quad``).

    ``u = s_x g1`` and ``v = s_y (rho g1 + c g2)`` with ``c = sqrt(1 - rho^2)``: the outer
    integral over ``g1`` is split at ``u = 0``, the inner one over ``g2`` at ``v = 0``. This is
    ``scipy.integrate.dblquad`` with the kink-aware splits that ``dblquad`` cannot express.
    The window ``|g| <= 9`` leaves out a Gaussian mass of 2e-19 (enough for 1e-8 tests).
    """
    sx, sy = math.sqrt(q_xx), math.sqrt(q_yy)
    rho = min(max(q_xy / (sx * sy), -1.0), 1.0)
    c = math.sqrt(1.0 - rho * rho)

    def inner(g1):
        a, b = sy * rho * g1, sy * c
        breaks = [-window, window]
        if c > 0 and abs(rho * g1 / c) < window:
            breaks.append(-rho * g1 / c)
        return _quad_pieces(
            lambda g2: h(a + b * g2) * math.exp(-0.5 * g2 * g2) * _INV_SQRT_2PI,
            breaks,
            epsabs=1e-12,
            epsrel=1e-10,
        )

    # For nearly parallel pairs the inner integral, as a function of g1, changes over a width
    # ~c around g1 = 0 (a smoothed kink): break the outer range there too.
    outer = [-window, 0.0, window]
    if 0 < c < abs(rho):
        outer += [sgn * k * c / abs(rho) for k in (0.5, 2.0, 8.0) for sgn in (-1, 1)]
    return _quad_pieces(
        lambda g1: f(sx * g1) * math.exp(-0.5 * g1 * g1) * _INV_SQRT_2PI * inner(g1),
        outer,
        epsabs=1e-12,
        epsrel=1e-10,
    )


@pytest.fixture(scope="session")
def gauss_quad():
    """Independent quadrature helpers (see the module docstring)."""
    return SimpleNamespace(
        scalar=scalar,
        expectation=gaussian_expectation,
        hermite_coefficient=hermite_coefficient,
        pair_expectation=pair_expectation,
    )
