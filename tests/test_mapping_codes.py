"""Every code of data-dictionary.md maps to the fact the dictionary names (one row per code).

The expectations are transcribed from the data dictionary, not read from the
data files, so a wrong or missing table row fails here.
"""
from __future__ import annotations

import pytest

from fhir_mappings import build_facts
from spine_guideline.facts import CancerCategory, SearchStatus

from .support.mapping import ATC, ICD, LOCAL, LOINC, NOW, RXN, SCT, cc, condition, facts, observation

# ------------------------------------------------------------------ cancers
CANCER_ROWS = [
    ("breast", SCT, "254837009"), ("breast", ICD, "C50.9"), ("breast", ICD, "C50"),
    ("prostate", SCT, "399068003"), ("prostate", SCT, "93974005"), ("prostate", ICD, "C61"),
    ("lung", SCT, "363358000"), ("lung", SCT, "93880001"), ("lung", ICD, "C34.1"),
    ("kidney", SCT, "363518003"), ("kidney", ICD, "C64.9"),
    ("thyroid", SCT, "363478007"), ("thyroid", ICD, "C73"),
    ("multiple-myeloma", SCT, "109989006"), ("multiple-myeloma", ICD, "C90.0"),
    ("multiple-myeloma", ICD, "C90.00"),
    ("non-hodgkin-lymphoma", SCT, "118601006"), ("non-hodgkin-lymphoma", ICD, "C82.0"),
    ("non-hodgkin-lymphoma", ICD, "C83.3"), ("non-hodgkin-lymphoma", ICD, "C84"), ("non-hodgkin-lymphoma", ICD, "C85.9"),
    ("germ-cell-tumour", SCT, "402878003"), ("germ-cell-tumour", ICD, "C62.9"),
    ("germ-cell-tumour", LOCAL, "germ-cell-tumour"),
    ("other-solid", ICD, "C00.1"), ("other-solid", ICD, "C18.7"), ("other-solid", ICD, "C76.0"),
    ("other-solid", ICD, "C7A.0"), ("other-solid", ICD, "C43.9"),
    ("other-haematological", ICD, "C81.1"), ("other-haematological", ICD, "C90.1"),
    ("other-haematological", ICD, "C91.0"), ("other-haematological", ICD, "C96.9"),
    ("secondary", ICD, "C77.0"), ("secondary", ICD, "C78.7"), ("secondary", ICD, "C79.5"),
    ("secondary", ICD, "C7B.0"),
    ("unknown-primary", ICD, "C80.1"), ("unknown-primary", ICD, "C80"),
]
CATEGORY = {"secondary": CancerCategory.SECONDARY, "unknown-primary": CancerCategory.UNKNOWN_PRIMARY,
            "other-haematological": CancerCategory.HAEMATOLOGICAL, "multiple-myeloma": CancerCategory.HAEMATOLOGICAL,
            "non-hodgkin-lymphoma": CancerCategory.HAEMATOLOGICAL}


@pytest.mark.parametrize("ctype,system,code", CANCER_ROWS, ids=[f"DD-cancer-{r[0]}-{r[2]}" for r in CANCER_ROWS])
def test_cancer_codes(ctype, system, code):
    f = facts(condition(system, code))
    assert [c.cancer_type for c in f.cancers] == [ctype]
    c = f.cancers[0]
    assert c.category == CATEGORY.get(ctype, CancerCategory.SOLID)
    assert c.source.reference == "Condition/c1"
    assert c.is_primary == (ctype not in ("secondary", "unknown-primary"))


@pytest.mark.parametrize("system", [ICD, ICD + "-cm", ICD + "-nl"])
@pytest.mark.parametrize("code", ["C50.911", "C50911", "c50.9"])
def test_icd10_variants_and_code_forms(system, code):
    assert [c.cancer_type for c in facts(condition(system, code)).cancers] == ["breast"]


def test_unrecognised_snomed_cancer_is_reported_never_guessed():
    res = condition(SCT, "99999999", code={"coding": [{"system": SCT, "code": "99999999",
                                                       "display": "Malignant neoplasm of something"}]})
    f = facts(res)
    assert [(c.cancer_type, c.category) for c in f.cancers] == [("unrecognised", CancerCategory.UNRECOGNISED)]
    assert f.cancers[0].code == f"{SCT}|99999999"
    assert any("Condition/c1" in w and "unrecognised" in w for w in f.warnings)
    assert "something" not in " ".join(f.warnings)  # no clinical text in warnings


