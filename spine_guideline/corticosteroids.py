"""The ``corticosteroids`` card: DX-3 start early, DX-6 withhold for a tissue
diagnosis, DX-7 progression despite corticosteroids; dose TX-1."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import MESCC, RADICULAR, SEVERE, MriState, after, max_indicator, missing_of, order_key
from .context import Evaluation
from .facts import DraftOrder, Event, Fact, Medication, Unknown, tri_or
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import DX_REASON, pick
from .mri_window import mri_status
from .results import Advice, CorticosteroidsResult

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


def _card_opens(ctx: Evaluation, order: DraftOrder | None) -> bool:
    """Entry condition (guideline.md): severe-neurological-deficit or mescc-deficit true, or a
    corticosteroid draft order; only an order without such a deficit also needs the patient
    to be on the spinal-metastasis pathway (else any steroid order would get a card)."""
    facts = ctx.facts
    deficit = facts.obs(SEVERE).is_true or facts.obs(MESCC).is_true
    if not deficit:
        # DX-7 covers any deficit (source 002: "progressieve uitval ondanks corticosteroïden"):
        # a progressive (e.g. radicular) deficit while a corticosteroid is active also opens
        # the card, so the surgical escalation is never silent.
        progressive, _ = progressive_deficit(ctx)
        deficit = progressive is True and facts.medication("corticosteroid").is_true
    if deficit:
        return True
    return order is not None and spinal_context(ctx)


@dataclass
class _Advised:
    """What one DX-3 / DX-6 branch says: advice, rules, indicator, texts, and what it adds."""

    advice: Advice | None
    rules: list[str]
    indicator: Indicator
    summary: Message
    conclusion: Message
    notes: list[Message] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


def _withhold(ctx: Evaluation, medication: Steroids, is_order: bool) -> _Advised:
    """DX-6: no known primary (or doubt about it) and no biopsy yet: withhold for a tissue diagnosis."""
    prim = ctx.primary
    reasons = [pick(DX_REASON, r) for r in prim.reasons]
    if is_order:
        summary = msg("dx.steroids.summary.order-withhold")
        conclusion = msg("dx.steroids.conclusion.order-withhold", reasons=reasons)
    else:
        summary = msg("dx.steroids.summary.withhold")
        conclusion = msg("dx.steroids.conclusion.withhold", reasons=reasons)
    out = _Advised(Advice.WITHHOLD, ["DX-4", "DX-6"] if prim.doubt is True else ["DX-6"],
                   Indicator(ctx.dx("corticosteroid_advice_indicator")), summary, conclusion)
    if medication.active:
        out.notes.append(msg("dx.note.steroids-already-active-withhold"))
    out.notes.append(msg("dx.note.dx7-escalation"))
    return out


def _start(ctx: Evaluation, medication: Steroids, is_order: bool, dose: Message) -> _Advised:
    """DX-3 met (known primary or biopsy taken, severe deficit true): start dexamethasone (TX-1)."""
    prim, severe, active = ctx.primary, ctx.facts.obs(SEVERE), medication.started
    notes = [msg("dx.note.doubt-unknown-start")] if prim.doubt is None else []
    if active.is_true or (active.is_unknown and medication.unnamed):
        # dexamethasone started (or a corticosteroid whose ingredient is not recorded:
        # no second loading dose is suggested; the card asks which it is)
        out = _Advised(Advice.START, ["DX-3", "TX-1"], Indicator.INFO, msg("dx.steroids.summary.start-active"),
                       msg("dx.steroids.conclusion.start-active", dose=dose), notes)
    else:
        indicator = Indicator.INFO if is_order else Indicator(ctx.dx("corticosteroid_advice_indicator"))
        summary = msg("dx.steroids.summary.order-start" if is_order else "dx.steroids.summary.start")
        # the text says "before the MRI" only while no MRI answers the current deficit,
        # and "without doubt" only when doubt is decided false
        mri_done = mri_status(ctx.facts, ctx.policy, [severe]).state is MriState.DONE
        conclusion = msg(_START[(mri_done, prim.doubt is None)], dose=dose)
        out = _Advised(Advice.START, ["DX-3", "TX-1"], indicator, summary, conclusion, notes)
        if not is_order:
            out.suggestions.append(Suggestion("create-dexamethasone", msg("dx.suggest.dexamethasone", dose=dose), {}))
    if active.is_unknown:
        out.missing.append(missing_of(active, "corticosteroid"))
    return out


def _dx3_not_met(ctx: Evaluation, is_order: bool, dose: Message) -> _Advised:
    """Known primary, doubt not established, severe deficit not true: DX-3 not met (false)
    or undecided (unknown); DX-6 does not apply. The entry condition holds, so a card,
    never silence: it is also where DX-7 is shown."""
    prim, severe = ctx.primary, ctx.facts.obs(SEVERE)
    missing: list[Missing] = []
    if severe.is_false:
        summary_key, conclusion_key = _NOT_SEVERE[is_order]
    else:
        missing.append(missing_of(severe))
        summary_key, conclusion_key = _ASSESS[is_order]
        if prim.doubt is None and not is_order:
            conclusion_key = "dx.steroids.conclusion.assess-severity.doubt-unknown"
    notes = [msg("dx.note.doubt-unknown-no-start")] if prim.doubt is None else []
    notes.append(msg("dx.note.dx7-escalation"))
    return _Advised(None, ["DX-3"], Indicator.INFO, msg(summary_key), msg(conclusion_key, dose=dose), notes, missing)


def _undecided() -> _Advised:
    """Whether the primary is known is itself unknown: neither DX-3 nor DX-6 can be decided."""
    return _Advised(None, ["DX-3", "DX-6"], Indicator.WARNING, msg("dx.steroids.summary.undecided"),
                    msg("dx.steroids.conclusion.undecided"), [msg("dx.note.dx7-escalation")])


def _advise(ctx: Evaluation, medication: Steroids, biopsy: bool, is_order: bool) -> _Advised:
    """DX-6 before DX-3: the branch the primary tumour and the severity select."""
    prim = ctx.primary
    dose = msg("dx.steroids.dose", loading=ctx.dx("dexamethasone_loading_mg_iv"),
               daily=ctx.dx("dexamethasone_daily_mg_oral"))
    dx3_applies = prim.known.is_true or biopsy
    if (prim.known.is_false or prim.doubt is True) and not biopsy:  # DX-6
        return _withhold(ctx, medication, is_order)
    if dx3_applies and ctx.facts.obs(SEVERE).is_true:  # doubt false or unknown, or the biopsy was taken (DX-3)
        return _start(ctx, medication, is_order, dose)
    if dx3_applies:
        return _dx3_not_met(ctx, is_order, dose)
    return _undecided()


def _criteria(ctx: Evaluation, medication: Steroids, biopsy: list[Event]) -> list[Criterion]:
    prim, severe, active = ctx.primary, ctx.facts.obs(SEVERE), medication.started
    tissue = prim.tissue_needed if not biopsy else False  # DX-6 ends once a biopsy was taken
    criteria = [Criterion("dx.crit.severe-deficit", Status.of(severe.value), "DX-3", (severe,))]
    criteria += prim.criteria
    criteria.append(Criterion("dx.crit.tissue-needed", Status.of(tissue), "DX-6",
                              (prim.known,) + tuple(Fact("spine-lesion-biopsy", True, (e.source,)) for e in biopsy)))
    criteria.append(Criterion("dx.crit.dexamethasone-started", Status.of(active.value), "DX-3", (active,)))
    return criteria


def _notes(ctx: Evaluation, medication: Steroids, biopsy: list[Event]) -> list[Message]:
    notes = list(ctx.primary.notes)
    if medication.others:
        notes.append(msg("dx.note.other-glucocorticoid",
                         drugs=[m.source.display or m.ingredient or m.source.reference for m in medication.others]))
    if medication.unnamed and not medication.started.is_true:
        notes.append(msg("dx.note.corticosteroid-ingredient-unknown",
                         refs=[m.source.reference for m in medication.unnamed]))
    if biopsy:
        notes.append(msg("dx.note.biopsy-done-pathology-pending", ref=biopsy[0].source.reference,
                         date=biopsy[0].date or "?"))
    return notes


def evaluate_corticosteroids(ctx: Evaluation, order: DraftOrder | None = None) -> Finding | None:
    if not _card_opens(ctx, order):
        return None
    biopsy = ctx.facts.events_of("spine-lesion-biopsy", status="done")
    medication = steroids(ctx)
    advised = _advise(ctx, medication, bool(biopsy), order is not None)
    finding = Finding(
        topic="corticosteroids", rules=advised.rules, indicator=advised.indicator, summary=advised.summary,
        conclusion=advised.conclusion, result=CorticosteroidsResult(advice=advised.advice, rule=_advice_rule(advised.advice)),
        criteria=_criteria(ctx, medication, biopsy), missing=list(ctx.primary.missing) + advised.missing,
        notes=_notes(ctx, medication, biopsy) + advised.notes, suggestions=advised.suggestions,
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


def _advice_rule(advice: Advice | None) -> str | None:
    if advice is Advice.START:
        return "DX-3"
    if advice is Advice.WITHHOLD:
        return "DX-6"
    return None
