"""The ``mdo-referral`` card: TX-3 the multidisciplinary meeting, TX-5 whether
the spine surgeon joins."""
from __future__ import annotations

from dataclasses import dataclass

from .common import dedupe_missing, missing_of
from .context import Evaluation
from .facts import tri_and, tri_or
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import TX_EVENT_STATUS, TX_MDO_DISCIPLINE, pick
from .results import MdoResult

RULES = ("TX-3", "TX-5")
DISCIPLINES = ("treating-specialist", "radiation-oncology", "radiology", "neurology", "spine-surgery")
OVERRIDE_MDO = ("tx-mdo-already-discussed", "tx-patient-declined", "tx-data-incorrect")


@dataclass(frozen=True)
class _Surgeon:
    """TX-5 / TX-7: whether the spine surgeon joins the meeting, and why."""

    tx5: bool | None             # TX-5 (all its criteria)
    any_surgery: bool | None     # any TX-7 surgical indication
    surgery_unknown: bool        # an unknown TX-7 indication could still call for the surgeon

    @property
    def joins(self) -> bool:
        return self.tx5 is True or self.any_surgery is True or self.tx5 is None or self.surgery_unknown


def _surgeon(ctx: Evaluation) -> _Surgeon:
    tx5 = tri_and(*[c.value for c in ctx.tx5])
    any_surgery = tri_or(*[c.value for c in ctx.surgery])
    # an unknown TX-7 indication could still call for the surgeon, unless the patient is unfit
    surgery_unknown = tx5 is not True and any_surgery is None and not ctx.facts.obs("fit-for-surgery").is_false
    return _Surgeon(tx5, any_surgery, surgery_unknown)


def _disciplines(ctx: Evaluation, surgeon: _Surgeon) -> list[str]:
    """TX-3: the base disciplines, neurology with a deficit, the spine surgeon per TX-5 / TX-7."""
    disciplines = list(ctx.tx("mdo_base_disciplines"))
    if ctx.deficit.value is True:
        disciplines.append("neurology")
    if surgeon.joins:
        disciplines.append("spine-surgery")
    return [d for d in DISCIPLINES if d in disciplines]


def _criteria(ctx: Evaluation, surgeon: _Surgeon) -> list[Criterion]:
    deficit = ctx.deficit
    criteria = [Criterion(TX_MDO_DISCIPLINE[d], Status.MET, "TX-3") for d in ctx.tx("mdo_base_disciplines")]
    criteria.append(Criterion("tx.mdo.crit.discipline.neurology", Status.of(deficit.value), "TX-3",
                              tuple(f for f in deficit.facts if f.is_known)))
    criteria.append(Criterion("tx.mdo.crit.discipline.spine-surgery",
                              Status.MET if surgeon.joins else Status.NOT_MET, "TX-3"))
    criteria.append(Criterion("tx.mdo.crit.tx5", Status.of(surgeon.tx5), "TX-5"))
    criteria.extend(c.criterion() for c in ctx.tx5)
    criteria.extend(c.criterion() for c in ctx.surgery if c.value is True)
    return criteria


def _unknowns(ctx: Evaluation, surgeon: _Surgeon) -> tuple[list[Missing], list[Message]]:
    """What is missing to decide neurology and the surgeon, with the note that says so."""
    missing: list[Missing] = []
    notes: list[Message] = []
    deficit = ctx.deficit
    if deficit.value is None:
        missing.extend(missing_of(f, f.name) for f in deficit.facts if f.is_unknown)
        notes.append(msg("tx.mdo.note.neurology-if-deficit"))
    if surgeon.tx5 is None and surgeon.any_surgery is not True:
        for c in ctx.tx5:
            if c.value is None:
                missing.extend(c.missing)
        notes.append(msg("tx.mdo.note.surgeon-tx5-unknown"))
    elif surgeon.any_surgery is True and surgeon.tx5 is not True:
        notes.append(msg("tx.mdo.note.surgeon-tx7"))
    if surgeon.surgery_unknown:
        for c in ctx.surgery:
            if c.value is None:
                missing.extend(c.missing)
        notes.append(msg("tx.mdo.note.surgeon-tx7-unknown"))
    return missing, notes


def evaluate_mdo_referral(ctx: Evaluation) -> Finding | None:
    if ctx.mdo_answer is not None:
        return None  # TX-3 answered by a held MDO: the aftercare card says which
    surgeon = _surgeon(ctx)
    disciplines = _disciplines(ctx, surgeon)
    missing, notes = _unknowns(ctx, surgeon)
    referrals = ctx.facts.events_of("mdo-referral")
    suggestions: list[Suggestion] = []
    if referrals:
        indicator = Indicator.INFO
        summary = msg("tx.mdo.summary.referred")
        notes.append(msg("tx.mdo.note.referral-exists", status=pick(TX_EVENT_STATUS, referrals[0].status),
                         date=referrals[0].date or "-"))
    else:
        indicator = Indicator(ctx.tx("mdo_indicator_not_referred"))
        summary = msg("tx.mdo.summary.with-surgeon" if surgeon.joins else "tx.mdo.summary")
        suggestions.append(Suggestion("create-mdo-referral", msg("tx.mdo.suggestion"), {"disciplines": disciplines}))
    return Finding(
        topic="mdo-referral", rules=["TX-3", "TX-5"], indicator=indicator, summary=summary,
        conclusion=msg("tx.mdo.conclusion", count=len(disciplines)),
        result=MdoResult(disciplines=tuple(disciplines)), criteria=_criteria(ctx, surgeon), missing=dedupe_missing(missing),
        notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_MDO) if indicator != Indicator.INFO else [])