def test_unmapped_non_cancer_condition_is_ignored():
    res = condition(SCT, "38341003", code={"coding": [{"system": SCT, "code": "38341003",
                                                       "display": "Hypertension"}]})
    f = facts(res)
    assert f.cancers == [] and f.conditions == [] and f.warnings == []


# ------------------------------------------------------------------ conditions
COND_ROWS = [  # (fact, system, code, bodySite, expected levels, subtype)
    ("spinal-metastasis", SCT, "94602001", "L1", ["L1"], None),
    ("spinal-metastasis", SCT, "94602001", None, [None], None),
    ("spinal-metastasis", SCT, "94222008", "Th12", ["T12"], None),
    ("spinal-metastasis", ICD, "C79.5", "T11-L1", ["T11", "T12", "L1"], None),
    ("spinal-metastasis", ICD, "C79.51", "L2", ["L2"], None),
    ("spinal-metastasis", LOCAL, "spinal-metastasis", "C5", ["C5"], None),
    ("cord-compression", ICD, "G95.2", None, [None], None),
    ("cord-compression", SCT, "192970008", None, [None], None),
    ("vertebral-fracture", SCT, "240198002", "L1", ["L1"], "osteoporotic"),
    ("vertebral-fracture", SCT, "274146004", "T8", ["T8"], "pathological"),
    ("vertebral-fracture", ICD, "S12.1", None, [None], "traumatic"),
    ("vertebral-fracture", ICD, "S22.00", "T7", ["T7"], "traumatic"),
    ("vertebral-fracture", ICD, "S32.0", "L3", ["L3"], "traumatic"),
    ("vertebral-haemangioma", LOCAL, "vertebral-haemangioma", "L4", ["L4"], None),
    ("benign-vertebral-tumour", LOCAL, "benign-vertebral-tumour", "L4", ["L4"], None),
    ("benign-vertebral-tumour", ICD, "D16.6", "L4", ["L4"], None),
    ("vertebral-infection", SCT, "203241002", None, [None], None),
    ("vertebral-infection", SCT, "302935008", "L2", ["L2"], None),
    ("vertebral-infection", SCT, "2304001", None, [None], None),
    ("vertebral-infection", LOCAL, "vertebral-infection", None, [None], None),
    ("systemic-infection", LOCAL, "systemic-infection", None, [None], None),
    ("systemic-infection", SCT, "91302008", None, [None], None),
    ("puncture-site-infection", LOCAL, "puncture-site-infection", None, [None], None),
    ("coagulopathy", SCT, "64779008", None, [None], None),
    ("coagulopathy", SCT, "302215000", None, [None], None),
    ("pregnancy", SCT, "77386006", None, [None], None),
    ("poor-cardiopulmonary-condition", LOCAL, "poor-cardiopulmonary-condition", None, [None], None),
    ("visceral-metastases", ICD, "C78.0", None, [None], None),
    ("visceral-metastases", ICD, "C78.7", None, [None], None),
    ("visceral-metastases", ICD, "C79.7", None, [None], None),
    ("visceral-metastases", ICD, "C79.3", None, [None], None),
    ("visceral-metastases", ICD, "C79.31", None, [None], None),
    ("visceral-metastases", LOCAL, "visceral-metastases", None, [None], None),
    ("germ-cell-tumour", LOCAL, "germ-cell-tumour", None, [None], None),
]


@pytest.mark.parametrize("name,system,code,site,levels,subtype", COND_ROWS,
                         ids=[f"DD-cond-{r[0]}-{r[2]}-{r[3]}" for r in COND_ROWS])
def test_condition_codes(name, system, code, site, levels, subtype):
    f = facts(condition(system, code, body_site=site))
    recs = [c for c in f.conditions if c.name == name]
    assert [r.level for r in recs] == levels
    assert all(r.subtype == subtype and r.source.reference == "Condition/c1" for r in recs)
    for lvl in levels:
        assert f.condition(name, lvl).is_true


@pytest.mark.parametrize("system,code", [(SCT, "94222008"), (ICD, "C79.5"), (ICD, "C79.51")])
def test_bone_metastasis_codes_need_a_vertebral_body_site(system, code):
    f = facts(condition(system, code, body_site="femur"))
    assert f.condition_records("spinal-metastasis") == []
    assert [c.cancer_type for c in f.cancers] == ["secondary"]


