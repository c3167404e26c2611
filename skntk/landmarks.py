"""Exact landmark (Nystroem) part of a feature map, with the sketch as a control variate.

A sketch ``z`` with ``E[z(x) . z(y)] = K(x, y)`` has an error that no i.i.d. random features
can push below ``~ tr(H K H) / sqrt(m)``. Most of that trace lies in a few directions of the
kernel's feature space (digits and images share a strong common mode and a fast-decaying
spectrum), and those can be kept exact.

Let ``V`` be ``k`` training rows (the landmarks), ``K_VV = U diag(lam) U^T`` their exact
kernel (eigenvalues below ``1e-6 lam_max`` dropped, leaving ``r``), ``k_V(x) = K(x, V)`` and
``Z_V = z(V)``. The features are ``[e(x), z(x) - e(x) C]`` with

* ``e(x) = k_V(x) U lam^{-1/2}``: ``e(x) . e(y) = k_V(x) K_VV^+ k_V(y)``, the exact kernel of
  the projections of ``x`` and ``y`` on the landmarks' feature span;
* ``C = lam^{-1/2} U^T Z_V``: ``e(x) C`` is the sketch's own estimate of that projection.

Every cross term is linear in pairwise products ``z(a) . z(b)``, so for fixed landmarks
``E[e(x) . e(y) + (z(x) - e(x) C) . (z(y) - e(y) C)] = K(x, y)``: the features stay unbiased,
for any unbiased ``z`` and any ``x``, ``y`` (training rows or not). The sketch now only
carries the residual kernel ``K - k_V K_VV^+ k_V``, whose trace is a small part of ``K``'s.
"""

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._backend import device_constant, get_namespace, to_numpy
from ._subsample import subsample_rows
from .kernels import kernel

__all__ = ["LandmarkPart", "landmark_count", "choose_landmarks", "residual_fraction"]

# landmarks whose kernel eigenvalue is below this fraction of the largest carry no kernel mass
# that matters, and would amplify rounding in k_V(x) by lam^{-1/2}
_RELATIVE_EIGENVALUE_FLOOR = 1e-6
# "auto": landmarks of a fully connected network, and the pixel count at which an image
# network's exact kernel against one landmark costs about its whole sketch (see landmark_count)
_AUTO_LANDMARKS = 64
_IMAGE_PIXEL_BUDGET = 1024
# "auto" keeps the landmarks when they leave at most this part of the centred trace to the
# sketch, measured on this many other training rows (fewer images: their exact kernel costs)
MAX_RESIDUAL_FRACTION = 0.8
_PROBE_ROWS, _PROBE_IMAGES = 256, 64


