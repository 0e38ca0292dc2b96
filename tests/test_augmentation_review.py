"""Regression tests for the independent clinical review of the VP/BK rules
(each names the rule it guards; each failed before its fix)."""
from __future__ import annotations

from datetime import date

import pytest

from spine_guideline import augmentation, sins
from spine_guideline.facts import (
    Allergy,
    Cancer,
    CancerCategory,
    ConditionRecord,
    Event,
    Fact,
)
from tests.support.results import wire_with_rules

from .support.augmentation import (
    POLICY,
    base,
    by_topic,
    drop_obs,
    metastatic,
    order,
    osteoporotic,
    ready_for_procedure,
    set_obs,
    sins_fact,
    src,
)


def elig(f, key="L1"):
    [finding] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility", key)
    return finding, wire_with_rules(finding)


def order_elig(f, key="vp-1"):
    return [x for x in augmentation.evaluate_orders(f, POLICY)
            if x.topic == "vpbk-eligibility" and (x.key == key or x.key.startswith(f"{key}:"))]


# -- 1 -------------------------------------------------------------------------
def test_VPBK_M_1b_posterior_fixation_unknown_is_never_eligible():
    f = drop_obs(metastatic(sins=12), "posterior-fixation-needed", "L1")
    finding, res = elig(f)
    assert res["verdict"] == "mdo-review-needed"
    assert "posterior-fixation-needed" in res["missing"]
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m1b-no-posterior-fixation"]
    assert crit.status.value == "unknown"


def test_VPBK_M_1b_posterior_fixation_needed_fails_the_indication():
    _, res = elig(set_obs(metastatic(sins=12), "posterior-fixation-needed", True, "L1"))
    assert res["verdict"] == "not-eligible"
    assert "posterior-fixation-needed" in res["unmetCriteria"]


# -- 2 -------------------------------------------------------------------------
def test_VPBK_M_6_order_without_level_and_two_candidates_keeps_absolute_contraindications_critical():
    f = metastatic()
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", "m2"), "L3"))
    f.allergies.append(Allergy("bone-cement", src("AllergyIntolerance", "bc")))
    f.conditions.append(ConditionRecord("systemic-infection", src("Condition", "si")))
    f.draft_orders.append(order(levels=()))
    [e] = order_elig(f)
    res = wire_with_rules(e)
    assert res["verdict"] == "not-eligible" and e.indicator.value == "critical"
    assert set(res["absoluteContraindications"]) == {"bone-cement-allergy", "systemic-infection"}
    assert "vertebral-level" in res["missing"]


@pytest.mark.parametrize("mutate,code", [
    (lambda f: f.allergies.append(Allergy("bone-cement", src("AllergyIntolerance", "bc"))),
     "procedure-material-allergy"),
    (lambda f: set_obs(f, "can-lie-prone", False), "cannot-lie-prone"),
    (lambda f: f.conditions.append(ConditionRecord("poor-cardiopulmonary-condition", src("Condition", "c"))),
     "poor-cardiopulmonary-condition"),
    (lambda f: f.conditions.append(ConditionRecord("vertebral-infection", src("Condition", "vi"))),
     "vertebral-infection")])
def test_VPBK_O_5_order_without_any_level_checks_patient_wide_contraindications(mutate, code):
    f = base()
    mutate(f)
    f.draft_orders.append(order(levels=()))
    [e] = order_elig(f)
    res = wire_with_rules(e)
    assert code in res["absoluteContraindications"] and e.indicator.value == "critical"
    assert res["pathway"] == "osteoporotic-benign"


# -- 3 -------------------------------------------------------------------------
def _pathological(f, level="L1"):
    f.conditions[0] = ConditionRecord("vertebral-fracture", src("Condition", "fx"), level,
                                      onset=f.conditions[0].onset, subtype="pathological")
    return f


@pytest.mark.parametrize("active", [True, False])
def test_VPBK_M_pathological_fracture_with_a_solid_primary_takes_the_metastasis_protocol(active):
    f = metastatic()  # every VPBK-M fact, but a pathological fracture instead of the metastasis record
    f.conditions[0] = ConditionRecord("vertebral-fracture", src("Condition", "fx"), "L1",
                                      onset=date(2026, 11, 13), subtype="pathological")
    f.cancers[0] = Cancer("breast", CancerCategory.SOLID, src("Condition", "br"), active=active,
                          histologically_proven=Fact("histologically-proven", True, (src(),)))
    finding, res = elig(f)
    assert res["pathway"] == "metastatic"
    assert res["verdict"] == "insufficient-data" and "spinal-metastasis" in res["missing"]
    assert any(c.key == "vpbk.crit.m2-pathological-fracture" and c.status.value == "unknown"
               for c in finding.criteria)


