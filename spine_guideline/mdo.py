"""The ``mdo-referral`` card: TX-3 the multidisciplinary meeting, TX-5 whether
the spine surgeon joins."""
from __future__ import annotations

from .common import dedupe_missing, missing_of
from .context import Evaluation
from .facts import tri_and, tri_or
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import TX_EVENT_STATUS, TX_MDO_DISCIPLINE, pick

RULES = ("TX-3", "TX-5")
DISCIPLINES = ("treating-specialist", "radiation-oncology", "radiology", "neurology", "spine-surgery")
OVERRIDE_MDO = ("tx-mdo-already-discussed", "tx-patient-declined", "tx-data-incorrect")


def evaluate_mdo_referral(ctx: Evaluation) -> Finding | None:
    if ctx.mdo_answer is not None:
        return None  # TX-3 answered by a held MDO: the aftercare card says which
    facts = ctx.facts
    base = list(ctx.tx("mdo_base_disciplines"))
    deficit = ctx.deficit
    tx5 = ctx.tx5
    tx5_value = tri_and(*[c.value for c in tx5])
    surg = ctx.surgery
    any_surgery = tri_or(*[c.value for c in surg])
    fit = facts.obs("fit-for-surgery")
    # an unknown TX-7 indication could still call for the surgeon, unless the patient is unfit
    surgery_unknown = tx5_value is not True and any_surgery is None and not fit.is_false
    with_surgeon = tx5_value is True or any_surgery is True or tx5_value is None or surgery_unknown

    disciplines = list(base)
    if deficit.value is True:
        disciplines.append("neurology")
    if with_surgeon:
        disciplines.append("spine-surgery")
    disciplines = [d for d in DISCIPLINES if d in disciplines]

    rules = ["TX-3", "TX-5"]
    criteria = [Criterion(TX_MDO_DISCIPLINE[d], Status.MET, "TX-3") for d in base]
    criteria.append(Criterion("tx.mdo.crit.discipline.neurology", Status.of(deficit.value), "TX-3",
                              tuple(f for f in deficit.facts if f.is_known)))
    criteria.append(Criterion("tx.mdo.crit.discipline.spine-surgery",
                              Status.MET if with_surgeon else Status.NOT_MET, "TX-3"))
    criteria.append(Criterion("tx.mdo.crit.tx5", Status.of(tx5_value), "TX-5"))
    criteria.extend(c.criterion() for c in tx5)
    criteria.extend(c.criterion() for c in surg if c.value is True)

    missing: list[Missing] = []
    notes: list[Message] = []
    if deficit.value is None:
        missing.extend(missing_of(f, f.name) for f in deficit.facts if f.is_unknown)
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
        notes.append(msg("tx.mdo.note.referral-exists", status=pick(TX_EVENT_STATUS, referrals[0].status),
                         date=referrals[0].date or "-"))
    else:
        indicator = Indicator(ctx.tx("mdo_indicator_not_referred"))
        summary = msg("tx.mdo.summary.with-surgeon" if with_surgeon else "tx.mdo.summary")
        suggestions.append(Suggestion("create-mdo-referral", msg("tx.mdo.suggestion"), {"disciplines": disciplines}))
    return Finding(
        topic="mdo-referral", rules=rules, indicator=indicator, summary=summary,
        conclusion=msg("tx.mdo.conclusion", count=len(disciplines)),
        result={"disciplines": disciplines}, criteria=criteria, missing=dedupe_missing(missing),
        notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_MDO) if indicator != Indicator.INFO else [])
