"""The CDS Hooks 2.0 protocol around the guideline: discovery, request checks,
prefetch handling, errors as OperationOutcome, language, CORS, health."""
from __future__ import annotations

import json

import pytest

from .conftest import make_app
from .support.interop import CRD_REQUESTS

INTEROP = CRD_REQUESTS


def pv_request(**overrides):
    body = {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1"},
            "prefetch": {k: None for k in ("patient", "conditions", "observations", "procedures",
                                           "medicationRequests", "medicationStatements", "allergies",
                                           "serviceRequests", "diagnosticReports")}}
    body.update(overrides)
    return body


def test_discovery_lists_the_five_contract_services(client):
    r = client.get("/cds-services")
    assert r.status_code == 200
    services = {s["id"]: s for s in r.get_json()["services"]}
    assert set(services) == {"spine-metastases-diagnosis", "spine-metastases-treatment", "vertebral-augmentation",
                             "spine-order-select", "spine-order-sign"}
    assert services["spine-order-select"]["hook"] == "order-select"
    assert services["spine-order-sign"]["hook"] == "order-sign"
    for s in services.values():
        assert s["usageRequirements"]
        assert all("{{context.patientId}}" in t for t in s["prefetch"].values())


def test_unknown_service_is_404_operation_outcome(client):
    r = client.post("/cds-services/nope", json=pv_request())
    assert r.status_code == 404
    assert r.get_json()["issue"][0]["code"] == "not-found"


def test_wrong_method_is_405(client):
    r = client.get("/cds-services/spine-metastases-diagnosis")
    assert r.status_code == 405
    assert "POST" in r.headers["Allow"]


