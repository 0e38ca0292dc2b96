"""A fast pre-check of the CDS Hooks request envelope, equivalent to
``schemas/request.json``.

The jsonschema validator costs about as much as the rest of a typical request
together, so the hot path runs this plain-Python check first and calls the
full validator only when it fails, to name every problem with its JSON path.
A property test (tests/test_envelope.py) holds the two to the same verdict.
"""
from __future__ import annotations

import re
from typing import Any

_FHIR_SERVER = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$")
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr]$")
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 1


def _integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def request_envelope_ok(body: Any) -> bool:
    """True when ``body`` is a valid request per ``request.json``."""
    if not isinstance(body, dict):
        return False
    if not (_nonempty(body.get("hook")) and _nonempty(body.get("hookInstance"))):
        return False
    if not isinstance(body.get("context"), dict):
        return False
    if "fhirServer" in body:
        server = body["fhirServer"]
        if not isinstance(server, str) or not _FHIR_SERVER.search(server):
            return False
    if "fhirAuthorization" in body:
        if "fhirServer" not in body:
            return False
        auth = body["fhirAuthorization"]
        if not isinstance(auth, dict):
            return False
        if not (_nonempty(auth.get("access_token")) and _nonempty(auth.get("scope"))
                and _nonempty(auth.get("subject"))):
            return False
        token_type = auth.get("token_type")
        if not isinstance(token_type, str) or not _BEARER.search(token_type):
            return False
        expires = auth.get("expires_in")
        if not _integer(expires) or expires < 0:
            return False
        if "patient" in auth and not _nonempty(auth["patient"]):
            return False
    if "prefetch" in body:
        prefetch = body["prefetch"]
        if not isinstance(prefetch, dict):
            return False
        for value in prefetch.values():
            if value is None:
                continue
            if not isinstance(value, dict):
                return False
            rtype = value.get("resourceType")
            if not isinstance(rtype, str) or not _RESOURCE_TYPE.search(rtype):
                return False
    if "extension" in body and not isinstance(body["extension"], dict):
        return False
    return True
