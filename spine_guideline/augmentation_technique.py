"""VPBK-T: which technique (VP, BK) fits the level (source 001). Never changes the verdict."""
from __future__ import annotations

from .augmentation_common import Assessment, bool_obs, num_obs, policy_value
from .facts import LEVELS, Fact, PatientFacts, level_in_range
from .findings import msg
from .policy import Policy
from .results import Pathway, Technique


def vertebra_plana(facts: PatientFacts, level: str, policy: Policy) -> tuple[bool | None, tuple[Fact, ...]]:
    """True / False / None, and the facts it rests on (VPBK-T-2).

    False when vertebra plana is recorded false, or the collapse is known to be
    below the threshold (collapse percentage, or a SINS collapse category below
    ">= 50 %")."""
    plana = bool_obs(facts, "vertebra-plana", level)
    if plana.value is not None:
        return plana.value, (plana,)
    collapse = num_obs(facts, "vertebral-collapse", level)
    limit = policy_value(policy, "vertebra_plana_collapse_pct")
    if collapse.value is not None and collapse.value < limit:
        return False, (collapse,)
    sins = facts.obs("sins", level)
    comp = sins.attrs.get("sins-collapse")
    if comp is not None and isinstance(comp.value, int) and not isinstance(comp.value, bool) \
            and comp.value < 3:
        return False, (comp,)
    return None, (plana, collapse)


def apply(a: Assessment, facts: PatientFacts, level: str | None, policy: Policy) -> None:
    """Sets ``technique`` and ``techniqueNotes`` on the assessment (VPBK-T-1..4)."""
    a.rule("VPBK-T-1", "VPBK-T-2", "VPBK-T-3", "VPBK-T-4")
    technique: list[Technique] = []
    notes: list[str] = []
    a.technique, a.technique_notes = technique, notes
    if level is None or level not in LEVELS:
        return
    vp_low, vp_high = policy_value(policy, "vp_level_range")
    bk_low, bk_high = policy_value(policy, "bk_level_range")
    vp_ok = level_in_range(level, vp_low, vp_high)
    bk_ok = level_in_range(level, bk_low, bk_high)
    a.crit("vpbk.crit.t1-vp-level", vp_ok, "VPBK-T-1", low=vp_low, high=vp_high)
    a.crit("vpbk.crit.t1-bk-level", bk_ok, "VPBK-T-1", low=bk_low, high=bk_high)
    if vp_ok:
        technique.append(Technique.VP)
    else:
        notes.append("level-outside-vp-range")
    plana, plana_facts = vertebra_plana(facts, level, policy)
    if not bk_ok:
        notes.append("level-outside-bk-range")
    else:
        a.crit("vpbk.crit.t2-no-vertebra-plana", None if plana is None else not plana, "VPBK-T-2",
               *plana_facts)
        if plana is True:
            notes.append("vertebra-plana")
        else:
            technique.append(Technique.BK)
            if plana is None:
                notes.append("vertebra-plana-unknown")
    cortical = bool_obs(facts, "cortical-fracture", level)
    if cortical.is_true and Technique.BK in technique:
        notes.append("cortical-fracture")
        a.crit("vpbk.crit.t2-cortical-fracture", False, "VPBK-T-2", cortical)
    a.notes.append(msg("vpbk.note.t3-comparison"))
    a.notes.append(msg("vpbk.note.t4-outcomes-metastatic" if a.pathway == Pathway.METASTATIC
                       else "vpbk.note.t4-outcomes-benign"))
