"""Value objects: parameters that compare, hash, print and ``clone`` by their arguments.

Activations and layers are passed to estimators as parameters. scikit-learn's ``clone``
rebuilds any parameter that has ``get_params`` as ``type(p)(**p.get_params(deep=False))``, and
``GridSearchCV`` compares and prints parameters, so these objects behave like values.
"""

import numpy as np


def _freeze(value):
    """A hashable stand-in for a parameter (arrays and sequences become tuples of floats)."""
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(float(v) for v in np.ravel(value))
    return value


class ValueObject:
    """Base class: subclasses list their constructor arguments in ``_param_names`` and store
    them under those names (or override :meth:`get_params`)."""

    _param_names = ()

    def get_params(self, deep=True):
        """Parameters as a dict (the constructor's keyword arguments).

        ``deep`` is accepted for scikit-learn's ``clone``; the parameters are plain values
        either way.
        """
        return {p: getattr(self, p) for p in self._param_names}

    def _key(self):
        return (type(self), tuple(_freeze(v) for v in self.get_params().values()))

    def __eq__(self, other):
        return isinstance(other, ValueObject) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
