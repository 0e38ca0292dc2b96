"""The capture app's SMART App Launch 2.0 EHR launch (issue 18, part 4).

The "EHR" here is a small Flask app run by the test: an OAuth 2.0 authorization server built
with authlib (authorization code grant, PKCE S256 required, public client), its
``.well-known/smart-configuration``, and its FHIR endpoint, which passes requests on to the
bundled FHIR server process (SEKMET). SEKMET runs with SMART authorization and enforces
scopes, so the access token the EHR hands out decides what the app may do: with a read-only
token the write is refused by the FHIR server itself."""
from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import tests.support.fhir_server as fhir_support
from tests.conftest import make_app
from tests.support.live_server import live

from .support.capture import RESULT, TREATMENT, patient_resources, window_card
from .support.smart_ehr import CLIENT_ID, REDIRECT, Ehr, LaunchUser, fhir_token, sekmet, written  # noqa: F401 (sekmet: fixture)

pytestmark = pytest.mark.e2e

SECRET = "test-secret-for-the-smart-launch"


@pytest.fixture(scope="module")
def ehr(sekmet):  # noqa: F811 (the fixture of support/smart_ehr.py)
    e = Ehr(sekmet)
    with live(e.app) as base:
        e.base = base
        yield e


@pytest.fixture
def patient(sekmet) -> str:  # noqa: F811 (the fixture of support/smart_ehr.py)
    pid = f"smart-{uuid.uuid4().hex[:10]}"
    fhir_support.load_bundle(sekmet, patient_resources(pid), token=fhir_token(sekmet, "system/*.cruds"))
    return pid


@pytest.fixture
def client(tmp_path, ehr, monkeypatch):
    app = make_app(tmp_path, APP_SECRET=SECRET, APP_CLIENT_ID=CLIENT_ID, APP_REDIRECT_URI=REDIRECT,
                   APP_SMART_SERVERS=f"{ehr.base}/fhir")
    return app.test_client()


