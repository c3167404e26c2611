"""The two public estimators: regression and one-vs-all classification, with their docs."""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from .._backend import get_namespace, to_numpy
from .._dask import is_dask_array
from ._base import _BaseNeuralKernelRidge
from ._targets import FloatTargets, LabelTargets

__all__ = ["NeuralKernelRidge", "NeuralKernelRidgeClassifier"]


_MATH_DOC = """
    **Model.** With the features ``z_i = phi(x_i)`` (``m`` of them), targets ``y_i`` and
    sample weights ``w_i`` (``W = sum_i w_i``), the coefficients minimize

    .. math::

        \\sum_i w_i \\lVert y_i - b - \\beta^T z_i \\rVert^2 + \\alpha \\lVert\\beta\\rVert^2.

    The intercept is not penalized, so with the weighted means ``zbar``, ``ybar`` the normal
    equations are

    .. math::

        (G_c + \\alpha I)\\,\\beta = B_c, \\qquad b = \\bar y - \\beta^T \\bar z, \\qquad
        G_c = \\sum_i w_i (z_i - \\bar z)(z_i - \\bar z)^T, \\quad
        B_c = \\sum_i w_i (z_i - \\bar z)(y_i - \\bar y)^T,

    (``G_c = sum_i w_i z_i z_i^T`` and ``b = 0`` when ``fit_intercept=False``). One pass
    over the rows accumulates ``G``, ``B``, the column sums and the target sums (each block
    shifted by a fixed point near the mean, which makes the final centring
    ``G_c = G - s s^T / W`` free of cancellation); the system is solved by a Cholesky
    factorization. The result is the one :class:`~sklearn.linear_model.Ridge` finds on the
    materialized features ``feature_map_.transform(X)``.

    **Several alphas** (``alphas``). One eigendecomposition ``G_c = V diag(lambda) V^T``
    gives every alpha: with ``z = V^T B_c``, ``beta(alpha) = V z / (lambda + alpha)``.

    - ``criterion="gcv"``: generalized cross-validation, in closed form (no second pass):
      ``RSS(alpha) = sum_t [S_yy,t - sum_j z_jt^2 (lambda_j + 2 alpha) /
      (lambda_j + alpha)^2]`` with ``S_yy = sum_i w_i (y_i - ybar)^2``, the effective degrees
      of freedom ``df(alpha) = sum_j lambda_j / (lambda_j + alpha) + fit_intercept``, and the
      score ``-RSS / (n t) / (1 - df / n)^2`` (``n`` rows, ``t`` targets).
    - ``criterion="loo"``: exact efficient leave-one-out, a second streaming pass for the
      diagonal of the hat matrix: ``h_ii(alpha) = w_i sum_j p_ij^2 / (lambda_j + alpha)`` with
      ``p_i = V^T (z_i - zbar)``, and the leave-one-out error
      ``e_i = sqrt(w_i) (y_i - yhat_i) / (1 - h_ii - w_i / W)`` (``1 - h_ii`` without an
      intercept). The score is ``-mean_{i,t} e_it^2``, the criterion (and the per-sample
      errors) of :class:`~sklearn.linear_model.RidgeCV` with its default ``cv=None``.

    The alpha of the highest score (the first one on ties) is ``alpha_``.

    **Cost.** Time: the feature transform plus ``n m^2`` multiply-adds for ``G`` (a symmetric
    rank-``b`` update per batch, ``scipy.linalg.blas`` ``dsyrk``/``ssyrk`` on NumPy; a matmul
    in the input's namespace elsewhere, e.g. on a CuPy device), ``m^3 / 3`` for the Cholesky
    factorization (an ``m x m`` eigendecomposition with ``alphas``), and for ``criterion="loo"`` a
    second transform plus ``2 n m^2``. Memory: ``8 m^2`` bytes for ``G`` (one more per
    thread with ``n_jobs``, and a copy during the solve; ``V`` too with ``alphas``) and a few
    ``batch_size x m`` blocks; never the ``n x m`` features.

    **Precision.** float64 features are accumulated in float64 throughout. For float32
    features, each batch's products are formed in float32 (``ssyrk``, twice as fast) and
    summed in float64 across batches; pass float64 ``X`` for float64 products.
"""

