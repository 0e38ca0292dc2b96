"""VPBK-O: VP/BK for osteoporotic and other non-metastatic fractures (sources 001, 004)."""
from __future__ import annotations

import pytest

from spine_guideline import augmentation
from spine_guideline.facts import Allergy, Cancer, CancerCategory, ConditionRecord
from tests.support.results import wire_with_rules

from .support.augmentation import (
    POLICY,
    base,
    by_topic,
    drop_obs,
    osteoporotic,
    set_obs,
    src,
)


def elig(f, level="L1"):
    [finding] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility", level)
    return finding, wire_with_rules(finding)


def test_VPBK_O_1_osteoporotic_fracture_all_met_is_eligible():
    finding, res = elig(osteoporotic())
    assert res["verdict"] == "eligible" and res["pathway"] == "osteoporotic-benign"
    assert {"VPBK-O-1", "VPBK-O-2", "VPBK-O-3", "VPBK-O-4", "VPBK-O-5", "VPBK-O-6"} <= set(res["rules"])
    assert any(n.key == "vpbk.note.o6-workup" for n in finding.notes)


def test_VPBK_O_1_unstable_fracture_is_not_eligible():
    _, res = elig(set_obs(osteoporotic(), "fracture-stable", False, "L1"))
    assert res["verdict"] == "not-eligible" and res["absoluteContraindications"] == ["unstable-vertebra"]


def test_VPBK_O_1_stability_must_be_recorded():
    _, res = elig(drop_obs(osteoporotic(), "fracture-stable", "L1"))
    assert res["verdict"] == "insufficient-data" and "fracture-stable" in res["missing"]


@pytest.mark.parametrize("magerl,verdict", [("A1", "eligible"), ("A3", "not-eligible")])
def test_VPBK_O_1_traumatic_fracture_only_magerl_a1(magerl, verdict):
    f = osteoporotic(days=3)
    f.conditions[0] = ConditionRecord("vertebral-fracture", src("Condition", "fx"), "L1",
                                      subtype="traumatic")
    set_obs(f, "magerl-type", magerl, "L1")
    _, res = elig(f)
    assert res["verdict"] == verdict  # no 6-8 week rule for trauma
    assert "too-early" not in res["absoluteContraindications"]


