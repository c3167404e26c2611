"""Networks described once, as lists of layers that each own their kernel rule.

A network is a list of layers (``Dense``, ``Conv``, ``Nonlinearity``, ``AvgPool``,
``GlobalAvgPool``). Each layer updates a :class:`KernelState`: the NNGP covariance ``q`` and the
NTK ``T`` of a batch of input pairs, following neural-tangents' ``stax`` conventions (NTK
parameterization):

* ``Dense``: ``q <- W^2 q + b^2``; ``T <- q + W^2 T``.
* ``Conv`` (f x f, SAME, stride 1): ``q'[p, p'] = W^2 / f^2 sum_delta q[p+delta, p'+delta] + b^2``
  (zero outside the image, still divided by ``f^2``); ``T' = q' + W^2 (same window mean of T)``.
* ``Nonlinearity``: ``q <- E[act(u) act(v)]``, ``T <- T E[act'(u) act'(v)]`` with the per-pixel
  pre-activation variances.
* ``AvgPool`` (2x2, stride 2, VALID) and ``GlobalAvgPool``: averages of pixel pairs.

States come in two kinds. A *self* state describes each input paired with itself, with all
pixel pairs ``(p, p')`` of one image; its diagonal gives the per-pixel variances. A *cross* state
describes pairs of different inputs ``(x_i, y_j)``; its activation layers read the variances
recorded by the self pass. Fully connected states have no spatial axes.

:func:`skntk.kernels.kernel` computes the exact kernels of any such list. The sketch estimators
do not walk these lists yet: they follow the same conventions with their own loops (issue 11).

The ``kernel`` rules take states of any array namespace (NumPy, CuPy, array-API libraries,
through :func:`skntk._special.ops`) and keep NumPy's in-place updates; the ``variance`` rules
(used at fit time by :mod:`skntk.planning`) are NumPy.
"""

from dataclasses import dataclass, replace

import numpy as np

from ._estimator import BIAS_STD, WEIGHT_STD, OddInteger, check_parameter
from ._special import ops
from ._value_object import ValueObject
from .activations import get_activation
from .planning import inside_mask, network_homogeneity, plan_activation, shift
from .steps import LinearStep, PoolStep

__all__ = [
    "KernelState",
    "network_homogeneity",
    "Dense",
    "Conv",
    "Nonlinearity",
    "AvgPool",
    "GlobalAvgPool",
    "fully_connected",
    "gap_network",
    "myrtle_network",
    "MYRTLE_BLOCKS",
]

MYRTLE_BLOCKS = {5: (2, 1, 1), 7: (2, 2, 2), 10: (3, 3, 3)}


@dataclass
class KernelState:
    """Kernel state of a batch of input pairs.

    Attributes
    ----------
    nngp : ndarray
        ``q``: shape ``batch + spatial + spatial`` (cross: batch ``(n1, n2)``; self: ``(n,)``).
    ntk : ndarray or None
        ``T``, same shape as ``nngp`` (``None`` when only the NNGP is wanted).
    spatial : int
        Number of spatial axes (0 for fully connected, 2 for images).
    is_self : bool
        Whether each entry pairs an input with itself.
    variances : list
        Self states: filled with each activation layer's per-pixel pre-activation variances.
        Cross states: ``(var_x, var_y)`` pairs consumed in order by the activation layers.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import Dense, KernelState
    >>> state = KernelState(np.array([[0.5]]), np.zeros((1, 1)), 0, False, [])
    >>> Dense(weight_std=2.0, bias_std=1.0).kernel(state).nngp  # 4 * 0.5 + 1
    array([[3.]])
    """

    nngp: np.ndarray
    ntk: np.ndarray | None
    spatial: int
    is_self: bool
    variances: list


