"""The mutation check's snippets still match the code (it is run by hand: see its docstring)."""

from __future__ import annotations

from pathlib import Path

import pytest

import lark_events_core
from tests.core.mutation_check import MUTANTS, ROOT, Mutant

# The package under test: a checkout's, or the installed wheel's (nox's sdist session runs the
# tests from an unpacked sdist without the package's sources next to them).
PACKAGE = Path(lark_events_core.__file__).parent


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_each_mutant_edits_a_snippet_that_appears_exactly_once(mutant: Mutant) -> None:
    source = (PACKAGE / mutant.module).read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: update its snippet in mutation_check.py"
    tests = (ROOT / "tests" / "core" / "test_security_checks.py").read_text()
    assert f"def {mutant.test}(" in tests
