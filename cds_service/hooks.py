"""The CDS Hooks 2.0 endpoints: discovery, service calls, feedback."""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from spine_guideline import GUIDELINE_VERSION

from . import jsonio, pipeline
from .errors import ServiceError, issue
from .i18n import negotiate
from .schemas import conforms
from .schemas import errors as schema_errors
from .services import BY_ID, REQUIRED_CONTEXT, SERVICES, ServiceDef

bp = Blueprint("cds_hooks", __name__)
log = logging.getLogger("spine_cds.hooks")


def _state():
    return current_app.extensions["spine_cds"]


def read_json_body(schema: str) -> dict[str, Any]:
    """The request's JSON object, checked against one of our schemas; 4xx otherwise."""
    req = request
    mimetype = (req.mimetype or "").lower()
    if mimetype not in ("application/json", "application/fhir+json") and not mimetype.endswith("+json"):
        raise ServiceError(415, "The request body must be JSON (Content-Type: application/json).")
    raw = read_body(req, current_app.config["MAX_BODY_BYTES"])
    t0 = time.perf_counter()
    try:
        body = jsonio.loads(raw)
    except jsonio.LoneSurrogate:
        raise ServiceError(400, "The request body holds a string that is not valid Unicode (a lone surrogate).",
                           expression=["$"]) from None
    except (ValueError, RecursionError):
        raise ServiceError(400, "The request body is not valid JSON.", expression=["$"]) from None
    if not isinstance(body, dict):
        raise ServiceError(400, "The request body must be a JSON object.", expression=["$"])
    if schema == "request":
        _check_amounts(body.get("context"))  # before the schema check, which walks every order
    # The compiled schema decides; the full validator names the problems of a body it refuses.
    problems = [] if conforms(schema, body) else schema_errors(schema, body)
    if problems:
        raise ServiceError(400, "The request does not follow the CDS Hooks 2.0 schema.", issues=[
            issue(message, expression=[path]) for path, message in problems[:20]])
    g.timing["parse"] = time.perf_counter() - t0
    return body


