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
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, abort, jsonify
from flask import request as flask_request

import tests.support.fhir_server as fhir_support
from tests.conftest import make_app
from tests.support.live_server import live

from .test_capture_app import RESULT, TREATMENT, patient_resources, window_card

pytestmark = pytest.mark.e2e

SECRET = "test-secret-for-the-smart-launch"
CLIENT_ID = "spine-cds-capture"
REDIRECT = "http://localhost/app/callback"
FHIR_CLIENT = {"client_id": "tester", "client_secret": "tester-secret", "scopes": "system/*.cruds"}


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory):
    """The FHIR server with SMART authorization (scopes enforced)."""
    original = fhir_support._settings

    def with_smart(*args: Any, **kwargs: Any) -> dict:
        settings = original(*args, **kwargs)
        settings["server_auth"] = {"types": ["smart"], "smart_clients": [FHIR_CLIENT], "enforce_scopes": True}
        return settings

    fhir_support._settings = with_smart
    try:
        base, stop = fhir_support.start_fhir_server(tmp_path_factory.mktemp("capture-smart-fhir"))
    finally:
        fhir_support._settings = original
    try:
        yield base
    finally:
        stop()


def fhir_token(base: str, scope: str) -> str:
    conf = requests.get(f"{base}/.well-known/smart-configuration", timeout=10).json()
    r = requests.post(conf["token_endpoint"], data={"grant_type": "client_credentials", "scope": scope},
                      auth=(FHIR_CLIENT["client_id"], FHIR_CLIENT["client_secret"]), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@dataclass
class LaunchUser:
    patient: str
    app_context: str


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    user: LaunchUser

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class PublicClient(ClientMixin):
    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri

    def get_client_id(self):
        return CLIENT_ID

    def get_default_redirect_uri(self):
        return self.redirect_uri

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret):
        return False

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "none"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


class Ehr:
    """The test's EHR: authorization server + SMART configuration + FHIR pass-through."""

    def __init__(self, upstream: str, redirect_uri: str = REDIRECT) -> None:
        self.upstream = upstream
        self.redirect_uri = redirect_uri  # the one registered for the app's client id
        self.launches: dict[str, LaunchUser] = {}
        self.codes: dict[str, Code] = {}
        self.access_token = ""
        self.hits = 0
        self.base = ""
        self.app = self._build()

    def _build(self) -> Flask:
        ehr = self
        app = Flask("test-ehr")

        class Grant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

            def save_authorization_code(self, code, request):
                ehr.codes[code] = Code(code, request.client.get_client_id(), request.payload.redirect_uri,
                                       request.payload.scope, request.payload.data.get("code_challenge"),
                                       request.payload.data.get("code_challenge_method"), request.user)

            def query_authorization_code(self, code, client):
                found = ehr.codes.get(code)
                return found if found and found.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code):
                ehr.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        def token(grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):
            return {"access_token": ehr.access_token, "token_type": "Bearer", "expires_in": 3600, "scope": scope,
                    "patient": user.patient, "appContext": user.app_context,
                    "id_token": jwt.encode({"iss": ehr.base, "sub": "dr-smart", "aud": CLIENT_ID,
                                            "fhirUser": f"{ehr.base}/fhir/Practitioner/dr-smart"},
                                           "the-ehr-signing-key-for-tests-only", algorithm="HS256")}

        server = AuthorizationServer(app, query_client=lambda cid: PublicClient(ehr.redirect_uri) if cid == CLIENT_ID else None,
                                     save_token=lambda token, request: None)
        server.register_grant(Grant, [CodeChallenge(required=True)])
        server.register_token_generator("default", token)

        @app.before_request
        def _count():
            ehr.hits += 1

        @app.get("/fhir/.well-known/smart-configuration")
        def smart_configuration():
            return jsonify({"authorization_endpoint": f"{ehr.base}/auth/authorize",
                            "token_endpoint": f"{ehr.base}/auth/token",
                            "code_challenge_methods_supported": ["S256"],
                            "capabilities": ["launch-ehr", "client-public", "context-ehr-patient", "permission-v2"]})

        @app.get("/auth/authorize")
        def authorize():
            user = ehr.launches.get(flask_request.args.get("launch", ""))
            if user is None:
                abort(400)
            return server.create_authorization_response(grant_user=user)

        @app.post("/auth/token")
        def issue_token():
            return server.create_token_response()

        @app.route("/fhir", methods=["POST"], defaults={"rest": ""})
        @app.route("/fhir/<path:rest>", methods=["GET", "POST", "PUT"])
        def fhir(rest: str):
            headers = {k: v for k, v in flask_request.headers.items()
                       if k.lower() in ("authorization", "content-type", "accept")}
            url = f"{ehr.upstream}/{rest}" if rest else ehr.upstream
            r = requests.request(flask_request.method, url, params=flask_request.args, headers=headers,
                                 data=flask_request.get_data(), timeout=20)
            return Response(r.content, status=r.status_code, content_type=r.headers.get("Content-Type"))

        return app


@pytest.fixture(scope="module")
def ehr(sekmet):
    e = Ehr(sekmet)
    with live(e.app) as base:
        e.base = base
        yield e


@pytest.fixture
def patient(sekmet) -> str:
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


def written(sekmet: str, pid: str) -> tuple[list[dict], list[dict]]:
    headers = {"Authorization": f"Bearer {fhir_token(sekmet, 'system/*.rs')}"}
    qrs = [e["resource"] for e in requests.get(f"{sekmet}/QuestionnaireResponse", params={"_count": 200},
                                               headers=headers, timeout=10).json().get("entry", [])
           if e["resource"].get("subject", {}).get("reference") == f"Patient/{pid}"]
    obs = [e["resource"] for e in requests.get(f"{sekmet}/Observation", params={"patient": pid, "_count": 200},
                                               headers=headers, timeout=10).json().get("entry", [])
           if e["resource"].get("derivedFrom")]
    return qrs, obs


def launch_blob(page: str) -> str:
    m = re.search(r'name="launch" value="([^"]+)"', page)
    assert m, page[:2000]
    return html.unescape(m.group(1))


def test_smart_launch_with_pkce_records_and_the_card_is_refined(client, ehr, sekmet, patient):
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


def test_a_launch_for_another_patient_is_refused_and_writes_nothing(client, ehr, sekmet, patient):
    ehr.access_token = fhir_token(sekmet, "system/*.cruds")
    _card, ctx = card_context(client, ehr, patient)
    ehr.launches["launch-other"] = LaunchUser("some-other-patient", ctx)
    page = launch(client, ehr, "launch-other")
    assert page.status_code == 403
    assert "another patient" in page.get_data(as_text=True)
    assert written(sekmet, patient) == ([], [])


def test_a_write_the_fhir_server_refuses_is_shown_and_nothing_is_recorded(client, ehr, sekmet, patient):
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


def test_an_altered_app_context_in_the_token_response_is_refused(client, ehr, sekmet, patient):
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
