"""VPBK-M: eligibility for VP/BK of spinal metastases of solid tumours (source 000)."""
from __future__ import annotations

import pytest

from spine_guideline import augmentation
from spine_guideline.facts import (
    Allergy,
    Cancer,
    CancerCategory,
    ConditionRecord,
    Event,
    SearchStatus,
)
from tests.support.results import wire_with_rules

from .support.augmentation import (
    POLICY,
    by_topic,
    drop_obs,
    metastatic,
    order,
    set_obs,
    sins_fact,
    src,
)


def elig(f, level="L1"):
    [finding] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility", level)
    return finding, wire_with_rules(finding)


def elig_on_order(f, level="L1"):
    """The eligibility card of a VP order at ``level`` (order hooks)."""
    f.draft_orders.append(order("vertebroplasty", (level,), "vp-1"))
    [finding] = by_topic(augmentation.evaluate_orders(f, POLICY), "vpbk-eligibility", "vp-1")
    return finding, wire_with_rules(finding)


def no_card_on_patient_view(f, level="L1"):
    return by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility", level) == []


def test_VPBK_M_1a_all_met_is_eligible():
    finding, res = elig(metastatic())
    assert res["verdict"] == "eligible" and res["pathway"] == "metastatic" and res["vertebra"] == "L1"
    assert res["missing"] == [] and res["absoluteContraindications"] == []
    assert {"VPBK-M-1", "VPBK-M-1a", "VPBK-M-2", "VPBK-M-8", "VPBK-M-9"} <= set(res["rules"])
    assert finding.indicator.value == "info" and finding.key == "L1"


@pytest.mark.parametrize("pain,verdict", [(3, "not-eligible"), (4, "eligible"), (10, "eligible")])
def test_VPBK_M_1_pain_threshold(pain, verdict):
    f = set_obs(metastatic(), "pain-score", pain)
    assert no_card_on_patient_view(f) == (verdict == "not-eligible")
    _, res = elig_on_order(f)
    assert res["verdict"] == verdict
    assert ("pain-below-threshold" in res["unmetCriteria"]) == (verdict == "not-eligible")


def test_VPBK_M_1_pain_unknown_is_insufficient_data():
    _, res = elig(drop_obs(metastatic(), "pain-score"))
    assert res["verdict"] == "insufficient-data" and "pain-score" in res["missing"]


@pytest.mark.parametrize("score,verdict,path", [(6, "not-eligible", None), (7, "eligible", "M-1a"),
                                                (9, "eligible", "M-1a"), (10, "eligible", "M-1b"),
                                                (13, "eligible", "M-1b")])
def test_VPBK_M_1a_M_1b_sins_bands(score, verdict, path):
    assert no_card_on_patient_view(metastatic(sins=score)) == (verdict == "not-eligible")
    _, res = elig_on_order(metastatic(sins=score))
    assert res["verdict"] == verdict
    if path:
        assert res["indicationPath"] == path and f"VPBK-{path}" in res["rules"]
    else:
        assert "sins-below-7" in res["unmetCriteria"]


def test_VPBK_M_1_mdo_judgement_missing_gives_mdo_review_with_referral():
    finding, res = elig(drop_obs(metastatic(), "mdo-vpbk-benefit", "L1"))
    assert res["verdict"] == "mdo-review-needed" and "mdo-vpbk-benefit" in res["missing"]
    [sug] = [s for s in finding.suggestions if s.kind == "create-mdo-referral"]
    assert set(sug.params["disciplines"]) == {"treating-specialist", "radiation-oncology", "radiology",
                                              "spine-surgery"}


def test_VPBK_M_1_mdo_referral_already_planned_gives_no_second_referral():
    f = drop_obs(metastatic(), "mdo-vpbk-benefit", "L1")
    f.events.append(Event("mdo-referral", src("ServiceRequest", "mdo"), "planned"))
    finding, res = elig(f)
    assert res["verdict"] == "mdo-review-needed" and not finding.suggestions


def test_VPBK_M_1_mdo_judged_no_benefit_is_not_eligible():
    _, res = elig(set_obs(metastatic(), "mdo-vpbk-benefit", False, "L1"))
    assert res["verdict"] == "not-eligible" and "mdo-no-benefit" in res["unmetCriteria"]


