"""FHIR-server faults seen from the service (issue 7): the prefetch fallback
meets a slow, hanging, refusing or broken FHIR server. Bounded time, 412 when
nothing can be had, cards marked incomplete when part of it failed; never a
hang or a 500; the fhirAuthorization token never logged."""
from __future__ import annotations

import time

import pytest
import responses

from .conftest import make_app
from .support.raw_server import RawServer, hang

BASE = "https://fhir.example.org/r4"
TOKEN = "FHIR-ACCESS-TOKEN-123"
LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"


def body(fhir_server=BASE, prefetch=None):
    b = {"hook": "patient-view", "hookInstance": "i-1", "fhirServer": fhir_server,
         "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                               "scope": "patient/*.read", "subject": "spine-cds"},
         "context": {"userId": "Practitioner/1", "patientId": "p1"}}
    if prefetch is not None:
        b["prefetch"] = prefetch
    return b


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, FHIR_TOTAL_BUDGET=1.0, FHIR_CONNECT_TIMEOUT=0.5, FHIR_READ_TIMEOUT=0.5)


def searchset(*resources):
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


@pytest.mark.parametrize("status", [401, 403, 500, 503])
@responses.activate
def test_every_fetch_failing_is_412(app, status, caplog):
    responses.add_passthru("http://127.0.0.1")
    responses.add(responses.GET, __import__("re").compile(BASE + "/.*"), status=status, json={"x": 1})
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=body())
    assert r.status_code == 412
    assert r.get_json()["issue"][0]["code"] == "incomplete"
    assert TOKEN not in caplog.text


@responses.activate
def test_invalid_json_from_the_server_is_412(app):
    import re
    responses.add(responses.GET, re.compile(BASE + "/.*"), body="{not json", content_type="application/fhir+json")
    assert app.test_client().post("/cds-services/spine-metastases-diagnosis", json=body()).status_code == 412


@responses.activate
def test_partial_failure_marks_cards_incomplete(app):
    import re
    mescc = {"resourceType": "Observation", "id": "o1", "status": "final",
             "code": {"coding": [{"system": LOCAL, "code": "mescc-deficit"}]}, "valueBoolean": True,
             "effectiveDateTime": "2026-11-22T08:00:00Z", "subject": {"reference": "Patient/p1"}}
    responses.add(responses.GET, re.compile(BASE + "/Observation.*"), json=searchset(mescc))
    responses.add(responses.GET, re.compile(BASE + "/Patient/p1"), json={"resourceType": "Patient", "id": "p1"})
    responses.add(responses.GET, re.compile(BASE + "/.*"), status=500, json={"resourceType": "OperationOutcome"})
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=body(),
                               headers={"Accept-Language": "en"})
    assert r.status_code == 200
    cards = r.get_json()["cards"]
    assert cards, "the MESCC deficit must still give an MRI card"
    assert all("Not all patient data could be retrieved" in c["detail"] for c in cards)


@responses.activate
def test_next_link_loop_is_cut_and_answered(app):
    import re
    loop = {"resourceType": "Bundle", "type": "searchset", "entry": [],
            "link": [{"relation": "next", "url": BASE + "/Condition?patient=p1&page=1"}]}
    responses.add(responses.GET, re.compile(BASE + "/Condition.*"), json=loop)
    responses.add(responses.GET, re.compile(BASE + "/Patient/p1"), json={"resourceType": "Patient", "id": "p1"})
    responses.add(responses.GET, re.compile(BASE + "/.*"), json=searchset())
    start = time.perf_counter()
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=body())
    assert r.status_code == 200
    assert time.perf_counter() - start < 5


def test_hanging_server_is_bounded_by_the_budget(app):
    server = RawServer(hang)
    try:
        start = time.perf_counter()
        r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=body(server.base_url))
        elapsed = time.perf_counter() - start
    finally:
        server.close()
    assert r.status_code == 412
    assert elapsed < 3.0


def test_unreachable_server_is_412_quickly(app):
    start = time.perf_counter()
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=body("http://127.0.0.1:9/fhir"))
    assert r.status_code == 412
    assert time.perf_counter() - start < 3


def test_fhir_server_not_allowed_for_the_caller_is_412_and_nothing_fetched(tmp_path):
    """With authentication on, only the trust file's fhir_servers may be fetched from."""
    from cds_service.security import Security

    class Caller:
        def allows_fhir_server(self, url):
            return url.startswith("https://ehr.example.org/")
    sec = Security(required=True)
    assert sec.fhir_server_allowed(Caller())("https://ehr.example.org/fhir")
    assert not sec.fhir_server_allowed(Caller())("http://169.254.169.254/")
    assert not sec.fhir_server_allowed(None)("https://ehr.example.org/fhir")
