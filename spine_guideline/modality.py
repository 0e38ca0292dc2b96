"""The ``treatment-modality`` card: TX-6 systemic therapy first, TX-7
radiotherapy or surgery (TX-7a..c), TX-10 best supportive care."""
from __future__ import annotations

from dataclasses import dataclass

from .common import NEURO_DEFICITS, as_bool, dedupe_missing, missing_of
from .context import Evaluation
from .facts import CancerCategory, Fact, PatientFacts, SearchStatus, Unknown, tri_and, tri_or
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, msg
from .keys import TX_MODALITY
from .mescc import deficit_due_to_mescc
from .policy import Policy
from .results import FirstChoice, ModalityResult
from .surgery import sins_support_note

RULES = ("TX-6", "TX-7", "TX-7a", "TX-7b", "TX-7c", "TX-10")


@dataclass
class FastEffect:
    """TX-6 first bullet: is the tumour one with a high chance of a fast effect?"""

    value: bool | None
    facts: tuple[Fact, ...]
    missing: list[Missing]
    notes: list[Message]


def _fast_type_recorded(facts: PatientFacts, wanted: set[str]) -> FastEffect | None:
    """A confirmed myeloma / lymphoma / germ cell tumour, or the germ-cell flag: met."""
    found = [c for c in facts.cancers if not c.suspected and c.cancer_type in wanted]
    flag = facts.condition("germ-cell-tumour", include_suspected=False)
    if not (found or flag.is_true):
        return None
    return FastEffect(True, tuple(Fact("fast-effect-tumour", True, (c.source,)) for c in found)
                      + ((flag,) if flag.is_true else ()), [], [])


def _unrecognised_type(facts: PatientFacts) -> FastEffect | None:
    """A confirmed cancer whose type the code lists do not know: unknown (unreadable)."""
    unrecognised = [c for c in facts.cancers if not c.suspected and c.category == CancerCategory.UNRECOGNISED]
    if not unrecognised:
        return None
    return FastEffect(None, tuple(Fact("primary-cancer", None, (c.source,), unknown=Unknown.UNREADABLE)
                                  for c in unrecognised),
                      [Missing("primary-cancer", Unknown.UNREADABLE.value)], [])


def _suspected_only(facts: PatientFacts, wanted: set[str]) -> FastEffect | None:
    """A suspected fast-effect tumour, or only suspected primaries: unknown (not a known primary)."""
    suspected = [c for c in facts.cancers if c.suspected and c.is_primary]
    primaries = [c for c in facts.cancers if not c.suspected and c.is_primary]
    suspected_fast = [c.source for c in suspected if c.cancer_type in wanted]
    suspected_fast += list(facts.condition("germ-cell-tumour").sources)  # a flag recorded as suspected only
    if not (suspected_fast or (suspected and not primaries)):
        return None
    shown = suspected_fast or [c.source for c in suspected]
    return FastEffect(None, (Fact("primary-cancer", None, tuple(shown), unknown=Unknown.NOT_RECORDED,
                                  note="suspected"),),
                      [Missing("primary-cancer", Unknown.NOT_RECORDED.value)],
                      [msg("tx.modality.note.suspected-primary")])


def _other_primary(facts: PatientFacts) -> FastEffect | None:
    """A known primary of another type: not met."""
    primaries = [c for c in facts.cancers if not c.suspected and c.is_primary]
    if not primaries:
        return None
    return FastEffect(False, (Fact("fast-effect-tumour", False, tuple(c.source for c in primaries)),), [], [])


def _primary_unknown(facts: PatientFacts) -> FastEffect:
    """No known primary (none recorded, or only C80 / metastasis codes): unknown (DX-6)."""
    status = facts.search_status("Condition")
    reason = Unknown.SEARCH_FAILED if status == SearchStatus.FAILED else Unknown.NOT_RECORDED
    return FastEffect(None, tuple(Fact("primary-cancer", c.cancer_type, (c.source,)) for c in facts.cancers),
                      [Missing("primary-cancer", reason.value)], [msg("tx.modality.note.primary-unknown")])


def fast_effect_tumour(facts: PatientFacts, policy: Policy) -> FastEffect:
    """Multiple myeloma, non-Hodgkin lymphoma or germ cell tumour (TX-6).

    Not met only when a primary tumour is known and none is of these types.
    Without a known primary (no cancer recorded, or only C80 / metastasis
    codes) the tumour may still be one of them (DX-6): unknown. A suspected
    primary is not a known one (as in DX-4/DX-5): a suspected fast-effect
    tumour, or only suspected primaries, leave it unknown."""
    wanted = set(policy.get("treatment", "fast_effect_tumours"))
    return (_fast_type_recorded(facts, wanted) or _unrecognised_type(facts) or _suspected_only(facts, wanted)
            or _other_primary(facts) or _primary_unknown(facts))


@dataclass(frozen=True)
class _Tx6:
    """TX-6: a deficit due to MESCC and a reason for systemic therapy first."""

    due: bool | None
    fast: FastEffect
    vital: Fact
    no_other: Fact

    @property
    def reason(self) -> bool | None:
        return tri_or(self.fast.value, as_bool(self.vital), as_bool(self.no_other))

    @property
    def value(self) -> bool | None:
        return tri_and(self.due, self.reason)


def _tx6(ctx: Evaluation) -> _Tx6:
    facts = ctx.facts
    return _Tx6(deficit_due_to_mescc(facts, ctx.radiological), fast_effect_tumour(facts, ctx.policy),
                facts.obs("vital-chemotherapy-indication"), facts.obs("no-other-treatment-options"))