def test_VPBK_M_1b_sins_10_unstable_vertebra_not_excluded_is_at_best_mdo_review():
    f = metastatic(sins=11)
    drop_obs(f, "instability-beyond-augmentation", "L1")
    drop_obs(f, "posterior-fixation-needed", "L1")
    finding, res = elig(f)
    assert res["verdict"] == "mdo-review-needed"
    assert res["absoluteContraindicationsUnknown"] == ["unstable-vertebra"]


def test_VPBK_M_1a_sins_9_unknown_instability_is_harmless():
    f = metastatic(sins=9)
    drop_obs(f, "instability-beyond-augmentation", "L1")
    drop_obs(f, "posterior-fixation-needed", "L1")
    _, res = elig(f)
    assert res["verdict"] == "eligible" and res["absoluteContraindicationsUnknown"] == []


def test_VPBK_M_1b_posterior_fixation_needed_is_absolute_unstable_vertebra():
    f = set_obs(metastatic(sins=12), "posterior-fixation-needed", True, "L1")
    _, res = elig(f)
    assert res["verdict"] == "not-eligible" and res["absoluteContraindications"] == ["unstable-vertebra"]


def test_VPBK_M_1c_surgeon_path_without_pain_or_mdo():
    f = metastatic(sins=8)
    set_obs(f, "pain-score", 1)
    drop_obs(f, "mdo-vpbk-benefit", "L1")
    f.events.append(Event("spinal-surgery", src("ServiceRequest", "surg"), "planned", level="L2"))
    set_obs(f, "surgeon-augmentation-benefit", True, "L1")
    _, res = elig(f)
    assert res["verdict"] == "eligible" and res["indicationPath"] == "M-1c"
    assert "VPBK-M-1c" in res["rules"]


def test_VPBK_M_1c_needs_an_operated_or_adjacent_level():
    f = metastatic(sins=8)
    set_obs(f, "pain-score", 1)
    f.events.append(Event("spinal-surgery", src("ServiceRequest", "surg"), "planned", level="L3"))
    set_obs(f, "surgeon-augmentation-benefit", True, "L1")
    _, res = elig_on_order(f)
    assert res["verdict"] == "not-eligible" and "pain-below-threshold" in res["unmetCriteria"]


def test_VPBK_M_1c_is_for_a_planned_operation_not_one_already_done():
    """Source 000 section 1: M-1c is cement augmentation during the operation; an
    operation done before (here at the level itself) does not open the surgical path."""
    f = set_obs(metastatic(sins=8), "pain-score", 1)
    f.events.append(Event("spinal-surgery", src("Procedure", "surg"), "done", level="L1", date="2026-06-01"))
    set_obs(f, "surgeon-augmentation-benefit", True, "L1")
    _, res = elig_on_order(f)
    assert res.get("indicationPath") != "M-1c"
    assert res["verdict"] == "not-eligible" and "pain-below-threshold" in res["unmetCriteria"]


def test_VPBK_M_2_histology_must_be_positive_evidence():
    f = metastatic()
    f.cancers[0] = Cancer("breast", CancerCategory.SOLID, src("Condition", "ca"))
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "histologically-proven" in res["missing"]


def test_VPBK_M_2_haematological_primary_goes_to_the_non_metastatic_pathway():
    f = metastatic()
    f.cancers[0] = Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm"))
    _, res = elig(f)
    assert res["pathway"] == "osteoporotic-benign"


def test_VPBK_M_2_unknown_primary_stays_metastatic_and_lacks_histology():
    f = metastatic()
    f.cancers[0] = Cancer("unknown-primary", CancerCategory.UNKNOWN_PRIMARY, src("Condition", "c80"))
    _, res = elig(f)
    assert res["pathway"] == "metastatic" and res["verdict"] == "insufficient-data"
    assert "histologically-proven" in res["missing"]


def test_VPBK_M_2_whole_spine_imaging_only_ordered_is_not_enough():
    f = metastatic()
    f.events = [e for e in f.events if e.kind != "mri-whole-spine"]
    f.events.append(Event("mri-whole-spine", src("ServiceRequest", "mri"), "planned"))
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "mri-whole-spine" in res["missing"]
    f.events.append(Event("ct-whole-spine", src("ImagingStudy", "ct"), "done"))
    assert elig(f)[1]["verdict"] == "eligible"