def test_absent_condition_reads_false_only_when_searched():
    assert facts().condition("cord-compression").is_false
    f = build_facts([], searches={"Condition": SearchStatus.FAILED}, now=NOW)
    assert f.condition("cord-compression").is_unknown


# ------------------------------------------------------------------ observations
def q(value, unit=None, code=None):
    d = {"value": value}
    if unit is not None:
        d["unit"] = unit
    if code is not None:
        d["system"] = "http://unitsofmeasure.org"
        d["code"] = code
    return {"valueQuantity": d}


OBS_ROWS = [  # (fact, system, code, value[x], expected value)
    ("pain-score", LOINC, "72514-3", {"valueInteger": 7}, 7),
    ("pain-score", SCT, "225908003", q(6, code="{score}"), 6),
    ("karnofsky", LOINC, "89243-0", {"valueInteger": 70}, 70),
    ("karnofsky", LOINC, "89243-0", {"valueCodeableConcept": cc(LOINC, "LA29177-5")}, 80),
    ("ecog", LOINC, "89247-1", {"valueInteger": 2}, 2),
    ("ecog", LOINC, "89247-1", {"valueCodeableConcept": cc(LOINC, "LA9625-0")}, 3),
    ("inr", LOINC, "6301-6", q(1.4, code="{INR}"), 1.4),
    ("inr", LOINC, "34714-6", {"valueQuantity": {"value": 2.1}}, 2.1),
    ("pt", LOINC, "5902-2", q(12.5, code="s"), 12.5),
    ("platelets", LOINC, "777-3", q(150, code="10*9/L"), 150.0),
    ("platelets", LOINC, "26515-7", q(150, code="10*3/uL"), 150.0),
    ("aptt", LOINC, "14979-9", q(31, code="s"), 31.0),
    ("aptt", LOINC, "3173-2", q(30, unit="sec"), 30.0),
    ("sodium", LOINC, "2951-2", q(140, code="mmol/L"), 140.0),
    ("potassium", LOINC, "2823-3", q(4.1, code="mmol/L"), 4.1),
    ("creatinine", LOINC, "2160-0", q(80, code="umol/L"), 80.0),
    ("pregnancy", SCT, "77386006", {"valueBoolean": True}, True),
    ("sins", LOCAL, "sins", {"valueInteger": 11}, 11),
    ("bilsky-grade", LOCAL, "bilsky-grade", {"valueCodeableConcept": cc(LOCAL, "1b")}, "1b"),
    ("bilsky-grade", LOCAL, "bilsky-grade", {"valueString": "2"}, "2"),
    ("lesion-type", LOCAL, "lesion-type", {"valueCodeableConcept": cc(LOCAL, "blastic")}, "blastic"),
    ("spinal-metastasis-count", LOCAL, "spinal-metastasis-count", {"valueInteger": 6}, 6),
    ("oligometastatic", LOCAL, "oligometastatic", {"valueBoolean": True}, True),
    ("visceral-metastases", LOCAL, "visceral-metastases", {"valueBoolean": False}, False),
    ("life-expectancy", LOCAL, "life-expectancy", q(6, code="mo"), 6.0),
    ("life-expectancy", LOCAL, "life-expectancy", q(2, code="a"), 24.0),
    ("bone-marrow-oedema", LOCAL, "bone-marrow-oedema", {"valueBoolean": True}, True),
    ("posterior-column-fracture", LOCAL, "posterior-column-fracture", {"valueBoolean": False}, False),
    ("cortical-fracture", LOCAL, "cortical-fracture", {"valueBoolean": True}, True),
    ("retropulsion", LOCAL, "retropulsion", {"valueBoolean": True}, True),
    ("vertebral-collapse", LOCAL, "vertebral-collapse", q(40, code="%"), 40.0),
    ("vertebra-plana", LOCAL, "vertebra-plana", {"valueBoolean": False}, False),
    ("fracture-stable", LOCAL, "fracture-stable", {"valueBoolean": False}, False),
    ("magerl-type", LOCAL, "magerl-type", {"valueString": "a1"}, "A1"),
    ("affected-contiguous-vertebrae", LOCAL, "affected-contiguous-vertebrae", {"valueInteger": 3}, 3),
    ("histologically-proven", LOCAL, "histologically-proven", {"valueBoolean": True}, True),
]
SYMPTOMS = ["back-pain", "night-pain", "progressive-pain", "new-local-back-pain", "spinal-percussion-pain",
            "poor-general-condition", "mechanical-pain", "local-pressure-pain", "radiating-pain",
            "pain-at-fracture-level", "disabling-back-pain", "pain-resolved", "radicular-pain",
            "radicular-deficit", "mescc-deficit", "severe-neurological-deficit", "ambulatory",
            "complete-cord-lesion", "improved-after-corticosteroids", "can-lie-prone"]
