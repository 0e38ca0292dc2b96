"""Vertebral augmentation (VP/BK): SINS, eligibility per vertebra, technique,
pre-procedure checks, and the VP/BK draft-order check.

Topics (api-contract): ``sins`` (one per affected vertebra),
``vpbk-eligibility`` (one per candidate vertebra, or per ordered level),
``vpbk-preprocedure`` (patient-wide on patient-view, per order on order hooks).

Pathways: ``metastatic`` (VPBK-M, source 000) for a level with a spinal
metastasis, unless the patient's only primaries are haematological (myeloma,
lymphoma: ``osteoporotic-benign``, VPBK-O-1); ``osteoporotic-benign``
(VPBK-O, sources 001/004) for fractures, haemangioma and benign tumours.
Technique (VPBK-T) and pre-procedure checks (VPBK-P) never change a verdict.
"""
from __future__ import annotations

from collections.abc import Mapping

from . import (
    augmentation_benign,
    augmentation_metastatic,
    augmentation_preprocedure,
    augmentation_technique,
    sins,
)
from .augmentation_common import Assessment, policy_value
from .common import level_msg
from .facts import ConditionRecord, DraftOrder, Fact, PatientFacts, sort_levels
from .findings import Finding, Indicator, Link, Message, Suggestion, msg
from .keys import VPBK_CODE, VPBK_CONCLUSION, VPBK_FACT, VPBK_PATHWAY, VPBK_SUMMARY, VPBK_TECHNOTE, VPBK_TREATMENT, pick
from .policy import Policy
from .results import Pathway, Technique, Verdict, VpbkEligibilityResult

VPBK_ORDER_KINDS: dict[str, Technique] = {"vertebroplasty": Technique.VP, "balloon-kyphoplasty": Technique.BK}
_CONDITION_NAMES = ("spinal-metastasis", "vertebral-fracture", "vertebral-haemangioma",
                    "benign-vertebral-tumour")
ELIGIBILITY_OVERRIDES = ["mdo-decision-documented", "contraindication-weighed", "ehr-data-incomplete"]
#: the verdicts a technique must exist for (VPBK-T-1)
_ELIGIBLE = (Verdict.ELIGIBLE, Verdict.ELIGIBLE_RELATIVE)


# ---------------------------------------------------------------------------
# Entry condition and candidate levels
# ---------------------------------------------------------------------------

def condition_levels(facts: PatientFacts) -> list[str]:
    return sort_levels({c.level for c in facts.conditions
                        if c.name in _CONDITION_NAMES and c.level and c.active})


def has_entry_condition(facts: PatientFacts) -> bool:
    """vpbk-*: a spinal metastasis, vertebral fracture, haemangioma or benign
    vertebral tumour Condition, or a VP/BK draft order."""
    return any(c.name in _CONDITION_NAMES and c.active for c in facts.conditions) \
        or any(d.kind in VPBK_ORDER_KINDS for d in facts.draft_orders)


def levelless_metastases(facts: PatientFacts) -> list[ConditionRecord]:
    """Spinal metastases recorded without a level (e.g. C79.5 with body site "vertebral column")."""
    return [c for c in facts.condition_records("spinal-metastasis") if c.level is None]


def pathway_for(facts: PatientFacts, level: str, *, level_from_order: bool = False) -> Pathway:
    """Metastatic levels never fall back to VPBK-O, except metastases of a
    haematological malignancy (myeloma) with no solid primary (VPBK-O-1). A
    pathological fracture in a patient with a solid (or unknown) primary is a
    metastasis until shown otherwise: the metastasis protocol, which asks to
    confirm it (VPBK-M-2). An unclear origin (active myeloma beside a solid
    cancer that is only history or suspected) stays on the metastatic pathway
    and asks for the origin (see ``augmentation_metastatic.lesion_origin``).
    ``level_from_order``: the level is a VP/BK order's, and a spinal metastasis
    recorded without a level counts for it (VPBK-M, rules 2026.12)."""
    metastasis = [c for c in facts.condition_records("spinal-metastasis", level)
                  if c.level == level or (level_from_order and c.level is None)]
    pathological = [c for c in facts.condition_records("vertebral-fracture", level)
                    if c.level == level and c.subtype == "pathological"]
    if not metastasis and not pathological:
        return Pathway.OSTEOPOROTIC_BENIGN
    origin = augmentation_metastatic.lesion_origin(facts)
    if origin == "haematological":
        return Pathway.OSTEOPOROTIC_BENIGN
    if metastasis or origin in ("solid", "unclear", "other-malignancy"):
        return Pathway.METASTATIC
    return Pathway.OSTEOPOROTIC_BENIGN


