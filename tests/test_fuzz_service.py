"""Hostile input through the whole service (issue 7): malformed, oversized,
deeply nested, wrongly typed and unicode-laden requests. Zero 5xx, every 4xx
an OperationOutcome (checked by the CheckingClient in conftest), bounded time."""
from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import make_app

SERVICES = ["spine-metastases-diagnosis", "spine-metastases-treatment", "vertebral-augmentation",
            "spine-order-select", "spine-order-sign"]
HOOK_OF = {"spine-metastases-diagnosis": "patient-view", "spine-metastases-treatment": "patient-view",
           "vertebral-augmentation": "patient-view", "spine-order-select": "order-select",
           "spine-order-sign": "order-sign"}

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=False),
                      st.text(max_size=30))
json_any = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=25)

FHIR_TYPES = ["Observation", "Condition", "Procedure", "MedicationRequest", "MedicationStatement",
              "AllergyIntolerance", "ServiceRequest", "DiagnosticReport", "Patient", "Bundle",
              "OperationOutcome", "ProcedureRequest", "MedicationOrder", "Bogus"]


@st.composite
def resources(draw):
    res = draw(st.dictionaries(st.sampled_from(
        ["id", "status", "code", "valueBoolean", "valueInteger", "valueQuantity", "bodySite", "component",
         "effectiveDateTime", "onsetDateTime", "clinicalStatus", "verificationStatus", "entry", "priority",
         "occurrenceDateTime", "subject", "extension", "valueCodeableConcept", "category", "evidence"]),
        json_any, max_size=8))
    res["resourceType"] = draw(st.sampled_from(FHIR_TYPES))
    if draw(st.booleans()):
        res["code"] = {"coding": [{"system": draw(st.sampled_from([
            "https://spine-cds.org/fhir/CodeSystem/spine-cds", "http://snomed.info/sct", "http://loinc.org",
            "http://hl7.org/fhir/sid/icd-10"])), "code": draw(st.sampled_from([
                "mescc-deficit", "radicular-deficit", "sins", "94602001", "C79.5", "72514-3", "89243-0",
                "bilsky-grade", "back-pain", "C50.9", "6301-6"]))}]}
    return res


@st.composite
def bundles(draw):
    entries = draw(st.lists(st.one_of(st.builds(lambda r: {"resource": r}, resources()), json_any), max_size=6))
    b = {"resourceType": "Bundle", "entry": entries}
    if draw(st.booleans()):
        b["type"] = draw(st.sampled_from(["searchset", "collection", "batch", 7]))
    return b


@st.composite
def requests_(draw):
    service = draw(st.sampled_from(SERVICES))
    body: dict = {"hook": draw(st.one_of(st.just(HOOK_OF[service]), st.text(max_size=10))),
                  "hookInstance": draw(st.one_of(st.text(max_size=40), st.integers())),
                  "context": draw(st.one_of(
                      st.fixed_dictionaries({"userId": st.text(max_size=20), "patientId": st.text(max_size=20)},
                                            optional={"draftOrders": st.one_of(bundles(), json_any),
                                                      "selections": st.one_of(st.lists(st.text(max_size=20),
                                                                                       max_size=3), json_any)}),
                      json_any))}
    if draw(st.booleans()):
        body["prefetch"] = draw(st.one_of(
            st.dictionaries(st.sampled_from(["patient", "conditions", "observations", "procedures",
                                             "medicationRequests", "medicationStatements",
                                           "medicationAdministrations", "encounters", "allergies",
                                             "serviceRequests", "diagnosticReports", "other"]),
                            st.one_of(st.none(), bundles(), resources(), json_any), max_size=9),
            json_any))
    if draw(st.booleans()):
        body["fhirServer"] = draw(st.one_of(st.just("http://127.0.0.1:9/fhir"), st.text(max_size=20)))
    for key in draw(st.lists(st.sampled_from(["hook", "hookInstance", "context"]), max_size=1)):
        body.pop(key, None)
    return service, body


_APP = {}


def client(tmp_path_factory):
    if "app" not in _APP:
        _APP["app"] = make_app(tmp_path_factory.mktemp("fuzz"), FHIR_TOTAL_BUDGET=0.5,
                               FHIR_CONNECT_TIMEOUT=0.2)
    return _APP["app"].test_client()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(req=requests_())
def test_structured_garbage_never_gives_5xx(tmp_path_factory, req):
    service, body = req
    start = time.perf_counter()
    r = client(tmp_path_factory).post(f"/cds-services/{service}", json=body)
    assert r.status_code in (200, 400, 412), r.get_data(as_text=True)[:300]
    assert time.perf_counter() - start < 5


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
       ctype=st.sampled_from(["application/json", "application/fhir+json", "text/plain", "", "application/json; charset=latin-1"]),
       service=st.sampled_from(SERVICES + ["x", "spine-order-sign/feedback", "spine-metastases-diagnosis/feedback"]))
def test_raw_bytes_never_give_5xx(tmp_path_factory, raw, ctype, service):
    r = client(tmp_path_factory).post(f"/cds-services/{service}", data=raw, content_type=ctype)
    assert r.status_code < 500


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(body=json_any, service=st.sampled_from(SERVICES))
def test_feedback_garbage_never_gives_5xx(tmp_path_factory, body, service):
    r = client(tmp_path_factory).post(f"/cds-services/{service}/feedback", json={"feedback": body})
    assert r.status_code in (200, 400)


def test_huge_bundle_is_answered_in_bounded_time(tmp_path):
    obs = [{"resource": {"resourceType": "Observation", "id": f"o{i}", "status": "final",
                         "code": {"coding": [{"system": "https://spine-cds.org/fhir/CodeSystem/spine-cds",
                                              "code": "back-pain"}]},
                         "valueBoolean": i % 2 == 0, "effectiveDateTime": "2026-11-20T08:00:00Z",
                         "note": [{"text": "ü€😀" * 20}]}} for i in range(5000)]
    body = {"hook": "patient-view", "hookInstance": "h", "context": {"userId": "u", "patientId": "p"},
            "prefetch": {"observations": {"resourceType": "Bundle", "entry": obs}}}
    app = make_app(tmp_path, MAX_BODY_BYTES=50_000_000)
    start = time.perf_counter()
    r = app.test_client().post("/cds-services/vertebral-augmentation", data=json.dumps(body),
                               content_type="application/json")
    assert r.status_code == 412  # other keys absent, no fhirServer: a clear 412, not a crash
    body["prefetch"].update({k: None for k in ("patient", "conditions", "procedures", "medicationRequests",
                                               "medicationStatements",
                                           "medicationAdministrations", "encounters", "allergies", "serviceRequests",
                                               "diagnosticReports")})
    r = app.test_client().post("/cds-services/vertebral-augmentation", data=json.dumps(body),
                               content_type="application/json")
    assert r.status_code == 200
    assert time.perf_counter() - start < 30