def _self_diagonal(state):
    """Per-pixel variances ``q[p, p]`` of a self state: shape ``(n,) + spatial``."""
    q = state.nngp
    if state.spatial == 0:
        return q
    m = ops(q)
    n, h, w = q.shape[:3]
    # the diagonal of each (hw, hw) matrix is every (hw + 1)-th entry of its flattening
    return m.reshape(m.reshape(q, (n, (h * w) ** 2))[:, :: h * w + 1], (n, h, w))


def _expand_variances(var_x, var_y, state):
    """Broadcast per-input variances against the pair tensor of ``state``."""
    if state.is_self:
        if state.spatial == 0:
            return var_x, var_x
        return var_x[:, :, :, None, None], var_x[:, None, None, :, :]
    if state.spatial == 0:
        return var_x[:, None], var_y[None, :]
    return var_x[:, None, :, :, None, None], var_y[None, :, None, None, :, :]


def _shifted(n, d):
    """Slices ``(dst, src)`` of the pixels ``p`` and ``p + d`` with both in ``[0, n)``."""
    return slice(max(0, -d), min(n, n - d)), slice(max(0, d), min(n, n + d))


class Layer(ValueObject):
    """Base of the layers: each owns four rules.

    * ``kernel(state)``: the exact kernel rule on a :class:`KernelState`;
    * ``variance(state)``: the exact per-pixel variance rule on a
      :class:`~skntk.planning.VarianceState` (pixel pairs at a few offsets: linear cost),
      with ``variance_offsets`` saying which offsets its input must hold and ``output_shape``
      its spatial shape;
    * ``plan(planner)``: the fit-time plan of its feature step (:mod:`skntk.steps`), through a
      :class:`~skntk.planning.Planner`; the step's ``transform`` maps features of a batch;
    * ``widths(phi, psi, want_ntk)``: the feature widths after it, for exact (non-random)
      layers.

    ``scale_degree`` says how its output scales with its input: ``k`` when scaling the input
    by ``c > 0`` scales the output by ``c^k``, ``None`` otherwise (see
    :func:`network_homogeneity`). The defaults describe a linear layer that changes nothing
    spatial.
    """

    scale_degree = 1

    def output_shape(self, h, w):
        return h, w

    def variance_offsets(self, needed_after, shape):
        return set(needed_after)

    def widths(self, phi, psi, want_ntk):
        return phi, psi


def _scales(weight_std, bias_std, caller):
    """Validated ``(W, b)`` of a linear layer (the rules the estimators use too)."""
    return (
        float(check_parameter(weight_std, "weight_std", WEIGHT_STD, caller)),
        float(check_parameter(bias_std, "bias_std", BIAS_STD, caller)),
    )


class _Linear(Layer):
    """Shared rules of Dense (``filter_size = 1``) and Conv."""

    @property
    def scale_degree(self):
        return 1 if self.bias_std == 0 else None

    def _window_sum(self, q):
        f, r = self.filter_size, self.filter_size // 2
        if f == 1:
            return q.copy()
        h, w = q.shape[-2:]
        padded = np.pad(q, [(0, 0)] * (q.ndim - 2) + [(r, r), (r, r)])
        acc = np.zeros_like(q)
        for dh in range(f):
            for dw in range(f):
                acc += padded[..., dh : dh + h, dw : dw + w]
        return acc

    def variance(self, state):
        f = self.filter_size
        acc = self._window_sum(state.q)
        acc *= self.weight_std**2 / (f * f)
        acc += self.bias_std**2
        h, w = acc.shape[-2:]
        for k, (oh, ow) in enumerate(state.offsets):
            if (oh, ow) != (0, 0):
                acc[:, k] *= inside_mask(h, w, oh, ow)
        state.q = acc
        return state

    def plan(self, planner):
        f2 = self.filter_size**2
        d = planner.phi_width
        planner.r0_columns = [k * d + c for k in range(f2) for c in planner.r0_columns]
        planner.bias_column = f2 * d if self.bias_std > 0 else None
        planner.ntk_typical *= self.weight_std**2  # T <- W^2 T; the activation adds q
        return LinearStep(self.filter_size, self.weight_std, self.bias_std, planner.want_ntk)

    def widths(self, phi, psi, want_ntk):
        f2 = self.filter_size**2
        phi = f2 * phi + (self.bias_std > 0)
        return phi, (phi + f2 * psi if want_ntk else psi)


