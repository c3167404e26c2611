"""Feature steps: what one layer of a network does to a batch of random features.

A network's feature map is a list of steps, one per layer, planned once in ``fit`` by the
layers themselves (``Dense.plan`` and its siblings in :mod:`skntk.architectures`, driven by
:class:`skntk.planning.Planner`) and then applied in order to every batch. Each step is a small
immutable object whose fields are documented below; its ``transform`` is written once, for
NumPy (dense or, at the first layer, SciPy sparse rows) and any array-API namespace.

Features of a batch (:class:`Features`) hold, for every input and pixel, NNGP features ``phi``
(inner products approximate the pixel-pair NNGP kernel ``q[p, p']``) and, for the NTK, features
``psi`` (approximating ``T[p, p']``). Both are 2-D: one row per (input, pixel) in NHWC order,
so a fully connected network is the 1x1-image case.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._backend import (
    asarray_like,
    device,
    device_constant,
    get_namespace,
    is_numpy_namespace,
    pointwise,
    to_numpy,
)
from ._hermite import hermite_layer_coefficients
from ._structured import StackedGaussian
from .sketching import SRHT, PolySketch, TensorSRHT

__all__ = ["Features", "LinearStep", "PoolStep", "HermiteStep", "MonteCarloStep",
           "PartialCompress", "CommonPart", "CommonTensor", "GaussianProjection"]

# Top degree of the Hermite series used as the Monte-Carlo derivative's control variate. Higher
# degrees' blocks are small PolySketches whose heavy-tailed errors would enter the derivative:
# NTKSketch(2048, depth=2, method="hermite") on 300 digits, seed 0, raw error .076 with the
# whole series against .022 with degrees <= 3 (seeds 1-4: .023-.026 and .021-.022); with bias
# 0.5 on 600 digits the centred error is .089 against .094.
CONTROL_DEGREE = 3


@dataclass
class Features:
    """Random features of a batch of ``n`` inputs of ``h x w`` pixels.

    Attributes
    ----------
    phi : array of shape (n * h * w, D)
        NNGP features, one row per input and pixel (row-major NHWC order).
    psi : array of shape (n * h * w, D') or None
        NTK features (``None``: the NTK is zero so far, or only the NNGP is wanted).
    shape : tuple (n, h, w)
    variances : list of ndarray
        Exact pre-activation variances ``q[p, p]`` of every activation layer, shape
        ``(n, h_l, w_l)`` (host NumPy, float64), from :func:`skntk.planning.pixel_variances`.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NeuralKernelFeatures
    >>> from skntk.architectures import Dense, Nonlinearity
    >>> X = np.random.RandomState(0).randn(5, 3)
    >>> est = NeuralKernelFeatures([Dense(), Nonlinearity("erf"), Dense()], n_components=64)
    >>> feats = est.fit(X).plan_.features(X)  # the features after every step
    >>> feats.phi.shape, feats.psi.shape, feats.shape
    ((5, 29), (5, 64), (5, 1, 1))
    """

    phi: object
    psi: object
    shape: tuple
    variances: list = field(default_factory=list)


def _dense(a):
    return a.toarray() if sp.issparse(a) else a


def _hcat(blocks, xp):
    blocks = [b for b in blocks if b is not None and b.shape[1] > 0]
    if any(sp.issparse(b) for b in blocks):
        return sp.hstack(blocks, format="csr")
    if is_numpy_namespace(xp):
        return np.concatenate(blocks, axis=1)
    return xp.concat(blocks, axis=1)


def _rows(a, start, count):
    """Rows ``start:start + count`` of a dense, sparse or array-API array (or ``None``)."""
    if a is None:
        return None
    if sp.issparse(a) or isinstance(a, np.ndarray):
        return a[start : start + count]
    return a[start : start + count, ...]


def _vcat(parts, xp):
    if is_numpy_namespace(xp):
        return np.concatenate(parts, axis=0)
    return xp.concat(parts, axis=0)


# An activation step runs on chunks of rows of at most this many entries of its widest input
# (about 4 MB of float32). CNTKSketch(4096) Myrtle-5, 1024 pixel rows per image: 0.077 s per
# image in one piece; in chunks of 2^18, 2^19, 2^20, 2^21 entries 0.069, 0.063, 0.060, 0.061
# (NTKSketch gelu+bias, 192-row batches: 0.39, 0.40, 0.38, 0.42 ms per row).
_CHUNK_ENTRIES = 2**20
_CHUNK_MIN_ROWS = 32


def _full(shape, value, like, xp):
    """An array of ``value`` with ``like``'s dtype, namespace and device."""
    if sp.issparse(like) or isinstance(like, np.ndarray):
        return np.full(shape, value, dtype=like.dtype)
    return xp.full(shape, value, dtype=like.dtype, device=device(like))


def _constant_column(value, rows, like, xp):
    return _full((rows, 1), value, like, xp)


def _scalar(value, like):
    """``value`` as a scalar of ``like``'s dtype (float32 arithmetic stays float32)."""
    if isinstance(like, np.ndarray) or sp.issparse(like):
        return like.dtype.type(value)
    return float(value)


def _neighbours(phi, shape, f, scale, out=None, offset=0):
    """Per pixel, the ``f x f`` zero-padded neighbours' features times ``scale``, concatenated:
    rows of width ``f^2 D`` whose inner products are ``scale^2 sum_delta <phi[p + delta],
    phi'[p' + delta]>``. With ``out`` (a zeroed ``(n, h, w, C)`` array), they are written into
    its channels ``offset .. offset + f^2 D`` instead, and nothing is returned."""
    n, h, w = shape
    if f == 1:
        return phi * _scalar(scale, phi)
    xp = get_namespace(phi)
    d = phi.shape[1]
    img = xp.reshape(phi, (n, h, w, d))
    r = f // 2
    own = out is None
    if own:
        out = _full((n, h, w, f * f * d), 0.0, phi, xp)
    s = _scalar(scale, phi)
    k = 0
    for dh in range(-r, r + 1):
        for dw in range(-r, r + 1):
            i0, i1 = max(0, -dh), min(h, h - dh)
            j0, j1 = max(0, -dw), min(w, w - dw)
            if i0 < i1 and j0 < j1:
                c0 = offset + k * d
                out[:, i0:i1, j0:j1, c0 : c0 + d] = (
                    img[:, i0 + dh : i1 + dh, j0 + dw : j1 + dw, :] * s)
            k += 1
    return xp.reshape(out, (n * h * w, f * f * d)) if own else None


@dataclass(frozen=True)
class LinearStep:
    """Dense (``filter_size=1``) or convolution (SAME, stride 1) layer: exact, nothing random.

    ``phi <- [W / f neighbours(phi), b]`` (the ``b`` column only when ``bias_std > 0``): its
    inner products are ``W^2 / f^2 sum_delta q[p + delta, p' + delta] + b^2``. For the NTK,
    ``psi <- [phi_new, W / f neighbours(psi)]`` (``T <- q_new + W^2 window-mean(T)``).

    Attributes
    ----------
    filter_size : int
    weight_std, bias_std : float
    want_ntk : bool

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.steps import Features, LinearStep
    >>> x = np.array([[3.0, 4.0]])
    >>> out = LinearStep(1, 2.0, 0.5, True).transform(Features(x, None, (1, 1, 1)))
    >>> out.phi  # [W x, b]: <phi, phi> = W^2 |x|^2 + b^2
    array([[6. , 8. , 0.5]])
    """

    filter_size: int
    weight_std: float
    bias_std: float
    want_ntk: bool

    def transform(self, feats):
        xp = get_namespace(feats.phi) if not sp.issparse(feats.phi) else np
        f, W, b = self.filter_size, self.weight_std, self.bias_std
        if f > 1:
            return self._convolve(feats)
        phi = feats.phi * _scalar(W, feats.phi)
        if b > 0:
            phi = _hcat([phi, _constant_column(b, phi.shape[0], phi, xp)], xp)
        psi = None
        if self.want_ntk:
            psi = phi if feats.psi is None else _hcat(
                [phi, feats.psi * _scalar(W, feats.psi)], xp)
        return Features(phi, psi, feats.shape, feats.variances)

    def _convolve(self, feats):
        """``f > 1``: the neighbours of ``phi``, the bias column and, for the NTK, the
        neighbours of ``psi``, written into one buffer: ``psi = [phi_new, W / f
        neighbours(psi)]`` needs no concatenating copy, and ``phi_new`` is its first columns
        (ReLU Myrtle-5 on 8x8 digits spent a third of its transform in that copy)."""
        f, W, b = self.filter_size, self.weight_std, self.bias_std
        phi = feats.phi.toarray() if sp.issparse(feats.phi) else feats.phi
        xp = get_namespace(phi)
        parts = [phi] if not self.want_ntk or feats.psi is None else [phi, feats.psi]
        n, h, w = feats.shape
        width = f * f * phi.shape[1] + (b > 0)
        total = width + sum(f * f * part.shape[1] for part in parts[1:])
        dtype = xp.result_type(*parts)
        if isinstance(phi, np.ndarray):
            buffer = np.zeros((n, h, w, total), dtype=dtype)
        else:
            buffer = xp.zeros((n, h, w, total), dtype=dtype, device=device(phi))
        _neighbours(phi, feats.shape, f, W / f, out=buffer)
        if b > 0:
            buffer[..., width - 1] = b
        if len(parts) > 1:
            _neighbours(parts[1], feats.shape, f, W / f, out=buffer, offset=width)
        rows = xp.reshape(buffer, (n * h * w, total))
        if not self.want_ntk:
            return Features(rows, None, feats.shape, feats.variances)
        return Features(rows[:, :width], rows, feats.shape, feats.variances)


@dataclass(frozen=True)
class PoolStep:
    """2x2 average pooling (stride 2, VALID) or global average pooling: exact feature means.

    Attributes
    ----------
    global_pool : bool
        ``True``: the mean over all pixels (the output is 1x1); ``False``: 2x2 windows.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.steps import Features, PoolStep
    >>> phi = np.arange(8.0).reshape(4, 2)  # one 2x2 image, 2 features per pixel
    >>> PoolStep(global_pool=True).transform(Features(phi, None, (1, 2, 2))).phi
    array([[3., 4.]])
    """

    global_pool: bool

    def _pool(self, a, shape):
        xp = get_namespace(a)
        n, h, w = shape
        d = a.shape[1]
        img = xp.reshape(a, (n, h, w, d))
        if self.global_pool:
            return xp.mean(img, axis=(1, 2)), (n, 1, 1)
        hn, wn = h // 2, w // 2
        img = img[:, : 2 * hn, : 2 * wn, :]
        img = xp.mean(xp.reshape(img, (n, hn, 2, wn, 2, d)), axis=(2, 4))
        return xp.reshape(img, (n * hn * wn, d)), (n, hn, wn)

    def transform(self, feats):
        phi, shape = self._pool(_dense(feats.phi), feats.shape)
        psi = None if feats.psi is None else self._pool(_dense(feats.psi), feats.shape)[0]
        return Features(phi, psi, shape, feats.variances)


def _row_norms(U):
    """Host float64 Euclidean norms of the rows of ``U`` (dense, sparse or array-API)."""
    if sp.issparse(U):
        return np.sqrt(np.asarray(U.multiply(U).sum(axis=1), dtype=np.float64).ravel())
    if isinstance(U, np.ndarray):
        return np.sqrt(np.einsum("ij,ij->i", U, U, dtype=np.float64))
    xp = get_namespace(U)
    return np.sqrt(to_numpy(xp.sum(U * U, axis=1)).astype(np.float64))


def _on(host, like, dtype=None):
    """Host NumPy array (computed for this batch) moved to ``like``'s namespace and device
    (NumPy for sparse), in ``like``'s dtype unless ``dtype`` is given."""
    dtype = like.dtype if dtype is None else dtype
    if sp.issparse(like) or isinstance(like, np.ndarray):
        return np.asarray(host, dtype=dtype)
    return asarray_like(np.asarray(host), like, dtype=dtype)


def _const(host, like, shape=None, dtype=None):
    """A fitted host array (a step's attribute) on ``like``'s namespace and device, in
    ``like``'s dtype unless ``dtype`` is given, optionally reshaped; the device copy is
    made once (:func:`skntk._backend.device_constant`)."""
    if sp.issparse(like) or isinstance(like, np.ndarray):
        out = np.asarray(host, dtype=like.dtype if dtype is None else dtype)
        return out if shape is None else out.reshape(shape)
    out = device_constant(host, like, dtype=like.dtype if dtype is None else dtype)
    return out if shape is None else get_namespace(like).reshape(out, shape)


def _scale_rows(U, factors):
    if sp.issparse(U):
        return sp.diags(factors) @ U
    return U * factors[:, None]


@dataclass(frozen=True)
class CommonPart:
    """Directions ``v_1 (, v_2)`` shared by all rows, whose sketch is handled exactly.

    A PolySketch ``Q_l`` is linear in ``u^(x)l``, so for ``u = e_1 v_1 + e_2 v_2 + u_rest`` the
    part ``Q_l(sum_i e_i v_i)`` is a homogeneous polynomial of degree ``l`` in ``e``, with
    coefficient tables computed once. The step keeps the exact symmetric powers of ``e`` and
    sketches only the rest, so the sketching error of the common part (one random error shared
    by every pair) disappears.

    Attributes
    ----------
    directions : ndarray of shape (k, D), k in {1, 2}
        Orthonormal-ish unit directions.
    tables : list of ndarray
        ``tables[l - 1][j]``: coefficient of ``e_1^j e_2^(l - j)`` in ``Q_l``.
    """

    directions: np.ndarray
    tables: list

    @classmethod
    def build(cls, poly, directions, top):
        directions = np.asarray(directions, dtype=np.float64)
        if len(directions) == 1:
            tables = [q[0][None, :] for q in poly.transform(directions)]
            return cls(directions, tables)
        v1, v2 = directions
        t = np.cos(np.pi * (np.arange(top + 1) + 0.5) / (top + 1))  # Chebyshev nodes
        Q = poly.transform(t[:, None] * v1[None, :] + v2[None, :])
        tables = []
        for l in range(1, top + 1):
            V = np.vander(t, l + 1, increasing=True)
            M, *_ = np.linalg.lstsq(V, Q[l - 1], rcond=None)
            tables.append(M)
        return cls(directions, tables)

    def coordinates(self, U):
        """``e = U v^T``: the rows' coordinates along the directions (dense)."""
        if sp.issparse(U):
            return np.asarray(U @ np.asarray(self.directions.T, dtype=U.dtype))
        return U @ _const(self.directions, U).T

    def sketch(self, e, l):
        """``Q_l(sum_i e_i v_i)`` for the rows of ``e``, column-major like NumPy's ``Q_l``
        (subtracting a row-major product from it took 3 times as long)."""
        table = _const(self.tables[l - 1], e)
        if e.shape[1] == 1:
            powers = e[:, :1] ** l
        else:
            xp = get_namespace(e)
            powers = _hcat([e[:, :1] ** j * e[:, 1:2] ** (l - j) for j in range(l + 1)], xp)
        return (table.T @ powers.T).T


@dataclass(frozen=True)
class PartialCompress:
    """Unbiased compression of NTK features ``psi`` for the ``r'_0`` part of an activation step.

    ``psi -> [psi[:, exact], <psi_R, v>, S(psi_R) - <psi_R, v> S(v)]``, with ``psi_R`` the
    other columns and ``S`` an :class:`~skntk.sketching.SRHT`: so
    ``E <C(psi), C(psi')> = <psi, psi'>``. The planner keeps the columns with the most energy
    on the training subsample exact (e.g. the input block, which passes through the network
    exactly) and compresses the many low-energy ones, where an SRHT costs least; the unit
    direction ``v`` shared by the rows' rest (their common mode) is kept exact too.

    Attributes
    ----------
    exact : ndarray of int
        Columns passed through unchanged.
    srht : SRHT
        ``S``, over ``psi``'s full width with zero signs on the ``exact`` columns: the SRHT
        of ``psi_R`` zero-padded, computed without copying its columns out.
    direction : ndarray or None
        ``v`` (unit, ``psi``'s full width, zero on ``exact``), or ``None``.
    direction_sketch : ndarray or None
        ``S(v)``.
    shares_spectrum : bool
        ``S`` has the signs and length of the step's TensorSRHT's first factor (no exact
        column), so on NumPy one transform of ``psi`` serves both. Given the signs, both
        sketches are unbiased and their samplings independent: the variance is that of
        independent signs.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.sketching import SRHT
    >>> from skntk.steps import PartialCompress
    >>> S = SRHT(65, 16, 0)
    >>> S.signs_[0] = 0.0  # column 0 is kept exact, out of the sketch
    >>> C = PartialCompress(np.array([0]), S, None, None)
    >>> C.transform(np.ones((3, 65))).shape
    (3, 17)
    """

    exact: np.ndarray
    srht: SRHT
    direction: np.ndarray | None
    direction_sketch: np.ndarray | None
    shares_spectrum: bool = False

    @property
    def width(self):
        return len(self.exact) + self.srht.output_dim + (self.direction is not None)

    def transform(self, psi, like=None, xp=None, spectrum=None):
        """``C(psi)``; ``spectrum``: NumPy rows-first ``H D psi`` already computed."""
        like = psi if like is None else like
        xp = get_namespace(psi) if xp is None else xp
        head = _take_columns(psi, self.exact, xp)
        # zero signs on the exact columns: S(psi_R)
        sketch = (self.srht.transform(psi) if spectrum is None
                  else self.srht._from_spectrum(spectrum))
        if isinstance(sketch, np.ndarray):
            sketch = np.asarray(sketch, dtype=like.dtype)
        if self.direction is None:
            return _hcat([head, sketch], xp)
        e = psi @ _const(self.direction, like, (-1, 1))
        return _hcat([head, e, sketch - e * _const(self.direction_sketch, like, (1, -1))], xp)


def _take_columns(a, index, xp):
    if isinstance(a, np.ndarray):
        return a[:, index]
    return xp.take(a, _const(index, a, dtype=xp.int64), axis=1)


@dataclass(frozen=True)
class CommonTensor:
    r"""Exact common part of the tensor sketch ``T(psi, b)`` of an activation step's NTK rest.

    With ``v`` the unit mean direction of ``psi`` (on the training subsample), ``e = <psi, v>``
    and ``E`` the columns of ``b`` along the rows' common directions (the exact symmetric
    powers of :class:`CommonPart`), the part ``e v (x) E``, shared by every row and carrying
    most of the tensor's energy on data with a common mode, is kept exact and the sketch
    covers the rest:

    .. math::

        [\, e E,\ T(\psi, b) - e\, E M \,], \qquad
        M_{k,t} = T(v, \delta_{c_k})_t ,

    since ``T`` is bilinear, ``T(psi, b) - T(e v, E) = T(psi_res, b) + T(e v, b_res)`` with
    ``psi_res = psi - e v`` orthogonal to ``v``, so the inner products stay unbiased for
    ``<psi, psi'> <b, b'>``. On digits this takes the raw error of a ReLU-with-bias NTK sketch
    from 0.008 to 0.003.

    Attributes
    ----------
    direction : ndarray of shape (psi_dim,)
        ``v``.
    columns : ndarray of int
        ``c``: positions of ``E`` in ``b``.
    correction : ndarray of shape (len(columns), output_dim)
        ``M``.
    """

    direction: np.ndarray
    columns: np.ndarray
    correction: np.ndarray

    @classmethod
    def build(cls, tensor, direction, columns):
        k = len(columns)
        basis = np.zeros((k, tensor.dim2))
        basis[np.arange(k), columns] = 1.0
        correction = tensor.transform(np.tile(direction, (k, 1)), basis)
        return cls(np.asarray(direction, dtype=np.float64), np.asarray(columns), correction)

    def apply(self, psi, b, sketch, like, xp):
        """``[e E, sketch - e E M]`` for ``sketch = T(psi, b)``."""
        e = psi @ _const(self.direction, like, (-1, 1))
        E = _take_columns(b, self.columns, xp)
        return [e * E, sketch - e * (E @ _const(self.correction, like))]


# A dense Gaussian G (D x m) costs D m per row, a structured one about 200 D whatever m, so
# dense wins below about 200-240 columns at any D (one thread, 3840 float32 rows, ms per
# row, dense against structured: D = 2304, m = 200: 0.0075 / 0.0090; D = 4608, m = 500:
# 0.036 / 0.014; D = 18432, m = 2000: 0.56 / 0.064; D = 12289, m = 12288: 1.2 / 0.07). Up to
# D = 1024 it stays dense anyway: cheap there, and a structured first layer of
# NTKRandomFeatures(12288) on Gaussian rows (d = 784) had a 1.5% larger centred error (0.6%
# with the second only).
_DENSE_MAX_COLUMNS = 256
_DENSE_MAX_DIM = 1024


@dataclass(frozen=True)
class GaussianProjection:
    r"""Gaussian directions ``G`` (``D x m``) of a Monte-Carlo rest, applied as ``z = u G``.

    .. math:: G = (B + V^\top \Delta)\, \mathrm{diag}(c),

    with ``B`` a matrix whose columns are each exactly ``N(0, I_D)``: dense (drawn entry by
    entry) when there are few columns (``m < 256``) or few inputs (``D <= 1024``, where a
    BLAS product is cheap), else :class:`~skntk.sketching.StructuredGaussian` blocks (FFTs:
    ``O(D log D)`` per row instead of ``O(D m)``, and ``O(D)`` random numbers per block of
    columns instead of ``D m``; one set of blocks per group of columns used together). The
    rank-``k`` term replaces the columns' components along the rows' common directions ``V``
    by stratified values (see :func:`skntk.planning.plan_monte_carlo`), and ``c`` rescales the
    columns (leverage sampling) or is ``None``. Each column stays exactly Gaussian (or exactly
    of the leverage law), so the Monte-Carlo features stay unbiased.

    Attributes
    ----------
    base : ndarray of shape (D, m) or StructuredGaussian
        ``B``.
    directions : ndarray of shape (k, D) or None
        ``V``.
    deltas : ndarray of shape (k, m) or None
        ``Delta``.
    column_scale : ndarray of shape (m,) or None
        ``c``.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.steps import GaussianProjection
    >>> P = GaussianProjection.draw(2000, 600, np.random.RandomState(0))
    >>> P.shape, type(P.base).__name__
    ((2000, 600), 'StackedGaussian')
    >>> X = np.random.RandomState(1).randn(3, 2000)
    >>> bool(np.allclose(P.apply(X, X), X @ P.materialize()))
    True
    """

    base: object
    directions: np.ndarray | None = None
    deltas: np.ndarray | None = None
    column_scale: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def draw(cls, dim, columns, rng, dtype=np.float64, groups=None):
        """Standard Gaussian directions: structured unless ``columns < dim / 4``, with
        separate blocks for each group of columns (``groups``: their sizes, summing to
        ``columns``); a dense ``B`` is drawn in float64 in row chunks and stored in
        ``dtype``."""
        if columns >= _DENSE_MAX_COLUMNS and dim > _DENSE_MAX_DIM:
            return cls(StackedGaussian(dim, groups or [columns], rng))
        B = np.empty((dim, columns), dtype=dtype)
        for r in range(0, dim, 512):  # bounds the float64 temporary
            B[r : r + 512] = rng.standard_normal((min(512, dim - r), columns))
        return cls(B)

    def __getstate__(self):  # the per-dtype casts are rebuilt on demand, not pickled
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state):
        for key, value in {**state, "_cache": {}}.items():
            object.__setattr__(self, key, value)

    @property
    def shape(self):
        if isinstance(self.base, np.ndarray):
            return self.base.shape
        return (self.base.input_dim, self.base.output_dim)

    def _base_along(self, v):
        if isinstance(self.base, np.ndarray):
            return np.asarray(v, dtype=np.float64) @ self.base
        return self.base.columns_along(v)

    def columns_along(self, v):
        """``v^T G`` (host float64) for a host vector ``v`` of length ``D``."""
        out = self._base_along(v)
        if self.directions is not None:
            out = out + (self.directions @ np.asarray(v, dtype=np.float64)) @ self.deltas
        return out if self.column_scale is None else out * self.column_scale

    def with_strata(self, directions, deltas):
        """The projection with the rank-``k`` term ``V^T Delta`` (no column scale yet)."""
        return GaussianProjection(self.base, np.asarray(directions, dtype=np.float64),
                                  np.asarray(deltas, dtype=np.float64))

    def with_column_scale(self, scale):
        """The projection with its columns scaled by ``scale`` (``c``)."""
        return GaussianProjection(self.base, self.directions, self.deltas,
                                  np.asarray(scale, dtype=np.float64))

    def column_norms_squared(self):
        """``|g_j|^2`` of every column of ``G`` (host float64), without forming ``G``."""
        if isinstance(self.base, np.ndarray):
            norms = np.einsum("ij,ij->j", self.base, self.base, dtype=np.float64)
        else:
            norms = self.base.column_norms_squared()
        if self.directions is not None:  # |b + V^T d|^2 = |b|^2 + 2 d.(V b) + d.(V V^T) d
            along = np.array([self._base_along(v) for v in self.directions])
            gram = self.directions @ self.directions.T
            norms = (norms + 2 * np.sum(self.deltas * along, axis=0)
                     + np.einsum("ij,ik,kj->j", self.deltas, gram, self.deltas))
        return norms if self.column_scale is None else norms * self.column_scale**2

    def materialize(self):
        """The dense ``G`` (float64; for tests and small ``D``)."""
        return self.apply(np.eye(self.shape[0]), np.eye(1))

    def apply(self, U, like):
        """``U G`` in ``like``'s dtype, namespace and device (``U`` dense, SciPy sparse or
        array-API)."""
        if isinstance(self.base, np.ndarray):
            if isinstance(like, np.ndarray):
                key = like.dtype
                if key not in self._cache:  # one cast per dtype, not one per batch
                    self._cache[key] = self.base.astype(like.dtype, copy=False)
                z = U @ self._cache[key]
            else:
                z = U @ _const(self.base, like)
            z = np.asarray(z) if sp.issparse(U) else z
        else:
            z = self.base.transform(U)
            if isinstance(like, np.ndarray) and z.dtype != like.dtype:
                z = z.astype(like.dtype)
        if self.directions is not None:
            e = U @ _const(self.directions, like).T if not sp.issparse(U) else np.asarray(
                U @ np.asarray(self.directions.T, dtype=like.dtype))
            z = z + e @ _const(self.deltas, like)
        if self.column_scale is not None:
            z = z * _const(self.column_scale, like, (1, -1))
        return z


