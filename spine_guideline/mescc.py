"""Radiological and clinical MESCC, the neurological deficit and the treatment
entry condition: what the TX topics share (source 002, TREATMENT)."""
from __future__ import annotations

from dataclasses import dataclass

from .common import NEURO_DEFICITS, as_bool, as_number, missing_of, why
from .facts import Fact, PatientFacts, level_index, tri_and, tri_or
from .findings import Missing
from .policy import Policy

SECTION = "treatment"


@dataclass
class Radiological:
    """Radiological MESCC: Bilsky 2/3 at any level, or a cord-compression Condition."""

    value: bool | None
    facts: tuple[Fact, ...]
    missing: list[Missing]
    levels: list[str]          # levels with Bilsky >= 2
    by_bilsky: bool


def _bilsky_records(facts: PatientFacts) -> list[Fact]:
    out = list(facts.obs_levels("bilsky-grade").values())
    wide = facts.observations.get(("bilsky-grade", None))
    if wide is not None:
        out.append(wide)
    return out


def _mescc_grades(policy: Policy) -> list[str]:
    return [str(g).lower() for g in policy.get(SECTION, "radiological_mescc_bilsky")]


def _high_grades(facts: PatientFacts, policy: Policy) -> list[Fact]:
    """The Bilsky records with a MESCC grade (policy: 2 / 3)."""
    grades = _mescc_grades(policy)
    return [f for f in _bilsky_records(facts) if f.value is not None and str(f.value).lower() in grades]


def _bilsky_to_read(facts: PatientFacts) -> tuple[list[Fact], list[Missing]]:
    """The Bilsky grade per metastatic level, and the levels without one; with no metastatic
    level to ask per level, a patient-wide grade, when recorded, decides."""
    levels = facts.metastatic_levels()
    level_facts = [facts.obs("bilsky-grade", lvl) for lvl in levels]
    missing = [Missing("bilsky-grade", why(f), lvl) for lvl, f in zip(levels, level_facts, strict=False) if f.is_unknown]
    if not levels:
        wide = facts.obs("bilsky-grade")
        if wide.is_known:
            level_facts = [wide]
        else:
            missing.append(missing_of(wide, "bilsky-grade"))
    return level_facts, missing


def radiological_mescc(facts: PatientFacts, policy: Policy) -> Radiological:
    high = _high_grades(facts, policy)
    cc = facts.condition("cord-compression")
    if high or cc.is_true:
        supporting = tuple(high) + ((cc,) if cc.is_true else ())
        return Radiological(True, supporting, [], [f.level or "" for f in high if f.level], bool(high))
    level_facts, bilsky_missing = _bilsky_to_read(facts)
    missing = ([missing_of(cc, "cord-compression")] if cc.is_unknown else []) + bilsky_missing
    if cc.is_false and level_facts and not missing:
        return Radiological(False, (cc,) + tuple(level_facts), [], [], False)
    return Radiological(None, tuple(f for f in level_facts if f.is_known), missing, [], False)


def in_scope(facts: PatientFacts, policy: Policy) -> bool:
    """Entry condition of every treatment topic (guideline.md conventions)."""
    if facts.condition("spinal-metastasis").is_true or facts.condition("cord-compression").is_true:
        return True
    return bool(_high_grades(facts, policy))


@dataclass(frozen=True)
class Deficit:
    """guideline.md: radicular-deficit, mescc-deficit or severe-neurological-deficit true."""

    value: bool | None
    facts: tuple[Fact, ...]   # the three deficits, in NEURO_DEFICITS order


def neurological_deficit(facts: PatientFacts) -> Deficit:
    fs = tuple(facts.obs(d) for d in NEURO_DEFICITS)
    return Deficit(tri_or(*[as_bool(f) for f in fs]), fs)


def deficit_due_to_mescc(facts: PatientFacts, rad: Radiological) -> bool | None:
    """mescc-deficit (clinical MESCC), or another deficit together with radiological MESCC."""
    mescc = as_bool(facts.obs(NEURO_DEFICITS[0]))
    others = tri_or(*[as_bool(facts.obs(d)) for d in NEURO_DEFICITS[1:]])
    return tri_or(mescc, tri_and(others, rad.value))


def longest_contiguous_run(levels: list[str]) -> int:
    idx = sorted(level_index(lvl) for lvl in levels)
    best = run = 0
    prev = None
    for i in idx:
        run = run + 1 if prev is not None and i == prev + 1 else 1
        best = max(best, run)
        prev = i
    return best


def max_sins(facts: PatientFacts) -> tuple[int | None, Fact | None]:
    best: tuple[int | None, Fact | None] = (None, None)
    for f in facts.obs_levels("sins").values():
        v = as_number(f)
        if v is not None and (best[0] is None or v > best[0]):
            best = (int(v), f)
    return best
