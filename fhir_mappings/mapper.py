"""FHIR -> facts: the resources of a CDS Hooks request become :class:`PatientFacts`.

Reads plain JSON dicts, tolerant of whatever real clients send: an odd shape is
read as unknown (with a warning naming type/id and what was wrong, never patient
data). An exception while mapping is a defect of the mapping, not of the data,
and is never turned into "not recorded" facts: :func:`build_facts` raises
:class:`~fhir_mappings.errors.MappingError`.

Reading rules (data-dictionary.md, "General reading rules") are applied here,
so the rules never look at dates or statuses: status filters, suspected vs
confirmed, history, newest wins, freshness, units, vertebral levels and level
binding. The code lists live in ``terminology/`` (see ``tables.py``); each
resource type has its handler in ``handlers/``, over one
:class:`~fhir_mappings.context.MappingContext` per request.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from spine_guideline.facts import PatientFacts, SearchStatus

from .context import MappingContext, Resource
from .fhirutil import as_str
from .handlers.allergies import map_allergy
from .handlers.conditions import map_condition
from .handlers.events import map_diagnostic_report, map_encounter, map_imaging_study, map_procedure, map_service_request
from .handlers.medications import map_medication
from .handlers.observations import map_observation
from .handlers.orders import map_draft_orders
from .resolve import finish_cancers, resolve
from .settings import ENV_EXTRA_MAPPINGS, MappingSettings, load_tables

__all__ = ["ENV_EXTRA_MAPPINGS", "MappingSettings", "build_facts", "load_tables"]

Handler = Callable[[MappingContext, Resource], None]


def _map_patient(ctx: MappingContext, res: Resource) -> None:
    if ctx.patient is None:
        ctx.patient = res


#: resourceType -> handler; other types (Medication: read through references) are not mapped
HANDLERS: dict[str, Handler] = {
    "Patient": _map_patient,
    "Condition": map_condition,
    "Observation": map_observation,
    "Procedure": map_procedure,
    "ImagingStudy": map_imaging_study,
    "DiagnosticReport": map_diagnostic_report,
    "ServiceRequest": map_service_request,
    "ProcedureRequest": map_service_request,
    "Encounter": map_encounter,
    "MedicationRequest": map_medication,
    "MedicationStatement": map_medication,
    "MedicationAdministration": map_medication,
    "MedicationOrder": map_medication,
    "AllergyIntolerance": map_allergy,
}
#: mapping order: level binding of Observations needs the Conditions (and draft orders) first
_ORDER = {"DiagnosticReport": 1, "Patient": 1, "Condition": 2, "Observation": 9}


def _searches(raw: Mapping[str, Any] | None, warnings: list[str]) -> dict[str, SearchStatus]:
    out: dict[str, SearchStatus] = {}
    for k, v in (raw or {}).items():
        if isinstance(v, SearchStatus):
            out[k] = v
            continue
        try:
            out[k] = SearchStatus(v)
        except ValueError:
            warnings.append(f"search status for {str(k)[:40]} not understood; read as not searched")
    return out


def _patient(ctx: MappingContext, facts: PatientFacts) -> None:
    if ctx.patient is None:
        return
    bd = ctx.dt(ctx.patient.get("birthDate"))
    facts.birth_date = bd[0].date() if bd else None
    g = as_str(ctx.patient.get("gender"))
    facts.sex = g.lower() if g else None


#: the searches whose absence-reading a medication of unknown drug class makes unknown
_MEDICATION_SEARCHES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationOrder")


def _unknown_products(ctx: MappingContext, facts: PatientFacts) -> None:
    """A counted medication whose product is unknown (unresolved reference, G-Standaard-only
    code) could be any drug: "no corticosteroid" cannot be read, so the medication searches
    count as failed (the facts are unknown, never false)."""
    if ctx.unknown_products:
        for rtype in _MEDICATION_SEARCHES:
            facts.searches[rtype] = SearchStatus.FAILED


def build_facts(resources: Iterable[Any], *, searches: Mapping[str, SearchStatus], now: datetime,
                patient_id: str | None = None, draft_orders: Any = None,
                selections: Iterable[str] | None = None,
                settings: MappingSettings | None = None) -> PatientFacts:
    """Map a request's resources (prefetch + fetched + draft orders) to PatientFacts.

    ``resources``: Bundles (any depth, every page of a searchset), bare
    resources, ``None`` and junk. ``draft_orders``: the CDS Hooks
    ``draftOrders`` (a Bundle, with or without ``type``, or a list).
    ``selections``: order-select references (``"ServiceRequest/abc"``); ``None``
    means every draft order is selected (order-sign).

    Odd input never raises (it is read as unknown, with a warning); a defect of the
    mapping raises :class:`~fhir_mappings.errors.MappingError`.
    """
    settings = settings or MappingSettings()
    ctx = MappingContext(settings.terminology(), settings, now, patient_id)
    facts = PatientFacts(now=now, patient_id=patient_id)
    facts.searches = _searches(searches, ctx.warnings)
    items = ctx.guard("intake", None, ctx.collect, resources if resources is not None else [])
    # draft orders first: their levels are candidates, and they are not planned events
    if draft_orders is not None:
        facts.draft_orders = map_draft_orders(ctx, draft_orders, selections)
    for res in sorted(items, key=lambda r: _ORDER.get(r["resourceType"], 5)):
        handler = HANDLERS.get(res["resourceType"])
        if handler is not None and ctx.subject_ok(res):
            ctx.guard("resource", res, handler, ctx, res)
    ctx.guard("patient", ctx.patient, _patient, ctx, facts)
    facts.conditions = ctx.conditions
    facts.events = ctx.events
    facts.medications = ctx.medications
    _unknown_products(ctx, facts)
    facts.allergies = ctx.allergies
    ctx.guard("resolution", None, resolve, ctx, facts)
    ctx.guard("resolution", None, finish_cancers, ctx, facts)
    facts.warnings = ctx.warnings
    facts.unrecognised_products = ctx.unrecognised_products
    return facts
