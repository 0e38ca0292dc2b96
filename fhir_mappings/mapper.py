"""Placeholder entry point; the mapping layer is being written (issue 3)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from spine_guideline.facts import PatientFacts, SearchStatus


@dataclass(frozen=True)
class MappingSettings:
    pass


def build_facts(resources: Iterable[Any], *, searches: Mapping[str, SearchStatus], now: datetime,
                patient_id: str | None = None, draft_orders: Any = None,
                selections: Iterable[str] | None = None,
                settings: MappingSettings | None = None) -> PatientFacts:
    return PatientFacts(now=now, patient_id=patient_id, searches=dict(searches))
