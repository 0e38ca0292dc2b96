"""PatientFacts builders for the treatment-rule tests (tests/test_treatment.py, tests/test_survival.py)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from spine_guideline.facts import (
    Cancer,
    CancerCategory,
    ConditionRecord,
    Event,
    Fact,
    Medication,
    PatientFacts,
    SearchStatus,
    Source,
)
from spine_guideline.policy import load_policy

from .cases import SEARCHED_TYPES

POLICY = load_policy()
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def ob(name: str, value: Any, level: str | None = None, **attrs: Any) -> Fact:
    return Fact(name, value, (Source("Observation", f"{name}-{level or 'p'}", "2026-11-20"),), level,
                attrs={k: Fact(f"{name}.{k}", v) for k, v in attrs.items()})


def deficit(name: str = "mescc-deficit", *, days: float | None = 2, progressive: bool | None = True) -> Fact:
    attrs: dict[str, Any] = {}
    if days is not None:
        attrs["onset"] = NOW - timedelta(days=days)
    if progressive is not None:
        attrs["progressive"] = progressive
    return ob(name, True, **attrs)


NO_DEFICIT = {"mescc-deficit": False, "severe-neurological-deficit": False, "radicular-deficit": False}
NO_OTHER_DEFICIT = {"severe-neurological-deficit": False, "radicular-deficit": False}


def patient(*, levels: tuple[str | None, ...] = ("L1",), cancers: tuple[str, ...] = ("breast",),
            obs: dict[Any, Any] | None = None, conditions: tuple[str, ...] = (),
            events: tuple[tuple[str, str], ...] = (), meds: tuple[str, ...] = (),
            searches: dict[str, SearchStatus] | None = None, suspected: bool = False) -> PatientFacts:
    observations: dict[tuple[str, str | None], Fact] = {}
    for key, value in (obs or {}).items():
        name, level = key if isinstance(key, tuple) else (key, None)
        observations[(name, level)] = value if isinstance(value, Fact) else ob(name, value, level)
    conds = [ConditionRecord("spinal-metastasis", Source("Condition", f"met-{lvl}", "2026-11-01"), lvl,
                             suspected=suspected) for lvl in levels]
    conds += [ConditionRecord(c, Source("Condition", c, "2026-11-01")) for c in conditions]
    cats = {"multiple-myeloma": CancerCategory.HAEMATOLOGICAL, "non-hodgkin-lymphoma": CancerCategory.HAEMATOLOGICAL}
    cancer_list = [Cancer(c, cats.get(c, CancerCategory.SOLID), Source("Condition", f"ca-{c}")) for c in cancers]
    st = {t: SearchStatus.OK for t in SEARCHED_TYPES}
    st.update(searches or {})
    return PatientFacts(now=NOW, patient_id="p1", cancers=cancer_list, conditions=conds,
                        observations=observations,
                        events=[Event(kind, Source("Procedure", kind), status, date="2026-11-10")
                                for kind, status in events],
                        medications=[Medication(m, Source("MedicationRequest", m)) for m in meds],
                        searches=st)