def test_VPBK_M_2_sins_undecided_is_insufficient_data():
    f = metastatic(sins=None)
    f.observations[("sins", "L1")] = sins_fact("L1", None, pain=3, bone_lesion=2)
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data"
    assert {"sins-alignment", "sins-collapse", "sins-posterolateral"} <= set(res["missing"])


def test_VPBK_M_2_recorded_total_conflicting_across_bands_is_insufficient_data():
    f = metastatic(sins=None)
    # L1: 3 + 3 + 2 + 0 + 0 + 0 = 8 computed; recorded 11
    f.observations[("sins", "L1")] = sins_fact("L1", 11, pain=3, bone_lesion=2, alignment=0, collapse=0,
                                               posterolateral=0)
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "sins" in res["missing"]


def test_VPBK_M_3_blastic_lesion_is_a_relative_contraindication():
    _, res = elig(set_obs(metastatic(), "lesion-type", "blastic", "L1"))
    assert res["verdict"] == "eligible-relative-contraindications"
    assert res["relativeContraindications"] == ["sclerotic-metastasis"]


def test_VPBK_M_3_lesion_type_from_the_sins_component():
    f = drop_obs(metastatic(sins=None), "lesion-type", "L1")
    f.observations[("sins", "L1")] = sins_fact("L1", None, pain=3, bone_lesion=1, alignment=0, collapse=0,
                                               posterolateral=0)
    _, res = elig(f)
    assert res["verdict"] == "eligible"


def test_VPBK_M_3_not_technically_suitable():
    _, res = elig(set_obs(metastatic(), "vpbk-technically-suitable", False, "L1"))
    assert res["verdict"] == "not-eligible" and "not-technically-suitable" in res["unmetCriteria"]


def test_VPBK_M_3_preferences_never_change_the_verdict():
    _, res = elig(set_obs(metastatic(), "local-progression-expected", False, "L1"))
    assert res["verdict"] == "eligible"
    assert res["preferences"] == {"local-progression-expected": "not-preferred"}


def test_VPBK_M_4_radiotherapy_not_given_and_not_waived():
    f = metastatic()
    f.events = [e for e in f.events if e.kind != "radiotherapy"]
    _, res = elig(f)
    assert res["verdict"] == "not-eligible" and "stepped-care-incomplete" in res["unmetCriteria"]


def test_VPBK_M_4_radiotherapy_waived_with_reason():
    f = metastatic()
    f.events = [e for e in f.events if e.kind != "radiotherapy"]
    set_obs(f, "stepped-care-waived.radiotherapy", True, reason="re-irradiation beyond dose limits")
    assert elig(f)[1]["verdict"] == "eligible"


def test_VPBK_M_4_waiver_without_reason_is_missing():
    f = metastatic()
    f.medications = [m for m in f.medications if m.drug_class != "analgesic"]
    set_obs(f, "stepped-care-waived.analgesics", True)
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "stepped-care-waived" in res["missing"]


def test_VPBK_M_4_radiotherapy_at_another_level_does_not_count():
    f = metastatic()
    f.events = [e for e in f.events if e.kind != "radiotherapy"]
    f.events.append(Event("radiotherapy", src("Procedure", "rt2"), "done", level="T4"))
    assert elig(f)[1]["verdict"] == "not-eligible"


@pytest.mark.parametrize("months,verdict", [(2.9, "not-eligible"), (3.0, "eligible")])
def test_VPBK_M_5_life_expectancy(months, verdict):
    _, res = elig(set_obs(metastatic(), "life-expectancy", months))
    assert res["verdict"] == verdict
    assert ("limited-life-expectancy" in res["unmetConditions"]) == (verdict == "not-eligible")


@pytest.mark.parametrize("months", [2.99, 2.98979, 2.95])
def test_VPBK_M_5_13_weeks_meets_3_months(months):
    """survival-models.md: durations compare in months rounded to one decimal, so
    13 weeks (2.99 months by 0.23/week, 2.9898 by the exact ratio) meets 3 months."""
    finding, res = elig(set_obs(metastatic(), "life-expectancy", months))
    assert res["verdict"] == "eligible" and res["unmetConditions"] == []
    assert res["lifeExpectancyBasis"] == "clinician"
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m5-life-expectancy"]
    assert crit.status.value == "met" and crit.params["value"] == 3.0


def test_VPBK_M_5_2_94_months_is_below_3():
    _, res = elig(set_obs(metastatic(), "life-expectancy", 2.94))
    assert res["verdict"] == "not-eligible" and res["unmetConditions"] == ["limited-life-expectancy"]


