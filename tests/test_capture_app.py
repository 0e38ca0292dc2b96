"""The capture app in open mode against a real FHIR server process (issue 18, parts 2 and 3).

A patient with back pain and a spinal metastasis at L2 (Bilsky 0), neurological status not
recorded: the treatment-window card says 24 hours. The app, opened from that card's link,
records "no deficit"; the server then holds the QuestionnaireResponse and its Observations, and
the next hook call says 14 days. Refusals (a tampered appContext or launch, a server not on the
list, a bad answer) each give a clear page and write nothing."""
from __future__ import annotations

import html
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from cds_service.capture.context import LaunchContext, sign
from tests.conftest import make_app
from tests.support.capture import LOCAL, RESULT, TREATMENT, patient_resources, window_card
from tests.support.fhir_server import fhir_server, load_bundle

pytestmark = pytest.mark.e2e

SECRET = "test-secret-for-the-capture-app"


@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory):
    with fhir_server(tmp_path_factory.mktemp("capture-fhir")) as base:
        yield base


@pytest.fixture
def patient(fhir_base) -> str:
    pid = f"cap-{uuid.uuid4().hex[:10]}"
    load_bundle(fhir_base, patient_resources(pid))
    return pid


@pytest.fixture
def app(tmp_path, fhir_base):
    return make_app(tmp_path, APP_SECRET=SECRET, APP_OPEN_SERVERS=fhir_base)


@pytest.fixture
def client(app):
    return app.test_client()


