"""Condition -> condition records (spinal metastasis at a level, fractures, infections, ...)
and cancer diagnoses (data-dictionary.md, Conditions)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spine_guideline.facts import CancerCategory, ConditionRecord, Fact, Source

from ..context import CancerDraft, Coding, Concept, MappingContext, ObsRecord, Resource, safe_id
from ..fhirutil import as_dict, as_list, as_str, codings, ref_type_id, reference, status_code, texts
from ..levels import body_site
from ..tables import Target
from .observations import partial_date_end

_CANCER_RANK = {"secondary": 0, "unknown-primary": 1, "unrecognised": 1, "other-solid": 2,
                "other-haematological": 2}
#: the onset of a Condition, in order (STU3 ``assertedDate``, DSTU2 ``dateRecorded`` included)
_ONSET_FIELDS = ("onsetDateTime", "onsetPeriod.start", "recordedDate", "assertedDate", "dateRecorded")


def onset(ctx: MappingContext, res: Resource) -> tuple[Any, str | None]:
    """(onset date, the field it came from) of a Condition."""
    for fld in _ONSET_FIELDS:
        val = as_dict(res.get("onsetPeriod")).get("start") if fld == "onsetPeriod.start" else res.get(fld)
        p = ctx.dt(val)
        if p:
            return p[0].date(), fld
    return None, None


def condition_status(ctx: MappingContext, value: Any) -> str | None:
    """A Condition's clinicalStatus / verificationStatus, lower-cased: a plain code (STU3), else
    the coding of the FHIR status system, else a zib status code read as its FHIR code
    (nl-core-Problem sends both, in either order), else the first code."""
    if isinstance(value, str):
        return status_code(value)
    cfg = ctx.rules["condition"]
    cods = codings(value)
    for system, code, _d in cods:
        if system in cfg["status_systems"] and code:
            return code.lower()
    for system, code, _d in cods:
        mapped = cfg["zib_status_codes"].get(f"{system}|{code}")
        if mapped:
            return str(mapped)
    return status_code(value)

#: the targets of a concept in one domain, each with the coding it came from
_Targets = tuple[tuple[Target, Coding], ...]


@dataclass(frozen=True)
class _Asserted:
    """What every record made from one asserted Condition shares."""

    rid: str | None
    src: Source
    suspected: bool
    active: bool
    onset_date: Any
    onset_field: str | None


def _read_asserted(ctx: MappingContext, res: Resource, concept: Concept, verification: str | None) -> _Asserted:
    cfg = ctx.rules["condition"]
    rid = safe_id(res.get("id"))
    onset_date, onset_field = onset(ctx, res)
    recorded = ctx.date_text(res.get("recordedDate"), res.get("onsetDateTime"), res.get("assertedDate"),
                             res.get("dateRecorded"))
    return _Asserted(rid, Source("Condition", rid, recorded, concept.display),
                     verification in cfg["suspected_verification"],
                     condition_status(ctx, res.get("clinicalStatus")) not in cfg["history_clinical"],
                     onset_date, onset_field)


def _add_condition_records(ctx: MappingContext, res: Resource, a: _Asserted, targets: _Targets) -> None:
    """Condition records (spinal metastasis, fracture, ...): one per level of the bodySite."""
    site = body_site(res.get("bodySite"), ctx.term)
    for t, _coding in targets:
        if not ctx.depends_ok(t, site):
            continue
        for lvl in (site.levels or (None,)):
            ctx.add_condition(ConditionRecord(t.code, a.src, lvl, a.suspected, a.active, a.onset_date, a.onset_field,
                                              t.product.get("subtype")))


def _cancer_types(ctx: MappingContext, a: _Asserted, concept: Concept, targets: _Targets,
                  unrecognised: bool) -> dict[str, tuple[str, str]]:
    """Cancer type -> the (system, code) that gave it; an unrecognised cancer code is warned about."""
    types: dict[str, tuple[str, str]] = {}
    for t, coding in targets:
        types.setdefault(t.code, (coding[0] or "", coding[1] or ""))
    if unrecognised:
        first = concept.codings[0] if concept.codings else (None, None, None)
        code_str = f"{first[0] or ''}|{first[1] or ''}" if first[1] else None
        types["unrecognised"] = (first[0] or "", first[1] or "")
        ctx.warn("Condition", a.rid, f"unrecognised cancer code {code_str or '(text only)'}: "
                 "not classified; add it to the site's mapping file")
    return types


def _add_cancers(ctx: MappingContext, res: Resource, a: _Asserted, types: dict[str, tuple[str, str]]) -> None:
    """Cancer drafts of the most specific type(s) the codes give (several: warned)."""
    best = max(_CANCER_RANK.get(c, 3) for c in types)
    chosen = [c for c in types if _CANCER_RANK.get(c, 3) == best]
    if len(chosen) > 1:
        ctx.warn("Condition", a.rid, f"codes give several cancer types ({', '.join(sorted(chosen))})")
    proof = _histology_evidence(ctx, res, a.src)
    for ctype in chosen:
        system, c = types[ctype]
        ctx.cancer_drafts.append(CancerDraft(
            ctype, CancerCategory(ctx.term.cancer_category[ctype]), a.src, a.onset_date, a.onset_field, a.active,
            a.suspected, proof, f"{system}|{c}" if c else None, as_str(res.get("id"))))


def map_condition(ctx: MappingContext, res: Resource) -> None:
    verification = condition_status(ctx, res.get("verificationStatus"))
    code = res.get("code")
    concept = ctx.concept(code)
    if ctx.targets(concept, "finding") and not ctx.status_ignored(res, status_code(res.get("status"))) \
            and verification != "entered-in-error":
        _findings(ctx, res, concept, verification)
    if not ctx.asserted(res, verification):
        return
    condition_targets = ctx.targets(concept, "condition")
    cancer_targets = ctx.targets(concept, "cancer")
    unrecognised = not condition_targets and not cancer_targets and _looks_like_cancer(ctx, code)
    if not condition_targets and not cancer_targets and not unrecognised:
        return  # nothing the guideline reads
    asserted = _read_asserted(ctx, res, concept, verification)
    _add_condition_records(ctx, res, asserted, condition_targets)
    types = _cancer_types(ctx, asserted, concept, cancer_targets, unrecognised)
    if types:
        _add_cancers(ctx, res, asserted, types)


def _findings(ctx: MappingContext, res: Resource, concept: Concept, verification: str | None) -> None:
    """A symptom or deficit recorded as a Condition is that observation fact: true while active,
    false when refuted or no longer active; dated by its record (else its onset, which is
    also the fact's onset), laterality from the bodySite laterality. Progression is not
    recorded in a Condition and stays unknown."""
    cfg = ctx.rules["condition"]
    clinical = condition_status(ctx, res.get("clinicalStatus"))
    value = verification not in cfg["ignored_verification"] and clinical not in cfg["history_clinical"]
    note = "Condition refuted" if verification in cfg["ignored_verification"] else \
        f"Condition {clinical}" if clinical in cfg["history_clinical"] else \
        "Condition suspected" if verification in cfg["suspected_verification"] else None
    date_str = ctx.date_text(res.get("recordedDate"), res.get("assertedDate"), res.get("dateRecorded"),
                              res.get("onsetDateTime"), as_dict(res.get("onsetPeriod")).get("start"))
    when = ctx.dt(date_str)
    src = Source("Condition", safe_id(res.get("id")), date_str, concept.display)
    site = body_site(res.get("bodySite"), ctx.term)
    onset_value = res.get("onsetDateTime") or as_dict(res.get("onsetPeriod")).get("start")
    onset_at = ctx.dt(onset_value)
    laterality = _laterality(ctx, res.get("bodySite"))
    for name in ctx.kinds("finding", res.get("code")):
        attrs: dict[str, Fact] = {}
        if onset_at:
            end = partial_date_end(onset_value, onset_at[0], ctx.now)
            attrs["onset"] = Fact(f"{name}.onset", end if end is not None else onset_at[0], (src,))
        if laterality is not None:
            attrs["laterality"] = Fact(f"{name}.laterality", laterality, (src,))
        ctx.obs.append(ObsRecord(name, list(site.levels), when[0] if when else None, when[1] if when else False,
                                 value, None, attrs, src, note, (None, None), site.regions))


def _laterality(ctx: MappingContext, body_sites: Any) -> str | None:
    """``unilateral`` / ``bilateral`` from the laterality extension of a bodySite (nl-core
    ext-AnatomicalLocation.Laterality, zib2017 BodySite-Qualifier)."""
    urls = ctx.rules["laterality_extensions"]
    for site in as_list(body_sites):
        for ext in as_list(as_dict(site).get("extension")):
            if isinstance(ext, dict) and ext.get("url") in urls:
                for system, code, _d in codings(ext.get("valueCodeableConcept")):
                    ans = ctx.term.answer("laterality", system, code)
                    if ans is not None:
                        return ans
    return None


def _looks_like_cancer(ctx: MappingContext, code: Any) -> bool:
    hints = ctx.rules["cancer_text_hints"]
    blob = " ".join(texts(code)).lower()
    if not blob:
        return False
    if any(x in blob for x in hints.get("exclude", [])):
        return False
    return any(x in blob for x in hints.get("include", []))


def _histology_evidence(ctx: MappingContext, res: Resource, src: Source) -> Fact | None:
    """Positive evidence of histological proof on the cancer Condition itself: the mCODE
    histology extension, or ``evidence.detail`` to a pathology DiagnosticReport."""
    for ext in as_list(res.get("extension")):
        if isinstance(ext, dict) and ext.get("url") in ctx.term.histology_urls:
            return Fact("histologically-proven", True, (src,), note="histology-morphology-behavior")
    for ev in as_list(res.get("evidence")):
        for det in as_list(as_dict(ev).get("detail")):
            t, i = ref_type_id(reference(det))
            if t != "DiagnosticReport" or i is None:
                continue
            report = ctx.index.get(("DiagnosticReport", i))
            if report is None:
                continue
            cats = as_list(report.get("category")) + as_list(report.get("code"))
            if ctx.lookup_all("report-category", cats) and \
                    not ctx.status_ignored(report, status_code(report.get("status"))):
                rsrc = ctx.source(report, ctx.date_text(report.get("issued"), report.get("effectiveDateTime")))
                return Fact("histologically-proven", True, (src, rsrc), note="pathology report")
    return None