def test_VPBK_O_1_myeloma_lesion_is_non_metastatic_pathway():
    f = osteoporotic()
    f.conditions[0] = ConditionRecord("spinal-metastasis", src("Condition", "mm-l1"), "L1")
    f.cancers.append(Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm")))
    set_obs(f, "lesion-type", "lytic", "L1")
    set_obs(f, "bilsky-grade", "0", "L1")
    finding, res = elig(f)
    assert res["pathway"] == "osteoporotic-benign" and res["verdict"] == "eligible"
    assert "too-early" not in res["absoluteContraindications"] and "daysSinceFracture" not in res


def test_VPBK_O_4_myeloma_with_epidural_disease_is_not_eligible():
    f = osteoporotic()
    f.conditions[0] = ConditionRecord("spinal-metastasis", src("Condition", "mm-l1"), "L1")
    f.cancers.append(Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm")))
    set_obs(f, "lesion-type", "lytic", "L1")
    set_obs(f, "bilsky-grade", "2", "L1")
    assert "epidural-extension" in elig(f)[1]["absoluteContraindications"]


def test_VPBK_O_1_haemangioma_no_timing_and_no_marrow_oedema_rule():
    f = osteoporotic()
    f.conditions[0] = ConditionRecord("vertebral-haemangioma", src("Condition", "h"), "L1")
    drop_obs(f, "bone-marrow-oedema", "L1")
    drop_obs(f, "fracture-stable", "L1")
    _, res = elig(f)
    assert res["verdict"] == "eligible" and res["lesionKinds"] == ["haemangioma"]


@pytest.mark.parametrize("pain,disabling,verdict", [
    (6, False, "not-eligible"), (7, None, "eligible"), (6, True, "eligible"), (6, None, "insufficient-data")])
def test_VPBK_O_2_severe_pain_6_vs_7(pain, disabling, verdict):
    f = set_obs(osteoporotic(), "pain-score", pain)
    if disabling is not None:
        set_obs(f, "disabling-back-pain", disabling)
    _, res = elig(f)
    assert res["verdict"] == verdict


def test_VPBK_O_2_conservative_treatment_not_failed():
    _, res = elig(set_obs(osteoporotic(), "conservative-treatment-failed", False))
    assert "conservative-treatment-not-failed" in res["unmetCriteria"]


def test_VPBK_O_2_radiating_pain_excludes():
    _, res = elig(set_obs(osteoporotic(), "radicular-pain", True))
    assert res["verdict"] == "not-eligible" and "radiating-pain" in res["unmetCriteria"]


def test_VPBK_O_2_suspected_fracture_without_imaging_finding():
    f = osteoporotic()
    c = f.conditions[0]
    f.conditions[0] = ConditionRecord(c.name, c.source, c.level, suspected=True, onset=c.onset,
                                      subtype=c.subtype)
    drop_obs(f, "bone-marrow-oedema", "L1")
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "vertebral-fracture" in res["missing"]


@pytest.mark.parametrize("days,verdict,note", [(41, "not-eligible", False), (42, "eligible", True),
                                               (55, "eligible", True), (56, "eligible", False)])
def test_VPBK_O_3_six_to_eight_weeks(days, verdict, note):
    finding, res = elig(osteoporotic(days=days))
    assert res["verdict"] == verdict and res["daysSinceFracture"] == days
    assert ("too-early" in res["absoluteContraindications"]) == (days < 42)
    assert any(n.key == "vpbk.note.o3-within-window" for n in finding.notes) == note


def test_VPBK_O_3_unknown_fracture_date():
    f = osteoporotic()
    c = f.conditions[0]
    f.conditions[0] = ConditionRecord(c.name, c.source, c.level, subtype="osteoporotic")
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "fracture-date" in res["missing"]


def test_VPBK_O_4_O_5_no_marrow_oedema_means_no_recent_fracture():
    _, res = elig(set_obs(osteoporotic(), "bone-marrow-oedema", False, "L1"))
    assert res["verdict"] == "not-eligible" and "no-recent-fracture" in res["absoluteContraindications"]


@pytest.mark.parametrize("mutate,code", [
    # (with no record saying the pain persists: that would be a conflict)
    (lambda f: set_obs(drop_obs(drop_obs(f, "pain-score"), "pain-at-fracture-level", "L1"), "pain-resolved", True),
     "pain-resolved"),
    (lambda f: set_obs(f, "can-lie-prone", False), "cannot-lie-prone"),
    (lambda f: set_obs(f, "retropulsion", True, "L1"), "retropulsion"),
    (lambda f: f.conditions.append(ConditionRecord("poor-cardiopulmonary-condition", src("Condition", "c"))),
     "poor-cardiopulmonary-condition"),
    (lambda f: f.conditions.append(ConditionRecord("vertebral-infection", src("Condition", "i"), "L1")),
     "vertebral-infection"),
    (lambda f: f.conditions.append(ConditionRecord("systemic-infection", src("Condition", "s"))),
     "systemic-infection"),
    (lambda f: f.conditions.append(ConditionRecord("coagulopathy", src("Condition", "k"))), None),
    (lambda f: f.allergies.append(Allergy("bone-cement", src("AllergyIntolerance", "a"))),
     "procedure-material-allergy"),
])
def test_VPBK_O_5_contraindications(mutate, code):
    f = osteoporotic()
    mutate(f)
    _, res = elig(f)
    if code is None:  # coagulopathy without correctability recorded: cannot be decided
        assert res["verdict"] == "insufficient-data" and "coagulopathy-correctable" in res["missing"]
        set_obs(f, "coagulopathy-correctable", False)
        code = "coagulopathy"
        _, res = elig(f)
    assert res["verdict"] == "not-eligible" and code in res["absoluteContraindications"]


def test_VPBK_O_5_haematological_malignancy_as_such_is_not_a_haemostasis_disorder():
    f = osteoporotic()
    f.cancers.append(Cancer("non-hodgkin-lymphoma", CancerCategory.HAEMATOLOGICAL, src("Condition", "nhl")))
    assert elig(f)[1]["verdict"] == "eligible"


def test_VPBK_O_5_pain_resolved_unknown_without_pain_data():
    f = drop_obs(osteoporotic(), "pain-score")
    drop_obs(f, "pain-at-fracture-level", "L1")
    _, res = elig(f)
    assert res["verdict"] == "insufficient-data" and "pain-resolved" in res["missing"]


def test_VPBK_O_6_workup_list_is_shown():
    finding, _ = elig(osteoporotic())
    [note] = [n for n in finding.notes if n.key == "vpbk.note.o6-workup"]
    assert len(note.params["items"]) == 8


def test_fracture_without_level_gives_insufficient_data_without_key():
    f = base()
    f.conditions.append(ConditionRecord("vertebral-fracture", src("Condition", "fx"), None,
                                        subtype="osteoporotic"))
    [finding] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility")
    # the level-independent contraindications are still checked (here: prone position not recorded)
    assert finding.key is None and wire_with_rules(finding)["missing"] == ["vertebral-level", "can-lie-prone"]
