"""The public CDS Hooks Sandbox as a client (tests/fixtures/interop/README.md), replayed against the
service in demo mode: what the sandbox really sends, not what this project would send.

- a CORS preflight before every call, asking for ``authorization`` and ``content-type``;
- every call signed (ES384, published key), ``userId`` ``Practitioner/COREPRACTITIONER1``,
  no ``fhirAuthorization``;
- prefetch filled by running the discovery templates against its FHIR server: a key it
  could not fetch is simply absent, so the service falls back to ``fhirServer``;
- ``draftOrders`` as a Bundle without ``type``; in its DSTU2 mode a ``MedicationOrder``;
- feedback posted when a suggestion is taken.

Every answer is 200 with schema-valid cards (the conftest CheckingClient checks each one)
or a clear 4xx/412 OperationOutcome, never a 500. The sandbox's FHIR server is played by
the demo FHIR endpoint, on a threaded loopback server of the same app."""
from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime

import pytest

from cds_service import samples
from cds_service.services import SERVICES

from .conftest import make_app
from .support.fhir_server import free_port
from .support.jwt_tokens import bearer, sandbox_token
from .support.live_server import live

SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
USER = "Practitioner/COREPRACTITIONER1"
RESULT = "org.spine-cds.result"
HOOKS = ("patient-view", "order-select", "order-sign")


FHIR_PORT = free_port()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # The test client's calls are addressed to http://localhost, the FHIR server plays on its
    # own port: in demo mode a fhirServer other than the demo's own must be on the setting.
    return make_app(tmp_path_factory.mktemp("sandbox"), DEMO=True,
                    DEMO_FHIR_SERVERS=f"http://127.0.0.1:{FHIR_PORT}/demo/fhir")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def fhir_base(app):
    """The sandbox's FHIR server, played by the demo FHIR endpoint (open, no token)."""
    with live(app, FHIR_PORT) as base:
        yield f"{base}/demo/fhir"


def sandbox_headers(path: str) -> dict[str, str]:
    return {"Origin": SANDBOX_ORIGIN, "Authorization": bearer(sandbox_token(f"http://localhost{path}")),
            "Accept": "application/json"}


def preflight(client, path: str) -> None:
    """The browser's preflight the sandbox triggers before each call."""
    resp = client.options(path, headers={"Origin": SANDBOX_ORIGIN, "Access-Control-Request-Method":
                                         "GET" if path == "/cds-services" else "POST",
                                         "Access-Control-Request-Headers": "authorization,content-type"})
    assert resp.status_code in (200, 204), path
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]


def sandbox_call(client, service_id: str, body: dict):
    path = f"/cds-services/{service_id}"
    preflight(client, path)
    resp = client.post(path, data=json.dumps(body), content_type="application/json",
                       headers=sandbox_headers(path))
    assert resp.headers.get("Access-Control-Allow-Origin") == "*", "the browser would drop the answer"
    return resp


def services(hook: str):
    return [s for s in SERVICES if s.hook == hook]


def sample_with(hook: str, resource_type: str = "ServiceRequest"):
    return next(s for s in samples.list_samples() if hook in s.hooks
                and any(r["resourceType"] == resource_type for r in s.draft_orders))