def test_VPBK_O_1_pathological_fracture_with_only_myeloma_stays_non_metastatic():
    f = _pathological(osteoporotic(days=10))
    f.cancers.append(Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm")))
    _, res = elig(f)
    assert res["pathway"] == "osteoporotic-benign"


# -- 18 ------------------------------------------------------------------------
def _myeloma_and(solid):
    f = metastatic(level="L2")
    f.cancers[:] = [Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm")), solid]
    return f


@pytest.mark.parametrize("solid", [
    Cancer("other-solid", CancerCategory.SOLID, src("Condition", "bcc"), active=False,
           histologically_proven=Fact("histologically-proven", True, (src(),))),
    Cancer("breast", CancerCategory.SOLID, src("Condition", "br"), suspected=True)])
def test_VPBK_O_1_myeloma_with_a_history_or_suspected_solid_cancer_is_origin_unclear(solid):
    finding, res = elig(_myeloma_and(solid), "L2")
    assert res["verdict"] == "insufficient-data" and "lesion-origin" in res["missing"]
    assert any(c.key == "vpbk.crit.lesion-origin-unclear" for c in finding.criteria)


def test_VPBK_M_myeloma_with_an_active_proven_solid_cancer_is_metastatic():
    solid = Cancer("breast", CancerCategory.SOLID, src("Condition", "br"),
                   histologically_proven=Fact("histologically-proven", True, (src(),)))
    _, res = elig(_myeloma_and(solid), "L2")
    assert res["pathway"] == "metastatic" and res["verdict"] == "eligible"


# -- 4 -------------------------------------------------------------------------
def _unspecified(days):
    f = osteoporotic(level="T12", days=days)
    c = f.conditions[0]
    f.conditions[0] = ConditionRecord("vertebral-fracture", c.source, "T12", onset=c.onset,
                                      onset_field=c.onset_field, subtype=None)
    return f


def test_VPBK_O_3_fracture_without_type_is_not_too_early_but_asks_the_type():
    f = _unspecified(10)
    f.draft_orders.append(order(levels=("T12",)))
    _, res = elig(f, "T12")
    assert "too-early" not in res["absoluteContraindications"]
    assert res["verdict"] == "insufficient-data" and "fracture-type" in res["missing"]
    assert res["lesionKinds"] == ["unspecified"]
    [e] = order_elig(f)
    assert e.indicator.value != "critical"


def test_VPBK_O_3_fracture_without_type_after_six_weeks_is_timing_met():
    _, res = elig(_unspecified(60), "T12")
    assert res["verdict"] == "eligible" and "fracture-type" not in res["missing"]


# -- 5 -------------------------------------------------------------------------
def _pain_only_at(f, level, value, note):
    """A pain score recorded with bodySite ``level`` only, as the mapper stores it:
    under the level, and as the patient-wide newest record (note 'recorded at ...')."""
    drop_obs(f, "pain-score")
    set_obs(f, "pain-score", value, level)
    at_level = f.observations[("pain-score", level)]
    f.observations[("pain-score", None)] = Fact("pain-score", value, at_level.sources, None, note=note)
    return f


@pytest.mark.parametrize("note", ["recorded at T5", None])
def test_VPBK_M_1_pain_recorded_at_another_vertebra_does_not_make_the_index_symptomatic(note):
    f = metastatic()
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", "m5"), "T5"))
    set_obs(f, "sins", 8, "T5")
    f.observations[("sins", "T5")] = sins_fact("T5", 8)
    _pain_only_at(f, "T5", 8, note)
    finding, res = elig(f, "L1")
    assert res["verdict"] == "insufficient-data" and "pain-score" in res["missing"]
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m1-pain"]
    assert crit.status.value == "unknown"
    [t5] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility", "T5")
    [crit] = [c for c in t5.criteria if c.key == "vpbk.crit.m1-pain"]
    assert crit.status.value == "met" and crit.params["value"] == 8


def test_VPBK_O_2_pain_recorded_at_another_vertebra_is_not_severe_pain_here():
    f = _pain_only_at(osteoporotic(), "T5", 8, "recorded at T5")
    _, res = elig(f, "L1")
    assert res["verdict"] == "insufficient-data" and "pain-score" in res["missing"]


def test_VPBK_M_4_waiver_recorded_at_another_vertebra_does_not_count():
    f = metastatic()
    f.events = [e for e in f.events if e.kind != "radiotherapy"]
    set_obs(f, "stepped-care-waived.radiotherapy", True, "T5", reason="re-irradiation impossible")
    w = f.observations[("stepped-care-waived.radiotherapy", "T5")]
    f.observations[("stepped-care-waived.radiotherapy", None)] = Fact(w.name, True, w.sources, None, attrs=w.attrs,
                                                                      note="recorded at T5")
    _, res = elig(f, "L1")
    assert res["verdict"] == "not-eligible" and "stepped-care-incomplete" in res["unmetCriteria"]


# -- 6 -------------------------------------------------------------------------
def test_VPBK_M_4_analgesics_given_and_stopped_count_as_given():
    f = metastatic()
    f.medications = [m for m in f.medications if m.drug_class != "analgesic"]
    f.events.append(Event("analgesic", src("MedicationStatement", "an-stopped"), "done", date="2026-06-01"))
    finding, res = elig(f)
    assert res["verdict"] == "eligible"
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m4-analgesics"]
    assert crit.status.value == "met" and any(s.resource_id == "an-stopped" for f_ in crit.facts for s in f_.sources)


def test_VPBK_M_4_analgesics_neither_active_nor_done_is_not_given():
    f = metastatic()
    f.medications = [m for m in f.medications if m.drug_class != "analgesic"]
    _, res = elig(f)
    assert res["verdict"] == "not-eligible" and "stepped-care-incomplete" in res["unmetCriteria"]


# -- 7 -------------------------------------------------------------------------
def _infection(f, level):
    f.conditions.append(ConditionRecord("vertebral-infection", src("Condition", f"sd-{level}"), level))
    return f


@pytest.mark.parametrize("builder,rule_key", [(metastatic, "vpbk.crit.m6-no-vertebral-infection"),
                                              (osteoporotic, "vpbk.crit.o5-no-vertebral-infection")])
def test_VPBK_M_6_O_5_infection_at_the_adjacent_level_is_present(builder, rule_key):
    finding, res = elig(_infection(builder(), "L2"))
    assert res["verdict"] == "not-eligible" and "vertebral-infection" in res["absoluteContraindications"]
    [crit] = [c for c in finding.criteria if c.key == rule_key]
    assert crit.status.value == "not-met"


@pytest.mark.parametrize("builder,rule_key", [(metastatic, "vpbk.crit.m6-no-vertebral-infection"),
                                              (osteoporotic, "vpbk.crit.o5-no-vertebral-infection")])
def test_VPBK_M_6_O_5_infection_elsewhere_in_the_spine_is_never_shown_as_met(builder, rule_key):
    finding, res = elig(_infection(builder(), "T5"))
    [crit] = [c for c in finding.criteria if c.key == rule_key]
    assert crit.status.value == "unknown"
    assert res["absoluteContraindicationsUnknown"] == ["vertebral-infection"]
    assert res["verdict"] == "mdo-review-needed"
    assert any(n.key == "vpbk.note.infection-elsewhere" for n in finding.notes)


# -- 8 -------------------------------------------------------------------------
def _lesion(kind, level="T8"):
    f = base()
    f.conditions.append(ConditionRecord(kind, src("Condition", "h"), level))
    for name, value, lvl in (("pain-score", 8, None), ("conservative-treatment-failed", True, None),
                             ("pain-at-fracture-level", True, level), ("radiating-pain", False, None),
                             ("radicular-pain", False, None), ("can-lie-prone", True, None)):
        set_obs(f, name, value, lvl)
    return f


@pytest.mark.parametrize("kind", ["vertebral-haemangioma", "benign-vertebral-tumour"])
def test_VPBK_O_5_retropulsion_is_not_asked_without_a_fracture(kind):
    finding, res = elig(_lesion(kind), "T8")
    assert "retropulsion" not in res["missing"] and res["verdict"] == "eligible"
    assert not any(c.key == "vpbk.crit.o5-no-retropulsion" for c in finding.criteria)


def test_VPBK_O_5_retropulsion_still_asked_for_fractures():
    _, res = elig(drop_obs(osteoporotic(), "retropulsion", "L1"))
    assert "retropulsion" in res["missing"]


# -- 9, 20 ---------------------------------------------------------------------
def pregnancy_check(f):
    [p] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-preprocedure")
    return {c["code"]: c["status"] for c in wire_with_rules(p)["checks"]}["pregnancy"], p


def _woman(age_birth=date(1990, 1, 1)):
    f = ready_for_procedure(metastatic())
    f.sex, f.birth_date = "female", age_birth
    return f


def test_VPBK_P_5_pregnancy_condition_wins_over_a_negative_observation():
    f = set_obs(_woman(), "pregnancy", False)
    f.conditions.append(ConditionRecord("pregnancy", src("Condition", "preg")))
    status, finding = pregnancy_check(f)
    assert status == "attention"
    assert any(n.key == "vpbk.pre.note.pregnancy-conflict" for n in finding.notes)


@pytest.mark.parametrize("obs,status", [(None, "unknown"), (False, "ok"), (True, "attention")])
def test_VPBK_P_5_woman_12_55_without_a_pregnancy_record_is_asked(obs, status):
    f = _woman()
    if obs is not None:
        set_obs(f, "pregnancy", obs)
    got, finding = pregnancy_check(f)
    assert got == status
    assert ("pregnancy" in [m.code for m in finding.missing]) == (status == "unknown")


# -- 10 ------------------------------------------------------------------------
def test_VPBK_O_5_pain_resolved_contradicted_by_fresh_pain_is_a_conflict():
    f = set_obs(osteoporotic(), "pain-resolved", True, "L1")  # pain 8 and pain at the level also recorded
    finding, res = elig(f)
    assert "pain-resolved" not in res["absoluteContraindications"]
    assert res["verdict"] == "insufficient-data" and "pain-resolved" in res["missing"]
    assert [m.why for m in finding.missing if m.code == "pain-resolved"] == ["conflict"]
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.o5-no-pain-resolved"]
    assert crit.status.value == "unknown"


def test_VPBK_O_5_pain_resolved_without_contradiction_is_a_contraindication():
    f = osteoporotic()
    for name, level in (("pain-score", None), ("pain-at-fracture-level", "L1")):
        drop_obs(f, name, level)
    set_obs(f, "pain-resolved", True, "L1")
    _, res = elig(f)
    assert "pain-resolved" in res["absoluteContraindications"]


# -- 11 ------------------------------------------------------------------------
def _sins_L3(location, alignment):
    f = metastatic(level="L3", sins=None)
    f.observations[("sins", "L3")] = sins_fact("L3", None, location=location, pain=3, bone_lesion=2,
                                               alignment=alignment, collapse=0, posterolateral=0)
    return f


def test_VPBK_M_2_sins_location_contradicting_the_level_in_the_same_band_is_shown():
    f = _sins_L3(location=3, alignment=0)  # L3 is mobile (2): 7 by the level, 8 as recorded
    a = sins.assess(f, "L3", POLICY)
    assert a.location_conflict and a.score == 7 and a.band == "7-9"
    finding = sins.finding(a)
    assert finding.indicator.value == "warning" and wire_with_rules(finding)["locationConflict"] is True
    assert any(n.key == "sins.note.location-conflict-same-band" for n in finding.notes)


def test_VPBK_M_2_sins_location_conflict_across_bands_leaves_the_band_undecided():
    f = _sins_L3(location=3, alignment=2)  # 9 by the level, 10 as recorded
    a = sins.assess(f, "L3", POLICY)
    assert a.location_conflict and a.band is None and a.score is None and a.bands == ["7-9", ">=10"]
    finding = sins.finding(a)
    assert finding.summary.key == "sins.summary.location-conflict"
    assert [(m.code, m.why) for m in finding.missing] == [("sins-location", "conflict")]
    _, res = elig(f, "L3")
    assert res["verdict"] == "insufficient-data" and "sins-location" in res["missing"]


# -- 12 ------------------------------------------------------------------------
def test_VPBK_T_1_technique_notes_name_the_configured_level_ranges():
    from cds_service.i18n import load_catalogs
    from spine_guideline.policy import load_policy
    policy = load_policy({"augmentation": {"bk_level_range": ["T6", "L4"], "vp_level_range": ["C3", "L4"]}})
    f = metastatic(level="T5")
    [finding] = [x for x in augmentation.evaluate(f, policy) if x.topic == "vpbk-eligibility"]
    [note] = [n for n in finding.notes if n.key == "vpbk.note.technique"]
    [tech] = [m for m in note.params["notes"] if m.key == "vpbk.technote.level-outside-bk-range"]
    catalogs = load_catalogs()
    assert catalogs.render(tech, "en").endswith("T6-L4")
    assert catalogs.render(tech, "nl").endswith("Th6-L4")
    f = metastatic(level="C2")
    [finding] = [x for x in augmentation.evaluate(f, policy) if x.topic == "vpbk-eligibility"]
    [note] = [n for n in finding.notes if n.key == "vpbk.note.technique"]
    [tech] = [m for m in note.params["notes"] if m.key == "vpbk.technote.level-outside-vp-range"]
    assert "C3-L4" in catalogs.render(tech, "en")


# -- 13 ------------------------------------------------------------------------
@pytest.mark.parametrize("name,level,code", [("radicular-pain", None, "radicular-pain"),
                                             ("bilsky-grade", "L1", "bilsky-grade"),
                                             ("posterior-column-fracture", "L1", "posterior-column-fracture")])
def test_VPBK_M_7_unknown_relative_contraindication_is_never_worse_than_either_known_value(name, level, code):
    _, res = elig(drop_obs(metastatic(), name, level))
    assert res["verdict"] == "eligible-relative-contraindications"
    assert code in res["missing"] and res["relativeContraindicationsUnknown"]
    # neither known value gives a worse verdict
    assert elig(metastatic())[1]["verdict"] == "eligible"
    value = {"radicular-pain": True, "bilsky-grade": "2", "posterior-column-fracture": True}[name]
    assert elig(set_obs(metastatic(), name, value, level))[1]["verdict"] == "eligible-relative-contraindications"


def test_VPBK_M_7_unknown_relative_contraindication_is_named_for_the_mdo():
    finding, _ = elig(drop_obs(metastatic(), "radicular-pain"))
    [note] = [n for n in finding.notes if n.key == "vpbk.note.m7-relative-unknown"]
    assert [m.key for m in note.params["codes"]] == ["vpbk.code.radicular-pain"]


# -- 14 ------------------------------------------------------------------------
@pytest.mark.parametrize("level", ["C1", "S2"])
def test_VPBK_T_1_level_neither_technique_reaches_is_not_plain_eligible(level):
    finding, res = elig(metastatic(level=level), level)
    assert res["technique"] == []
    assert finding.summary.key == "vpbk.summary.no-technique"
    assert finding.indicator.value == "warning" and finding.override_reasons


def test_VPBK_T_1_level_with_a_technique_keeps_the_plain_summary():
    finding, _ = elig(metastatic(level="C2"), "C2")
    assert finding.summary.key == "vpbk.summary.eligible" and finding.indicator.value == "info"


# -- 15 ------------------------------------------------------------------------
def test_VPBK_O_3_too_early_on_an_order_is_a_warning_not_critical():
    f = osteoporotic(days=41)
    f.draft_orders.append(order(levels=("L1",)))
    [e] = order_elig(f)
    res = wire_with_rules(e)
    assert res["verdict"] == "not-eligible" and res["absoluteContraindications"] == ["too-early"]
    assert e.indicator.value == "warning" and e.override_reasons
    assert any(n.key == "vpbk.note.o3-too-early-timing-advice" for n in e.notes)


def test_VPBK_O_3_too_early_with_a_real_absolute_contraindication_stays_critical():
    f = osteoporotic(days=41)
    f.allergies.append(Allergy("bone-cement", src("AllergyIntolerance", "bc")))
    f.draft_orders.append(order(levels=("L1",)))
    [e] = order_elig(f)
    assert e.indicator.value == "critical"


# -- 16 ------------------------------------------------------------------------
def _m1c_with_fixation():
    f = metastatic(sins=12)
    f.events.append(Event("spinal-surgery", src("ServiceRequest", "surg"), "planned", level="L1"))
    set_obs(f, "surgeon-augmentation-benefit", True, "L1")
    set_obs(f, "posterior-fixation-needed", True, "L1")
    return drop_obs(f, "mdo-vpbk-benefit", "L1")


def test_VPBK_M_1c_posterior_fixation_by_the_surgeon_is_not_an_unstable_vertebra():
    finding, res = elig(_m1c_with_fixation())
    assert res["indicationPath"] == "M-1c"
    assert "unstable-vertebra" not in res["absoluteContraindications"] and res["verdict"] == "eligible"
    assert any(n.key == "vpbk.note.m1c-posterior-fixation-exempt" for n in finding.notes)


def test_VPBK_M_1c_instability_beyond_augmentation_still_blocks():
    f = set_obs(_m1c_with_fixation(), "instability-beyond-augmentation", True, "L1")
    _, res = elig(f)
    assert res["verdict"] == "not-eligible" and "unstable-vertebra" in res["absoluteContraindications"]


def test_VPBK_M_1c_exemption_is_a_policy_value():
    from spine_guideline.policy import load_policy
    policy = load_policy({"augmentation": {"m1c_posterior_fixation_exempt": False}})
    [finding] = [x for x in augmentation.evaluate(_m1c_with_fixation(), policy) if x.topic == "vpbk-eligibility"]
    assert "unstable-vertebra" in wire_with_rules(finding)["absoluteContraindications"]


# -- 17 ------------------------------------------------------------------------
def _no_stepped_care():
    f = metastatic()
    f.events = [e for e in f.events if e.kind != "radiotherapy"]
    f.medications = [m for m in f.medications if m.drug_class != "analgesic"]
    return f


def test_VPBK_M_4_summary_names_the_treatments_neither_given_nor_waived():
    from cds_service.i18n import load_catalogs
    finding, res = elig(_no_stepped_care())
    assert res["verdict"] == "not-eligible" and res["steppedCareMissing"] == ["analgesics", "radiotherapy"]
    assert finding.summary.key == "vpbk.summary.not-eligible-stepped-care"
    assert [m.key for m in finding.summary.params["treatments"]] == ["vpbk.treatment.analgesics",
                                                                      "vpbk.treatment.radiotherapy"]
    [note] = [n for n in finding.notes if n.key == "vpbk.note.m4-record-waiver"]
    catalogs = load_catalogs()
    for lang in ("en", "nl"):
        assert "radio" in catalogs.render(finding.summary, lang)
        assert "stepped-care-waived" in catalogs.render(note, lang)


def test_VPBK_M_4_other_reasons_keep_the_general_summary():
    f = set_obs(_no_stepped_care(), "can-lie-prone", False)
    finding, _ = elig(f)
    assert finding.summary.key == "vpbk.summary.not-eligible"
    assert any(n.key == "vpbk.note.m4-record-waiver" for n in finding.notes)


# -- 19 ------------------------------------------------------------------------
def test_VPBK_M_2_missing_component_does_not_block_when_the_band_is_settled():
    f = metastatic(sins=None)
    f.observations[("sins", "L1")] = sins_fact("L1", None, pain=3, bone_lesion=2, alignment=2, collapse=3)
    finding, res = elig(f)  # 13-16 whatever the posterolateral component: band >= 10
    assert res["verdict"] == "eligible" and res["indicationPath"] == "M-1b"
    assert "sins-posterolateral" in res["missing"]
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m2-sins"]
    assert crit.status.value == "met"


def test_VPBK_M_2_missing_component_blocks_when_the_band_is_open():
    f = metastatic(sins=None)
    f.observations[("sins", "L1")] = sins_fact("L1", None, pain=3, bone_lesion=2, alignment=0, collapse=0)
    _, res = elig(f)  # 7-10: band undecided
    assert res["verdict"] == "insufficient-data" and "sins-posterolateral" in res["missing"]


def test_VPBK_M_1_card_says_the_pain_score_was_recorded_at_another_vertebra():
    f = metastatic()
    _pain_only_at(f, "T5", 8, "recorded at T5")
    finding, _ = elig(f, "L1")
    [note] = [n for n in finding.notes if n.key == "vpbk.note.recorded-at-other-level"]
    assert note.params["fact"].key == "vpbk.fact.pain-score"
    assert [m.key for m in note.params["levels"]] == ["vpbk.level.T5"]
