"""A defect in the mapping is loud (issue 14): the request gets a 500 OperationOutcome, the
error is logged and counted, and no card built on half-read facts goes out."""
from __future__ import annotations

import logging

from flask.testing import FlaskClient

import fhir_mappings.handlers.observations as observations
from cds_service.services import BY_ID

from .conftest import make_app

BODY = {"hook": "patient-view", "hookInstance": "5f2c1d1e-0000-4000-8000-000000000009",
        "context": {"userId": "Practitioner/1", "patientId": "p1"},
        "prefetch": {**dict.fromkeys(BY_ID["spine-metastases-diagnosis"].prefetch_keys), "observations": {
            "resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "https://spine-cds.org/fhir/CodeSystem/spine-cds",
                                 "code": "mescc-deficit"}]},
            "valueBoolean": True, "effectiveDateTime": "2026-11-23T08:00:00Z"}}]}}}


def test_a_mapping_defect_gives_a_logged_counted_500_and_no_cards(tmp_path, monkeypatch, caplog):
    app = make_app(tmp_path)
    app.test_client_class = FlaskClient  # the checking client refuses every 500; this one is deliberate
    client = app.test_client()
    before = client.get("/readyz").get_json()["internalErrors"].get("mapping", 0)
    ok = client.post("/cds-services/spine-metastases-diagnosis", json=BODY)
    assert ok.status_code == 200 and ok.get_json()["cards"]

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a defect")
    monkeypatch.setattr(observations, "read_value", broken)  # a defect inside the Observation handler
    with caplog.at_level(logging.ERROR):
        resp = client.post("/cds-services/spine-metastases-diagnosis", json=BODY)
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome" and "cards" not in body
    assert body["issue"][0]["code"] == "exception" and "defect" in body["issue"][0]["diagnostics"]
    assert any("mapping failed" in r.getMessage() for r in caplog.records)
    assert client.get("/readyz").get_json()["internalErrors"]["mapping"] == before + 1
