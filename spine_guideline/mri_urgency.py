"""The ``mri-urgency`` card: DX-1 suspicion, DX-2a..e deadline, DX-2f safety net."""
from __future__ import annotations

from .common import MriState, add_missing, add_note, max_indicator, missing_of, window_indicator
from .context import Evaluation
from .facts import Fact
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import DX_MRI_ASSESS, DX_PRIORITY, pick
from .mri_window import duration, mri_priority
from .results import MriUrgencyResult
from .suspicion import known_malignancy, known_malignancy_note

RULES = ("DX-1", "DX-2", "DX-2a", "DX-2b", "DX-2c", "DX-2d", "DX-2e", "DX-2f")
OVERRIDE_MRI = ("already-arranged", "patient-declines", "clinical-judgement")


def dx_indicator(ctx: Evaluation, hours: float | None) -> Indicator:
    return window_indicator(hours, ctx.dx("indicator_critical_max_hours"), ctx.dx("indicator_warning_max_hours"))


def _opens_assess_alarm(ctx: Evaluation, malignancy: Fact) -> bool:
    """Back pain (or an alarm symptom) with a known malignancy while DX-1 is undecided."""
    susp = ctx.suspicion
    return susp.value is None and malignancy.is_true and \
        (susp.back_pain.is_true or any(f.is_true for f in susp.alarms.values()))


def _suspicion_and_picture(ctx: Evaluation) -> tuple[list[Criterion], list[Missing], list[Message]]:
    """DX-1 and the DX-2 rows: their criteria, missing data and notes, without repeats."""
    susp, picture = ctx.suspicion, ctx.picture
    missing = list(susp.missing)
    for m in picture.missing:
        add_missing(missing, m)
    notes = list(susp.notes)
    for n in picture.notes:
        add_note(notes, n)
    known = known_malignancy_note(ctx.facts)
    if known:
        notes.insert(0, known)
    return susp.criteria + picture.criteria, missing, notes


def _deadline(ctx: Evaluation, window: int | None) -> tuple[Indicator, str, Message, Message]:
    """DX-2a..e: the row's deadline, or (row undecided) the strictest one unknown data could give."""
    picture = ctx.picture
    conclusion_key = picture.conclusion_key()
    if picture.row is None or conclusion_key is None:
        upper = picture.upper_window(ctx.policy)
        # at least as urgent as the picture already known; unknown data can only make it stricter
        indicator = max_indicator(Indicator.WARNING, dx_indicator(ctx, upper))
        return (indicator, "DX-2", msg("dx.mri.summary.undecided"),
                msg("dx.mri.conclusion.undecided", upper=duration(upper), rows=", ".join(picture.hidden)))
    return (dx_indicator(ctx, window), picture.row,
            msg("dx.mri.summary.window", duration=duration(window), rule=picture.row),
            msg(conclusion_key, duration=duration(window), rule=picture.row))


def _existing_mri(ctx: Evaluation, window: int | None, notes: list[Message], missing: list[Missing]) -> None:
    """Notes on an MRI that is planned, stale, undated or old."""
    mri = ctx.mri
    event = mri.event
    if mri.state is MriState.PLANNED and event is not None:
        notes.insert(0, msg("dx.note.mri-planned", ref=event.source.reference,
                            duration=duration(window if window is not None else ctx.picture.upper_window(ctx.policy))))
    if mri.stale_note is not None:
        notes.insert(0, mri.stale_note)
        if mri.stale_missing is not None:
            add_missing(missing, mri.stale_missing)
    if mri.state is MriState.UNDATED and event is not None:
        notes.append(msg("dx.note.mri-undated", ref=event.source.reference))
    elif mri.state is MriState.OLD and event is not None:
        notes.append(msg("dx.note.mri-old", date=event.date, ref=event.source.reference))


def _order_mri(ctx: Evaluation, window: int | None, notes: list[Message]) -> list[Suggestion]:
    """No MRI planned: a segment MRI is not enough; suggest the whole-spine MRI within the deadline."""
    if ctx.mri.state is MriState.PLANNED:
        return []
    if ctx.facts.events_of("mri-segment"):
        notes.append(msg("dx.note.segment-not-enough"))
    if window is None:
        return []
    priority = mri_priority(window, ctx.policy)
    return [Suggestion(
        "create-mri-whole-spine",
        msg("dx.suggest.mri", duration=duration(window), priority=pick(DX_PRIORITY, priority)),
        {"priority": priority, "within_hours": window, "rule": ctx.picture.row})]


def evaluate_mri_urgency(ctx: Evaluation) -> Finding | None:
    malignancy = known_malignancy(ctx.facts)
    if _opens_assess_alarm(ctx, malignancy):
        return _assess_alarm_finding(ctx, malignancy)
    if ctx.suspicion.value is not True:
        return None
    if ctx.mri.state is MriState.DONE:
        return None  # DX-2 answered by a whole-spine MRI (guideline.md "Answered deadlines")
    window = ctx.picture.window(ctx.policy)
    criteria, missing, notes = _suspicion_and_picture(ctx)
    indicator, rule, summary, conclusion = _deadline(ctx, window)
    _existing_mri(ctx, window, notes, missing)
    suggestions = _order_mri(ctx, window, notes)
    notes.append(msg("dx.note.safety-netting"))
    return Finding(
        topic="mri-urgency", rules=["DX-1", rule, "DX-2f"], indicator=indicator, summary=summary,
        conclusion=conclusion,
        result=MriUrgencyResult(window_hours=window, rule=ctx.picture.row),
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
        result=MriUrgencyResult(window_hours=None, rule=None),
        criteria=criteria, missing=missing, notes=notes)
