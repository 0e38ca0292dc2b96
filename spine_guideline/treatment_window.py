"""The ``treatment-window`` card: TX-2a..d, the start of treatment, with TX-1's dose.

All facts are three-valued. The window enumerates every value an unknown input
could take and keeps the strictest window (guideline.md policy "unknowns take
the stricter row"); inputs whose value would change the window are listed as
missing.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from .common import NEURO_DEFICITS, RADICULAR, SEVERE, as_bool, days_since, dedupe_missing, missing_of, window_indicator
from .context import Evaluation
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, msg
from .keys import TX_DEFICIT, TX_WINDOW_CONCLUSION, TX_WINDOW_DEFICIT_CRITERION, TX_WINDOW_DURATION, TX_WINDOW_POLICY_NOTE, pick
from .policy import Policy

RULES = ("TX-1", "TX-2a", "TX-2b", "TX-2c", "TX-2d")
SECTION = "treatment"
OVERRIDE_WINDOW = ("tx-mdo-decided-otherwise", "tx-patient-declined", "tx-treatment-started",
                   "tx-data-incorrect")


def window_message(hours: int) -> Message:
    return msg(TX_WINDOW_DURATION[hours])


@dataclass(frozen=True)
class Row:
    hours: int
    rule: str
    situation: str
    policies: frozenset[str] = frozenset()


def _deficit_row(deficit: str, progressive: bool, rapid: bool, walking: bool, day_limit_hit: bool,
                 hours: dict[str, int], severe_rule: str) -> Row:
    if progressive and rapid:
        return Row(hours["TX-2a"], "TX-2a", "rapid", frozenset({"day-limit"}) if day_limit_hit else frozenset())
    if deficit == SEVERE:
        # TX-2b is for a "niet erg uitgesproken" deficit; a severe one is pronounced (policy)
        return Row(hours[severe_rule], severe_rule, "severe", frozenset({"severe-pronounced"}))
    if progressive:
        if walking:
            return Row(hours["TX-2b"], "TX-2b", "slow-walking")
        return Row(hours["TX-2a"], "TX-2a", "slow-not-walking", frozenset({"slow-not-walking"}))
    if walking:
        return Row(hours["TX-2b"], "TX-2b", "stable-walking", frozenset({"stable-deficit"}))
    return Row(hours["TX-2a"], "TX-2a", "stable-not-walking", frozenset({"stable-deficit"}))


@dataclass
class WindowDecision:
    row: Row
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
        return bool(a.get(d)) and (d == "mescc-deficit" or a["rad"] or (d == SEVERE and a["mescc-deficit"]))

    def row_for(a: dict[str, bool]) -> Row:
        due = [d for d in NEURO_DEFICITS if is_due(d, a)]
        if due:
            rows = [_deficit_row(d, a[f"{d}.progressive"], a[f"{d}.rapid"], a["ambulatory"],
                                 days.get(d) == limit, hours, severe_rule) for d in due]
            return min(rows, key=lambda r: r.hours)
        if a["rad"]:
            return Row(hours["TX-2c"], "TX-2c", "radiological")
        if a[SEVERE]:
            # TX-2d is "alleen pijn of een radiculair syndroom": not a severe deficit (policy)
            return Row(hours[severe_alone_rule], severe_alone_rule, "severe-without-mescc",
                       frozenset({"severe-without-mescc"}))
        return Row(hours["TX-2d"], "TX-2d", "none")

    combos: list[tuple[dict[str, bool], Row]] = []
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
    unknown_deficits = [d for d in NEURO_DEFICITS if variables[d] is None]
    if unknown_deficits:
        strictest = min(policy.get(SECTION, "window_hours").values())
        known = decide_window({**variables, **{d: False for d in unknown_deficits}}, days, policy)
        if known.row.hours == strictest and not known.deciding_unknowns:
            return WindowDecision(known.row, known.situations, known.policies, [], variables)
    return decide_window(variables, days, policy)


def evaluate_treatment_window(ctx: Evaluation) -> Finding:
    facts, policy, rad = ctx.facts, ctx.policy, ctx.radiological
    limit = ctx.tx("rapid_progression_max_days")
    variables: dict[str, bool | None] = {"rad": rad.value}
    days: dict[str, int | None] = {}
    deficit_facts = {d: facts.obs(d) for d in NEURO_DEFICITS}
    var_missing: dict[str, list[Missing]] = {"rad": rad.missing}
    # Every deficit takes its recorded value (a deficit recorded true is never
    # set aside); unknown deficits are enumerated like any other unknown.
    for d, f in deficit_facts.items():
        present = as_bool(f)
        variables[d] = present
        var_missing[d] = [missing_of(f, d)]
        if present is False:
            continue
        prog = f.attr("progressive")
        onset = f.attr("onset")
        n = days_since(onset.value, facts.now)
        days[d] = n
        if present is None:
            # Whether the deficit exists decides first; were it present, its
            # unknown course would take the strictest row (rapidly progressive),
            # so its onset and progression are asked for once it is recorded.
            variables[f"{d}.progressive"] = True
            variables[f"{d}.rapid"] = True
            continue
        variables[f"{d}.progressive"] = as_bool(prog)
        variables[f"{d}.rapid"] = None if n is None else n <= limit
        var_missing[f"{d}.progressive"] = [missing_of(prog, f"{d}.progressive")]
        var_missing[f"{d}.rapid"] = [missing_of(onset, f"{d}.onset")]
    walking = facts.obs("ambulatory")
    variables["ambulatory"] = as_bool(walking)
    var_missing["ambulatory"] = [missing_of(walking, "ambulatory")]

    decision = _decide_collapsing_unknown_deficits(variables, days, policy)
    row = decision.row
    rules = [row.rule]

    # criteria: what the window rests on
    criteria: list[Criterion] = [
        Criterion("tx.window.crit.radiological-mescc", Status.of(rad.value), row.rule, rad.facts,
                  {"levels": rad.levels or "-"}),
        Criterion("tx.window.crit.clinical-mescc", Status.of(as_bool(deficit_facts["mescc-deficit"])), row.rule,
                  (deficit_facts["mescc-deficit"],)),
    ]
    # criteria show the recorded facts, never the values assumed while enumerating
    for d in NEURO_DEFICITS[1:]:
        criteria.append(Criterion(TX_WINDOW_DEFICIT_CRITERION[d], Status.of(as_bool(deficit_facts[d])), row.rule,
                                  (deficit_facts[d],)))
    for d in NEURO_DEFICITS:
        f = deficit_facts[d]
        if not f.is_true or (d == RADICULAR and rad.value is False):
            continue
        criteria.append(Criterion("tx.window.crit.progressive", Status.of(variables[f"{d}.progressive"]),
                                  row.rule, (f.attr("progressive"),), {"deficit": pick(TX_DEFICIT, d)}))
        n = days.get(d)
        criteria.append(Criterion("tx.window.crit.rapid", Status.of(variables[f"{d}.rapid"]), row.rule,
                                  (f.attr("onset"),),
                                  {"deficit": pick(TX_DEFICIT, d), "days": "?" if n is None else n, "limit": limit}))
    if any(s not in ("radiological", "none", "severe-without-mescc") for s in decision.situations) or \
            "ambulatory" in decision.deciding_unknowns:
        criteria.append(Criterion("tx.window.crit.ambulatory", Status.of(variables["ambulatory"]), row.rule,
                                  (walking,)))

    missing: list[Missing] = []
    for name in decision.deciding_unknowns:
        missing.extend(var_missing.get(name, []))
    notes: list[Message] = []
    provisional = bool(decision.deciding_unknowns)
    if provisional:
        notes.append(msg("tx.window.note.policy-unknown-stricter", window=window_message(row.hours)))
    for p in sorted(decision.policies):
        notes.append(pick(TX_WINDOW_POLICY_NOTE, p, limit=limit))
    if rad.value is True and rad.by_bilsky:
        notes.append(msg("tx.window.note.policy-bilsky", levels=rad.levels))

    # TX-1: dexamethasone dose with a severe deficit
    severe = deficit_facts[SEVERE]
    if severe.is_true:
        rules.insert(0, "TX-1")
        dex = ctx.tx("dexamethasone")
        active = facts.medication("corticosteroid").is_true
        notes.append(msg("tx.window.note.dexamethasone-active" if active else "tx.window.note.dexamethasone",
                         iv=dex["iv_loading_mg"], low=dex["oral_daily_low_mg"], high=dex["oral_daily_high_mg"]))

    if provisional:
        conclusion = msg("tx.window.conclusion.provisional", window=window_message(row.hours), rule=row.rule)
        summary = msg("tx.window.summary.provisional", window=window_message(row.hours), rule=row.rule)
    else:
        situation = next(iter(decision.situations)) if len(decision.situations) == 1 else "generic"
        conclusion = pick(TX_WINDOW_CONCLUSION, situation, window=window_message(row.hours), rule=row.rule,
                          limit=limit)
        summary = msg("tx.window.summary", window=window_message(row.hours), rule=row.rule)

    indicator = window_indicator(row.hours, ctx.tx("indicator_critical_max_hours"),
                                 ctx.tx("indicator_warning_max_hours"))
    return Finding(
        topic="treatment-window", rules=rules, indicator=indicator, summary=summary, conclusion=conclusion,
        result={"windowHours": row.hours, "rule": row.rule}, criteria=criteria,
        missing=dedupe_missing(missing), notes=notes,
        override_reasons=list(OVERRIDE_WINDOW) if indicator != Indicator.INFO else [])
