"""Shared pieces of the VP/BK eligibility pathways: the accumulator of
criteria, contraindications and missing facts, and the verdict precedence."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .common import why as why_unknown
from .facts import LEVELS, Fact, PatientFacts, Unknown, level_index, sort_levels
from .findings import Criterion, Message, Missing, Status, Suggestion, msg
from .keys import VPBK_FACT, VPBK_LEVEL, pick
from .policy import Policy
from .results import ModelEstimate, Pathway, Technique, Verdict

SECTION = "augmentation"

_MET, _NOT_MET, _UNKNOWN = Status.MET, Status.NOT_MET, Status.UNKNOWN


class Contra(enum.Enum):
    """What a contraindication (or patient condition) that is present does to the verdict."""

    ABSOLUTE = "absolute"            # not-eligible (VPBK-M-6, VPBK-O-5)
    RELATIVE = "relative"            # eligible-relative-contraindications (VPBK-M-7)
    UNMET_CONDITION = "unmet"        # not-eligible, unless an MDO override (VPBK-M-5)


#: verdict precedence (guideline.md): first wins
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)


@dataclass
class Assessment:
    """Everything one pathway found for one vertebra."""

    vertebra: str | None
    pathway: Pathway
    criteria: list[Criterion] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    absolute: list[str] = field(default_factory=list)
    absolute_unknown: list[str] = field(default_factory=list)
    relative: list[str] = field(default_factory=list)
    relative_unknown: list[str] = field(default_factory=list)  # relative contraindications not recorded
    unmet_conditions: list[str] = field(default_factory=list)
    unmet_criteria: list[str] = field(default_factory=list)
    mdo_overrides: list[str] = field(default_factory=list)
    insufficient: bool = False
    mdo_needed: bool = False
    notes: list[Message] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    preferences: dict[str, str] = field(default_factory=dict)
    suggestions: list[Suggestion] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # lesion kinds (non-metastatic pathway)
    # VPBK-T: techniques allowed at the level, and why one is not (codes of data-dictionary.md)
    technique: list[Technique] = field(default_factory=list)
    technique_notes: list[str] = field(default_factory=list)
    indication_path: str | None = None          # "M-1a" | "M-1b" | "M-1c"
    days_since_fracture: int | None = None      # VPBK-O-3
    stepped_care_missing: list[str] = field(default_factory=list)  # VPBK-M-4: neither given nor waived
    life_expectancy_basis: str | None = None    # VPBK-M-5: "clinician" | "model"
    survival_model: ModelEstimate | None = None
    level_from_order: bool = False              # VPBK-M: a level-less metastasis took the order's level
    # order hooks
    ordered_technique: Technique | None = None
    order_id: str | None = None
    order_technique_mismatch: bool = False

    # -- recording ---------------------------------------------------------------
    def rule(self, *rule_ids: str) -> None:
        for r in rule_ids:
            if r not in self.rules:
                self.rules.append(r)

    def crit(self, key: str, value: bool | None, rule: str, /, *facts: Fact, **params: Any) -> bool | None:
        """Record a criterion (met / not met / unknown) and return its value."""
        # Inlined self.rule(rule) and Status.of(value): this runs for every criterion.
        if rule not in self.rules:
            self.rules.append(rule)
        status = _MET if value is True else _NOT_MET if value is False else _UNKNOWN
        self.criteria.append(Criterion(key, status, rule, tuple([f for f in facts if f is not None]), params))
        return value

    def miss(self, code: str, why: str | Fact = Unknown.NOT_RECORDED.value, *,
             level: str | None = None, blocks: bool = True) -> None:
        """A fact needed for the verdict is unknown. ``blocks``: the verdict
        becomes ``insufficient-data`` (else it is only listed)."""
        reason = why_unknown(why) if isinstance(why, Fact) else why
        if not any(m.code == code and m.level == level for m in self.missing):
            self.missing.append(Missing(code, reason, level))
            elsewhere = other_levels_of(why) if isinstance(why, Fact) else []
            if elsewhere:
                self.notes.append(msg("vpbk.note.recorded-at-other-level", fact=pick(VPBK_FACT, code),
                                      levels=[pick(VPBK_LEVEL, x) for x in elsewhere]))
        if blocks:
            self.insufficient = True

    def fail(self, code: str) -> None:
        if code not in self.unmet_criteria:
            self.unmet_criteria.append(code)

    def add_absolute(self, code: str) -> None:
        if code not in self.absolute:
            self.absolute.append(code)

    def add_absolute_unknown(self, code: str) -> None:
        if code not in self.absolute_unknown:
            self.absolute_unknown.append(code)

    def add_relative(self, code: str) -> None:
        if code not in self.relative:
            self.relative.append(code)

    def add_relative_unknown(self, code: str) -> None:
        if code not in self.relative_unknown:
            self.relative_unknown.append(code)

    def add_unmet_condition(self, code: str) -> None:
        if code not in self.unmet_conditions:
            self.unmet_conditions.append(code)

    def require(self, key: str, value: bool | None, rule: str, unmet: str, /, *facts: Fact, missing: str,
                level: str | None = None, why: str | Fact | None = None, blocks: bool = True,
                **params: Any) -> bool | None:
        """A required criterion, three-valued: met; not met -> the unmet criterion
        ``unmet`` (not-eligible); unknown -> the fact ``missing`` is asked for."""
        self.crit(key, value, rule, *facts, **params)
        if value is False:
            self.fail(unmet)
        elif value is None:
            self.miss(missing, why if why is not None else _first_unknown(facts), level=level, blocks=blocks)
        return value

    def contraindication(self, key: str, present: bool | None, rule: str, kind: Contra, code: str, /,
                         *facts: Fact, missing: str, level: str | None = None,
                         why: str | Fact | None = None, **params: Any) -> bool | None:
        """The three-valued contraindication stanza, written once: the criterion "no
        ``code``" (met / not met / unknown); present -> recorded as ``kind``; unknown ->
        the fact ``missing`` is asked for (an unknown relative contraindication caps the
        verdict at eligible-relative-contraindications instead of blocking it). ``why``:
        the fact (or reason) that explains the unknown; by default the first unknown fact."""
        self.crit(key, None if present is None else not present, rule, *facts, **params)
        if present is True:
            {Contra.ABSOLUTE: self.add_absolute, Contra.RELATIVE: self.add_relative,
             Contra.UNMET_CONDITION: self.add_unmet_condition}[kind](code)
        elif present is None:
            reason = why if why is not None else _first_unknown(facts)
            if kind is Contra.RELATIVE:
                self.add_relative_unknown(code)
                self.miss(missing, reason, level=level, blocks=False)
            else:
                self.miss(missing, reason, level=level)
        return present

    # -- outcome -----------------------------------------------------------------
    @property
    def verdict(self) -> Verdict:
        if self.absolute or self.unmet_conditions or self.unmet_criteria:
            return Verdict.NOT_ELIGIBLE
        if self.insufficient:
            return Verdict.INSUFFICIENT_DATA
        if self.mdo_needed or self.absolute_unknown:
            return Verdict.MDO_REVIEW_NEEDED
        if self.relative or self.relative_unknown:
            # an unknown relative contraindication is never worse than either known value
            return Verdict.ELIGIBLE_RELATIVE
        return Verdict.ELIGIBLE


def _first_unknown(facts: tuple[Fact, ...]) -> str | Fact:
    """The fact that explains an unknown criterion: the first unknown one, else "not recorded"."""
    return next((f for f in facts if f.is_unknown), Unknown.NOT_RECORDED.value)


_RECORDED_AT = "recorded at "
_ONLY = " only"


def recorded_elsewhere(facts: PatientFacts, name: str, level: str, fact: Fact) -> list[str]:
    """The other levels a patient-wide entry of ``name`` was recorded at.

    The mapper keeps, for a name that is not level-bound, the newest record
    from any level as the patient-wide entry (``Fact.note`` "recorded at T5").
    Read robustly: the note, or every source of the entry belonging to another
    level's record."""
    levels: set[str] = set()
    if fact.note and fact.note.startswith(_RECORDED_AT):
        levels.update(x.strip() for x in fact.note[len(_RECORDED_AT):].split(","))
    others = {lvl: set(f.sources) for lvl, f in facts.obs_levels(name).items() if lvl != level}
    if fact.sources:
        placed = set().union(*others.values()) if others else set()
        if set(fact.sources) <= placed:
            levels.update(lvl for lvl, srcs in others.items() if srcs & set(fact.sources))
    return [lvl for lvl in sort_levels(levels) if lvl != level]


