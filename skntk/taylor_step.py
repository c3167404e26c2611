"""The one-shot Taylor method: one fused step for a whole fully connected chain.

A chain of Dense layers without bias and activations homogeneous of degree 1 (ReLU family,
normalized Gaussian) has the kernel ``|x| |y| / d kappa(rho)`` with ``rho`` the cosine between
``x`` and ``y``. :func:`plan_taylor` fits ``kappa`` by a nonnegative polynomial
``sum_j a_j rho^j`` (exact at ``rho = 1``, weighted towards the training pairs' cosines) and
sketches it at once: ``phi(x) = |x| / sqrt(d) [sqrt(a_0), sqrt(a_1) Q_1(x^), ...,
sqrt(a_p) Q_p(x^)]`` with ``Q_l`` PolySketches of ``x^ = x / |x|``. The cost does not depend on
the depth.
"""

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._backend import asarray_like, get_namespace, to_numpy
from ._estimator import allocate_with_overhead
from ._subsample import subsample_rows
from ._taylor import cosine_distribution, fit_dot_product_polynomial, normalized_kernel
from .architectures import Dense, Nonlinearity
from .planning import NetworkPlan
from .sketching import SRHT, PolySketch
from .steps import Features, _const, _dense, _full, _hcat, _on, _row_norms, _scale_rows

__all__ = ["TaylorStep", "plan_taylor", "taylor_eligible", "taylor_degree"]

# The common (mean) direction of the unit rows is handled exactly when at least this long.
_MEAN_DIRECTION_MIN = 0.2
# degree="auto": the candidates, smallest first
TAYLOR_DEGREES = (8, 12, 16, 24, 32)


def taylor_eligible(layers):
    """Whether a layer list is a chain the Taylor method can fuse: Dense layers without bias
    and activations homogeneous of degree 1, nothing spatial.

    Examples
    --------
    >>> from skntk.architectures import fully_connected
    >>> from skntk.taylor_step import taylor_eligible
    >>> taylor_eligible(fully_connected(3, "relu")), taylor_eligible(fully_connected(1, "gelu"))
    (True, False)
    """
    return all(
        (isinstance(layer, Dense) and layer.bias_std == 0)
        or (isinstance(layer, Nonlinearity) and layer.activation.homogeneity == 1)
        for layer in layers
    )


