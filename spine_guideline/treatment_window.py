"""The ``treatment-window`` card: TX-2a..d, the start of treatment, with TX-1's dose.

All facts are three-valued. The window enumerates every value an unknown input
could take and keeps the strictest window (guideline.md policy "unknowns take
the stricter row"); inputs whose value would change the window are listed as
missing.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .answered import diagnosed, treatment_answer
from .common import (
    MESCC,
    NEURO_DEFICITS,
    SEVERE,
    as_bool,
    clock_start,
    days_since,
    dedupe_missing,
    missing_of,
    window_indicator,
)
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, msg
from .keys import TX_DEFICIT, TX_WINDOW_CONCLUSION, TX_WINDOW_DEFICIT_CRITERION, TX_WINDOW_DURATION, TX_WINDOW_POLICY_NOTE, pick
from .mri_window import duration
from .policy import Policy
from .results import Answer, TreatmentWindowResult

if TYPE_CHECKING:
    from .context import Evaluation

RULES = ("TX-1", "TX-2a", "TX-2b", "TX-2c", "TX-2d")
SECTION = "treatment"
OVERRIDE_WINDOW = ("tx-mdo-decided-otherwise", "tx-patient-declined", "tx-treatment-started",
                   "tx-data-incorrect")


def window_message(hours: int) -> Message:
    """The window in words: the TX-2 texts for the guideline's windows; any other (a site's
    own ``window_hours``) in plain hours, days or weeks."""
    key = TX_WINDOW_DURATION.get(hours)
    return msg(key) if key is not None else duration(hours)


@dataclass(frozen=True)
class Row:
    hours: int
    rule: str
    situation: str
    policies: frozenset[str] = frozenset()


def _mescc_row(progressive: bool, rapid: bool, walking: bool, day_limit_hit: bool, hours: dict[str, int]) -> Row:
    """TX-2a / TX-2b for a deficit due to MESCC ("not very pronounced" is "can still walk")."""
    if progressive and rapid:
        return Row(hours["TX-2a"], "TX-2a", "rapid", frozenset({"day-limit"}) if day_limit_hit else frozenset())
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


def decide_window(variables: dict[str, bool | None], mescc_days: int | None, severe: bool,
                  policy: Policy) -> WindowDecision:
    """Enumerate the unknown variables; keep the strictest window.

    The row is chosen by clinical MESCC (variables ``mescc-deficit``, ``mescc-deficit.progressive``,
    ``mescc-deficit.rapid``, ``ambulatory``) and radiological MESCC (``rad``), nothing else;
    ``severe`` (a severe deficit recorded true) only makes the conflicting-data row when
    neither MESCC holds (policy).
    """
    hours = policy.get(SECTION, "window_hours")
    limit = policy.get(SECTION, "rapid_progression_max_days")
    severe_alone_rule = policy.get(SECTION, "severe_deficit_without_mescc_rule")
    unknown = [k for k, v in variables.items() if v is None]

    def row_for(a: dict[str, bool]) -> Row:
        if a[MESCC]:
            return _mescc_row(a[f"{MESCC}.progressive"], a[f"{MESCC}.rapid"], a["ambulatory"],
                              mescc_days == limit, hours)
        if a["rad"]:
            return Row(hours["TX-2c"], "TX-2c", "radiological")
        if severe:
            # conflicting data: a severe deficit without clinical or radiological MESCC (policy)
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


def _decide(variables: dict[str, bool | None], mescc_days: int | None, severe: bool,
            policy: Policy) -> WindowDecision:
    """An unknown clinical MESCC adds nothing when the recorded facts already give the
    strictest window without any deciding unknown: then it is set aside (not missing,
    one situation for the conclusion). Otherwise it is enumerated, as any unknown."""
    if variables[MESCC] is None:
        strictest = min(policy.get(SECTION, "window_hours").values())
        known = decide_window({**variables, MESCC: False}, mescc_days, severe, policy)
        if known.row.hours == strictest and not known.deciding_unknowns:
            return WindowDecision(known.row, known.situations, known.policies, [], variables)
    return decide_window(variables, mescc_days, severe, policy)


def _clock_started(ctx: Evaluation, row: Row) -> Any:
    """When the deadline of ``row`` started: the onset of the deficit that chose it; for
    TX-2c/d the diagnosis of the spinal metastasis."""
    facts = ctx.facts
    if row.rule in ("TX-2c", "TX-2d") and row.situation in ("radiological", "none"):
        return diagnosed(facts, ctx.radiological)
    for name in (MESCC, SEVERE):
        fact = facts.obs(name)
        if fact.is_true:
            return clock_start(fact)
    return None


def treatment_window_answer(ctx: Evaluation) -> Answer | None:
    """TX-2 answered by treatment after its clock started (guideline.md "Answered deadlines")."""
    row = ctx.treatment_window.row
    return treatment_answer(ctx.facts, ctx.radiological, _clock_started(ctx, row))


def window_variables(ctx: Evaluation) -> WindowDecision:
    """The TX-2 decision over the recorded facts (computed once per evaluation, see context)."""
    facts, rad = ctx.facts, ctx.radiological
    limit = ctx.tx("rapid_progression_max_days")
    variables: dict[str, bool | None] = {"rad": rad.value}
    mescc = facts.obs(MESCC)
    present = as_bool(mescc)
    variables[MESCC] = present
    n = days_since(mescc.attr("onset").value, facts.now)
    if present is None:
        # Whether the deficit exists decides first; were it present, its unknown course
        # would take the strictest row (rapidly progressive), so its onset and
        # progression are asked for once it is recorded.
        variables[f"{MESCC}.progressive"] = True
        variables[f"{MESCC}.rapid"] = True
    elif present:
        variables[f"{MESCC}.progressive"] = as_bool(mescc.attr("progressive"))
        variables[f"{MESCC}.rapid"] = None if n is None else n <= limit
    else:
        variables[f"{MESCC}.progressive"] = False
        variables[f"{MESCC}.rapid"] = False
    variables["ambulatory"] = as_bool(facts.obs("ambulatory"))
    return _decide(variables, n, facts.obs(SEVERE).is_true, ctx.policy)


def _variable_missing(ctx: Evaluation) -> dict[str, list[Missing]]:
    facts = ctx.facts
    mescc = facts.obs(MESCC)
    return {"rad": ctx.radiological.missing,
            MESCC: [missing_of(mescc, MESCC)],
            f"{MESCC}.progressive": [missing_of(mescc.attr("progressive"), f"{MESCC}.progressive")],
            f"{MESCC}.rapid": [missing_of(mescc.attr("onset"), f"{MESCC}.onset")],
            "ambulatory": [missing_of(facts.obs("ambulatory"), "ambulatory")]}


def _deficit_criteria(ctx: Evaluation, decision: WindowDecision) -> list[Criterion]:
    """Radiological and clinical MESCC, the other deficits and (MESCC deficit recorded) its course:
    the recorded facts, never the values assumed while enumerating."""
    facts, rad, rule = ctx.facts, ctx.radiological, decision.row.rule
    deficit_facts = {d: facts.obs(d) for d in NEURO_DEFICITS}
    criteria: list[Criterion] = [
        Criterion("tx.window.crit.radiological-mescc", Status.of(rad.value), rule, rad.facts,
                  {"levels": rad.levels or "-"}),
        Criterion("tx.window.crit.clinical-mescc", Status.of(as_bool(deficit_facts["mescc-deficit"])), rule,
                  (deficit_facts["mescc-deficit"],)),
    ]
    for d in NEURO_DEFICITS[1:]:
        criteria.append(Criterion(TX_WINDOW_DEFICIT_CRITERION[d], Status.of(as_bool(deficit_facts[d])), rule,
                                  (deficit_facts[d],)))
    mescc = deficit_facts[MESCC]
    if mescc.is_true:
        n = days_since(mescc.attr("onset").value, facts.now)
        criteria.append(Criterion("tx.window.crit.progressive", Status.of(decision.variables[f"{MESCC}.progressive"]),
                                  rule, (mescc.attr("progressive"),), {"deficit": pick(TX_DEFICIT, MESCC)}))
        criteria.append(Criterion("tx.window.crit.rapid", Status.of(decision.variables[f"{MESCC}.rapid"]), rule,
                                  (mescc.attr("onset"),),
                                  {"deficit": pick(TX_DEFICIT, MESCC), "days": "?" if n is None else n,
                                   "limit": ctx.tx("rapid_progression_max_days")}))
    return criteria


def _ambulatory_criterion(ctx: Evaluation, decision: WindowDecision) -> list[Criterion]:
    """Ambulatory, where it can move the row."""
    if any(s not in ("radiological", "none", "severe-without-mescc") for s in decision.situations) or \
            "ambulatory" in decision.deciding_unknowns:
        return [Criterion("tx.window.crit.ambulatory", Status.of(decision.variables["ambulatory"]), decision.row.rule,
                          (ctx.facts.obs("ambulatory"),))]
    return []


def _policy_notes(ctx: Evaluation, decision: WindowDecision) -> list[Message]:
    """The policies the row rests on (unknowns taken strictly, Bilsky, ...)."""
    limit = ctx.tx("rapid_progression_max_days")
    rad = ctx.radiological
    notes: list[Message] = []
    if decision.deciding_unknowns:
        notes.append(msg("tx.window.note.policy-unknown-stricter", window=window_message(decision.row.hours)))
    for p in sorted(decision.policies):
        notes.append(pick(TX_WINDOW_POLICY_NOTE, p, limit=limit))
    if rad.value is True and rad.by_bilsky:
        notes.append(msg("tx.window.note.policy-bilsky", levels=rad.levels))
    return notes


def _dexamethasone_note(ctx: Evaluation) -> Message | None:
    """TX-1: the dexamethasone dose with a severe deficit."""
    if not ctx.facts.obs(SEVERE).is_true:
        return None
    dex = ctx.tx("dexamethasone")
    active = ctx.facts.medication("corticosteroid").is_true
    return msg("tx.window.note.dexamethasone-active" if active else "tx.window.note.dexamethasone",
               iv=dex["iv_loading_mg"], low=dex["oral_daily_low_mg"], high=dex["oral_daily_high_mg"])


def _texts(ctx: Evaluation, decision: WindowDecision) -> tuple[Message, Message]:
    """(summary, conclusion): provisional while an unknown decides the row, else per situation."""
    row = decision.row
    window = window_message(row.hours)
    if decision.deciding_unknowns:
        return (msg("tx.window.summary.provisional", window=window, rule=row.rule),
                msg("tx.window.conclusion.provisional", window=window, rule=row.rule))
    situation = next(iter(decision.situations)) if len(decision.situations) == 1 else "generic"
    conclusion = pick(TX_WINDOW_CONCLUSION, situation, window=window, rule=row.rule,
                      limit=ctx.tx("rapid_progression_max_days"))
    return msg("tx.window.summary", window=window, rule=row.rule), conclusion


def evaluate_treatment_window(ctx: Evaluation) -> Finding | None:
    if ctx.treatment_window_answer is not None:
        return None  # answered by treatment: the aftercare card says by what
    decision = ctx.treatment_window
    row = decision.row
    var_missing = _variable_missing(ctx)
    missing = [m for name in decision.deciding_unknowns for m in var_missing.get(name, [])]
    notes = _policy_notes(ctx, decision)
    dexamethasone = _dexamethasone_note(ctx)
    rules = [row.rule]
    if dexamethasone is not None:
        rules.insert(0, "TX-1")
        notes.append(dexamethasone)
    summary, conclusion = _texts(ctx, decision)
    indicator = window_indicator(row.hours, ctx.tx("indicator_critical_max_hours"),
                                 ctx.tx("indicator_warning_max_hours"))
    return Finding(
        topic="treatment-window", rules=rules, indicator=indicator, summary=summary, conclusion=conclusion,
        result=TreatmentWindowResult(window_hours=row.hours, rule=row.rule),
        criteria=_deficit_criteria(ctx, decision) + _ambulatory_criterion(ctx, decision),
        missing=dedupe_missing(missing), notes=notes,
        override_reasons=list(OVERRIDE_WINDOW) if indicator != Indicator.INFO else [])
