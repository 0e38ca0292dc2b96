"""OpenAPI 3.1 description of the service, built from the JSON Schemas in ``cds_service.schemas``.

``build_openapi(services)`` embeds the request/response/discovery/feedback and
error-body schemas under ``components.schemas`` (every ``$defs`` entry becomes a
component of its own; ``$ref``s are rewritten to point inside the document), so
the document served at ``GET /openapi.json`` and the validation the service
does come from the same files.
"""
from __future__ import annotations

import copy
from importlib import metadata
from typing import Any
from urllib.parse import urldefrag, urljoin

from cds_service import schemas

# Schema file -> name of its top-level component (common.json only has $defs).
TOP_LEVEL = {
    "request": "CdsServiceRequest",
    "response": "CdsServiceResponse",
    "service-response": "SpineCdsServiceResponse",
    "discovery": "CdsDiscoveryResponse",
    "feedback": "CdsFeedbackRequest",
    "operation-outcome": "OperationOutcome",
}

SECURITY_SCHEME = "cdsHooksJwt"

_ERROR_RESPONSES = {
    "400": ("BadRequest", "Malformed JSON or a schema violation; each issue's expression gives the JSON path."),
    "401": ("Unauthorized", "Missing or invalid CDS Hooks JWT (the reason is not disclosed)."),
    "404": ("NotFound", "No CDS service with this id."),
    "405": ("MethodNotAllowed", "Method not allowed on this path."),
    "412": ("PreconditionFailed", "Data the service needs was neither prefetched nor obtainable from fhirServer "
                                  "(unreachable or unauthorised), per CDS Hooks 2.0."),
    "413": ("PayloadTooLarge", "Request body over the configured limit."),
    "415": ("UnsupportedMediaType", "Request body is not JSON."),
}

_JSON = ("application/json",)
_ERROR_MEDIA = ("application/fhir+json", "application/json")


def _package_version() -> str:
    try:
        return metadata.version("spine-cds")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _component_names() -> dict[tuple[str, str], str]:
    """(schema name, $defs key or '') -> component name; refuses clashes."""
    names: dict[tuple[str, str], str] = {}
    taken: dict[str, tuple[str, str]] = {}
    for name in schemas.SCHEMA_NAMES:
        entries = [(name, key) for key in schemas.load_schema(name).get("$defs", {})]
        if name in TOP_LEVEL:
            entries.insert(0, (name, ""))
        for entry in entries:
            component = TOP_LEVEL[name] if entry[1] == "" else entry[1]
            if component in taken:
                raise ValueError(f"component name {component!r} defined by both {taken[component]} and {entry}")
            taken[component] = entry
            names[entry] = component
    return names


def _schema_components() -> dict[str, Any]:
    """All schemas as OpenAPI components, with refs rewritten to #/components/schemas/..."""
    names = _component_names()
    by_id = {schemas.load_schema(n)["$id"]: n for n in schemas.SCHEMA_NAMES}

    def target(ref: str, base_id: str) -> str:
        uri, fragment = urldefrag(urljoin(base_id, ref))
        file = by_id.get(uri)
        if file is None:
            raise ValueError(f"$ref {ref!r} leaves the schema set")
        parts = fragment.split("/") if fragment else [""]
        if parts[0] != "":
            raise ValueError(f"$ref {ref!r}: only JSON pointer fragments are supported")
        if len(parts) >= 3 and parts[1] == "$defs":
            component, rest = names[(file, parts[2])], parts[3:]
        else:
            if (file, "") not in names:
                raise ValueError(f"$ref {ref!r} points at {file}.json, which has no top-level schema")
            component, rest = names[(file, "")], parts[1:]
        return "#/components/schemas/" + "/".join([component, *rest])

    def rewrite(node: Any, base_id: str) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    out[key] = target(value, base_id)
                else:
                    out[key] = rewrite(value, base_id)
            return out
        if isinstance(node, list):
            return [rewrite(v, base_id) for v in node]
        return node

    components: dict[str, Any] = {}
    for (file, key), component in names.items():
        schema = schemas.load_schema(file)
        body = schema["$defs"][key] if key else {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}
        components[component] = rewrite(copy.deepcopy(body), schema["$id"])
    return components


def _ref(component: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component}"}


