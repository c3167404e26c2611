"""``fit`` does not depend on the order of the training rows (issue 12).

Every estimate ``fit`` takes from a subsample (typical variances, mean directions, the cosines
a polynomial is fitted on, the Taylor degree) uses rows chosen by their content and the
random state, so a shuffled or class-sorted training set gives the same features.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits

from skntk import CNTKSketch, NeuralKernelFeatures, NNGPSketch, NTKSketch
from skntk.architectures import fully_connected

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = X_DIGITS / 16.0
IMAGES = X_DIGITS.reshape(-1, 8, 8, 1)

CASES = {
    "ntk-taylor": (X_DIGITS, lambda: NTKSketch(512, depth=2, random_state=0)),
    # sparse rows: the content keys read the stored entries only
    "ntk-hermite-sparse": (sp.csr_matrix(X_DIGITS), lambda: NTKSketch(
        512, depth=2, bias_std=0.5, random_state=0)),
    "ntk-hermite-bias": (
        X_DIGITS, lambda: NTKSketch(512, depth=2, bias_std=0.5, random_state=0)),
    "nngp-gelu": (
        X_DIGITS, lambda: NNGPSketch(512, depth=2, activation="gelu", random_state=0)),
    "monte-carlo": (X_DIGITS, lambda: NeuralKernelFeatures(
        fully_connected(2, "tanh", 1.0, 0.2), n_components=512, strategy="monte_carlo",
        random_state=0)),
    "cntk-gap": (IMAGES, lambda: CNTKSketch(512, depth=2, random_state=0)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("order", ["sorted_by_class", "shuffled"])
def test_fit_is_independent_of_row_order(case, order):
    X, make = CASES[case]
    perm = (np.argsort(Y_DIGITS, kind="stable") if order == "sorted_by_class"
            else np.random.RandomState(1).permutation(X.shape[0]))
    probe = X[:50]
    a = make().fit(X).transform(probe)
    b = make().fit(X[perm]).transform(probe)
    # only the summation order of means over the rows differs
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8 * np.abs(a).max())
