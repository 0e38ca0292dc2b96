"""The ``aftercare`` card: TX-9 after treatment, TX-10 best supportive care."""
from __future__ import annotations

from .context import Evaluation
from .findings import Finding, Indicator, msg
from .keys import TX_TREATMENT, pick
from .results import AftercareResult

RULES = ("TX-9", "TX-10")


def evaluate_aftercare(ctx: Evaluation) -> Finding | None:
    facts = ctx.facts
    treated = facts.events_of("radiotherapy", status="done") + facts.events_of("spinal-surgery", status="done")
    if not treated:
        return None
    latest = max(treated, key=lambda e: e.date or "")
    notes = [msg("tx.aftercare.note.mobilise")]
    steroid = facts.medication("corticosteroid")
    notes.append(msg("tx.aftercare.note.taper-active" if steroid.is_true else "tx.aftercare.note.taper",
                     weeks=ctx.tx("corticosteroid_taper_weeks")))
    if facts.condition("spinal-metastasis", include_suspected=False).is_true:
        notes.append(msg("tx.aftercare.note.leaflet"))
    notes += [msg("tx.aftercare.note.gp-coordinator"), msg("tx.aftercare.note.imaging"),
              msg("tx.aftercare.note.tx10")]
    # the deadlines this treatment (and the diagnostics before it) answered
    answers = [a for a in (ctx.mri_answer, ctx.treatment_window_answer, ctx.mdo_answer) if a is not None]
    if answers:
        notes.insert(0, msg("tx.aftercare.note.answered",
                            deadlines=[f"{a.deadline} ({a.source.reference}, {a.date or '-'})" for a in answers]))
    return Finding(
        topic="aftercare", rules=["TX-9", "TX-10"], indicator=Indicator.INFO,
        summary=msg("tx.aftercare.summary"),
        conclusion=msg("tx.aftercare.conclusion", treatment=pick(TX_TREATMENT, latest.kind), date=latest.date or "-"),
        result=AftercareResult(rule="TX-9", answered_by=tuple(answers)), notes=notes)