@dataclass(frozen=True)
class TaylorStep:
    """The fused Taylor step of a whole fully connected chain.

    Attributes
    ----------
    coefficients : ndarray of shape (degree + 1,)
        The fitted ``a_j >= 0``.
    polynomial_error : float
        Largest ``|sum_j a_j rho^j - kappa(rho)|`` over ``rho`` in [-1, 1].
    degree_dims : list of int
        Columns per degree ``1..p`` (including the exact mean-direction column).
    exact_degrees : list of int
        Degrees represented exactly (1: ``x^`` itself; 2: its ``d(d+1)/2`` symmetric products).
    poly : PolySketch or None
    mean_direction : ndarray or None
        Unit mean direction ``mu`` of the training rows, when pronounced: sketched degrees
        carry the exact ``(x^ . mu)^l`` in one column and sketch only the rest.
    mean_sketch : list of ndarray or None
        ``Q_l(mu)``.
    padding : int
        Zero columns (when every degree is exact and columns are left).

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NTKSketch
    >>> X = np.random.RandomState(0).randn(50, 8)
    >>> step = NTKSketch(512, depth=3, random_state=0).fit(X).plan_.steps[0]
    >>> type(step).__name__, step.degree, bool(step.coefficients.min() >= 0)
    ('TaylorStep', 8, True)
    """

    coefficients: np.ndarray
    polynomial_error: float
    degree_dims: list
    exact_degrees: list
    poly: PolySketch | None
    mean_direction: np.ndarray | None
    mean_sketch: list | None
    padding: int

    @property
    def degree(self):
        return len(self.coefficients) - 1

    def transform(self, feats):
        """``|phi| [sqrt(a_0), sqrt(a_l) blocks_l(phi / |phi|)]`` for input features
        ``phi = x / sqrt(d)``; the result serves as both NNGP and NTK features."""
        phi = feats.phi
        xp = np if sp.issparse(phi) else get_namespace(phi)
        norms = _row_norms(phi)
        inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
        U = _scale_rows(phi, _on(inv, phi))
        coef = self.coefficients
        Q = self.poly.transform(U) if self.poly is not None else []
        like = _dense(U[:1]) if sp.issparse(U) else U
        n, dtype = phi.shape[0], phi.dtype
        if self.mean_direction is not None:
            e = U @ _const(self.mean_direction, like)
            e = asarray_like(np.asarray(e).ravel(), Q[0], dtype) if sp.issparse(U) else e
        blocks = [_full((n, 1), math.sqrt(coef[0]), like, xp)]
        for l in range(1, self.degree + 1):
            if self.degree_dims[l - 1] == 0:
                continue
            if l in self.exact_degrees:
                block = _dense(U) if l == 1 else _square_features(U, xp)
            elif self.mean_direction is not None:
                # Q_l(e mu) = e^l Q_l(mu) by multilinearity: the split costs nothing
                ep = e**l
                block = _hcat([ep[:, None], Q[l - 1] - ep[:, None] * _const(
                    self.mean_sketch[l - 1], Q[l - 1], (1, -1))], xp)
            else:
                block = Q[l - 1]
            blocks.append(block * math.sqrt(coef[l]))
        if self.padding:
            blocks.append(_full((n, self.padding), 0.0, like, xp))
        Z = _hcat(blocks, xp)
        Z = Z * _on(norms, Z)[:, None]
        return Features(Z, Z, feats.shape, feats.variances)


def _square_features(U, xp):
    """Rows ``u (x) u`` in the symmetric basis: ``<f(u), f(v)> = <u, v>^2`` in d(d+1)/2 columns."""
    U = _dense(U)
    d = U.shape[1]
    iu, ju = np.triu_indices(d)
    w = np.where(iu == ju, 1.0, math.sqrt(2.0))
    w = _on(w, U)
    iu, ju = asarray_like(iu, U), asarray_like(ju, U)
    return xp.take(U, iu, axis=1) * xp.take(U, ju, axis=1) * w


def _host_rows(X, max_rows, rng):
    sub = subsample_rows(X, max_rows, rng)
    return sub.toarray() if sp.issparse(sub) else np.asarray(to_numpy(sub), dtype=np.float64)


def taylor_degree(X, layers, want_ntk, n_components, max_rows=300, rng=None):
    """The smallest degree of :data:`TAYLOR_DEGREES` whose polynomial's bias is small
    against the sketch's noise.

    The bias is scored where a model looks: the relative error of the centred polynomial
    kernel ``H (K_p - K) H`` on a training subsample, whose pairs' cosines decide how much the
    truncation matters (data with cosines near 1, like images, sit near the NTK's cusp). It
    must be at most ``0.9 / sqrt(n_components)``, about a fifth of the sketch's per-seed
    centred noise, so averaging seeds still shrinks the error.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skntk.architectures import fully_connected
    >>> from skntk.taylor_step import taylor_degree
    >>> net = fully_connected(2, "relu")
    >>> gauss = np.random.RandomState(0).randn(300, 784)
    >>> digits = load_digits().data / 16  # nonnegative: cosines near 1, near the cusp
    >>> taylor_degree(gauss, net, True, 8192), taylor_degree(digits, net, True, 8192)
    (8, 32)
    """
    sub = _host_rows(X, max_rows, np.random.RandomState(0) if rng is None else rng)
    norms = np.linalg.norm(sub, axis=1)
    sub, norms = sub[norms > 0], norms[norms > 0]
    if len(sub) < 3:
        return TAYLOR_DEGREES[0]
    rho = np.clip((sub / norms[:, None]) @ (sub / norms[:, None]).T, -1.0, 1.0)
    scale = np.outer(norms, norms)
    H = np.eye(len(sub)) - 1.0 / len(sub)
    exact = H @ (scale * normalized_kernel(layers, rho.ravel(), want_ntk).reshape(rho.shape)) @ H
    tol = 0.9 / math.sqrt(n_components)
    rho_sample = rho[np.triu_indices(len(sub), 1)]
    for p in TAYLOR_DEGREES:
        coef, _ = fit_dot_product_polynomial(layers, p, want_ntk, rho_sample)
        approx = H @ (scale * np.polynomial.polynomial.polyval(rho, coef)) @ H
        if np.linalg.norm(approx - exact) <= tol * np.linalg.norm(exact):
            return p
    return TAYLOR_DEGREES[-1]


