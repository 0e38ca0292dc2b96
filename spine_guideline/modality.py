"""The ``treatment-modality`` card: TX-6 systemic therapy first, TX-7
radiotherapy or surgery (TX-7a..c), TX-10 best supportive care."""
from __future__ import annotations

from dataclasses import dataclass

from .common import NEURO_DEFICITS, FirstChoice, as_bool, dedupe_missing, missing_of
from .context import Evaluation
from .facts import CancerCategory, Fact, PatientFacts, SearchStatus, Unknown, tri_and, tri_or
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, msg
from .keys import TX_MODALITY
from .mescc import deficit_due_to_mescc
from .policy import Policy
from .surgery import sins_support_note

RULES = ("TX-6", "TX-7", "TX-7a", "TX-7b", "TX-7c", "TX-10")


@dataclass
class FastEffect:
    """TX-6 first bullet: is the tumour one with a high chance of a fast effect?"""

    value: bool | None
    facts: tuple[Fact, ...]
    missing: list[Missing]
    notes: list[Message]


def fast_effect_tumour(facts: PatientFacts, policy: Policy) -> FastEffect:
    """Multiple myeloma, non-Hodgkin lymphoma or germ cell tumour (TX-6).

    Not met only when a primary tumour is known and none is of these types.
    Without a known primary (no cancer recorded, or only C80 / metastasis
    codes) the tumour may still be one of them (DX-6): unknown. A suspected
    primary is not a known one (as in DX-4/DX-5): a suspected fast-effect
    tumour, or only suspected primaries, leave it unknown."""
    wanted = set(policy.get("treatment", "fast_effect_tumours"))
    confirmed = [c for c in facts.cancers if not c.suspected]
    suspected = [c for c in facts.cancers if c.suspected and c.is_primary]
    found = [c for c in confirmed if c.cancer_type in wanted]
    flag = facts.condition("germ-cell-tumour", include_suspected=False)
    if found or flag.is_true:
        return FastEffect(True, tuple(Fact("fast-effect-tumour", True, (c.source,)) for c in found)
                          + ((flag,) if flag.is_true else ()), [], [])
    unrecognised = [c for c in confirmed if c.category == CancerCategory.UNRECOGNISED]
    if unrecognised:
        return FastEffect(None, tuple(Fact("primary-cancer", None, (c.source,), unknown=Unknown.UNREADABLE)
                                      for c in unrecognised),
                          [Missing("primary-cancer", Unknown.UNREADABLE.value)], [])
    suspected_fast = [c.source for c in suspected if c.cancer_type in wanted]
    suspected_fast += list(facts.condition("germ-cell-tumour").sources)  # a flag recorded as suspected only
    primaries = [c for c in confirmed if c.is_primary]
    if suspected_fast or (suspected and not primaries):
        shown = suspected_fast or [c.source for c in suspected]
        return FastEffect(None, (Fact("primary-cancer", None, tuple(shown), unknown=Unknown.NOT_RECORDED,
                                      note="suspected"),),
                          [Missing("primary-cancer", Unknown.NOT_RECORDED.value)],
                          [msg("tx.modality.note.suspected-primary")])
    if primaries:
        return FastEffect(False, (Fact("fast-effect-tumour", False, tuple(c.source for c in primaries)),), [], [])
    status = facts.search_status("Condition")
    reason = Unknown.SEARCH_FAILED if status == SearchStatus.FAILED else Unknown.NOT_RECORDED
    return FastEffect(None, tuple(Fact("primary-cancer", c.cancer_type, (c.source,)) for c in facts.cancers),
                      [Missing("primary-cancer", reason.value)], [msg("tx.modality.note.primary-unknown")])


