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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from spine_guideline.facts import SearchStatus

from .errors import ServiceError
from .services import TEMPLATES, ServiceDef, template_resource_type

log = logging.getLogger("spine_cds.prefetch")

#: prefetch key -> the resource type its template searches
_KEY_TYPES = {key: template_resource_type(template) for key, template in TEMPLATES.items()}


@dataclass
class Gathered:
    resources: list[Any] = field(default_factory=list)
    searches: dict[str, SearchStatus] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)        # resource types whose data is unknown
    fetched: list[str] = field(default_factory=list)       # keys fetched from the FHIR server
    incomplete: list[str] = field(default_factory=list)    # keys whose fetch was cut short (page/size bound)


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


def _fetch(body: dict[str, Any], patient_id: Any, missing: dict[str, str], client: Any, fhir_server: str,
           budget_seconds: float) -> dict[str, Any]:
    """Fetch the missing keys from the FHIR server within one time budget: key -> result."""
    auth = body.get("fhirAuthorization")
    token = auth.get("access_token") if isinstance(auth, dict) else None
    deadline = time.monotonic() + budget_seconds
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
        return out
    context = body.get("context") or {}
    patient_id = context.get("patientId")
    keys = ", ".join(sorted(missing))
    server = _check_fhir_server(fhir_server, keys, fhir_server_allowed)
    results = _fetch(body, patient_id, missing, client, server, budget_seconds)
    ok = [_use_result(out, key, missing[key], result) for key, result in results.items()]
    if not any(ok):
        raise ServiceError(412, f"Prefetch data is missing ({keys}) and could not be retrieved from the FHIR "
                                "server (unreachable, unauthorised or failing).", expression=["$.prefetch"])
    return out
