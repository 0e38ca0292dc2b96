"""Hook requests built from a table-driven case (tests/cases/*.json), and the fixtures of a
test client on a settable clock, for the tests that run the cases over HTTP
(tests/test_cases_http.py, tests/test_cases_ehr_twins.py)."""
from __future__ import annotations

import pytest

from cds_service.services import TEMPLATES, template_resource_type

from ..conftest import make_app
from .clock import SettableClock

BASE = "https://fhir.case-test.example/r4"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def client(tmp_path, clock):
    return make_app(tmp_path, clock=clock).test_client()


@pytest.fixture
def at(clock):
    return clock.set


def by_type(case) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for res in case.get("resources", []):
        out.setdefault(res["resourceType"], []).append(res)
    return out


def search_result(types: dict[str, list[dict]], template: str) -> list[dict]:
    """What a FHIR server answers to a search template: its type, plus the Medications an
    ``_include=...:medication`` brings along."""
    found = list(types.get(template_resource_type(template), []))
    if "_include=" in template and template.endswith(":medication"):
        found += types.get("Medication", [])
    return found


def searchset(resources):
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def request_body(case, service, *, prefetch: bool):
    pid = case.get("patientId", "p1")
    context = {"userId": "Practitioner/1", "patientId": pid}
    if service.hook in ("order-select", "order-sign"):
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": r} for r in case.get("draftOrders", [])]}
        if service.hook == "order-select":
            context["selections"] = case.get("selections") or [
                f"{r['resourceType']}/{r['id']}" for r in case.get("draftOrders", [])]
    body = {"hook": service.hook, "hookInstance": f"case-{case['id']}", "context": context}
    if prefetch:
        types, failed = by_type(case), case.get("searches", {})
        body["prefetch"] = {}
        for key in service.prefetch_keys:
            rtype = template_resource_type(TEMPLATES[key])
            if failed.get(rtype) == "failed":
                body["prefetch"][key] = {"resourceType": "OperationOutcome",
                                         "issue": [{"severity": "error", "code": "exception"}]}
            elif key == "patient":
                body["prefetch"][key] = (types.get("Patient") or [None])[0]
            else:
                body["prefetch"][key] = searchset(search_result(types, TEMPLATES[key]))
    else:
        body["fhirServer"] = BASE
    return body