def read_body(req: Any, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes: 413 beyond it, whether the size was
    declared (Content-Length) or not (chunked); 408 when the client stops sending it
    (the server's read deadline, ``gunicorn_worker``)."""
    try:
        if req.content_length is not None:  # werkzeug refuses a declared size above MAX_CONTENT_LENGTH
            return req.get_data(cache=False)
        stream = req.environ.get("wsgi.input")
        if stream is None or not req.environ.get("wsgi.input_terminated"):
            return req.get_data(cache=False)
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = stream.read(min(65536, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise ServiceError(413, f"The request body is larger than {limit} bytes.", code="too-costly")
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        raise ServiceError(408, "The request body did not arrive in time.", code="exception") from None


def _service(service_id: str) -> ServiceDef:
    service = BY_ID.get(service_id)
    if service is None:
        raise ServiceError(404, "No CDS service with this id; see GET /cds-services.", code="not-found")
    return service


@bp.get("/cds-services")
def discovery():
    return jsonify({"services": [s.discovery() for s in SERVICES]})


def _check_context(service: ServiceDef, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("hook") != service.hook:
        raise ServiceError(400, f"This service answers the {service.hook} hook, not the hook in the request.",
                           expression=["$.hook"])
    context = body.get("context")
    if not isinstance(context, dict):
        raise ServiceError(400, "context must be an object.", expression=["$.context"])
    problems = []
    for name in REQUIRED_CONTEXT[service.hook]:
        if name not in context or context[name] is None:
            problems.append(issue(f"context.{name} is required for the {service.hook} hook.",
                                  expression=[f"$.context.{name}"]))
    for name in ("userId", "patientId", "encounterId"):
        if name in context and context[name] is not None and (not isinstance(context[name], str)
                                                              or not context[name].strip()):
            problems.append(issue(f"context.{name} must be a non-empty string.",
                                  expression=[f"$.context.{name}"]))
    if "draftOrders" in context and context["draftOrders"] is not None \
            and not isinstance(context["draftOrders"], dict):
        problems.append(issue("context.draftOrders must be a FHIR Bundle.",
                              expression=["$.context.draftOrders"]))
    if "selections" in context and context["selections"] is not None and (
            not isinstance(context["selections"], list)
            or not all(isinstance(x, str) for x in context["selections"])):
        problems.append(issue("context.selections must be a list of references (\"Type/id\").",
                              expression=["$.context.selections"]))
    if problems:
        raise ServiceError(400, "The hook context is incomplete.", issues=problems)
    return context


def _count_orders(bundle: Any, stop: int, depth: int = 0) -> int:
    """The orders in a draftOrders Bundle, those in nested Bundles included (the mapping reads
    them too), counted until ``stop``."""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    count = 0
    for entry in entries if isinstance(entries, list) else ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        nested = isinstance(resource, dict) and resource.get("resourceType") == "Bundle" and depth < 16
        count += _count_orders(resource, stop - count, depth + 1) if nested else 1
        if count >= stop:
            break
    return count


def _check_amounts(context: Any) -> None:
    """Bounded work per call (issue 19): every draft order and selection costs mapping,
    rules and cards, so a call may carry at most SPINE_CDS_MAX_DRAFT_ORDERS draft orders
    (413 beyond: the request is too large to process) and SPINE_CDS_MAX_SELECTIONS
    selections (400). An EHR sends the few orders a clinician has open."""
    if not isinstance(context, dict):
        return  # the schema check names what is wrong
    limit = current_app.config["MAX_DRAFT_ORDERS"]
    count = _count_orders(context.get("draftOrders"), limit + 1)
    if count > limit:
        raise ServiceError(413, f"context.draftOrders holds more than {limit} orders; at most {limit} per call.",
                           code="too-costly", expression=["$.context.draftOrders.entry"])
    selections = context.get("selections")
    limit = current_app.config["MAX_SELECTIONS"]
    if isinstance(selections, list) and len(selections) > limit:
        raise ServiceError(400, f"context.selections holds {len(selections)} references; at most {limit} per call.",
                           code="too-costly", expression=["$.context.selections"])


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str):
    service = _service(service_id)
    state = _state()
    store = g
    body = read_json_body("request")
    store.log_fields.update(hook=body.get("hook"), hookInstance=str(body.get("hookInstance"))[:100])
    context = _check_context(service, body)
    caller = store.get("caller")

    t0 = time.perf_counter()
    gathered = state.gather(service, body, caller)
    store.timing["fetch"] = time.perf_counter() - t0

    now = state.runtime.clock()
    lang = negotiate(request.headers.get("Accept-Language"), current_app.config["LANGUAGE"])
    outcome = pipeline.run(service, resources=gathered.resources, searches=gathered.searches, now=now,
                           patient_id=context.get("patientId"), lang=lang, policy=state.policy,
                           catalogs=state.catalogs, mapping_settings=state.mapping_settings,
                           base_url=state.runtime.base_url(request.url_root),
                           draft_orders=context.get("draftOrders"), selections=context.get("selections"),
                           failed_types=gathered.failed)
    store.timing.update(outcome.timing)
    cards, findings = outcome.cards, outcome.findings

    store.log_fields.update(cards=len(cards), topics=sorted({f.topic for f in findings}))
    if cards:
        # In the card log before the response goes out: a card the EHR received is in the
        # log even if this worker is killed the moment after (issue 19).
        t0 = time.perf_counter()
        _log_cards(state.storage, service, body.get("hookInstance"), lang, cards, findings)
        store.timing["cardLog"] = time.perf_counter() - t0
    return jsonify({"cards": cards})


def _log_cards(storage, service: ServiceDef, hook_instance: Any, lang: str, cards: list[dict],
               findings: list) -> None:
    storage.log_cards({
        "card_uuid": c["uuid"], "service_id": service.id, "hook": service.hook,
        "hook_instance": str(hook_instance)[:200], "topic": f.topic,
        "indicator": f.indicator.value, "rules": c["extension"]["org.spine-cds.result"]["rules"],
        "result": c["extension"]["org.spine-cds.result"], "guideline_version": GUIDELINE_VERSION,
        "language": lang} for c, f in zip(cards, findings, strict=False))


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    service = _service(service_id)
    body = read_json_body("feedback")
    items = body.get("feedback")
    if not isinstance(items, list) or not items:
        raise ServiceError(400, "feedback must be a non-empty list.", expression=["$.feedback"])
    try:
        count = _state().storage.store_feedback(service.id, items)
    except Exception as exc:  # noqa: BLE001
        log.error("feedback write failed", extra={"error_type": type(exc).__name__})
        raise ServiceError(503, "Feedback could not be stored; please retry.") from None
    g.log_fields.update(feedback=count)
    return Response(status=200)