def other_levels_of(fact: Fact) -> list[str]:
    """The levels named by :func:`level_obs` for a fact recorded only elsewhere."""
    note = fact.note or ""
    if fact.value is not None or not note.startswith(_RECORDED_AT) or not note.endswith(_ONLY):
        return []
    return sort_levels(x.strip() for x in note[len(_RECORDED_AT):-len(_ONLY)].split(","))


def level_obs(facts: PatientFacts, name: str, level: str | None) -> Fact:
    """The observation at the level: the level's own record, else a record
    without bodySite. A record made at another vertebra never speaks for this
    one (a pain score at T5 does not make L1 symptomatic): unknown, with a note."""
    if level is None:
        return facts.obs(name, None)
    own = facts.observations.get((name, level))
    if own is not None:
        return own
    f = facts.obs(name, level)
    elsewhere = recorded_elsewhere(facts, name, level, f) if f.level is None else []
    if elsewhere:
        return Fact(name, None, (), level, Unknown.NOT_RECORDED,
                    note=_RECORDED_AT + ", ".join(elsewhere) + _ONLY)
    return f


def adjacent_levels(level: str) -> set[str]:
    """The level and its neighbours."""
    i = level_index(level)
    return {LEVELS[j] for j in (i - 1, i, i + 1) if 0 <= j < len(LEVELS)}


