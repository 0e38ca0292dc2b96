"""The table-driven cases (tests/cases/*.json) end to end through HTTP: every
service of the case's hook is called, once with prefetch and once with the
FHIR-server fallback (the service fetches the same resources over HTTP), and
both must give the expected cards (topic, indicator, result) — the same as
the mapper + rules run in tests/test_cases.py."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from cds_service.services import SERVICES, TEMPLATES, template_resource_type

from .conftest import make_app
from .support.cases import check_findings, load_cases, parse_now
from .support.clock import SettableClock

CASES = load_cases()
BASE = "https://fhir.case-test.example/r4"
RESULT = "org.spine-cds.result"


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
                body["prefetch"][key] = searchset(types.get(rtype, []))
    else:
        body["fhirServer"] = BASE
    return body


def serve_case(mock: responses.RequestsMock, case) -> None:
    types, failed = by_type(case), case.get("searches", {})

    def answer(request):
        url = urlparse(request.url)
        path = url.path[len(urlparse(BASE).path):].strip("/")
        rtype, _, rid = path.partition("/")
        if failed.get(rtype) == "failed":
            return 500, {}, json.dumps({"resourceType": "OperationOutcome",
                                        "issue": [{"severity": "error", "code": "exception"}]})
        if rid:
            found = [r for r in types.get(rtype, []) if r.get("id") == rid]
            if not found:
                return 404, {}, json.dumps({"resourceType": "OperationOutcome",
                                            "issue": [{"severity": "error", "code": "not-found"}]})
            return 200, {"Content-Type": "application/fhir+json"}, json.dumps(found[0])
        assert parse_qs(url.query).get("patient") == [case.get("patientId", "p1")]
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(searchset(types.get(rtype, [])))

    mock.add_callback(responses.GET, re.compile(re.escape(BASE) + r"/.*"), callback=answer)


def produced(cards):
    return [{"topic": c["source"]["topic"]["code"], "indicator": c["indicator"],
             "key": None, "result": c["extension"][RESULT]} for c in cards]


@pytest.mark.parametrize("mode", ["prefetch", "fhir-fallback"])
@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_case_over_http(client, at, case_id, case, mode):
    at(parse_now(case))
    hook = case.get("hook", "patient-view")
    cards = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        if mode == "fhir-fallback":
            serve_case(mock, case)
        for service in [s for s in SERVICES if s.hook == hook]:
            r = client.post(f"/cds-services/{service.id}", json=request_body(case, service,
                                                                              prefetch=mode == "prefetch"))
            assert r.status_code == 200, (service.id, r.get_data(as_text=True)[:500])
            cards.extend(r.get_json()["cards"])
    # card keys are not part of the wire format; match on topic, indicator and result
    expected = dict(case, expect=[{k: v for k, v in e.items() if k != "key"} for e in case.get("expect", [])])
    errors = check_findings(expected, produced(cards))
    assert not errors, "\n".join(errors)
