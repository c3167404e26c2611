"""What each row carries besides its features: targets, coded as float columns, and weights.

A target coder is fixed by the first call that sees targets (``fit``, or the first
``partial_fit``); later chunks must match it. Called on a block of targets, it returns the
float64 columns ``Y`` (b, t) the ridge statistics are accumulated on.
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets

from .._backend import asarray_like, get_namespace, to_numpy
from .._dask import is_dask_array


def non_numpy(X):
    """True for arrays of another array-API namespace (CuPy, array-api-strict)."""
    return (
        not isinstance(X, np.ndarray) and not sp.issparse(X) and hasattr(X, "__array_namespace__")
    )


def _check_rows(n_y, n, what):
    if n_y != n:
        raise ValueError(f"X has {n} rows but y has {n_y}; pass {what}")


def check_dask_rows(X, y):
    """Dask arrays may not know their rows (NaN): then the tasks find out."""
    n, n_y = X.shape[0], (y.shape[0] if hasattr(y, "shape") else len(y))
    if not (np.isnan(n) or np.isnan(n_y)):
        _check_rows(n_y, n, "one target per row")


class FloatTargets:
    """Regression targets: finite float64 columns, as many as ``y`` has (one when 1-D)."""

    def __init__(self):
        self.n_targets = None  # fixed by the first call
        self.y_1d = False

    def __call__(self, y):
        if not non_numpy(y):
            y = np.asarray(y, dtype=np.float64)
        xp = get_namespace(y)
        Y = xp.astype(y, xp.float64)
        if Y.ndim == 1:
            Y = xp.reshape(Y, (-1, 1))
        finite = xp.isfinite(Y)
        if not bool(xp.all(finite)):
            bad = int(xp.sum(xp.astype(~finite, xp.int64)))
            raise ValueError(
                f"y contains NaN or infinity ({bad} entries); remove those rows or impute "
                "the targets before fitting"
            )
        return Y

    def prepare(self, y, n, classes=None, partial=False):
        """The checked targets of ``n`` rows, coded (regression needs no labels)."""
        Y = y if non_numpy(y) else np.asarray(y)
        if isinstance(Y, np.ndarray) and Y.dtype.kind not in "biuf":
            try:
                Y = Y.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"y must be numeric; got dtype {Y.dtype} (for class labels use "
                    "NeuralKernelRidgeClassifier)"
                ) from None
        if Y.ndim not in (1, 2):
            raise ValueError(
                f"y must be 1-D or 2-D (n_samples, n_targets); got shape {tuple(Y.shape)}"
            )
        _check_rows(Y.shape[0], n, "one target row per input row")
        y_1d = Y.ndim == 1
        Y = self(Y)
        if self.n_targets is None:
            self.y_1d, self.n_targets = y_1d, int(Y.shape[1])
        elif Y.shape[1] != self.n_targets or y_1d != self.y_1d:
            raise ValueError(
                f"y has shape {tuple(Y.shape if not y_1d else Y.shape[:1])} but the earlier "
                f"chunks had {self.n_targets} target(s) "
                f"({'1-D' if self.y_1d else '2-D'}); pass the same targets in every chunk"
            )
        return Y

    def prepare_dask(self, y):
        """Targets aligned with a dask ``X``: a dask array is checked block by block."""
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}")
        if not is_dask_array(y):
            return self.prepare(y, len(y))
        self.y_1d = y.ndim == 1
        self.n_targets = 1 if y.ndim == 1 else int(y.shape[1])
        return y


class LabelTargets:
    """Class labels coded one-vs-all in {-1, 1}, as :class:`~sklearn.linear_model.
    RidgeClassifier` (one column, the second class, when there are two)."""

    y_1d = False  # the intercept stays an array, as RidgeClassifier's

    def __init__(self, owner):
        self.owner = owner  # the estimator's name, for messages
        self.classes = None  # fixed by the first call
        self.n_targets = None

    def __call__(self, y):
        y = np.asarray(to_numpy(y)).reshape(-1)
        known = np.isin(y, self.classes)
        if not known.all():
            unknown = np.unique(y[~known])[:5]
            raise ValueError(
                f"y contains labels {unknown.tolist()} not in classes_ "
                f"{self.classes.tolist()}; pass every label in classes= on the first call "
                "to partial_fit"
            )
        Y = np.where(y[:, None] == self.classes[None, :], 1.0, -1.0)
        return Y[:, 1:] if len(self.classes) == 2 else Y

    def prepare(self, y, n, classes=None, partial=False):
        """The checked labels of ``n`` rows (coded batch by batch); ``classes`` as
        :meth:`~sklearn.linear_model.SGDClassifier.partial_fit` takes them."""
        y = np.asarray(to_numpy(y) if non_numpy(y) else y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=5,
            )
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(
                f"y must be 1-D class labels of shape (n_samples,); got shape {y.shape}"
            )
        _check_rows(y.shape[0], n, "one label per row")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(
                "y contains NaN or infinity; remove those rows, or give every row a class label"
            )
        check_classification_targets(y)
        if self.classes is None:
            if classes is None and partial:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit "
                    "(every label, e.g. classes=np.unique(y_all))"
                )
            self._set_classes(np.unique(y if classes is None else np.asarray(classes)))
        elif classes is not None and not np.array_equal(
            np.unique(np.asarray(classes)), self.classes
        ):
            raise ValueError(
                f"classes={np.asarray(classes).tolist()} differs from the first "
                f"call's {self.classes.tolist()}"
            )
        self(y)  # unknown labels fail here, before the pass
        return y

    def prepare_dask(self, y):
        """Labels aligned with a dask ``X``; the classes of a dask array are computed."""
        if is_dask_array(y):
            import dask.array as da

            if y.ndim != 1:
                raise ValueError(f"y must be 1-D class labels; got shape {y.shape}")
            found = np.asarray(da.unique(y).compute())
            check_classification_targets(found)
        else:
            y = np.asarray(to_numpy(y)).ravel()
            check_classification_targets(y)
            found = np.unique(y)
        self._set_classes(found)
        return y

    def _set_classes(self, found):
        if len(found) < 2:
            raise ValueError(
                f"{self.owner} needs samples of at least 2 classes; got one class: {found.tolist()}"
            )
        self.classes = found
        self.n_targets = 1 if len(found) == 2 else len(found)


def check_weights(sample_weight, n, like=None, allow_all_zero=False):
    """Sample weights as a float64 array of length n (NumPy, or ``like``'s namespace)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        w = np.full(n, float(sample_weight))
    elif non_numpy(sample_weight):
        w = np.asarray(to_numpy(sample_weight), dtype=np.float64)
    else:
        try:
            w = np.asarray(sample_weight, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"sample_weight must be numeric; got {exc}") from None
    if w.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D with one weight per row; got shape {w.shape}")
    if w.shape[0] != n:
        raise ValueError(
            f"sample_weight has {w.shape[0]} entries but X has {n} rows; pass one weight per row"
        )
    _check_values(w, at_row=True)
    if n and not allow_all_zero and not w.any():
        raise ValueError(
            "sample_weight is zero for every row; give at least one row a positive weight"
        )
    if like is not None and non_numpy(like):
        return asarray_like(w, like, dtype=get_namespace(like).float64)
    return w


def check_block_weights(w):
    """The weights of one dask block (their rows' positions are not known there)."""
    w = np.asarray(w, dtype=np.float64)
    _check_values(w, at_row=False)
    return w


def _check_values(w, at_row):
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity; pass finite weights >= 0")
    if (w < 0).any():
        i = int(np.argmax(w < 0))
        where = f" at row {i}" if at_row else ""
        raise ValueError(f"sample_weight must be >= 0; got {w[i]}{where}")
