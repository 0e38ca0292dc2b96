"""Turns the guideline's abstract suggestions into CDS Hooks suggestions with FHIR R4 resources.

Codings come from ``data/orderables.json``; texts from the message catalogs.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from spine_guideline.findings import Suggestion
from spine_guideline.results import Verdict, VpbkEligibilityResult

from .i18n import Catalogs
from .ids import new_uuid


@dataclass
class SuggestionContext:
    patient_id: str | None
    now: datetime
    lang: str
    catalogs: Catalogs
    draft_orders: Mapping[str, dict] = field(default_factory=dict)  # "Type/id" and "id" -> resource


def load_orderables() -> dict[str, Any]:
    return json.loads((resources.files("cds_service") / "data" / "orderables.json").read_text("utf-8"))


_ORDERABLES = load_orderables()


def _subject(ctx: SuggestionContext) -> dict[str, str]:
    return {"reference": f"Patient/{ctx.patient_id}"} if ctx.patient_id else {}


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _service_request(ctx: SuggestionContext, order: str, text: str, **extra: Any) -> dict[str, Any]:
    spec = _ORDERABLES["orders"][order]
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": new_uuid(),
        "status": "draft",
        "intent": "order",
        "code": {"coding": [dict(c, display=text) for c in spec["coding"]], "text": text},
        "authoredOn": _iso(ctx.now),
    }
    if ctx.patient_id:
        res["subject"] = _subject(ctx)
    res.update(extra)
    return res


def _mri(s: Suggestion, ctx: SuggestionContext) -> list[dict[str, Any]]:
    hours = int(s.params["within_hours"])
    text = ctx.catalogs.text("fhir.mri-whole-spine", ctx.lang)
    res = _service_request(ctx, "mri-whole-spine", text, priority=s.params.get("priority", "routine"),
                           occurrenceDateTime=_iso(ctx.now + timedelta(hours=hours)),
                           reasonCode=[{"text": ctx.catalogs.text("fhir.mri-whole-spine.reason", ctx.lang,
                                                                  hours=hours, rule=s.params.get("rule", "DX-2"))}])
    return [{"type": "create", "description": ctx.catalogs.text("fhir.action.create", ctx.lang, what=text),
             "resource": res}]


_ATOMS = frozenset((str, int, float, bool, type(None)))


def _json_copy(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists, atoms), several times cheaper than
    copy.deepcopy; anything else is handed to copy.deepcopy."""
    kind = type(value)
    if kind is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy(v) for v in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


def _draft(ctx: SuggestionContext, order_id: str) -> dict[str, Any] | None:
    found = ctx.draft_orders.get(order_id)
    return _json_copy(found) if isinstance(found, dict) else None


def _update_mri(s: Suggestion, ctx: SuggestionContext) -> list[dict[str, Any]]:
    res = _draft(ctx, s.params["order_id"])
    if res is None:
        return []
    hours = s.params.get("within_hours")
    changes = []
    if s.params.get("priority"):
        res["priority"] = s.params["priority"]
        changes.append(f"priority {s.params['priority']}")
    if hours is not None:
        res.pop("occurrencePeriod", None)
        res.pop("occurrenceTiming", None)
        res["occurrenceDateTime"] = _iso(ctx.now + timedelta(hours=int(hours)))
        changes.append(f"≤ {int(hours)} h")
    if s.params.get("whole_spine"):
        text = ctx.catalogs.text("fhir.mri-whole-spine", ctx.lang)
        spec = _ORDERABLES["orders"]["mri-whole-spine"]
        res["code"] = {"coding": [dict(c, display=text) for c in spec["coding"]], "text": text}
        res.pop("bodySite", None)
        changes.append(text)
    return [{"type": "update", "description": ctx.catalogs.text("fhir.action.update", ctx.lang,
                                                                 what=", ".join(changes)),
             "resource": res}]