def test_VPBK_M_5_model_group_B_meets_3_months_without_clinician_estimate():
    """Rules 2026.12 / survival-models.md: breast (3) + KPS 70 (1) + no visceral
    metastases (1) = 5, van der Linden group B (median 9 months): M-5 met."""
    finding, res = elig(drop_obs(metastatic(), "life-expectancy"))
    assert res["verdict"] == "eligible", res
    assert "life-expectancy" not in res["missing"]
    assert res["lifeExpectancyBasis"] == "model"
    assert res["survivalModel"] == {"model": "van-der-linden-2005", "group": "B", "medianSurvivalMonths": [9.0]}
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m5-life-expectancy-model"]
    assert crit.status.value == "met" and crit.rule == "VPBK-M-5"
    assert "vpbk.note.m5-model-borderline" not in {n.key for n in finding.notes}


def test_VPBK_M_5_model_group_A_is_met_with_a_borderline_line():
    """Group A (median 3.0 months) never fails M-5 on its own: met, the MDO judges."""
    f = drop_obs(metastatic(), "life-expectancy")
    f.cancers[0] = Cancer("lung", CancerCategory.SOLID, src("Condition", "ca"),
                          histologically_proven=f.cancers[0].histologically_proven)
    f.conditions.append(ConditionRecord("visceral-metastases", src("Condition", "liver")))
    set_obs(f, "karnofsky", 60)
    finding, res = elig(f)
    assert res["survivalModel"]["group"] == "A"
    assert res["verdict"] == "eligible" and res["unmetConditions"] == []
    assert "vpbk.note.m5-model-borderline" in {n.key for n in finding.notes}


def test_VPBK_M_5_neither_clinician_nor_model_is_unknown():
    f = drop_obs(metastatic(), "life-expectancy")
    f.searches["Condition"] = SearchStatus.FAILED  # visceral metastases unknown: no model
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "life-expectancy" in res["missing"]


def test_VPBK_M_5_clinician_estimate_takes_precedence_over_the_model():
    _, res = elig(set_obs(metastatic(), "life-expectancy", 2.0))  # the model would say group B
    assert res["unmetConditions"] == ["limited-life-expectancy"] and res["lifeExpectancyBasis"] == "clinician"


def test_VPBK_M_5_mdo_override_of_life_expectancy():
    f = set_obs(metastatic(), "life-expectancy", 2.0)
    set_obs(f, "mdo-override-life-expectancy", True)
    finding, res = elig(f)
    assert res["verdict"] == "eligible" and res["mdoOverrides"] == ["limited-life-expectancy"]


def test_VPBK_M_5_unmet_condition_gives_a_warning_card_with_override_reasons():
    finding, res = elig(set_obs(metastatic(), "can-lie-prone", False))
    assert res["verdict"] == "not-eligible" and res["unmetConditions"] == ["cannot-lie-prone"]
    assert finding.indicator.value == "warning" and finding.override_reasons


@pytest.mark.parametrize("kps,who,verdict", [
    (50, None, "not-eligible"), (60, None, "eligible"), (None, 2, "eligible"), (None, 3, "not-eligible"),
    (50, 2, "eligible"),  # KPS 50 fails, WHO 2 passes: each scale judged on its own
    (40, 3, "not-eligible")])
def test_VPBK_M_5_performance_status_kps_50_vs_who_2(kps, who, verdict):
    f = drop_obs(metastatic(), "karnofsky")
    if kps is not None:
        set_obs(f, "karnofsky", kps)
    if who is not None:
        set_obs(f, "ecog", who)
    _, res = elig(f)
    assert res["verdict"] == verdict
    assert ("poor-performance-status" in res["unmetConditions"]) == (verdict == "not-eligible")


def test_VPBK_M_5_no_performance_scale_recorded_is_missing():
    _, res = elig(drop_obs(metastatic(), "karnofsky"))
    assert res["verdict"] == "insufficient-data" and "karnofsky" in res["missing"]


def test_VPBK_M_5_puncture_site_infection():
    f = metastatic()
    f.conditions.append(ConditionRecord("puncture-site-infection", src("Condition", "inf"), "L1"))
    assert elig(f)[1]["unmetConditions"] == ["puncture-site-infection"]


@pytest.mark.parametrize("name,code", [("vertebral-infection", "vertebral-infection"),
                                       ("systemic-infection", "systemic-infection")])
