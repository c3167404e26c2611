"""CNTKSketch: randomized feature maps of convolutional NTK and NNGP kernels (images)."""

import math
import numbers

import numpy as np
from scipy.fft import next_fast_len
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._backend import get_namespace
from ._estimator import FeatureMapMixin, activation_constraint, allocate_dimensions
from .activations import get_activation
from .architectures import (
    MYRTLE_BLOCKS,
    AvgPool,
    Conv,
    Nonlinearity,
    gap_network,
    myrtle_network,
)
from .fully_connected import _symmetric_power, _weighted, hermite_layer_coefficients
from .kernels import check_images
from .sketching import SRHT, PolySketch, TensorSRHT

_NP = get_namespace()  # the NumPy namespace: CNTKSketch is NumPy-only for now

__all__ = ["CNTKSketch", "pixel_variances"]

# The first layer's mean pixel direction is handled exactly when at least this long.
_MEAN_DIRECTION_MIN = 0.2
# Bound on the entries of a batch's largest intermediate array (about 128 MB in float64).
_BATCH_ENTRIES = 2**24


# ----------------------------------------------------------------------------------------------
# exact per-pixel variances: a banded self-kernel recursion, linear in the number of pixels
# ----------------------------------------------------------------------------------------------


def _required_offsets(layers):
    """Pixel offsets ``o`` whose pairs ``q[p, p + o]`` each spatial layer's input needs.

    Walking backwards: the end (before global pooling) needs only the diagonal; Conv and
    activation layers keep offsets; AvgPool needs ``2 O + {-1, 0, 1}`` for each offset ``O``
    needed after it.
    """
    need = {(0, 0)}
    per_layer = []
    for layer in reversed(layers):
        if isinstance(layer, AvgPool):
            need = {(2 * a + da, 2 * b + db) for a, b in need
                    for da in (-1, 0, 1) for db in (-1, 0, 1)}
        per_layer.append(sorted(need | {(0, 0)}))
    return per_layer[::-1]


def _shift(a, oh, ow, fill=0.0):
    """``out[..., i, j] = a[..., i + oh, j + ow]`` (``fill`` outside)."""
    h, w = a.shape[-2:]
    out = np.full_like(a, fill)
    i0, i1 = max(0, -oh), min(h, h - oh)
    j0, j1 = max(0, -ow), min(w, w - ow)
    if i0 < i1 and j0 < j1:
        out[..., i0:i1, j0:j1] = a[..., i0 + oh : i1 + oh, j0 + ow : j1 + ow]
    return out


def _inside_mask(h, w, oh, ow):
    """Pixels ``p`` with ``p + o`` inside the image."""
    m = np.zeros((h, w), dtype=bool)
    m[max(0, -oh) : min(h, h - oh), max(0, -ow) : min(w, w - ow)] = True
    return m


