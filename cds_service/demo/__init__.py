"""The demo: a page that plays EHR with the bundled sample patients (demo mode only).

Routes (registered by the app factory only when ``DEMO`` is true; each also
answers 404 if the blueprint is ever mounted outside demo mode):

- ``GET /demo/``: the page (static HTML + JS, no inline script, strict CSP).
  It sends real CDS Hooks calls to ``/cds-services/{id}`` from the browser.
- ``GET /demo/api/samples``: the sample patients (id, descriptions, hooks,
  draft orders) for the page's pickers.
- ``GET /demo/api/prefetch/{sample}?service={id}``: the prefetch object that
  service's templates would yield for that sample.
- ``GET /demo/api/feedback/{card_uuid}``: the stored feedback rows for a card,
  so the page (and the browser test) can show that feedback was stored.
- ``/demo/fhir``: a read-only FHIR R4 server over the sample bundles, for the
  service's FHIR-server fallback: ``metadata``, ``{Type}/{id}`` reads and
  ``{Type}?patient={id}`` searches (searchset Bundles); everything else is an
  OperationOutcome 4xx.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, json, jsonify, request

from ..errors import FHIR_JSON, issue, outcome_response
from ..services import BY_ID, TEMPLATES, template_resource_type

__all__ = ["bp"]

bp = Blueprint("demo", __name__, url_prefix="/demo", static_folder="static", static_url_path="/static")

#: The page's Content-Security-Policy: scripts, styles and fetches from this origin only; no inline code.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@bp.before_request
def _demo_only():
    if not current_app.config.get("DEMO"):
        abort(404)


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers.setdefault("X-Frame-Options", "DENY")
    return resp


# --------------------------------------------------------------------- samples

class _Index:
    """Which sample holds which patient and resource. Only ids are kept: the resources are
    read afresh on every request, because sample dates are relative to now and must not rot
    in a long-running demo process."""

    def __init__(self) -> None:
        from .. import samples
        self.samples = {s.id: s for s in samples.list_samples()}
        self.by_patient: dict[str, str] = {}
        self.by_ref: dict[str, list[str]] = {}
        for sample in self.samples.values():
            self.by_patient.setdefault(sample.patient_id, sample.id)
            for res in samples.resources(sample.id):
                self.by_ref.setdefault(f"{res['resourceType']}/{res['id']}", []).append(sample.id)
        self.types = {template_resource_type(t) for t in TEMPLATES.values()} | {
            ref.split("/", 1)[0] for ref in self.by_ref}

    @staticmethod
    def resources(sample_id: str) -> list[dict[str, Any]]:
        from .. import samples
        return samples.resources(sample_id)


_index: _Index | None = None
_index_lock = threading.Lock()


def _samples() -> _Index:
    global _index
    if _index is None:
        with _index_lock:
            if _index is None:
                _index = _Index()
    return _index


def _belongs_to(res: dict[str, Any], patient_id: str) -> bool:
    if res.get("resourceType") == "Patient":
        return res.get("id") == patient_id
    for key in ("subject", "patient"):
        value = res.get(key)
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            return value["reference"] == f"Patient/{patient_id}"
    return False


def _sample_or_404(sample_id: str):
    sample = _samples().samples.get(sample_id)
    if sample is None:
        abort(404)
    return sample


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------- page and API

@bp.get("/")
def page():
    return bp.send_static_file("demo.html")


#: draft orders' local codes -> catalog key of their name (the order text in the card language)
_ORDER_NAMES = {"percutaneous-vertebroplasty": "fhir.technique.VP", "balloon-kyphoplasty": "fhir.technique.BK",
                "mri-whole-spine": "fhir.mri-whole-spine"}
_LOINC_MRI = {"24935-9": {"nl": "MRI lumbale wervelkolom", "en": "MRI lumbar spine"}}


def _age(birth: Any, today: date) -> int | None:
    try:
        born = date.fromisoformat(str(birth)[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _concept_text(cc: Any) -> str | None:
    if not isinstance(cc, dict):
        return None
    codings = [c for c in cc.get("coding") or [] if isinstance(c, dict)]
    text = cc.get("text") or next((c.get("display") for c in codings if c.get("display")), None)
    return str(text) if text else None


def banner(resources: Iterable[dict[str, Any]], today: date) -> dict[str, Any]:
    """The patient banner of a sample: name, age, sex and the key problems (active Conditions)."""
    resources = list(resources)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    names = patient.get("name") or [{}]
    name = names[0].get("text") or " ".join([*names[0].get("given", []), names[0].get("family", "")]).strip()
    problems: dict[str, None] = {}
    for res in resources:
        if res.get("resourceType") != "Condition":
            continue
        status = ((res.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
        if status in ("resolved", "inactive", "remission"):
            continue
        text = _concept_text(res.get("code"))
        if text:
            problems[text] = None
    return {"name": name or None, "age": _age(patient.get("birthDate"), today), "sex": patient.get("gender"),
            "birthDate": patient.get("birthDate"), "problems": list(problems)[:4]}


def order_texts(order: dict[str, Any]) -> dict[str, str]:
    """A draft order's name in each card language, with its level: ``{"nl": ..., "en": ...}``."""
    from ..i18n import LANGUAGES
    catalogs = current_app.extensions["spine_cds"].catalogs
    codings = [c for c in (order.get("code") or {}).get("coding") or [] if isinstance(c, dict)]
    sites = [s.get("text") or ((s.get("coding") or [{}])[0].get("code")) for s in order.get("bodySite") or []
             if isinstance(s, dict)]
    out = {}
    for lang in LANGUAGES:
        name = None
        for c in codings:
            key = _ORDER_NAMES.get(str(c.get("code")))
            if key and catalogs.has(key, lang):
                name = catalogs.text(key, lang)
            elif str(c.get("code")) in _LOINC_MRI:
                name = _LOINC_MRI[str(c["code"])][lang]
            if name:
                break
        name = name or _concept_text(order.get("code")) or order.get("resourceType", "?")
        level = next((catalogs.text(f"vpbk.level.{x}", lang) for x in sites if x and catalogs.has(f"vpbk.level.{x}", lang)),
                     None)
        out[lang] = f"{name} {level}" if level else name
    return out


