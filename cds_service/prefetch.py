"""Gathers the data a service needs: from prefetch, else from the FHIR server.

Per CDS Hooks 2.0 and api-contract.md: a prefetch key that is present is used
as given (a Bundle or resource: the search succeeded; ``null``: the client has
no data, read as an empty result; an OperationOutcome: the search failed and
its facts are unknown). A key that is absent is fetched from ``fhirServer``
with the ``fhirAuthorization`` token, within one time budget. When data is
needed and nothing can be obtained, the caller answers 412.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fhir_mappings import unresolved_medication_references
from spine_guideline.facts import SearchStatus

from .errors import ServiceError
from .services import TEMPLATES, ServiceDef, template_resource_type

log = logging.getLogger("spine_cds.prefetch")

#: at most this many referenced Medications are read per hook call (the rest stay unknown)
MAX_MEDICATION_READS = 20
_MEDICATION_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

#: prefetch key -> the resource type its template searches
_KEY_TYPES = {key: template_resource_type(template) for key, template in TEMPLATES.items()}


@dataclass
class Gathered:
    resources: list[Any] = field(default_factory=list)
    searches: dict[str, SearchStatus] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)        # resource types whose data is unknown
    fetched: list[str] = field(default_factory=list)       # keys fetched from the FHIR server
    incomplete: list[str] = field(default_factory=list)    # keys whose fetch was cut short (page/size bound)
    medications_read: list[str] = field(default_factory=list)  # Medication/{id} read for a medicationReference


def _merge_status(searches: dict[str, SearchStatus], rtype: str, status: SearchStatus) -> None:
    old = searches.get(rtype)
    if old == SearchStatus.FAILED:
        return
    searches[rtype] = status


def _query(template: str, patient_id: str) -> str:
    return template.replace("{{context.patientId}}", quote(patient_id, safe=""))


def _read_prefetch(service: ServiceDef, prefetch: dict[str, Any], out: Gathered) -> dict[str, str]:
    """Use the prefetch keys that are present; the absent ones (key -> resource type) are returned."""
    missing: dict[str, str] = {}
    for key in service.prefetch_keys:
        rtype = _KEY_TYPES[key]
        if key not in prefetch:
            missing[key] = rtype
            continue
        value = prefetch[key]
        if value is None:
            _merge_status(out.searches, rtype, SearchStatus.OK)
        elif isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
            _merge_status(out.searches, rtype, SearchStatus.FAILED)
            out.failed.append(rtype)
        elif isinstance(value, dict) and isinstance(value.get("resourceType"), str):
            out.resources.append(value)
            _merge_status(out.searches, rtype, SearchStatus.OK)
        else:
            _merge_status(out.searches, rtype, SearchStatus.FAILED)
            out.failed.append(rtype)
    return missing


def _check_fhir_server(fhir_server: Any, keys: str, fhir_server_allowed: Callable[[str], bool]) -> str:
    """The fhirServer to fetch the missing keys from (412 when there is none to use)."""
    if not isinstance(fhir_server, str) or not fhir_server:
        raise ServiceError(412, f"Prefetch data is missing ({keys}) and the request names no fhirServer.",
                           expression=["$.prefetch"])
    if not fhir_server.lower().startswith(("http://", "https://")):
        raise ServiceError(412, "Prefetch data is missing and fhirServer is not an http(s) URL.",
                           expression=["$.fhirServer"])
    if not fhir_server_allowed(fhir_server):
        raise ServiceError(412, f"Prefetch data is missing ({keys}) and this service may not fetch from the "
                                "fhirServer named in the request.", expression=["$.fhirServer"])
    return fhir_server


def _fetch(patient_id: str, missing: dict[str, str], client: Any, fhir_server: str, token: str | None,
           deadline: float) -> dict[str, Any]:
    """Fetch the missing keys from the FHIR server before ``deadline``: key -> result."""
    searches = {k: _query(TEMPLATES[k], patient_id) for k in missing if k != "patient"}
    results: dict[str, Any] = client.search_many(fhir_server, searches, token=token, deadline=deadline) \
        if searches else {}
    if "patient" in missing:
        results["patient"] = client.read(fhir_server, _query(TEMPLATES["patient"], patient_id),
                                         token=token, deadline=deadline)
    return results


def _use_result(out: Gathered, key: str, rtype: str, result: Any) -> bool:
    """Add one fetch result to ``out``; whether it succeeded."""
    if not result.ok:
        _merge_status(out.searches, rtype, SearchStatus.FAILED)
        out.failed.append(rtype)
        log.warning("fhir fetch failed", extra={"key": key, "reason": result.error, "status": result.status})
        return False
    out.fetched.append(key)
    if key == "patient":
        out.resources.append(result.resource)
    else:
        out.resources.extend(result.bundles)
    if getattr(result, "incomplete", False):
        # What came is used; what did not come is unknown, never "none recorded".
        out.incomplete.append(key)
        out.failed.append(rtype)
        _merge_status(out.searches, rtype, SearchStatus.FAILED)
    else:
        _merge_status(out.searches, rtype, SearchStatus.OK)
    return True


def gather(service: ServiceDef, body: dict[str, Any], *, client: Any,
           fhir_server_allowed: Callable[[str], bool], budget_seconds: float) -> Gathered:
    out = Gathered()
    prefetch = body.get("prefetch")
    missing = _read_prefetch(service, prefetch if isinstance(prefetch, dict) else {}, out)
    fhir_server = body.get("fhirServer")
    if not missing:
        # Nothing to fetch, but a fhirServer this caller may not name is still an error
        # (api-contract.md: 400; 412 below when the data is needed).
        if fhir_server is not None and not (isinstance(fhir_server, str) and fhir_server_allowed(fhir_server)):
            raise ServiceError(400, "This service may not fetch from the fhirServer named in the request.",
                               expression=["$.fhirServer"])
        if isinstance(fhir_server, str) and fhir_server.lower().startswith(("http://", "https://")):
            _read_medications(out, client, fhir_server, _token(body), time.monotonic() + budget_seconds)
        return out
    context = body.get("context") or {}
    patient_id = context.get("patientId")
    keys = ", ".join(sorted(missing))
    if not isinstance(patient_id, str) or not patient_id:
        raise ServiceError(400, f"Prefetch data is missing ({keys}) and the context names no patientId to fetch it for.",
                           expression=["$.context.patientId"])
    server = _check_fhir_server(fhir_server, keys, fhir_server_allowed)
    token, deadline = _token(body), time.monotonic() + budget_seconds
    results = _fetch(patient_id, missing, client, server, token, deadline)
    ok = [_use_result(out, key, missing[key], result) for key, result in results.items()]
    if not any(ok):
        raise ServiceError(412, f"Prefetch data is missing ({keys}) and could not be retrieved from the FHIR "
                                "server (unreachable, unauthorised or failing).", expression=["$.prefetch"])
    _read_medications(out, client, server, token, deadline)
    return out


def _token(body: dict[str, Any]) -> str | None:
    auth = body.get("fhirAuthorization")
    token = auth.get("access_token") if isinstance(auth, dict) else None
    return token if isinstance(token, str) else None


def _readable(ref: str, fhir_server: str) -> str | None:
    """``Medication/{id}`` to read for a reference: a relative one, or an absolute one on the
    request's fhirServer. Anything else (another server, ``urn:uuid``) is not read."""
    base = fhir_server.rstrip("/") + "/"
    rest = ref[len(base):] if ref.startswith(base) else ref
    parts = rest.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]
    if len(parts) == 2 and parts[0] == "Medication" and _MEDICATION_ID.fullmatch(parts[1]):
        return f"Medication/{parts[1]}"
    return None


