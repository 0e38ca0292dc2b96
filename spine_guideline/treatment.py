"""Treatment of spinal metastases: rules TX-1 to TX-10 (source 002, BEHANDELING).

Topics (api-contract): ``treatment-window`` (TX-2a..d, TX-1), ``mdo-referral``
(TX-3, TX-5), ``treatment-modality`` (TX-6, TX-7, TX-7a..c, TX-10),
``rt-dose`` (TX-8a..c), ``survival-estimate`` (TX-4, see ``survival.py``) and
``aftercare`` (TX-9, TX-10).

Entry condition of every topic: a spinal-metastasis Condition (suspected or
confirmed), a cord-compression Condition, or a Bilsky grade >= 2 at some
level. Only positive evidence opens a topic: when none of these is recorded
(or the searches failed) the module stays silent, as for any patient without
a spinal metastasis.

All facts are three-valued. The treatment window enumerates every value an
unknown input could take and keeps the strictest window (guideline.md policy
"unknowns take the stricter row"); inputs whose value would change the window
are listed as missing.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from . import survival
from .facts import (
    CancerCategory,
    Fact,
    PatientFacts,
    SearchStatus,
    Unknown,
    level_index,
    per_evaluation,
    tri_and,
    tri_not,
    tri_or,
)
from .findings import (
    Criterion,
    Finding,
    Indicator,
    Link,
    Message,
    Missing,
    Status,
    Suggestion,
    msg,
)
from .policy import Policy

SECTION = "treatment"
DEFICITS = ("mescc-deficit", "severe-neurological-deficit", "radicular-deficit")
DISCIPLINES = ("treating-specialist", "radiation-oncology", "radiology", "neurology", "spine-surgery")

OVERRIDE_WINDOW = ("tx-mdo-decided-otherwise", "tx-patient-declined", "tx-treatment-started",
                   "tx-data-incorrect")
OVERRIDE_MDO = ("tx-mdo-already-discussed", "tx-patient-declined", "tx-data-incorrect")


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _bool(fact: Fact) -> bool | None:
    return fact.value if isinstance(fact.value, bool) else None


def _num(fact: Fact) -> float | None:
    v = fact.value
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _why(fact: Fact) -> str:
    return (fact.unknown or Unknown.NOT_RECORDED).value


def _miss(fact: Fact, code: str | None = None) -> Missing:
    return Missing(code or fact.name, _why(fact), fact.level)


def _as_datetime(value: Any, like: datetime) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)  # 3.11 reads a trailing Z
        except ValueError:
            return None
    else:
        return None
    if (dt.tzinfo is None) != (like.tzinfo is None):
        dt = dt.replace(tzinfo=like.tzinfo)
    return dt


def whole_days_since(now: datetime, onset: Any) -> int | None:
    """Whole days elapsed since ``onset`` (rounded down), per guideline.md."""
    dt = _as_datetime(onset, now)
    if dt is None:
        return None
    return (now - dt).days


def hours_since(now: datetime, onset: Any) -> float | None:
    dt = _as_datetime(onset, now)
    if dt is None:
        return None
    return (now - dt).total_seconds() / 3600.0


def _dedupe_missing(items: list[Missing]) -> list[Missing]:
    seen: dict[tuple[str, str | None], Missing] = {}
    for m in items:
        seen.setdefault((m.code, m.level), m)
    return list(seen.values())


def _window_message(hours: int) -> Message:
    return msg(f"tx.window.duration.{hours}")


# ---------------------------------------------------------------------------
# Shared derived facts
# ---------------------------------------------------------------------------

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


def radiological_mescc(facts: PatientFacts, policy: Policy) -> Radiological:
    grades = [str(g).lower() for g in policy.get(SECTION, "radiological_mescc_bilsky")]
    high = [f for f in _bilsky_records(facts) if f.value is not None and str(f.value).lower() in grades]
    cc = facts.condition("cord-compression")
    if high or cc.is_true:
        supporting = tuple(high) + ((cc,) if cc.is_true else ())
        return Radiological(True, supporting, [], [f.level or "" for f in high if f.level], bool(high))
    levels = facts.metastatic_levels()
    missing: list[Missing] = []
    if cc.is_unknown:
        missing.append(_miss(cc, "cord-compression"))
    level_facts = [facts.obs("bilsky-grade", lvl) for lvl in levels]
    for lvl, f in zip(levels, level_facts, strict=False):
        if f.is_unknown:
            missing.append(Missing("bilsky-grade", _why(f), lvl))
    if not levels:
        # no metastatic level to ask per level: a patient-wide grade, when recorded, decides
        wide = facts.obs("bilsky-grade")
        if wide.is_known:
            level_facts = [wide]
        else:
            missing.append(_miss(wide, "bilsky-grade"))
    if cc.is_false and level_facts and not missing:
        return Radiological(False, (cc,) + tuple(level_facts), [], [], False)
    return Radiological(None, tuple(f for f in level_facts if f.is_known), missing, [], False)


def in_scope(facts: PatientFacts, policy: Policy) -> bool:
    """Entry condition of every treatment topic (guideline.md conventions)."""
    if facts.condition("spinal-metastasis").is_true or facts.condition("cord-compression").is_true:
        return True
    grades = [str(g).lower() for g in policy.get(SECTION, "radiological_mescc_bilsky")]
    return any(f.value is not None and str(f.value).lower() in grades for f in _bilsky_records(facts))


@per_evaluation
def neurological_deficit(facts: PatientFacts) -> tuple[bool | None, tuple[Fact, ...]]:
    """guideline.md: radicular-deficit, mescc-deficit or severe-neurological-deficit true."""
    fs = tuple(facts.obs(d) for d in DEFICITS)
    return tri_or(*[_bool(f) for f in fs]), fs


def deficit_due_to_mescc(facts: PatientFacts, rad: Radiological) -> bool | None:
    """mescc-deficit (clinical MESCC), or another deficit together with radiological MESCC."""
    mescc = _bool(facts.obs("mescc-deficit"))
    others = tri_or(*[_bool(facts.obs(d)) for d in DEFICITS[1:]])
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


def _max_sins(facts: PatientFacts) -> tuple[int | None, Fact | None]:
    best: tuple[int | None, Fact | None] = (None, None)
    for f in facts.obs_levels("sins").values():
        v = _num(f)
        if v is not None and (best[0] is None or v > best[0]):
            best = (int(v), f)
    return best


# ---------------------------------------------------------------------------
# TX-2: treatment window
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Row:
    hours: int
    rule: str
    situation: str
    policies: frozenset[str] = frozenset()


SEVERE = "severe-neurological-deficit"


def _deficit_row(deficit: str, progressive: bool, rapid: bool, walking: bool, day_limit_hit: bool,
                 hours: dict[str, int], severe_rule: str) -> _Row:
    if progressive and rapid:
        return _Row(hours["TX-2a"], "TX-2a", "rapid",
                    frozenset({"day-limit"}) if day_limit_hit else frozenset())
    if deficit == SEVERE:
        # TX-2b is for a "niet erg uitgesproken" deficit; a severe one is pronounced (policy)
        return _Row(hours[severe_rule], severe_rule, "severe", frozenset({"severe-pronounced"}))
    if progressive:
        if walking:
            return _Row(hours["TX-2b"], "TX-2b", "slow-walking")
        return _Row(hours["TX-2a"], "TX-2a", "slow-not-walking", frozenset({"slow-not-walking"}))
    if walking:
        return _Row(hours["TX-2b"], "TX-2b", "stable-walking", frozenset({"stable-deficit"}))
    return _Row(hours["TX-2a"], "TX-2a", "stable-not-walking", frozenset({"stable-deficit"}))


@dataclass
class WindowDecision:
    row: _Row
    situations: set[str]
    policies: set[str]
    deciding_unknowns: list[str]
    variables: dict[str, bool | None]


def decide_window(variables: dict[str, bool | None], days: dict[str, int | None],
                  policy: Policy) -> WindowDecision:
    """Enumerate the unknown variables; keep the strictest window.

    Variables: ``rad``; per deficit ``d``: ``d`` (present), ``d.progressive``,
    ``d.rapid``; ``ambulatory``.
    """
    hours = policy.get(SECTION, "window_hours")
    limit = policy.get(SECTION, "rapid_progression_max_days")
    severe_rule = policy.get(SECTION, "severe_deficit_pronounced_rule")
    severe_alone_rule = policy.get(SECTION, "severe_deficit_without_mescc_rule")
    unknown = [k for k, v in variables.items() if v is None]

    def is_due(d: str, a: dict[str, bool]) -> bool:
        # mescc-deficit is due to MESCC by definition; another deficit with radiological MESCC;
        # a severe deficit also together with clinical MESCC (it is then the MESCC deficit's severity)
        return bool(a.get(d)) and (d == "mescc-deficit" or a["rad"]
                                   or (d == SEVERE and a["mescc-deficit"]))

    def row_for(a: dict[str, bool]) -> _Row:
        due = [d for d in DEFICITS if is_due(d, a)]
        if due:
            rows = [_deficit_row(d, a[f"{d}.progressive"], a[f"{d}.rapid"], a["ambulatory"],
                                 days.get(d) == limit, hours, severe_rule) for d in due]
            return min(rows, key=lambda r: r.hours)
        if a["rad"]:
            return _Row(hours["TX-2c"], "TX-2c", "radiological")
        if a[SEVERE]:
            # TX-2d is "alleen pijn of een radiculair syndroom": not a severe deficit (policy)
            return _Row(hours[severe_alone_rule], severe_alone_rule, "severe-without-mescc",
                        frozenset({"severe-without-mescc"}))
        return _Row(hours["TX-2d"], "TX-2d", "none")

    combos: list[tuple[dict[str, bool], _Row]] = []
    for values in itertools.product((True, False), repeat=len(unknown)):
        a = {k: bool(v) for k, v in variables.items() if v is not None}
        a.update(dict(zip(unknown, values, strict=False)))
        combos.append((a, row_for(a)))
    best = min(r.hours for _, r in combos)
    at_best = [r for _, r in combos if r.hours == best]
    by_key = {tuple(a[k] for k in unknown): r for a, r in combos}
    deciding: list[str] = []
    for pos, name in enumerate(unknown):
        for key, r in by_key.items():
            flipped = key[:pos] + (not key[pos],) + key[pos + 1:]
            if by_key[flipped].hours != r.hours:
                deciding.append(name)
                break
    policies = set.intersection(*[set(r.policies) for r in at_best])
    return WindowDecision(at_best[0], {r.situation for r in at_best}, policies, deciding, variables)


def _decide_collapsing_unknown_deficits(variables: dict[str, bool | None], days: dict[str, int | None],
                                        policy: Policy) -> WindowDecision:
    """Unknown deficits add nothing when the recorded facts already give the
    strictest window without any deciding unknown: then they are set aside
    (not missing, one situation for the conclusion). Otherwise every unknown
    deficit is enumerated, as any unknown."""
    unknown_deficits = [d for d in DEFICITS if variables[d] is None]
    if unknown_deficits:
        strictest = min(policy.get(SECTION, "window_hours").values())
        known = decide_window({**variables, **{d: False for d in unknown_deficits}}, days, policy)
        if known.row.hours == strictest and not known.deciding_unknowns:
            return WindowDecision(known.row, known.situations, known.policies, [], variables)
    return decide_window(variables, days, policy)


def _treatment_window(facts: PatientFacts, policy: Policy, rad: Radiological) -> Finding:
    limit = policy.get(SECTION, "rapid_progression_max_days")
    variables: dict[str, bool | None] = {"rad": rad.value}
    days: dict[str, int | None] = {}
    deficit_facts = {d: facts.obs(d) for d in DEFICITS}
    var_missing: dict[str, list[Missing]] = {"rad": rad.missing}
    # Every deficit takes its recorded value (a deficit recorded true is never
    # set aside); unknown deficits are enumerated like any other unknown.
    for d, f in deficit_facts.items():
        present = _bool(f)
        variables[d] = present
        var_missing[d] = [_miss(f, d)]
        if present is False:
            continue
        prog = f.attr("progressive")
        onset = f.attr("onset")
        n = whole_days_since(facts.now, onset.value)
        days[d] = n
        if present is None:
            # Whether the deficit exists decides first; were it present, its
            # unknown course would take the strictest row (rapidly progressive),
            # so its onset and progression are asked for once it is recorded.
            variables[f"{d}.progressive"] = True
            variables[f"{d}.rapid"] = True
            continue
        variables[f"{d}.progressive"] = _bool(prog)
        variables[f"{d}.rapid"] = None if n is None else n <= limit
        var_missing[f"{d}.progressive"] = [_miss(prog, f"{d}.progressive")]
        var_missing[f"{d}.rapid"] = [_miss(onset, f"{d}.onset")]
    walking = facts.obs("ambulatory")
    variables["ambulatory"] = _bool(walking)
    var_missing["ambulatory"] = [_miss(walking, "ambulatory")]

    decision = _decide_collapsing_unknown_deficits(variables, days, policy)
    row = decision.row
    rules = [row.rule]

    # criteria: what the window rests on
    criteria: list[Criterion] = [
        Criterion("tx.window.crit.radiological-mescc", Status.of(rad.value), row.rule, rad.facts,
                  {"levels": rad.levels or "-"}),
        Criterion("tx.window.crit.clinical-mescc", Status.of(_bool(deficit_facts["mescc-deficit"])), row.rule,
                  (deficit_facts["mescc-deficit"],)),
    ]
    # criteria show the recorded facts, never the values assumed while enumerating
    for d in DEFICITS[1:]:
        criteria.append(Criterion(f"tx.window.crit.{d}", Status.of(_bool(deficit_facts[d])), row.rule,
                                  (deficit_facts[d],)))
    for d in DEFICITS:
        f = deficit_facts[d]
        if not f.is_true or (d == "radicular-deficit" and rad.value is False):
            continue
        criteria.append(Criterion("tx.window.crit.progressive", Status.of(variables[f"{d}.progressive"]),
                                  row.rule, (f.attr("progressive"),), {"deficit": msg(f"tx.deficit.{d}")}))
        n = days.get(d)
        criteria.append(Criterion("tx.window.crit.rapid", Status.of(variables[f"{d}.rapid"]), row.rule,
                                  (f.attr("onset"),),
                                  {"deficit": msg(f"tx.deficit.{d}"), "days": "?" if n is None else n,
                                   "limit": limit}))
    if any(s not in ("radiological", "none", "severe-without-mescc") for s in decision.situations) or \
            "ambulatory" in \
            decision.deciding_unknowns:
        criteria.append(Criterion("tx.window.crit.ambulatory", Status.of(variables["ambulatory"]), row.rule,
                                  (walking,)))

    missing: list[Missing] = []
    for name in decision.deciding_unknowns:
        missing.extend(var_missing.get(name, []))
    notes: list[Message] = []
    provisional = bool(decision.deciding_unknowns)
    if provisional:
        notes.append(msg("tx.window.note.policy-unknown-stricter", window=_window_message(row.hours)))
    for p in sorted(decision.policies):
        notes.append(msg(f"tx.window.note.policy-{p}", limit=limit))
    if rad.value is True and rad.by_bilsky:
        notes.append(msg("tx.window.note.policy-bilsky", levels=rad.levels))

    # TX-1: dexamethasone dose with a severe deficit
    severe = deficit_facts["severe-neurological-deficit"]
    if severe.is_true:
        rules.insert(0, "TX-1")
        dex = policy.get(SECTION, "dexamethasone")
        active = facts.medication("corticosteroid").is_true
        notes.append(msg("tx.window.note.dexamethasone-active" if active else "tx.window.note.dexamethasone",
                         iv=dex["iv_loading_mg"], low=dex["oral_daily_low_mg"], high=dex["oral_daily_high_mg"]))

    if provisional:
        conclusion = msg("tx.window.conclusion.provisional", window=_window_message(row.hours), rule=row.rule)
        summary = msg("tx.window.summary.provisional", window=_window_message(row.hours), rule=row.rule)
    else:
        situation = next(iter(decision.situations)) if len(decision.situations) == 1 else "generic"
        conclusion = msg(f"tx.window.conclusion.{situation}", window=_window_message(row.hours),
                         rule=row.rule, limit=limit)
        summary = msg("tx.window.summary", window=_window_message(row.hours), rule=row.rule)

    critical_max = policy.get(SECTION, "indicator_critical_max_hours")
    warning_max = policy.get(SECTION, "indicator_warning_max_hours")
    indicator = Indicator.CRITICAL if row.hours <= critical_max else (
        Indicator.WARNING if row.hours <= warning_max else Indicator.INFO)
    return Finding(
        topic="treatment-window", rules=rules, indicator=indicator, summary=summary, conclusion=conclusion,
        result={"windowHours": row.hours, "rule": row.rule}, criteria=criteria,
        missing=_dedupe_missing(missing), notes=notes,
        override_reasons=list(OVERRIDE_WINDOW) if indicator != Indicator.INFO else [])


# ---------------------------------------------------------------------------
# TX-5 and the TX-7 surgery conditions (shared by mdo-referral and treatment-modality)
# ---------------------------------------------------------------------------

@dataclass
class Check:
    key: str
    value: bool | None
    rule: str
    facts: tuple[Fact, ...] = ()
    missing: list[Missing] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def criterion(self) -> Criterion:
        # a decided criterion rests on the known facts; an undecided one also shows what is unknown
        facts = self.facts if self.value is None else tuple(f for f in self.facts if f.is_known or f.searched)
        return Criterion(self.key, Status.of(self.value), self.rule, facts, self.params)


def tx5_checks(facts: PatientFacts, policy: Policy) -> list[Check]:
    """TX-5: involve a spine surgeon when all hold; criteria that do not apply are met."""
    out: list[Check] = []
    fit = facts.obs("fit-for-surgery")
    out.append(Check("tx.crit.fit-for-surgery", _bool(fit), "TX-5", (fit,),
                     [] if fit.is_known else [_miss(fit, "fit-for-surgery")]))

    lesion = facts.obs("complete-cord-lesion")
    max_h = policy.get(SECTION, "complete_cord_lesion_max_hours")
    onset = lesion.attr("onset")
    h = hours_since(facts.now, onset.value)
    recent = None if h is None else h < max_h
    improved = facts.obs("improved-after-corticosteroids")
    value = tri_or(tri_not(_bool(lesion)), recent, _bool(improved))
    miss: list[Missing] = []
    if value is None:
        if lesion.is_unknown:
            miss.append(_miss(lesion, "complete-cord-lesion"))
        else:  # a complete lesion: its onset or the response to corticosteroids decides
            if recent is None:
                miss.append(_miss(onset, "complete-cord-lesion.onset"))
            if improved.is_unknown:
                miss.append(_miss(improved, "improved-after-corticosteroids"))
    out.append(Check("tx.crit.cord-lesion", value, "TX-5", (lesion, onset, improved), miss,
                     {"hours": max_h}))

    max_v = policy.get(SECTION, "max_contiguous_vertebrae")
    acv = facts.obs("affected-contiguous-vertebrae")
    count = _num(acv)
    if count is not None:
        out.append(Check("tx.crit.contiguous", count <= max_v, "TX-5", (acv,), [],
                         {"count": int(count), "max": max_v}))
    else:
        levels = facts.metastatic_levels()
        if levels:
            run = longest_contiguous_run(levels)
            out.append(Check("tx.crit.contiguous-counted", run <= max_v, "TX-5", (acv,), [],
                             {"count": run, "max": max_v, "levels": levels}))
        else:
            out.append(Check("tx.crit.contiguous", None, "TX-5", (acv,),
                             [_miss(acv, "affected-contiguous-vertebrae")], {"count": "?", "max": max_v}))

    deficit, deficit_facts = neurological_deficit(facts)
    s24 = facts.obs("surgery-within-24h-possible")
    value = tri_or(tri_not(deficit), _bool(s24))
    miss = []
    if value is None:
        if deficit is None:
            miss.extend(_miss(f, f.name) for f in deficit_facts if f.is_unknown)
        if s24.is_unknown:
            miss.append(_miss(s24, "surgery-within-24h-possible"))
    out.append(Check("tx.crit.surgery-within-24h", value, "TX-5", (s24, *deficit_facts), miss))
    return out


@per_evaluation
def surgery_checks(facts: PatientFacts, policy: Policy) -> tuple[Check, ...]:
    """TX-7: the conditions under which surgery is preferred."""
    out: list[Check] = []
    mech = facts.obs("mechanical-pain")
    _sins, sins_fact = _max_sins(facts)
    params: dict[str, Any] = {}
    out.append(Check("tx.crit.mechanical-pain", _bool(mech), "TX-7",
                     (mech,) + ((sins_fact,) if sins_fact is not None else ()),
                     [] if mech.is_known else [_miss(mech, "mechanical-pain")], params))
    after = facts.obs("progression-after-rt")
    reirr = facts.obs("re-irradiation-possible")
    value = tri_and(_bool(after), tri_not(_bool(reirr)))
    miss = []
    if value is None:
        if after.is_unknown:
            miss.append(_miss(after, "progression-after-rt"))
        if reirr.is_unknown:
            miss.append(_miss(reirr, "re-irradiation-possible"))
    out.append(Check("tx.crit.progression-after-rt", value, "TX-7", (after, reirr), miss))
    under = facts.obs("progression-under-rt-and-steroids")
    out.append(Check("tx.crit.progression-under-rt", _bool(under), "TX-7", (under,),
                     [] if under.is_known else [_miss(under, "progression-under-rt-and-steroids")]))
    return tuple(out)


def _sins_support_note(facts: PatientFacts, policy: Policy) -> list[Message]:
    sins, sins_fact = _max_sins(facts)
    threshold = policy.get(SECTION, "sins_unstable_min")
    if sins is not None and sins >= threshold and sins_fact is not None:
        return [msg("tx.note.sins-support", score=sins, level=sins_fact.level or "-", threshold=threshold)]
    return []


# ---------------------------------------------------------------------------
# TX-3 / TX-5: MDO referral
# ---------------------------------------------------------------------------

def _mdo_referral(facts: PatientFacts, policy: Policy) -> Finding:
    base = list(policy.get(SECTION, "mdo_base_disciplines"))
    deficit, deficit_facts = neurological_deficit(facts)
    tx5 = tx5_checks(facts, policy)
    tx5_value = tri_and(*[c.value for c in tx5])
    surg = surgery_checks(facts, policy)
    any_surgery = tri_or(*[c.value for c in surg])
    fit = facts.obs("fit-for-surgery")
    # an unknown TX-7 indication could still call for the surgeon, unless the patient is unfit
    surgery_unknown = tx5_value is not True and any_surgery is None and not fit.is_false
    with_surgeon = tx5_value is True or any_surgery is True or tx5_value is None or surgery_unknown

    disciplines = list(base)
    if deficit is True:
        disciplines.append("neurology")
    if with_surgeon:
        disciplines.append("spine-surgery")
    disciplines = [d for d in DISCIPLINES if d in disciplines]

    rules = ["TX-3", "TX-5"]
    criteria = [Criterion(f"tx.mdo.crit.discipline.{d}", Status.MET, "TX-3") for d in base]
    criteria.append(Criterion("tx.mdo.crit.discipline.neurology", Status.of(deficit), "TX-3",
                              tuple(f for f in deficit_facts if f.is_known)))
    criteria.append(Criterion("tx.mdo.crit.discipline.spine-surgery",
                              Status.MET if with_surgeon else Status.NOT_MET, "TX-3"))
    criteria.append(Criterion("tx.mdo.crit.tx5", Status.of(tx5_value), "TX-5"))
    criteria.extend(c.criterion() for c in tx5)
    criteria.extend(c.criterion() for c in surg if c.value is True)

    missing: list[Missing] = []
    notes: list[Message] = []
    if deficit is None:
        missing.extend(_miss(f, f.name) for f in deficit_facts if f.is_unknown)
        notes.append(msg("tx.mdo.note.neurology-if-deficit"))
    if tx5_value is None and any_surgery is not True:
        for c in tx5:
            if c.value is None:
                missing.extend(c.missing)
        notes.append(msg("tx.mdo.note.surgeon-tx5-unknown"))
    elif any_surgery is True and tx5_value is not True:
        notes.append(msg("tx.mdo.note.surgeon-tx7"))
    if surgery_unknown:
        for c in surg:
            if c.value is None:
                missing.extend(c.missing)
        notes.append(msg("tx.mdo.note.surgeon-tx7-unknown"))

    referrals = facts.events_of("mdo-referral")
    suggestions: list[Suggestion] = []
    if referrals:
        indicator = Indicator.INFO
        summary = msg("tx.mdo.summary.referred")
        notes.append(msg("tx.mdo.note.referral-exists",
                         status=msg(f"tx.event-status.{referrals[0].status}"),
                         date=referrals[0].date or "-"))
    else:
        indicator = Indicator(policy.get(SECTION, "mdo_indicator_not_referred"))
        summary = msg("tx.mdo.summary.with-surgeon" if with_surgeon else "tx.mdo.summary")
        suggestions.append(Suggestion("create-mdo-referral", msg("tx.mdo.suggestion"),
                                      {"disciplines": disciplines}))
    return Finding(
        topic="mdo-referral", rules=rules, indicator=indicator, summary=summary,
        conclusion=msg("tx.mdo.conclusion", count=len(disciplines)),
        result={"disciplines": disciplines}, criteria=criteria, missing=_dedupe_missing(missing),
        notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_MDO) if indicator != Indicator.INFO else [])


# ---------------------------------------------------------------------------
# TX-6 / TX-7: treatment modality
# ---------------------------------------------------------------------------

@dataclass
class FastEffect:
    """TX-6 first bullet: is the tumour one with a high chance of a fast effect?"""

    value: bool | None
    facts: tuple[Fact, ...]
    missing: list[Missing]
    notes: list[Message]


def fast_effect_tumour(facts: PatientFacts, policy: Policy) -> FastEffect:
    """Multiple myeloma, non-Hodgkin lymphoma or germ cell tumour (TX-6).

    Not met only when a primary tumour is known and none is of these types.
    Without a known primary (no cancer recorded, or only C80 / metastasis
    codes) the tumour may still be one of them (DX-6): unknown. A suspected
    primary is not a known one (as in DX-4/DX-5): a suspected fast-effect
    tumour, or only suspected primaries, leave it unknown."""
    wanted = set(policy.get(SECTION, "fast_effect_tumours"))
    confirmed = [c for c in facts.cancers if not c.suspected]
    suspected = [c for c in facts.cancers if c.suspected and c.is_primary]
    found = [c for c in confirmed if c.cancer_type in wanted]
    flag = facts.condition("germ-cell-tumour", include_suspected=False)
    if found or flag.is_true:
        return FastEffect(True, tuple(Fact("fast-effect-tumour", True, (c.source,)) for c in found)
                          + ((flag,) if flag.is_true else ()), [], [])
    unrecognised = [c for c in confirmed if c.category == CancerCategory.UNRECOGNISED]
    if unrecognised:
        return FastEffect(None, tuple(Fact("primary-cancer", None, (c.source,), unknown=Unknown.UNREADABLE)
                                      for c in unrecognised),
                          [Missing("primary-cancer", Unknown.UNREADABLE.value)], [])
    suspected_fast = [c.source for c in suspected if c.cancer_type in wanted]
    suspected_fast += list(facts.condition("germ-cell-tumour").sources)  # a flag recorded as suspected only
    primaries = [c for c in confirmed if c.is_primary]
    if suspected_fast or (suspected and not primaries):
        shown = suspected_fast or [c.source for c in suspected]
        return FastEffect(None, (Fact("primary-cancer", None, tuple(shown), unknown=Unknown.NOT_RECORDED,
                                      note="suspected"),),
                          [Missing("primary-cancer", Unknown.NOT_RECORDED.value)],
                          [msg("tx.modality.note.suspected-primary")])
    if primaries:
        return FastEffect(False, (Fact("fast-effect-tumour", False, tuple(c.source for c in primaries)),), [], [])
    status = facts.search_status("Condition")
    why = Unknown.SEARCH_FAILED if status == SearchStatus.FAILED else Unknown.NOT_RECORDED
    return FastEffect(None, tuple(Fact("primary-cancer", c.cancer_type, (c.source,)) for c in facts.cancers),
                      [Missing("primary-cancer", why.value)], [msg("tx.modality.note.primary-unknown")])


def _treatment_modality(facts: PatientFacts, policy: Policy, rad: Radiological) -> Finding:
    due = deficit_due_to_mescc(facts, rad)
    fast_effect = fast_effect_tumour(facts, policy)
    fast, fast_facts = fast_effect.value, fast_effect.facts
    vital = facts.obs("vital-chemotherapy-indication")
    no_other = facts.obs("no-other-treatment-options")
    tx6_reason = tri_or(fast, _bool(vital), _bool(no_other))
    tx6 = tri_and(due, tx6_reason)
    surg = surgery_checks(facts, policy)
    any_surgery = tri_or(*[c.value for c in surg])
    fit = facts.obs("fit-for-surgery")
    adequate = facts.obs("adequate-rt-dose-possible")

    criteria = [
        Criterion("tx.modality.crit.deficit-due-to-mescc", Status.of(due), "TX-6",
                  tuple(facts.obs(d) for d in DEFICITS) + rad.facts),
        Criterion("tx.modality.crit.fast-effect-tumour", Status.of(fast), "TX-6", fast_facts),
        Criterion("tx.modality.crit.vital-chemotherapy", Status.of(_bool(vital)), "TX-6", (vital,)),
        Criterion("tx.modality.crit.no-other-options", Status.of(_bool(no_other)), "TX-6", (no_other,)),
    ]
    criteria.extend(c.criterion() for c in surg)
    criteria.append(Criterion("tx.crit.fit-for-surgery", Status.of(_bool(fit)), "TX-7", (fit,)))
    criteria.append(Criterion("tx.modality.crit.adequate-rt-dose", Status.of(_bool(adequate)), "TX-7",
                              (adequate,)))

    missing: list[Missing] = []
    notes: list[Message] = []
    if tx6 is None:
        # an unknown TX-6 could still make systemic therapy the first choice
        if due is None:
            missing.extend(_miss(facts.obs(d), d) for d in DEFICITS if facts.obs(d).is_unknown)
            missing.extend(rad.missing)
        if tx6_reason is None:
            if fast is None:
                missing.extend(fast_effect.missing)
            for f in (vital, no_other):
                if f.is_unknown:
                    missing.append(_miss(f, f.name))
        notes.append(msg("tx.modality.note.tx6-unknown"))
        if tx6_reason is None and fast is None:
            notes.extend(fast_effect.notes)  # why the tumour type is unknown

    if tx6 is True:
        choice, rules = "systemic-therapy", ["TX-6"]
    elif any_surgery is True and not fit.is_false:
        choice, rules = "surgery", ["TX-7", "TX-7c"]
        if fit.is_unknown:
            missing.append(_miss(fit, "fit-for-surgery"))
            notes.append(msg("tx.modality.note.fitness-unknown"))
    else:
        if any_surgery is True:  # surgery indicated but the patient is unfit
            notes.append(msg("tx.modality.note.unfit-for-surgery"))
        elif any_surgery is None and not fit.is_false:
            for c in surg:
                if c.value is None:
                    missing.extend(c.missing)
            notes.append(msg("tx.modality.note.surgery-unknown"))
        if not adequate.is_false:
            choice, rules = "radiotherapy", ["TX-7"]
            if adequate.is_unknown:
                missing.append(_miss(adequate, "adequate-rt-dose-possible"))
                notes.append(msg("tx.modality.note.adequate-dose-assumed"))
        else:
            choice, rules = "undecided", ["TX-7", "TX-7a", "TX-7c", "TX-10"]
            notes.append(msg("tx.modality.note.options"))
    after = facts.obs("progression-after-rt")
    if after.is_true and "TX-7a" not in rules:
        rules.append("TX-7a")
    if "TX-7a" in rules:
        notes.append(msg("tx.modality.note.tx7a"))
    if choice == "surgery" or choice == "undecided":
        notes.append(msg("tx.modality.note.tx7c"))
    notes.extend(_sins_support_note(facts, policy))
    rules.append("TX-7b")
    notes.append(msg("tx.modality.note.tx7b"))
    return Finding(
        topic="treatment-modality", rules=rules, indicator=Indicator.INFO,
        summary=msg(f"tx.modality.summary.{choice}"), conclusion=msg(f"tx.modality.conclusion.{choice}"),
        result={"firstChoice": choice}, criteria=criteria, missing=_dedupe_missing(missing), notes=notes)


# ---------------------------------------------------------------------------
# TX-8: radiotherapy dose
# ---------------------------------------------------------------------------

def oligometastatic(facts: PatientFacts, policy: Policy) -> Check:
    """TX-8a: the ``oligometastatic`` fact (1-3 lesions in total) decides. Without
    it, a spinal count above the maximum rules TX-8a out; a spinal count within
    it does not prove oligometastatic disease (lesions elsewhere are not
    counted), so it stays unknown."""
    max_lesions = policy.get(SECTION, "oligometastatic_max_lesions")
    oligo = facts.obs("oligometastatic")
    if oligo.is_known:
        return Check("tx.rtdose.crit.oligometastatic", _bool(oligo), "TX-8a", (oligo,), [],
                     {"max": max_lesions})
    count_fact = facts.obs("spinal-metastasis-count")
    count = _num(count_fact)
    counted = False
    if count is None:
        levels = facts.metastatic_levels()
        count = len(levels) if levels else None
        counted = True
    if count is not None and count > max_lesions:
        return Check("tx.rtdose.crit.spinal-count-over", False, "TX-8a",
                     () if counted else (count_fact,), [], {"count": int(count), "max": max_lesions})
    return Check("tx.rtdose.crit.oligometastatic", None, "TX-8a", (), [_miss(oligo, "oligometastatic")],
                 {"max": max_lesions, "count": "?" if count is None else int(count)})


def good_condition(facts: PatientFacts, policy: Policy) -> Check:
    """TX-8b good condition: ``good-general-condition`` when recorded (it
    overrides); else KPS >= 70 or WHO <= 1, each recorded scale judged on its
    own (met when any passes, not met when every recorded scale fails)."""
    ggc = facts.obs("good-general-condition")
    min_kps = policy.get(SECTION, "good_condition_min_kps")
    max_ecog = policy.get(SECTION, "good_condition_max_ecog")
    params = {"kps": min_kps, "ecog": max_ecog}
    if ggc.is_known:
        return Check("tx.rtdose.crit.good-general-condition", _bool(ggc), "TX-8b", (ggc,), [], params)
    kps, ecog = facts.obs("karnofsky"), facts.obs("ecog")
    answers = []
    used = []
    if _num(kps) is not None:
        answers.append(_num(kps) >= min_kps)
        used.append(kps)
    if _num(ecog) is not None:
        answers.append(_num(ecog) <= max_ecog)
        used.append(ecog)
    if not answers:
        return Check("tx.rtdose.crit.performance", None, "TX-8b", (), [_miss(kps, "karnofsky")], params)
    return Check("tx.rtdose.crit.performance", any(answers), "TX-8b", tuple(used), [], params)


def long_life_expectancy(facts: PatientFacts, policy: Policy) -> Check:
    months = policy.get(SECTION, "life_expectancy_long_months")
    groups = policy.get("survival", "over_one_year_groups")
    le = survival.life_expectancy_over(facts, policy, months, groups)
    params = {"months": months, "groups": groups}
    if le.basis == "clinician":
        return Check("tx.rtdose.crit.life-expectancy-clinician", le.over, "TX-8b", le.facts, [],
                     {**params, "value": le.months})
    if le.basis == "model":
        est = survival.van_der_linden(facts, policy)
        return Check("tx.rtdose.crit.life-expectancy-model", le.over, "TX-8b", le.facts,
                     [] if le.over is not None else [Missing("life-expectancy")],
                     {**params, "group": list(est.groups)})
    est = survival.van_der_linden(facts, policy)
    return Check("tx.rtdose.crit.life-expectancy-unknown", None, "TX-8b", (),
                 [Missing("life-expectancy"), *est.missing], params)


def _rt_dose(facts: PatientFacts, policy: Policy) -> Finding:
    schedules = policy.get(SECTION, "rt_schedules")
    a = oligometastatic(facts, policy)
    deficit, deficit_facts = neurological_deficit(facts)
    d = Check("tx.rtdose.crit.deficit", deficit, "TX-8b", tuple(f for f in deficit_facts if f.is_known),
              [] if deficit is not None else [_miss(f, f.name) for f in deficit_facts if f.is_unknown])
    g = good_condition(facts, policy)
    le = long_life_expectancy(facts, policy)
    b_value = tri_and(d.value, g.value, le.value)
    if a.value is True:
        rule = "TX-8a"
    elif b_value is True:
        rule = "TX-8b"
    else:
        rule = "TX-8c"
    could: list[str] = []
    missing: list[Missing] = []
    if rule != "TX-8a" and a.value is None:
        could.append("TX-8a")
        missing.extend(a.missing)
    if rule == "TX-8c" and b_value is None:
        could.append("TX-8b")
        for c in (d, g, le):
            if c.value is None:
                missing.extend(c.missing)
    notes: list[Message] = []
    if could:
        notes.append(msg("tx.rtdose.note.could-change", rules=could))
    if le.key == "tx.rtdose.crit.life-expectancy-model" and d.value is not False and g.value is not False:
        notes.append(msg("tx.rtdose.note.model-used"))  # the model's group decided (or could decide) TX-8b
        # TX-8b only applies with a deficit, and the model was derived without one
        notes.append(msg("tx.rtdose.note.model-deficit-caveat"))
    criteria = [a.criterion(), d.criterion(), g.criterion(), le.criterion()]
    schedule = schedules[rule]
    sched_msg = msg(f"tx.rtdose.schedule.{rule}")
    summary = msg("tx.rtdose.summary.provisional" if could else "tx.rtdose.summary",
                  schedule=sched_msg, rule=rule)
    return Finding(
        topic="rt-dose", rules=[rule], indicator=Indicator.INFO, summary=summary,
        conclusion=msg(f"tx.rtdose.conclusion.{rule}", schedule=sched_msg),
        result={"schedule": schedule, "rule": rule}, criteria=criteria,
        missing=_dedupe_missing(missing), notes=notes)


# ---------------------------------------------------------------------------
# TX-4: survival estimate
# ---------------------------------------------------------------------------

def _survival_estimate(facts: PatientFacts, policy: Policy) -> Finding:
    est = survival.van_der_linden(facts, policy)
    le = survival.clinician_life_expectancy(facts)
    le_months = _num(le)
    result: dict[str, Any] = {"model": est.model}
    if est.score_range is not None:
        result.update(score=None, scoreRange=list(est.score_range), group=list(est.groups),
                      medianSurvivalMonths=list(est.medians))
    else:
        result.update(score=est.score, group=est.group,
                      medianSurvivalMonths=est.medians[0] if est.medians else None)
    result["basis"] = "clinician" if le_months is not None else ("model" if est.computed else "none")
    if le_months is not None:
        result["lifeExpectancyMonths"] = le_months

    notes: list[Message] = []
    if est.performance_scale is not None:
        notes.append(msg(f"tx.survival.input.{est.performance_scale}", value=est.performance_value,
                         low=est.kps_used[0] if est.kps_used else "?",
                         high=est.kps_used[1] if est.kps_used else "?"))
    if est.tumour is not None:
        notes.append(msg("tx.survival.input.tumour", tumour=msg(f"tx.tumour.{est.tumour}")))
    if est.visceral is not None:
        notes.append(msg("tx.survival.input.visceral-present" if est.visceral
                         else "tx.survival.input.visceral-none-recorded" if est.visceral_searched_only
                         else "tx.survival.input.visceral-absent"))
    notes.extend(est.notes)
    deficit, _ = neurological_deficit(facts)
    if deficit is True:
        notes.append(msg("tx.survival.note.deficit-caveat"))
    if le_months is not None:
        notes.append(msg("tx.survival.note.clinician-precedence", months=le_months))

    if le_months is not None:
        summary = msg("tx.survival.summary.clinician", months=le_months)
        conclusion = msg("tx.survival.conclusion.clinician", months=le_months)
    elif est.score_range is not None:
        summary = msg("tx.survival.summary.range", low=est.score_range[0], high=est.score_range[1],
                      groups=list(dict.fromkeys(est.groups)),
                      medians=[str(m) for m in dict.fromkeys(est.medians)])
        conclusion = msg("tx.survival.conclusion.range", low=est.score_range[0], high=est.score_range[1])
    elif est.computed:
        summary = msg("tx.survival.summary", score=est.score, group=est.group, median=est.medians[0])
        conclusion = msg("tx.survival.conclusion", score=est.score, group=est.group, median=est.medians[0])
    else:
        summary = msg("tx.survival.summary.incomplete")
        conclusion = msg("tx.survival.conclusion.incomplete")
    links = [Link(msg("tx.survival.link.van-der-linden"), policy.get("survival", "van_der_linden_url")),
             Link(msg("tx.survival.link.bartels"), policy.get("survival", "bartels_url")),
             Link(msg("tx.survival.link.bollen"), policy.get("survival", "bollen_url"))]
    return Finding(
        topic="survival-estimate", rules=["TX-4"], indicator=Indicator.INFO, summary=summary,
        conclusion=conclusion, result=result,
        missing=[] if le_months is not None else list(est.missing), notes=notes, links=links)


# ---------------------------------------------------------------------------
# TX-9 / TX-10: aftercare
# ---------------------------------------------------------------------------

def _aftercare(facts: PatientFacts, policy: Policy) -> Finding | None:
    treated = facts.events_of("radiotherapy", status="done") + facts.events_of("spinal-surgery", status="done")
    if not treated:
        return None
    latest = max(treated, key=lambda e: e.date or "")
    notes = [msg("tx.aftercare.note.mobilise")]
    steroid = facts.medication("corticosteroid")
    notes.append(msg("tx.aftercare.note.taper-active" if steroid.is_true else "tx.aftercare.note.taper",
                     weeks=policy.get(SECTION, "corticosteroid_taper_weeks")))
    proven = facts.condition("spinal-metastasis", include_suspected=False)
    if proven.is_true:
        notes.append(msg("tx.aftercare.note.leaflet"))
    notes += [msg("tx.aftercare.note.gp-coordinator"), msg("tx.aftercare.note.imaging"),
              msg("tx.aftercare.note.tx10")]
    return Finding(
        topic="aftercare", rules=["TX-9", "TX-10"], indicator=Indicator.INFO,
        summary=msg("tx.aftercare.summary"),
        conclusion=msg("tx.aftercare.conclusion", treatment=msg(f"tx.treatment.{latest.kind}"),
                       date=latest.date or "-"),
        result={"rule": "TX-9"}, notes=notes)


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------

def evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]:
    if not in_scope(facts, policy):
        return []
    rad = radiological_mescc(facts, policy)
    builders: list[Callable[[], Finding | None]] = [
        lambda: _treatment_window(facts, policy, rad),
        lambda: _mdo_referral(facts, policy),
        lambda: _treatment_modality(facts, policy, rad),
        lambda: _rt_dose(facts, policy),
        lambda: _survival_estimate(facts, policy),
        lambda: _aftercare(facts, policy),
    ]
    return [f for f in (b() for b in builders) if f is not None]


def evaluate_orders(facts: PatientFacts, policy: Policy) -> list[Finding]:
    """The contract puts no treatment topic on the order hooks."""
    return []
