"""The ``diagnostic-workup`` card: DX-4 doubt, DX-5 (PET-)CT and biopsy."""
from __future__ import annotations

from .context import Evaluation
from .facts import Fact
from .findings import Criterion, Finding, Indicator, Status, msg
from .keys import DX_REASON, DX_STEP, DX_WORKUP_NOTE, pick
from .results import WorkupResult

RULES = ("DX-4", "DX-5")
OVERRIDE_WORKUP = ("already-arranged", "clinical-judgement", "patient-declines")


def evaluate_workup(ctx: Evaluation) -> Finding | None:
    facts = ctx.facts
    records = facts.condition_records("spinal-metastasis")
    if not records:
        return None
    prim = ctx.primary
    entry = Criterion("dx.crit.spinal-metastasis", Status.MET, "DX-5",
                      (Fact("spinal-metastasis", True, tuple(r.source for r in records)),))
    criteria = [entry] + prim.criteria
    notes = list(prim.notes)
    needed = prim.tissue_needed
    rules = ["DX-4"] if prim.known.is_true else []
    steps: list[str] = []
    if needed is True:
        steps = ["pet-ct", "biopsy"]
        rules.append("DX-5")
        done = []
        for kind in ("pet-ct", "spine-lesion-biopsy"):
            for status in ("done", "planned"):
                found = facts.events_of(kind, status=status)
                if found:
                    done.append(kind)
                    notes.append(pick(DX_WORKUP_NOTE, status, step=pick(DX_STEP, kind),
                                      ref=found[0].source.reference, date=found[0].date or "?"))
                    break
        indicator = Indicator.INFO if len(done) == 2 else Indicator.WARNING
        summary = msg("dx.workup.summary.needed")
        conclusion = msg("dx.workup.conclusion.needed", reasons=[pick(DX_REASON, r) for r in prim.reasons])
    elif needed is False:
        indicator = Indicator.INFO
        summary = msg("dx.workup.summary.not-needed")
        conclusion = msg("dx.workup.conclusion.not-needed")
    else:
        indicator = Indicator.INFO
        summary = msg("dx.workup.summary.undecided")
        conclusion = msg("dx.workup.conclusion.undecided")
        rules = rules or ["DX-5"]
    return Finding(
        topic="diagnostic-workup", rules=rules, indicator=indicator, summary=summary,
        conclusion=conclusion, result=WorkupResult(steps=tuple(steps), reasons=tuple(prim.reasons)),
        criteria=criteria, missing=list(prim.missing), notes=notes,
        override_reasons=list(OVERRIDE_WORKUP) if indicator != Indicator.INFO else [])