def _read_medications(out: Gathered, client: Any, fhir_server: str, token: str | None, deadline: float) -> None:
    """Read the Medications that the gathered medication resources reference but nobody sent
    (a server or EHR that ignores ``_include``), from the same allowed fhirServer with the same
    token, within the same deadline, at most ``MAX_MEDICATION_READS``. A read that fails, or a
    reference not read, leaves the product unknown (the mapper reads it so, never as absent)."""
    wanted: list[str] = []
    unread = 0
    for ref in unresolved_medication_references(out.resources):
        path = _readable(ref, fhir_server)
        if path is None or path in wanted:
            unread += path is None
            continue
        wanted.append(path)
    if len(wanted) > MAX_MEDICATION_READS:
        unread += len(wanted) - MAX_MEDICATION_READS
        wanted = wanted[:MAX_MEDICATION_READS]
    failed = unread > 0
    if wanted:
        results = client.read_many(fhir_server, dict(enumerate(wanted)), token=token, deadline=deadline)
        for i, path in enumerate(wanted):
            result = results[i]
            if result.ok and isinstance(result.resource, dict):
                out.resources.append(result.resource)
                out.medications_read.append(path)
            else:
                failed = True
                log.warning("fhir medication read failed", extra={"reason": result.error, "status": result.status})
    if failed:
        log.warning("medication references left unresolved", extra={"count": unread + len(wanted)
                                                                   - len(out.medications_read)})
        if "Medication" not in out.failed:
            out.failed.append("Medication")