@dataclass(frozen=True, eq=False)
class LandmarkPart:
    """The exact landmark part of a fitted feature map (see the module docstring).

    Attributes
    ----------
    landmarks : ndarray or sparse matrix of shape (k, n_features)
        The training rows chosen at ``fit`` (flattened images for image networks), float64;
        for networks homogeneous in their input, at unit scale (the rows times one power of
        two: ``transform`` rescales the rows likewise, so the part is exact at any scale).
    weights : ndarray of shape (k, r)
        ``U lam^{-1/2}`` for the ``r`` kept eigenpairs of the landmarks' exact kernel.
    correction : ndarray of shape (r, m)
        ``lam^{-1/2} U^T z(V)``: the sketch's features of the landmarks in the exact basis.
    layers : tuple of layers
    kind : {"ntk", "nngp"}
    image_shape : tuple (H, W, C) or None
        ``None`` for fully connected networks.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NTKSketch
    >>> X = np.random.RandomState(0).rand(200, 10)
    >>> est = NTKSketch(512, n_landmarks=16, random_state=0).fit(X)
    >>> est.landmarks_.weights.shape[0], est.landmarks_.correction.shape[1]
    (16, 496)
    """

    landmarks: object
    weights: np.ndarray
    correction: np.ndarray
    layers: tuple
    kind: str
    image_shape: tuple = None
    _casts: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_exact(self):
        """``r``: the number of exact columns, placed first in the features."""
        return self.weights.shape[1]

    def exact_features(self, X, n_jobs=1):
        """``e(X) = K(X, V) U lam^{-1/2}`` in float64, in ``X``'s namespace."""
        xp = get_namespace(X)
        X64 = X.astype(np.float64) if sp.issparse(X) else xp.astype(X, xp.float64)
        V = self.landmarks if sp.issparse(X) or isinstance(X, np.ndarray) else (
            device_constant(_dense(self.landmarks), X))
        K = kernel(X64, V, layers=list(self.layers), kind=self.kind,
                   image_shape=self.image_shape, n_jobs=n_jobs)
        return K @ device_constant(self.weights, K)

    def apply(self, Z, exact):
        """``[e(X), Z - e(X) C]`` for the sketch's features ``Z = z(X)`` and ``exact = e(X)``
        (:meth:`exact_features`, computed once for all rows of a ``transform``), in ``Z``'s
        dtype."""
        xp = get_namespace(Z)
        E = xp.astype(exact, Z.dtype)
        return xp.concat([E, Z - E @ self._correction_as(Z)], axis=1)

    def _correction_as(self, Z):
        """``C`` in ``Z``'s dtype and namespace, cast once (a fresh float32 cast per batch
        cost 0.5 ms)."""
        if not isinstance(Z, np.ndarray):
            return device_constant(self.correction, Z, Z.dtype)
        cast = self._casts.get(Z.dtype)
        if cast is None:
            cast = self._casts.setdefault(Z.dtype, self.correction.astype(Z.dtype))
        return cast