def test_not_json_is_415(client):
    r = client.post("/cds-services/spine-metastases-diagnosis", data="hook=patient-view",
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415


@pytest.mark.parametrize("payload", ["{", "[1, 2]", "null", "\"text\"", "{\"hook\": }"])
def test_malformed_json_is_400(client, payload):
    r = client.post("/cds-services/spine-metastases-diagnosis", data=payload, content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["issue"][0]["expression"] == ["$"] or r.get_json()["issue"][0]["code"] == "invalid"


def test_deeply_nested_json_is_400_not_500(client):
    payload = "[" * 100000 + "]" * 100000
    r = client.post("/cds-services/spine-metastases-diagnosis", data=payload, content_type="application/json")
    assert r.status_code in (400, 413)


def test_schema_violation_names_the_path(client):
    body = pv_request()
    del body["hookInstance"]
    r = client.post("/cds-services/spine-metastases-diagnosis", json=body)
    assert r.status_code == 400
    exprs = [e for i in r.get_json()["issue"] for e in i.get("expression", [])]
    assert any("hookInstance" in e for e in exprs)


def test_body_over_limit_is_413(tmp_path):
    app = make_app(tmp_path, MAX_BODY_BYTES=1000)
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis",
                               json=pv_request(extra="x" * 5000))
    assert r.status_code == 413
    assert r.get_json()["issue"][0]["code"] == "too-costly"


def test_hook_must_match_the_service(client):
    r = client.post("/cds-services/spine-order-sign", json=pv_request())
    assert r.status_code == 400
    assert r.get_json()["issue"][0]["expression"] == ["$.hook"]


@pytest.mark.parametrize("service,hook,missing", [
    ("spine-metastases-diagnosis", "patient-view", "patientId"),
    ("spine-metastases-diagnosis", "patient-view", "userId"),
    ("spine-order-select", "order-select", "selections"),
    ("spine-order-select", "order-select", "draftOrders"),
    ("spine-order-sign", "order-sign", "draftOrders"),
])
def test_required_context_per_hook(client, service, hook, missing):
    context = {"userId": "Practitioner/1", "patientId": "p1", "selections": ["ServiceRequest/1"],
               "draftOrders": {"resourceType": "Bundle", "entry": []}}
    del context[missing]
    r = client.post(f"/cds-services/{service}", json=pv_request(hook=hook, context=context))
    assert r.status_code == 400
    exprs = [e for i in r.get_json()["issue"] for e in i.get("expression", [])]
    assert f"$.context.{missing}" in exprs


def test_null_prefetch_keys_mean_no_data_and_answer_200(client):
    r = client.post("/cds-services/spine-metastases-diagnosis", json=pv_request())
    assert r.status_code == 200
    assert r.get_json() == {"cards": []}


def test_absent_prefetch_without_fhir_server_is_412(client):
    r = client.post("/cds-services/spine-metastases-diagnosis", json=pv_request(prefetch={}))
    assert r.status_code == 412
    assert r.get_json()["issue"][0]["code"] == "incomplete"


def test_operation_outcome_in_a_prefetch_key_is_handled(client):
    body = pv_request()
    body["prefetch"]["observations"] = {"resourceType": "OperationOutcome",
                                        "issue": [{"severity": "error", "code": "timeout"}]}
    r = client.post("/cds-services/spine-metastases-diagnosis", json=body)
    assert r.status_code == 200


def test_every_interop_request_gets_a_valid_answer_or_a_clear_4xx(client):
    hooks = {"patient-view": ["spine-metastases-diagnosis", "spine-metastases-treatment", "vertebral-augmentation"],
             "order-select": ["spine-order-select"], "order-sign": ["spine-order-sign"]}
    seen = 0
    for path in sorted(INTEROP.glob("*.json")):
        body = json.loads(path.read_text())
        for service in hooks.get(body.get("hook"), ["spine-metastases-diagnosis"]):
            r = client.post(f"/cds-services/{service}", json=body)
            seen += 1
            assert r.status_code in (200, 400, 412), (path.name, r.status_code)
    assert seen >= 5


def test_health_and_readiness(client):
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json()["checks"] == {"storage": True, "rules": True, "catalogs": True}


def test_unexpected_error_is_500_outcome_without_trace(client, monkeypatch, caplog):
    import cds_service.pipeline as hooks

    def boom(*a, **k):
        raise RuntimeError("secret-patient-detail")
    monkeypatch.setattr(hooks, "build_facts", boom)
    from flask.testing import FlaskClient
    # the plain client: the checking client in conftest rejects any 500 by design
    r = FlaskClient(client.application).post("/cds-services/spine-metastases-diagnosis", json=pv_request())
    assert r.status_code == 500
    text = r.get_data(as_text=True)
    assert "secret-patient-detail" not in text and "Traceback" not in text
    assert "secret-patient-detail" not in caplog.text


def test_cors_preflight_in_demo_mode(tmp_path):
    app = make_app(tmp_path, DEMO=True)
    r = app.test_client().options("/cds-services/spine-metastases-diagnosis",
                                  headers={"Origin": "https://sandbox.cds-hooks.org",
                                           "Access-Control-Request-Method": "POST",
                                           "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in r.headers["Access-Control-Allow-Headers"].lower()


def test_cors_only_for_configured_origins(tmp_path):
    app = make_app(tmp_path, CORS_ORIGINS="https://ehr.example.org")
    c = app.test_client()
    ok = c.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    other = c.get("/cds-services", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_wildcard_refused_outside_demo(tmp_path):
    from cds_service.config import ConfigError
    with pytest.raises(ConfigError):
        make_app(tmp_path, CORS_ORIGINS="*")


def test_auth_required_without_trust_refuses_everything(tmp_path):
    app = make_app(tmp_path, AUTH="required", BASE_URL="http://localhost")
    r = app.test_client().get("/cds-services", headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.get_json()["issue"][0]["code"] == "security"


def test_openapi_describes_every_endpoint(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    assert "/cds-services" in paths and "/cds-services/{id}/feedback" in paths or any(
        "feedback" in p for p in paths)


@pytest.mark.parametrize("path, body, status", [
    ("/cds-services/spine-metastases-diagnosis", pv_request(), 200),
    ("/cds-services/nope", pv_request(), 404),
    ("/cds-services/spine-metastases-diagnosis", {"hook": "patient-view"}, 400),
])
def test_one_request_line_per_call_written_once_the_response_is_closed(client, caplog, path, body, status):
    caplog.set_level("INFO", logger="spine_cds.request")
    r = client.post(path, json=body, headers={"X-Request-ID": "req-42"})
    assert r.status_code == status
    # the test client (conftest.CheckingClient) closes the response as a WSGI server does (PEP 3333)
    lines = [rec for rec in caplog.records if rec.name == "spine_cds.request"]
    assert len(lines) == 1
    line = lines[0]
    assert line.requestId == "req-42" and line.status == status and line.path == path
    assert line.durationMs >= 0 and line.method == "POST"
    if status == 200:
        assert set(line.timingMs) >= {"parse", "mapping", "rules", "render"} and line.cards >= 0
