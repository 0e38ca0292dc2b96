"""The test's EHR for the SMART App Launch tests (tests/test_capture_smart.py,
tests/test_capture_browser.py): the bundled FHIR server process with SMART authorization
(scopes enforced, the ``sekmet`` fixture), and a small Flask app as the EHR: an OAuth 2.0
authorization server built with authlib (authorization code grant, PKCE S256 required, public
client), its ``.well-known/smart-configuration``, and its FHIR endpoint, which passes requests
on to that FHIR server."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, abort, jsonify
from flask import request as flask_request

from . import fhir_server as fhir_support

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


def written(sekmet: str, pid: str) -> tuple[list[dict], list[dict]]:
    headers = {"Authorization": f"Bearer {fhir_token(sekmet, 'system/*.rs')}"}
    qrs = [e["resource"] for e in requests.get(f"{sekmet}/QuestionnaireResponse", params={"_count": 200},
                                               headers=headers, timeout=10).json().get("entry", [])
           if e["resource"].get("subject", {}).get("reference") == f"Patient/{pid}"]
    obs = [e["resource"] for e in requests.get(f"{sekmet}/Observation", params={"patient": pid, "_count": 200},
                                               headers=headers, timeout=10).json().get("entry", [])
           if e["resource"].get("derivedFrom")]
    return qrs, obs