def takes_level_from_order(facts: PatientFacts, level: str | None) -> bool:
    """VPBK-M: a spinal metastasis without a level, with a VP/BK order at ``level``
    that has no spinal-metastasis record of its own: the level comes from the order."""
    if level is None or not levelless_metastases(facts):
        return False
    return not any(c.level == level for c in facts.condition_records("spinal-metastasis", level))


def assess_level(facts: PatientFacts, level: str | None, policy: Policy, *,
                 level_from_order: bool = False) -> Assessment:
    if level is None:
        return _assess_without_level(facts, policy)
    if pathway_for(facts, level, level_from_order=level_from_order) == Pathway.METASTATIC:
        a = augmentation_metastatic.assess(facts, level, policy, sins.assess(facts, level, policy))
        if level_from_order:
            a.level_from_order = True
            a.notes.insert(0, msg("vpbk.note.level-from-order", vertebra=level_msg(level)))
    else:
        a = augmentation_benign.assess(facts, level, policy)
    augmentation_technique.apply(a, facts, level, policy)
    return a


def _metastatic_without_level(facts: PatientFacts) -> bool:
    levels = condition_levels(facts)
    if levels:
        return any(pathway_for(facts, lvl) == Pathway.METASTATIC for lvl in levels)
    return bool(levelless_metastases(facts)) and \
        augmentation_metastatic.lesion_origin(facts) != "haematological"


def _assess_without_level(facts: PatientFacts, policy: Policy) -> Assessment:
    """No level known (a level-less order with no single candidate, or a lesion
    without bodySite): the verdict needs the level, but every contraindication
    that does not depend on the level is still checked, so an absolute
    contraindication on an order is never silent."""
    metastatic = _metastatic_without_level(facts)
    a = Assessment(None, Pathway.METASTATIC if metastatic else Pathway.OSTEOPOROTIC_BENIGN)
    a.crit("vpbk.crit.level-unknown", None, "VPBK-M-2" if metastatic else "VPBK-O-2")
    a.miss("vertebral-level")
    if metastatic:
        augmentation_metastatic.patient_wide_absolute(a, facts)
        augmentation_metastatic.prone_condition(a, facts)
    else:
        augmentation_benign.patient_wide(a, facts)
    # an infection of the spine recorded without a level applies to every level
    unplaced = [c for c in facts.condition_records("vertebral-infection") if c.level is None]
    if unplaced:
        a.crit("vpbk.crit.m6-no-vertebral-infection" if metastatic else "vpbk.crit.o5-no-vertebral-infection",
               False, "VPBK-M-6" if metastatic else "VPBK-O-5",
               Fact("vertebral-infection", True, tuple(c.source for c in unplaced)))
        a.add_absolute("vertebral-infection")
    augmentation_technique.apply(a, facts, None, policy)
    return a


def indication_known_unmet(a: Assessment) -> bool:
    """VPBK-M-1 known to be unmet at the level: SINS 0-6, or a (fresh) pain score
    below 4 without the M-1c surgical path (which has no pain criterion)."""
    return a.pathway == Pathway.METASTATIC and a.vertebra is not None and \
        bool({"sins-below-7", "pain-below-threshold"} & set(a.unmet_criteria))


# ---------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------

def eligibility_result(a: Assessment) -> VpbkEligibilityResult:
    """The typed result of a vpbk-eligibility card, frozen from the assessment."""
    return VpbkEligibilityResult(
        verdict=a.verdict, pathway=a.pathway, vertebra=a.vertebra, technique=tuple(a.technique),
        technique_notes=tuple(a.technique_notes), absolute=tuple(a.absolute), relative=tuple(a.relative),
        relative_unknown=tuple(a.relative_unknown), unmet_conditions=tuple(a.unmet_conditions),
        missing=tuple(dict.fromkeys(m.code for m in a.missing)), unmet_criteria=tuple(a.unmet_criteria),
        absolute_unknown=tuple(a.absolute_unknown), mdo_overrides=tuple(a.mdo_overrides),
        preferences=dict(a.preferences), lesion_kinds=tuple(a.kinds), indication_path=a.indication_path,
        days_since_fracture=a.days_since_fracture, ordered_technique=a.ordered_technique, order=a.order_id,
        stepped_care_missing=tuple(a.stepped_care_missing), life_expectancy_basis=a.life_expectancy_basis,
        survival_model=a.survival_model, level_from_order=a.level_from_order)


def _codes(table: Mapping[str, str], codes: list[str]) -> list[Message]:
    return [pick(table, c) for c in codes]


