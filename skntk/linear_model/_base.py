"""The streaming ridge estimator's machinery, shared by the regressor and the classifier: they
differ only in their target coder (``_targets``) and their prediction's shape."""

import functools
import numbers
import sys
import time

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import gen_batches, get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import get_namespace, to_numpy
from .._dask import is_dask_array, transform_blocks
from .._estimator import POSITIVE_INT, Numbers
from ..fully_connected import NTKSketch
from ._solve import check_alphas, solve
from ._stats import SHIFT_ROWS, Stats, block_loo, block_stats, feature_shift, features, like
from ._streaming import Progress, reduce_dask, rows, stream
from ._targets import check_dask_rows, check_weights, non_numpy

_LOO_PASS = "criterion='loo' needs a second pass over all rows, which "


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


class _SolvedAttributes:
    """The fitted attributes, solved from the kept statistics (``_stats``, ``_shift``,
    ``_stats_intercept``) at the first access after new rows (``partial_fit``) or new
    alpha parameters (``set_params``), without another pass over the data."""

    @property
    def coef_(self):
        coef = self._get_solution().coef
        return coef[:, 0] if coef.shape[1] == 1 else coef.T  # as Ridge: (m,) for one target

    @property
    def intercept_(self):
        check_is_fitted(self)
        if not self._stats_intercept:
            return 0.0
        intercept = self._get_solution().intercept
        return float(intercept[0]) if self._targets.y_1d else intercept

    @property
    def alpha_(self):
        return self._get_solution().alpha

    @property
    def cv_scores_(self):
        return self._cv_attribute("cv_scores")

    @property
    def best_score_(self):
        return self._cv_attribute("best_score")

    def _cv_attribute(self, name):
        value = getattr(self._get_solution(), name)
        if value is None:
            raise AttributeError(f"{name}_ exists only when alphas is given")
        return value

    def _solution_key(self):
        alphas = None if self.alphas is None else tuple(np.asarray(self.alphas, float).ravel())
        return (float(self.alpha), alphas, self.criterion)

    def _get_solution(self):
        check_is_fitted(self)
        key, solution = self.__dict__.get("_solution") or (None, None)
        if key != self._solution_key():
            if self.alphas is not None and self.criterion == "loo":
                raise ValueError(
                    _LOO_PASS + "only fit makes: call fit again, or use criterion='gcv'"
                )
            solution = self._solve()
        return solution

    def _solve(self, loo=None):
        solution = solve(
            self._stats,
            self._shift,
            alpha=self.alpha,
            alphas=check_alphas(self.alphas),
            criterion=self.criterion,
            fit_intercept=self._stats_intercept,
            loo=loo,
        )
        self._solution = (self._solution_key(), solution)
        return solution