class Dense(_Linear):
    """Fully connected layer: ``q <- W^2 q + b^2``, ``T <- q + W^2 T``.

    Parameters
    ----------
    weight_std, bias_std : float
        ``W`` and ``b``.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import Dense, KernelState
    >>> state = KernelState(np.array([[0.5]]), np.array([[0.25]]), 0, False, [])
    >>> float(Dense(1.0, 0.0).kernel(state).ntk[0, 0])  # q + W^2 T
    0.75
    """

    _param_names = ("weight_std", "bias_std")
    filter_size = 1

    def __init__(self, weight_std=1.0, bias_std=0.0):
        self.weight_std, self.bias_std = _scales(weight_std, bias_std, "Dense")

    def kernel(self, state):
        w2, b2 = self.weight_std**2, self.bias_std**2
        nngp = state.nngp
        nngp *= w2
        nngp += b2
        ntk = state.ntk
        if ntk is not None:
            ntk *= w2
            ntk += nngp
        return state


class Conv(_Linear):
    """Convolution ``f x f``, stride 1, SAME zero padding (odd ``f``), on pixel-pair tensors.

    ``q'[p, p'] = W^2 / f^2 sum_delta q[p + delta, p' + delta] + b^2``;
    ``T' = q' + W^2 / f^2 sum_delta T[p + delta, p' + delta]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import Conv
    >>> q = np.ones((1, 1, 3, 3, 3, 3))  # one pair of 3x3 images, all pixel pairs 1
    >>> float(Conv(3).window_mean(q)[0, 0, 1, 1, 1, 1])  # interior: all 9 shifts inside
    1.0
    """

    _param_names = ("filter_size", "weight_std", "bias_std")

    def __init__(self, filter_size=3, weight_std=1.0, bias_std=0.0):
        self.filter_size = int(check_parameter(filter_size, "filter_size", OddInteger(), "Conv"))
        self.weight_std, self.bias_std = _scales(weight_std, bias_std, "Conv")

    def window_mean(self, q, spatial_pairs=True):
        """``(1/f^2) sum_delta q[..., p + delta, p' + delta]`` over the last four axes.

        Zero padding without a padded copy: each shift ``delta`` adds ``q`` at the pixel pairs
        whose shifted pixels both lie inside the image (in place for every namespace).
        """
        m = ops(q)
        f, r = self.filter_size, self.filter_size // 2
        h, w = q.shape[-2:]
        out = m.zeros_like(q)
        for dh in range(-r, r + 1):
            rows, src_rows = _shifted(h, dh)
            for dw in range(-r, r + 1):
                cols, src_cols = _shifted(w, dw)
                out[..., rows, cols, rows, cols] += q[..., src_rows, src_cols, src_rows, src_cols]
        out *= 1.0 / (f * f)
        return out

    def kernel(self, state):
        w2, b2 = self.weight_std**2, self.bias_std**2
        nngp = self.window_mean(state.nngp)
        nngp *= w2
        nngp += b2
        ntk = None
        if state.ntk is not None:
            ntk = self.window_mean(state.ntk)
            ntk *= w2
            ntk += nngp
        return replace(state, nngp=nngp, ntk=ntk)