_RANGE_OF_TECHNOTE = {"level-outside-vp-range": "vp_level_range", "level-outside-bk-range": "bk_level_range"}


def _technote_msgs(codes: list[str], policy: Policy) -> list[Message]:
    """Technique notes; the level ranges are policy values, passed as parameters."""
    out = []
    for code in codes:
        key = _RANGE_OF_TECHNOTE.get(code)
        if key is None:
            out.append(pick(VPBK_TECHNOTE, code))
        else:
            low, high = policy_value(policy, key)
            out.append(pick(VPBK_TECHNOTE, code, low=level_msg(low), high=level_msg(high)))
    return out


def _mdo_suggestion(facts: PatientFacts, policy: Policy) -> Suggestion | None:
    if facts.events_of("mdo-referral", status="planned"):
        return None
    disciplines = list(policy_value(policy, "mdo_disciplines"))
    return Suggestion("create-mdo-referral", msg("vpbk.suggestion.mdo-referral"),
                      {"disciplines": disciplines})


def _no_technique(a: Assessment) -> bool:
    """VPBK-T-1: criteria met at a level neither instrument reaches (C1, S2, ...) is no plain "eligible"."""
    return a.vertebra is not None and not a.technique and a.verdict in _ELIGIBLE


def _summary(a: Assessment, vertebra: Message, pathway: Message) -> Message:
    if a.stepped_care_missing and not a.absolute and not a.unmet_conditions \
            and a.unmet_criteria == ["stepped-care-incomplete"]:
        # VPBK-M-4 the only reason: the summary names the treatments neither given nor waived
        return msg("vpbk.summary.not-eligible-stepped-care", vertebra=vertebra, pathway=pathway,
                   treatments=[pick(VPBK_TREATMENT, t) for t in a.stepped_care_missing])
    key = "vpbk.summary.no-technique" if _no_technique(a) else VPBK_SUMMARY[a.verdict.value]
    return msg(key, vertebra=vertebra, pathway=pathway)


def _conclusion(a: Assessment, vertebra: Message, pathway: Message) -> Message:
    return pick(VPBK_CONCLUSION, a.verdict.value, vertebra=vertebra, pathway=pathway,
               reasons=_codes(VPBK_CODE, a.absolute + a.unmet_conditions + a.unmet_criteria),
               relative=_codes(VPBK_CODE, a.relative)
               + [msg("vpbk.code.not-recorded", code=pick(VPBK_CODE, c)) for c in a.relative_unknown],
               missing=_codes(VPBK_FACT, list(dict.fromkeys(m.code for m in a.missing))))


def _warning_only_on_order(a: Assessment, policy: Policy) -> bool:
    """Every absolute contraindication is timing advice on an order (VPBK-O-3 "too early")."""
    return bool(a.absolute) and set(a.absolute) <= set(policy_value(policy, "order_warning_only_contraindications"))


def _notes_links_suggestions(facts: PatientFacts, a: Assessment, policy: Policy, on_order: bool
                             ) -> tuple[list[Message], list[Link], list[Suggestion]]:
    notes = list(a.notes)
    if a.mdo_overrides:
        notes.append(msg("vpbk.note.mdo-override", conditions=_codes(VPBK_CODE, a.mdo_overrides)))
    notes.append(msg("vpbk.note.technique", techniques=", ".join(t.value for t in a.technique) or "-",
                     notes=_technote_msgs(a.technique_notes, policy) or "-"))
    if on_order and _warning_only_on_order(a, policy):
        notes.append(msg("vpbk.note.o3-too-early-timing-advice"))
    suggestions = list(a.suggestions)
    links: list[Link] = []
    if a.pathway == Pathway.METASTATIC:
        url = policy_value(policy, "leaflet_url")
        if url:
            links.append(Link(msg("vpbk.link.leaflet"), url))
        else:
            notes.append(msg("vpbk.note.m8-shared-decision"))
        notes.append(msg("vpbk.note.m9-operator"))
    if a.verdict == Verdict.MDO_REVIEW_NEEDED:
        sug = _mdo_suggestion(facts, policy)
        if sug is not None:
            suggestions.append(sug)
        else:
            notes.append(msg("vpbk.note.mdo-referral-planned"))
    return notes, links, suggestions


def _indicator(a: Assessment, policy: Policy, on_order: bool) -> Indicator:
    """patient-view: warning for an absolute contraindication, an unmet patient
    condition or no technique, else info. On an order: critical for an absolute
    contraindication (except timing advice), warning for any other verdict than
    eligible or a technique the level does not allow."""
    if not on_order:
        return Indicator.WARNING if (a.absolute or a.unmet_conditions or _no_technique(a)) else Indicator.INFO
    if set(a.absolute) - set(policy_value(policy, "order_warning_only_contraindications")):
        return Indicator.CRITICAL
    if a.verdict != Verdict.ELIGIBLE or a.order_technique_mismatch:
        return Indicator.WARNING
    return Indicator.INFO