@dataclass(frozen=True)
class HermiteStep:
    """Activation layer, Hermite/PolySketch strategy (any activation, any bias).

    With the exact per-pixel variance ``q = q[p, p]``, ``s = sqrt(q)`` and ``u = phi / |phi|``:
    ``phi <- [r_0(s), r_1(s) Q_1(u), ..., r_p(s) Q_p(u)]`` where ``r_l`` are the activation's
    radial Hermite coefficients (the tail beyond ``p`` folded into the top even and odd ones, so
    the diagonal is exact) and ``Q_l`` PolySketches of ``u^(x)l`` (degree 1 exact when it fits).
    The part of ``u`` along the common directions is handled exactly (:class:`CommonPart`).

    For the NTK, ``psi <- psi (x) dphi`` with ``dphi = [r'_0(s), r'_1(s) Q_1(u), ...]``. The
    ``r'_0`` part (the derivative's mean, which dominates it) is split off the tensor sketch:
    ``psi <- [r'_0(s) S(psi), TensorSRHT(psi, rest)]`` with ``S`` the identity or a
    :class:`PartialCompress` (columns in proportion to ``|r'_0| sqrt(e)`` against
    ``|r'_{1..}|``, ``e`` the share of ``psi``'s energy outside its mean direction). For an
    activation whose derivative is discontinuous (ReLU's step), the rest is Monte-Carlo,
    ``(act'(z G) - r'_0(s)) / sqrt(m)`` with ``z`` the step's input features and ``G``
    Gaussian: unbiased for ``E[act'(u) act'(v)] - r'_0 r'_0`` given ``z``, where the truncated
    Hermite series of a step, evaluated at sketched cosines near 1, is biased. The series up
    to degree ``CONTROL_DEGREE`` (3) is a control variate: it comes from ``phi``'s sketched
    blocks, and Monte Carlo estimates only the tail beyond it (unbiased, and less noisy).

    Attributes
    ----------
    activation : Activation
    degree : int
        ``p``.
    index : int
        Which entry of ``Features.variances`` holds this layer's variances.
    dims : list of int
        Sketched columns per degree ``1..p`` (0: degree dropped).
    exact : list of bool
        Degrees represented exactly (degree 1: ``u`` itself).
    poly : PolySketch or None
    common : CommonPart or None
    padding : int
        Zero columns appended to ``phi`` (only when every degree is exact).
    tensor : TensorSRHT or None
        NTK: the tensor sketch of ``psi (x) dphi`` (or of its rest, when ``split``).
    split : bool
        NTK: the ``r'_0`` part is kept out of the tensor sketch.
    compress : PartialCompress or None
        NTK with ``split``: ``S``, when ``psi`` is wider than the mean part's columns.
    mc_derivative : GaussianProjection or None
        NTK with ``split``: the Gaussian ``G`` of the Monte-Carlo derivative rest.
    widths : tuple (int, int)
        Columns of the output ``phi`` and ``psi`` (0 without NTK).
    common_tensor : CommonTensor or None
        NTK with ``split``: the rest's part along the common directions of ``psi`` and
        ``phi``, kept exact.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NTKSketch
    >>> X = np.random.RandomState(0).randn(20, 5)
    >>> est = NTKSketch(256, depth=2, activation="gelu", bias_std=0.5, random_state=0).fit(X)
    >>> [type(step).__name__ for step in est.plan_.steps]
    ['LinearStep', 'HermiteStep', 'LinearStep', 'HermiteStep', 'LinearStep']
    """

    activation: object
    degree: int
    index: int
    dims: list
    exact: list
    poly: PolySketch | None
    common: CommonPart | None
    padding: int
    tensor: TensorSRHT | None
    split: bool
    compress: PartialCompress | None
    mc_derivative: GaussianProjection | None
    widths: tuple
    common_tensor: CommonTensor | None = None

    def _blocks(self, U, xp):
        Q = self.poly.transform(U) if self.poly is not None else []
        e = self.common.coordinates(U) if (self.common is not None and Q) else None
        blocks = []
        for l in range(1, self.degree + 1):
            if self.dims[l - 1] == 0:
                blocks.append(None)
            elif self.exact[l - 1]:
                blocks.append(_dense(U))
            elif e is not None:
                blocks.append(_split_common(symmetric_power(e, l, xp), Q[l - 1],
                                            self.common.sketch(e, l), xp))
            else:
                blocks.append(Q[l - 1])
        if self.padding:
            blocks.append(None)
        return blocks

    def _coefficients(self, q, want_ntk):
        return hermite_layer_coefficients(self.activation, q, self.degree, want_ntk)[0]

    def _phi(self, U, coefs, z, like, xp):
        blocks = self._blocks(U, xp)
        phi = weighted_blocks(blocks, _on(coefs[0], like), xp)
        if self.padding:
            phi = _hcat([phi, _full((phi.shape[0], self.padding), 0.0, phi, xp)], xp)
        return phi, blocks

    def _projection(self, U, scale, like):
        """``z = s (u G)``: Gaussian projections with the exact variance ``s^2``, given ``u``."""
        return self.mc_derivative.apply(U, like) * _on(scale, like)[:, None]

    def _pointwise(self, fn, z, like):
        # on the device when the activation is written for any namespace, else on the host
        return pointwise(fn, z)

    def transform(self, feats):
        """The step on every row of ``feats``, in chunks of rows whose widest intermediate
        stays cache-sized (each row is independent: a chunk gives the same features)."""
        rows = feats.phi.shape[0]
        width = max(feats.phi.shape[1], 0 if feats.psi is None else feats.psi.shape[1])
        step = max(_CHUNK_MIN_ROWS, _CHUNK_ENTRIES // max(width, 1))
        q = feats.variances[self.index].reshape(-1)
        coefs = self._coefficients(q, self.tensor is not None)  # once: their cost has a floor
        if rows <= step:
            return self._transform_rows(feats.phi, feats.psi, q, coefs, feats)
        parts = [self._transform_rows(_rows(feats.phi, a, step), _rows(feats.psi, a, step),
                                      q[a : a + step], [c[a : a + step] for c in coefs], feats)
                 for a in range(0, rows, step)]
        xp = np if sp.issparse(feats.phi) else get_namespace(feats.phi)
        phi = _vcat([part.phi for part in parts], xp)
        psi = None if parts[0].psi is None else _vcat([part.psi for part in parts], xp)
        return Features(phi, psi, feats.shape, feats.variances)

    def _layer_rows(self, phi, q, coefs):
        """The new ``phi`` of some rows, with what the NTK part needs:
        ``(phi_new, (z, blocks, scale, like, xp))``."""
        xp = np if sp.issparse(phi) else get_namespace(phi)
        norms = _row_norms(phi)
        inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
        U = _scale_rows(phi, _on(inv, phi))
        like = _dense(U[:1]) if sp.issparse(U) else U
        z = None
        scale = np.sqrt(np.maximum(q, 0.0))
        if self.mc_derivative is not None:
            z = self._projection(U, scale, like)
        phi_new, blocks = self._phi(U, coefs, z, like, xp)
        return phi_new, (z, blocks, scale, like, xp)

    def _transform_rows(self, phi, psi_in, q, coefs, feats):
        phi_new, (z, blocks, scale, like, xp) = self._layer_rows(phi, q, coefs)
        psi = None
        if self.tensor is not None and psi_in is not None:
            psi = self._tensor(psi_in, z, blocks, coefs[1], like, xp, scale)
        return Features(phi_new, psi, feats.shape, feats.variances)

    def _derivative_rest(self, feats):
        """The second factor ``b`` of the tensor sketch ``T(psi, b)`` on the rows of
        ``feats`` (a step with the ``r'_0`` split): the derivative's rest. The planner reads
        its common direction (:meth:`skntk.sketching.TensorSRHT.flatten_along`).

        Parameters
        ----------
        feats : Features
            The step's input.

        Returns
        -------
        b : array of shape (rows, tensor.dim2)
        """
        q = feats.variances[self.index].reshape(-1)
        coefs = self._coefficients(q, True)
        _, (z, blocks, scale, like, xp) = self._layer_rows(feats.phi, q, coefs)
        return self._rest(z, blocks, coefs[1], like, xp, scale)

    def _rest(self, z, blocks, coef, like, xp, s):
        """The derivative's rest beyond its mean ``r'_0``: Monte Carlo when the step has
        Gaussian directions, else its sketched series ``[r'_1 B_1, ..., r'_p B_p]``."""
        if z is not None:  # Monte-Carlo rest, centred on its exact mean
            return self._monte_carlo_rest(z, blocks, _on(coef[:, :1], like), s, like, xp)
        rest = weighted_blocks(blocks, _on(coef, like), xp)[:, 1:]
        return np.ascontiguousarray(rest) if isinstance(rest, np.ndarray) else rest

    def _monte_carlo_rest(self, z, blocks, mean, s, like, xp):
        r"""The derivative's rest ``act'(z) - r'_0``, by Monte Carlo over the ``m`` columns of
        ``z = s t`` (``t = u G``), with its Hermite series as a control variate when ``phi``
        has series blocks (the Hermite strategy; not the Monte-Carlo one):
        ``[r'_1 B_1, ..., r'_c B_c, (act'(z) - sum_{l<=c} r'_l h_l(t)) / sqrt(m)]``, with
        ``B_l`` the degree-``l`` blocks of ``phi`` (unbiased for ``<u, u'>^l``; dropped degrees
        stay in the Monte-Carlo part) and ``c = min(degree, CONTROL_DEGREE)``. The sketched
        series carries the low degrees, and Monte Carlo only the tail beyond them, whose
        energy is smaller (ReLU's step: ``1/4`` in all, about ``0.07`` beyond degree 3), so
        much of the Monte-Carlo noise, which dominates at cosines near 1, goes. ``r'_l`` are
        the activation's own coefficients, not the tail-folded ones, or the sum would be
        biased.
        """
        rest = self._pointwise(self.activation.derivative, z, like) - mean
        norm = _scalar(1.0 / math.sqrt(z.shape[1]), like)
        if blocks is None:  # MonteCarloStep: no sketched series to lean on
            return rest * norm
        p = min(self.degree, CONTROL_DEGREE)
        r = self.activation.derivative_hermite_coefficients(s, p)
        inv_s = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 0.0)
        t = z * _on(inv_s[:, None], like)
        h_prev, h = None, t  # orthonormal Hermite h_l(t) by the three-term recurrence
        series = []
        for l in range(1, p + 1):
            coef = _on(r[:, l : l + 1], like)
            if blocks[l - 1] is not None:
                rest = rest - coef * h
                series.append(_dense(blocks[l - 1]) * coef)
            if l < p:
                h_next = t * h - (h_prev * _scalar(math.sqrt(l), like) if l > 1 else 1.0)
                h_prev, h = h, h_next * _scalar(1.0 / math.sqrt(l + 1), like)
        return _hcat([*series, rest * norm], xp)

    def _tensor(self, psi, z, blocks, coef, like, xp, s):
        psi = _dense(psi)
        if not self.split:
            dphi = weighted_blocks(blocks, _on(coef, like), xp)
            return self.tensor.transform(psi, dphi)
        mean = _on(coef[:, :1], like)  # r'_0(s) = E[act'(s g)]
        rest = self._rest(z, blocks, coef, like, xp, s)
        if self.compress is None:
            psi_mean, sketch = psi, self.tensor.transform(psi, rest)
        elif self.compress.shares_spectrum and isinstance(psi, np.ndarray):
            spectrum = self.tensor._spectrum(psi)  # one DCT of psi for both sketches
            psi_mean = self.compress.transform(psi, like, xp, spectrum=spectrum)
            sketch = self.tensor._from_spectrum(spectrum, rest, psi)
        else:
            psi_mean = self.compress.transform(psi, like, xp)
            sketch = self.tensor.transform(psi, rest)
        if self.common_tensor is None:
            return _hcat([psi_mean * mean, sketch], xp)
        return _hcat([psi_mean * mean, *self.common_tensor.apply(psi, rest, sketch, like, xp)],
                     xp)