def _dexamethasone(s: Suggestion, ctx: SuggestionContext) -> list[dict[str, Any]]:
    dex = _ORDERABLES["dexamethasone"]
    text = ctx.catalogs.text("fhir.dexamethasone", ctx.lang)
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": new_uuid(),
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"coding": dex["coding"], "text": text},
        "authoredOn": _iso(ctx.now),
        "dosageInstruction": [
            {"sequence": 1, "text": ctx.catalogs.text("fhir.dexamethasone.loading", ctx.lang),
             "route": {"coding": [dex["loading"]["route"]]},
             "timing": {"repeat": {"count": 1}},
             "doseAndRate": [{"doseQuantity": {"value": dex["loading"]["dose_mg"], "unit": "mg",
                                               "system": "http://unitsofmeasure.org", "code": "mg"}}]},
            {"sequence": 2, "text": ctx.catalogs.text("fhir.dexamethasone.maintenance", ctx.lang),
             "route": {"coding": [dex["maintenance"]["route"]]},
             "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
             "doseAndRate": [{"doseRange": {
                 "low": {"value": dex["maintenance"]["dose_low_mg"], "unit": "mg",
                         "system": "http://unitsofmeasure.org", "code": "mg"},
                 "high": {"value": dex["maintenance"]["dose_high_mg"], "unit": "mg",
                          "system": "http://unitsofmeasure.org", "code": "mg"}}}]},
        ],
    }
    if ctx.patient_id:
        res["subject"] = _subject(ctx)
    return [{"type": "create", "description": ctx.catalogs.text("fhir.action.create", ctx.lang, what=text),
             "resource": res}]


def _mdo(s: Suggestion, ctx: SuggestionContext) -> list[dict[str, Any]]:
    text = ctx.catalogs.text("fhir.mdo-referral", ctx.lang)
    disciplines = [ctx.catalogs.text(f"discipline.{d}", ctx.lang) for d in s.params.get("disciplines", [])]
    extra: dict[str, Any] = {"intent": "order"}
    if disciplines:
        extra["note"] = [{"text": ctx.catalogs.text("fhir.mdo-referral.disciplines", ctx.lang,
                                                    disciplines=disciplines)}]
    res = _service_request(ctx, "mdo-referral", text, **extra)
    return [{"type": "create", "description": ctx.catalogs.text("fhir.action.create", ctx.lang, what=text),
             "resource": res}]


def _labs(s: Suggestion, ctx: SuggestionContext) -> list[dict[str, Any]]:
    lab = s.params.get("lab", "inr")
    names = _ORDERABLES["lab_groups"].get(lab, [lab])
    actions = []
    for name in names:
        spec = _ORDERABLES["labs"].get(name)
        if spec is None:
            continue
        text = ctx.catalogs.text(f"fhir.lab.{name}", ctx.lang)
        res: dict[str, Any] = {
            "resourceType": "ServiceRequest", "id": new_uuid(), "status": "draft", "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007",
                                      "display": "Laboratory procedure"}]}],
            "code": {"coding": spec["coding"], "text": text},
            "reasonCode": [{"text": ctx.catalogs.text("fhir.lab.reason", ctx.lang)}],
            "authoredOn": _iso(ctx.now),
        }
        if ctx.patient_id:
            res["subject"] = _subject(ctx)
        actions.append({"type": "create", "description": ctx.catalogs.text("fhir.action.create", ctx.lang,
                                                                             what=text), "resource": res})
    return actions


def _technique(s: Suggestion, ctx: SuggestionContext) -> list[dict[str, Any]]:
    res = _draft(ctx, s.params["order_id"])
    if res is None:
        return []
    text = ctx.catalogs.text("fhir.vertebroplasty", ctx.lang)
    spec = _ORDERABLES["orders"]["percutaneous-vertebroplasty"]
    res["code"] = {"coding": [dict(c, display=text) for c in spec["coding"]], "text": text}
    return [{"type": "update", "description": ctx.catalogs.text("fhir.action.update", ctx.lang, what=text),
             "resource": res}]


BUILDERS: dict[str, Callable[[Suggestion, SuggestionContext], list[dict[str, Any]]]] = {
    "create-mri-whole-spine": _mri,
    "update-mri-order": _update_mri,
    "create-dexamethasone": _dexamethasone,
    "create-mdo-referral": _mdo,
    "create-lab-order": _labs,
    "update-technique": _technique,
}


def _level_site(level: str, ctx: SuggestionContext) -> dict[str, Any]:
    return {"text": ctx.catalogs.text(f"vpbk.level.{level}", ctx.lang) if ctx.catalogs.has(f"vpbk.level.{level}", ctx.lang)
            else level}


