"""Checks of what goes into an activation and what comes out of it.

Parameters must be finite reals in the activation's domain (degrees: bounded non-negative
integers), scales finite and non-negative, and a Python callable is probed once when it is
wrapped. A result that does not fit in a float64 raises a ``ValueError`` that names the
activation, the quantity and the variance, never returns ``inf`` or ``nan``.
"""

import math
import numbers

import numpy as np

# Largest amplitude or frequency parameter: the duals square it, and the square must be a
# finite float64.
MAX_PARAM = 1e150
# Probe grid of callables: "a few hundred points in [-10, 10]".
_PROBE_GRID = np.linspace(-10.0, 10.0, 401)


def real_param(owner, name, value, *, minimum=None, max_abs=MAX_PARAM, reason=""):
    """``float(value)`` after checking it is a finite real in the allowed range.

    ``owner`` is the class name used in messages; ``reason`` explains a lower bound.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        arr = np.asarray(value) if isinstance(value, np.ndarray) else None
        if arr is None or arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{owner}: {name} must be a real number; got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {name} must be a finite number; got {v!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum:g}{reason}; got {v!r}")
    if abs(v) > max_abs:
        raise ValueError(
            f"{owner}: {name} must be at most {max_abs:g} in magnitude (the kernel squares "
            f"it, and the square must be a finite float64); got {v!r}"
        )
    return v


def degree_param(owner, value, maximum, reason):
    """``int(value)`` after checking it is an integer in ``[0, maximum]``; ``reason`` says why
    the bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner}: degree must be a non-negative integer, got {value!r}")
    if value > maximum:
        raise ValueError(
            f"{owner}: degree must be a non-negative integer <= {maximum} ({reason}), got {value!r}"
        )
    return int(value)


def as_scales(s):
    """Scales (pre-activation standard deviations) as a 1-D float64 array, checked finite and
    non-negative."""
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    if s.ndim != 1:
        raise ValueError(f"scales must be a 1-D array, got shape {s.shape}")
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ValueError("scales must be finite and non-negative")
    return s


def overflow_error(act, what, *variances):
    """The ``ValueError`` for a result that does not fit in a float64.

    ``act._non_finite_cause`` says why (a callable may also return NaN or inf by itself).
    """
    qmax = max((float(np.max(v)) for v in variances if np.size(v)), default=0.0)
    return ValueError(
        f"{act!r}: {what} {act._non_finite_cause} at pre-activation variance {qmax:.3g}; scale "
        "the inputs down, or reduce weight_std, bias_std or depth"
    )


def require_finite(act, out, what, *variances):
    """Return ``out``, or raise :func:`overflow_error` if it holds an inf or a nan."""
    if not np.all(np.isfinite(out)):
        raise overflow_error(act, what, *variances)
    return out


def callable_name(fn):
    """A readable name of a callable for messages."""
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def probe(fn, role):
    """Evaluate ``fn`` once on ``_PROBE_GRID`` and check that it returns a real, finite array of
    the same shape (see :class:`skntk.activations.CallableActivation`); ``role`` names it."""
    name = callable_name(fn)
    grid = _PROBE_GRID.copy()
    try:
        with np.errstate(all="ignore"):
            out = fn(grid)
    except Exception as exc:
        raise TypeError(
            f"CallableActivation: {role} {name} failed on a float64 array of shape "
            f"{grid.shape} ({type(exc).__name__}: {exc}); it must be a vectorized function "
            "of a NumPy array, e.g. use np.tanh rather than math.tanh"
        ) from exc
    try:
        out = np.asarray(out)
    except Exception as exc:  # e.g. a ragged list
        raise ValueError(
            f"CallableActivation: {role} {name} returned {type(out).__name__}, which is not "
            "an array of numbers"
        ) from exc
    _check_probe_output(out, grid, role, name)


def _check_probe_output(out, grid, role, name):
    if np.iscomplexobj(out):
        raise ValueError(
            f"CallableActivation: {role} {name} returns complex values; it must return "
            "real numbers (take .real, or abs, yourself if that is what you mean)"
        )
    if out.dtype.kind not in "biuf":
        raise ValueError(
            f"CallableActivation: {role} {name} returns an array of dtype {out.dtype}; it "
            "must return real numbers"
        )
    if out.shape != grid.shape:
        raise ValueError(
            f"CallableActivation: {role} {name} returns shape {out.shape} for an input of "
            f"shape {grid.shape}; it must be elementwise (same shape as its input)"
        )
    bad = ~np.isfinite(out.astype(np.float64))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"CallableActivation: {role} {name} returns non-finite values on [-10, 10] "
            f"({int(bad.sum())} of {grid.size} probe points, e.g. {out[i]!r} at t = "
            f"{grid[i]:g}); an activation must be finite on the real line"
        )
