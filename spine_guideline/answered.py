"""Answered deadlines (guideline.md conventions, policy): a deadline card is for
what has not been done yet. TX-2 is answered by radiotherapy or decompressive /
stabilising surgery done at the affected level after its clock started, TX-3 by
a held MDO after the spinal metastasis was diagnosed (DX-2 by a whole-spine MRI:
see :mod:`.mri_window`). A symptom or deficit that started after the action
reopens the deadline. The aftercare card says what answered which deadline."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .common import NEURO_DEFICITS, after, clock_start, earliest_record
from .facts import Event, PatientFacts, Source
from .mescc import Radiological
from .results import Answer

RULES = ("TX-2", "TX-3")
TREATMENTS = ("radiotherapy", "spinal-surgery")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def diagnosed(facts: PatientFacts, rad: Radiological) -> Any:
    """When the spinal metastasis was diagnosed: the earliest spinal-metastasis onset, else
    the earliest cord-compression onset, else the earliest record of radiological MESCC."""
    for name in ("spinal-metastasis", "cord-compression"):
        onsets = [_iso(c.onset) or c.source.date for c in facts.condition_records(name)]
        known = [o for o in onsets if o]
        if known:
            return min(known)
    dates = [d for d in (earliest_record(f) for f in rad.facts) if d]
    return min(dates) if dates else None


def reopened(facts: PatientFacts, action_date: Any) -> bool:
    """Whether a deficit recorded true started after ``action_date`` (it reopens the deadline)."""
    for name in NEURO_DEFICITS:
        fact = facts.obs(name)
        if fact.is_true and after(clock_start(fact), action_date) is True:
            return True
    return False


def _at_affected_level(e: Event, levels: set[str]) -> bool:
    """At an affected level; with no level known for the metastasis, anywhere in the spine (the
    mapping keeps no radiotherapy whose bodySite names another part of the body). A treatment
    whose level is not recorded does not answer a deadline whose levels are known."""
    return e.level in levels if levels else True


def treatment_answer(facts: PatientFacts, rad: Radiological, started: Any) -> Answer | None:
    """TX-2: the latest radiotherapy or surgery done at an affected level after ``started``."""
    if started is None:
        return None
    levels = set(facts.metastatic_levels()) | set(rad.levels)
    done = [e for kind in TREATMENTS for e in facts.events_of(kind, status="done")
            if _at_affected_level(e, levels) and after(e.date, started) is True and not reopened(facts, e.date)]
    if not done:
        return None
    latest = max(done, key=lambda e: e.date or "")
    return Answer("TX-2", latest.source, latest.date)


def mdo_answer(facts: PatientFacts, rad: Radiological) -> Answer | None:
    """TX-3: a held MDO (a completed referral, or ``mdo-vpbk-benefit`` judged) after the diagnosis."""
    started = diagnosed(facts, rad)
    if started is None:
        return None
    held: list[tuple[str, Source]] = [(e.date, e.source) for e in facts.events_of("mdo-referral", status="done")
                                      if e.date]
    judged = list(facts.obs_levels("mdo-vpbk-benefit").values())
    wide = facts.observations.get(("mdo-vpbk-benefit", None))
    if wide is not None:
        judged.append(wide)
    for fact in judged:
        when = fact.recorded
        if fact.is_known and when and fact.sources:
            held.append((when, fact.sources[0]))
    held = [(d, s) for d, s in held if after(d, started) is True and not reopened(facts, d)]
    if not held:
        return None
    when, source = max(held, key=lambda h: h[0])
    return Answer("TX-3", source, when)