def evaluate_modality(ctx: Evaluation) -> Finding:
    facts, policy, rad = ctx.facts, ctx.policy, ctx.radiological
    due = deficit_due_to_mescc(facts, rad)
    fast_effect = fast_effect_tumour(facts, policy)
    fast, fast_facts = fast_effect.value, fast_effect.facts
    vital = facts.obs("vital-chemotherapy-indication")
    no_other = facts.obs("no-other-treatment-options")
    tx6_reason = tri_or(fast, as_bool(vital), as_bool(no_other))
    tx6 = tri_and(due, tx6_reason)
    surg = ctx.surgery
    any_surgery = tri_or(*[c.value for c in surg])
    fit = facts.obs("fit-for-surgery")
    adequate = facts.obs("adequate-rt-dose-possible")

    criteria = [
        Criterion("tx.modality.crit.deficit-due-to-mescc", Status.of(due), "TX-6",
                  tuple(facts.obs(d) for d in NEURO_DEFICITS) + rad.facts),
        Criterion("tx.modality.crit.fast-effect-tumour", Status.of(fast), "TX-6", fast_facts),
        Criterion("tx.modality.crit.vital-chemotherapy", Status.of(as_bool(vital)), "TX-6", (vital,)),
        Criterion("tx.modality.crit.no-other-options", Status.of(as_bool(no_other)), "TX-6", (no_other,)),
    ]
    criteria.extend(c.criterion() for c in surg)
    criteria.append(Criterion("tx.crit.fit-for-surgery", Status.of(as_bool(fit)), "TX-7", (fit,)))
    criteria.append(Criterion("tx.modality.crit.adequate-rt-dose", Status.of(as_bool(adequate)), "TX-7",
                              (adequate,)))

    missing: list[Missing] = []
    notes: list[Message] = []
    if tx6 is None:
        # an unknown TX-6 could still make systemic therapy the first choice
        if due is None:
            missing.extend(missing_of(facts.obs(d), d) for d in NEURO_DEFICITS if facts.obs(d).is_unknown)
            missing.extend(rad.missing)
        if tx6_reason is None:
            if fast is None:
                missing.extend(fast_effect.missing)
            for f in (vital, no_other):
                if f.is_unknown:
                    missing.append(missing_of(f, f.name))
        notes.append(msg("tx.modality.note.tx6-unknown"))
        if tx6_reason is None and fast is None:
            notes.extend(fast_effect.notes)  # why the tumour type is unknown

    if tx6 is True:
        choice, rules = FirstChoice.SYSTEMIC_THERAPY, ["TX-6"]
    elif any_surgery is True and not fit.is_false:
        choice, rules = FirstChoice.SURGERY, ["TX-7", "TX-7c"]
        if fit.is_unknown:
            missing.append(missing_of(fit, "fit-for-surgery"))
            notes.append(msg("tx.modality.note.fitness-unknown"))
    else:
        if any_surgery is True:  # surgery indicated but the patient is unfit
            notes.append(msg("tx.modality.note.unfit-for-surgery"))
        elif any_surgery is None and not fit.is_false:
            for c in surg:
                if c.value is None:
                    missing.extend(c.missing)
            notes.append(msg("tx.modality.note.surgery-unknown"))
        if not adequate.is_false:
            choice, rules = FirstChoice.RADIOTHERAPY, ["TX-7"]
            if adequate.is_unknown:
                missing.append(missing_of(adequate, "adequate-rt-dose-possible"))
                notes.append(msg("tx.modality.note.adequate-dose-assumed"))
        else:
            choice, rules = FirstChoice.UNDECIDED, ["TX-7", "TX-7a", "TX-7c", "TX-10"]
            notes.append(msg("tx.modality.note.options"))
    if facts.obs("progression-after-rt").is_true and "TX-7a" not in rules:
        rules.append("TX-7a")
    if "TX-7a" in rules:
        notes.append(msg("tx.modality.note.tx7a"))
    if choice in (FirstChoice.SURGERY, FirstChoice.UNDECIDED):
        notes.append(msg("tx.modality.note.tx7c"))
    notes.extend(sins_support_note(facts, policy))
    rules.append("TX-7b")
    notes.append(msg("tx.modality.note.tx7b"))
    summary_key, conclusion_key = TX_MODALITY[choice.value]
    return Finding(
        topic="treatment-modality", rules=rules, indicator=Indicator.INFO,
        summary=msg(summary_key), conclusion=msg(conclusion_key),
        result={"firstChoice": choice.value}, criteria=criteria, missing=dedupe_missing(missing), notes=notes)