JUDGEMENTS = ["fit-for-surgery", "surgery-within-24h-possible", "adequate-rt-dose-possible",
              "re-irradiation-possible", "progression-after-rt", "progression-under-rt-and-steroids",
              "vital-chemotherapy-indication", "no-other-treatment-options", "atypical-radiology",
              "progression-elsewhere", "good-general-condition", "local-progression-expected",
              "vpbk-technically-suitable", "mdo-vpbk-benefit", "posterior-fixation-needed",
              "instability-beyond-augmentation", "surgeon-augmentation-benefit", "conservative-treatment-failed",
              "mdo-override-life-expectancy", "mdo-override-performance-status", "anticoagulant-plan-agreed",
              "coagulopathy-correctable"]
OBS_ROWS += [(n, LOCAL, n, {"valueBoolean": True}, True) for n in SYMPTOMS + JUDGEMENTS]
LEVEL_BOUND = {"sins", "bilsky-grade", "lesion-type", "bone-marrow-oedema", "posterior-column-fracture",
               "cortical-fracture", "retropulsion", "vertebral-collapse", "vertebra-plana", "fracture-stable",
               "magerl-type", "mdo-vpbk-benefit", "posterior-fixation-needed", "instability-beyond-augmentation",
               "surgeon-augmentation-benefit", "vpbk-technically-suitable", "local-progression-expected"}


@pytest.mark.parametrize("name,system,code,value,expected", OBS_ROWS,
                         ids=[f"DD-obs-{r[0]}-{r[2]}-{i}" for i, r in enumerate(OBS_ROWS)])
def test_observation_codes(name, system, code, value, expected):
    site = "L1" if name in LEVEL_BOUND else None
    f = facts(observation(system, code, value, body_site=site))
    fact = f.obs(name, site)
    assert fact.value == expected and type(fact.value) is type(expected)
    assert fact.sources and fact.sources[0].reference == "Observation/o1"
    assert fact.level == site


def test_level_bound_facts_are_exactly_the_documented_ones():
    from fhir_mappings.tables import load_terminology
    term = load_terminology()
    assert {n for n, d in term.obs_defs.items() if d.level_bound} == LEVEL_BOUND


# ------------------------------------------------------------------ events
EVENT_ROWS = [  # (kind, resource type, system, code, bodySite, status, expected status, level)
    ("mri-whole-spine", "Procedure", LOINC, "30854-4", None, "completed", "done", None),
    ("mri-whole-spine", "DiagnosticReport", LOINC, "30855-1", None, "final", "done", None),
    ("mri-whole-spine", "DiagnosticReport", LOINC, "30855-1", None, "amended", "done", None),
    ("mri-whole-spine", "Procedure", LOCAL, "mri-whole-spine", "whole spine", "completed", "done", None),
    ("mri-segment", "Procedure", LOCAL, "mri-segment", "L1", "completed", "done", "L1"),
    ("mri-whole-spine", "ImagingStudy", LOCAL, "mri-whole-spine", None, "available", "done", None),
    ("mri-whole-spine", "ServiceRequest", LOINC, "30854-4", None, "active", "planned", None),
    ("mri-whole-spine", "ServiceRequest", LOINC, "30854-4", None, "draft", "planned", None),
    ("mri-segment", "Procedure", LOINC, "24935-9", None, "completed", "done", None),
    ("mri-segment", "DiagnosticReport", LOINC, "24980-5", None, "final", "done", None),
    ("mri-segment", "ServiceRequest", LOINC, "24968-0", None, "active", "planned", None),
    ("ct-whole-spine", "Procedure", SCT, "429875006", None, "completed", "done", None),
    ("pet-ct", "Procedure", SCT, "443271005", None, "completed", "done", None),
    ("spine-lesion-biopsy", "Procedure", LOCAL, "spine-lesion-biopsy", "L2", "completed", "done", "L2"),
    ("radiotherapy", "Procedure", SCT, "33195004", "T10", "completed", "done", "T10"),
    ("radiotherapy", "Procedure", SCT, "1217123003", "T10", "completed", "done", "T10"),
    ("spinal-surgery", "Procedure", SCT, "10836008", "L3", "completed", "done", "L3"),
    ("spinal-surgery", "Procedure", SCT, "387731002", "L3", "completed", "done", "L3"),
    ("spinal-surgery", "ServiceRequest", LOCAL, "spinal-stabilisation", "L3", "active", "planned", "L3"),
    ("systemic-therapy", "Procedure", LOCAL, "systemic-therapy", None, "completed", "done", None),
    ("ecg", "Observation", LOINC, "11524-6", None, "final", "done", None),
    ("ecg", "Procedure", SCT, "29303009", None, "completed", "done", None),
    ("ecg", "DiagnosticReport", LOINC, "11524-6", None, "final", "done", None),
    ("chest-xray", "Observation", LOINC, "36643-5", None, "final", "done", None),
    ("chest-xray", "DiagnosticReport", SCT, "399208008", None, "final", "done", None),
    ("mdo-referral", "ServiceRequest", LOCAL, "mdo-referral", None, "active", "planned", None),
]