def card_context(client, ehr, pid: str, *, link: bool = True) -> tuple[dict, str | None]:
    """The treatment-window card for ``pid`` (fetched through the EHR) and its smart link's appContext."""
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": f"{ehr.base}/fhir",
            "fhirAuthorization": {"access_token": ehr.access_token, "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read", "subject": CLIENT_ID},
            "context": {"userId": "Practitioner/dr-card", "patientId": pid}}
    resp = client.post(f"/cds-services/{TREATMENT}", json=body, headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.get_json()
    card = window_card(resp.get_json()["cards"])
    smart = [ln for ln in card["links"] if ln["type"] == "smart"]
    assert not [ln for ln in card["links"] if "/app/open" in ln["url"]], "no open link for a server not on the list"
    if not link:
        return card, None
    assert len(smart) == 1
    return card, smart[0]["appContext"]


def launch(client, ehr, launch_id: str):
    """EHR launch -> authorize (the EHR's server approves) -> callback; the callback's response."""
    resp = client.get("/app/launch", query_string={"iss": f"{ehr.base}/fhir", "launch": launch_id})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    auth_url = resp.headers["Location"]
    query = parse_qs(urlsplit(auth_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["aud"] == [f"{ehr.base}/fhir"] and query["launch"] == [launch_id]
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == [REDIRECT]
    back = requests.get(auth_url, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    target = urlsplit(back.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    return client.get(f"{target.path}?{target.query}", headers={"Accept-Language": "en"})


def launch_blob(page: str) -> str:
    m = re.search(r'name="launch" value="([^"]+)"', page)
    assert m, page[:2000]
    return html.unescape(m.group(1))


def test_smart_launch_with_pkce_records_and_the_card_is_refined(client, ehr, sekmet, patient):  # noqa: F811 (the fixture of support/smart_ehr.py)
    ehr.access_token = fhir_token(sekmet, "system/*.cruds")
    card, ctx = card_context(client, ehr, patient)
    assert card["extension"][RESULT]["windowHours"] == 24
    ehr.launches["launch-ok"] = LaunchUser(patient, ctx)
    page = launch(client, ehr, "launch-ok")
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text[:2000]
    assert "SMART launch" in text and 'name="mescc-deficit" value="false"' in text
    assert "spine_cds_smart=;" in page.headers.get("Set-Cookie", ""), "the launch state is cleared"
    resp = client.post("/app/submit", data={"launch": launch_blob(text), "mescc-deficit": "false"},
                       headers={"Accept-Language": "en"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200, body[:3000]
    assert 'id="saved"' in body and "TX-2d" in body
    qrs, obs = written(sekmet, patient)
    # the author is the launch's user (fhirUser of the id_token), not the card's userId
    assert len(qrs) == 1 and qrs[0]["author"] == {"reference": "Practitioner/dr-smart"}
    assert all(o["performer"] == [{"reference": "Practitioner/dr-smart"}] for o in obs)
    assert {o["code"]["coding"][0]["code"] for o in obs} == {"mescc-deficit"}
    after, _ = card_context(client, ehr, patient, link=False)
    assert after["extension"][RESULT]["windowHours"] == 336
    assert not after["extension"][RESULT].get("missing"), "nothing missing: no capture link"
    assert not [ln for ln in after["links"] if ln["type"] == "smart"]


def test_a_launch_for_another_patient_is_refused_and_writes_nothing(client, ehr, sekmet, patient):  # noqa: F811 (the fixture of support/smart_ehr.py)
    ehr.access_token = fhir_token(sekmet, "system/*.cruds")
    _card, ctx = card_context(client, ehr, patient)
    ehr.launches["launch-other"] = LaunchUser("some-other-patient", ctx)
    page = launch(client, ehr, "launch-other")
    assert page.status_code == 403
    assert "another patient" in page.get_data(as_text=True)
    assert written(sekmet, patient) == ([], [])


def test_a_write_the_fhir_server_refuses_is_shown_and_nothing_is_recorded(client, ehr, sekmet, patient):  # noqa: F811 (the fixture of support/smart_ehr.py)
    ehr.access_token = fhir_token(sekmet, "system/*.rs")  # the EHR grants read access only
    _card, ctx = card_context(client, ehr, patient)
    ehr.launches["launch-read-only"] = LaunchUser(patient, ctx)
    page = launch(client, ehr, "launch-read-only")
    assert page.status_code == 200
    resp = client.post("/app/submit", data={"launch": launch_blob(page.get_data(as_text=True)),
                                            "mescc-deficit": "false"}, headers={"Accept-Language": "en"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 502, body[:2000]
    assert 'id="refused"' in body and '<strong id="refused-status">403</strong>' in body
    assert "do not permit" in html.unescape(body)  # the FHIR server's own words
    assert written(sekmet, patient) == ([], [])


def test_an_altered_app_context_in_the_token_response_is_refused(client, ehr, sekmet, patient):  # noqa: F811 (the fixture of support/smart_ehr.py)
    ehr.access_token = fhir_token(sekmet, "system/*.cruds")
    _card, ctx = card_context(client, ehr, patient)
    head, payload, sig = ctx.split(".")
    ehr.launches["launch-tampered"] = LaunchUser(patient, f"{head}.{payload}x.{sig}")
    page = launch(client, ehr, "launch-tampered")
    assert page.status_code == 400 and "This link is not valid" in page.get_data(as_text=True)
    assert written(sekmet, patient) == ([], [])


def test_an_iss_not_on_the_list_is_never_contacted(client, ehr):
    before = ehr.hits
    resp = client.get("/app/launch", query_string={"iss": f"{ehr.base}/other-fhir", "launch": "x"})
    assert resp.status_code == 403 and "not on this service" in resp.get_data(as_text=True)
    assert ehr.hits == before


def test_a_callback_without_the_launch_state_is_refused(client):
    resp = client.get("/app/callback", query_string={"code": "abc", "state": "def"})
    assert resp.status_code == 400 and "launch state" in resp.get_data(as_text=True)
