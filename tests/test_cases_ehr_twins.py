"""Every nl-core / STU3 coded case of tests/cases/ehr_codes.json gives the same findings as
its local-coded twin (same id, ending ``-local``): a Dutch EHR's own codes and shapes are
read as the project's local codes are (issue 17)."""
from __future__ import annotations

import pytest

from spine_guideline.engine import evaluate_hook
from spine_guideline.policy import load_policy

from .support.cases import facts_for, load_cases

CASES = dict(load_cases())
POLICY = load_policy()
TWINS = [(cid, cid.removesuffix(suffix) + "-local") for cid in CASES for suffix in ("-nl-core", "-stu3")
         if cid.startswith("ehr_codes:") and cid.endswith(suffix)]


def findings(case):
    return sorted((f.topic, f.indicator.value, repr(f.machine_result()))
                   for f in evaluate_hook(case.get("hook", "patient-view"), facts_for(case), POLICY))


def test_every_coded_case_has_a_twin():
    assert len(TWINS) >= 3
    assert all(twin in CASES for _cid, twin in TWINS)


@pytest.mark.parametrize("coded,twin", TWINS, ids=[c for c, _t in TWINS])
def test_coded_case_gives_the_findings_of_its_local_twin(coded, twin):
    got, expected = findings(CASES[coded]), findings(CASES[twin])
    assert got and got == expected