def pixel_variances(images, layers):
    """Exact pre-activation variances ``q[p, p]`` of every activation layer, per image.

    Tracks only the pixel pairs ``q[p, p + o]`` at the offsets that later pooling layers need
    (all of them for no pooling: just the diagonal), so the cost is linear in the number of
    pixels; the result equals the diagonal of the full pixel-pair recursion of
    :func:`skntk.kernels.cntk_kernel`.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
    layers : list
        The spatial layers (up to, not including, ``GlobalAvgPool``).

    Returns
    -------
    list of ndarray of shape (n, H_l, W_l)
        One per activation layer, float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.architectures import myrtle_network
    >>> from skntk.convolutional import pixel_variances
    >>> X = np.random.RandomState(0).randn(2, 8, 8, 3)
    >>> [v.shape for v in pixel_variances(X, myrtle_network(5, "relu")[:-2])]
    [(2, 8, 8), (2, 8, 8), (2, 4, 4), (2, 2, 2)]
    """
    x = np.asarray(images, dtype=np.float64)
    n, h, w, c = x.shape
    offsets = _required_offsets(layers)
    offs = offsets[0]
    q = np.empty((n, len(offs), h, w))
    for k, (oh, ow) in enumerate(offs):
        q[:, k] = np.einsum("nijc,nijc->nij", x, _shift_pixels(x, oh, ow)) / c
    out = []
    for li, layer in enumerate(layers):
        h, w = q.shape[-2:]
        if isinstance(layer, Conv):
            f, r = layer.filter_size, layer.filter_size // 2
            padded = np.pad(q, [(0, 0), (0, 0), (r, r), (r, r)])
            acc = np.zeros_like(q)
            for dh in range(f):
                for dw in range(f):
                    acc += padded[:, :, dh : dh + h, dw : dw + w]
            acc *= layer.weight_std**2 / (f * f)
            acc += layer.bias_std**2
            for k, (oh, ow) in enumerate(offs):
                acc[:, k] *= _inside_mask(h, w, oh, ow)
            q = acc
        elif isinstance(layer, Nonlinearity):
            var = q[:, offs.index((0, 0))].copy()
            out.append(var)
            new = np.empty_like(q)
            for k, (oh, ow) in enumerate(offs):
                vy = _shift(var, oh, ow, fill=1.0)
                val, _ = layer.activation.duals(var, vy, q[:, k].copy(), with_derivative=False)
                new[:, k] = np.asarray(val) * _inside_mask(h, w, oh, ow)
            q = new
        elif isinstance(layer, AvgPool):
            hn, wn = h // 2, w // 2
            if hn == 0 or wn == 0:
                raise ValueError(f"AvgPool(2x2) needs images of at least 2x2 pixels, got {h}x{w}")
            nxt = offsets[li + 1]
            new = np.zeros((n, len(nxt), hn, wn))
            for k, (oh, ow) in enumerate(nxt):
                for ah in (0, 1):
                    for aw in (0, 1):
                        for bh in (0, 1):
                            for bw in (0, 1):
                                j = offs.index((2 * oh + bh - ah, 2 * ow + bw - aw))
                                new[:, k] += q[:, j, ah : 2 * hn : 2, aw : 2 * wn : 2]
                new[:, k] *= _inside_mask(hn, wn, oh, ow) / 16.0
            q = new
        offs = offsets[li + 1] if li + 1 < len(offsets) else offs
    return out


def _shift_pixels(x, oh, ow):
    """``out[:, i, j, :] = x[:, i + oh, j + ow, :]`` (zero outside) for NHWC arrays."""
    return np.moveaxis(_shift(np.moveaxis(x, -1, 1), oh, ow), 1, -1)


# ----------------------------------------------------------------------------------------------
# feature-map building blocks
# ----------------------------------------------------------------------------------------------


def _neighbours(phi, f, scale, bias=None):
    """Per pixel, the ``f^2`` zero-padded neighbours' features times ``scale`` (and a bias).

    ``phi`` has shape (n, H, W, D); the result (n, H, W, f^2 D [+ 1]) has inner products
    ``scale^2 sum_delta <phi[p + delta], phi'[p' + delta]> [+ bias^2]``.
    """
    n, h, w, d = phi.shape
    r = f // 2
    padded = np.pad(phi, [(0, 0), (r, r), (r, r), (0, 0)])
    width = f * f * d + (bias is not None)
    out = np.empty((n, h, w, width), dtype=phi.dtype)
    k = 0
    for dh in range(f):
        for dw in range(f):
            np.multiply(padded[:, dh : dh + h, dw : dw + w, :], phi.dtype.type(scale),
                        out=out[..., k * d : (k + 1) * d])
            k += 1
    if bias is not None:
        out[..., -1] = bias
    return out


def _avg_pool(phi):
    n, h, w, d = phi.shape
    hn, wn = h // 2, w // 2
    phi = phi[:, : 2 * hn, : 2 * wn]
    return phi.reshape(n, hn, 2, wn, 2, d).mean(axis=(2, 4))


