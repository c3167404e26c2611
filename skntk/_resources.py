"""Up-front estimates of what a layer-wise feature map will cost, checked before ``fit``
allocates anything, so that an oversized setting fails at once with the estimate instead of
allocating until MemoryError or planning for minutes.

The estimate walks the layer list with the same width rules the planner uses (each layer's
``widths`` and ``output_shape``): an activation layer gets ``internal_components`` columns
(the last one what the output needs, about ``n_components``), and reads features of the
width the layer before it produced.
"""

import math
import os

__all__ = ["estimate_resources", "check_resources"]

# planning time the check lets through, and the rates measured on the 2-core machine
# (operations per second as counted below: PolySketch and tensor steps, dense projections)
_MAX_PLANNING_SECONDS = 600.0
_SKETCH_RATE, _DENSE_RATE = 4e8, 1e10
# inputs pushed through the activation steps while planning (Planner: 256 pixel rows, >= 8)
_PLANNING_PIXEL_ROWS = 256


def estimate_resources(layers, image_shape, n_components, internal_components, degree,
                       want_ntk, monte_carlo):
    """``(fitted_bytes, row_bytes, planning_seconds)`` of a layer-wise feature map.

    ``fitted_bytes``: the random matrices kept by ``fit`` (the Gaussian ``D x m`` matrix of a
    Monte-Carlo layer; PolySketch and SRHT tables are ``O(degree D)``); ``monte_carlo=None``
    estimates the Taylor method instead. ``row_bytes``: the
    largest intermediate array of one input in ``transform`` (float64).
    ``planning_seconds``: the time of pushing the planning subsample through every layer, at
    the rates measured on a 2-core machine (order of magnitude only).

    Examples
    --------
    >>> from skntk.architectures import fully_connected
    >>> fitted, row, seconds = estimate_resources(fully_connected(2, "erf"), (1, 1, 784),
    ...                                         8192, 8192, 8, True, False)
    >>> row < 2**20, seconds < 60
    (True, True)
    """
    h, w, c = image_shape
    if monte_carlo is None:  # the Taylor method: one fused PolySketch, planned from cosines
        return 8.0 * (degree + 2) * c, 8.0 * (degree + 2) * int(n_components), 0.0
    phi, psi = c, 0
    n_act = sum(hasattr(layer, "activation") for layer in layers)
    seen = 0
    fitted = row = seconds = 0.0
    inputs = max(8, _PLANNING_PIXEL_ROWS // max(h * w, 1))
    for layer in layers:
        pixels = h * w
        if hasattr(layer, "activation"):
            seen += 1
            m = max(int(n_components) if seen == n_act else int(internal_components), 1)
            d = max(phi, 1)
            if monte_carlo:
                fitted += 8.0 * d * m
                per_row = d * m / _DENSE_RATE
            else:
                fitted += 8.0 * (degree + 2) * d
                per_row = degree * (d + m) * max(math.log2(d + m), 1.0) / _SKETCH_RATE
            if want_ntk:
                per_row += (psi + m) * max(math.log2(psi + m + 2), 1.0) / _SKETCH_RATE
            seconds += inputs * pixels * per_row
            phi, psi = m, (m if want_ntk else 0)
            row = max(row, 8.0 * pixels * (d + (degree + 2) * m + psi))
        else:
            phi, psi = layer.widths(phi, psi, want_ntk)
            row = max(row, 8.0 * pixels * (phi + psi))
            h, w = layer.output_shape(h, w)
    return fitted, row, seconds


def check_resources(owner, layers, image_shape, n_components, internal_components, degree,
                    want_ntk, monte_carlo):
    """Raise a ValueError giving the estimate when the fitted state and one input's
    intermediates do not fit in this machine's memory, or planning would take too long."""
    fitted, row, seconds = estimate_resources(layers, image_shape, n_components,
                                            internal_components, degree, want_ntk,
                                            monte_carlo)
    available = _physical_memory()
    if available and fitted + row > 0.8 * available:
        widths = f"n_components={n_components}"
        if monte_carlo is not None:  # the Taylor method has no intermediate width
            widths += f" and internal_components={internal_components}"
        raise ValueError(
            f"{owner} with {widths} needs about {_gib(fitted + row)} ({_gib(fitted)} of "
            f"random matrices, {_gib(row)} per input in transform); this machine has "
            f"{_gib(available)}. Decrease "
            + ("n_components" if monte_carlo is None else "n_components or internal_components")
        )
    if seconds > _MAX_PLANNING_SECONDS:
        raise ValueError(
            f"{owner}: planning this network ({len(layers)} layers) would take about "
            f"{seconds / 60:.0f} minutes; decrease the depth, n_components or "
            "internal_components"
        )


def _physical_memory():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n_bytes):
    return f"{n_bytes / 2**30:.3g} GiB"
