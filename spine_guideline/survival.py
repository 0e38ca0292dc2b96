"""Survival prediction for patients with spinal metastases (TX-4).

Only the van der Linden model (Cancer 2005;103:320-8) is computed: its point
table and group medians are in ``data/survival.json``. Bartels and Bollen are
linked, never guessed (spec ``survival-models.md``).

Pure functions over :class:`PatientFacts`; every input is three-valued. With
WHO/ECOG instead of Karnofsky the conversion of the policy table is applied
and stated; ECOG 1 maps to KPS 70-80, which straddles two point categories, so
the estimate becomes a score range with one group per end of the range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from .common import why
from .facts import CancerCategory, Fact, PatientFacts, SearchStatus, Unknown
from .findings import Message, Missing, msg
from .policy import Policy

SECTION = "survival"
MODEL_TYPES = ("breast", "prostate", "lung")


@dataclass(frozen=True)
class SurvivalEstimate:
    """The van der Linden estimate, or why it could not be computed."""

    model: str
    score: int | None = None                   # exact score, when one
    score_range: tuple[int, int] | None = None  # (low, high), when the inputs give a range
    groups: tuple[str, ...] = ()               # one group, or (group of low, group of high)
    medians: tuple[float, ...] = ()            # median survival in months, aligned with groups
    performance_scale: str | None = None       # "karnofsky" | "ecog"
    performance_value: int | None = None       # as recorded
    kps_used: tuple[int, int] | None = None    # KPS (range) the model used after rounding/conversion
    tumour: str | None = None                  # breast / prostate / lung / other
    visceral: bool | None = None
    visceral_searched_only: bool = False       # absent only because no Condition was found
    facts: tuple[Fact, ...] = ()
    missing: tuple[Missing, ...] = ()
    notes: tuple[Message, ...] = ()

    @property
    def computed(self) -> bool:
        return bool(self.groups)

    @property
    def group(self) -> str | None:
        """The group when it is one (also when both ends of a range agree)."""
        return self.groups[0] if self.groups and len(set(self.groups)) == 1 else None

    def in_groups(self, wanted: list[str] | tuple[str, ...]) -> bool | None:
        """Is the patient in one of ``wanted``? Unknown when not computed or when
        the two ends of a range fall on different sides."""
        if not self.groups:
            return None
        answers = {g in wanted for g in self.groups}
        return answers.pop() if len(answers) == 1 else None


@dataclass(frozen=True)
class LifeExpectancy:
    """Is life expectancy above a threshold, and what said so."""

    over: bool | None
    basis: str          # "clinician" | "model" | "none"
    months: float | None
    facts: tuple[Fact, ...] = ()


def _group_of(score: int, policy: Policy) -> tuple[str, float]:
    for row in policy.get(SECTION, "vdl_groups"):
        if row["min"] <= score <= row["max"]:
            return str(row["group"]), float(row["median_months"])
    raise ValueError(f"van der Linden score {score} outside the group table")


def _kps_points(kps: int, policy: Policy) -> int | None:
    for low, high, points in policy.get(SECTION, "vdl_kps_points"):
        if low <= kps <= high:
            return int(points)
    return None


class _Performance(NamedTuple):
    """The performance input of the model: the point options (two for ECOG 1), the
    scale and value recorded, the KPS (range) used, and what it rests on."""

    points: tuple[int, ...] = ()
    scale: str | None = None
    recorded: int | None = None
    kps_used: tuple[int, int] | None = None
    facts: tuple[Fact, ...] = ()
    missing: tuple[Missing, ...] = ()
    notes: tuple[Message, ...] = ()


def _number(fact: Fact) -> bool:
    return isinstance(fact.value, (int, float)) and not isinstance(fact.value, bool)


def _performance(facts: PatientFacts, policy: Policy) -> _Performance:
    kps = facts.obs("karnofsky")
    if _number(kps):
        return _from_karnofsky(kps, policy)
    ecog = facts.obs("ecog")
    if _number(ecog):
        return _from_ecog(ecog, policy)
    return _Performance(missing=(Missing("karnofsky", why(kps)),))


def _from_karnofsky(kps: Fact, policy: Policy) -> _Performance:
    recorded = int(kps.value)
    used = recorded
    notes: list[Message] = []
    if policy.get(SECTION, "kps_round_down_to_decile"):
        used = int(math.floor(recorded / 10) * 10)
        if used != recorded:
            notes.append(msg("tx.survival.note.kps-rounded", recorded=recorded, used=used))
    points = _kps_points(used, policy)
    if points is None:
        return _Performance((), "karnofsky", recorded, None, (kps,), (Missing("karnofsky", Unknown.UNREADABLE.value),))
    return _Performance((points,), "karnofsky", recorded, (used, used), (kps,), (), tuple(notes))


def _from_ecog(ecog: Fact, policy: Policy) -> _Performance:
    """WHO/ECOG converted to a KPS range (stated on the card); ECOG 1 straddles two point categories."""
    recorded = int(ecog.value)
    table = policy.get(SECTION, "ecog_to_kps")
    if str(recorded) not in table:
        return _Performance((), "ecog", recorded, None, (ecog,), (Missing("karnofsky", Unknown.UNREADABLE.value),))
    low, high = table[str(recorded)]
    options = sorted({p for p in (_kps_points(low, policy), _kps_points(high, policy)) if p is not None})
    notes = [msg("tx.survival.note.ecog-converted", ecog=recorded, low=low, high=high)]
    if len(options) > 1:
        notes.append(msg("tx.survival.note.ecog-range", ecog=recorded, low=low, high=high))
    return _Performance(tuple(options), "ecog", recorded, (low, high), (ecog,), (), tuple(notes))


class Tumour(NamedTuple):
    """The model's tumour category (breast / prostate / lung / other) or None, and what it rests on."""

    category: str | None
    facts: tuple[Fact, ...] = ()
    missing: tuple[Missing, ...] = ()
    notes: tuple[Message, ...] = ()


