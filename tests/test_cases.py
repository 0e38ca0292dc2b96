"""Runs every table-driven case (tests/cases/*.json) through mapping + rules."""
from __future__ import annotations

import pytest

from fhir_mappings import build_facts
from spine_guideline.engine import evaluate_hook
from spine_guideline.facts import SearchStatus
from spine_guideline.policy import load_policy

from .support.cases import SEARCHED_TYPES, check_findings, load_cases, parse_now

CASES = load_cases()
POLICY = load_policy()


def facts_for(case):
    searches = {t: SearchStatus.OK for t in SEARCHED_TYPES}
    searches.update({k: SearchStatus(v) for k, v in case.get("searches", {}).items()})
    return build_facts(case.get("resources", []), searches=searches, now=parse_now(case),
                       patient_id=case.get("patientId", "p1"),
                       draft_orders=case.get("draftOrders"), selections=case.get("selections"))


@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_case(case_id, case):
    facts = facts_for(case)
    findings = evaluate_hook(case.get("hook", "patient-view"), facts, POLICY)
    produced = [{"topic": f.topic, "indicator": f.indicator.value, "key": f.key,
                 "result": f.machine_result()} for f in findings]
    errors = check_findings(case, produced)
    assert not errors, "\n".join(errors)