def event_resource(rtype, system, code, site, status):
    res = {"resourceType": rtype, "id": "e1", "status": status, "subject": {"reference": "Patient/p1"}}
    if rtype == "ImagingStudy":
        res["procedureCode"] = [cc(system, code)]
        res["started"] = "2026-11-20"
    else:
        res["code"] = cc(system, code)
    if site and rtype != "ImagingStudy":
        res["bodySite"] = [{"text": site}]
    return res


@pytest.mark.parametrize("kind,rtype,system,code,site,status,expected,level", EVENT_ROWS,
                         ids=[f"DD-event-{r[0]}-{r[1]}-{r[3]}" for r in EVENT_ROWS])
def test_event_codes(kind, rtype, system, code, site, status, expected, level):
    f = facts(event_resource(rtype, system, code, site, status))
    found = [(e.kind, e.status, e.level) for e in f.events]
    assert found == [(kind, expected, level)]
    assert f.events[0].source.reference == f"{rtype}/e1"


@pytest.mark.parametrize("rtype,status", [("Procedure", "cancelled"), ("Procedure", "entered-in-error"),
                                          ("Procedure", "not-done"), ("ServiceRequest", "revoked"),
                                          ("ServiceRequest", "entered-in-error"), ("ServiceRequest", "completed"),
                                          ("DiagnosticReport", "preliminary"), ("DiagnosticReport", "cancelled"),
                                          ("ImagingStudy", "cancelled"), ("Observation", "entered-in-error")])
def test_event_status_filters(rtype, status):
    assert facts(event_resource(rtype, LOINC, "30854-4" if rtype != "Observation" else "11524-6",
                                None, status)).events == []


# ------------------------------------------------------------------ medications
MED_ROWS = [
    ("corticosteroid", ATC, "H02AB02"), ("corticosteroid", ATC, "H02AB"), ("corticosteroid", RXN, "3264"),
    ("anticoagulant", ATC, "B01AA07"), ("anticoagulant", ATC, "B01AC06"), ("anticoagulant", ATC, "B01AF01"),
    ("systemic-therapy", ATC, "L01XE01"), ("systemic-therapy", ATC, "L02BB04"),
    ("analgesic", ATC, "N02AA01"), ("analgesic", ATC, "N02BE01"), ("analgesic", ATC, "M01AE01"),
]


@pytest.mark.parametrize("rtype", ["MedicationRequest", "MedicationStatement", "MedicationAdministration"])
@pytest.mark.parametrize("drug_class,system,code", MED_ROWS, ids=[f"DD-med-{r[0]}-{r[2]}" for r in MED_ROWS])
def test_medication_codes(drug_class, system, code, rtype):
    status = "in-progress" if rtype == "MedicationAdministration" else "active"
    res = {"resourceType": rtype, "id": "m1", "status": status, "medicationCodeableConcept": cc(system, code)}
    f = facts(res)
    assert [(m.drug_class, m.source.reference) for m in f.medications] == [(drug_class, f"{rtype}/m1")]
    assert f.medication(drug_class).is_true


@pytest.mark.parametrize("code", ["H02BX01", "B01B", "M01B", "N01AB", "L03AA"])
def test_medication_prefixes_do_not_overreach(code):
    f = facts({"resourceType": "MedicationRequest", "id": "m1", "status": "active",
               "medicationCodeableConcept": cc(ATC, code)})
    assert f.medications == []
    assert f.medication("corticosteroid").is_false  # searched, none recorded