_PARAMS_DOC = """
    Parameters
    ----------
    feature_map : transformer, default=None
        The feature map ``phi``: any skntk feature map (or a transformer whose ``transform``
        maps rows independently, e.g. a Pipeline ending in one). None means ``NTKSketch()``.
        ``fit`` fits a clone on ``X`` (on dask input: uses a fitted map as is, else fits a
        clone on the first row chunk). ``partial_fit`` uses a fitted map as is and otherwise
        fits a clone on the first chunk.
    alpha : float, default=1.0
        Regularization strength, >= 0 (0 only when the Gram matrix is nonsingular). Ignored
        when ``alphas`` is given.
    alphas : array-like of float > 0, default=None
        Candidate strengths, chosen by ``criterion`` at the cost of one eigendecomposition.
    criterion : {"gcv", "loo"}, default="gcv"
        How ``alphas`` are scored: ``"gcv"`` (closed form, one pass over the data) or
        ``"loo"`` (exact leave-one-out as :class:`~sklearn.linear_model.RidgeCV`, a second
        pass over the data; not available in ``partial_fit``).
    fit_intercept : bool, default=True
        Fit an unpenalized intercept (by centring the accumulated statistics).
    batch_size : int or "auto", default="auto"
        Rows per batch ("auto": ``2^24 / m`` rows, between 64 and 16384, so a batch of
        features takes 64 MB in float32, 128 MB in float64; fewer, larger ``syrk`` updates).
    n_jobs : int, default=None
        Threads, each accumulating its own partial statistics over its share of the batches
        (None means 1, -1 all cores). BLAS threads are divided among them.
    verbose : int, default=0
        Progress on stderr: rows done, rows per second and time left, about once a second
        (every batch for ``verbose >= 2``).
"""