def test_VPBK_M_6_infections_are_absolute(name, code):
    f = metastatic()
    f.conditions.append(ConditionRecord(name, src("Condition", "inf")))
    finding, res = elig(f)
    assert res["verdict"] == "not-eligible" and res["absoluteContraindications"] == [code]
    assert finding.indicator.value == "warning"


def test_VPBK_M_6_bone_cement_allergy_is_absolute():
    f = metastatic()
    f.allergies.append(Allergy("bone-cement", src("AllergyIntolerance", "pmma")))
    assert elig(f)[1]["absoluteContraindications"] == ["bone-cement-allergy"]


def test_VPBK_M_6_coagulopathy_correctable_or_not():
    f = metastatic()
    f.conditions.append(ConditionRecord("coagulopathy", src("Condition", "coag")))
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "coagulopathy-correctable" in res["missing"]
    set_obs(f, "coagulopathy-correctable", False)
    assert elig(f)[1]["absoluteContraindications"] == ["uncorrectable-coagulopathy"]
    set_obs(f, "coagulopathy-correctable", True)
    assert elig(f)[1]["verdict"] == "eligible"


def test_VPBK_M_6_failed_condition_search_never_gives_eligible():
    f = metastatic()
    f.searches["Condition"] = SearchStatus.FAILED
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data"
    assert {"vertebral-infection", "systemic-infection", "coagulopathy"} <= set(res["missing"])


def test_VPBK_M_6_absent_condition_is_none_recorded_with_what_was_searched():
    finding, _ = elig(metastatic())
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m6-no-vertebral-infection"]
    assert crit.status.value == "met" and crit.facts[0].searched == "Condition"


@pytest.mark.parametrize("name,value,level,code", [
    ("radicular-pain", True, None, "radicular-pain"),
    ("bilsky-grade", "1a", "L1", "epidural-extension"),
    ("posterior-column-fracture", True, "L1", "posterior-column-fracture")])
def test_VPBK_M_7_relative_contraindications(name, value, level, code):
    _, res = elig(set_obs(metastatic(), name, value, level))
    assert res["verdict"] == "eligible-relative-contraindications"
    assert res["relativeContraindications"] == [code]


@pytest.mark.parametrize("count,diffuse", [(5, False), (6, True)])
def test_VPBK_M_7_diffuse_metastases_5_vs_6(count, diffuse):
    f = metastatic()
    for lvl in ["T2", "T4", "T6", "T8", "T10"][:count - 1]:
        f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", f"m{lvl}"), lvl))
    finding = [x for x in augmentation.evaluate(f, POLICY) if x.topic == "vpbk-eligibility" and x.key == "L1"][0]
    res = wire_with_rules(finding)
    assert ("diffuse-metastases" in res["relativeContraindications"]) == diffuse


def test_VPBK_M_7_recorded_count_wins():
    _, res = elig(set_obs(metastatic(), "spinal-metastasis-count", 8))
    assert res["relativeContraindications"] == ["diffuse-metastases"]


def test_VPBK_M_7_unknown_relative_contraindication_is_missing():
    # listed, not blocking: the verdict is capped at eligible-relative-contraindications
    _, res = elig(drop_obs(metastatic(), "radicular-pain"))
    assert res["verdict"] == "eligible-relative-contraindications" and "radicular-pain" in res["missing"]


def test_verdict_precedence_not_eligible_over_missing_data():
    f = drop_obs(metastatic(), "pain-score")
    set_obs(f, "can-lie-prone", False)
    assert elig(f)[1]["verdict"] == "not-eligible"


def test_VPBK_M_8_M_9_shared_decision_and_operator_lines():
    finding, res = elig(metastatic())
    keys = [n.key for n in finding.notes]
    assert "vpbk.note.m8-shared-decision" in keys and "vpbk.note.m9-operator" in keys
    assert {"VPBK-M-8", "VPBK-M-9"} <= set(res["rules"])


def test_VPBK_M_8_leaflet_link_when_configured():
    from spine_guideline.policy import load_policy
    policy = load_policy({"augmentation": {"leaflet_url": "https://example.org/vpbk-folder.pdf"}})
    findings = augmentation.evaluate(metastatic(), policy)
    [finding] = by_topic(findings, "vpbk-eligibility", "L1")
    assert [link.url for link in finding.links] == ["https://example.org/vpbk-folder.pdf"]