@bp.get("/api/samples")
def api_samples():
    from .. import samples
    today = datetime.now().date()
    return jsonify({"samples": [{
        "id": s.id, "description": s.description, "description_nl": s.description_nl,
        "patientId": s.patient_id, "hooks": list(s.hooks), "draftOrders": list(s.draft_orders),
        "draftOrderTexts": [order_texts(o) for o in s.draft_orders],
        "banner": banner(samples.resources(s.id), today),
    } for s in samples.list_samples()]})


@bp.get("/api/prefetch/<sample_id>")
def api_prefetch(sample_id: str):
    from .. import samples
    sample = _sample_or_404(sample_id)
    service = BY_ID.get(request.args.get("service", ""))
    keys: Iterable[str] = service.prefetch_keys if service else tuple(TEMPLATES)
    if request.args.get("service") and service is None:
        return outcome_response(404, [issue("No CDS service with this id.", code="not-found",
                                            expression=["service"])])
    return jsonify({"prefetch": samples.prefetch(sample.id, tuple(keys))})


@bp.get("/api/feedback/<card_uuid>")
def api_feedback(card_uuid: str):
    rows = current_app.extensions["spine_cds"].storage.feedback_for(card_uuid[:200])
    out = []
    for row in rows:
        row = _plain(dict(row))
        if isinstance(row.get("raw"), str):
            try:
                row["raw"] = json.loads(row["raw"])
            except ValueError:
                pass
        out.append(row)
    return jsonify({"card": card_uuid, "feedback": out})


# --------------------------------------------------------------------- read-only FHIR server

def _fhir(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype=FHIR_JSON)


def _not_found(what: str) -> Response:
    return outcome_response(404, [issue(what, code="not-found")])


@bp.get("/fhir/metadata")
def fhir_metadata():
    idx = _samples()
    return _fhir({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-01-01",
        "kind": "instance",
        "software": {"name": "spine-cds demo FHIR server (read-only sample data)"},
        "implementation": {"description": "Sample patients of the spine-cds demo", "url": request.base_url[:-9]},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "resource": [{
                "type": rtype,
                "interaction": [{"code": "read"}] + ([] if rtype == "Patient" else [{"code": "search-type"}]),
                **({} if rtype == "Patient" else
                   {"searchParam": [{"name": "patient", "type": "reference"}]}),
            } for rtype in sorted(idx.types)],
        }],
    })


@bp.get("/fhir/<rtype>/<rid>")
def fhir_read(rtype: str, rid: str):
    if not _TYPE_RE.match(rtype) or not _ID_RE.match(rid):
        return _not_found("No such resource on the demo FHIR server.")
    idx = _samples()
    ref = f"{rtype}/{rid}"
    holders = idx.by_ref.get(ref, [])
    if len(holders) != 1:
        # Sample files reuse ids like cond-1; a read must not guess which patient is meant.
        return _not_found(f"{ref} is not on the demo FHIR server." if not holders else
                          f"{ref} exists in several sample patients; search by patient instead.")
    for res in idx.resources(holders[0]):
        if res["resourceType"] == rtype and res["id"] == rid:
            return _fhir(res)
    return _not_found(f"{ref} is not on the demo FHIR server.")


@bp.get("/fhir/<rtype>")
def fhir_search(rtype: str):
    idx = _samples()
    if not _TYPE_RE.match(rtype) or rtype not in idx.types:
        return _not_found("The demo FHIR server does not serve this resource type.")
    patient = request.args.get("patient") or request.args.get("subject") or ""
    patient = patient.removeprefix("Patient/")
    if not patient:
        return outcome_response(400, [issue("The demo FHIR server supports only searches by patient "
                                            "(?patient={id}).", code="not-supported",
                                            expression=["patient"])])
    sample_id = idx.by_patient.get(patient)
    matches = [r for r in idx.resources(sample_id) if r["resourceType"] == rtype and _belongs_to(r, patient)] \
        if sample_id else []
    base = request.url_root.rstrip("/") + "/demo/fhir"
    return _fhir({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "link": [{"relation": "self", "url": request.url}],
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r.get('id', '')}", "resource": r,
                   "search": {"mode": "match"}} for r in matches],
    })


@bp.get("/fhir/")
@bp.get("/fhir")
def fhir_root():
    return _not_found("The demo FHIR server has no system-level interactions; see /demo/fhir/metadata.")