def _unit_row_mean(X, rng, max_rows=5000):
    """Mean of the unit-normalized rows of (a subsample of) ``X``."""
    sub = _host_rows(X, max_rows, rng)
    norms = np.linalg.norm(sub, axis=1)
    keep = norms > 0
    if not keep.any():
        return np.zeros(X.shape[1])
    return (sub[keep] / norms[keep, None]).mean(axis=0)


def plan_taylor(layers, X, *, want_ntk, n_components, degree, rng):
    """Fit the polynomial and draw the sketches of the Taylor method.

    Columns go to degree ``l`` in proportion to ``a_l sqrt(l)`` (the variance-optimal split
    when a degree-l sketch's inner products have standard deviation ~ ``sqrt(l / m)``); degree
    0 takes one column; degrees 1 and 2 are exact whenever that needs no more columns than
    their share. Below two columns, the plan is two columns wide, compressed by an SRHT.

    Returns
    -------
    NetworkPlan
        With one :class:`TaylorStep`.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import fully_connected
    >>> from skntk.taylor_step import plan_taylor
    >>> X = np.random.RandomState(0).randn(40, 6)
    >>> plan = plan_taylor(fully_connected(2, "relu"), X, want_ntk=True, n_components=300,
    ...                    degree=8, rng=np.random.RandomState(0))
    >>> plan.transform(X).shape
    (40, 300)
    """
    d = X.shape[1]
    p = degree
    width = max(int(n_components), 2)
    coef, err = fit_dot_product_polynomial(layers, p, want_ntk, cosine_distribution(X, rng=rng))
    weights = coef[1:] * np.sqrt(np.arange(1, p + 1))
    exact = [d, d * (d + 1) // 2] + [None] * (p - 2)
    budget = width - 1
    mean = _unit_row_mean(X, rng)
    use_mean = np.linalg.norm(mean) >= _MEAN_DIRECTION_MIN and budget >= 2 * p
    mean = mean / np.linalg.norm(mean) if use_mean else None
    dims, is_exact, padding = allocate_with_overhead(
        weights, budget, exact[:p], [1 if use_mean else 0] * p)
    degree_dims = [dims[l] + (1 if use_mean and dims[l] > 0 and not is_exact[l] else 0)
                   for l in range(p)]
    sketched = [l for l in range(1, p + 1) if dims[l - 1] > 0 and not is_exact[l - 1]]
    poly, mean_sketch = None, None
    if sketched:
        out = [max(dims[l - 1], 1) for l in range(1, max(sketched) + 1)]
        poly = PolySketch(d, max(sketched), out, rng)
        if use_mean:
            mean_sketch = [q[0] for q in poly.transform(mean[None, :])]
    step = TaylorStep(coef, err, degree_dims, [l + 1 for l in range(p) if is_exact[l]], poly,
                      mean if sketched else None, mean_sketch, padding)
    final = SRHT(width, n_components, rng) if width > n_components else None
    return NetworkPlan(tuple(layers), (step,), want_ntk, (1, 1, d), width, final, 0,
                       4 * width * max(p, 1))
