"""SMART App Launch 2.0, EHR launch: ``/app/launch`` -> the EHR's authorization server ->
``/app/callback`` -> the page.

Discovery reads ``{iss}/.well-known/smart-configuration``; the authorization code flow uses
PKCE (S256) through authlib's OAuth 2.0 client; the patient and the card's ``appContext``
come from the token response, and the patient must be the card's. The client id and redirect
URI come from the settings (``SPINE_CDS_APP_CLIENT_ID``, ``SPINE_CDS_APP_REDIRECT_URI``, default
``<base>/app/callback``). Only ``iss`` values on the allowlists are ever contacted.
"""
from __future__ import annotations

import secrets
from typing import Any

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import redirect, request
from flask.typing import ResponseReturnValue

from . import SMART_COOKIE, bp
from . import service as svc

DISCOVERY_TIMEOUT = (2.0, 5.0)
STATE_TTL = 600


def _redirect_uri(s: Any) -> str:
    from . import base_url
    return s.redirect_uri or f"{base_url()}/app/callback"


def discover(iss: str) -> dict[str, Any]:
    """The server's SMART configuration; AppError when it is not usable for a PKCE EHR launch."""
    url = iss.rstrip("/") + "/.well-known/smart-configuration"
    try:
        resp = requests.get(url, headers={"Accept": "application/json"}, timeout=DISCOVERY_TIMEOUT,
                            allow_redirects=False)
    except requests.RequestException as exc:
        raise svc.AppError(502, "error.title.launch", f"The EHR's SMART configuration could not be read "
                                                      f"({type(exc).__name__}).") from None
    if resp.status_code != 200:
        raise svc.AppError(502, "error.title.launch", f"The EHR's SMART configuration answered HTTP {resp.status_code}.")
    try:
        conf = resp.json()
    except ValueError:
        raise svc.AppError(502, "error.title.launch", "The EHR's SMART configuration is not JSON.") from None
    if not isinstance(conf, dict) or not all(isinstance(conf.get(k), str) and conf[k].startswith(("http://", "https://"))
                                             for k in ("authorization_endpoint", "token_endpoint")):
        raise svc.AppError(502, "error.title.launch", "The EHR's SMART configuration names no authorization and "
                                                      "token endpoints.")
    methods = conf.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise svc.AppError(502, "error.title.launch", "The EHR's authorization server does not support PKCE S256.")
    return conf


def fhir_user(token: dict[str, Any]) -> str | None:
    """The user's FHIR resource (``Practitioner/123``) from the id_token's ``fhirUser`` claim, when the
    token response carries one. The id_token came straight from the token endpoint (OpenID Connect
    3.1.3.7 allows its signature to go unchecked then); only this one claim is used, as the author."""
    raw = token.get("id_token")
    if not isinstance(raw, str):
        return None
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    value = claims.get("fhirUser")
    if not isinstance(value, str) or not value:
        return None
    parts = value.rstrip("/").split("/")  # an absolute or relative URL: the last two segments
    return f"{parts[-2]}/{parts[-1]}" if len(parts) >= 2 else None


@bp.get("/app/launch")
def smart_launch() -> ResponseReturnValue:
    from . import _allowed_smart, _error, _lang, _require_enabled, base_url
    lang = _lang()
    try:
        s = _require_enabled()
        assert s.secret is not None
        if not s.client_id:
            raise svc.AppError(503, "error.title.disabled", "SPINE_CDS_APP_CLIENT_ID is not set: this service "
                                                            "cannot take part in a SMART launch.")
        iss, launch = request.args.get("iss"), request.args.get("launch")
        if not iss or not launch or len(launch) > 2000:
            raise svc.AppError(400, "error.title.launch", "A SMART EHR launch needs the parameters iss and launch.")
        if not svc.server_allowed(iss, s, base_url=base_url(), extra=_allowed_smart(s)):
            raise svc.AppError(403, "error.title.server", "The launching EHR's FHIR server (iss) is not on this "
                                                          "service's list (SPINE_CDS_APP_SMART_SERVERS): nothing "
                                                          "was contacted.")
        conf = discover(iss)
        verifier = generate_token(64)
        state = secrets.token_urlsafe(24)
        client = OAuth2Session(s.client_id, scope=s.scope, redirect_uri=_redirect_uri(s),
                               code_challenge_method="S256", token_endpoint_auth_method="none")
        url, _state = client.create_authorization_url(conf["authorization_endpoint"], state=state,
                                                      code_verifier=verifier, launch=launch, aud=iss)
        resp = redirect(url, code=302)
        blob = svc.seal_state({"state": state, "verifier": verifier, "iss": iss,
                               "token_endpoint": conf["token_endpoint"]}, s.secret)
        resp.set_cookie(SMART_COOKIE, blob, max_age=STATE_TTL, httponly=True, samesite="Lax",
                        secure=request.is_secure, path="/app/")
        return resp
    except svc.AppError as exc:
        return _error(exc, lang)



@bp.get("/app/callback")
def smart_callback() -> ResponseReturnValue:
    from . import _allowed_smart, _error, _lang, _page, _require_enabled, _verify_context, base_url
    lang = _lang()
    try:
        s = _require_enabled()
        assert s.secret is not None and s.client_id
        saved = svc.unseal_state(request.cookies.get(SMART_COOKIE), s.secret, ttl=STATE_TTL)
        if request.args.get("error"):
            raise svc.AppError(403, "error.title.launch", "The EHR's authorization server refused: "
                                                          f"{str(request.args.get('error'))[:100]} "
                                                          f"{(request.args.get('error_description') or '')[:300]}")
        if not secrets.compare_digest(str(request.args.get("state") or ""), str(saved.get("state"))):
            raise svc.AppError(400, "error.title.launch", "The authorization answer does not belong to this launch "
                                                          "(state mismatch).")
        iss = str(saved["iss"])
        if not svc.server_allowed(iss, s, base_url=base_url(), extra=_allowed_smart(s)):
            raise svc.AppError(403, "error.title.server", "The launching EHR's FHIR server is not allowed.")
        client = OAuth2Session(s.client_id, scope=s.scope, redirect_uri=_redirect_uri(s),
                               code_challenge_method="S256", token_endpoint_auth_method="none")
        try:
            token = client.fetch_token(str(saved["token_endpoint"]), code=request.args.get("code") or "",
                                       code_verifier=str(saved["verifier"]), timeout=DISCOVERY_TIMEOUT)
        except (OAuthError, requests.RequestException, ValueError) as exc:
            raise svc.AppError(502, "error.title.launch", f"The token request failed ({type(exc).__name__}: "
                                                          f"{str(exc)[:200]}).") from None
        access = token.get("access_token")
        patient = token.get("patient")
        if not isinstance(access, str) or not access:
            raise svc.AppError(502, "error.title.launch", "The token response holds no access token.")
        if not isinstance(patient, str) or not patient:
            raise svc.AppError(400, "error.title.launch", "The token response names no patient: launch the app "
                                                          "from a patient's chart.")
        ctx = _verify_context(token.get("appContext"), s)
        if ctx.patient_id != patient:
            raise svc.AppError(403, "error.title.patient", "The EHR launched the app for another patient than "
                                                           "the card was about: nothing is read or written.")
        user = fhir_user(token)
        launch = svc.Launch(str(token.get("appContext")), iss, patient, "smart", access, user or ctx.user)
        resp = _page(ctx, launch, s, lang)
        resp.delete_cookie(SMART_COOKIE, path="/app/")
        return resp
    except svc.AppError as exc:
        return _error(exc, lang)
