"""VPBK-T technique, VPBK-P pre-procedure checks, and the VP/BK draft-order check."""
from __future__ import annotations

from datetime import date

import pytest

from spine_guideline import augmentation
from spine_guideline.facts import (
    Allergy,
    ConditionRecord,
    Medication,
    SearchStatus,
)
from tests.support.results import wire_with_rules

from .support.augmentation import (
    POLICY,
    by_topic,
    drop_obs,
    metastatic,
    order,
    osteoporotic,
    ready_for_procedure,
    set_obs,
    src,
)


def elig(f, level):
    [finding] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility", level)
    return wire_with_rules(finding)


# -- VPBK-T ------------------------------------------------------------------
@pytest.mark.parametrize("level,technique,notes", [
    ("C1", [], ["level-outside-vp-range", "level-outside-bk-range"]),
    ("C2", ["VP"], ["level-outside-bk-range"]),
    ("T4", ["VP"], ["level-outside-bk-range"]),
    ("T5", ["VP", "BK"], ["vertebra-plana-unknown"]),
    ("L5", ["VP", "BK"], ["vertebra-plana-unknown"]),
    ("S1", [], ["level-outside-vp-range", "level-outside-bk-range"])])
def test_VPBK_T_1_levels_C1_C2_T4_T5_L5_S1(level, technique, notes):
    res = elig(osteoporotic(level=level), level)
    assert res["technique"] == technique and res["techniqueNotes"] == notes
    assert res["verdict"] == "eligible"  # technique never changes the verdict
    assert "VPBK-T-1" in res["rules"]


def test_VPBK_T_2_vertebra_plana_removes_bk():
    res = elig(set_obs(osteoporotic(), "vertebra-plana", True, "L1"), "L1")
    assert res["technique"] == ["VP"] and "vertebra-plana" in res["techniqueNotes"]
    assert res["verdict"] == "eligible"


def test_VPBK_T_2_collapse_below_50_keeps_bk_without_note():
    res = elig(set_obs(osteoporotic(), "vertebral-collapse", 30.0, "L1"), "L1")
    assert res["technique"] == ["VP", "BK"] and res["techniqueNotes"] == []


def test_VPBK_T_2_cortical_fracture_is_a_note():
    res = elig(set_obs(osteoporotic(), "cortical-fracture", True, "L1"), "L1")
    assert "cortical-fracture" in res["techniqueNotes"] and "BK" in res["technique"]


def test_VPBK_T_3_T_4_information_lines():
    [finding] = by_topic(augmentation.evaluate(metastatic(), POLICY), "vpbk-eligibility", "L1")
    keys = {n.key for n in finding.notes}
    assert {"vpbk.note.t3-comparison", "vpbk.note.t4-outcomes-metastatic"} <= keys
    assert {"VPBK-T-3", "VPBK-T-4"} <= set(finding.rules)


# -- VPBK-P ------------------------------------------------------------------
def pre(f, key=None):
    [finding] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-preprocedure", key)
    return finding, {c["code"]: c["status"] for c in wire_with_rules(finding)["checks"]}


def test_VPBK_P_all_in_order():
    finding, checks = pre(ready_for_procedure(metastatic()))
    assert checks == {"inr": "ok", "anticoagulants": "ok", "labs": "ok", "ecg-chest-xray": "ok",
                      "allergies": "ok", "pregnancy": "ok", "fasting-antibiotics-aftercare": "info"}
    assert finding.indicator.value == "info" and not finding.suggestions
    assert wire_with_rules(finding)["rules"] == ["VPBK-P-1", "VPBK-P-2", "VPBK-P-3", "VPBK-P-4",
                                                 "VPBK-P-5", "VPBK-P-6"]


@pytest.mark.parametrize("inr,status", [(1.49, "ok"), (1.5, "not-ok"), (2.3, "not-ok")])
def test_VPBK_P_1_inr_boundary(inr, status):
    finding, checks = pre(set_obs(ready_for_procedure(metastatic()), "inr", inr))
    assert checks["inr"] == status
    assert (finding.indicator.value == "warning") == (status == "not-ok")


def test_VPBK_P_1_inr_missing_suggests_a_lab_order():
    f = drop_obs(ready_for_procedure(metastatic()), "inr")
    finding, checks = pre(f)
    assert checks["inr"] == "unknown"
    assert {"lab": "inr"} in [s.params for s in finding.suggestions if s.kind == "create-lab-order"]
    assert finding.override_reasons


