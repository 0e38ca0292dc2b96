"""The ``corticosteroids`` card: DX-3 start early, DX-6 withhold for a tissue
diagnosis, DX-7 progression despite corticosteroids; dose TX-1."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .common import MESCC, RADICULAR, SEVERE, Advice, after, max_indicator, missing_of, order_key
from .context import Evaluation
from .facts import DraftOrder, Fact, Medication, Unknown, tri_or
from .findings import Criterion, Finding, Indicator, Missing, Status, Suggestion, msg
from .keys import DX_REASON, pick
from .mri_window import mri_status

RULES = ("DX-3", "DX-6", "DX-7", "TX-1")
DEXAMETHASONE = "dexamethasone"
STARTED = "dexamethasone-started"
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


@dataclass(frozen=True)
class Steroids:
    """Which systemic glucocorticoids are active (or given in the last 24 hours).

    ``started`` is DX-3's "started" (policy): dexamethasone active or given; unknown
    when a corticosteroid is recorded by its class only; false otherwise (another
    glucocorticoid such as chronic prednisolone does not count)."""

    started: Fact
    others: tuple[Medication, ...]        # a known ingredient other than dexamethasone
    unnamed: tuple[Medication, ...]       # a corticosteroid class without its ingredient
    active: tuple[Medication, ...]        # every active systemic glucocorticoid (DX-7)


def steroids(ctx: Evaluation) -> Steroids:
    facts = ctx.facts
    active = tuple(m for m in facts.medications if m.drug_class == "corticosteroid" and m.active)
    dex = [m for m in active if m.ingredient == DEXAMETHASONE]
    others = tuple(m for m in active if m.ingredient is not None and m.ingredient != DEXAMETHASONE)
    unnamed = tuple(m for m in active if m.ingredient is None)
    if dex:
        started = Fact(STARTED, True, tuple(m.source for m in dex))
    elif unnamed:
        started = Fact(STARTED, None, tuple(m.source for m in unnamed), unknown=Unknown.UNREADABLE)
    elif others:
        started = Fact(STARTED, False, tuple(m.source for m in others))
    else:
        started = facts.absent(STARTED, None, "MedicationRequest", "MedicationStatement")
    return Steroids(started, others, unnamed, active)


def _progression_date(deficit: Fact) -> Any:
    """When the progression was recorded: the deficit record's effective date, else its onset."""
    return deficit.recorded or deficit.attr("onset").value


def despite(used: list[Fact], active: tuple[Medication, ...]) -> bool | None:
    """DX-7 "despite" (policy): a progressive deficit recorded after a systemic glucocorticoid
    was started. True when one is; False when every progression is recorded before or at
    every start; unknown when a date is missing."""
    answers: list[bool | None] = []
    for deficit in (f for f in used if f.name in (MESCC, RADICULAR, SEVERE)):
        if deficit.attr("progressive").value is not True:
            continue
        for m in active:
            answers.append(after(_progression_date(deficit), m.started or m.source.date))
    return tri_or(*answers) if answers else False


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
    biopsy = facts.events_of("spine-lesion-biopsy", status="done")
    tissue = prim.tissue_needed if not biopsy else False  # DX-6 ends once a biopsy was taken
    medication = steroids(ctx)
    active = medication.started
    criteria = [Criterion("dx.crit.severe-deficit", Status.of(severe.value), "DX-3", (severe,))]
    criteria += prim.criteria
    criteria.append(Criterion("dx.crit.tissue-needed", Status.of(tissue), "DX-6",
                              (prim.known,) + tuple(Fact("spine-lesion-biopsy", True, (e.source,)) for e in biopsy)))
    criteria.append(Criterion("dx.crit.dexamethasone-started", Status.of(active.value), "DX-3", (active,)))
    missing = list(prim.missing)
    notes = list(prim.notes)
    if medication.others:
        notes.append(msg("dx.note.other-glucocorticoid",
                         drugs=[m.source.display or m.ingredient or m.source.reference for m in medication.others]))
    if medication.unnamed and not active.is_true:
        notes.append(msg("dx.note.corticosteroid-ingredient-unknown",
                         refs=[m.source.reference for m in medication.unnamed]))
    if biopsy:
        notes.append(msg("dx.note.biopsy-done-pathology-pending", ref=biopsy[0].source.reference,
                         date=biopsy[0].date or "?"))
    rules: list[str] = []
    suggestions: list[Suggestion] = []
    dose = msg("dx.steroids.dose", loading=ctx.dx("dexamethasone_loading_mg_iv"),
               daily=ctx.dx("dexamethasone_daily_mg_oral"))
    base_indicator = Indicator(ctx.dx("corticosteroid_advice_indicator"))
    is_order = order is not None
    advice: Advice | None

    tissue_first = (prim.known.is_false or prim.doubt is True) and not biopsy
    dx3_applies = prim.known.is_true or bool(biopsy)
    if tissue_first:  # DX-6
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
        if medication.active:
            notes.append(msg("dx.note.steroids-already-active-withhold"))
        notes.append(msg("dx.note.dx7-escalation"))
    elif dx3_applies and severe.is_true:  # doubt false or unknown, or the biopsy was taken (DX-3)
        advice = Advice.START
        rules.extend(["DX-3", "TX-1"])
        if prim.doubt is None:
            notes.append(msg("dx.note.doubt-unknown-start"))
        if active.is_true or (active.is_unknown and medication.unnamed):
            # dexamethasone started (or a corticosteroid whose ingredient is not recorded:
            # no second loading dose is suggested; the card asks which it is)
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
    elif dx3_applies:
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

    finding = Finding(
        topic="corticosteroids", rules=rules, indicator=indicator, summary=summary,
        conclusion=conclusion, result={"advice": _wire(advice), "rule": _advice_rule(advice)},
        criteria=criteria, missing=missing, notes=notes, suggestions=suggestions,
        key=order_key(order) if order is not None else None)
    _dx7(ctx, finding, medication)
    finding.override_reasons = list(OVERRIDE_STEROIDS) if finding.indicator != Indicator.INFO else []
    return finding


def _dx7(ctx: Evaluation, f: Finding, medication: Steroids) -> None:
    """DX-7: progressive deficit despite corticosteroids (whatever DX-3/DX-6 say): any systemic
    glucocorticoid counts, and the progression must be recorded after it was started."""
    progressive, used = progressive_deficit(ctx)
    if not medication.active or progressive is not True:
        return
    later = despite(used, medication.active)
    if later is False:
        f.notes.append(msg("dx.note.dx7-progression-before-start"))
        return
    f.rules.append("DX-7")
    f.indicator = max_indicator(f.indicator, Indicator(ctx.dx("dx7_indicator")))
    given = Fact("corticosteroid", True, tuple(m.source for m in medication.active))
    f.criteria.append(Criterion("dx.crit.dx7", Status.MET, "DX-7", tuple([given] + used)))
    f.notes = [n for n in f.notes if n.key != "dx.note.dx7-escalation"]
    f.notes.insert(0, msg("dx.note.dx7-fired"))
    if later is None:  # unknowns take the stricter reading (policy)
        f.notes.insert(1, msg("dx.note.dx7-timing-unknown"))
        f.missing.append(Missing("corticosteroid-start", "not-recorded"))
    f.summary = msg("dx.steroids.summary.dx7")


def _wire(advice: Advice | None) -> str | None:
    return advice.value if advice is not None else None


def _advice_rule(advice: Advice | None) -> str | None:
    if advice is Advice.START:
        return "DX-3"
    if advice is Advice.WITHHOLD:
        return "DX-6"
    return None
