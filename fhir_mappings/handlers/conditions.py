"""Condition -> condition records (spinal metastasis at a level, fractures, infections, ...)
and cancer diagnoses (data-dictionary.md, Conditions)."""
from __future__ import annotations

from typing import Any

from spine_guideline.facts import CancerCategory, ConditionRecord, Fact, Source

from ..context import CancerDraft, MappingContext, Resource, safe_id
from ..fhirutil import as_dict, as_list, as_str, ref_type_id, reference, status_code, texts
from ..levels import body_site

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


def map_condition(ctx: MappingContext, res: Resource) -> None:
    cfg = ctx.rules["condition"]
    verification = status_code(res.get("verificationStatus"))
    if not ctx.asserted(res, verification):
        return
    code = res.get("code")
    concept = ctx.concept(code)
    condition_targets = ctx.targets(concept, "condition")
    cancer_targets = ctx.targets(concept, "cancer")
    unrecognised = not condition_targets and not cancer_targets and _looks_like_cancer(ctx, code)
    if not condition_targets and not cancer_targets and not unrecognised:
        return  # nothing the guideline reads
    rid = safe_id(res.get("id"))
    suspected = verification in cfg["suspected_verification"]
    active = status_code(res.get("clinicalStatus")) not in cfg["history_clinical"]
    onset_date, onset_field = onset(ctx, res)
    recorded = as_str(res.get("recordedDate")) or as_str(res.get("onsetDateTime")) or \
        as_str(res.get("assertedDate")) or as_str(res.get("dateRecorded"))
    src = Source("Condition", rid, recorded, concept.display)
    site = body_site(res.get("bodySite"), ctx.term)
    for t, _coding in condition_targets:
        if not ctx.depends_ok(t, site):
            continue
        for lvl in (site.levels or (None,)):
            ctx.add_condition(ConditionRecord(t.code, src, lvl, suspected, active, onset_date, onset_field,
                                              t.product.get("subtype")))
    types: dict[str, tuple[str, str]] = {}
    for t, coding in cancer_targets:
        types.setdefault(t.code, (coding[0] or "", coding[1] or ""))
    if unrecognised:
        first = concept.codings[0] if concept.codings else (None, None, None)
        code_str = f"{first[0] or ''}|{first[1] or ''}" if first[1] else None
        types["unrecognised"] = (first[0] or "", first[1] or "")
        ctx.warn("Condition", rid, f"unrecognised cancer code {code_str or '(text only)'}: "
                 "not classified; add it to the site's mapping file")
    if not types:
        return
    best = max(_CANCER_RANK.get(c, 3) for c in types)
    chosen = [c for c in types if _CANCER_RANK.get(c, 3) == best]
    if len(chosen) > 1:
        ctx.warn("Condition", rid, f"codes give several cancer types ({', '.join(sorted(chosen))})")
    proof = _histology_evidence(ctx, res, src)
    for ctype in chosen:
        system, c = types[ctype]
        ctx.cancer_drafts.append(CancerDraft(
            ctype, CancerCategory(ctx.term.cancer_category[ctype]), src, onset_date, onset_field, active, suspected,
            proof, f"{system}|{c}" if c else None, as_str(res.get("id"))))


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
                rsrc = ctx.source(report, as_str(report.get("issued")) or as_str(report.get("effectiveDateTime")))
                return Fact("histologically-proven", True, (src, rsrc), note="pathology report")
    return None
