"""One patient through the guideline: resources -> facts -> findings -> cards.

Shared by the HTTP service (hooks.py) and the offline ``spine-cds evaluate``
command, so both give the same cards for the same data.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir_mappings import MappingSettings, build_facts
from spine_guideline.engine import evaluate_hook
from spine_guideline.facts import PatientFacts, SearchStatus
from spine_guideline.findings import Finding
from spine_guideline.policy import Policy

from .cards import DEFAULT_BASE_URL, RenderContext, render_card
from .i18n import Catalogs
from .services import ServiceDef
from .suggestions import SuggestionContext

#: unrecognised products named on a card at most (the rest counted)
UNRECOGNISED_NAMED = 3


@dataclass
class Outcome:
    facts: PatientFacts
    findings: list[Finding]
    cards: list[dict[str, Any]]
    timing: dict[str, float] = field(default_factory=dict)


def draft_index(draft_orders: Any) -> dict[str, dict]:
    """Draft orders by ``Type/id`` and by ``id``, for update suggestions."""
    index: dict[str, dict] = {}
    entries = draft_orders.get("entry") if isinstance(draft_orders, dict) else draft_orders
    if not isinstance(entries, list):
        return index
    for entry in entries[:1000]:
        res = entry.get("resource", entry) if isinstance(entry, dict) else None
        if isinstance(res, dict) and isinstance(res.get("id"), str) and isinstance(res.get("resourceType"), str):
            index[f"{res['resourceType']}/{res['id']}"] = res
            index.setdefault(res["id"], res)
    return index


def run(service: ServiceDef, *, resources: Iterable[Any], searches: Mapping[str, SearchStatus],
        now: datetime, patient_id: str | None, lang: str, policy: Policy, catalogs: Catalogs,
        mapping_settings: MappingSettings | None = None, draft_orders: Any = None,
        selections: Iterable[str] | None = None, failed_types: Iterable[str] = (),
        base_url: str = DEFAULT_BASE_URL) -> Outcome:
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    facts = build_facts(resources, searches=searches, now=now, patient_id=patient_id,
                        draft_orders=draft_orders,
                        selections=selections if service.hook == "order-select" else None,
                        settings=mapping_settings)
    timing["mapping"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    findings = [f for f in evaluate_hook(service.hook, facts, policy, service.modules)
                if f.topic in service.topics]
    timing["rules"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ctx = RenderContext(lang, catalogs, SuggestionContext(patient_id, now, lang, catalogs,
                                                          draft_index(draft_orders)), base_url, policy.site_hash)
    notes = []
    failed = sorted(set(failed_types))
    if failed:
        notes.append(catalogs.text("common.incomplete", lang, types=failed))
    if facts.unrecognised_products:
        named = facts.unrecognised_products[:UNRECOGNISED_NAMED]
        more = len(facts.unrecognised_products) - len(named)
        notes.append(catalogs.text("common.unrecognised-products", lang,
                                   products=[*named, *([f"+{more}"] if more else [])]))
    if facts.warnings:
        notes.append(catalogs.text("common.warnings", lang, count=len(facts.warnings)))
    cards = [render_card(f, ctx, extra_notes=notes) for f in findings]
    timing["render"] = time.perf_counter() - t0
    return Outcome(facts, findings, cards, timing)