def _finding_key(a: Assessment, order: DraftOrder | None) -> str | None:
    if order is None:
        return a.vertebra
    key = order.resource_id or order.kind
    return f"{key}:{a.vertebra}" if len(order.levels) > 1 and a.vertebra else key


def eligibility_finding(facts: PatientFacts, a: Assessment, policy: Policy, *,
                        order: DraftOrder | None = None) -> Finding:
    vertebra = level_msg(a.vertebra)
    pathway = pick(VPBK_PATHWAY, a.pathway.value)
    on_order = order is not None
    notes, links, suggestions = _notes_links_suggestions(facts, a, policy, on_order)
    indicator = _indicator(a, policy, on_order)
    return Finding(
        topic="vpbk-eligibility", rules=list(a.rules), indicator=indicator,
        summary=_summary(a, vertebra, pathway), conclusion=_conclusion(a, vertebra, pathway),
        result=eligibility_result(a), criteria=list(a.criteria),
        missing=list(a.missing), notes=notes, suggestions=suggestions, links=links,
        override_reasons=list(ELIGIBILITY_OVERRIDES) if indicator != Indicator.INFO else [],
        key=_finding_key(a, order))


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------

def patient_view_levels(facts: PatientFacts) -> list[str | None]:
    """The candidate levels of patient-view: every level with a condition record; a
    spinal metastasis without a level, when no level has one, as one level-less candidate."""
    levels: list[str | None] = list(condition_levels(facts))
    if levelless_metastases(facts) and not facts.metastatic_levels():
        levels.append(None)
    return levels or [None]


def evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]:
    """patient-view: SINS per affected vertebra, eligibility per candidate
    vertebra, and the pre-procedure checks when a procedure is conceivable.
    A level whose VPBK-M-1 indication is known to be unmet gets no eligibility
    card here (policy, against alarm fatigue); on an order for it, it does."""
    out = sins.evaluate(facts, policy)
    if not has_entry_condition(facts):
        return out
    assessments = [assess_level(facts, level, policy) for level in patient_view_levels(facts)]
    out.extend(eligibility_finding(facts, a, policy) for a in assessments if not indication_known_unmet(a))
    if any(a.verdict != Verdict.NOT_ELIGIBLE for a in assessments):
        out.append(augmentation_preprocedure.finding(facts, policy, key=None))
    return out


def _order_levels(facts: PatientFacts, order: DraftOrder) -> list[str | None]:
    if order.levels:
        levels: list[str | None] = list(sort_levels(order.levels))
        return levels or [None]
    candidates = condition_levels(facts)
    return [candidates[0]] if len(candidates) == 1 else [None]


def _check_ordered_technique(a: Assessment, level: str | None, ordered: Technique, order_id: str) -> None:
    """VPBK-T-1: the ordered technique against the techniques the level allows."""
    a.rule("VPBK-T-1")
    a.ordered_technique = ordered
    a.order_id = order_id
    if level is None or ordered in a.technique:
        return
    a.order_technique_mismatch = True
    a.notes.append(msg("vpbk.note.order-technique-mismatch", ordered=ordered.value, vertebra=level_msg(level),
                       allowed=", ".join(t.value for t in a.technique) or "-"))
    if ordered == Technique.BK and Technique.VP in a.technique:
        a.suggestions.append(Suggestion("update-technique", msg("vpbk.suggestion.update-technique"),
                                        {"order_id": order_id, "to": Technique.VP.value}))


def evaluate_orders(facts: PatientFacts, policy: Policy) -> list[Finding]:
    """order-select / order-sign: for each selected VP/BK draft order, the
    eligibility of the ordered level(s) and the pre-procedure checks."""
    out: list[Finding] = []
    for order in facts.draft_orders:
        if not order.selected or order.kind not in VPBK_ORDER_KINDS:
            continue
        order_id = order.resource_id or order.kind
        for level in _order_levels(facts, order):
            a = assess_level(facts, level, policy, level_from_order=takes_level_from_order(facts, level))
            _check_ordered_technique(a, level, VPBK_ORDER_KINDS[order.kind], order_id)
            out.append(eligibility_finding(facts, a, policy, order=order))
        out.append(augmentation_preprocedure.finding(facts, policy, key=order_id))
    return out