def landmark_count(n_landmarks, n_components, n_train, pixels):
    """How many landmarks ``fit`` draws.

    ``"auto"`` takes 64 for a fully connected network. The exact kernel of an image network
    costs ``O(P^2)`` per pair of ``P``-pixel images against the sketch's ``O(P)`` per image,
    so ``"auto"`` takes ``1024 / P`` landmarks there (16 for 8x8 images, 4 for 16x16), and none
    below 4 (32x32 images and larger). Never more than ``n_components / 16`` or one landmark
    per 8 training rows; an explicit count is capped at the number of training rows.

    Examples
    --------
    >>> landmark_count("auto", 8192, 600, 1), landmark_count("auto", 8192, 600, 64)
    (64, 16)
    >>> landmark_count("auto", 8192, 600, 1024), landmark_count("auto", 256, 600, 1)
    (0, 16)
    """
    if n_landmarks != "auto":
        k = int(n_landmarks)
        if k >= n_components:
            raise ValueError(f"n_landmarks={k} must be smaller than n_components="
                             f"{n_components}: the sketch needs columns of its own")
        if k > n_train:
            warnings.warn(f"n_landmarks={k} > n_samples={n_train}: using {n_train} landmarks",
                          UserWarning, stacklevel=3)
        return min(k, n_train)
    k = _AUTO_LANDMARKS
    if pixels > 1:
        k = _IMAGE_PIXEL_BUDGET // pixels
        k = 0 if k < 4 else min(k, _AUTO_LANDMARKS)
    return min(k, n_components // 16, n_train // 8)


def choose_landmarks(X, k, layers, kind, image_shape, rng, gated=False):
    """Draw ``k`` landmarks from the training rows ``X`` and factor their exact kernel.

    The rows are drawn by content keys (:func:`skntk._subsample.subsample_rows`), so the
    order of ``X`` does not matter. Uniform draws do as well as pivoted Cholesky here: on
    600 digits (ReLU NTK, bias 0.5, depth 2, 8192 columns), 16 and 64 landmarks give centred
    errors .0560 and .0431 drawn uniformly, .0559 and .0434 by pivoted Cholesky on the
    centred kernel.

    ``gated=True`` (``n_landmarks="auto"``) keeps the landmarks only where they pay: when
    they take at least 20% (``1 - MAX_RESIDUAL_FRACTION``) of the centred kernel's trace off the
    sketch on other training rows (:func:`residual_fraction`). The sketch's error scales with
    that trace, while the landmarks cost the exact kernel and a ``k x n_components`` product
    per row. Measured fractions with 64 landmarks, depth 2: digits .06-.47 (ReLU NTK .47,
    gelu NTK .09), standard Gaussian rows (d = 784) .95-.99.

    Returns
    -------
    landmarks_and_weights : tuple or None
        ``(landmarks, weights)``: the rows, shape (k, n_features), float64 (sparse if ``X``
        is), and ``U lam^{-1/2}``, shape (k, r) (see :class:`LandmarkPart`). None when their
        kernel is degenerate or, gated, when they do not pay.
    """
    probe = (_PROBE_ROWS if image_shape is None else _PROBE_IMAGES) if gated else 0
    rows = subsample_rows(X, k + probe, rng)
    rows = rows.astype(np.float64) if sp.issparse(rows) else np.asarray(rows, np.float64)
    V, probe = rows[:k], rows[k:]
    K = _exact(V, None, layers, kind, image_shape)
    lam, U = np.linalg.eigh((K + K.T) / 2)
    if not math.isfinite(lam[-1]) or lam[-1] <= 0:
        return None
    keep = lam > _RELATIVE_EIGENVALUE_FLOOR * lam[-1]
    U = U[:, keep]
    # eigenvectors' signs follow rounding: fix them (largest entry positive), so that the
    # features do not depend on the order of the training rows
    U *= np.where(U[np.abs(U).argmax(axis=0), np.arange(U.shape[1])] < 0, -1.0, 1.0)
    weights = U / np.sqrt(lam[keep])
    if gated and probe.shape[0] > 1:
        E = _exact(probe, V, layers, kind, image_shape) @ weights
        diagonal = _diagonal(probe, layers, kind, image_shape)
        if residual_fraction(diagonal, E) > MAX_RESIDUAL_FRACTION:
            return None
    return V, weights


def residual_fraction(diagonal, E):
    """The part of the centred kernel's trace on some rows that the landmarks leave.

    With ``diagonal[i] = K(x_i, x_i)`` and ``E`` the rows' exact landmark features,
    ``sum_i (K_ii - |e_i|^2) / sum_i |phi_i - e_mean|^2`` (``|phi_i - e_mean|^2 = K_ii -
    2 e_i . e_mean + |e_mean|^2``). Both sums exceed their centred counterparts ``tr(H K_res
    H)`` and ``tr(H K H)`` by the same ``n |(I - P) phi_mean|^2``, so the ratio errs on the
    high side.

    Examples
    --------
    >>> import numpy as np
    >>> E = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> float(residual_fraction(np.array([1.0, 1.0, 1.0]), E))  # the span holds every row
    0.0
    """
    mean = E.mean(axis=0)
    residual = diagonal - np.einsum("ij,ij->i", E, E)
    spread = diagonal - 2 * E @ mean + mean @ mean
    return float(max(residual.sum(), 0.0) / max(spread.sum(), np.finfo(float).tiny))


def _diagonal(rows, layers, kind, image_shape):
    """``K(x, x)`` of every row."""
    if image_shape is None:  # one call amortizes the numerical duals' setup over all pairs
        return np.diag(_exact(rows, None, layers, kind, image_shape)).copy()
    return np.array([_exact(rows[i:i + 1], None, layers, kind, image_shape)[0, 0]
                     for i in range(rows.shape[0])])


def _exact(X, Y, layers, kind, image_shape):
    return np.asarray(to_numpy(kernel(X, Y, layers=list(layers), kind=kind,
                                      image_shape=image_shape, n_jobs=1)), dtype=np.float64)


def landmark_part(V, weights, Z_V, layers, kind, image_shape):
    """The fitted :class:`LandmarkPart` from the sketch's features ``Z_V`` of the landmarks."""
    correction = weights.T @ np.asarray(to_numpy(Z_V), dtype=np.float64)
    return LandmarkPart(V, weights, correction, tuple(layers), kind, image_shape)


def _dense(V):
    return V.toarray() if sp.issparse(V) else V
