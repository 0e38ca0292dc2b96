"""The ``corticosteroids`` card: DX-3 start early, DX-6 withhold for a tissue
diagnosis, DX-7 progression despite corticosteroids; dose TX-1."""
from __future__ import annotations

from .common import MESCC, RADICULAR, SEVERE, Advice, max_indicator, missing_of, order_key
from .context import Evaluation
from .facts import DraftOrder, Fact, tri_or
from .findings import Criterion, Finding, Indicator, Status, Suggestion, msg
from .keys import DX_REASON, pick
from .mri_window import mri_status

RULES = ("DX-3", "DX-6", "DX-7", "TX-1")
OVERRIDE_STEROIDS = ("clinical-judgement", "tissue-diagnosis-obtained", "patient-declines")

#: (summary, conclusion) when DX-3 is not met (severity known not severe) or undecided
_NOT_SEVERE = {False: ("dx.steroids.summary.not-severe", "dx.steroids.conclusion.not-severe"),
               True: ("dx.steroids.summary.order-not-severe", "dx.steroids.conclusion.order-not-severe")}
_ASSESS = {False: ("dx.steroids.summary.assess-severity", "dx.steroids.conclusion.assess-severity"),
           True: ("dx.steroids.summary.order-assess-severity", "dx.steroids.conclusion.order-assess-severity")}
#: DX-3 start conclusions by (an MRI answers the deficit, doubt unknown)
_START = {(False, False): "dx.steroids.conclusion.start",
          (False, True): "dx.steroids.conclusion.start.doubt-unknown",
          (True, False): "dx.steroids.conclusion.start.mri-done",
          (True, True): "dx.steroids.conclusion.start.mri-done.doubt-unknown"}


def spinal_context(ctx: Evaluation) -> bool:
    """Whether the patient is on the spinal-metastasis pathway at all (gate for steroid orders)."""
    facts = ctx.facts
    return bool(facts.condition_records("spinal-metastasis")
                or facts.condition_records("cord-compression")
                or facts.obs(MESCC).is_true
                or ctx.suspicion.value is True)


def progressive_deficit(ctx: Evaluation) -> tuple[bool | None, list[Fact]]:
    """Whether a deficit recorded true is progressive, and the facts that say so."""
    parts: list[bool | None] = []
    used: list[Fact] = []
    for name in (MESCC, RADICULAR, SEVERE):
        deficit = ctx.facts.obs(name)
        if not deficit.is_true:
            continue
        progressive = deficit.attr("progressive")
        used.extend([deficit, progressive])
        parts.append(progressive.value)
    if not parts:
        return False, used
    return tri_or(*parts), used