def test_VPBK_P_1_threshold_is_configurable():
    from spine_guideline.policy import load_policy
    policy = load_policy({"augmentation": {"inr_max_exclusive": 1.8}})
    f = set_obs(ready_for_procedure(metastatic()), "inr", 1.6)
    [finding] = by_topic(augmentation.evaluate(f, policy), "vpbk-preprocedure")
    assert wire_with_rules(finding)["checks"][0] == {"code": "inr", "status": "ok"}


def test_VPBK_P_2_anticoagulants_attention_unless_plan_agreed():
    f = ready_for_procedure(metastatic())
    f.medications.append(Medication("anticoagulant", src("MedicationStatement", "doac")))
    assert pre(f)[1]["anticoagulants"] == "attention"
    set_obs(f, "anticoagulant-plan-agreed", True)
    assert pre(f)[1]["anticoagulants"] == "ok"
    f.searches["MedicationStatement"] = SearchStatus.FAILED
    f.medications = []
    assert pre(f)[1]["anticoagulants"] == "unknown"


def test_VPBK_P_3_labs_missing_each_suggested():
    f = ready_for_procedure(metastatic())
    for name in ("aptt", "creatinine", "potassium"):
        drop_obs(f, name)
    finding, checks = pre(f)
    assert checks["labs"] == "unknown"
    labs = {s.params["lab"] for s in finding.suggestions if s.kind == "create-lab-order"}
    assert labs == {"aptt", "creatinine", "electrolytes"}


@pytest.mark.parametrize("drop", [("ecg",), ("chest-xray",), ("ecg", "chest-xray")])
def test_VPBK_P_3_ecg_or_chest_xray_not_recorded_is_unknown_never_not_ok(drop):
    """Rules 2026.12: not recorded is to arrange (unknown), never not-ok, also when
    every search succeeded."""
    f = ready_for_procedure(metastatic())
    f.events = [e for e in f.events if e.kind not in drop]
    finding, checks = pre(f)
    assert checks["ecg-chest-xray"] == "unknown"
    assert {m.code for m in finding.missing} >= set(drop)
    assert finding.indicator.value == "warning"


def test_VPBK_P_3_ecg_search_failed_is_unknown():
    f = ready_for_procedure(metastatic())
    f.events = [e for e in f.events if e.kind != "ecg"]
    f.searches["Procedure"] = SearchStatus.FAILED
    finding, checks = pre(f)
    assert checks["ecg-chest-xray"] == "unknown"
    assert [m.why for m in finding.missing if m.code == "ecg"] == ["search-failed"]


def test_VPBK_P_4_allergies():
    f = ready_for_procedure(metastatic())
    f.allergies = [Allergy("iodinated-contrast", src("AllergyIntolerance", "iod"))]
    assert pre(f)[1]["allergies"] == "attention"
    f.allergies = []
    f.searches["AllergyIntolerance"] = SearchStatus.FAILED
    assert pre(f)[1]["allergies"] == "unknown"


def test_VPBK_P_4_empty_allergy_list_is_unknown_not_ok():
    """Rules 2026.12: an empty allergy search is no knowledge; P-4 is ok only with a
    recorded 'no known allergy' or with the recorded allergies listed."""
    f = ready_for_procedure(metastatic())
    f.allergies = []
    assert f.searches["AllergyIntolerance"] == SearchStatus.OK
    finding, checks = pre(f)
    assert checks["allergies"] == "unknown"
    assert [(m.code, m.why) for m in finding.missing] == [("allergies", "not-recorded")]
    assert finding.indicator.value == "warning"


@pytest.mark.parametrize("substance,status", [("no-known-allergy", "ok"), ("other", "ok"),
                                              ("medication", "attention"), ("iodinated-contrast", "attention")])
def test_VPBK_P_4_recorded_allergies_are_listed(substance, status):
    f = ready_for_procedure(metastatic())
    f.allergies = [Allergy(substance, src("AllergyIntolerance", "alg-1"))]
    finding, checks = pre(f)
    assert checks["allergies"] == status
    [crit] = [c for c in finding.criteria if c.rule == "VPBK-P-4"]
    assert any(s.reference == "AllergyIntolerance/alg-1" for fact in crit.facts for s in fact.sources)


@pytest.mark.parametrize("sex,birth,pregnant,status", [
    ("female", date(1990, 1, 1), None, "unknown"),  # no record: ask (an absent Condition is no answer)
    ("female", date(1990, 1, 1), True, "attention"),
    ("female", date(1960, 1, 1), None, "ok"),       # 66: not applicable
    ("male", date(1990, 1, 1), None, "ok"),
    (None, None, None, "unknown")])