class Nonlinearity(Layer):
    """Activation layer: ``q <- E[act(u) act(v)]``, ``T <- T E[act'(u) act'(v)]``.

    Examples
    --------
    >>> from skntk.architectures import Nonlinearity
    >>> Nonlinearity("relu")
    Nonlinearity(activation=ReLU())
    """

    _param_names = ("activation",)

    def __init__(self, activation):
        self.activation = get_activation(activation)

    @property
    def scale_degree(self):
        return self.activation.homogeneity

    def kernel(self, state):
        m = ops(state.nngp)
        if state.is_self:
            var = m.copy(_self_diagonal(state))
            state.variances.append(var)
            var_x = var_y = var
        else:
            var_x, var_y = state.variances.pop(0)
        vx, vy = _expand_variances(var_x, var_y, state)
        dtype = state.nngp.dtype
        nngp, deriv = self.activation.duals(
            vx, vy, state.nngp, with_derivative=state.ntk is not None
        )
        ntk = state.ntk
        if ntk is not None:
            if m.native or deriv.dtype == ntk.dtype:
                ntk *= deriv  # NumPy and CuPy cast a float64 factor in place
            else:  # the same rounding as NumPy's in-place product, out of place
                ntk = m.astype(m.astype(ntk, deriv.dtype) * deriv, dtype)
        return replace(state, nngp=m.astype(nngp, dtype), ntk=ntk)

    def variance_offsets(self, needed_after, shape):
        return set(needed_after) | {(0, 0)}

    def variance(self, state):
        var = state.diagonal().copy()
        state.variances.append(var)
        q = state.q
        h, w = q.shape[-2:]
        new = np.empty_like(q)
        for k, (oh, ow) in enumerate(state.offsets):
            vy = shift(var, oh, ow, fill=1.0)
            val, _ = self.activation.duals(var, vy, q[:, k].copy(), with_derivative=False)
            new[:, k] = np.asarray(val) * inside_mask(h, w, oh, ow)
        state.q = new
        return state

    def plan(self, planner):
        return plan_activation(self.activation, planner)


class AvgPool(Layer):
    """Average pooling 2x2, stride 2, VALID padding (odd trailing rows/columns are dropped).

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import AvgPool, KernelState
    >>> q = np.arange(16.0).reshape(1, 1, 2, 2, 2, 2)
    >>> AvgPool().kernel(KernelState(q, None, 2, False, [])).nngp.shape
    (1, 1, 1, 1, 1, 1)
    """

    def kernel(self, state):
        def pool(q):
            m = ops(q)
            h, w = q.shape[-2:]
            hn, wn = h // 2, w // 2
            if hn == 0 or wn == 0:
                raise ValueError(f"AvgPool(2x2) needs images of at least 2x2 pixels, got {h}x{w}")
            q = q[..., : 2 * hn, : 2 * wn, : 2 * hn, : 2 * wn]
            lead = tuple(q.shape[:-4])
            q = m.reshape(q, lead + (hn, 2, wn, 2, hn, 2, wn, 2))
            k = len(lead)
            return m.mean(q, axis=(k + 1, k + 3, k + 5, k + 7))

        ntk = None if state.ntk is None else pool(state.ntk)
        return replace(state, nngp=pool(state.nngp), ntk=ntk)

    def output_shape(self, h, w):
        if h // 2 == 0 or w // 2 == 0:
            raise ValueError(f"AvgPool(2x2) needs images of at least 2x2 pixels, got {h}x{w}")
        return h // 2, w // 2

    def variance_offsets(self, needed_after, shape):
        # q'[P, P + O] averages q[2P + a, 2O + 2P + b] over the windows' offsets a, b
        return {
            (2 * oh + dh, 2 * ow + dw)
            for oh, ow in needed_after
            for dh in (-1, 0, 1)
            for dw in (-1, 0, 1)
        }

    def variance(self, state):
        q, offs = state.q, state.offsets
        n, _, h, w = q.shape
        hn, wn = self.output_shape(h, w)
        new = np.zeros((n, len(state.next_offsets), hn, wn))
        for k, (oh, ow) in enumerate(state.next_offsets):
            sources = [
                (ah, aw, offs.index((2 * oh + bh - ah, 2 * ow + bw - aw)))
                for ah in (0, 1)
                for aw in (0, 1)
                for bh in (0, 1)
                for bw in (0, 1)
                if (2 * oh + bh - ah, 2 * ow + bw - aw) in offs
            ]
            if len(sources) < 16:  # not needed by any later layer
                continue
            for ah, aw, j in sources:
                new[:, k] += q[:, j, ah : 2 * hn : 2, aw : 2 * wn : 2]
            new[:, k] *= inside_mask(hn, wn, oh, ow) / 16.0
        state.q = new
        return state

    def plan(self, planner):
        return PoolStep(global_pool=False)