def _ir_referral(level: str, result: VpbkEligibilityResult, ctx: SuggestionContext) -> dict[str, Any]:
    """A referral to interventional radiology for VP/BK at the card's level, with the technique(s)."""
    techniques = [t.value for t in result.technique]
    names = [ctx.catalogs.text(f"fhir.technique.{t}", ctx.lang) for t in techniques]
    text = ctx.catalogs.text("fhir.ir-referral", ctx.lang, level=_level_site(level, ctx)["text"],
                             techniques=" / ".join(techniques))
    spec = _ORDERABLES["orders"]["ir-referral"]
    res = _service_request(ctx, "ir-referral", text,
                           orderDetail=[{"coding": [dict(_ORDERABLES["techniques"][t], display=n)], "text": n}
                                        for t, n in zip(techniques, names, strict=True)],
                           bodySite=[_level_site(level, ctx)],
                           performerType={"text": ctx.catalogs.text("fhir.ir-referral.performer", ctx.lang)},
                           reasonCode=[{"text": ctx.catalogs.text(f"fhir.ir-referral.reason.{result.verdict.value}",
                                                                  ctx.lang)}])
    res["code"]["coding"] = [dict(c, display=text) for c in spec["coding"]]
    return {"label": ctx.catalogs.text("fhir.action.create", ctx.lang, what=text)[:200], "uuid": new_uuid(),
            "isRecommended": True,
            "actions": [{"type": "create", "description": ctx.catalogs.text("fhir.action.create", ctx.lang, what=text),
                         "resource": res}]}


def _mdo_review(level: str, ctx: SuggestionContext) -> dict[str, Any]:
    """The MDO referral for the judgement VPBK-M-1 asks at the card's level."""
    text = ctx.catalogs.text("fhir.mdo-referral", ctx.lang)
    reason = ctx.catalogs.text("fhir.mdo-referral.vpbk-reason", ctx.lang, level=_level_site(level, ctx)["text"])
    res = _service_request(ctx, "mdo-referral", text, bodySite=[_level_site(level, ctx)],
                           reasonCode=[{"text": reason}])
    return {"label": ctx.catalogs.text("fhir.action.create", ctx.lang, what=text)[:200], "uuid": new_uuid(),
            "isRecommended": True,
            "actions": [{"type": "create", "description": reason, "resource": res}]}


def with_level(suggestions: list[dict[str, Any]], level: str, ctx: SuggestionContext) -> None:
    """Gives each created ServiceRequest of a card about one vertebra that vertebra as bodySite."""
    for sug in suggestions:
        for action in sug.get("actions", []):
            res = action.get("resource")
            if action.get("type") == "create" and isinstance(res, dict) and res.get("resourceType") == "ServiceRequest":
                res.setdefault("bodySite", [_level_site(level, ctx)])


def verdict_suggestions(result: VpbkEligibilityResult, kinds: set[str],
                        ctx: SuggestionContext) -> list[dict[str, Any]]:
    """Suggestions that follow from a VP/BK verdict itself (issue 16): an eligible verdict
    (with or without relative contraindications) suggests the referral to interventional
    radiology for the level and technique, unless an order for it is already on the table
    (order hooks: ``orderedTechnique``); ``mdo-review-needed`` suggests the MDO referral,
    unless the finding already suggests one. ``kinds``: the finding's own suggestion kinds."""
    level = result.vertebra
    if not level:
        return []
    if result.verdict in (Verdict.ELIGIBLE, Verdict.ELIGIBLE_RELATIVE) and result.technique \
            and result.ordered_technique is None:
        return [_ir_referral(level, result, ctx)]
    if result.verdict is Verdict.MDO_REVIEW_NEEDED and "create-mdo-referral" not in kinds:
        return [_mdo_review(level, ctx)]
    return []


def render_suggestion(s: Suggestion, ctx: SuggestionContext) -> dict[str, Any] | None:
    """A CDS Hooks suggestion, or None when it cannot be built (e.g. the draft order is gone)."""
    builder = BUILDERS.get(s.kind)
    if builder is None:
        raise ValueError(f"unknown suggestion kind {s.kind!r}")
    actions = builder(s, ctx)
    if not actions:
        return None
    return {"label": ctx.catalogs.render(s.label, ctx.lang)[:200], "uuid": new_uuid(),
            "isRecommended": bool(s.is_recommended), "actions": actions}