def test_entry_condition_no_condition_no_vpbk_cards():
    from .support.augmentation import base
    assert augmentation.evaluate(base(), POLICY) == []


def test_suspected_metastasis_needs_confirmation():
    f = metastatic()
    f.conditions[0] = ConditionRecord("spinal-metastasis", src("Condition", "met"), "L1", suspected=True)
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "spinal-metastasis" in res["missing"]


# -- rules 2026.12: a spinal metastasis without a level takes the level of the order --
def levelless(level="L1"):
    """metastatic() with the metastasis recorded without a level (C79.5, body site 'vertebral column')."""
    f = metastatic(level)
    f.conditions = [ConditionRecord("spinal-metastasis", src("Condition", "met-spine"), None)]
    return f


def test_VPBK_M_levelless_metastasis_takes_the_level_of_the_order():
    finding, res = elig_on_order(levelless())
    assert res["pathway"] == "metastatic" and res["vertebra"] == "L1"
    assert res["verdict"] == "eligible", res
    assert res["levelFromOrder"] is True
    assert "VPBK-M-1a" in res["rules"] and not any(r.startswith("VPBK-O") for r in res["rules"])
    assert finding.notes[0].key == "vpbk.note.level-from-order"
    assert finding.notes[0].params["vertebra"].key == "vpbk.level.L1"


def test_VPBK_M_level_of_order_is_not_marked_when_the_metastasis_has_that_level():
    _, res = elig_on_order(metastatic())
    assert res["pathway"] == "metastatic" and "levelFromOrder" not in res


def test_VPBK_M_levelless_metastasis_on_patient_view_is_a_metastatic_level_unknown_card():
    [finding] = by_topic(augmentation.evaluate(levelless(), POLICY), "vpbk-eligibility")
    res = wire_with_rules(finding)
    assert res["pathway"] == "metastatic" and res["vertebra"] is None
    assert res["verdict"] == "insufficient-data" and "vertebral-level" in res["missing"]


def test_VPBK_M_levelless_metastasis_with_haematological_origin_stays_non_metastatic():
    f = levelless()
    f.cancers = [Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm"))]
    _, res = elig_on_order(f)
    assert res["pathway"] == "osteoporotic-benign"


# -- rules 2026.12: patient-view gives no card for a level whose indication is known unmet --
def test_VPBK_M_1_patient_view_no_card_for_sins_0_6_but_the_order_gets_one():
    f = metastatic(sins=5)
    assert no_card_on_patient_view(f)
    assert by_topic(augmentation.evaluate(f, POLICY), "sins", "L1")  # the SINS card stays
    finding, res = elig_on_order(f)
    assert res["verdict"] == "not-eligible" and res["unmetCriteria"] == ["sins-below-7"]


def test_VPBK_M_1_patient_view_no_card_for_pain_below_4_only_at_that_level():
    f = set_obs(metastatic(), "pain-score", 2, "L1")
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", "met-T8"), "T8"))
    for name, value in (("sins", None), ("mdo-vpbk-benefit", True), ("lesion-type", "lytic"),
                        ("vpbk-technically-suitable", True), ("instability-beyond-augmentation", False),
                        ("posterior-fixation-needed", False), ("bilsky-grade", "0"),
                        ("posterior-column-fracture", False), ("pain-score", 7)):
        if name == "sins":
            f.observations[("sins", "T8")] = sins_fact("T8", 8)
        else:
            set_obs(f, name, value, "T8")
    cards = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility")
    assert [c.key for c in cards] == ["T8"]


def test_VPBK_M_1_patient_view_card_when_pain_is_unknown_or_M_1c_applies():
    assert not no_card_on_patient_view(drop_obs(metastatic(), "pain-score"))  # unknown: the card asks for it
    f = set_obs(metastatic(sins=8), "pain-score", 1)
    f.events.append(Event("spinal-surgery", src("ServiceRequest", "surg"), "planned", level="L1"))
    set_obs(f, "surgeon-augmentation-benefit", True, "L1")
    finding, res = elig(f)  # M-1c has no pain criterion
    assert res["indicationPath"] == "M-1c"


def test_VPBK_M_1_sins_undecided_still_gets_a_card():
    f = metastatic(sins=None)
    f.observations[("sins", "L1")] = sins_fact("L1", None, pain=0, bone_lesion=2)
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data"
