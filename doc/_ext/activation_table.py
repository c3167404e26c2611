"""The ``.. activation-table::`` directive: the table of all activations, built from
:mod:`skntk.activations` when the documentation is built (so it cannot drift from the code).
"""

import re

import numpy as np
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from skntk.activations import ACTIVATIONS, Activation, get_activation
from skntk.architectures import fully_connected
from skntk.taylor_step import taylor_eligible

HEADER = [
    "Name",
    ":math:`\\sigma(t)`",
    "Duals; coefficients",
    "Homo\u00adgeneity",
    "Derivative",
    "NTKSketch (``bias_std=0``)",
    "Pointwise form",
]
N_COEFFICIENTS = 7


def _definition(cls):
    """The formula of the class docstring's first line, without its ``act(t) =``."""
    first = (cls.__doc__ or "").strip().splitlines()[0]
    segment = re.split(r"; |: |\. |, i\.e\. ", first, maxsplit=1)[0].rstrip(".")
    literals = re.findall(r"``(.+?)``", segment)
    if len(literals) == 1:
        return f"``{literals[0].removeprefix('act(t) = ')}``"
    return segment.replace("``act(t) = ", "``")


def _row(name, cls):
    act = get_activation(name)
    params = ", ".join(f"{p}={getattr(act, p)!r}" for p in cls._param_names)
    own_coefficients = type(act).hermite_coefficients is not Activation.hermite_coefficients
    if not act.has_pointwise_form:
        derivative = "defined on the kernel"
    elif act.continuous_derivative:
        derivative = "continuous"
    else:
        derivative = "discontinuous"
    method = "Taylor" if taylor_eligible(fully_connected(1, act)) else "layer-wise"
    return [
        f":class:`~skntk.activations.{cls.__name__}` ``{name!r}``"
        + (f" ({params})" if params else ""),
        _definition(cls),
        ("closed form" if act.has_closed_form_dual else "quadrature")
        + "; "
        + ("closed form" if own_coefficients else "quadrature"),
        "—" if act.homogeneity is None else f"{act.homogeneity:g}",
        derivative,
        method,
        "yes" if act.has_pointwise_form else "no",
    ]


def _coefficient_row(name, cls):
    r = get_activation(name).hermite_coefficients(np.array([1.0]), N_COEFFICIENTS - 1)[0]
    # round first, then add 0.0: no "-0.000" for coefficients that vanish by symmetry
    return [f":class:`~skntk.activations.{cls.__name__}`"] + [
        f"{round(float(c), 3) + 0.0:.3f}" for c in r
    ]


class ActivationTable(SphinxDirective):
    """A list-table of every registered activation, with its default parameters; with the
    ``:coefficients:`` flag, their first Hermite coefficients at unit variance instead."""

    option_spec = {"coefficients": directives.flag}

    def run(self):
        lines = [".. list-table::", "   :header-rows: 1", "   :class: activation-table", ""]
        names = [(name, cls) for name, cls in ACTIVATIONS.items() if name != "swish"]
        if "coefficients" in self.options:
            header = ["Activation"] + [f":math:`r_{l}(1)`" for l in range(N_COEFFICIENTS)]
            rows = [header] + [_coefficient_row(name, cls) for name, cls in names]
        else:
            rows = [HEADER] + [_row(name, cls) for name, cls in names]
        for row in rows:
            lines.append(f"   * - {row[0]}")
            lines += [f"     - {cell}" for cell in row[1:]]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="activation-table"), 0, container)
        return container.children


def setup(app):
    app.add_directive("activation-table", ActivationTable)
    return {"parallel_read_safe": True}
