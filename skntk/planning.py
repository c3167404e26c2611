"""Fit-time planning of a network's feature map, and the exact per-pixel variances it needs.

:class:`Planner` walks a layer list once in ``fit``. Each layer plans its own feature step
(:mod:`skntk.steps`) from what the planner knows at that point: the widths of the features, a
few training inputs pushed through the steps planned so far, the typical variances, and the
column budget. :class:`NetworkPlan` holds the result and maps batches.

:func:`pixel_variances` gives the exact pre-activation variances ``q[p, p]`` that the
activation steps need, per input, at a cost linear in the number of pixels: each layer applies
its *variance rule* to the pixel pairs ``q[p, p + o]`` at the few offsets ``o`` that later
pooling layers need (just ``o = 0`` without pooling).
"""

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtri

from ._backend import device, get_namespace, to_numpy
from ._estimator import allocate_with_overhead
from ._scaling import rescale_rows, unit_scale_rows
from ._subsample import subsample_rows
from .activations import get_activation
from .sketching import SRHT, PolySketch, TensorSRHT, fast_len, leverage_scale
from .steps import (
    CONTROL_DEGREE,
    CommonPart,
    CommonTensor,
    Features,
    GaussianProjection,
    HermiteStep,
    MonteCarloStep,
    PartialCompress,
    _row_norms,
)

__all__ = ["pixel_variances", "Planner", "NetworkPlan", "VarianceState"]

# A direction shared by the rows (their mean direction) is split off when at least this long.
_MEAN_DIRECTION_MIN = 0.2
# Bound on the entries of a batch's largest intermediate array (about 128 MB in float64).
_BATCH_ENTRIES = 2**24


# ----------------------------------------------------------------------------------------------
# exact per-pixel variances
# ----------------------------------------------------------------------------------------------


@dataclass
class VarianceState:
    """Pixel pairs ``q[p, p + o]`` of each input with itself, at the offsets ``o`` needed.

    Attributes
    ----------
    q : ndarray of shape (n, len(offsets), h, w)
        Zero where ``p + o`` is outside the image.
    offsets : list of tuple
        The offsets ``(oh, ow)`` held now (always including ``(0, 0)``).
    next_offsets : list of tuple
        The offsets the next layer's output must hold.
    variances : list of ndarray
        Filled by the activation layers: their ``q[p, p]``, shape ``(n, h, w)``.
    """

    q: np.ndarray
    offsets: list
    next_offsets: list
    variances: list

    def diagonal(self):
        return self.q[:, self.offsets.index((0, 0))]


def shift(a, oh, ow, fill=0.0):
    """``out[..., i, j] = a[..., i + oh, j + ow]`` (``fill`` outside)."""
    h, w = a.shape[-2:]
    out = np.full_like(a, fill)
    i0, i1 = max(0, -oh), min(h, h - oh)
    j0, j1 = max(0, -ow), min(w, w - ow)
    if i0 < i1 and j0 < j1:
        out[..., i0:i1, j0:j1] = a[..., i0 + oh : i1 + oh, j0 + ow : j1 + ow]
    return out


def inside_mask(h, w, oh, ow):
    """Pixels ``p`` with ``p + o`` inside the image."""
    m = np.zeros((h, w), dtype=bool)
    m[max(0, -oh) : min(h, h - oh), max(0, -ow) : min(w, w - ow)] = True
    return m


def layer_shapes(layers, h, w):
    """Spatial shape ``(h, w)`` entering each layer, and the final one."""
    shapes = [(h, w)]
    for i, layer in enumerate(layers):
        try:
            shapes.append(layer.output_shape(*shapes[-1]))
        except ValueError as err:
            raise ValueError(
                f"images of {h}x{w} pixels are too small for this network: layers[{i}] = "
                f"{layer!r} gets {shapes[-1][0]}x{shapes[-1][1]} ({err})"
            ) from None
    return shapes


def _required_offsets(layers, shapes):
    """Offsets each layer's input must hold, walking backwards from the end."""
    need = set()
    per_layer = []
    for layer, shape in zip(reversed(layers), reversed(shapes[:-1]), strict=True):
        need = layer.variance_offsets(need, shape)
        per_layer.append(sorted(need | {(0, 0)}))
    return per_layer[::-1]


def _input_pairs(X, shape, offsets):
    """``q[p, p + o] = <x_p, x_{p + o}> / C`` of the inputs (rows or images)."""
    n = X.shape[0]
    h, w, c = shape
    if h * w == 1:  # rows: only the diagonal, for any array type
        return (_row_norms(X) ** 2 / c).reshape(n, 1, 1, 1)
    x = np.asarray(to_numpy(X), dtype=np.float64).reshape(n, h, w, c)
    q = np.empty((n, len(offsets), h, w))
    for k, (oh, ow) in enumerate(offsets):
        shifted = np.moveaxis(shift(np.moveaxis(x, -1, 1), oh, ow), 1, -1)
        q[:, k] = np.einsum("nijc,nijc->nij", x, shifted) / c
    return q


def pixel_variances(X, layers, image_shape=None):
    """Exact pre-activation variances ``q[p, p]`` of every activation layer, per input.

    Each layer applies its variance rule (``layer.variance``) to the pixel pairs
    ``q[p, p + o]`` at the offsets that later pooling layers need, so the cost is linear in
    the number of pixels; the result equals the diagonal of the full pixel-pair recursion of
    :func:`skntk.kernels.kernel`.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, C), or rows (n, C) for a fully connected network
    layers : list
        A layer list (see :mod:`skntk.architectures`).
    image_shape : tuple (H, W, C), optional
        For 2-D ``X`` of flattened images.

    Returns
    -------
    list of ndarray of shape (n, H_l, W_l)
        One per activation layer, float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import myrtle_network
    >>> from skntk.planning import pixel_variances
    >>> X = np.random.RandomState(0).randn(2, 8, 8, 3)
    >>> [v.shape for v in pixel_variances(X, myrtle_network(5, "relu"))]
    [(2, 8, 8), (2, 8, 8), (2, 4, 4), (2, 2, 2)]
    """
    if image_shape is None:
        image_shape = X.shape[1:] if X.ndim == 4 else (1, 1, X.shape[1])
    h, w, _ = image_shape
    shapes = layer_shapes(layers, h, w)
    offsets = _required_offsets(layers, shapes)
    if not offsets:
        return []
    state = VarianceState(_input_pairs(X, image_shape, offsets[0]), offsets[0], offsets[0], [])
    with np.errstate(over="ignore", invalid="ignore"):
        for i, layer in enumerate(layers):
            state.next_offsets = offsets[i + 1] if i + 1 < len(offsets) else [(0, 0)]
            state = layer.variance(state)
            state.offsets = state.next_offsets
            if not np.all(np.isfinite(state.q)):
                raise ValueError(
                    f"the pre-activation variance of layer {i + 1} ({layer!r}) overflows "
                    f"float64 for inputs with entries up to {_peak(X):.3g} (it grows like "
                    "|x|^2 / d): rescale X (e.g. StandardScaler, or divide by its largest "
                    "absolute value), or reduce weight_std"
                )
    return state.variances