class _BaseNeuralKernelRidge(_SolvedAttributes, BaseEstimator):
    """Shared streaming machinery; subclasses give ``_target_coder()``."""

    _parameter_constraints: dict = {
        "feature_map": [HasMethods(["fit", "transform"]), None],
        "alpha": [Numbers(numbers.Real, 0, None, closed="left")],
        "alphas": ["array-like", None],
        "criterion": [StrOptions({"gcv", "loo"})],
        "fit_intercept": ["boolean"],
        "batch_size": [POSITIVE_INT, StrOptions({"auto"})],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        feature_map=None,
        *,
        alpha=1.0,
        alphas=None,
        criterion="gcv",
        fit_intercept=True,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.feature_map = feature_map
        self.alpha = alpha
        self.alphas = alphas
        self.criterion = criterion
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- fit -----------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the feature map, then accumulate and solve in one streaming pass.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; for the classifier, class labels of shape (n_samples,) (at least two
            classes).
        sample_weight : float or array-like of shape (n_samples,), default=None
            Nonnegative weights; rows of weight 0 do not enter the feature map's fit either.

        Returns
        -------
        self : object
        """
        check_alphas(self.alphas)
        for attr in ("_stats", "_solution"):
            self.__dict__.pop(attr, None)
        self._require_y(y)
        self._targets = self._target_coder()
        loo = (self._fit_dask if is_dask_array(X) else self._fit_arrays)(X, y, sample_weight)
        self._solve(loo)
        return self

    def _fit_arrays(self, X, y, sample_weight):
        """The Gram pass over in-memory rows; returns the leave-one-out pass."""
        X = self._check_X(X, reset=True)
        y = self._targets.prepare(y, X.shape[0])
        w = check_weights(sample_weight, X.shape[0], like=X)
        self._begin(self._fit_map(X, w), X, y)
        self._accumulate(X, y, w)
        fm = self.feature_map_
        return lambda state: self._stream(
            functools.partial(block_loo, fm, state), X, y, w, "leave-one-out pass"
        )

    def _fit_dask(self, X, y, sample_weight):
        """The Gram pass as dask tasks; returns the leave-one-out pass (dask tasks too)."""
        if X.ndim < 2:
            raise ValueError(f"X must be 2-D (rows, features); got a dask array of shape {X.shape}")
        check_dask_rows(X, y)
        fm = self._base_map()
        if not _is_fitted(fm):
            fm = clone(fm).fit(X[: X.chunks[0][0]].compute())
        self.n_features_in_ = int(X.shape[1])
        coder = self._targets
        y = coder.prepare_dask(y)
        w = sample_weight
        if w is not None and not is_dask_array(w):
            w = check_weights(w, X.shape[0])
        head = min(SHIFT_ROWS, X.chunks[0][0])
        y_head = y[:head].compute() if is_dask_array(y) else y[:head]
        self._begin(fm, X[:head].compute(), y_head)
        empty = functools.partial(Stats.zeros, self._n_out, coder.n_targets)
        gram = functools.partial(block_stats, fm, self._shift)
        self._stats = reduce_dask(gram, empty, (X, y, w), coder)
        self.n_rows_seen_ = int(self._stats.n)
        return lambda state: reduce_dask(
            functools.partial(block_loo, fm, state),
            functools.partial(np.zeros, state.n_alphas),
            (X, y, w),
            coder,
        )

    def _partial_fit(self, X, y, sample_weight, classes):
        name = type(self).__name__
        if self.alphas is not None and self.criterion == "loo":
            raise ValueError(
                _LOO_PASS + "partial_fit cannot make; use criterion='gcv' (one pass) or fit"
            )
        check_alphas(self.alphas)
        first = self.__dict__.get("_stats") is None
        if not first and self.fit_intercept != self._stats_intercept:
            raise ValueError(
                f"fit_intercept changed from {self._stats_intercept} to {self.fit_intercept} "
                "between calls to partial_fit; the accumulated statistics depend on it"
            )
        self._require_y(y)
        if is_dask_array(X):
            raise TypeError(
                f"{name}.partial_fit takes in-memory chunks; for a dask array call fit, which "
                "reduces its row blocks on the cluster"
            )
        X = self._check_X(X, reset=first)
        n = X.shape[0]
        if first:
            self._targets = self._target_coder()
        y = self._targets.prepare(y, n, classes=classes, partial=True)
        w = check_weights(sample_weight, n, like=X, allow_all_zero=True)  # one chunk may
        start = time.perf_counter()
        if first:
            fm = self._base_map()
            self._begin(fm if _is_fitted(fm) else self._fit_map(X, w), X, y)
        self._accumulate(X, y, w)
        self._solution = None
        if self.verbose:
            elapsed = max(time.perf_counter() - start, 1e-9)
            print(
                f"[{name}] partial_fit: {n} rows in {elapsed:.1f} s ({n / elapsed:,.0f} "
                f"rows/s), {self.n_rows_seen_} rows seen",
                file=sys.stderr,
                flush=True,
            )
        return self

    def _begin(self, feature_map, X, y):
        """Fix the fitted map and the shift (from the first rows); start empty statistics."""
        self.feature_map_ = feature_map
        head = slice(0, min(X.shape[0], SHIFT_ROWS))
        shift = feature_shift(feature_map, rows(X, head), self._targets(rows(y, head)))
        self._n_out = int(shift[0].shape[0])
        self._shift = shift if self.fit_intercept else None
        self._stats, self._stats_intercept, self.n_rows_seen_ = None, self.fit_intercept, 0

    def _accumulate(self, X, y, w):
        gram = functools.partial(block_stats, self.feature_map_, self._shift)
        self._stats = self._stream(gram, X, y, w, "Gram pass", out=self._stats)
        self.n_rows_seen_ += X.shape[0]

    def _stream(self, accumulate, X, y, w, label, out=None):
        progress = Progress(type(self).__name__, label, X.shape[0], self.verbose)
        batch = self._batch_rows(self._n_out)
        return stream(accumulate, (X, y, w), self._targets, batch, self.n_jobs, progress, out)

    # -- inputs --------------------------------------------------------------------------------
    def _require_y(self, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )

    def _check_X(self, X, reset):
        if not non_numpy(X):
            return validate_data(
                self,
                X,
                reset=reset,
                accept_sparse=("csr", "csc"),
                dtype=[np.float64, np.float32],
                allow_nd=True,
            )
        # CuPy, array-API: validated by the feature map, kept on the device
        if reset:
            self.n_features_in_ = int(X.shape[1])
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _batch_rows(self, m):
        """Rows per batch: ``"auto"`` makes a float32 batch of ``m`` features 64 MB."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        return int(np.clip(2**24 // max(m, 1), 64, 16384))

    def _base_map(self):
        return self.feature_map if self.feature_map is not None else NTKSketch()

    def _fit_map(self, X, w):
        """Clone and fit the feature map on the rows of positive weight."""
        if isinstance(w, np.ndarray) and not non_numpy(X) and (w > 0).any() and not (w > 0).all():
            X = X[np.flatnonzero(w > 0)]
        return clone(self._base_map()).fit(X)

    # -- prediction ----------------------------------------------------------------------------
    def _decision(self, X):
        """``feature_map_.transform(X) @ coef + intercept`` batch by batch, (n, t) float64."""
        solution = self._get_solution()
        coef, intercept = solution.coef, solution.intercept
        if is_dask_array(X):
            Z = transform_blocks(self.feature_map_, X)
            return Z @ to_numpy(coef) + to_numpy(intercept)
        X = self._check_X(X, reset=False)
        parts = []
        for sl in gen_batches(X.shape[0], self._batch_rows(self._n_out)):
            Z = features(self.feature_map_, rows(X, sl))
            xp = get_namespace(Z)
            parts.append(xp.astype(Z, xp.float64) @ like(coef, Z) + like(intercept, Z))
        return get_namespace(parts[0]).concat(parts, axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            tags.input_tags.sparse = get_tags(self._base_map()).input_tags.sparse
        except Exception:  # a map without tags
            tags.input_tags.sparse = False
        tags.target_tags.required = True
        return tags