class GlobalAvgPool(Layer):
    """Global average pooling: the mean over all pixel pairs; the state becomes non-spatial.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import GlobalAvgPool, KernelState
    >>> q = np.ones((2, 3, 4, 4, 4, 4))
    >>> GlobalAvgPool().kernel(KernelState(q, None, 2, False, [])).nngp.shape
    (2, 3)
    """

    def kernel(self, state):
        def pool(q):
            return ops(q).mean(q, axis=(-4, -3, -2, -1))

        ntk = None if state.ntk is None else pool(state.ntk)
        return replace(state, nngp=pool(state.nngp), ntk=ntk, spatial=0)

    def output_shape(self, h, w):
        return 1, 1

    def variance_offsets(self, needed_after, shape):
        # a later activation needs the pooled variance: the mean over all pixel pairs
        if not needed_after:
            return set()
        h, w = shape
        return {(oh, ow) for oh in range(1 - h, h) for ow in range(1 - w, w)}

    def variance(self, state):
        n, _, h, w = state.q.shape
        total = state.q.sum(axis=(1, 2, 3)) / float(h * w) ** 2
        state.q = total.reshape(n, 1, 1, 1)
        return state

    def plan(self, planner):
        return PoolStep(global_pool=True)


def fully_connected(depth, activation, weight_std=1.0, bias_std=0.0):
    """``depth x [Dense, act] + Dense`` readout (``depth + 1`` Dense layers).

    Examples
    --------
    >>> from skntk.architectures import fully_connected
    >>> len(fully_connected(2, "relu"))  # Dense, act, Dense, act, Dense
    5
    """
    layers = []
    for _ in range(depth):
        layers += [Dense(weight_std, bias_std), Nonlinearity(activation)]
    return layers + [Dense(weight_std, bias_std)]


def gap_network(depth, activation, weight_std=1.0, bias_std=0.0, filter_size=3):
    """``depth x [Conv, act] + GlobalAvgPool + Dense``.

    Examples
    --------
    >>> from skntk.architectures import gap_network
    >>> [type(layer).__name__ for layer in gap_network(1, "relu")]
    ['Conv', 'Nonlinearity', 'GlobalAvgPool', 'Dense']
    """
    layers = []
    for _ in range(depth):
        layers += [Conv(filter_size, weight_std, bias_std), Nonlinearity(activation)]
    return layers + [GlobalAvgPool(), Dense(weight_std, bias_std)]


def myrtle_network(depth, activation, weight_std=1.0, bias_std=0.0, filter_size=3):
    """Myrtle-5/7/10: blocks of ``[Conv, act]`` separated by ``AvgPool``, then GAP and Dense.

    Examples
    --------
    >>> from skntk.architectures import myrtle_network
    >>> sum(type(layer).__name__ == "Conv" for layer in myrtle_network(5, "relu"))
    4
    """
    if depth not in MYRTLE_BLOCKS:
        raise ValueError(f"myrtle depth must be one of {sorted(MYRTLE_BLOCKS)}, got {depth}")
    layers = []
    for i, count in enumerate(MYRTLE_BLOCKS[depth]):
        if i > 0:
            layers.append(AvgPool())
        for _ in range(count):
            layers += [Conv(filter_size, weight_std, bias_std), Nonlinearity(activation)]
    return layers + [GlobalAvgPool(), Dense(weight_std, bias_std)]