def _criteria(ctx: Evaluation, tx6: _Tx6) -> list[Criterion]:
    facts = ctx.facts
    fit, adequate = facts.obs("fit-for-surgery"), facts.obs("adequate-rt-dose-possible")
    criteria = [
        Criterion("tx.modality.crit.deficit-due-to-mescc", Status.of(tx6.due), "TX-6",
                  tuple(facts.obs(d) for d in NEURO_DEFICITS) + ctx.radiological.facts),
        Criterion("tx.modality.crit.fast-effect-tumour", Status.of(tx6.fast.value), "TX-6", tx6.fast.facts),
        Criterion("tx.modality.crit.vital-chemotherapy", Status.of(as_bool(tx6.vital)), "TX-6", (tx6.vital,)),
        Criterion("tx.modality.crit.no-other-options", Status.of(as_bool(tx6.no_other)), "TX-6", (tx6.no_other,)),
    ]
    criteria.extend(c.criterion() for c in ctx.surgery)
    criteria.append(Criterion("tx.crit.fit-for-surgery", Status.of(as_bool(fit)), "TX-7", (fit,)))
    criteria.append(Criterion("tx.modality.crit.adequate-rt-dose", Status.of(as_bool(adequate)), "TX-7",
                              (adequate,)))
    return criteria


def _tx6_unknown(ctx: Evaluation, tx6: _Tx6) -> tuple[list[Missing], list[Message]]:
    """An unknown TX-6 could still make systemic therapy the first choice: what would decide it."""
    missing: list[Missing] = []
    if tx6.value is not None:
        return missing, []
    facts = ctx.facts
    if tx6.due is None:
        missing.extend(missing_of(facts.obs(d), d) for d in NEURO_DEFICITS if facts.obs(d).is_unknown)
        missing.extend(ctx.radiological.missing)
    if tx6.reason is None:
        if tx6.fast.value is None:
            missing.extend(tx6.fast.missing)
        missing.extend(missing_of(f, f.name) for f in (tx6.vital, tx6.no_other) if f.is_unknown)
    notes = [msg("tx.modality.note.tx6-unknown")]
    if tx6.reason is None and tx6.fast.value is None:
        notes.extend(tx6.fast.notes)  # why the tumour type is unknown
    return missing, notes


def _surgery_first(ctx: Evaluation, missing: list[Missing], notes: list[Message]) -> tuple[FirstChoice, list[str]]:
    """TX-7 / TX-7c: a surgical indication and a patient not known unfit."""
    fit = ctx.facts.obs("fit-for-surgery")
    if fit.is_unknown:
        missing.append(missing_of(fit, "fit-for-surgery"))
        notes.append(msg("tx.modality.note.fitness-unknown"))
    return FirstChoice.SURGERY, ["TX-7", "TX-7c"]


def _radiotherapy_or_options(ctx: Evaluation, any_surgery: bool | None, missing: list[Missing],
                             notes: list[Message]) -> tuple[FirstChoice, list[str]]:
    """TX-7: radiotherapy when an adequate dose is not known impossible, else the options (TX-7a/c, TX-10)."""
    facts = ctx.facts
    fit, adequate = facts.obs("fit-for-surgery"), facts.obs("adequate-rt-dose-possible")
    if any_surgery is True:  # surgery indicated but the patient is unfit
        notes.append(msg("tx.modality.note.unfit-for-surgery"))
    elif any_surgery is None and not fit.is_false:
        for c in ctx.surgery:
            if c.value is None:
                missing.extend(c.missing)
        notes.append(msg("tx.modality.note.surgery-unknown"))
    if adequate.is_false:
        notes.append(msg("tx.modality.note.options"))
        return FirstChoice.UNDECIDED, ["TX-7", "TX-7a", "TX-7c", "TX-10"]
    if adequate.is_unknown:
        missing.append(missing_of(adequate, "adequate-rt-dose-possible"))
        notes.append(msg("tx.modality.note.adequate-dose-assumed"))
    return FirstChoice.RADIOTHERAPY, ["TX-7"]


def _closing_notes(ctx: Evaluation, choice: FirstChoice, rules: list[str], notes: list[Message]) -> None:
    """TX-7a re-irradiation, TX-7c, the SINS support note and TX-7b, whatever the choice."""
    if ctx.facts.obs("progression-after-rt").is_true and "TX-7a" not in rules:
        rules.append("TX-7a")
    if "TX-7a" in rules:
        notes.append(msg("tx.modality.note.tx7a"))
    if choice in (FirstChoice.SURGERY, FirstChoice.UNDECIDED):
        notes.append(msg("tx.modality.note.tx7c"))
    notes.extend(sins_support_note(ctx.facts, ctx.policy))
    rules.append("TX-7b")
    notes.append(msg("tx.modality.note.tx7b"))


def evaluate_modality(ctx: Evaluation) -> Finding:
    tx6 = _tx6(ctx)
    any_surgery = tri_or(*[c.value for c in ctx.surgery])
    missing, notes = _tx6_unknown(ctx, tx6)
    if tx6.value is True:
        choice, rules = FirstChoice.SYSTEMIC_THERAPY, ["TX-6"]
    elif any_surgery is True and not ctx.facts.obs("fit-for-surgery").is_false:
        choice, rules = _surgery_first(ctx, missing, notes)
    else:
        choice, rules = _radiotherapy_or_options(ctx, any_surgery, missing, notes)
    _closing_notes(ctx, choice, rules, notes)
    summary_key, conclusion_key = TX_MODALITY[choice.value]
    return Finding(
        topic="treatment-modality", rules=rules, indicator=Indicator.INFO,
        summary=msg(summary_key), conclusion=msg(conclusion_key),
        result=ModalityResult(first_choice=choice), criteria=_criteria(ctx, tx6), missing=dedupe_missing(missing), notes=notes)
