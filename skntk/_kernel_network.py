"""What the exact kernels' layer walk knows about a layer list, and its finiteness checks.

:class:`Network` names the network for messages (``depth-2 relu NTK``), works out whether it is
homogeneous in its input (and of which degree), and turns a kernel that is not finite into a
``ValueError`` that names the layer and activation where NaN or inf first appeared, or the
limit on the input scale. The checks run once per block on the fast path; the slow path that
locates a failure runs only after one. Arrays of any namespace are checked where they are; only
the messages of a failure copy numbers to the host.
"""

import math

import numpy as np

from ._kernel_scaling import binary_exponents, pow2_scale
from ._special import host_dtype, ops, to_host
from .architectures import (
    AvgPool,
    Conv,
    GlobalAvgPool,
    Nonlinearity,
    _self_diagonal,
    network_homogeneity,
)


def all_finite(a):
    """Whether every entry is finite: one fast pass (a matrix-vector product with ones for
    matrices, which NaN and inf survive), the entries themselves only if that is not finite."""
    m = ops(a)
    if not m.is_numpy:
        return bool(m.all(m.isfinite(a)))
    a = np.asarray(a)
    with np.errstate(over="ignore", invalid="ignore"):
        if a.ndim == 2 and a.dtype in (np.float32, np.float64) and a.size > 4096:
            total = np.sum(a @ np.ones(a.shape[1], a.dtype))
        else:
            total = np.sum(a)
        if np.isfinite(total):
            return True
    return bool(np.all(np.isfinite(a)))


def activation_name(act):
    """The registry name for default parameters (``erf``), else the repr (``Erf(a=2.0, ...)``)."""
    try:
        default = type(act)() == act
    except Exception:  # a class without defaults (e.g. a callable's wrapper)
        default = False
    return act.name if default else repr(act)


def layer_peak(layer, state):
    """Largest pre-activation variance (activations) or ``|q|`` (other layers) going in."""
    m = ops(state.nngp)
    with np.errstate(invalid="ignore"):
        if isinstance(layer, Nonlinearity) and not state.is_self and state.variances:
            arrays = state.variances[0]
        elif isinstance(layer, Nonlinearity) and state.is_self:
            arrays = (_self_diagonal(state),)
        else:
            arrays = (m.abs(state.nngp),)
        return max(m.max_or(a, 0.0) for a in arrays)