class NeuralKernelRidge(RegressorMixin, _BaseNeuralKernelRidge):
    __doc__ = (
        """Kernel ridge regression with a neural kernel feature map, streamed over the rows.

    Equivalent to ``Ridge`` on ``feature_map.transform(X)``, but the ``n x m`` feature matrix
    is never held: ``fit`` accumulates ``Z^T Z`` (``m x m``), ``Z^T y`` and the column sums
    batch by batch, then solves. Works on NumPy and SciPy sparse input, in chunks
    (:meth:`partial_fit`), on dask arrays (the per-block statistics are dask tasks reduced in
    a tree, so only ``m x m`` matrices travel between workers), and on CuPy / array-API
    arrays (the accumulation stays on the device when the feature map returns device arrays).
"""
        + _MATH_DOC
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    coef_ : ndarray of shape (m,) or (n_targets, m)
        Weights of the features, shaped as :class:`~sklearn.linear_model.Ridge`'s: ``(m,)``
        for one target.
    intercept_ : float or ndarray of shape (n_targets,)
    alpha_ : float
        ``alpha``, or the one chosen from ``alphas``.
    cv_scores_ : ndarray of shape (n_alphas,)
        With ``alphas``: the score of each alpha (negative GCV or mean squared leave-one-out
        error, averaged over targets; ``RidgeCV``'s ``-cv_results_.mean(axis=0)`` for
        ``criterion="loo"``).
    best_score_ : float
        With ``alphas``: the score of ``alpha_``, as :class:`~sklearn.linear_model.RidgeCV`.
    feature_map_ : transformer
        The fitted feature map.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has feature names that are all strings.
    n_rows_seen_ : int
        Rows accumulated (all ``partial_fit`` chunks together).

    Notes
    -----
    The fitted estimator keeps the accumulated statistics (``8 m^2`` bytes, e.g. 134 MB for
    ``m = 4096``; they are also pickled), like the sufficient statistics of
    :class:`~sklearn.naive_bayes.GaussianNB`: ``partial_fit`` after ``fit`` adds rows to
    the same sums, and a new ``alpha``/``alphas`` (``set_params``) is solved without another
    pass over the data (except with ``criterion="loo"``, whose scores need one). ``fit``
    solves at once; ``partial_fit`` solves lazily, at the first access to ``coef_``,
    ``predict`` and the like after new data (a solve costs ``m^3 / 3``, as much as
    accumulating ``m / 3`` rows).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skntk import NTKSketch
    >>> from skntk.linear_model import NeuralKernelRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 5))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(300)
    >>> model = NeuralKernelRidge(NTKSketch(128, random_state=0), alpha=0.1).fit(X, y)
    >>> model.coef_.shape
    (128,)
    >>> Z = model.feature_map_.transform(X)  # what the model never materializes
    >>> np.allclose(model.predict(X), Ridge(alpha=0.1).fit(Z, y).predict(Z))
    True
    >>> cv_model = NeuralKernelRidge(NTKSketch(128, random_state=0), alphas=[0.01, 0.1, 1.0, 10.0])
    >>> cv_model.fit(X, y).cv_scores_.shape
    (4,)
    """
    )

    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y, sample_weight=None):
        """Add one chunk of rows; ``partial_fit`` over chunks equals one ``fit``.

        The first call fixes the feature map (used as is when already fitted, else a clone
        fitted on this chunk) and the number of targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, sample_weight, None)

    def predict(self, X):
        """Predict ``feature_map_.transform(X) @ coef_.T + intercept_``, batch by batch.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            float64, in the features' namespace (a lazy dask array for dask input).
        """
        out = self._decision(X)
        return out[:, 0] if self._targets.y_1d else out

    def _target_coder(self):
        return FloatTargets()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class NeuralKernelRidgeClassifier(ClassifierMixin, _BaseNeuralKernelRidge):
    __doc__ = (
        """Ridge classification with a neural kernel feature map, streamed over the rows.

    The targets are coded one-vs-all in ``{-1, 1}`` exactly as
    :class:`~sklearn.linear_model.RidgeClassifier` does (a single column, +1 for
    ``classes_[1]``, with two classes), and regressed as in :class:`NeuralKernelRidge`;
    ``predict`` takes the class of the largest decision value (its sign with two classes).
    The result equals ``RidgeClassifier`` on ``feature_map.transform(X)``; with ``alphas``
    and ``criterion="loo"``, ``RidgeClassifierCV``'s choice.
"""
        + _MATH_DOC
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (m,) with two classes, else (n_classes, m)
    intercept_ : float or ndarray of shape (1,) or (n_classes,)
    alpha_ : float
    cv_scores_ : ndarray of shape (n_alphas,)
        With ``alphas``: the score of each alpha on the coded targets.
    best_score_ : float
    feature_map_ : transformer
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_rows_seen_ : int

    Notes
    -----
    As for :class:`NeuralKernelRidge`: the fitted estimator keeps the ``m x m`` statistics,
    and ``partial_fit`` solves lazily; its first call needs ``classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skntk import NTKSketch
    >>> from skntk.linear_model import NeuralKernelRidgeClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = NeuralKernelRidgeClassifier(NTKSketch(512, random_state=0), alpha=1e-3)
    >>> clf.fit(X[:1200], y[:1200]).classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> bool(clf.score(X[1200:], y[1200:]) > 0.9)
    True
    """
    )

    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Add one chunk of rows; ``partial_fit`` over chunks equals one ``fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class label; required on the first call (as in
            :class:`~sklearn.linear_model.SGDClassifier`), optional later (it must then be
            the same).
        sample_weight : float or array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, sample_weight, classes)

    @property
    def classes_(self):
        check_is_fitted(self)
        return self._targets.classes

    def decision_function(self, X):
        """Decision values ``feature_map_.transform(X) @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) with two classes, else (n_samples, n_classes)
        """
        out = self._decision(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X):
        """The class of the largest decision value (its sign with two classes).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self._decision(X)
        classes = self.classes_
        if is_dask_array(scores):
            index = (
                (scores[:, 0] > 0).astype(np.intp)
                if scores.shape[1] == 1
                else scores.argmax(axis=1)
            )
            return index.map_blocks(lambda i: classes[i], dtype=classes.dtype)
        if scores.shape[1] == 1:
            index = to_numpy(scores[:, 0] > 0).astype(np.intp)
        else:
            index = to_numpy(get_namespace(scores).argmax(scores, axis=1)).astype(np.intp)
        return classes[index]

    def _target_coder(self):
        return LabelTargets(type(self).__name__)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
