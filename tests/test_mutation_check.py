"""The mutation list of ``tools/mutation_check.py`` stays in step with the code.

The script itself is run by hand (it runs the relevant tests once per mutation); this test only
checks, cheaply and in CI, that every substitution still applies to exactly one place, names
test files that exist, and that every kind of bug issue 10 asks for is covered. When code
moves, update the substitution rather than deleting it.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    path = ROOT / "tools" / "mutation_check.py"
    spec = importlib.util.spec_from_file_location("mutation_check", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


MODULE = _load()


@pytest.mark.parametrize("mutation", MODULE.MUTATIONS, ids=lambda m: m.name)
def test_substitution_applies_exactly_once(mutation):
    assert mutation.category in ("sketch", "exact")
    assert mutation.old != mutation.new
    assert MODULE.check_matches(mutation) == 1, (
        f"{mutation.name}: its old text no longer occurs exactly once in {mutation.file}; "
        "update the substitution to the new code"
    )
    for spec in mutation.tests:
        path = spec.partition("::")[0]
        assert (ROOT / path).is_file(), spec
        if mutation.category == "sketch":
            # sketch-level bugs must be caught by sketch-level tests, not by the exact kernels'
            assert "test_kernels" not in path and "reference" not in path, spec


def test_names_are_unique_and_issue_kinds_are_covered():
    names = [m.name for m in MODULE.MUTATIONS]
    assert len(names) == len(set(names))
    text = " ".join(names)
    for kind in ("srht", "countsketch", "tensorsrht", "tensorsketch", "polysketch",
                 "hermite-coef", "first-layer", "bias", "depth", "pool", "uncentred",
                 "leverage", "split"):
        assert kind in text, f"no mutation of kind {kind!r}"