@dataclass(frozen=True)
class MonteCarloStep(HermiteStep):
    r"""Activation layer, Monte-Carlo strategy (any activation with a pointwise form).

    With ``u = phi / |phi|`` (``D`` entries), the exact scale ``s = sqrt(q)`` of the layer's
    per-input variance and Gaussian directions ``G = [g_1, ..., g_m']`` (``D x m'``), the
    projections ``z = s (u G)`` are, given ``u``, Gaussian pairs with the exact variances and
    the sketched cosine. The first ``m = widths[0] - 1`` columns give the values,

    .. math::

        \phi \leftarrow \big[\mu(s),\ (w_j\, act(z_j) - \mu(s)) / \sqrt{m}\big]_{j \le m},

    unbiased for ``E[act(u) act(v)]`` given ``u``: the exact conditional mean ``mu`` is one
    column (``mu mu'`` is the common mode) and centring the random part on it removes most of
    its variance. For the NTK, all ``m'`` columns give the derivative's rest
    ``(act'(z) - r'_0(s)) / sqrt(m')``, tensor-sketched with ``psi`` after the ``r'_0`` split
    (``psi <- [r'_0(s) S(psi), TensorSRHT(psi, rest)]``, ``S`` the identity or a
    :class:`PartialCompress`, as in :class:`HermiteStep`); without the split (few tensor
    columns) ``psi <- TensorSRHT(psi, [r'_0(s), rest over the first m columns])``.

    Plain sampling: ``g_j ~ N(0, I_D)``, ``w_j = 1`` and ``mu(s) = r_0(s) = E[act(s g)]``
    (the planner stratifies the components of ``G`` along the rows' common directions, which
    keeps every column exactly ``N(0, I_D)``; see :func:`skntk.planning.plan_monte_carlo`).
    **Leverage sampling** (activations homogeneous of degree 1): ``g_j`` has the density
    ``p(w) = |w|^2 N(w; 0, I_D) / D`` (:func:`skntk.sketching.sample_leverage_gaussian`)
    and the importance weight ``w_j = sqrt(D) / |g_j|`` keeps the values unbiased
    (``E_N[f] = E_p[f D / |w|^2]``); by homogeneity ``w_j act(z_j) = s sqrt(D)
    act(u g_j / |g_j|)``, a function of the uniform direction only, whose mean is
    ``mu(s) = r_0(s) sqrt(D) / E|g|`` with ``E|g| = sqrt(2) Gamma((D + 1)/2) / Gamma(D/2)``
    (``mean_factor``). The derivative is homogeneous of degree 0: no weight, mean ``r'_0``.

    No Hermite truncation: robust for activations whose Hermite series converges slowly at
    the data's scale (``sin`` of unnormalized inputs), at a cost of ``D m'`` per row (a dense
    projection). ``dims``, ``exact``, ``poly`` and ``common`` are unused.

    Attributes
    ----------
    mc_derivative : GaussianProjection of shape (D, m')
        ``G``: its first ``m`` columns serve the values, all of them the derivative
        (structured, applied with FFTs, unless ``m' < 256`` or ``D <= 1024``; a dense ``G``
        is stored in the dtype of the training data).
    value_weights : ndarray of shape (m,) or None
        Leverage sampling: the importance weights ``w_j = sqrt(D) / |g_j|``.
    mean_factor : float
        ``mu(s) / r_0(s)``: 1, or ``sqrt(D) / E|g|`` with leverage sampling.

    The other fields are :class:`HermiteStep`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import NeuralKernelFeatures
    >>> from skntk.architectures import fully_connected
    >>> X = np.random.RandomState(0).randn(20, 5)
    >>> est = NeuralKernelFeatures(fully_connected(1, "sin", 1.0, 0.5), n_components=128,
    ...                            strategy="monte_carlo", random_state=0).fit(X)
    >>> type(est.plan_.steps[1]).__name__, est.transform(X).shape
    ('MonteCarloStep', (20, 128))
    """

    value_weights: np.ndarray | None = None
    mean_factor: float = 1.0

    def _coefficients(self, q, want_ntk):
        s = np.sqrt(np.maximum(q, 0.0))
        out = [self.activation.hermite_coefficients(s, 0)]
        if want_ntk:
            out.append(self.activation.derivative_hermite_coefficients(s, 0))
        return out

    def _phi(self, U, coefs, z, like, xp):
        m = self.widths[0] - 1
        mean = _on(coefs[0][:, :1] * self.mean_factor, like)
        values = self._pointwise(self.activation.value, z[:, :m], like)
        if self.value_weights is not None:
            values = values * _const(self.value_weights, like, (1, -1))
        rest = (values - mean) * _scalar(1.0 / math.sqrt(m), like)
        return _hcat([mean, rest], xp), None

    def _tensor(self, psi, z, blocks, coef, like, xp, s):
        if self.split:
            return super()._tensor(psi, z, blocks, coef, like, xp, s)
        m = self.widths[0] - 1  # without the split, dphi = [r'_0, rest] has widths[0] columns
        mean = _on(coef[:, :1], like)
        rest = self._pointwise(self.activation.derivative, z[:, :m], like) - mean
        dphi = _hcat([mean, rest * _scalar(1.0 / math.sqrt(m), like)], xp)
        return self.tensor.transform(_dense(psi), dphi)


