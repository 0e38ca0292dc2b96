"""CDS Hooks 2.0 feedback: validated, stored durably, joinable to the card log."""
from __future__ import annotations

import json
from datetime import UTC

import pytest

from cds_service.storage import Storage, card_log, make_engine

from .conftest import make_app


def fb(card="card-1", outcome="accepted", **extra):
    item = {"card": card, "outcome": outcome, "outcomeTimestamp": "2026-11-23T10:00:00Z"}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": "sugg-1"}]
    item.update(extra)
    return {"feedback": [item]}


def test_feedback_is_stored_and_acknowledged(app, client):
    r = client.post("/cds-services/spine-metastases-diagnosis/feedback", json=fb())
    assert r.status_code == 200
    rows = app.extensions["spine_cds"].storage.feedback_for("card-1")
    assert len(rows) == 1
    assert rows[0]["outcome"] == "accepted"
    assert rows[0]["accepted_suggestions"] == [{"id": "sugg-1"}]
    assert rows[0]["known_card"] is False


def test_override_feedback_keeps_reason(app, client):
    body = fb(outcome="overridden", overrideReason={
        "reason": {"system": "https://spine-cds.org/fhir/CodeSystem/override-reason", "code": "not-applicable",
                   "display": "Not applicable"}, "userComment": "MRI already planned elsewhere"})
    assert client.post("/cds-services/vertebral-augmentation/feedback", json=body).status_code == 200
    row = app.extensions["spine_cds"].storage.feedback_for("card-1")[0]
    assert row["override_reason"]["reason"]["code"] == "not-applicable"


def test_feedback_survives_a_new_process(tmp_path):
    """A 200 means durably written: a fresh engine on the same file sees the row."""
    app = make_app(tmp_path)
    assert app.test_client().post("/cds-services/spine-order-sign/feedback", json=fb("c-9")).status_code == 200
    app.extensions["spine_cds"].storage.engine.dispose()
    other = Storage(make_engine(f"sqlite:///{tmp_path}/spine-cds-test.sqlite3"))
    assert other.feedback_for("c-9")[0]["outcome"] == "accepted"


@pytest.mark.parametrize("body", [
    {"feedback": []},
    {"feedback": [{"card": "x", "outcome": "maybe", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]},
    {"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]},
    {"feedback": "nope"},
    {},
])
def test_invalid_feedback_is_400(client, body):
    r = client.post("/cds-services/spine-metastases-diagnosis/feedback", json=body)
    assert r.status_code == 400


def test_feedback_to_unknown_service_is_404(client):
    assert client.post("/cds-services/nope/feedback", json=fb()).status_code == 404


def test_card_log_has_no_patient_identifiers(app):
    cols = {c.name for c in card_log.columns}
    assert not cols & {"patient_id", "patient", "subject", "user_id"}
    assert "rules" in cols and "guideline_version" in cols and "topic" in cols


def test_cards_returned_are_logged_and_feedback_joins_them(app, client):
    body = {"hook": "patient-view", "hookInstance": "h-join", "context": {"userId": "u", "patientId": "p1"},
            "prefetch": {"observations": {"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                              "code": {"coding": [{"system": "https://spine-cds.org/fhir/CodeSystem/spine-cds",
                                                   "code": "mescc-deficit"}]},
                              "valueBoolean": True, "effectiveDateTime": "2026-11-20T08:00:00Z"}}]},
                         **{k: None for k in ("patient", "conditions", "procedures", "medicationRequests",
                                              "medicationStatements",
                                           "medicationAdministrations", "encounters", "serviceRequests", "diagnosticReports")}}}
    from datetime import datetime, timedelta
    body["prefetch"]["observations"]["entry"][0]["resource"]["effectiveDateTime"] = (
        datetime.now(UTC) - timedelta(hours=3)).isoformat()
    cards = client.post("/cds-services/spine-metastases-diagnosis", json=body).get_json()["cards"]
    assert cards
    storage = app.extensions["spine_cds"].storage
    assert storage.flush()
    logged = storage.card(cards[0]["uuid"])
    assert logged["topic"] == cards[0]["source"]["topic"]["code"]
    assert logged["rules"] == cards[0]["extension"]["org.spine-cds.result"]["rules"]
    assert "p1" not in json.dumps(logged, default=str)
    r = client.post("/cds-services/spine-metastases-diagnosis/feedback", json=fb(cards[0]["uuid"]))
    assert r.status_code == 200
    assert storage.feedback_for(cards[0]["uuid"])[0]["known_card"] is True
