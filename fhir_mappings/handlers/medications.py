"""MedicationRequest / MedicationStatement / MedicationAdministration / DSTU2 MedicationOrder
-> active medications by drug class and ingredient, since when; treatments given
(data-dictionary.md, medication rows; ehr-codes.md, MP9 and zib2017 shapes)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from spine_guideline.facts import Event, Medication

from ..context import MappingContext, Resource, safe_id
from ..fhirutil import as_dict, as_list, cc_text, codings, ref_type_id, reference, status_code
from ..references import medication_references

MEDICATION_TYPES = ("MedicationRequest", "MedicationOrder", "MedicationStatement", "MedicationAdministration")


def med_codes(ctx: MappingContext, res: Resource) -> list[Any]:
    """The medication's CodeableConcepts: inline, or the code of the Medication it references
    (contained, or elsewhere in the request by ``Medication/id`` or a Bundle entry's fullUrl)."""
    out: list[Any] = []
    if res.get("medicationCodeableConcept") is not None:
        out.append(res.get("medicationCodeableConcept"))
    med = res.get("medication")
    if isinstance(med, dict):  # R5 CodeableReference
        if med.get("concept") is not None:
            out.append(med.get("concept"))
        if med.get("reference") is not None:
            out.extend(_resolve(ctx, res, med.get("reference")))
    ref = res.get("medicationReference")
    if ref is not None:
        out.extend(_resolve(ctx, res, ref))
    return out


def _resolve(ctx: MappingContext, res: Resource, ref: Any) -> list[Any]:
    r = reference(ref)
    if not r:
        return []
    if r.startswith("#"):
        for c in as_list(res.get("contained")):
            if isinstance(c, dict) and c.get("id") == r[1:]:
                return [c.get("code")]
        return []
    found = ctx.by_url.get(r)
    if found is None:
        t, i = ref_type_id(r)
        found = ctx.index.get((t or "", i or ""))
    if found is None or found.get("resourceType") != "Medication":
        return []
    return [found.get("code")]


def map_medication(ctx: MappingContext, res: Resource) -> None:
    rtype = res["resourceType"]
    status = status_code(res.get("status"))
    if ctx.status_ignored(res, status):
        return
    if rtype == "MedicationStatement" and status_code(res.get("taken")) == "n":
        return  # STU3: recorded as not taken
    rules = ctx.rules
    concepts = med_codes(ctx, res)
    classes: dict[str, tuple[str, str | None]] = {}  # class -> (system|code, ingredient)
    for cc in concepts:
        for t, coding in ctx.lookup_all("medication", cc):
            code, ingredient = classes.get(t.code, (f"{coding[0] or ''}|{coding[1]}", None))
            classes[t.code] = (code, ingredient or t.product.get("ingredient"))
    if not classes:
        _report_unknown_product(ctx, res, concepts, status)
        return
    period = as_dict(res.get("effectivePeriod"))
    started = medication_started(ctx, res)
    date_str = ctx.date_text(res.get("authoredOn"), res.get("effectiveDateTime"), period.get("start"),
                             res.get("dateAsserted"), res.get("dateWritten")) or started
    src = ctx.source(res, date_str, next((cc_text(cc) for cc in concepts if cc_text(cc)), None))
    active = status in rules["medication_active_status"].get(rtype, []) or _recent_administration(ctx, res, status)
    for cls, (code, ingredient) in classes.items():
        if active:
            ctx.medications.append(Medication(cls, src, True, code, ingredient, started))
        # Treatments given (stepped care, VPBK-M-4) count also when completed or stopped.
        if cls in rules.get("given_event_classes", ("systemic-therapy",)) \
                and status in rules["systemic_therapy_given_status"].get(rtype, []):
            ctx.events.append(Event(cls, src, "done", None, date_str))


def _report_unknown_product(ctx: MappingContext, res: Resource, concepts: list[Any], status: str | None) -> None:
    """A product whose drug class cannot be known is reported, never guessed, and makes the
    medication facts unknown (``ctx.unknown_products``) when the resource would have counted:
    a product coded only in a system no table reads for drug classes (the G-Standaard: no
    public table to ATC; a site can map it), or a referenced Medication that is not in the
    request (not fetched, or its read failed) or carries no code."""
    rtype, rid = res["resourceType"], safe_id(res.get("id"))
    systems = ctx.rules["unmapped_product_systems"]
    why = None
    for cc in concepts:
        cods = codings(cc)
        if cods and all(ctx.term.system(s) in systems for s, _c, _d in cods):
            s, c, d = cods[0]
            why = (f"unrecognised product code {s}|{c}: drug class not known; add it (or its ATC code) "
                   "to the site's mapping file")
            name = d or (cc.get("text") if isinstance(cc, dict) else None) or c
            if isinstance(name, str) and name[:120] not in ctx.unrecognised_products:
                ctx.unrecognised_products.append(name[:120])
            break
    if why is None and not any(codings(cc) for cc in concepts) and medication_references(res):
        why = "referenced Medication not in the request nor read from the FHIR server: drug class not known"
    if why is None:
        return
    ctx.warn(rtype, rid, why)
    rules = ctx.rules
    if status in rules["medication_active_status"].get(rtype, []) \
            or status in rules["systemic_therapy_given_status"].get(rtype, []) \
            or _recent_administration(ctx, res, status):
        ctx.unknown_products.append(f"{rtype}/{rid}" if rid else rtype)


def medication_started(ctx: MappingContext, res: Resource) -> str | None:
    """When the medication started: MedicationRequest ``authoredOn`` (an MP9 agreement has
    none: its ext-TimeInterval.Period start, else its ext-RegistrationDateTime);
    MedicationStatement / MedicationAdministration ``effectivePeriod.start`` or
    ``effectiveDateTime``; DSTU2 MedicationOrder ``dateWritten``."""
    urls = ctx.rules["medication_start_extensions"]
    candidates = [res.get("authoredOn"), as_dict(res.get("effectivePeriod")).get("start"),
                  res.get("effectiveDateTime"), res.get("dateWritten")]
    extensions = [e for e in as_list(res.get("extension")) if isinstance(e, dict)]
    candidates += [as_dict(e.get("valuePeriod")).get("start") for e in extensions if e.get("url") in urls["period"]]
    candidates += [e.get("valueDateTime") for e in extensions if e.get("url") in urls["registration"]]
    return ctx.date_text(*candidates)


def _recent_administration(ctx: MappingContext, res: Resource, status: str | None) -> bool:
    """A completed MedicationAdministration counts as active within a window after it was
    given (data dictionary: a loading dose given counts)."""
    recent = ctx.rules["administration_recent"]
    if res["resourceType"] != "MedicationAdministration" or status not in recent["status"]:
        return False
    period = as_dict(res.get("effectivePeriod"))
    for val in (res.get("effectiveDateTime"), period.get("end"), period.get("start")):
        p = ctx.dt(val)
        if p:
            first, last = (p[0], p[0] + timedelta(days=1)) if p[1] else (p[0], p[0])  # a date: that whole day
            return first <= ctx.now and last >= ctx.now - timedelta(hours=recent["hours"])
    return False
