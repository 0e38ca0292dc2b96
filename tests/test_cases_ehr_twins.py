"""Every nl-core / STU3 coded case of tests/cases/ehr_codes.json gives the same findings as
its local-coded twin (same id, ending ``-local``): a Dutch EHR's own codes and shapes are
read as the project's local codes are (issue 17): through mapper + rules, and over HTTP in
prefetch mode (the cards' machine-readable results)."""
from __future__ import annotations

import json

import pytest

from cds_service.services import SERVICES
from spine_guideline.engine import evaluate_hook
from spine_guideline.policy import load_policy
from tests.support.results import wire_with_rules

from .support.cases import facts_for, load_cases, parse_now
from .support.http_cases import at, client, clock, request_body  # noqa: F401 (fixtures)

CASES = dict(load_cases())
POLICY = load_policy()
TWINS = [(cid, cid.removesuffix(suffix) + "-local") for cid in CASES for suffix in ("-nl-core", "-stu3")
         if cid.startswith("ehr_codes:") and cid.endswith(suffix)]


def findings(case):
    return sorted((f.topic, f.indicator.value, repr(wire_with_rules(f)))
                   for f in evaluate_hook(case.get("hook", "patient-view"), facts_for(case), POLICY))


def test_every_coded_case_has_a_twin():
    assert len(TWINS) >= 15
    assert all(twin in CASES for _cid, twin in TWINS)


@pytest.mark.parametrize("coded,twin", TWINS, ids=[c for c, _t in TWINS])
def test_coded_case_gives_the_findings_of_its_local_twin(coded, twin):
    got, expected = findings(CASES[coded]), findings(CASES[twin])
    assert got and got == expected


def cards_over_http(client, at, case):  # noqa: F811 (the fixtures of support/http_cases.py)
    at(parse_now(case))
    hook = case.get("hook", "patient-view")
    out = []
    for service in [s for s in SERVICES if s.hook == hook]:
        r = client.post(f"/cds-services/{service.id}", json=request_body(case, service, prefetch=True))
        assert r.status_code == 200, (service.id, r.get_data(as_text=True)[:500])
        out += [(c["source"]["topic"]["code"], c["indicator"],
                 json.dumps(_without_ids(c["extension"]["org.spine-cds.result"]), sort_keys=True))
                for c in r.get_json()["cards"]]
    return sorted(out)


def _without_ids(result: dict) -> dict:
    """The result with each criterion's evidence references counted, not named: the twins record
    the same finding in different resources (a Condition here, an Observation there)."""
    evidence = [{**e, "references": len(e.get("references", []))} for e in result.get("evidence", [])]
    return {**result, "evidence": evidence} if "evidence" in result else result


@pytest.mark.parametrize("coded,twin", TWINS, ids=[c for c, _t in TWINS])
def test_coded_case_gives_the_cards_of_its_local_twin_over_http(client, at, coded, twin):  # noqa: F811
    got, expected = cards_over_http(client, at, CASES[coded]), cards_over_http(client, at, CASES[twin])
    assert got and got == expected
