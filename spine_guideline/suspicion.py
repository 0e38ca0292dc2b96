"""DX-1: suspicion of a spinal metastasis or of MESCC (source 002, DIAGNOSIS)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import RADICULAR, SEVERE, add_missing, add_note, missing_of
from .facts import Fact, PatientFacts, tri_and, tri_or
from .findings import Criterion, Message, Missing, Status, msg
from .keys import DX_ALARM_CRITERION, DX_CANCER, DX_FACT, pick
from .policy import Policy

RULES = ("DX-1",)
SECTION = "diagnosis"

#: the deficits that, when progressive, raise the suspicion of MESCC (with mescc-deficit)
DX1_DEFICITS = (RADICULAR, SEVERE)


def _p(policy: Policy, key: str) -> Any:
    return policy.get(SECTION, key)


@dataclass
class Suspicion:
    value: bool | None                    # DX-1 suspicion (metastasis or MESCC)
    metastasis: bool | None               # back pain with an alarm symptom
    mescc: bool | None                    # increasing radicular/cauda/myelopathic symptoms
    back_pain: Fact
    alarms: dict[str, Fact]
    criteria: list[Criterion] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)


def back_pain_fact(facts: PatientFacts, policy: Policy) -> Fact:
    """``back-pain``, also true when an alarm symptom that is a form of back pain is true (policy)."""
    recorded = facts.obs("back-pain")
    if recorded.is_true:
        return recorded
    implied = [facts.obs(n) for n in _p(policy, "back_pain_implied_by")]
    implied_true = [f for f in implied if f.is_true]
    if implied_true:
        return Fact("back-pain", True, tuple(s for f in implied_true for s in f.sources),
                    note="implied-by-alarm-symptom")
    return recorded


def suspicion(facts: PatientFacts, policy: Policy) -> Suspicion:
    back_pain = back_pain_fact(facts, policy)
    alarms = {name: facts.obs(name) for name in _p(policy, "alarm_symptoms")}
    any_alarm = tri_or(*alarms.values())
    metastasis = tri_and(back_pain, any_alarm)

    criteria = [Criterion("dx.crit.back-pain", Status.of(back_pain.value), "DX-1", (back_pain,))]
    if back_pain.note == "implied-by-alarm-symptom":
        criteria[0] = Criterion("dx.crit.back-pain-implied", Status.MET, "DX-1", (back_pain,))
    for name, fact in alarms.items():
        criteria.append(Criterion(DX_ALARM_CRITERION[name], Status.of(fact.value), "DX-1", (fact,)))

    notes: list[Message] = []
    missing: list[Missing] = []
    mescc_deficit = facts.obs("mescc-deficit")
    parts: list[bool | None] = [mescc_deficit.value]
    used: list[Fact] = [mescc_deficit]
    stricter = _p(policy, "unknown_progression_takes_stricter_row")
    for name in DX1_DEFICITS:
        deficit = facts.obs(name)
        if name == SEVERE and not deficit.is_true:
            continue  # only a recorded severe deficit adds to the picture (see report)
        progressive = deficit.attr("progressive")
        used.extend([deficit, progressive] if deficit.is_true else [deficit])
        prog_value = progressive.value
        if deficit.is_true and prog_value is None and stricter:
            prog_value = True
            add_note(notes, msg("dx.note.policy.unknown-progression", deficit=pick(DX_FACT, name)))
            add_missing(missing, missing_of(progressive, f"{name}.progressive"))
        parts.append(tri_and(deficit, prog_value))
    mescc = tri_or(*parts)
    criteria.append(Criterion("dx.crit.mescc-suspicion", Status.of(mescc), "DX-1", tuple(used)))
    value = tri_or(metastasis, mescc)
    return Suspicion(value, metastasis, mescc, back_pain, alarms, criteria, missing, notes)


def known_malignancy(facts: PatientFacts) -> Fact:
    """Any cancer record (primary, secondary, C80, unrecognised; present or history)
    or a spinal-metastasis Condition."""
    sources = [c.source for c in facts.cancers if not c.suspected]
    sources += [c.source for c in facts.condition_records("spinal-metastasis", include_suspected=False)]
    if sources:
        return Fact("known-malignancy", True, tuple(sources))
    return facts.absent("known-malignancy", None, "Condition")


def known_malignancy_note(facts: PatientFacts) -> Message | None:
    records = [c for c in facts.cancers if not c.suspected]
    primary = [c for c in records if c.is_primary]
    types = sorted({c.cancer_type for c in (primary or records)})
    if not types:
        return None
    return msg("dx.note.known-malignancy", types=[pick(DX_CANCER, t) for t in types])