def test_VPBK_P_5_pregnancy(sex, birth, pregnant, status):
    f = ready_for_procedure(metastatic())
    f.sex, f.birth_date = sex, birth
    if pregnant:
        f.conditions.append(ConditionRecord("pregnancy", src("Condition", "preg")))
    assert pre(f)[1]["pregnancy"] == status


def test_VPBK_P_5_pregnancy_unknown_when_conditions_not_searched():
    f = ready_for_procedure(metastatic())
    f.sex, f.birth_date = "female", date(1990, 1, 1)
    f.searches["Condition"] = SearchStatus.FAILED
    assert pre(f)[1]["pregnancy"] == "unknown"


def test_VPBK_P_6_info_and_never_changes_the_verdict():
    f = metastatic()  # nothing pre-procedure recorded
    finding, checks = pre(f)
    assert checks["fasting-antibiotics-aftercare"] == "info"
    assert elig(f, "L1")["verdict"] == "eligible"


def test_no_preprocedure_card_when_every_vertebra_is_not_eligible():
    f = set_obs(metastatic(), "can-lie-prone", False)
    assert by_topic(augmentation.evaluate(f, POLICY), "vpbk-preprocedure") == []


# -- orders --------------------------------------------------------------------
def orders(f):
    return augmentation.evaluate_orders(f, POLICY)


def test_order_vp_for_eligible_level():
    f = metastatic()
    f.draft_orders.append(order("vertebroplasty", ("L1",), "vp-1"))
    found = orders(f)
    [e] = by_topic(found, "vpbk-eligibility", "vp-1")
    [p] = by_topic(found, "vpbk-preprocedure", "vp-1")
    res = wire_with_rules(e)
    assert res["verdict"] == "eligible" and res["vertebra"] == "L1" and res["orderedTechnique"] == "VP"
    assert e.indicator.value == "info"


def test_order_absolute_contraindication_is_critical():
    f = metastatic()
    f.conditions.append(ConditionRecord("systemic-infection", src("Condition", "sepsis")))
    f.draft_orders.append(order("vertebroplasty", ("L1",), "vp-1"))
    [e] = by_topic(orders(f), "vpbk-eligibility", "vp-1")
    assert e.indicator.value == "critical" and e.override_reasons
    assert wire_with_rules(e)["absoluteContraindications"] == ["systemic-infection"]


def test_order_bk_at_T4_warns_and_suggests_vp():
    f = metastatic(level="T4")
    f.draft_orders.append(order("balloon-kyphoplasty", ("T4",), "bk-1"))
    [e] = by_topic(orders(f), "vpbk-eligibility", "bk-1")
    assert e.indicator.value == "warning"
    [s] = [s for s in e.suggestions if s.kind == "update-technique"]
    assert s.params == {"order_id": "bk-1", "to": "VP"}
    assert wire_with_rules(e)["verdict"] == "eligible"  # technique never changes the verdict


def test_order_bk_at_T5_is_fine():
    f = metastatic(level="T5")
    f.draft_orders.append(order("balloon-kyphoplasty", ("T5",), "bk-1"))
    [e] = by_topic(orders(f), "vpbk-eligibility", "bk-1")
    assert e.indicator.value == "info" and not e.suggestions


def test_order_without_level_uses_the_single_candidate():
    f = osteoporotic(level="L2")
    f.draft_orders.append(order("vertebroplasty", (), "vp-9"))
    [e] = by_topic(orders(f), "vpbk-eligibility", "vp-9")
    assert wire_with_rules(e)["vertebra"] == "L2"


def test_order_without_level_and_several_candidates_is_insufficient():
    f = osteoporotic(level="L2")
    f.conditions.append(ConditionRecord("vertebral-fracture", src("Condition", "fx2"), "L4",
                                        subtype="osteoporotic"))
    f.draft_orders.append(order("vertebroplasty", (), "vp-9"))
    [e] = by_topic(orders(f), "vpbk-eligibility", "vp-9")
    res = wire_with_rules(e)
    assert res["verdict"] == "insufficient-data" and res["missing"] == ["vertebral-level"]
    assert e.indicator.value == "warning"


def test_unselected_and_other_orders_are_ignored():
    f = metastatic()
    f.draft_orders.append(order("vertebroplasty", ("L1",), "vp-1", selected=False))
    f.draft_orders.append(order("mri-whole-spine", (), "mri-1"))
    assert orders(f) == []


def test_order_is_an_entry_condition_on_its_own():
    from .support.augmentation import base
    f = base()
    f.draft_orders.append(order("vertebroplasty", ("L1",), "vp-1"))
    found = orders(f)
    assert {x.topic for x in found} == {"vpbk-eligibility", "vpbk-preprocedure"}