def test_medication_by_reference_and_inactive_status():
    med = {"resourceType": "Medication", "id": "dex", "code": cc(ATC, "H02AB02")}
    active = {"resourceType": "MedicationRequest", "id": "m1", "status": "active",
              "medicationReference": {"reference": "Medication/dex"}}
    stopped = {"resourceType": "MedicationStatement", "id": "m2", "status": "stopped",
               "medicationCodeableConcept": cc(ATC, "B01AA07")}
    f = facts(active, med, stopped)
    assert [m.drug_class for m in f.medications] == ["corticosteroid"]
    assert f.medication("anticoagulant").is_false


def test_systemic_therapy_given_is_an_event():
    f = facts({"resourceType": "MedicationStatement", "id": "m1", "status": "completed",
               "medicationCodeableConcept": cc(ATC, "L02BB04")})
    assert [(e.kind, e.status) for e in f.events] == [("systemic-therapy", "done")]
    assert f.medications == []


# ------------------------------------------------------------------ allergies
ALLERGY_ROWS = [
    ("bone-cement", {"code": cc(LOCAL, "bone-cement")}),
    ("iodinated-contrast", {"code": cc(LOCAL, "iodinated-contrast")}),
    ("no-known-allergy", {"code": cc(SCT, "716186003")}),
    ("medication", {"code": cc(SCT, "91936005"), "category": ["medication"]}),
    ("other", {"code": cc(SCT, "91935009"), "category": ["food"]}),
]


@pytest.mark.parametrize("substance,fields", ALLERGY_ROWS, ids=[f"DD-allergy-{r[0]}" for r in ALLERGY_ROWS])
def test_allergy_codes(substance, fields):
    res = {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"}, **fields}
    f = facts(res)
    assert [a.substance for a in f.allergies] == [substance]
    if substance == "no-known-allergy":
        assert f.allergy("bone-cement").is_false and f.allergy("bone-cement").sources
    else:
        assert f.allergy(substance).is_true


def test_allergy_absent_depends_on_search():
    assert facts().allergy("bone-cement").is_false
    f = build_facts([], searches={"AllergyIntolerance": SearchStatus.FAILED}, now=NOW)
    assert f.allergy("bone-cement").is_unknown


# ------------------------------------------------------------------ draft orders
ORDER_ROWS = [  # (kind, resource)
    ("vertebroplasty", {"resourceType": "ServiceRequest", "code": cc(LOCAL, "percutaneous-vertebroplasty")}),
    ("balloon-kyphoplasty", {"resourceType": "ServiceRequest", "code": cc(LOCAL, "balloon-kyphoplasty")}),
    ("mri-whole-spine", {"resourceType": "ServiceRequest", "code": cc(LOINC, "30854-4")}),
    ("mri-whole-spine", {"resourceType": "ServiceRequest", "code": cc(LOINC, "30855-1")}),
    ("mri-segment", {"resourceType": "ServiceRequest", "code": cc(LOINC, "24935-9")}),
    ("mri-segment", {"resourceType": "ServiceRequest", "code": cc(LOCAL, "mri-segment"), "bodySite": [{"text": "L1"}]}),
    ("ct-whole-spine", {"resourceType": "ServiceRequest", "code": cc(SCT, "429875006")}),
    ("corticosteroid", {"resourceType": "MedicationRequest", "medicationCodeableConcept": cc(ATC, "H02AB02")}),
    ("corticosteroid", {"resourceType": "MedicationRequest", "medicationCodeableConcept": cc(RXN, "3264")}),
    ("corticosteroid", {"resourceType": "MedicationOrder", "medicationCodeableConcept": cc(RXN, "3264")}),
    ("mri-whole-spine", {"resourceType": "ProcedureRequest", "code": cc(LOINC, "30854-4")}),
    ("other", {"resourceType": "NutritionOrder"}),
    ("other", {"resourceType": "MedicationRequest", "medicationCodeableConcept": cc(ATC, "N02BE01")}),
]


@pytest.mark.parametrize("kind,res", ORDER_ROWS, ids=[f"DD-order-{r[0]}-{i}" for i, r in enumerate(ORDER_ROWS)])
def test_draft_order_kinds(kind, res):
    res = {**res, "id": "d1", "status": "draft"}
    f = facts(draft_orders={"resourceType": "Bundle", "entry": [{"resource": res}]})
    assert [(d.kind, d.resource_type, d.resource_id, d.selected) for d in f.draft_orders] == \
        [(kind, res["resourceType"], "d1", True)]