class CNTKSketch(FeatureMapMixin):
    """Random features of the convolutional NTK (or NNGP) of images.

    ``transform(X) @ transform(Y).T`` approximates :func:`skntk.kernels.cntk_kernel`
    (``kernel="ntk"``) or :func:`skntk.kernels.cnngp_kernel` (``kernel="nngp"``) with the same
    ``architecture``, ``depth``, ``activation``, ``weight_std``, ``bias_std`` and
    ``filter_size`` (SAME padding, NHWC images).

    **Algorithm.** Each pixel carries NNGP features ``phi`` and NTK features ``psi`` (inner
    products approximate the pixel-pair kernels ``q[p, p']`` and ``T[p, p']``), and the exact
    per-pixel variances ``q[p, p]`` come from a banded self-kernel recursion (linear in the
    number of pixels). Input: ``phi = x_p / sqrt(C)``. A convolution concatenates the ``f^2``
    zero-padded neighbours' features scaled by ``W / f`` and a bias column ``b`` (exact:
    inner products are the convolution's window mean), and for the NTK
    ``psi <- [phi_conv, W / f neighbours(psi)]``. An activation applies the layer-wise Hermite
    step of :class:`skntk.NTKSketch` per pixel: with ``u = phi / |phi|`` and the exact scale
    ``s = sqrt(q[p, p])``, ``phi <- [r_0(s), r_1(s) Q_1(u), ..., r_p(s) Q_p(u)]`` (``Q_l`` a
    PolySketch, whose first stage compresses the concatenation (a CountSketch to 512 buckets,
    then one DCT per leaf); the Hermite tail is folded so feature norms are exact. The part of
    ``u`` along a direction common to all pixels is handled exactly: the mean direction of
    the training pixels' neighbourhood features (at the first layer when pronounced, e.g.
    nonnegative images; at deeper layers, where activations give all features a large
    common part, computed from a few training images pushed through the layers drawn so far;
    the neighbours' ``r_0`` columns when it is not pronounced), and the bias. Otherwise the
    sketching error of that common part would be one random error shared by every pair.
    For the NTK, ``psi <- psi (x) [r'_0(s), r'_1(s) Q_1(u), ...]``: the ``r'_0`` part
    (the mean of the derivative, which dominates it) is split off the tensor sketch,
    ``psi <- [r'_0(s) S(psi), TensorSRHT(psi, rest)]`` with ``S`` the identity when ``psi``
    is narrow (the first layer) and otherwise an SRHT to a quarter of the layer's NTK
    columns (unbiased). At the first activation layer (exact input ``z``, the neighbourhood
    pre-activation) the rest is Monte-Carlo: ``(act'(z G) - r'_0(s)) / sqrt(m)`` with ``G``
    Gaussian, unbiased for ``E[act'(u) act'(v)] - r'_0 r'_0`` for any activation with a
    pointwise form (a truncated Hermite series of a discontinuous ``act'``, e.g. ReLU's step,
    is biased near ``rho = 1``). AvgPool and GlobalAvgPool
    average the features (exact: inner products average). The readout gives
    ``[W phi, b]`` (NNGP) or ``[W phi, b, W psi]`` (NTK); the bias column is present only when
    ``bias_std > 0``. Intermediate pixels carry ``internal_components`` columns; the last
    activation layer carries the ``n_components`` output columns.

    Parameters
    ----------
    n_components : int, default=1024
        Number of output features (exactly).
    image_shape : tuple (H, W, C) or None, default=None
        Shape of the images when ``X`` is 2-D ``(n, H*W*C)`` (row-major NHWC flattening).
        ``None`` with 2-D input treats each row as a 1x1 image with ``n_features`` channels
        (the kernel is then that of a fully connected network); 4-D input ``(n, H, W, C)``
        sets the shape itself.
    architecture : {"gap", "myrtle"}, default="gap"
        ``"gap"``: ``depth x [Conv, act] + GlobalAvgPool + Dense``; ``"myrtle"``: Myrtle-5/7/10.
    depth : int, default=1
    activation : str, Activation or callable, default="relu"
        Any activation of :func:`skntk.activations.get_activation` (layer-wise Hermite).
    kernel : {"ntk", "nngp"}, default="ntk"
    weight_std, bias_std : float, default=1.0, 0.0
    filter_size : int, default=3
        Odd convolution size.
    degree : int, default=8
        Degree of each layer's truncated Hermite expansion.
    internal_components : int or "auto", default="auto"
        Columns of the per-pixel ``phi`` and ``psi`` of the intermediate layers. ``"auto"``
        uses ``max(128, n_components // 16)``, so the error keeps falling as ``n_components``
        grows (a fixed internal width sets an error floor for deep networks).
    random_state : int, RandomState instance or None, default=None
    batch_size : int or "auto", default="auto"
        Images per batch of ``transform`` ("auto": bounded memory, about 128 MB).
    n_jobs : int, default=None
        Threads over batches.
    verbose : int, default=0
        One progress line per batch on stderr.

    Attributes
    ----------
    activation_ : Activation
    image_shape_ : tuple
    internal_components_ : int
        The intermediate width used.
    layer_dims_ : list of list of int
        Columns per Hermite degree of each activation layer.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skntk.convolutional import CNTKSketch
    >>> X = np.random.RandomState(0).randn(5, 6, 6, 3)
    >>> CNTKSketch(n_components=256, depth=2, random_state=0).fit_transform(X).shape
    (5, 256)
    """

    _parameter_constraints: dict = {
        **FeatureMapMixin._common_constraints,
        "image_shape": [tuple, list, None],
        "architecture": [StrOptions({"gap", "myrtle"})],
        "depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "activation": activation_constraint(),
        "kernel": [StrOptions({"ntk", "nngp"})],
        "weight_std": [Interval(numbers.Real, 0, None, closed="left")],
        "bias_std": [Interval(numbers.Real, 0, None, closed="left")],
        "filter_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "degree": [Interval(numbers.Integral, 1, None, closed="left")],
        "internal_components": [Interval(numbers.Integral, 2, None, closed="left"),
                                StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components=1024,
        *,
        image_shape=None,
        architecture="gap",
        depth=1,
        activation="relu",
        kernel="ntk",
        weight_std=1.0,
        bias_std=0.0,
        filter_size=3,
        degree=8,
        internal_components="auto",
        random_state=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.image_shape = image_shape
        self.architecture = architecture
        self.depth = depth
        self.activation = activation
        self.kernel = kernel
        self.weight_std = weight_std
        self.bias_std = bias_std
        self.filter_size = filter_size
        self.degree = degree
        self.internal_components = internal_components
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- validation ---------------------------------------------------------------------------
    def _validate(self, X, reset):
        ndim = getattr(X, "ndim", None)
        if ndim is None and not hasattr(X, "shape"):
            try:
                ndim = np.asarray(X).ndim
            except (TypeError, ValueError):
                ndim = None
        if ndim == 4:
            images, shape = check_images(X, self.image_shape, "X")
            if reset:
                self.n_features_in_ = int(np.prod(shape))
                self.image_shape_ = shape
            elif shape != self.image_shape_:
                raise ValueError(
                    f"X has images of shape {shape}, but {type(self).__name__} was fitted on "
                    f"images of shape {self.image_shape_}"
                )
            return images
        X = validate_data(self, X, reset=reset, accept_sparse=False,
                          dtype=[np.float64, np.float32], ensure_all_finite=True)
        if reset:
            shape = (1, 1, X.shape[1]) if self.image_shape is None else self.image_shape
            _, self.image_shape_ = check_images(X[:1], shape, "X")
        return X.reshape((X.shape[0],) + self.image_shape_)

    def transform(self, X):
        """Map images to the feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Same float dtype as ``X``.
        """
        check_is_fitted(self)
        return self._transform_validated(self._validate(X, reset=False))

    # -- fit ------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw all sketches and size each layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Training images; they fix the image shape and the typical variances used to split
            each layer's columns among Hermite degrees.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        images = self._validate(X, reset=True)
        if self.filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd, got {self.filter_size}")
        rng = check_random_state(self.random_state)
        act = self.activation_ = get_activation(self.activation)
        W, b = float(self.weight_std), float(self.bias_std)
        if self.architecture == "myrtle":
            if self.depth not in MYRTLE_BLOCKS:
                raise ValueError(
                    f"myrtle depth must be one of {sorted(MYRTLE_BLOCKS)}, got {self.depth}"
                )
            h, w, _ = self.image_shape_
            if min(h, w) < 4:
                raise ValueError(
                    f"architecture='myrtle' needs images of at least 4x4 pixels, got {h}x{w}"
                )
            layers = myrtle_network(self.depth, act, W, b, self.filter_size)
        else:
            layers = gap_network(self.depth, act, W, b, self.filter_size)
        self._spatial = layers[:-2]  # without GlobalAvgPool and the readout Dense
        want_ntk = self.kernel == "ntk"
        p = self.degree
        f2 = self.filter_size**2
        has_bias = b > 0

        # typical (median) exact variances of each activation layer, on a training subsample
        sub = images[: min(len(images), 32)]
        variances = pixel_variances(sub, self._spatial)
        q_typ = [float(np.median(v)) if v.size else 1.0 for v in variances]
        q_typ = [v if v > 0 else 1.0 for v in q_typ]
        # typical diagonal sizes of the NNGP and NTK parts of the last layer (for the split)
        t_typ = 0.0
        # very small n_components: build a wider output and compress it with an SRHT
        self._final_dim = max(int(self.n_components), 4 * p + 8)

        n_act = len(variances)
        m_int = self.internal_components_ = (
            max(128, int(self.n_components) // 16) if self.internal_components == "auto"
            else int(self.internal_components))
        h, w, c = self.image_shape_
        d_phi, d_psi = c, 0
        after_act = False
        self._plan = []
        cost = 1
        pixels = h * w
        act_index = 0
        for layer in self._spatial:
            if isinstance(layer, AvgPool):
                h, w = h // 2, w // 2
                pixels = h * w
                self._plan.append(("pool", None))
                continue
            if isinstance(layer, Conv):
                conv_dim = f2 * d_phi + has_bias
                psi_dim = conv_dim + (f2 * d_psi if d_psi else 0)
                common_r0 = [k * d_phi for k in range(f2)] if after_act else []
                self._plan.append(("conv", {"conv_dim": conv_dim, "psi_dim": psi_dim}))
                continue
            # activation layer
            q = q_typ[act_index]
            last = act_index == n_act - 1
            r = act.hermite_coefficients([math.sqrt(q)], p)[0]
            weights = np.abs(r[1:]) / max(np.linalg.norm(r[1:]), 1e-300)
            e_act, e_der = act.duals(np.array([q]), np.array([q]), np.array([q]), want_ntk)
            e_act, e_der = float(e_act[0]), (float(e_der[0]) if want_ntk else 0.0)
            t_dim = 0
            if want_ntk:
                rd = act.derivative_hermite_coefficients([math.sqrt(q)], p)[0]
                weights = weights + np.abs(rd[1:]) / max(np.linalg.norm(rd[1:]), 1e-300)
                t_typ = (W * W * t_typ + q) * float(e_der)  # T after conv, times E[act'^2]
            q_next = float(e_act)
            m_last = self._final_dim - has_bias
            if last and want_ntk:
                nngp_part = W * W * q_next + b * b
                ntk_part = W * W * t_typ
                frac = ntk_part / (nngp_part + ntk_part) if nngp_part + ntk_part > 0 else 0.5
                t_dim = int(np.clip(round(m_last * frac), 1, max(m_last - 3, 1)))
                phi_dim = m_last - t_dim
            elif last:
                phi_dim = m_last
            else:
                phi_dim = m_int
                t_dim = self._tensor_factor * m_int if want_ntk else 0
            if phi_dim < 2:
                raise ValueError(
                    f"n_components={self.n_components} is too small for this network; use at "
                    f"least {has_bias + 2 + (want_ntk)}"
                )
            if not np.any(weights > 0):
                weights = np.ones(p)
            weights = weights * np.sqrt(np.arange(1, p + 1))
            # directions common to all pixels: the neighbours' r_0 columns, and the bias
            directions = []
            if common_r0:
                # deeper layers: the mean direction of the training subsample's (sketched)
                # neighbourhood features; activations make them share a large common part,
                # whose sketching error would otherwise be one random error shared by every
                # pair. Falls back to the neighbours' r_0 columns when not pronounced.
                rows = self._transform_batch(sub[:8], conv_only=True).reshape(-1, conv_dim)
                v = _mean_direction(rows, has_bias)
                if np.linalg.norm(v) < _MEAN_DIRECTION_MIN:
                    v = np.zeros(conv_dim)
                    v[common_r0] = 1.0
                directions.append(v / np.linalg.norm(v))
            elif act_index == 0:
                # first layer: the mean direction of the training pixels' neighbourhoods
                # (e.g. nonnegative images), when it is pronounced, orthogonal to the bias
                rows = _neighbours(np.asarray(sub, dtype=np.float64) / math.sqrt(c),
                                   self.filter_size, W / self.filter_size,
                                   b if has_bias else None).reshape(-1, conv_dim)
                v = _mean_direction(rows, has_bias)
                if np.linalg.norm(v) >= _MEAN_DIRECTION_MIN:
                    directions.append(v / np.linalg.norm(v))
            if has_bias:
                v = np.zeros(conv_dim)
                v[-1] = 1.0
                directions.append(v)
            k = len(directions)
            extra = [0 if k == 0 else (1 if k == 1 else l + 1) for l in range(1, p + 1)]
            budget = phi_dim - 1
            exact_dims = [conv_dim] + [None] * (p - 1)
            try:
                dims, exact = allocate_dimensions(weights, budget, exact_dims)
                reserve = sum(extra[i] for i in range(p) if dims[i] > 0 and not exact[i])
                if reserve:
                    dims, exact = allocate_dimensions(weights, budget - reserve, exact_dims)
            except ValueError:
                raise ValueError(
                    f"n_components={self.n_components} (internal_components={m_int}) is too "
                    f"small for degree={p}; increase it or decrease degree"
                ) from None
            sketched = [l for l in range(1, p + 1) if dims[l - 1] > 0 and not exact[l - 1]]
            poly = None
            common = None
            if sketched:
                top = max(sketched)
                out_dims = [max(dims[i], 1) for i in range(top)]
                poly = PolySketch(conv_dim, top, out_dims, rng,
                                  base_dim=self._base_dim(conv_dim),
                                  internal_dim=next_fast_len(max(out_dims)))
                if k:
                    common = (np.array(directions), _common_tables(poly, directions, top))
            block_dims = [dims[i] + (extra[i] if dims[i] > 0 and not exact[i] else 0)
                          for i in range(p)]
            out_phi = 1 + sum(block_dims)
            tensor = None
            # The r'_0 column of dphi times psi is split off the tensor sketch: kept exactly
            # when psi is small (first layer), else through an SRHT of psi to a quarter of the
            # columns (unbiased; r'_0 dominates dphi, and inside a TensorSRHT its error would be
            # shared by every pair).
            split = bool(want_ntk and out_phi > 1 and t_dim >= 8)
            compress = None
            mean_dim = psi_dim
            if split and psi_dim > t_dim // 4:
                mean_dim = t_dim // 4
                compress = SRHT(psi_dim, mean_dim, rng)
            # First layer: its input is exact, so Monte-Carlo derivative features act'(z G)
            # (z the pre-activation, G Gaussian) are unbiased for E[act'(u) act'(v)], where the
            # truncated Hermite series of a discontinuous act' (ReLU's step) is biased near
            # rho = 1. Centred on r'_0 (kept exact by the split), their variance is small.
            mc = None
            if split and act_index == 0 and act.has_pointwise_form:
                mc = rng.standard_normal((conv_dim, t_dim - mean_dim))
            if want_ntk:
                dphi_dim = out_phi - 1 if mc is None else mc.shape[1]
                tensor = (TensorSRHT(psi_dim, dphi_dim, t_dim - mean_dim, rng) if split
                          else TensorSRHT(psi_dim, out_phi, t_dim, rng))
            self._plan.append(("act", {"dims": dims, "exact": exact, "poly": poly,
                                       "common": common, "tensor": tensor, "index": act_index,
                                       "split": split, "mc_derivative": mc,
                                       "compress": compress,
                                       "phi_dim": out_phi, "t_dim": t_dim}))
            lf = poly.leaf_fft_len if poly is not None else conv_dim
            cost = max(cost, pixels * (p * lf + psi_dim + 2 * (out_phi + t_dim)
                                       + f2 * (d_phi + d_psi)))
            d_phi, d_psi = out_phi, t_dim
            after_act = True
            act_index += 1
        self.layer_dims_ = [step[1]["dims"] for step in self._plan if step[0] == "act"]
        self._out_dims = (d_phi, d_psi)
        self._pixel_cost = cost
        # the columns normally add up to n_components; when n_components is too small for
        # the network (or the allocation rounds), an SRHT maps the output to n_components
        width = d_phi + has_bias + d_psi
        self._final = (SRHT(width, int(self.n_components), rng)
                       if width != self.n_components else None)
        return self

    # intermediate NTK columns per pixel = _tensor_factor * internal_components; leaves of the
    # PolySketch CountSketch neighbour concatenations wider than _leaf_cap first (speed)
    _tensor_factor = 1
    _leaf_cap = 512

    def _base_dim(self, conv_dim):
        # leaves DCT the whole neighbour concatenation unless capped (then CountSketch first)
        if self._leaf_cap is None:
            return next_fast_len(conv_dim)
        return next_fast_len(min(conv_dim, self._leaf_cap))

    def _batch_rows(self):
        if self.batch_size != "auto":
            return int(self.batch_size)
        return int(np.clip(_BATCH_ENTRIES // max(self._pixel_cost, 1), 1, 1024))

    # -- transform ----------------------------------------------------------------------------
    def _transform_batch(self, images, conv_only=False):
        dtype = images.dtype
        W, b = float(self.weight_std), float(self.bias_std)
        f = self.filter_size
        want_ntk = self.kernel == "ntk"
        p = self.degree
        has_bias = b > 0
        variances = pixel_variances(images, self._spatial)
        n, h, w, c = images.shape
        phi = images * dtype.type(1.0 / math.sqrt(c))
        psi = None
        act = self.activation_
        for kind, lay in self._plan:
            if kind == "pool":
                phi = _avg_pool(phi)
                psi = None if psi is None else _avg_pool(psi)
                continue
            if kind == "conv":
                conv = _neighbours(phi, f, W / f, b if has_bias else None)
                if want_ntk:
                    psi = conv if psi is None else np.concatenate(
                        [conv, _neighbours(psi, f, W / f)], axis=-1)
                continue
            n, h, w, dc = conv.shape
            rows = n * h * w
            U = conv.reshape(rows, dc)
            q = variances[lay["index"]].reshape(rows)
            coefs, _ = hermite_layer_coefficients(act, q, p, want_ntk)
            raw = U
            norms = np.sqrt(np.einsum("ij,ij->i", U, U, dtype=np.float64))
            inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
            U = U * inv.astype(dtype)[:, None]
            Q = lay["poly"].transform(U) if lay["poly"] is not None else []
            blocks = []
            if lay["common"] is not None and Q:
                dirs, tables = lay["common"]
                e = U @ dirs.T.astype(dtype)
            for l in range(1, p + 1):
                if lay["dims"][l - 1] == 0:
                    blocks.append(None)
                elif lay["exact"][l - 1]:
                    blocks.append(U)
                elif lay["common"] is not None:
                    Qe = _common_sketch(e, tables[l - 1], l)
                    blocks.append(np.concatenate(
                        [_symmetric_power(e, l, _NP), Q[l - 1] - Qe], axis=1))
                else:
                    blocks.append(Q[l - 1])
            phi_rows = _weighted(blocks, coefs[0].astype(dtype), _NP)
            if want_ntk:
                psi_in = psi.reshape(rows, -1)
                G = lay["mc_derivative"]
                if G is not None:  # Monte-Carlo rest (first layer); dphi itself is not needed
                    mean = coefs[1][:, :1].astype(dtype)  # r'_0(s) = E[act'(s g)]
                    z = raw @ G.astype(dtype, copy=False)
                    rest = (np.asarray(act.derivative(z), dtype=dtype) - mean) * dtype.type(
                        1.0 / math.sqrt(G.shape[1]))
                else:
                    dphi = _weighted(blocks, coefs[1].astype(dtype), _NP)
                    mean, rest = dphi[:, :1], np.ascontiguousarray(dphi[:, 1:])
                if lay["split"]:
                    psi_mean = (psi_in if lay["compress"] is None
                                else np.asarray(lay["compress"].transform(psi_in), dtype=dtype))
                    psi_rows = np.concatenate(
                        [psi_mean * mean, lay["tensor"].transform(psi_in, rest)], axis=1)
                else:
                    psi_rows = lay["tensor"].transform(psi_in, dphi)
                psi = np.ascontiguousarray(psi_rows).reshape(n, h, w, -1)
            phi = np.ascontiguousarray(phi_rows).reshape(n, h, w, -1)
            conv = None
        if conv_only:  # fit: the features entering the activation layer being planned
            return np.asarray(conv, dtype=np.float64)
        n = phi.shape[0]
        parts = [phi.mean(axis=(1, 2)) * dtype.type(W)]
        if has_bias:
            parts.append(np.full((n, 1), b, dtype=dtype))
        if want_ntk:
            parts.append(psi.mean(axis=(1, 2)) * dtype.type(W))
        Z = np.concatenate(parts, axis=1).astype(dtype, copy=False)
        if self._final is not None:
            Z = np.ascontiguousarray(self._final.transform(Z))
        return Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _mean_direction(rows, has_bias):
    """Mean of the normalized nonzero ``rows``, with the bias coordinate (last) zeroed so it
    is orthogonal to the bias direction (not normalized: its length says how pronounced)."""
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1)
    keep = norms > 0
    v = (rows[keep] / norms[keep, None]).mean(axis=0) if keep.any() else np.zeros(rows.shape[1])
    if has_bias:
        v[-1] = 0.0
    return v


def _common_tables(poly, directions, top):
    """Tables ``M[l][j]`` with ``Q_l(sum_i e_i v_i) = sum_j e_1^j e_2^(l-j) M[l][j]``.

    ``Q_l`` is a linear map of ``u^(x)l``, so ``Q_l`` of a vector in the span of one or two
    fixed directions is a homogeneous polynomial of degree ``l`` in their coordinates; its
    coefficients are recovered exactly by interpolation at ``top + 1`` points.
    """
    if len(directions) == 1:
        Q = poly.transform(np.asarray(directions[0])[None, :])
        return [q[0][None, :] for q in Q]
    v1, v2 = directions
    t = np.cos(np.pi * (np.arange(top + 1) + 0.5) / (top + 1))  # Chebyshev nodes
    Q = poly.transform(t[:, None] * v1[None, :] + v2[None, :])
    tables = []
    for l in range(1, top + 1):
        V = np.vander(t, l + 1, increasing=True)  # columns t^j, j = 0..l
        M, *_ = np.linalg.lstsq(V, Q[l - 1], rcond=None)
        tables.append(M)  # M[j]: coefficient of e1^j e2^(l-j)
    return tables


def _common_sketch(e, table, l):
    """``Q_l(E)`` of the common part ``E = sum_i e_i v_i`` from its table (rows of ``e``)."""
    if e.shape[1] == 1:
        return (e[:, :1] ** l) @ table.astype(e.dtype)
    j = np.arange(l + 1)
    powers = e[:, :1] ** j * e[:, 1:2] ** (l - j)
    return powers @ table.astype(e.dtype)
