"""A medicationReference nobody sent (a server or EHR that ignores ``_include``): listed by a
pure helper in fhir_mappings, read as ``Medication/{id}`` from the same fhirServer by the
prefetch fallback (same allowlist, token, deadline; bounded), and an unread or failed product is
an unknown medication, never "not on dexamethasone" (issue 17, MP9 medication)."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest
import responses

from cds_service.fhir_client import FhirClient
from cds_service.prefetch import MAX_MEDICATION_READS, gather
from cds_service.services import BY_ID
from fhir_mappings import build_facts, unresolved_medication_references
from spine_guideline.facts import SearchStatus, Unknown

from .conftest import make_app
from .support.fhir_server import fhir_server, load_bundle

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BASE = "https://fhir.example.org/r4"
TOKEN = "MED-READ-TOKEN-42"
ATC = "http://www.whocc.no/atc"
PRK = "urn:oid:2.16.840.1.113883.2.4.4.10"
NL = "http://nictiz.nl/fhir/StructureDefinition/"
DIAGNOSIS = BY_ID["spine-metastases-diagnosis"]


def agreement(rid="ma-1", ref="Medication/med-1", status="active"):
    return {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
            "meta": {"profile": [NL + "mp-MedicationAgreement"]}, "subject": {"reference": "Patient/p1"},
            "medicationReference": {"reference": ref},
            "extension": [{"url": NL + "ext-TimeInterval.Period", "valuePeriod": {"start": "2026-11-22T08:00:00+01:00"}}]}


def product(rid="med-1", *codings):
    codings = codings or ({"system": PRK, "code": "99999", "display": "DEXAMETHASON TABLET 4MG"},
                          {"system": ATC, "code": "H02AB02", "display": "dexamethason"})
    return {"resourceType": "Medication", "id": rid, "code": {"coding": list(codings)}}


def searchset(*resources):
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def facts_of(resources, searches=None):
    searches = searches or {t: SearchStatus.OK for t in ("MedicationRequest", "MedicationStatement",
                                                         "MedicationAdministration")}
    return build_facts(resources, searches=searches, now=NOW, patient_id="p1")


# ------------------------------------------------------------------ the pure helper
def test_helper_lists_only_references_nobody_sent():
    contained = dict(agreement("ma-c", "#m"), contained=[product("m")])
    in_bundle = searchset(agreement("ma-b", "Medication/med-b"), product("med-b"))
    by_full_url = {"resourceType": "Bundle", "entry": [
        {"fullUrl": "urn:uuid:5b1f", "resource": product("x")},
        {"resource": agreement("ma-u", "urn:uuid:5b1f")}]}
    absolute_present = agreement("ma-a", BASE + "/Medication/med-b/_history/2")
    missing = [agreement("ma-1", "Medication/med-1"), agreement("ma-2", "Medication/med-1"),
               agreement("ma-3", BASE + "/Medication/med-3"), agreement("ma-4", "urn:uuid:0000"),
               {"resourceType": "MedicationAdministration", "id": "ad-1", "status": "completed",
                "medication": {"reference": {"reference": "Medication/med-5"}}}]
    not_a_medication = agreement("ma-6", "Substance/s1")
    got = unresolved_medication_references([contained, in_bundle, by_full_url, absolute_present, *missing,
                                            not_a_medication])
    assert got == ["Medication/med-1", BASE + "/Medication/med-3", "urn:uuid:0000", "Medication/med-5"]
    assert unresolved_medication_references([]) == []


# ------------------------------------------------------------------ the mapper: unknown, never absent
def test_an_unresolved_product_of_an_active_agreement_is_an_unknown_medication():
    f = facts_of([agreement()])
    fact = f.medication("corticosteroid")
    assert fact.value is None and fact.unknown is Unknown.SEARCH_FAILED
    assert any("ma-1" in w and "referenced Medication not in the request" in w for w in f.warnings)
    # the same agreement with its product: dexamethasone
    f = facts_of([agreement(), product()])
    assert f.medication("corticosteroid").value is True
    assert [m.ingredient for m in f.medications] == ["dexamethasone"]


def test_an_unresolved_product_of_a_stopped_agreement_changes_nothing():
    f = facts_of([agreement(status="stopped")])
    assert f.medication("corticosteroid").value is False


def test_a_g_standaard_only_product_is_an_unknown_medication_not_no_steroid():
    only_prk = product("med-1", {"system": PRK, "code": "99999", "display": "DEXAMETHASON TABLET 4MG"})
    f = facts_of([agreement(), only_prk])
    assert f.medication("corticosteroid").is_unknown
    assert any(f"unrecognised product code {PRK}|99999" in w for w in f.warnings)


# ------------------------------------------------------------------ the fetch step (fault-injection mock)
def client():
    return FhirClient(connect_timeout=0.5, read_timeout=0.5, total_budget=2.0)


def body(prefetch=None, fhir_server=BASE):
    b = {"hook": "patient-view", "hookInstance": "i-1", "fhirServer": fhir_server,
         "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                               "scope": "patient/*.read", "subject": "spine-cds"},
         "context": {"userId": "Practitioner/1", "patientId": "p1"}}
    if prefetch is not None:
        b["prefetch"] = prefetch
    return b


def mock_server(rsps, medications, *, agreements=None):
    """A server that ignores _include: the MedicationRequest search has no Medication."""
    rsps.add(responses.GET, re.compile(re.escape(BASE) + r"/MedicationRequest\?.*"),
             json=searchset(*(agreements or [agreement()])))
    rsps.add(responses.GET, BASE + "/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    for rid, answer in medications.items():
        if isinstance(answer, int):
            rsps.add(responses.GET, f"{BASE}/Medication/{rid}", status=answer,
                     json={"resourceType": "OperationOutcome"})
        else:
            rsps.add(responses.GET, f"{BASE}/Medication/{rid}", json=answer)
    rsps.add(responses.GET, re.compile(re.escape(BASE) + r"/(?!Medication/).*"), json=searchset())


def test_fetch_mode_reads_the_referenced_medication_with_the_token():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_server(rsps, {"med-1": product()})
        got = gather(DIAGNOSIS, body(), client=client(), fhir_server_allowed=lambda u: True, budget_seconds=2)
        reads = [c.request for c in rsps.calls if "/Medication/" in c.request.url]
    assert [r.url for r in reads] == [BASE + "/Medication/med-1"]
    assert reads[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert got.medications_read == ["Medication/med-1"] and "Medication" not in got.failed
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").value is True
    assert [m.ingredient for m in f.medications] == ["dexamethasone"]


def test_prefetch_mode_with_an_allowed_fhir_server_reads_it_too():
    prefetch = {k: None for k in DIAGNOSIS.prefetch_keys}
    prefetch["medicationRequests"] = searchset(agreement())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_server(rsps, {"med-1": product()})
        got = gather(DIAGNOSIS, body(prefetch), client=client(), fhir_server_allowed=lambda u: True,
                     budget_seconds=2)
        urls = [c.request.url for c in rsps.calls]
    assert urls == [BASE + "/Medication/med-1"], "only the Medication is read: every prefetch key was sent"
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").value is True


@pytest.mark.parametrize("answer", [404, 500, {"resourceType": "Medication", "id": "other"}])
def test_a_failed_read_leaves_the_medication_unknown(answer):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_server(rsps, {"med-1": answer})
        got = gather(DIAGNOSIS, body(), client=client(), fhir_server_allowed=lambda u: True, budget_seconds=2)
    assert "Medication" in got.failed and got.medications_read == []
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").is_unknown


def test_references_to_another_server_or_a_urn_are_not_read():
    agreements = [agreement("ma-1", "https://other.example.org/fhir/Medication/med-1"),
                  agreement("ma-2", "urn:uuid:0000")]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_server(rsps, {}, agreements=agreements)
        got = gather(DIAGNOSIS, body(), client=client(), fhir_server_allowed=lambda u: True, budget_seconds=2)
        assert not [c for c in rsps.calls if "/Medication/" in c.request.url]
    assert "Medication" in got.failed
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").is_unknown


def test_reads_are_bounded():
    n = MAX_MEDICATION_READS + 5
    agreements = [agreement(f"ma-{i}", f"Medication/med-{i}") for i in range(n)]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_server(rsps, {f"med-{i}": product(f"med-{i}") for i in range(n)}, agreements=agreements)
        got = gather(DIAGNOSIS, body(), client=client(), fhir_server_allowed=lambda u: True, budget_seconds=3)
        reads = [c for c in rsps.calls if "/Medication/" in c.request.url]
    assert len(reads) == MAX_MEDICATION_READS == len(got.medications_read)
    assert "Medication" in got.failed  # the rest is unknown, not absent
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").value is True  # what was read counts
    assert f.medication("anticoagulant").is_unknown      # the five unread products could be anything


def test_a_hanging_server_cannot_hold_the_medication_reads_past_the_deadline():
    from .support.raw_server import RawServer, hang
    prefetch = {k: None for k in DIAGNOSIS.prefetch_keys}
    prefetch["medicationRequests"] = searchset(*(agreement(f"ma-{i}", f"Medication/med-{i}") for i in range(6)))
    server = RawServer(hang)
    try:
        start = time.perf_counter()
        got = gather(DIAGNOSIS, body(prefetch, server.base_url), client=client(), fhir_server_allowed=lambda u: True,
                     budget_seconds=1.0)
        elapsed = time.perf_counter() - start
    finally:
        server.close()
    assert elapsed < 2.0
    assert got.medications_read == [] and "Medication" in got.failed
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").is_unknown


def test_prefetch_without_a_fhir_server_reads_nothing_and_the_product_is_unknown():
    prefetch = {k: None for k in DIAGNOSIS.prefetch_keys}
    prefetch["medicationRequests"] = searchset(agreement())
    b = body(prefetch)
    del b["fhirServer"]

    class NoClient:
        def __getattr__(self, name):
            raise AssertionError("nothing may be fetched")
    got = gather(DIAGNOSIS, b, client=NoClient(), fhir_server_allowed=lambda u: True, budget_seconds=2)
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").is_unknown


def test_over_http_a_failed_medication_read_marks_the_cards_incomplete(tmp_path):
    app = make_app(tmp_path, FHIR_TOTAL_BUDGET=1.0, FHIR_CONNECT_TIMEOUT=0.5, FHIR_READ_TIMEOUT=0.5)
    mescc = {"resourceType": "Observation", "id": "o1", "status": "final",
             "code": {"coding": [{"system": "https://spine-cds.org/fhir/CodeSystem/spine-cds",
                                  "code": "mescc-deficit"}]}, "valueBoolean": True,
             "effectiveDateTime": "2026-11-22T08:00:00Z", "subject": {"reference": "Patient/p1"}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")
        rsps.add(responses.GET, re.compile(re.escape(BASE) + r"/Observation\?.*"), json=searchset(mescc))
        mock_server(rsps, {"med-1": 503})
        r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=body(),
                                   headers={"Accept-Language": "en"})
    assert r.status_code == 200
    cards = r.get_json()["cards"]
    assert cards and all("Not all patient data could be retrieved" in c["detail"] for c in cards)
    assert all("Medication" in c["detail"] for c in cards)


# ------------------------------------------------------------------ the real FHIR server process
@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory):
    with fhir_server(tmp_path_factory.mktemp("fhir-med"), token=TOKEN) as base_url:
        load_bundle(base_url, [{"resourceType": "Patient", "id": "p1"}, product(), agreement()], token=TOKEN)
        yield base_url


@pytest.mark.e2e
def test_real_server_medication_read_when_the_prefetch_left_it_out(fhir_base):
    """The EHR's prefetch ignored _include (the agreement without its product); the other keys
    are fetched, and the Medication is read from the same server with the same token."""
    prefetch = {"medicationRequests": searchset(agreement())}
    got = gather(DIAGNOSIS, body(prefetch, fhir_base), client=client(), fhir_server_allowed=lambda u: True,
                 budget_seconds=3)
    assert got.medications_read == ["Medication/med-1"] and "Medication" not in got.failed
    f = build_facts(got.resources, searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").value is True
    # a product the server does not have: unknown, never "not on dexamethasone"
    prefetch = {"medicationRequests": searchset(agreement("ma-9", "Medication/not-there"))}
    b = body(prefetch, fhir_base)
    b["prefetch"]["medicationRequests"]["entry"][0]["resource"]["id"] = "ma-9"
    got = gather(DIAGNOSIS, b, client=client(), fhir_server_allowed=lambda u: True, budget_seconds=3)
    assert "Medication" in got.failed
    f = build_facts([r for r in got.resources], searches=got.searches, now=NOW, patient_id="p1")
    assert f.medication("corticosteroid").is_unknown


def test_over_http_a_g_standaard_only_product_is_named_on_the_cards_escaped(tmp_path):
    """Issue 17: an unrecognised product is reported on the card by the name the record gives it
    (a site can map its code), never guessed; the name is request text, so it is escaped."""
    app = make_app(tmp_path)
    mescc = {"resourceType": "Observation", "id": "o1", "status": "final",
             "code": {"coding": [{"system": "https://spine-cds.org/fhir/CodeSystem/spine-cds",
                                  "code": "mescc-deficit"}]}, "valueBoolean": True,
             "effectiveDateTime": "2026-11-22T08:00:00Z", "subject": {"reference": "Patient/p1"}}
    only_prk = {**agreement(), "medicationReference": {"reference": "#m"},
                "contained": [product("m", {"system": PRK, "code": "99999", "display": "DEXAMETHASON <b>4MG</b>"})]}
    prefetch = {key: searchset() for key in DIAGNOSIS.prefetch_keys}
    prefetch.update(patient={"resourceType": "Patient", "id": "p1"}, observations=searchset(mescc),
                    medicationRequests=searchset(only_prk))
    b = body(prefetch, fhir_server=None)
    del b["fhirServer"], b["fhirAuthorization"]
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=b, headers={"Accept-Language": "en"})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    details = [c["detail"] for c in r.get_json()["cards"]]
    assert details and all("Product not recognised" in d and "DEXAMETHASON" in d for d in details)
    assert not any("<b>" in d for d in details)


def test_many_unrecognised_products_are_named_three_and_counted(tmp_path):
    """The note is added to every card: at most three names, then a count (a review put 4,000
    products on every card); a long name seen twice is named once."""
    app = make_app(tmp_path)
    long = "DEXAMETHASON " + "X" * 200
    agreements = [{**agreement(f"ma-{i}"), "medicationReference": {"reference": "#m"},
                   "contained": [product("m", {"system": PRK, "code": str(10000 + i), "display": name})]}
                  for i, name in enumerate([long, long, "A", "B", "C", "D"])]
    prefetch = {key: searchset() for key in DIAGNOSIS.prefetch_keys}
    prefetch.update(patient={"resourceType": "Patient", "id": "p1"}, medicationRequests=searchset(*agreements))
    b = body(prefetch, fhir_server=None)
    del b["fhirServer"], b["fhirAuthorization"]
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis", json=b, headers={"Accept-Language": "en"})
    assert r.status_code == 200
    for card in r.get_json()["cards"]:
        line = next(ln for ln in card["detail"].split("\n") if "Product not recognised" in ln)
        assert line.count("DEXAMETHASON") == 1 and "+2" in line and "D." not in line.replace("+2", "")