def hook(client, fhir_base: str, pid: str) -> list[dict]:
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": fhir_base,
            "context": {"userId": "Practitioner/dr-capture", "patientId": pid}}
    resp = client.post(f"/cds-services/{TREATMENT}", json=body, headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["cards"]


def written(fhir_base: str, pid: str) -> tuple[list[dict], list[dict]]:
    """The QuestionnaireResponses and the app's Observations the server holds for ``pid``."""
    qrs = [e["resource"] for e in requests.get(f"{fhir_base}/QuestionnaireResponse", timeout=10,
                                               params={"_count": 200}).json().get("entry", [])
           if e["resource"].get("subject", {}).get("reference") == f"Patient/{pid}"]
    obs = [e["resource"] for e in requests.get(f"{fhir_base}/Observation", params={"patient": pid, "_count": 200},
                                               timeout=10).json().get("entry", [])
           if e["resource"].get("derivedFrom")]
    return qrs, obs


def open_link(card: dict) -> str:
    links = [ln for ln in card["links"] if ln["type"] == "absolute" and "/app/open" in ln["url"]]
    assert len(links) == 1, card["links"]
    return links[0]["url"]


def launch_blob(page: str) -> str:
    m = re.search(r'name="launch" value="([^"]+)"', page)
    assert m, page[:2000]
    return html.unescape(m.group(1))


def test_card_links_carry_a_signed_context_and_an_open_link(client, fhir_base, patient):
    card = window_card(hook(client, fhir_base, patient))
    smart = [ln for ln in card["links"] if ln["type"] == "smart"]
    assert len(smart) == 1 and smart[0]["url"].endswith("/app/launch")
    ctx = smart[0]["appContext"]
    assert ctx.startswith("v1.")
    url = open_link(card)
    assert url.startswith("http://localhost/app/open?appContext=")
    assert card["extension"][RESULT]["windowHours"] == 24


def test_open_mode_records_no_deficit_and_the_window_becomes_14_days(client, fhir_base, patient):
    card = window_card(hook(client, fhir_base, patient))
    assert card["extension"][RESULT]["windowHours"] == 24
    page = client.get(open_link(card).removeprefix("http://localhost"), headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'name="mescc-deficit" value="true"' in text and 'name="mescc-deficit" value="false"' in text
    assert 'data-indicator="critical"' in text and "TX-2a" in text
    assert 'id="criteria"' in text
    # rules 2026.12: the TX-2 row turns on clinical MESCC only, so the form asks for that alone; an
    # answer to an item the form did not ask for is not written
    assert 'name="severe-neurological-deficit"' not in text
    form = {"launch": launch_blob(text), "mescc-deficit": "false", "severe-neurological-deficit": "false"}
    resp = client.post("/app/submit", data=form, headers={"Accept-Language": "en"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200, body[:3000]
    assert 'id="saved"' in body and "TX-2d" in body and 'data-indicator="info"' in body
    qrs, obs = written(fhir_base, patient)
    assert len(qrs) == 1
    qr = qrs[0]
    assert qr["questionnaire"].endswith("/fhir/Questionnaire/spine-cds-neurology")
    assert qr["author"] == {"reference": "Practitioner/dr-capture"} and qr["status"] == "completed"
    codes = {o["code"]["coding"][0]["code"]: o for o in obs}
    assert set(codes) == {"mescc-deficit"}
    for o in obs:
        assert o["status"] == "final" and o["valueBoolean"] is False
        assert o["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{qr['id']}"}]
        assert o["performer"] == [{"reference": "Practitioner/dr-capture"}]
        assert o["subject"] == {"reference": f"Patient/{patient}"}
    after = window_card(hook(client, fhir_base, patient))
    assert after["extension"][RESULT]["windowHours"] == 336 and after["extension"][RESULT]["rule"] == "TX-2d"


def _ctx(pid: str, server: str) -> str:
    return sign(LaunchContext(patient_id=pid, topic="treatment-window", service_id=TREATMENT,
                              missing=("mescc-deficit",), fhir_server=server, user="Practitioner/dr-capture"),
                SECRET.encode())


def test_a_tampered_app_context_gets_a_clear_page_and_nothing_is_written(client, fhir_base, patient):
    token = _ctx(patient, fhir_base)
    head, payload, sig = token.split(".")
    other = _ctx("someone-else", fhir_base).split(".")[1]
    for bad in (f"{head}.{other}.{sig}", f"{head}.{payload}.{sig[:-2]}AA", "garbage", ""):
        resp = client.get("/app/open", query_string={"appContext": bad})
        assert resp.status_code == 400
        assert "This link is not valid" in resp.get_data(as_text=True)
    assert written(fhir_base, patient) == ([], [])


def test_a_tampered_launch_in_the_form_writes_nothing(client, fhir_base, patient):
    page = client.get("/app/open", query_string={"appContext": _ctx(patient, fhir_base)}).get_data(as_text=True)
    blob = launch_blob(page)
    resp = client.post("/app/submit", data={"launch": blob[:-4] + "AAAA", "mescc-deficit": "false"})
    assert resp.status_code == 400 and "altered" in resp.get_data(as_text=True)
    assert written(fhir_base, patient) == ([], [])


def test_a_bad_answer_is_named_and_nothing_is_written(client, fhir_base, patient):
    page = client.get("/app/open", query_string={"appContext": _ctx(patient, fhir_base)}).get_data(as_text=True)
    resp = client.post("/app/submit", data={"launch": launch_blob(page), "mescc-deficit": "maybe"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="problems"' in body and "mescc-deficit" in body
    resp = client.post("/app/submit", data={"launch": launch_blob(page)})
    assert resp.status_code == 400 and "nothing was written" in resp.get_data(as_text=True)
    assert written(fhir_base, patient) == ([], [])


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.end_headers()
        self.wfile.write(b'{"resourceType": "Bundle", "type": "searchset", "entry": []}')

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_a_server_not_on_the_list_is_never_contacted(client, patient):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        other = f"http://127.0.0.1:{server.server_port}/fhir"
        resp = client.get("/app/open", query_string={"appContext": _ctx(patient, other)})
        assert resp.status_code == 403
        assert "not allowed" in resp.get_data(as_text=True)
        assert _Counting.hits == 0
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_without_a_secret_there_are_no_links_and_the_app_says_it_is_not_configured(tmp_path, fhir_base, patient):
    app = make_app(tmp_path, APP_OPEN_SERVERS=fhir_base)
    c = app.test_client()
    card = window_card(hook(c, fhir_base, patient))
    assert not [ln for ln in card["links"] if ln["type"] == "smart" or "/app/" in ln["url"]]
    resp = c.get("/app/open", query_string={"appContext": _ctx(patient, fhir_base)})
    assert resp.status_code == 503 and "SPINE_CDS_APP_SECRET" in resp.get_data(as_text=True)


def test_level_bound_items_carry_the_level_and_sins_components_give_a_score(client, fhir_base, patient):
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": fhir_base,
            "context": {"userId": "Practitioner/dr-capture", "patientId": patient}}
    cards = client.post("/cds-services/vertebral-augmentation", json=body).get_json()["cards"]
    sins = next(c for c in cards if c["source"]["topic"]["code"] == "sins")
    assert sins["extension"][RESULT]["vertebra"] == "L2" and sins["extension"][RESULT].get("score") is None
    page = client.get(open_link(sins).removeprefix("http://localhost"), headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-link-id="sins" data-level="L2"' in text and '<select name="sins-collapse">' in text
    form = {"launch": launch_blob(text), "sins-pain": "mechanical", "sins-bone-lesion": "lytic",
            "sins-alignment": "normal", "sins-collapse": "none", "sins-posterolateral": "none"}
    resp = client.post("/app/submit", data=form, headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:3000]
    qrs, obs = written(fhir_base, patient)
    assert len(qrs) == 1 and qrs[0]["questionnaire"].endswith("/spine-cds-sins")
    assert qrs[0]["item"][0] == {"linkId": "level", "answer": [{"valueCoding": {"system": LOCAL, "code": "L2"}}]}
    (sins_obs,) = obs
    assert sins_obs["bodySite"]["coding"][0]["code"] == "L2" and "valueInteger" not in sins_obs
    assert {c["code"]["coding"][0]["code"] for c in sins_obs["component"]} == {
        "sins-pain", "sins-bone-lesion", "sins-alignment", "sins-collapse", "sins-posterolateral"}
    cards = client.post("/cds-services/vertebral-augmentation", json=body).get_json()["cards"]
    after = next(c for c in cards if c["source"]["topic"]["code"] == "sins")["extension"][RESULT]
    assert after["score"] == 7 and after["computedFromComponents"] is True  # location L2 (mobile) 2 + 3 + 2


def test_a_stale_value_is_pre_filled_for_checking(client, fhir_base):
    pid = f"cap-{uuid.uuid4().hex[:10]}"
    old = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    karnofsky = {"resourceType": "Observation", "id": f"{pid}-kps", "status": "final",
                 "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": old, "valueInteger": 70,
                 "code": {"coding": [{"system": "http://loinc.org", "code": "89243-0"}]}}
    load_bundle(fhir_base, [*patient_resources(pid), karnofsky])
    cards = hook(client, fhir_base, pid)
    survival = next(c for c in cards if c["source"]["topic"]["code"] == "survival-estimate")
    text = client.get(open_link(survival).removeprefix("http://localhost"),
                      headers={"Accept-Language": "en"}).get_data(as_text=True)
    field = re.search(r'<input type="number" name="karnofsky"[^>]*>', text)
    assert field and 'value="70"' in field.group(0), text[:3000]
    assert "out of date" in text


def test_values_from_the_request_are_escaped_on_the_page(client, fhir_base):
    evil = '"><script>alert(1)</script>'
    token = sign(LaunchContext(patient_id=evil, topic="treatment-window", service_id=TREATMENT,
                               missing=("mescc-deficit", "<b>x</b>"), fhir_server=fhir_base, user=evil),
                 SECRET.encode())
    resp = client.get("/app/open", query_string={"appContext": token})
    text = resp.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text and "<b>x</b>" not in text
    assert "&lt;script&gt;" in text or "&#34;&gt;&lt;script&gt;" in text


def test_an_oversize_hook_body_is_still_a_413_operation_outcome_with_the_app_on(client):
    resp = client.post(f"/cds-services/{TREATMENT}", data=b"{" + b" " * 6_000_000 + b"}",
                       content_type="application/json")
    assert resp.status_code == 413
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_the_page_speaks_the_users_language(client, fhir_base, patient):
    token = _ctx(patient, fhir_base)
    nl = client.get("/app/open", query_string={"appContext": token}, headers={"Accept-Language": "nl"})
    text = nl.get_data(as_text=True)
    assert nl.status_code == 200 and '<html lang="nl">' in text
    assert "Ontbrekende gegevens" in text and "Myelopathische of cauda-uitval" in text and "> ja</label>" in text
    en = client.get("/app/open", query_string={"appContext": token}, headers={"Accept-Language": "en"})
    assert "Missing data" in en.get_data(as_text=True)