def primary_tumour(facts: PatientFacts, policy: Policy) -> Tumour:
    """The model's tumour category (breast / prostate / lung / other) or None.

    Active primaries are preferred over history; several categories conflict
    (unknown). A suspected primary is not a known one (as in DX-4/DX-5): with
    only suspected primaries the category is unknown, never 'other'."""
    primaries = [c for c in facts.primary_cancers(include_history=True) if not c.suspected]
    active = [c for c in primaries if c.active]
    use = active or primaries
    cats = {c.cancer_type if c.cancer_type in MODEL_TYPES else "other" for c in use}
    sources = tuple(Fact("primary-cancer", c.cancer_type, (c.source,)) for c in use)
    if len(cats) == 1:
        return Tumour(cats.pop(), sources)
    if len(cats) > 1:
        return Tumour(None, sources, (Missing("primary-cancer", Unknown.CONFLICT.value),),
                      (msg("tx.survival.note.several-primaries", types=sorted(cats)),))
    return _no_known_primary(facts, policy)


def _no_known_primary(facts: PatientFacts, policy: Policy) -> Tumour:
    """No confirmed primary: unrecognised codes or suspected primaries are unknown; with a
    successful Condition search and nothing found, 'other' (policy)."""
    unrecognised = [c for c in facts.cancers if c.category == CancerCategory.UNRECOGNISED]
    if unrecognised:
        return Tumour(None, tuple(Fact("primary-cancer", None, (c.source,), unknown=Unknown.UNREADABLE)
                                  for c in unrecognised), (Missing("primary-cancer", Unknown.UNREADABLE.value),))
    suspected = [c for c in facts.primary_cancers(include_history=True) if c.suspected]
    if suspected:
        return Tumour(None, (Fact("primary-cancer", None, tuple(c.source for c in suspected),
                                  unknown=Unknown.NOT_RECORDED, note="suspected"),),
                      (Missing("primary-cancer", Unknown.NOT_RECORDED.value),),
                      (msg("tx.survival.note.suspected-primary"),))
    status = facts.search_status("Condition")
    if status == SearchStatus.OK and policy.get(SECTION, "unknown_primary_as_other"):
        return Tumour("other", notes=(msg("tx.survival.note.unknown-primary-as-other"),))
    why = Unknown.SEARCH_FAILED if status == SearchStatus.FAILED else Unknown.NOT_RECORDED
    return Tumour(None, missing=(Missing("primary-cancer", why.value),))