def _peak(X):
    X = X.data if sp.issparse(X) else np.asarray(to_numpy(X))
    return float(np.max(np.abs(X), initial=0.0))


# ----------------------------------------------------------------------------------------------
# the plan
# ----------------------------------------------------------------------------------------------


def network_homogeneity(layers):
    """``k`` such that every feature map of ``layers`` satisfies ``f(c x) = c^k f(x)`` for
    ``c > 0`` (the product of the layers' ``scale_degree``), or ``None``.

    Networks of homogeneous activations without biases have one; the estimators then work on
    rows rescaled by powers of two and scale the features back, so they are exact at any
    input scale.

    Examples
    --------
    >>> from skntk.architectures import fully_connected, network_homogeneity
    >>> network_homogeneity(fully_connected(3, "relu")), network_homogeneity(
    ...     fully_connected(1, "relu", 1.0, 0.1)), network_homogeneity(fully_connected(1, "erf"))
    (1, None, None)
    """
    degree = 1
    for layer in layers:
        k = layer.scale_degree
        if k is None:
            return None
        degree *= k
    return degree


@dataclass(frozen=True)
class NetworkPlan:
    """A fitted feature map: the steps of every layer, in order.

    Attributes
    ----------
    layers : tuple
        The layer list.
    steps : tuple
        One feature step per layer (:mod:`skntk.steps`).
    want_ntk : bool
    image_shape : tuple (h, w, c)
    width : int
        Columns of the last step's features.
    final : SRHT or None
        Compresses ``width`` columns to ``n_components`` (when the network is too small for
        the requested width, or too narrow a request for the method's minimum).
    padding : int
        Zero columns appended (when ``width < n_components`` with nothing to compress).
    row_cost : int
        Entries of the largest intermediate array per input (sizes the batches).

    Examples
    --------
    >>> import numpy as np
    >>> from skntk import CNTKSketch
    >>> X = np.random.RandomState(0).rand(4, 6, 6, 1)
    >>> plan = CNTKSketch(128, depth=1, random_state=0).fit(X).plan_
    >>> [type(step).__name__ for step in plan.steps], plan.transform(X.reshape(4, -1)).shape
    (['LinearStep', 'HermiteStep', 'PoolStep', 'LinearStep'], (4, 128))
    """

    layers: tuple
    steps: tuple
    want_ntk: bool
    image_shape: tuple
    width: int
    final: SRHT | None
    padding: int
    row_cost: int

    def features(self, X):
        """The features of each step for rows ``X`` (n, H*W*C), before the readout."""
        h, w, c = self.image_shape
        n = X.shape[0]
        needs = any(isinstance(step, HermiteStep) for step in self.steps)
        # exact per-pixel variances: host float64 (images: from a host copy of the batch)
        variances = pixel_variances(X, self.layers, self.image_shape) if needs else []
        if h * w > 1:
            X = _pixel_rows(X, n * h * w, c)
        feats = Features(X * _scalar_of(X, 1.0 / math.sqrt(c)), None, (n, h, w), variances)
        for step in self.steps:
            feats = step.transform(feats)
        return feats

    def locate_nonfinite(self, X):
        """Where the features of rows ``X`` first stop being finite: a sentence naming the
        layer (its position and its repr) and the part (variances, NNGP or NTK features)."""
        h, w, c = self.image_shape
        n = X.shape[0]
        needs = any(isinstance(step, HermiteStep) for step in self.steps)
        variances = pixel_variances(X, self.layers, self.image_shape) if needs else []
        for k, v in enumerate(variances):
            if not np.all(np.isfinite(v)):
                layer = [la for la in self.layers if hasattr(la, "activation")][k]
                return (f"the pre-activation variance of activation layer {k + 1} ({layer!r}) "
                        "overflows float64")
        feats = Features(_pixel_rows(X, n * h * w, c) if h * w > 1 else X, None, (n, h, w),
                         variances)
        for i, (layer, step) in enumerate(zip(self.layers, self.steps, strict=False)):
            feats = step.transform(feats)
            for name, part in (("NNGP", feats.phi), ("NTK", feats.psi)):
                if part is not None and not _finite_host(part):
                    return f"the {name} features of layer {i + 1} ({layer!r}) are not finite"
        return "the readout is not finite"

    def transform(self, X):
        """Map rows ``X`` of shape (n, H*W*C) (NHWC flattening) to the feature space.

        A homogeneous network (:func:`network_homogeneity`) maps rows rescaled by powers of
        two and scales the features back, so it is exact at any input scale."""
        degree = network_homogeneity(self.layers)
        if degree is not None:
            X, exponents = unit_scale_rows(X)
        Z = self._readout(self.features(X))
        return Z if degree is None else rescale_rows(Z, exponents, degree)

    def _readout(self, feats):
        Z = feats.psi if self.want_ntk else feats.phi
        if sp.issparse(Z):
            Z = Z.toarray()
        if self.final is not None:
            Z = self.final.transform(Z)
            if isinstance(Z, np.ndarray):
                Z = np.ascontiguousarray(Z)
        elif self.padding:
            xp = get_namespace(Z)
            zeros = xp.zeros((Z.shape[0], self.padding), dtype=Z.dtype, device=device(Z))
            Z = xp.concat([Z, zeros], axis=1)
        return Z


def _pixel_rows(X, rows, c):
    """Flattened images ``(n, H*W*C)`` as one row per pixel ``(n*H*W, C)``."""
    if isinstance(X, np.ndarray):
        return X.reshape(rows, c)
    return get_namespace(X).reshape(X, (rows, c))


