"""The wire format of a finding's result (API contract, ``org.spine-cds.result``).

The rules layer returns typed records (``spine_guideline/results.py``); this
module is the one place that names their JSON keys. One function per record,
in the order of that module; :func:`record_payload` picks the function by the
record's type, and an unknown type is a bug (``TypeError``), never an empty
result. Key order and which keys are left out are part of the contract: cards
are compared byte for byte.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spine_guideline.findings import Finding
from spine_guideline.results import (
    AftercareResult,
    Answer,
    CorticosteroidsResult,
    MdoResult,
    ModalityResult,
    ModelEstimate,
    MriOrderResult,
    MriUrgencyResult,
    PreprocedureResult,
    Result,
    RtDoseResult,
    SinsResult,
    SurvivalResult,
    TreatmentWindowResult,
    VpbkEligibilityResult,
    WorkupResult,
)

Payload = dict[str, Any]


def _mri_urgency(r: MriUrgencyResult) -> Payload:
    return {"windowHours": r.window_hours, "rule": r.rule}


def _mri_order(r: MriOrderResult) -> Payload:
    return {"orderedWithinHours": r.ordered_within_hours, "requiredWithinHours": r.required_within_hours,
            "wholeSpine": r.whole_spine}


def _corticosteroids(r: CorticosteroidsResult) -> Payload:
    return {"advice": r.advice.value if r.advice is not None else None, "rule": r.rule}


def _workup(r: WorkupResult) -> Payload:
    return {"steps": list(r.steps), "reasons": list(r.reasons)}


def _treatment_window(r: TreatmentWindowResult) -> Payload:
    return {"windowHours": r.window_hours, "rule": r.rule}


def _mdo(r: MdoResult) -> Payload:
    return {"disciplines": list(r.disciplines)}


def _modality(r: ModalityResult) -> Payload:
    return {"firstChoice": r.first_choice.value}


def _rt_dose(r: RtDoseResult) -> Payload:
    return {"schedule": r.schedule, "rule": r.rule}


def _survival(r: SurvivalResult) -> Payload:
    """A range gives lists for group and medians (and ``score`` null), one score gives scalars."""
    out: Payload = {"model": r.model}
    if r.score_range is not None:
        out.update(score=None, scoreRange=list(r.score_range), group=list(r.groups),
                   medianSurvivalMonths=list(r.medians))
    else:
        out.update(score=r.score, group=r.group, medianSurvivalMonths=r.medians[0] if r.medians else None)
    out["basis"] = r.basis
    if r.life_expectancy_months is not None:
        out["lifeExpectancyMonths"] = r.life_expectancy_months
    return out


def answer_payload(a: Answer) -> Payload:
    return {"deadline": a.deadline, "reference": a.source.reference, "date": a.date}


def _aftercare(r: AftercareResult) -> Payload:
    out: Payload = {"rule": r.rule}
    if r.answered_by:
        out["answeredBy"] = [answer_payload(a) for a in r.answered_by]
    return out


def _sins(r: SinsResult) -> Payload:
    """``score`` when decided, else ``scoreRange``; the conflict and location fields only when
    there is a conflict."""
    out: Payload = {"vertebra": r.vertebra, "computedFromComponents": r.computed_from_components}
    if r.score is not None:
        out["score"] = r.score
    else:
        out["scoreRange"] = list(r.score_range)
    if r.category is not None:
        out["category"] = r.category
    if r.band is not None:
        out["protocolBand"] = r.band
    out.update(protocolBands=list(r.bands), categories=list(r.categories), conflict=r.conflict)
    if r.recorded is not None:
        out["recordedScore"] = r.recorded
    if r.conflict:
        out["componentRange"] = list(r.component_range)
    out.update(missingComponents=list(r.missing_components), locationFromLevel=r.location_from_level)
    if r.location_conflict:
        out.update(locationConflict=True, recordedLocationPoints=r.recorded_location,
                   levelLocationPoints=r.level_location)
    return out


def _model_estimate(m: ModelEstimate) -> Payload:
    return {"model": m.model, "group": m.group, "medianSurvivalMonths": list(m.medians)}


def _vpbk_eligibility(r: VpbkEligibilityResult) -> Payload:
    """The lists always; ``preferences`` and ``lesionKinds`` when not empty; the rest when set."""
    out: Payload = {
        "verdict": r.verdict.value,
        "pathway": r.pathway.value,
        "vertebra": r.vertebra,
        "technique": [t.value for t in r.technique],
        "techniqueNotes": list(r.technique_notes),
        "absoluteContraindications": list(r.absolute),
        "relativeContraindications": list(r.relative),
        "relativeContraindicationsUnknown": list(r.relative_unknown),
        "unmetConditions": list(r.unmet_conditions),
        "missing": list(r.missing),
        "unmetCriteria": list(r.unmet_criteria),
        "absoluteContraindicationsUnknown": list(r.absolute_unknown),
        "mdoOverrides": list(r.mdo_overrides),
    }
    if r.preferences:
        out["preferences"] = dict(r.preferences)
    if r.lesion_kinds:
        out["lesionKinds"] = list(r.lesion_kinds)
    optional: tuple[tuple[str, Any], ...] = (
        ("indicationPath", r.indication_path),
        ("daysSinceFracture", r.days_since_fracture),
        ("orderedTechnique", r.ordered_technique.value if r.ordered_technique else None),
        ("order", r.order),
        ("steppedCareMissing", list(r.stepped_care_missing) or None),
        ("lifeExpectancyBasis", r.life_expectancy_basis),
        ("survivalModel", _model_estimate(r.survival_model) if r.survival_model else None),
        ("levelFromOrder", r.level_from_order or None),
    )
    out.update((k, v) for k, v in optional if v is not None)
    return out


def _preprocedure(r: PreprocedureResult) -> Payload:
    return {"checks": [{"code": code, "status": status.value} for code, status in r.checks]}


_SERIALISERS: dict[type, Callable[[Any], Payload]] = {
    MriUrgencyResult: _mri_urgency,
    MriOrderResult: _mri_order,
    CorticosteroidsResult: _corticosteroids,
    WorkupResult: _workup,
    TreatmentWindowResult: _treatment_window,
    MdoResult: _mdo,
    ModalityResult: _modality,
    RtDoseResult: _rt_dose,
    SurvivalResult: _survival,
    AftercareResult: _aftercare,
    SinsResult: _sins,
    VpbkEligibilityResult: _vpbk_eligibility,
    PreprocedureResult: _preprocedure,
}


def record_payload(record: Result) -> Payload:
    """The record's own wire fields (without ``rules``)."""
    serialise = _SERIALISERS.get(type(record))
    if serialise is None:
        raise TypeError(f"no wire format for result record {type(record).__name__}")
    return serialise(record)


def finding_payload(f: Finding) -> Payload:
    """The record's wire fields and ``rules``: every rule that fired, each once."""
    out = record_payload(f.result)
    out["rules"] = list(dict.fromkeys(f.rules))
    return out