class Network:
    """What the walk needs to know about a layer list: its homogeneity, and a name."""

    def __init__(self, layers, want_ntk):
        self.layers = layers
        self.want_ntk = want_ntk
        acts = [layer.activation for layer in layers if isinstance(layer, Nonlinearity)]
        names = list(dict.fromkeys(activation_name(a) for a in acts))
        images = any(isinstance(layer, Conv | AvgPool | GlobalAvgPool) for layer in layers)
        kind = ("C" if images else "") + ("NTK" if want_ntk else "NNGP")
        self.name = f"depth-{len(acts)} {'/'.join(names) or 'linear'} {kind}"
        # K(a x, b y) = (a b)^degree K(x, y) when every activation is homogeneous and every
        # bias zero; peak: the largest power of the input scale along the walk.
        self.degree, self.peak = network_homogeneity(layers), 1.0
        if self.degree is not None:
            power = 1.0
            for layer in layers:
                power *= float(layer.scale_degree)
                self.peak = max(self.peak, power)
            self.degree = (
                int(self.degree) if float(self.degree).is_integer() else float(self.degree)
            )

    # -- input scaling -------------------------------------------------------------------------
    def exponents(self, m, dtype):
        """Per-input power-of-two exponents to divide out (0 for inputs of ordinary scale).

        A homogeneous network leaves inputs whose largest entry is within ``2^(+-Z)`` as they
        are, with ``Z`` small enough that every value along its walk stays in range; any
        other network only has to form its covariances safely.
        """
        maxexp = np.finfo(host_dtype(dtype)).maxexp
        if self.degree is None:
            zone = maxexp // 8
        else:
            zone = int(maxexp // (4 * self.peak))
        return binary_exponents(m, zone)

    def check_input(self, q, q_scaled, k, m, name, dtype):
        """Raise if covariances scaled back to the input's scale overflowed ``dtype``."""
        if all_finite(q):
            return
        with np.errstate(divide="ignore"):
            log10 = np.log10(np.abs(to_host(q_scaled))) + 2 * k * math.log10(2.0)
        reach = float(np.nanmax(log10))
        dtype = host_dtype(dtype)
        raise ValueError(
            f"{name} is too large for the {self.name}: its entries reach {m.max():.3g}, so the "
            f"input covariance |x|^2 / d reaches about 1e{reach:+.0f}, beyond the largest "
            f"{np.dtype(dtype).name} ({np.finfo(dtype).max:.3g}). With a bias or a "
            "non-homogeneous activation the scale cannot be factored out: rescale "
            f"{name} (e.g. with StandardScaler, or divide it by np.abs({name}).max())"
            + (" or pass float64 inputs" if np.dtype(dtype) == np.float32 else "")
        )

    def rescale(self, K, kx, ky, m):
        """``K(x, y) = 2^(degree (k_x + k_y)) K(x_scaled, y_scaled)``; raise on overflow."""
        if self.degree is None or self.degree == 0 or not (kx.any() or ky.any()):
            return K
        mk = ops(K)
        e = mk.asarray(kx)[:, None] + mk.asarray(ky)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.log10(float(mk.max(mk.abs(K)))) + self.degree * int(
                kx.max() + ky.max()
            ) * math.log10(2.0)
        K = pow2_scale(K, e, self.degree)
        if not all_finite(K):
            dtype = host_dtype(K.dtype)
            raise ValueError(
                f"inputs with entries up to {m:.3g} overflow {dtype.name} in the {self.name}: "
                f"its entries reach about 1e{reach:+.0f}, above the largest {dtype.name} "
                f"({np.finfo(dtype).max:.3g}). The network is homogeneous of degree "
                f"{self.degree:g} in each input, K(c x, c y) = c^{2 * self.degree:g} K(x, y): "
                "rescale X (e.g. divide it by np.abs(X).max())"
                + (" or pass float64 inputs" if dtype == np.float32 else "")
            )
        return K

    # -- finiteness ----------------------------------------------------------------------------
    def where(self, i, layer):
        return f"layer {i + 1} of {len(self.layers)}, {layer!r}"

    def check_layer(self, i, layer, state, peak):
        """Raise, naming the layer, if the state just computed is not finite."""
        arrays = (state.nngp,) if state.ntk is None else (state.nngp, state.ntk)
        if all(all_finite(a) for a in arrays):
            return
        dtype = host_dtype(state.nngp.dtype)
        where = self.where(i, layer)
        if isinstance(layer, Nonlinearity):
            what = (
                f"the {activation_name(layer.activation)} dual is not finite at pre-activation "
                f"variances up to {peak:.3g}"
            )
        else:
            what = f"its input covariances reach {peak:.3g}"
        raise ValueError(
            f"the {self.name} is not finite: NaN or inf first appears at {where}: {what}. "
            "Rescale the inputs (e.g. StandardScaler) or lower weight_std"
            + (", or pass float64 inputs" if dtype == np.float32 else "")
        )

    def check_output(self, K, diagnose):
        """Raise if ``K`` is not finite; ``diagnose(i, j)`` re-runs one pair, checking layers."""
        if all_finite(K):
            return
        i, j = np.argwhere(~np.isfinite(to_host(K)))[0]
        diagnose(i, j)
        raise ValueError(
            f"the {self.name} is not finite (first at entry [{i}, {j}]). Rescale the inputs "
            "(e.g. StandardScaler) or lower weight_std"
        )

    def check_cast(self, K, dtype, what="entries"):
        """``K`` in ``dtype``; raise if the cast overflows (float32 outputs)."""
        m = ops(K)
        with np.errstate(over="ignore"):
            out = m.astype(K, dtype)
        if out.dtype != K.dtype and not all_finite(out):
            dtype = host_dtype(dtype)
            raise ValueError(
                f"the {what} of the {self.name} reach {float(m.max(m.abs(K))):.3g}, beyond the "
                f"largest {dtype.name} ({np.finfo(dtype).max:.3g}): pass float64 inputs or "
                "rescale them"
            )
        return out
