"""Runs every table-driven case (tests/cases/*.json) through mapping + rules."""
from __future__ import annotations

import pytest

from .support.cases import Case, check_findings, load_cases, produced_in_process

CASES = load_cases()


@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_case(case_id: str, case: Case) -> None:
    errors = check_findings(case, produced_in_process(case))
    assert not errors, "\n".join(errors)