def _finite_host(a):
    if sp.issparse(a):
        a = a.data
    return bool(np.all(np.isfinite(to_numpy(a))))


def _scalar_of(X, value):
    return X.dtype.type(value) if isinstance(X, np.ndarray) or sp.issparse(X) else value


class Planner:
    """Walks a layer list in ``fit``; each layer plans its step through it.

    Parameters
    ----------
    layers : list
    X : array of shape (n, H*W*C)
        Training rows (NHWC-flattened images, or feature rows).
    image_shape : tuple (H, W, C)
    want_ntk : bool
    n_components : int
        Output columns.
    internal_components : int
        Columns of the NNGP features of intermediate activation layers (and, for the NTK, of
        their tensor part).
    degree : int
        Hermite degree of the activation steps (with ``adaptive_degree``, the largest).
    rng : RandomState
    leaf_cap : int or None
        PolySketch leaves CountSketch inputs wider than this first (speed, for wide
        neighbourhood concatenations).
    strategy : {"hermite", "monte_carlo"}
        How activation layers are sketched (:func:`plan_activation`).
    leverage : bool
        Monte-Carlo strategy: draw the Gaussian directions by leverage-score sampling
        (:func:`plan_monte_carlo`).
    adaptive_degree : bool
        Each Hermite step takes the lowest degree up to ``degree`` whose series captures the
        activation at the layer's scale (:func:`hermite_degree`).
    tail_tolerance : float, default=1.0
        Factor on the tails :func:`hermite_degree` lets through; below 1 for sketches whose
        noise is lower (the estimators take 0.5 with landmarks), so that the truncation's
        bias stays below it.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import fully_connected
    >>> from skntk.planning import Planner
    >>> X = np.random.RandomState(0).randn(30, 4)
    >>> plan = Planner(fully_connected(2, "erf"), X, (1, 1, 4), want_ntk=True,
    ...                n_components=200, internal_components=200, degree=8,
    ...                rng=np.random.RandomState(0)).plan()
    >>> plan.transform(X).shape
    (30, 200)
    """

    def __init__(self, layers, X, image_shape, *, want_ntk, n_components, internal_components,
                 degree, rng, leaf_cap=None, strategy="hermite", leverage=False,
                 adaptive_degree=False, tail_tolerance=1.0):
        self.layers = list(layers)
        self.adaptive_degree = bool(adaptive_degree)
        self.tail_tolerance = float(tail_tolerance)
        self.strategy = strategy
        self.leverage = bool(leverage)
        self.image_shape = tuple(image_shape)
        self.want_ntk = want_ntk
        self.degree = degree
        self.rng = rng
        self.leaf_cap = leaf_cap
        # below the smallest width the Hermite step lays out without dropping degrees (which
        # would bias the kernel), plan wider and compress the output with an unbiased SRHT
        minimum = 4 * degree + 8
        self.internal_components = max(int(internal_components), minimum)
        self.final_dim = max(int(n_components), minimum)
        self.n_components = int(n_components)
        h, w, c = self.image_shape
        pixels = h * w
        first = subsample_rows(X, max(32, 2048 // pixels), rng)
        sample = first[: max(8, 256 // pixels)]
        self._first = self._start(first, np.float64)
        self._sample = self._start(sample, None)
        self.typical_variances = [
            float(np.median(v)) if v.size and np.median(v) > 0 else 1.0
            for v in self._first.variances
        ]
        # the large variances decide whether a truncated Hermite series is good enough
        self.large_variances = [float(np.quantile(v, 0.9)) if v.size else 0.0
                                for v in self._first.variances]
        self.n_activations = len(self.typical_variances)
        self.activation_index = 0
        self.ntk_typical = 0.0
        self.r0_columns = []  # columns of the features that hold an r_0 (constant-ish) value
        self.bias_column = None
        self.row_cost = 1

    def _start(self, X, dtype):
        h, w, c = self.image_shape
        if sp.issparse(X):
            X = X.toarray()
        X = np.asarray(to_numpy(X), dtype=dtype)
        n = X.shape[0]
        rows = X.reshape(n * h * w, c)
        return Features(rows * rows.dtype.type(1.0 / math.sqrt(c)), None, (n, h, w),
                        pixel_variances(X, self.layers, self.image_shape))

    # -- what the layers read ------------------------------------------------------------------
    @property
    def phi_width(self):
        return self._sample.phi.shape[1]

    @property
    def psi_width(self):
        return 0 if self._sample.psi is None else self._sample.psi.shape[1]

    @property
    def spatial_shape(self):
        return self._sample.shape[1:]

    def sample_rows(self):
        """The current features of the training subsample (float64 rows): before the first
        activation, exact features of more inputs; after it, the sketched ones."""
        feats = self._first if self._first is not None else self._sample
        return np.asarray(feats.phi, dtype=np.float64)

    # -- the walk ------------------------------------------------------------------------------
    def plan(self):
        """Plan every layer; returns a :class:`NetworkPlan`."""
        steps = []
        for i, layer in enumerate(self.layers):
            self.current = i
            step = layer.plan(self)
            steps.append(step)
            self._sample = step.transform(self._sample)
            if self._first is not None:
                self._first = (None if isinstance(step, HermiteStep)
                               else step.transform(self._first))
        if self.spatial_shape != (1, 1):
            raise ValueError("the network must end without spatial axes: add a GlobalAvgPool")
        width = self.psi_width if self.want_ntk else self.phi_width
        final, padding = None, 0
        if width > self.n_components:
            final = SRHT(width, self.n_components, self.rng)
        else:
            padding = self.n_components - width
        return NetworkPlan(tuple(self.layers), tuple(steps), self.want_ntk, self.image_shape,
                           width, final, padding, self.row_cost)

    def tail_width(self, phi_dim, t_dim):
        """Output width when the current activation layer emits ``phi_dim`` NNGP and
        ``t_dim`` tensor columns, through the layers after it (all exact)."""
        psi = t_dim if self.want_ntk else 0
        for layer in self.layers[self.current + 1 :]:
            phi_dim, psi = layer.widths(phi_dim, psi, self.want_ntk)
        return psi if self.want_ntk else phi_dim

    def next_linear(self):
        """``(W, b)`` of the first Dense or Conv layer after the current one."""
        for layer in self.layers[self.current + 1 :]:
            if hasattr(layer, "weight_std"):
                return layer.weight_std, layer.bias_std
        return 1.0, 0.0


class TruncationWarning(UserWarning):
    """The Hermite series of an activation, truncated at the sketch's degree, misses much of
    its energy at the data's scale (e.g. ``sin`` or ``erf`` of unscaled inputs)."""


# "auto" leaves the Hermite strategy when its truncated series misses more than this share of
# E[act(u)^2] (or of E[act'(u)^2], when that series is used) at the layer's large variances:
# beyond, the folded tail biases the sketch by more than its noise (see hermite_tails)
_VALUE_TAIL_MAX = 0.02
_DERIVATIVE_TAIL_MAX = 0.2
_MC_TENSOR_WEIGHT = 1.5
# the Hermite step's Monte-Carlo derivative (ReLU's step): its tensor columns also carry the
# Monte-Carlo noise of its tail (measured, ReLU with bias 0.5, depth 2, 8192 columns: weight 2
# against 1 takes the centred error on digits from .11 to .094 and keeps 512-column errors)
_MC_DERIVATIVE_WEIGHT = 2.0
# inside a fully connected network, a derivative given by its sketched series (gelu, erf, ...)
# gets 3/4 of internal_components tensor columns: the next layer compresses the wider NTK
# features anyway (measured, gelu with bias 0.5, depth 2, 8192 columns: 0.454-0.462 -> 0.414-
# 0.426 ms per row with the same errors on Gaussian rows, .0127; 1/2 raised them to .0128-.0132,
# and on 600 digits the centred error moved from .0452 to .0465, 1 standard error). Not on
# pixel rows (Myrtle-5 at 4096 columns: raw error .0031 -> .0050) nor for a Monte-Carlo
# derivative (ReLU with bias on digits: centred .074 -> .078 at 1/2)
_SERIES_TENSOR_SHARE = 0.75
# in fully connected layers, degree 1 (an SRHT of u) gets 1.6 times the columns that
# (|r_1| + |r'_1|) sqrt(1) gives it: it carries most of what distinguishes the inputs. Measured
# at 8192 columns, depth 2, bias 0.5: NNGPSketch ReLU on 600 digits, centred .0605 -> .0478 (8
# seeds; no heavy seed) and on Gaussian rows raw .0040 -> .0031; NTKSketch erf on Gaussian rows
# raw .0154 -> .0139, gelu .0127 (centred .426 -> .424), gelu on digits centred .0465 -> .0443;
# ReLU with bias on digits .0737 -> .0729. On pixel rows it raised Myrtle-5's raw error
# (4096 columns, 6 seeds: .0031 -> .0064)
_DEGREE_ONE_WEIGHT = 1.6
# adaptive degree: the lowest degree from _AUTO_MIN_DEGREE whose folded tail stays below these
# shares at the layer's large variances. The columns of the degrees left out go to the low
# ones, whose noise falls, but the folded tail is a bias that averaging seeds reveals: a tail
# of ~1% (degree 4 on a random image network, 512 columns, 8 seeds) leaves the mean's raw error
# at .82 of the per-seed error, against .25 at degree 6 (tail < 0.1%) and .42 at degree 8.
_AUTO_MIN_DEGREE = 4
_AUTO_VALUE_TAIL = 1e-3
_AUTO_DERIVATIVE_TAIL = 3e-3


def plan_activation(activation, planner):
    """Plan the feature step of the current activation layer with the planner's strategy:
    :func:`plan_hermite` (``"hermite"``), :func:`plan_monte_carlo` (``"monte_carlo"``), or
    ``"auto"``: Hermite unless its series, truncated at the planner's degree, misses too much
    of the activation's energy at the layer's variances (:func:`hermite_tails`), then
    Monte Carlo. An explicit ``"hermite"`` in that regime warns (:class:`TruncationWarning`).
    """
    strategy = planner.strategy
    if strategy != "monte_carlo" and activation.has_pointwise_form:
        q = planner.large_variances[planner.activation_index]
        tails = hermite_tails(activation, q, planner.degree, planner.want_ntk)
        bad = tails[0] > _VALUE_TAIL_MAX or tails[1] > _DERIVATIVE_TAIL_MAX
        if bad and strategy == "auto":
            strategy = "monte_carlo"
        elif bad:
            warnings.warn(
                f"the degree-{planner.degree} Hermite series of {activation!r} captures only "
                f"{1 - tails[0]:.1%} of E[act(u)^2] (and {1 - tails[1]:.1%} of E[act'(u)^2]) "
                f"at activation layer {planner.activation_index + 1}'s pre-activation "
                f"variance {q:.3g}: the sketch is biased. Scale the inputs (e.g. "
                "StandardScaler), or use the Monte-Carlo strategy (method='auto' or "
                "strategy='monte_carlo')", TruncationWarning, stacklevel=2)
    plan = plan_monte_carlo if strategy == "monte_carlo" else plan_hermite
    return _flatten_common_directions(planner, plan(activation, planner))


def _one_row_per_input(planner):
    """Whether the layer's rows are whole inputs (fully connected, or after a global pool),
    not pixels. Three choices measured on fully connected layers apply only there, because on
    pixel rows they cost accuracy: flattened tensor sketches
    (:meth:`~skntk.sketching.TensorSRHT.flatten_along`; on digits images, ``CNTKSketch``,
    gap, depth 1, 100 images, 8192 columns, they raise the centred error from .0065 to .036,
    where fully connected layers gain, .086 to .074 for a ReLU-with-bias NTK on 600 digits, 6
    seeds), ``_SERIES_TENSOR_SHARE`` and ``_DEGREE_ONE_WEIGHT``."""
    _, h, w = planner._sample.shape
    return h * w == 1


def _flatten_common_directions(planner, step):
    """``step`` with its tensor sketch ``T(psi, b)`` flattened along the common directions of
    its two factors on the training subsample, where pronounced: psi's mean direction (also
    the exact :class:`~skntk.steps.CommonTensor`'s) and that of the derivative's rest ``b``
    (:meth:`~skntk.sketching.TensorSRHT.flatten_along`). The exact common part is re-derived
    from the flattened sketch. Fully connected layers only (:func:`_one_row_per_input`)."""
    if step.tensor is None or not step.split or not _one_row_per_input(planner):
        return step
    first, _ = _psi_direction(np.asarray(planner._sample.psi, dtype=np.float64))
    rest = np.asarray(to_numpy(step._derivative_rest(planner._sample)), dtype=np.float64)
    second = _mean_direction(rest, None)
    if np.linalg.norm(second) < _MEAN_DIRECTION_MIN:
        second = None
    if first is None and second is None:
        return step
    step.tensor.flatten_along(first=first, second=second)
    common = step.common_tensor
    if common is None:
        return step
    return replace(step, common_tensor=CommonTensor.build(step.tensor, common.direction,
                                                          common.columns))


def hermite_degree(activation, planner):
    """Hermite degree of the current activation layer: the planner's ``degree``, or, with
    ``planner.adaptive_degree``, the lowest degree from 4 up to it whose folded tails
    (:func:`hermite_tails` at the layer's large variances) stay below 0.1% of ``E[act(u)^2]``
    and 0.3% of ``E[act'(u)^2]`` (times ``planner.tail_tolerance``), so that their bias stays
    below the noise of a mean over seeds: e.g. 5 for the normalized Gaussian, 7 for gelu at
    unit scale, 8 for erf, tanh and ReLU (up to 8); half those tails and up to 32, as with
    landmarks: 32 for ReLU, 14 for erf and tanh.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import fully_connected
    >>> from skntk.planning import Planner
    >>> X = np.random.RandomState(0).randn(50, 10)
    >>> X *= np.sqrt(10) / np.linalg.norm(X, axis=1, keepdims=True)  # variance 1 + 0.5^2
    >>> for act in ["gelu", "erf"]:
    ...     plan = Planner(fully_connected(1, act, bias_std=0.5), X, (1, 1, 10), want_ntk=True,
    ...                    n_components=256, internal_components=256, degree=8,
    ...                    rng=np.random.RandomState(0), adaptive_degree=True).plan()
    ...     print(act, plan.steps[1].degree)
    gelu 7
    erf 8
    """
    top = planner.degree
    if not planner.adaptive_degree:
        return top
    q = planner.large_variances[planner.activation_index]
    for p in range(min(_AUTO_MIN_DEGREE, top), top):
        value, derivative = hermite_tails(activation, q, p, planner.want_ntk)
        tol = planner.tail_tolerance
        if value <= tol * _AUTO_VALUE_TAIL and derivative <= tol * _AUTO_DERIVATIVE_TAIL:
            return p
    return top


def hermite_tails(activation, q, degree, want_ntk):
    """Shares of ``E[act(u)^2]`` and ``E[act'(u)^2]`` (``u ~ N(0, q)``) beyond Hermite degree
    ``degree``: ``1 - sum_{l <= p} r_l(s)^2 / E[act(u)^2]``, the energy
    :func:`~skntk._hermite.hermite_layer_coefficients` folds into the top degrees. The
    derivative's share counts only for the NTK and when its series is used (a discontinuous
    derivative is estimated by Monte Carlo anyway); otherwise it is 0.

    Examples
    --------
    >>> from skntk.planning import hermite_tails
    >>> [round(t, 3) for t in hermite_tails("sin", 1.0, 8, True)]  # unit scale: all captured
    [0.0, 0.0]
    >>> round(hermite_tails("sin", 9.0, 8, True)[0], 2)  # sin(3 g): most energy beyond 8
    0.61
    """
    act = get_activation(activation)
    q = np.array([max(float(q), 0.0)])
    s = np.sqrt(q)
    derivative = want_ntk and act.continuous_derivative
    energy, d_energy = act.duals(q, q, q.copy(), derivative)
    tails = [_tail(act.hermite_coefficients(s, degree), energy)]
    tails.append(_tail(act.derivative_hermite_coefficients(s, degree), d_energy)
                 if derivative else 0.0)
    return tails


def _tail(r, energy):
    e = float(np.asarray(energy).ravel()[0])
    return float(np.clip(1.0 - np.sum(r**2) / e, 0.0, 1.0)) if e > 0 else 0.0


def _typical(activation, planner, degree, tensor_weight=1.0, tensor_share=1.0):
    """Hermite coefficients at the layer's typical scale, the typical size of its output, and
    the widths of its NNGP and tensor parts (updates the planner's typical NTK diagonal;
    ``tensor_weight`` and ``tensor_share``: see :func:`_layer_widths`)."""
    index = planner.activation_index
    q = planner.typical_variances[index]
    s = math.sqrt(q)
    want_ntk = planner.want_ntk
    r = activation.hermite_coefficients([s], degree)[0]
    rd = activation.derivative_hermite_coefficients([s], degree)[0] if want_ntk else None
    e_act, e_der = activation.duals(np.array([q]), np.array([q]), np.array([q]), want_ntk)
    if want_ntk:
        planner.ntk_typical = (planner.ntk_typical + q) * float(e_der[0])
    last = index == planner.n_activations - 1
    phi_dim, t_dim = _layer_widths(planner, float(e_act[0]), last, tensor_weight, tensor_share)
    return r, rd, phi_dim, t_dim


def plan_hermite(activation, planner):
    """Plan a :class:`~skntk.steps.HermiteStep` for the current activation layer.

    Columns: intermediate layers get ``internal_components`` NNGP columns (and as many tensor
    columns for the NTK; 3/4 as many in fully connected layers whose derivative is a sketched
    series, :data:`_SERIES_TENSOR_SHARE`); the last one gets what the output needs, split
    between the NNGP and tensor parts in proportion to their typical diagonal sizes. Within
    ``phi``, degrees share columns in proportion to ``(|r_l| + |r'_l|) sqrt(l)`` at the
    typical scale, degree 1 with 1.6 times that in fully connected layers
    (``_DEGREE_ONE_WEIGHT``; one column allocator,
    :func:`skntk._estimator.allocate_with_overhead`).
    """
    p = hermite_degree(activation, planner)
    index = planner.activation_index
    # a discontinuous derivative (ReLU's step) is estimated by Monte Carlo, not its series
    monte_carlo = activation.has_pointwise_form and not activation.continuous_derivative
    weight = _MC_DERIVATIVE_WEIGHT if monte_carlo else 1.0
    fully_connected = _one_row_per_input(planner)
    share = _SERIES_TENSOR_SHARE if fully_connected and not monte_carlo else 1.0
    r, rd, phi_dim, t_dim = _typical(activation, planner, p, tensor_weight=weight,
                                     tensor_share=share)
    weights = np.abs(r[1:]) / max(np.linalg.norm(r[1:]), 1e-300)
    if rd is not None:
        weights = weights + np.abs(rd[1:]) / max(np.linalg.norm(rd[1:]), 1e-300)
    if not np.any(weights > 0):
        weights = np.ones(p)
    weights = weights * np.sqrt(np.arange(1, p + 1))
    if fully_connected:
        weights[0] *= _DEGREE_ONE_WEIGHT
    in_dim = planner.phi_width
    directions = _common_directions(planner, index)
    k = len(directions)
    extra = [0 if k == 0 else (1 if k == 1 else l + 1) for l in range(1, p + 1)]
    if phi_dim - 1 < sum(extra) + 2 * p:  # no room: the exact powers would crowd out degrees
        directions, k, extra = [], 0, [0] * p
    try:
        dims, exact, padding = allocate_with_overhead(
            weights, phi_dim - 1, [in_dim] + [None] * (p - 1), extra)
    except ValueError:
        raise ValueError(
            f"n_components={planner.n_components} (internal_components="
            f"{planner.internal_components}) is too small for degree={p}; increase it or "
            "decrease degree"
        ) from None
    sketched = [l for l in range(1, p + 1) if dims[l - 1] > 0 and not exact[l - 1]]
    poly, common = None, None
    if sketched:
        top = max(sketched)
        out_dims = [max(dims[i], 1) for i in range(top)]
        # leaves CountSketch wide inputs first (speed), never below the widest output
        base = (None if planner.leaf_cap is None
                else fast_len(min(in_dim, max(planner.leaf_cap, max(out_dims)))))
        poly = PolySketch(in_dim, top, out_dims, planner.rng, base_dim=base,
                          internal_dim=fast_len(max(out_dims)))
        if k:
            common = CommonPart.build(poly, directions, top)
    out_phi = 1 + sum(d + (extra[i] if d > 0 and not exact[i] else 0)
                      for i, d in enumerate(dims)) + padding
    tensor = _plan_tensor(planner, rd, t_dim, out_phi, in_dim, monte_carlo,
                          series=_series_layout(dims, exact, extra, common))
    lf = poly.leaf_fft_len if poly is not None else in_dim
    _account(planner, p * lf + out_phi, in_dim, out_phi, t_dim)
    return HermiteStep(activation, p, index, dims, exact, poly, common, padding, *tensor[:4],
                       (out_phi, t_dim if tensor[0] is not None else 0),
                       common_tensor=tensor[4])


def plan_monte_carlo(activation, planner):
    r"""Plan a :class:`~skntk.steps.MonteCarloStep` for the current activation layer.

    The same widths as :func:`plan_hermite`: ``phi_dim`` NNGP columns (the exact mean and
    ``m = phi_dim - 1`` centred values) and, for the NTK, ``t_dim`` tensor columns. One
    Gaussian projection ``G`` (``D x m'``) serves both: its first ``m`` columns the values, all
    of them the derivative's rest. ``m' = max(m, t_dim)`` inside the network and
    ``m' = m + t_dim`` at the last activation layer (the tensor sketch's error adds the
    Monte-Carlo error of its ``m'`` directions to its own ``1 / t``). The tensor columns are
    split between the exact ``r'_0`` part and the rest (:func:`_plan_tensor`) in proportion to
    ``|r'_0| sqrt(e)`` against ``c sqrt(E[act'^2] - r'_0^2)``, the rest's exact size at the
    layer's typical scale, with ``c = 1.5``: a column of a tensor sketch of centred random
    features has about ``c^2`` times the relative variance of an exactly kept one (measured on
    ReLU, depth 2, digits and Gaussian rows).

    The directions all input rows share (:func:`_common_directions`: their mean direction and
    the bias coordinate) carry the common mode of the kernel; their component in ``G`` is
    stratified (:func:`_monte_carlo_directions`), which keeps every column exactly Gaussian
    (so the features stay unbiased) and removes most of the common mode's sampling error.

    With ``planner.leverage`` (activations homogeneous of degree 1) the columns of ``G`` have
    the density ``p(w) = |w|^2 N(w; 0, I_D) / D`` (the Gaussian columns rescaled to radii
    ``r^2 ~ chi^2(D + 2)``, as in :func:`skntk.sketching.sample_leverage_gaussian`),
    with importance weights ``sqrt(D) / |w|`` on the values, whose exact mean is then
    ``r_0(s) sqrt(D) / E|g|``, ``E|g| = sqrt(2) Gamma((D + 1)/2) / Gamma(D/2)``.
    """
    if not activation.has_pointwise_form:
        raise ValueError(
            f"the Monte-Carlo strategy needs an activation with a pointwise form; "
            f"{activation!r} has none: use the Hermite strategy (strategy='hermite', or "
            "NTKSketch instead of NTKRandomFeatures)"
        )
    if planner.leverage and activation.homogeneity != 1:
        raise ValueError(
            "leverage sampling needs an activation homogeneous of degree 1 (relu, leaky_relu, "
            f"abs, abrelu); {activation!r} is not: use one of those or leverage_sampling=False"
        )
    index = planner.activation_index
    # a Monte-Carlo tensor column is noisier than a centred value column (measured: weight
    # 1.5 brings the digits' centred error from .110 to .098, the Gaussian rows' unchanged)
    _, _, phi_dim, t_dim = _typical(activation, planner, 0, tensor_weight=_MC_TENSOR_WEIGHT)
    in_dim = planner.phi_width
    m = phi_dim - 1
    rd, columns = None, m
    if planner.want_ntk:  # [r'_0, weighted size of the rest]: all _plan_tensor needs
        q = planner.typical_variances[index]
        r0 = activation.derivative_hermite_coefficients([math.sqrt(q)], 0)[0, 0]
        second = activation.duals(np.array([q]), np.array([q]), np.array([q]), True)[1][0]
        rd = np.array([r0, 1.5 * math.sqrt(max(float(second) - r0 * r0, 0.0))])
        last = index == planner.n_activations - 1
        columns = m + t_dim if last else max(m, t_dim)
    dtype = planner._sample.phi.dtype  # float32 fits store float32
    G = _monte_carlo_directions(planner, index, in_dim, (m, columns - m), dtype)
    weights, factor = None, 1.0
    if planner.leverage:  # each direction kept, radius redrawn (as leverage_radii does)
        scale, radius_sq = leverage_scale(G.column_norms_squared(), in_dim, planner.rng)
        G = G.with_column_scale(scale)
        weights = np.sqrt(in_dim / radius_sq[:m])
        # E|g| = sqrt(2) Gamma((D + 1)/2) / Gamma(D/2) for g ~ N(0, I_D)
        log_mean_norm = 0.5 * math.log(2.0) + math.lgamma((in_dim + 1) / 2)
        factor = math.sqrt(in_dim) * math.exp(math.lgamma(in_dim / 2) - log_mean_norm)
    tensor = _plan_tensor(planner, rd, t_dim, phi_dim, in_dim, G)[:3] + (G,)
    _account(planner, G.shape[1], in_dim, phi_dim, t_dim)
    return MonteCarloStep(activation, 0, index, [], [], None, None, 0, *tensor,
                          (phi_dim, t_dim if tensor[0] is not None else 0),
                          value_weights=weights, mean_factor=factor)


def _monte_carlo_directions(planner, index, dim, blocks, dtype):
    """Standard Gaussian directions ``G`` (``dim x sum(blocks)``, a
    :class:`~skntk.steps.GaussianProjection`) whose components along the rows' common
    directions are stratified within each block of columns.

    For a unit direction ``v``, ``v^T g`` of a Gaussian column is ``N(0, 1)`` and independent
    of the rest of ``g``; replacing it by ``Phi^{-1}((pi_j + U_j) / k)`` (``pi`` a random
    permutation of the block's ``k`` columns, ``U_j`` uniform) leaves every column exactly
    ``N(0, I)`` while the block's ``k`` values cover the normal law evenly. The replacement is
    a rank-one term per direction, ``G <- G + v (strata - v^T G)``, kept apart from ``G``
    (which may be structured).
    """
    gen = planner.rng
    G = GaussianProjection.draw(dim, sum(blocks), gen, dtype, groups=blocks)
    directions = _common_directions(planner, index)
    if not len(directions):
        return G
    V = np.array([np.asarray(v, dtype=np.float64) for v in directions])
    along = np.array([G.columns_along(v) for v in V])
    deltas = np.zeros_like(along)
    start = 0
    for k in blocks:
        cols = slice(start, start + k)
        for i in range(len(V) if k else 0):
            current = along[i, cols] + (V[:i] @ V[i]) @ deltas[:i, cols]
            strata = ndtri((gen.permutation(k) + gen.uniform(size=k)) / k)
            deltas[i, cols] = strata - current
        start += k
    return G.with_strata(V, deltas)


def _plan_tensor(planner, rd, t_dim, out_phi, in_dim, monte_carlo, series=None):
    """The NTK part of an activation step: ``(tensor, split, compress, G, common_tensor)``.

    The ``r'_0`` column of ``dphi`` (the derivative's mean) times ``psi`` is split off the
    tensor sketch: exactly when ``psi`` is narrow, else through a
    :class:`~skntk.steps.PartialCompress`. The mean part and the tensor rest share the columns
    in proportion to ``|r'_0| sqrt(e)`` against ``|r'_{1..}|``, with ``e`` the share of
    ``psi``'s energy outside its mean direction (measured on the training subsample).
    ``monte_carlo``: ``True`` draws Gaussian directions for a Monte-Carlo derivative rest; an
    array is a projection already drawn (the Monte-Carlo strategy's, shared with the values).
    ``series``: ``(width, common columns)`` of the Hermite step's series blocks, which lead
    the derivative's rest (the Monte-Carlo rest's control variate); their columns along the
    rows' common directions, times ``psi``'s mean direction, are kept exact
    (:class:`~skntk.steps.CommonTensor`).
    """
    psi_dim = planner.psi_width
    if not planner.want_ntk or not psi_dim:
        return None, False, None, None, None
    rng = planner.rng
    split = bool(out_phi > 1 and t_dim >= 8)
    if not split:
        return TensorSRHT(psi_dim, out_phi, t_dim, rng), False, None, None, None
    rows = np.asarray(planner._sample.psi, dtype=np.float64)
    direction, rest_energy = _psi_direction(rows)
    w_mean, w_rest = abs(rd[0]) * math.sqrt(rest_energy), np.linalg.norm(rd[1:])
    share = w_mean / (w_mean + w_rest) if w_mean + w_rest > 0 else 0.5
    mean_dim = psi_dim
    compress = None
    target = int(np.clip(round(t_dim * share), 2, t_dim - 1))
    if psi_dim > target:
        compress = _plan_compress(rows, direction, target, rng)
        mean_dim = compress.width
    G = monte_carlo if isinstance(monte_carlo, GaussianProjection) else None
    if monte_carlo is True:
        G = GaussianProjection.draw(in_dim, t_dim - mean_dim, rng)
    width, columns = series if series is not None else (0, [])
    dphi_dim = out_phi - 1 if G is None else G.shape[1] + width
    rest_dim = t_dim - mean_dim
    exact = len(columns) if direction is not None and rest_dim - len(columns) >= 8 else 0
    tensor = TensorSRHT(psi_dim, dphi_dim, rest_dim - exact, rng)
    common = CommonTensor.build(tensor, direction, columns) if exact else None
    if compress is not None and not len(compress.exact):
        compress = _share_spectrum(compress, tensor)
    return tensor, True, compress, G, common


def _share_spectrum(compress, tensor):
    """``compress`` with the signs of ``tensor``'s first factor (same length: no column is
    exact), so one transform of ``psi`` serves both (see
    :class:`~skntk.steps.PartialCompress`)."""
    srht = compress.srht
    srht.signs_ = tensor.signs1_
    sketch = None
    if compress.direction is not None:
        sketch = srht.transform(compress.direction[None, :])[0]
    return replace(compress, direction_sketch=sketch, shares_spectrum=True)


def _series_layout(dims, exact, extra, common):
    """Width of the series blocks ``[B_1, ..., B_c]`` (``c`` the control variate's top
    degree, :data:`skntk.steps.CONTROL_DEGREE`) that lead a Monte-Carlo derivative's rest, and
    the positions, within them, of the columns along the rows' common directions (the exact
    symmetric powers of :class:`~skntk.steps.CommonPart`)."""
    top = CONTROL_DEGREE
    width = sum(d + (extra[i] if d > 0 and not exact[i] and common is not None else 0)
                for i, d in enumerate(dims[:top]))
    columns = _common_columns(dims[:top], exact[:top], extra[:top], common)
    return width, columns


def _common_columns(dims, exact, extra, common):
    """Positions, within the series blocks ``[B_1, ...]`` of a Hermite step, of the
    columns along the rows' common directions (the exact symmetric powers of
    :class:`~skntk.steps.CommonPart`)."""
    columns, offset = [], 0
    for d, is_exact, k in zip(dims, exact, extra, strict=True):
        if d == 0:
            continue
        if common is not None and not is_exact:
            columns.extend(range(offset, offset + k))
            offset += k
        offset += d
    return np.array(columns, dtype=np.int64)


def _plan_compress(rows, direction, width, rng):
    """A :class:`~skntk.steps.PartialCompress` of ``psi`` to ``width`` columns.

    An SRHT of columns ``R`` to ``k`` columns adds a Gram-matrix error of squared size about
    ``(sum_{j in R} e_j)^2 / k`` (``e_j`` the columns' energy outside the common direction,
    on the training subsample), so the ``c`` columns of most energy are kept exact, with ``c``
    minimizing ``(energy left) ^ 2 / (width - c)``.
    """
    if width < 3:  # no room for the direction's column next to an SRHT
        direction = None
    resid = rows if direction is None else rows - np.outer(rows @ direction, direction)
    energy = np.mean(resid * resid, axis=0)
    # columns of equal energy (repeated blocks of psi) rank by index, whatever the rounding
    # of the training features (float32 or float64)
    top = energy.max(initial=0.0)
    order = np.argsort(-(np.round(energy / top, 6) if top > 0 else energy), kind="stable")
    left = np.sum(energy) - np.concatenate([[0.0], np.cumsum(energy[order])])
    has_dir = direction is not None
    counts = np.arange(0, width - 1 - has_dir)  # leave the SRHT at least one column
    c = int(counts[np.argmin(left[counts] ** 2 / (width - has_dir - counts))])
    exact, rest = np.sort(order[:c]), np.sort(order[c:])
    v, sketch = None, None
    if has_dir:
        v = np.zeros(rows.shape[1])
        v[rest] = direction[rest]
        norm = np.linalg.norm(v)
        has_dir = norm >= _MEAN_DIRECTION_MIN
        v = v / norm if has_dir else None
    srht = SRHT(rows.shape[1], width - len(exact) - has_dir, rng)
    srht.signs_[exact] = 0.0  # the exact columns stay out of the sketch, with no column copy
    if has_dir:
        sketch = srht.transform(v[None, :])[0]
    return PartialCompress(exact, srht, v, sketch)


def _account(planner, work, in_dim, out_phi, t_dim):
    """Record the step's per-row cost (sizes the batches) and move the planner on."""
    h, w = planner.spatial_shape
    psi_dim = planner.psi_width
    planner.row_cost = max(planner.row_cost,
                           h * w * (work + 2 * psi_dim + 2 * t_dim + out_phi + in_dim))
    planner.activation_index += 1
    planner.r0_columns, planner.bias_column = [0], None


def _layer_widths(planner, q_next, last, tensor_weight=1.0, tensor_share=1.0):
    """NNGP columns (including r_0) and tensor columns of the current activation layer: at
    the last layer in proportion to the NNGP and NTK parts' typical diagonals, the NTK part
    weighted by ``tensor_weight`` (the relative noise of its tensor columns); inside the
    network ``internal_components`` NNGP columns and ``tensor_share`` times as many tensor
    columns."""
    m_int = planner.internal_components
    if not last:
        return m_int, (max(1, round(m_int * tensor_share)) if planner.want_ntk else 0)
    fixed = planner.tail_width(0, 0)
    per_phi = planner.tail_width(1, 0) - fixed
    m_last = planner.final_dim - fixed
    t_dim = 0
    if planner.want_ntk:
        W, b = planner.next_linear()
        nngp_part = W * W * q_next + b * b
        ntk_part = W * W * planner.ntk_typical * tensor_weight
        total = nngp_part + ntk_part
        frac = ntk_part / total if total > 0 else 0.5
        t_dim = int(np.clip(round(m_last * frac), 1, max(m_last - 3, 1)))
    phi_dim = (m_last - t_dim) // max(per_phi, 1)
    if phi_dim < 2:
        raise ValueError(
            f"n_components={planner.n_components} is too small for this network; use at least "
            f"{fixed + 2 * max(per_phi, 1) + planner.want_ntk}"
        )
    return phi_dim, t_dim


def _mean_direction(rows, bias_column):
    """Mean of the normalized nonzero rows, with the bias coordinate zeroed (so it is
    orthogonal to the bias direction); not normalized: its length says how pronounced."""
    norms = np.linalg.norm(rows, axis=1)
    keep = norms > 0
    v = (rows[keep] / norms[keep, None]).mean(axis=0) if keep.any() else np.zeros(rows.shape[1])
    if bias_column is not None:
        v[bias_column] = 0.0
    return v


def _psi_direction(rows):
    """The unit mean direction of the training subsample's NTK features ``rows`` when
    pronounced (else ``None``), and the share of their energy outside it."""
    v = _mean_direction(rows, None)
    norm = np.linalg.norm(v)
    if norm < _MEAN_DIRECTION_MIN:
        return None, 1.0
    v = v / norm
    total = np.sum(rows * rows)
    rest = 1.0 - np.sum((rows @ v) ** 2) / total if total > 0 else 1.0
    return v, float(np.clip(rest, 1e-4, 1.0))


def _common_directions(planner, index):
    """Directions shared by all rows entering the current activation layer.

    The mean direction of the training features (exact ones at the first activation layer,
    where it is kept only when pronounced, e.g. nonnegative images; sketched ones deeper,
    where activations give all features a large common part, with the previous ``r_0``
    columns as the fallback), and the bias column.
    """
    dim = planner.phi_width
    directions = []
    v = _mean_direction(planner.sample_rows(), planner.bias_column)
    if np.linalg.norm(v) >= _MEAN_DIRECTION_MIN:
        directions.append(v / np.linalg.norm(v))
    elif index > 0 and planner.r0_columns:
        v = np.zeros(dim)
        v[planner.r0_columns] = 1.0
        directions.append(v / np.linalg.norm(v))
    if planner.bias_column is not None:
        v = np.zeros(dim)
        v[planner.bias_column] = 1.0
        directions.append(v)
    return directions