def evaluate_corticosteroids(ctx: Evaluation, order: DraftOrder | None = None) -> Finding | None:
    facts, policy = ctx.facts, ctx.policy
    severe = facts.obs(SEVERE)
    mescc = facts.obs(MESCC)
    # entry condition (guideline.md): severe-neurological-deficit or mescc-deficit true, or a
    # corticosteroid draft order; only an order without such a deficit also needs the patient
    # to be on the spinal-metastasis pathway (else any steroid order would get a card)
    deficit = severe.is_true or mescc.is_true
    if not deficit:
        # DX-7 covers any deficit (source 002: "progressieve uitval ondanks corticosteroïden"):
        # a progressive (e.g. radicular) deficit while a corticosteroid is active also opens
        # the card, so the surgical escalation is never silent.
        progressive, _ = progressive_deficit(ctx)
        deficit = progressive is True and facts.medication("corticosteroid").is_true
    if order is None and not deficit:
        return None
    if not deficit and not spinal_context(ctx):
        return None
    prim = ctx.primary
    tissue = prim.tissue_needed
    active = facts.medication("corticosteroid")
    criteria = [Criterion("dx.crit.severe-deficit", Status.of(severe.value), "DX-3", (severe,))]
    criteria += prim.criteria
    criteria.append(Criterion("dx.crit.tissue-needed", Status.of(tissue), "DX-6", (prim.known,)))
    criteria.append(Criterion("dx.crit.corticosteroid-active", Status.of(active.value), "DX-3", (active,)))
    missing = list(prim.missing)
    notes = list(prim.notes)
    rules: list[str] = []
    suggestions: list[Suggestion] = []
    dose = msg("dx.steroids.dose", loading=ctx.dx("dexamethasone_loading_mg_iv"),
               daily=ctx.dx("dexamethasone_daily_mg_oral"))
    base_indicator = Indicator(ctx.dx("corticosteroid_advice_indicator"))
    is_order = order is not None
    advice: Advice | None

    if prim.known.is_false or prim.doubt is True:  # DX-6
        advice = Advice.WITHHOLD
        rules.extend(["DX-4", "DX-6"] if prim.doubt is True else ["DX-6"])
        indicator = base_indicator
        reasons = [pick(DX_REASON, r) for r in prim.reasons]
        if is_order:
            summary = msg("dx.steroids.summary.order-withhold")
            conclusion = msg("dx.steroids.conclusion.order-withhold", reasons=reasons)
        else:
            summary = msg("dx.steroids.summary.withhold")
            conclusion = msg("dx.steroids.conclusion.withhold", reasons=reasons)
        if active.is_true:
            notes.append(msg("dx.note.steroids-already-active-withhold"))
        if facts.events_of("spine-lesion-biopsy", status="done"):
            notes.append(msg("dx.note.biopsy-done"))
        notes.append(msg("dx.note.dx7-escalation"))
    elif prim.known.is_true and severe.is_true:  # doubt false or unknown (DX-3)
        advice = Advice.START
        rules.extend(["DX-3", "TX-1"])
        if prim.doubt is None:
            notes.append(msg("dx.note.doubt-unknown-start"))
        if active.is_true:
            indicator = Indicator.INFO
            summary = msg("dx.steroids.summary.start-active")
            conclusion = msg("dx.steroids.conclusion.start-active", dose=dose)
        else:
            indicator = Indicator.INFO if is_order else base_indicator
            summary = msg("dx.steroids.summary.order-start" if is_order else "dx.steroids.summary.start")
            # the text says "before the MRI" only while no MRI answers the current deficit,
            # and "without doubt" only when doubt is decided false
            mri_done = mri_status(facts, policy, [severe]).state == "done"
            conclusion = msg(_START[(mri_done, prim.doubt is None)], dose=dose)
            if not is_order:
                suggestions.append(Suggestion("create-dexamethasone", msg("dx.suggest.dexamethasone", dose=dose), {}))
        if active.is_unknown:
            missing.append(missing_of(active, "corticosteroid"))
    elif prim.known.is_true:
        # known primary, doubt not established, severe deficit not true: DX-3 not met (false)
        # or undecided (unknown); DX-6 does not apply. The entry condition holds, so a card,
        # never silence: it is also where DX-7 is shown.
        advice = None
        rules.append("DX-3")
        indicator = Indicator.INFO
        if severe.is_false:
            summary_key, conclusion_key = _NOT_SEVERE[is_order]
        else:
            missing.append(missing_of(severe))
            summary_key, conclusion_key = _ASSESS[is_order]
            if prim.doubt is None and not is_order:
                conclusion_key = "dx.steroids.conclusion.assess-severity.doubt-unknown"
        summary = msg(summary_key)
        conclusion = msg(conclusion_key, dose=dose)
        if prim.doubt is None:
            notes.append(msg("dx.note.doubt-unknown-no-start"))
        notes.append(msg("dx.note.dx7-escalation"))
    else:
        advice = None
        rules.extend(["DX-3", "DX-6"])
        indicator = Indicator.WARNING
        summary = msg("dx.steroids.summary.undecided")
        conclusion = msg("dx.steroids.conclusion.undecided")
        notes.append(msg("dx.note.dx7-escalation"))

    # DX-7: progressive deficit despite corticosteroids (whatever DX-3/DX-6 say)
    progressive, used = progressive_deficit(ctx)
    if active.is_true and progressive is True:
        rules.append("DX-7")
        indicator = max_indicator(indicator, Indicator(ctx.dx("dx7_indicator")))
        criteria.append(Criterion("dx.crit.dx7", Status.MET, "DX-7", tuple([active] + used)))
        notes = [n for n in notes if n.key != "dx.note.dx7-escalation"]
        notes.insert(0, msg("dx.note.dx7-fired"))
        summary = msg("dx.steroids.summary.dx7")

    return Finding(
        topic="corticosteroids", rules=rules, indicator=indicator, summary=summary,
        conclusion=conclusion, result={"advice": _wire(advice), "rule": _advice_rule(advice)},
        criteria=criteria, missing=missing, notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_STEROIDS) if indicator != Indicator.INFO else [],
        key=order_key(order) if order is not None else None)


def _wire(advice: Advice | None) -> str | None:
    return advice.value if advice is not None else None


def _advice_rule(advice: Advice | None) -> str | None:
    if advice is Advice.START:
        return "DX-3"
    if advice is Advice.WITHHOLD:
        return "DX-6"
    return None