def vertebral_infection(facts: PatientFacts, level: str) -> tuple[Fact, list[str]]:
    """Osteomyelitis / spondylodiscitis for the vertebra at ``level``: present
    when recorded at the level, an adjacent level (the disc space it shares) or
    without a level; an infection at any other level is returned separately
    (never "absent": the fact is then unknown)."""
    records = facts.condition_records("vertebral-infection")
    near_levels = adjacent_levels(level)
    near = [r for r in records if r.level is None or r.level in near_levels]
    far = [r for r in records if r.level is not None and r.level not in near_levels]
    if near:
        return Fact("vertebral-infection", True, tuple(r.source for r in near), level,
                    note="suspected" if all(r.suspected for r in near) else None), []
    if far:
        levels = sort_levels({r.level for r in far if r.level})
        return Fact("vertebral-infection", None, tuple(r.source for r in far), level,
                    note="recorded at " + ", ".join(levels)), levels
    return facts.condition("vertebral-infection", level), []


def bool_obs(facts: PatientFacts, name: str, level: str | None) -> Fact:
    """A boolean observation at the level (or patient-wide); a non-boolean value reads as unknown."""
    f = level_obs(facts, name, level)
    if f.value is not None and not isinstance(f.value, bool):
        return Fact(f.name, None, f.sources, f.level, Unknown.UNREADABLE, f.attrs)
    return f


def num_obs(facts: PatientFacts, name: str, level: str | None = None) -> Fact:
    f = level_obs(facts, name, level)
    if f.value is not None and (isinstance(f.value, bool) or not isinstance(f.value, (int, float))):
        return Fact(f.name, None, f.sources, f.level, Unknown.UNREADABLE, f.attrs)
    return f


def whole_days(facts: PatientFacts, onset: date) -> int:
    return (facts.now.date() - onset).days


def policy_value(policy: Policy, key: str) -> Any:
    return policy.get(SECTION, key)
