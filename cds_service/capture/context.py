"""The signed ``appContext`` a card hands to the capture app, and the app's settings.

``appContext`` is opaque to the EHR: ``v1.<payload>.<signature>``, the payload
base64url JSON, the signature HMAC-SHA256 over ``v1.<payload>`` with the app
secret (``SPINE_CDS_APP_SECRET``). The app trusts nothing in it that the
signature does not cover, and nothing at all once it has expired.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError
from ..urls import normalise_url

PREFIX = "v1"
#: how long a card's link stays usable (seconds)
CONTEXT_TTL = 24 * 3600
MAX_CONTEXT_CHARS = 8000
SECRET_FILE = "app-secret"


class ContextError(ValueError):
    """The appContext is malformed, altered, expired or not for this use."""


@dataclass(frozen=True)
class LaunchContext:
    """What the card asks the app to capture."""

    patient_id: str
    topic: str
    service_id: str
    missing: tuple[str, ...]          # fact names, ``bilsky-grade@L2`` where bound to a level
    level: str | None = None          # the card's vertebra, when it is about one
    fhir_server: str | None = None    # the request's fhirServer (open mode uses it)
    user: str | None = None           # the CDS Hooks userId the card was shown to
    issued: int = field(default_factory=lambda: int(time.time()))

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"p": self.patient_id, "t": self.topic, "svc": self.service_id,
                               "m": list(self.missing), "iat": self.issued}
        for key, value in (("l", self.level), ("s", self.fhir_server), ("u", self.user)):
            if value is not None:
                out[key] = value
        return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, signed: str) -> str:
    return _b64(hmac.digest(secret, signed.encode("ascii"), hashlib.sha256))


def sign(ctx: LaunchContext, secret: bytes) -> str:
    body = _b64(json.dumps(ctx.payload(), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    signed = f"{PREFIX}.{body}"
    return f"{signed}.{_mac(secret, signed)}"


def _str(payload: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 500:
        raise ContextError(f"appContext field {key!r} is missing or not a string")
    return value


def verify(token: Any, secret: bytes, *, now: float | None = None, ttl: int = CONTEXT_TTL) -> LaunchContext:
    """The context of a signed ``appContext``; :class:`ContextError` when it is not one of ours,
    was altered, or is older than ``ttl`` seconds."""
    if not isinstance(token, str) or not token or len(token) > MAX_CONTEXT_CHARS:
        raise ContextError("no appContext, or one of an impossible size")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ContextError("the appContext is not one this service issued")
    if not hmac.compare_digest(_mac(secret, f"{parts[0]}.{parts[1]}"), parts[2]):
        raise ContextError("the appContext signature does not match: it was altered or issued elsewhere")
    try:
        payload = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error):
        raise ContextError("the appContext payload is unreadable") from None
    if not isinstance(payload, dict):
        raise ContextError("the appContext payload is not an object")
    issued = payload.get("iat")
    if not isinstance(issued, int):
        raise ContextError("the appContext has no issue time")
    current = time.time() if now is None else now
    if issued > current + 60 or current - issued > ttl:
        raise ContextError("the appContext has expired: open the card again")
    missing = payload.get("m")
    if not isinstance(missing, list) or not all(isinstance(m, str) and 0 < len(m) <= 100 for m in missing):
        raise ContextError("the appContext's missing items are malformed")
    return LaunchContext(patient_id=_str(payload, "p", required=True) or "", topic=_str(payload, "t", required=True) or "",
                         service_id=_str(payload, "svc", required=True) or "", missing=tuple(missing),
                         level=_str(payload, "l", required=False), fhir_server=_str(payload, "s", required=False),
                         user=_str(payload, "u", required=False), issued=issued)


# ------------------------------------------------------------------ settings

@dataclass(frozen=True)
class AppSettings:
    secret: bytes | None
    open_servers: tuple[str, ...]
    demo: bool
    client_id: str | None
    redirect_uri: str | None
    scope: str
    smart_servers: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return self.secret is not None


DEFAULT_SCOPE = "launch openid fhirUser patient/Patient.rs patient/Observation.rs patient/Observation.c " \
                "patient/QuestionnaireResponse.c patient/Condition.rs patient/Procedure.rs " \
                "patient/MedicationRequest.rs patient/MedicationStatement.rs patient/ServiceRequest.rs " \
                "patient/DiagnosticReport.rs patient/AllergyIntolerance.rs"


def _url_list(raw: Any, name: str) -> tuple[str, ...]:
    if not raw:
        return ()
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    out = []
    for url in items:
        url = str(url).strip()
        if not url:
            continue
        try:
            out.append(normalise_url(url))
        except ValueError as exc:
            raise ConfigError(f"SPINE_CDS_{name}: {url!r} is not a usable base URL ({exc})") from None
    return tuple(out)


def _demo_secret(data_dir: str) -> bytes:
    """The demo's app secret: made once and kept in the data directory, so that every worker
    process (and a restart) signs with the same one."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, SECRET_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it right now
            with open(path, "rb") as fh:
                data = fh.read().strip()
            if data:
                return data
            time.sleep(0.02)
        raise ConfigError(f"SPINE_CDS_DATA_DIR: the capture app secret file {path} stays empty") from None
    with os.fdopen(fd, "wb") as fh:
        secret = secrets.token_urlsafe(32).encode("ascii")
        fh.write(secret)
    return secret


def load_settings(config: Mapping[str, Any]) -> AppSettings:
    """The app's settings from the Flask config (the ``APP_*`` settings); ConfigError on a bad one."""
    secret_raw = config.get("APP_SECRET")
    secret: bytes | None = None
    if secret_raw:
        secret = str(secret_raw).encode("utf-8")
        if len(secret) < 16:
            raise ConfigError("SPINE_CDS_APP_SECRET must be at least 16 characters")
    elif config.get("DEMO"):
        secret = _demo_secret(str(config.get("DATA_DIR") or "instance"))
    return AppSettings(secret=secret, open_servers=_url_list(config.get("APP_OPEN_SERVERS"), "APP_OPEN_SERVERS"),
                       demo=bool(config.get("DEMO")), client_id=(str(config["APP_CLIENT_ID"]).strip()
                                                                 if config.get("APP_CLIENT_ID") else None),
                       redirect_uri=str(config["APP_REDIRECT_URI"]).strip() if config.get("APP_REDIRECT_URI") else None,
                       scope=str(config.get("APP_SCOPE") or DEFAULT_SCOPE),
                       smart_servers=_url_list(config.get("APP_SMART_SERVERS"), "APP_SMART_SERVERS"))