def visceral_metastases(facts: PatientFacts) -> tuple[bool | None, tuple[Fact, ...], tuple[Missing, ...]]:
    """Present when a Condition or the Observation says so; absent when the
    Observation says no or no Condition is recorded (search ok); else unknown."""
    cond = facts.condition("visceral-metastases")
    obs = facts.obs("visceral-metastases")
    if cond.is_true or obs.is_true:
        return True, tuple(f for f in (cond, obs) if f.is_true), ()
    if obs.is_false or cond.is_false:
        return False, tuple(f for f in (obs, cond) if f.is_false), ()
    return None, (), (Missing("visceral-metastases", why(cond if cond.unknown else obs)),)


def van_der_linden(facts: PatientFacts, policy: Policy) -> SurvivalEstimate:
    perf = _performance(facts, policy)
    tumour = primary_tumour(facts, policy)
    visceral, visc_facts, visc_missing = visceral_metastases(facts)
    common: dict[str, Any] = {"model": policy.get(SECTION, "vdl_model_code"), "performance_scale": perf.scale,
              "performance_value": perf.recorded, "kps_used": perf.kps_used, "tumour": tumour.category,
              "visceral": visceral,
              "visceral_searched_only": visceral is False and not any(f.sources for f in visc_facts),
              "facts": perf.facts + tumour.facts + visc_facts,
              "missing": perf.missing + tumour.missing + visc_missing, "notes": perf.notes + tumour.notes}
    if not perf.points or tumour.category is None or visceral is None:
        return SurvivalEstimate(**common)
    rest = policy.get(SECTION, "vdl_tumour_points")[tumour.category] \
        + policy.get(SECTION, "vdl_visceral_points")["present" if visceral else "absent"]
    scores = sorted({p + rest for p in perf.points})
    grouped = [_group_of(s, policy) for s in scores]
    if len(scores) == 1:
        return SurvivalEstimate(score=scores[0], groups=(grouped[0][0],), medians=(grouped[0][1],), **common)
    return SurvivalEstimate(score=None, score_range=(scores[0], scores[-1]),
                            groups=tuple(g for g, _ in grouped), medians=tuple(m for _, m in grouped),
                            **common)


#: survival-models.md: durations are compared in months rounded to one decimal
COMPARISON_DECIMALS = 1


def months_for_comparison(months: float) -> float:
    """A life expectancy in months as the rules compare it: rounded to one decimal.

    Months are an exact ratio, not calendar months: the mapping converts weeks and
    days with a mean Gregorian month of 365.2425 / 12 = 30.436875 days, so 13 weeks
    are 2.98979... months, which compare as 3.0 (survival-models.md: 13 weeks = 3.0
    months). Without the rounding a clinician's "13 weeks" would fail a 3-month
    minimum by a conversion artefact."""
    return round(float(months), COMPARISON_DECIMALS)


def clinician_life_expectancy(facts: PatientFacts) -> Fact:
    return facts.obs("life-expectancy")


def life_expectancy_over(facts: PatientFacts, policy: Policy, months: float,
                         model_groups_over: list[str] | tuple[str, ...]) -> LifeExpectancy:
    """Is life expectancy above ``months``? A clinician-recorded value takes
    precedence; else the van der Linden group (only ``model_groups_over``
    count as above the threshold); else unknown."""
    le = clinician_life_expectancy(facts)
    if isinstance(le.value, (int, float)) and not isinstance(le.value, bool):
        value = months_for_comparison(le.value)
        return LifeExpectancy(value > months, "clinician", value, (le,))
    est = van_der_linden(facts, policy)
    if est.computed:
        return LifeExpectancy(est.in_groups(model_groups_over), "model", None, est.facts)
    return LifeExpectancy(None, "none", None, ())


__all__ = [
    "LifeExpectancy",
    "SurvivalEstimate",
    "Tumour",
    "clinician_life_expectancy",
    "life_expectancy_over",
    "months_for_comparison",
    "primary_tumour",
    "van_der_linden",
    "visceral_metastases",
]
