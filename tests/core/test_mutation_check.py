"""The mutation check's snippets still match the code (it is run by hand: see its docstring)."""

from __future__ import annotations

import pytest

from tests.core.mutation_check import MUTANTS, ROOT, Mutant


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_each_mutant_edits_a_snippet_that_appears_exactly_once(mutant: Mutant) -> None:
    source = (ROOT / "lark_events_core" / mutant.module).read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: update its snippet in mutation_check.py"
    tests = (ROOT / "tests" / "core" / "test_security_checks.py").read_text()
    assert f"def {mutant.test}(" in tests
