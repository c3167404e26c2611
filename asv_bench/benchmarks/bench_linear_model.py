"""NeuralKernelRidge: the streaming fit next to the materialized pipeline (issue #13).

n = 20,000 rows x 784 float32, NTKSketch(4096), depth 2 (``benchmarks/streaming_ridge.py``
runs the issue's 200,000 rows, each fit in a fresh process). Three fits of the same map:

- ``streaming``: ``NeuralKernelRidge(NTKSketch(...)).fit``, which never holds the features;
- ``pipeline``: ``Pipeline([NTKSketch(...), Ridge()]).fit``, which holds ``n x m`` float32;
- ``transform_syrk``: the streaming fit's floor, the map's fit, its transform batch by batch
  and one ``ssyrk`` per batch (the issue's speed target: ``streaming`` within 1.3 x of it).
"""

import numpy as np
from scipy.linalg.blas import ssyrk
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.utils import gen_batches

from skntk import NTKSketch
from skntk.linear_model import NeuralKernelRidge

from .common import gaussian, size


class NeuralKernelRidgeFit:
    params = (["streaming", "pipeline", "transform_syrk"],)
    param_names = ["method"]
    timeout = 600

    def setup(self, method):
        self.X = gaussian(size(20000, 200), size(784, 20), np.float32)
        self.y = np.sin(self.X[:, 0]) + 0.5 * self.X[:, 1]
        self.m = size(4096, 64)
        self.batch = size(4096, 64)  # batch_size="auto" at m = 4096: 64 MB of float32

    def _fit(self, method):
        sketch = NTKSketch(self.m, depth=2, random_state=0)
        if method == "streaming":
            NeuralKernelRidge(sketch, alpha=1.0, batch_size=self.batch).fit(self.X, self.y)
        elif method == "pipeline":
            make_pipeline(sketch, Ridge(alpha=1.0)).fit(self.X, self.y)
        else:
            sketch.fit(self.X)
            for sl in gen_batches(len(self.X), self.batch):
                ssyrk(1.0, np.ascontiguousarray(sketch.transform(self.X[sl])).T, trans=0)

    def time_fit(self, method):
        self._fit(method)

    def peakmem_fit(self, method):
        self._fit(method)
