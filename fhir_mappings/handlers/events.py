"""Things done or planned: Procedure, ImagingStudy, DiagnosticReport, ServiceRequest /
ProcedureRequest (existing orders, a held MDO) and Encounter (nl-core
MultidisciplinaryTeamMeeting) -> events (data-dictionary.md, Procedures, orders)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spine_guideline.facts import Event

from ..context import MappingContext, Resource
from ..fhirutil import as_dict, as_list, as_str, cc_text, status_code
from ..levels import WHOLE_SPINE_REGIONS, body_site


def events_from(ctx: MappingContext, res: Resource, cc: Any, status: str, date_str: str | None,
                body_site_value: Any, only: Iterable[str] | None = None) -> None:
    """Events of the kinds ``cc`` codes (restricted to ``only``), at each level of the body site."""
    site = body_site(body_site_value, ctx.term)
    src = ctx.source(res, date_str, cc_text(cc))
    kinds: list[str] = []
    regions: set[str] = set()
    for t, _c in ctx.lookup_all("event", cc):
        if (only is not None and t.code not in only) or not ctx.depends_ok(t, site):
            continue
        if t.code not in kinds:
            kinds.append(t.code)
        if "region" in t.product:
            regions.add(t.product["region"])
    if "mri-segment" in kinds and WHOLE_SPINE_REGIONS <= regions:
        kinds = ["mri-whole-spine" if k == "mri-segment" else k for k in kinds]  # CPT: the three regions at once
    elsewhere = site.present and not site.levels and not site.spine  # a bodySite that names no part of the spine
    for kind in dict.fromkeys(kinds):
        if elsewhere and kind in ctx.rules["spinal_treatment_events"]["kinds"]:
            continue  # e.g. radiotherapy of the brain: not a treatment of the spine
        if kind == "mri-whole-spine":
            ctx.events.append(Event(kind, src, status, None, date_str))
            continue
        for lvl in (site.levels or (None,)):
            ctx.events.append(Event(kind, src, status, lvl, date_str))


def _done(ctx: MappingContext, res: Resource) -> bool:
    status = status_code(res.get("status"))
    if ctx.status_ignored(res, status):
        return False
    return status in ctx.rules["event_done_status"].get(res["resourceType"], [])


def map_procedure(ctx: MappingContext, res: Resource) -> None:
    if not _done(ctx, res):
        return
    period = as_dict(res.get("performedPeriod"))
    date_str = ctx.date_text(res.get("performedDateTime"), period.get("end"), period.get("start"),
                              res.get("performedString"))
    events_from(ctx, res, res.get("code"), "done", date_str, res.get("bodySite"))


def map_imaging_study(ctx: MappingContext, res: Resource) -> None:
    if not _done(ctx, res):
        return
    sites = [s.get("bodySite") for s in as_list(res.get("series")) if isinstance(s, dict) and s.get("bodySite")]
    events_from(ctx, res, as_list(res.get("procedureCode")), "done", ctx.date_text(res.get("started")), sites)


def map_diagnostic_report(ctx: MappingContext, res: Resource) -> None:
    if not _done(ctx, res):
        return
    date_str = ctx.date_text(res.get("effectiveDateTime"), as_dict(res.get("effectivePeriod")).get("end"),
                             res.get("issued"))
    events_from(ctx, res, res.get("code"), "done", date_str, None)


def map_service_request(ctx: MappingContext, res: Resource) -> None:
    """An existing order is a planned event; a completed MDO referral is the meeting held,
    on ``occurrence[x]`` or the last update. Draft orders of the request are not events."""
    rtype = res["resourceType"]
    if (rtype, as_str(res.get("id")) or "") in ctx.draft_keys:
        return
    status = status_code(res.get("status"))
    if ctx.status_ignored(res, status):
        return
    occurrence = (res.get("occurrenceDateTime"), as_dict(res.get("occurrencePeriod")).get("end"))
    if status in ctx.rules["event_planned_status"].get(rtype, []):
        date_str = ctx.date_text(*occurrence, res.get("authoredOn"), res.get("orderedOn"))
        events_from(ctx, res, res.get("code"), "planned", date_str, res.get("bodySite"))
    elif status in ctx.rules["order_done"]["status"]:
        date_str = ctx.date_text(*occurrence, as_dict(res.get("meta")).get("lastUpdated"))
        events_from(ctx, res, res.get("code"), "done", date_str, res.get("bodySite"),
                    only=ctx.rules["order_done"]["kinds"])


def map_encounter(ctx: MappingContext, res: Resource) -> None:
    """A finished nl-core MultidisciplinaryTeamMeeting (Encounter, type SNOMED 384682003) is
    the MDO held, on the end (else the start) of its period."""
    if not _done(ctx, res):
        return
    period = as_dict(res.get("period"))
    date_str = ctx.date_text(period.get("end"), period.get("start"))
    events_from(ctx, res, as_list(res.get("type")), "done", date_str, None, only=ctx.rules["order_done"]["kinds"])
