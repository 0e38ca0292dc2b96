"""End to end: a real ``spine-cds serve`` (gunicorn) process, a real FHIR server
process for the prefetch fallback, and tokens signed exactly as the CDS Hooks
Sandbox signs them."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from .support.fhir_server import fhir_server, load_bundle
from .support.jwt_tokens import bearer, sandbox_token, sandbox_trust_doc
from .support.service_process import read_log, spine_cds_process

pytestmark = pytest.mark.e2e

PATIENT = "e2e-patient-1"
RESOURCES = [
    {"resourceType": "Patient", "id": PATIENT, "gender": "female", "birthDate": "1960-04-02"},
    {"resourceType": "Condition", "id": "e2e-cond-1", "subject": {"reference": f"Patient/{PATIENT}"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254837009"}], "text": "Breast cancer"},
     "onsetDateTime": "2022-01-10"},
]


@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory):
    with fhir_server(tmp_path_factory.mktemp("fhir")) as base:
        load_bundle(base, RESOURCES)
        yield base


@pytest.fixture(scope="module")
def service(tmp_path_factory, fhir_base):
    work = tmp_path_factory.mktemp("svc")
    trust = work / "trust.json"
    trust.write_text(json.dumps(sandbox_trust_doc(fhir_servers=[fhir_base])))
    with spine_cds_process(work, env={"SPINE_CDS_AUTH": "required", "SPINE_CDS_TRUST": str(trust),
                                      "SPINE_CDS_BASE_URL": "{base}", "SPINE_CDS_LANGUAGE": "en"}) as base:
        yield base, work


def call(base, path, body=None, token=True, **headers):
    url = base + path
    if token:
        headers["Authorization"] = bearer(sandbox_token(url))
    if body is None:
        return requests.get(url, headers=headers, timeout=10)
    return requests.post(url, json=body, headers=headers, timeout=10)


def request_body(**extra):
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/COREPRACTITIONER1", "patientId": PATIENT}}
    body.update(extra)
    return body


def test_discovery_needs_a_token(service):
    base, _ = service
    assert call(base, "/cds-services", token=False).status_code == 401
    r = call(base, "/cds-services")
    assert r.status_code == 200
    assert len(r.json()["services"]) == 5


def test_replayed_token_is_refused(service):
    base, _ = service
    token = sandbox_token(base + "/cds-services")
    assert requests.get(base + "/cds-services", headers={"Authorization": bearer(token)}).status_code == 200
    assert requests.get(base + "/cds-services", headers={"Authorization": bearer(token)}).status_code == 401


def test_token_for_another_endpoint_is_refused(service):
    base, _ = service
    token = sandbox_token(base + "/cds-services/vertebral-augmentation")
    r = requests.get(base + "/cds-services", headers={"Authorization": bearer(token)})
    assert r.status_code == 401
    assert r.json()["resourceType"] == "OperationOutcome"


def test_prefetch_fallback_fetches_from_the_real_fhir_server(service, fhir_base):
    base, _ = service
    r = call(base, "/cds-services/spine-metastases-treatment", request_body(fhirServer=fhir_base))
    assert r.status_code == 200, r.text
    assert "cards" in r.json()


def test_fhir_server_not_in_trust_file_is_refused(service):
    base, _ = service
    r = call(base, "/cds-services/spine-metastases-treatment",
             request_body(fhirServer="http://169.254.169.254/latest"))
    assert r.status_code == 412


def test_feedback_end_to_end(service):
    base, _ = service
    r = call(base, "/cds-services/spine-metastases-diagnosis/feedback", {"feedback": [
        {"card": str(uuid.uuid4()), "outcome": "accepted", "acceptedSuggestions": [{"id": "x"}],
         "outcomeTimestamp": "2026-11-23T10:00:00Z"}]})
    assert r.status_code == 200


def test_logs_are_json_and_carry_no_token_or_patient_data(service):
    base, work = service
    token = sandbox_token(base + "/cds-services/spine-metastases-diagnosis")
    request_id = str(uuid.uuid4())
    requests.post(base + "/cds-services/spine-metastases-diagnosis",
                  json=request_body(prefetch={"patient": None}, fhirAuthorization={
                      "access_token": "SECRET-FHIR-TOKEN", "token_type": "Bearer", "expires_in": 300,
                      "scope": "patient/*.read", "subject": "x"}),
                  headers={"Authorization": bearer(token), "X-Request-ID": request_id}, timeout=10)
    # the request line is written once the response has gone out: wait for this request's line
    deadline = time.monotonic() + 10
    while request_id not in (text := read_log(work)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request_id in text
    assert token not in text and "SECRET-FHIR-TOKEN" not in text and PATIENT not in text
    request_lines = [json.loads(line) for line in text.splitlines()
                     if line.startswith("{") and '"spine_cds.request"' in line]
    assert request_lines and all("status" in r and "durationMs" in r for r in request_lines)
