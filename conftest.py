"""Test-session setup that must run before SciPy is imported.

scikit-learn's ``array_api_dispatch`` (exercised by ``tests/test_array_api.py``) requires
SciPy's own array-API support, which SciPy reads from the environment variable
``SCIPY_ARRAY_API`` once, when it is first imported. pytest imports this file (at the
repository root) before ``tests/conftest.py`` and before any test module, so setting the
variable here covers every way of running the suite from the repository (``pytest``,
``pytest tests/test_x.py``, ``--doctest-modules``). With NumPy inputs SciPy behaves the same
either way. A value set by the caller is kept; if SciPy was already imported (by a plugin),
nothing is set and the dispatch tests skip, saying why.
"""

import os
import sys

if "scipy" not in sys.modules:
    os.environ.setdefault("SCIPY_ARRAY_API", "1")
