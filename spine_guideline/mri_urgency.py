"""The ``mri-urgency`` card: DX-1 suspicion, DX-2a..e deadline, DX-2f safety net."""
from __future__ import annotations

from .common import add_missing, add_note, max_indicator, missing_of, window_indicator
from .context import Evaluation
from .facts import Fact
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import DX_MRI_ASSESS, DX_PRIORITY, pick
from .mri_window import duration, mri_priority
from .suspicion import known_malignancy, known_malignancy_note

RULES = ("DX-1", "DX-2", "DX-2a", "DX-2b", "DX-2c", "DX-2d", "DX-2e", "DX-2f")
OVERRIDE_MRI = ("already-arranged", "patient-declines", "clinical-judgement")


def dx_indicator(ctx: Evaluation, hours: float | None) -> Indicator:
    return window_indicator(hours, ctx.dx("indicator_critical_max_hours"), ctx.dx("indicator_warning_max_hours"))


def evaluate_mri_urgency(ctx: Evaluation) -> Finding | None:
    facts, policy, susp = ctx.facts, ctx.policy, ctx.suspicion
    malignancy = known_malignancy(facts)
    if susp.value is None and malignancy.is_true and \
            (susp.back_pain.is_true or any(f.is_true for f in susp.alarms.values())):
        return _assess_alarm_finding(ctx, malignancy)
    if susp.value is not True:
        return None

    picture = ctx.picture
    window = picture.window(policy)
    criteria = susp.criteria + picture.criteria
    missing = list(susp.missing)
    for m in picture.missing:
        add_missing(missing, m)
    notes = list(susp.notes)
    for n in picture.notes:
        add_note(notes, n)
    known = known_malignancy_note(facts)
    if known:
        notes.insert(0, known)
    rules = ["DX-1"]
    suggestions: list[Suggestion] = []
    mri = ctx.mri
    if mri.state == "done":
        return None  # DX-2 answered by a whole-spine MRI (guideline.md "Answered deadlines")

    conclusion_key = picture.conclusion_key()
    if picture.row is None or conclusion_key is None:
        upper = picture.upper_window(policy)
        # at least as urgent as the picture already known; unknown data can only make it stricter
        indicator = max_indicator(Indicator.WARNING, dx_indicator(ctx, upper))
        summary = msg("dx.mri.summary.undecided")
        conclusion = msg("dx.mri.conclusion.undecided", upper=duration(upper), rows=", ".join(picture.hidden))
        rules.append("DX-2")
    else:
        indicator = dx_indicator(ctx, window)
        rules.append(picture.row)
        summary = msg("dx.mri.summary.window", duration=duration(window), rule=picture.row)
        conclusion = msg(conclusion_key, duration=duration(window), rule=picture.row)

    event = mri.event
    if mri.state == "done" and event is not None:
        notes.insert(0, msg("dx.note.mri-done", date=event.date or "?", ref=event.source.reference))
        indicator = Indicator.INFO
        summary = msg("dx.mri.summary.done", date=(event.date or "?")[:10])
        conclusion = msg("dx.mri.conclusion.done", date=(event.date or "?")[:10], conclusion=conclusion)
    elif mri.state == "planned" and event is not None:
        notes.insert(0, msg("dx.note.mri-planned", ref=event.source.reference,
                            duration=duration(window if window is not None else picture.upper_window(policy))))
    if mri.stale_note is not None:
        notes.insert(0, mri.stale_note)
        if mri.stale_missing is not None:
            add_missing(missing, mri.stale_missing)
    if mri.state not in ("done", "planned"):
        if mri.state == "undated" and event is not None:
            notes.append(msg("dx.note.mri-undated", ref=event.source.reference))
        elif mri.state == "old" and event is not None:
            notes.append(msg("dx.note.mri-old", date=event.date, ref=event.source.reference))
        if facts.events_of("mri-segment"):
            notes.append(msg("dx.note.segment-not-enough"))
        if window is not None:
            priority = mri_priority(window, policy)
            suggestions.append(Suggestion(
                "create-mri-whole-spine",
                msg("dx.suggest.mri", duration=duration(window), priority=pick(DX_PRIORITY, priority)),
                {"priority": priority, "within_hours": window, "rule": picture.row}))
    notes.append(msg("dx.note.safety-netting"))
    rules.append("DX-2f")
    return Finding(
        topic="mri-urgency", rules=rules, indicator=indicator, summary=summary,
        conclusion=conclusion,
        result={"windowHours": window, "rule": picture.row},
        criteria=criteria, missing=missing, notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_MRI) if indicator != Indicator.INFO else [])


def _assess_alarm_finding(ctx: Evaluation, malignancy: Fact) -> Finding:
    """Back pain (or an alarm symptom) with a known malignancy, suspicion undecided."""
    facts, susp = ctx.facts, ctx.suspicion
    missing: list[Missing] = []
    if susp.back_pain.is_unknown:
        add_missing(missing, missing_of(susp.back_pain))
    for fact in susp.alarms.values():
        if fact.is_unknown:
            add_missing(missing, missing_of(fact))
    for name in ("mescc-deficit", "radicular-deficit"):
        fact = facts.obs(name)
        if fact.is_unknown:
            add_missing(missing, missing_of(fact))
    for m in susp.missing:
        add_missing(missing, m)
    criteria = [Criterion("dx.crit.known-malignancy", Status.MET, "DX-1", (malignancy,))] + susp.criteria
    notes: list[Message] = [n for n in (known_malignancy_note(facts),) if n] + list(susp.notes)
    notes.append(msg("dx.note.safety-netting"))
    # name what is missing: the alarm symptoms (suspicion of metastasis undecided), the
    # neurological findings (suspicion of MESCC undecided), or both
    if susp.metastasis is None:
        variant = "assess-both" if susp.mescc is None else "assess"
    else:
        variant = "assess-neuro"
    summary_key, conclusion_key = DX_MRI_ASSESS[variant]
    return Finding(
        topic="mri-urgency", rules=["DX-1", "DX-2f"], indicator=Indicator.INFO,
        summary=msg(summary_key), conclusion=msg(conclusion_key),
        result={"windowHours": None, "rule": None},
        criteria=criteria, missing=missing, notes=notes)