def sandbox_body(sample, hook: str, fhir_server: str, *, prefetch: dict | None = None,
                 draft_orders: dict | None = None, selections: list[str] | None = None) -> dict:
    context = {"userId": USER, "patientId": sample.patient_id}
    if hook != "patient-view":
        context["draftOrders"] = draft_orders if draft_orders is not None else {
            "resourceType": "Bundle", "entry": [{"resource": r} for r in sample.draft_orders]}  # no "type"
        if hook == "order-select":
            context["selections"] = selections if selections is not None else [
                f"{r['resourceType']}/{r['id']}" for r in sample.draft_orders]
    body = {"hookInstance": str(uuid.uuid4()), "fhirServer": fhir_server, "hook": hook, "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def results(cards):
    return sorted((c["source"]["topic"]["code"], json.dumps(c["extension"][RESULT], sort_keys=True)) for c in cards)


def cards_of(resp):
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["cards"]


# ------------------------------------------------------------------ discovery

def test_sandbox_discovery_with_preflight(client):
    preflight(client, "/cds-services")
    resp = client.get("/cds-services", headers=sandbox_headers("/cds-services"))
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    hooks = {s["hook"] for s in resp.get_json()["services"]}
    assert set(HOOKS) <= hooks


# ------------------------------------------------------------------ prefetch as the sandbox fills it

@pytest.mark.parametrize("hook", HOOKS)
def test_sandbox_prefetch_with_unfetchable_keys_absent_falls_back_to_fhir_server(client, fhir_base, hook):
    """Only the keys the sandbox could fetch are present (here: patient, conditions); the
    service fetches the rest from fhirServer and gives the same cards as with all keys."""
    sample = sample_with(hook) if hook != "patient-view" else samples.get_sample("mescc-12h")
    for service in services(hook):
        full = samples.prefetch(sample.id, service.prefetch_keys)
        partial = {k: v for k, v in full.items() if k in ("patient", "conditions")}
        via_partial = cards_of(sandbox_call(client, service.id, sandbox_body(sample, hook, fhir_base,
                                                                              prefetch=partial)))
        via_full = cards_of(sandbox_call(client, service.id, sandbox_body(sample, hook, fhir_base, prefetch=full)))
        assert results(via_partial) == results(via_full), service.id


def test_sandbox_without_prefetch_and_unreachable_fhir_server_is_412(client):
    """The sandbox's default FHIR server is not reachable from here: a clear 412, not a 500."""
    sample = samples.get_sample("mescc-12h")
    dead = f"http://127.0.0.1:{free_port()}/fhir"
    for service in services("patient-view"):
        resp = sandbox_call(client, service.id, sandbox_body(sample, "patient-view", dead))
        assert resp.status_code == 412
        body = resp.get_json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "incomplete"


def test_sandbox_sends_no_fhir_authorization_and_the_fetch_needs_none(client, fhir_base):
    sample = samples.get_sample("mescc-12h")
    body = sandbox_body(sample, "patient-view", fhir_base)
    assert "fhirAuthorization" not in body and body["context"]["userId"] == USER
    topics = set()
    for service in services("patient-view"):
        topics |= {c["source"]["topic"]["code"] for c in cards_of(sandbox_call(client, service.id, body))}
    assert set(sample.expect) <= topics


# ------------------------------------------------------------------ draft orders as the sandbox sends them

@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_sandbox_draft_orders_bundle_without_type_gives_the_same_cards_as_typed(client, fhir_base, hook):
    sample = sample_with(hook)
    full = {s.id: samples.prefetch(sample.id, s.prefetch_keys) for s in services(hook)}
    untyped = sandbox_body(sample, hook, fhir_base)
    assert "type" not in untyped["context"]["draftOrders"]
    typed = copy.deepcopy(untyped)
    typed["context"]["draftOrders"]["type"] = "collection"
    got_untyped, got_typed = [], []
    for service in services(hook):
        got_untyped += cards_of(sandbox_call(client, service.id, dict(untyped, prefetch=full[service.id])))
        got_typed += cards_of(sandbox_call(client, service.id, dict(typed, prefetch=full[service.id])))
    assert got_typed, "the sample's draft order gives no card at all"
    assert results(got_untyped) == results(got_typed)


def sandbox_medication_request(patient_id: str) -> dict:
    """The sandbox's R4 order-select draft: an RxNorm MedicationRequest, status draft."""
    return {"resourceType": "MedicationRequest", "id": "request-123", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"text": "Acetaminophen 325 MG Oral Tablet", "coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "313782",
                 "display": "Acetaminophen 325 MG Oral Tablet"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "dosageInstruction": [{"text": "1 tablet every 6 hours", "timing": {"repeat": {
                "frequency": 1, "period": 6, "periodUnit": "h"}}, "doseAndRate": [{"doseQuantity": {
                    "value": 1, "unit": "tablet", "system": "http://unitsofmeasure.org", "code": "{tbl}"}}]}]}


def sandbox_medication_order(patient_id: str) -> dict:
    """The sandbox's DSTU2 draft: MedicationOrder (gone from FHIR R4), patient not subject."""
    return {"resourceType": "MedicationOrder", "id": "order-123", "status": "draft",
            "patient": {"reference": f"Patient/{patient_id}"},
            "medicationCodeableConcept": {"text": "Dexamethasone 4 MG Oral Tablet", "coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197582",
                 "display": "Dexamethasone 4 MG Oral Tablet"}]},
            "dosageInstruction": [{"text": "4 mg twice daily", "doseQuantity": {"value": 4, "unit": "mg"}}]}


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
@pytest.mark.parametrize("make_order", [sandbox_medication_request, sandbox_medication_order],
                         ids=["R4-MedicationRequest", "DSTU2-MedicationOrder"])
def test_sandbox_medication_drafts_are_answered_without_a_500(client, fhir_base, hook, make_order):
    """An unrelated R4 drug order, or a DSTU2 MedicationOrder: 200 with valid cards or a clear 4xx,
    never a 500 (the CheckingClient asserts the body either way); no MRI or VP/BK order card
    is made up for an order that is neither."""
    sample = samples.get_sample("mescc-12h")
    order = make_order(sample.patient_id)
    drafts = {"resourceType": "Bundle", "entry": [{"resource": order}]}
    body = sandbox_body(sample, hook, fhir_base, draft_orders=drafts,
                        selections=[f"{order['resourceType']}/{order['id']}"])
    for service in services(hook):
        resp = sandbox_call(client, service.id, body)
        assert resp.status_code == 200 or 400 <= resp.status_code < 500, resp.status_code
        if resp.status_code == 200:
            topics = {c["source"]["topic"]["code"] for c in resp.get_json()["cards"]}
            assert not topics & {"mri-order"}, topics
        else:
            assert resp.get_json()["issue"][0]["diagnostics"]


def test_sandbox_order_select_with_a_selection_not_in_draft_orders_is_not_a_500(client, fhir_base):
    sample = sample_with("order-select")
    body = sandbox_body(sample, "order-select", fhir_base, selections=["MedicationRequest/not-in-the-bundle"])
    for service in services("order-select"):
        resp = sandbox_call(client, service.id, body)
        assert resp.status_code == 200 or 400 <= resp.status_code < 500


# ------------------------------------------------------------------ feedback when a suggestion is taken

def test_sandbox_feedback_after_taking_a_suggestion_is_stored(app, client, fhir_base):
    sample = samples.get_sample("mescc-12h")
    for service in services("patient-view"):
        cards = cards_of(sandbox_call(client, service.id, sandbox_body(sample, "patient-view", fhir_base)))
        card = next((c for c in cards if c.get("suggestions")), None)
        if card:
            break
    assert card, "no card with a suggestion for the MRI 12 h sample"
    path = f"/cds-services/{service.id}/feedback"
    preflight(client, path)
    item = {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
            "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    resp = client.post(path, data=json.dumps({"feedback": [item]}), content_type="application/json",
                       headers=sandbox_headers(path))
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    rows = app.extensions["spine_cds"].storage.feedback_for(card["uuid"])
    assert len(rows) == 1 and rows[0]["known_card"] and rows[0]["outcome"] == "accepted"
    assert rows[0]["accepted_suggestions"] == [{"id": card["suggestions"][0]["uuid"]}]