def _content(component: str, media: tuple[str, ...] = _JSON, example: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in media:
        out[m] = {"schema": _ref(component)}
        if example is not None:
            out[m]["example"] = example
    return out


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/{_ERROR_RESPONSES[code][0]}"} for code in codes}


def _preflight(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": "CORS preflight; allowed origins are configured (any origin only in demo mode).",
        "tags": ["CORS"],
        "security": [],
        "responses": {"204": {"description": "Preflight accepted (Access-Control-Allow-* headers set)."}},
    }


def _check_services(services: list[dict[str, Any]]) -> None:
    found = schemas.errors("discovery", {"services": services})
    if found:
        raise ValueError("services do not form a valid discovery response: "
                         + "; ".join(f"{path} {message}" for path, message in found))


def build_openapi(services: list[dict[str, Any]], *, title: str = "spine-cds",
                  version: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for this service offering ``services``.

    ``services`` are the discovery entries (id, hook, title, description,
    prefetch, usageRequirements); they must form a valid discovery response.
    """
    services = copy.deepcopy(list(services))
    _check_services(services)
    ids = sorted({s["id"] for s in services})
    id_schema: dict[str, Any] = {"type": "string"}
    if ids:
        id_schema["enum"] = ids
    service_list = "\n".join(
        f"- `{s['id']}` ({s['hook']}): {s.get('title', s['description'])}" for s in services
    ) or "(no services configured)"

    id_param = {"name": "id", "in": "path", "required": True, "description": "The CDS service id (from discovery).",
                "schema": id_schema}
    language_param = {"name": "Accept-Language", "in": "header", "required": False,
                      "description": "Card language: nl or en; otherwise the configured default (nl).",
                      "schema": {"type": "string"}, "example": "nl"}

    paths: dict[str, Any] = {
        "/cds-services": {
            "get": {
                "operationId": "discoverServices",
                "summary": "CDS Hooks discovery",
                "tags": ["CDS Hooks"],
                "responses": {
                    "200": {"description": "The CDS services offered.",
                            "content": _content("CdsDiscoveryResponse", example={"services": services})},
                    **_errors("401", "405"),
                },
            },
            "options": _preflight("CORS preflight for discovery"),
        },
        "/cds-services/{id}": {
            "parameters": [id_param],
            "post": {
                "operationId": "callService",
                "summary": "Call a CDS service (a hook fired)",
                "description": "Services:\n\n" + service_list,
                "tags": ["CDS Hooks"],
                "parameters": [language_param],
                "requestBody": {"required": True, "content": _content("CdsServiceRequest")},
                "responses": {
                    "200": {"description": "Cards (possibly none) and system actions: a CDS Hooks 2.0 response "
                                           "(CdsServiceResponse) with this service's own guarantees on top.",
                            "content": _content("SpineCdsServiceResponse")},
                    **_errors("400", "401", "404", "405", "412", "413", "415"),
                },
            },
            "options": _preflight("CORS preflight for a service call"),
        },
        "/cds-services/{id}/feedback": {
            "parameters": [id_param],
            "post": {
                "operationId": "sendFeedback",
                "summary": "CDS Hooks 2.0 feedback on cards returned by this service",
                "tags": ["CDS Hooks"],
                "requestBody": {"required": True, "content": _content("CdsFeedbackRequest")},
                "responses": {
                    "200": {"description": "Feedback stored durably."},
                    **_errors("400", "401", "404", "405", "413", "415"),
                },
            },
            "options": _preflight("CORS preflight for feedback"),
        },
        "/healthz": {
            "get": {
                "operationId": "liveness",
                "summary": "Liveness",
                "tags": ["Operations"],
                "security": [],
                "responses": {"200": {"description": "The process is alive.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            },
        },
        "/readyz": {
            "get": {
                "operationId": "readiness",
                "summary": "Readiness: storage reachable, rule tables loaded",
                "tags": ["Operations"],
                "security": [],
                "responses": {
                    "200": {"description": "Ready to serve.",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "503": {"description": "Not ready.",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This OpenAPI 3.1 document",
                "tags": ["Operations"],
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            },
        },
    }

    responses = {
        name: {"description": description, "content": _content("OperationOutcome", _ERROR_MEDIA)}
        for name, description in _ERROR_RESPONSES.values()
    }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version or _package_version(),
            "summary": "HL7 CDS Hooks 2.0 services for the Dutch guideline on spinal metastases and the VP/BK protocol",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {"name": "CDS Hooks", "description": "HL7 CDS Hooks 2.0 endpoints."},
            {"name": "Operations", "description": "Health and self-description."},
            {"name": "CORS", "description": "Preflight requests."},
        ],
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": _schema_components(),
            "responses": responses,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "CDS Hooks 2.0 client JWT, signed ES384 or RS384, issuer (and jku) on the trust "
                                   "list, aud equal to the called endpoint URL, exp/iat checked, jti not replayed.",
                },
            },
        },
    }