def _split_common(powers, Q, common, xp):
    """The block ``[powers, Q - common]``, in ``Q``'s memory order for NumPy (PolySketch's
    column-major output: no transposing copy)."""
    if not isinstance(Q, np.ndarray):
        return _hcat([powers, Q - common], xp)
    k = powers.shape[1]
    out = np.empty((Q.shape[0], k + Q.shape[1]), dtype=Q.dtype, order="F")
    out[:, :k] = powers
    np.subtract(Q, common, out=out[:, k:])
    return out


def weighted_blocks(blocks, coef, xp):
    """``[c_0, c_1 B_1, ..., c_p B_p]`` with per-row coefficients ``coef`` (n, p+1); ``None``
    blocks (dropped degrees) are skipped."""
    n = coef.shape[0]
    parts = [xp.reshape(coef[:, 0], (n, 1))]
    for l, block in enumerate(blocks, start=1):
        if block is not None:
            parts.append(block * coef[:, l : l + 1])
    return _hcat(parts, xp)


def symmetric_power(e, l, xp):
    """Rows ``sym(e^(x)l)`` for ``e`` with one or two columns: ``<., .>`` is ``<e, e'>^l``."""
    if e.shape[1] == 1:
        return e**l
    a, b = e[:, 0:1], e[:, 1:2]
    return _hcat([a ** (l - i) * b**i * math.sqrt(math.comb(l, i)) for i in range(l + 1)], xp)
