"""Real Dutch EHR shapes (issue 17): nl-core (zib2020, R4) and BgZ (zib2017, STU3) resources
with ICD-10-NL, SNOMED CT and LOINC map to the same facts as their local-coded twins.

Shapes and codes follow ehr-codes.md (verified rows only); the resources are written for
these tests after the public Nictiz profiles and examples it cites.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_mappings import build_facts
from spine_guideline.facts import SearchStatus, Unknown

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCT = "http://snomed.info/sct"
ICD_NL = "http://hl7.org/fhir/sid/icd-10-nl"
LOINC = "http://loinc.org"
LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"
NL = "http://nictiz.nl/fhir/StructureDefinition/"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
TYPES = ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest", "MedicationStatement",
         "MedicationAdministration", "AllergyIntolerance", "ServiceRequest", "DiagnosticReport", "Encounter")
ALL_OK = {t: SearchStatus.OK for t in TYPES}


def facts(*resources):
    return build_facts(list(resources), searches=ALL_OK, now=NOW, patient_id="p1")


def coding(system, code, display=None):
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def problem(rid, code, *, verification=("confirmed", "410605003"), zib_first=False, clinical="active",
            onset="2026-11-20T08:00:00+01:00", body_site=None, stu3=False):
    """An nl-core-Problem Condition (category klacht), or its zib2017 STU3 form."""
    res = {"resourceType": "Condition", "id": rid, "subject": {"reference": "Patient/p1"},
           "meta": {"profile": [NL + ("zib-Problem" if stu3 else "nl-core-Problem")]},
           "category": [{"coding": [coding(SCT, "409586006", "Klacht")]}], "code": {"coding": [code]},
           "onsetDateTime": onset}
    fhir_code, zib_code = verification
    if stu3:
        res["clinicalStatus"] = clinical
        res["verificationStatus"] = fhir_code
        res["assertedDate"] = onset
    else:
        res["clinicalStatus"] = {"coding": [coding(CLIN, clinical)]}
        codings = [coding(VER, fhir_code), coding(SCT, zib_code)]
        res["verificationStatus"] = {"coding": codings[::-1] if zib_first else codings}
        res["recordedDate"] = onset
    if body_site is not None:
        res["bodySite"] = [body_site]
    return res


def local_obs(rid, name, value, **components):
    res = {"resourceType": "Observation", "id": rid, "status": "final", "subject": {"reference": "Patient/p1"},
           "code": {"coding": [coding(LOCAL, name)]}, "effectiveDateTime": "2026-11-20T08:00:00+01:00",
           "valueBoolean": value}
    comps = []
    if "onset" in components:
        comps.append({"code": {"coding": [coding(LOCAL, "onset")]}, "valueDateTime": components["onset"]})
    if "laterality" in components:
        comps.append({"code": {"coding": [coding(LOCAL, "laterality")]},
                      "valueCodeableConcept": {"coding": [coding(LOCAL, components["laterality"])]}})
    if comps:
        res["component"] = comps
    return res


FINDINGS = [
    ("back-pain", coding(ICD_NL, "M54.5", "Lage rugpijn")),
    ("back-pain", coding(ICD_NL, "M54.6", "Pijn in thoracale wervelkolom")),
    ("back-pain", coding(ICD_NL, "M54.9", "Dorsalgie, niet gespecificeerd")),
    ("radicular-pain", coding(ICD_NL, "M54.3", "Ischias")),
    ("radicular-pain", coding(ICD_NL, "M54.4", "Lumbago met ischias")),
    ("mescc-deficit", coding(ICD_NL, "G99.2", "Myelopathie bij elders geclassificeerde ziekten")),
    ("mescc-deficit", coding(ICD_NL, "G83.4", "Cauda-equinasyndroom")),
    ("mescc-deficit", coding(SCT, "192970008", "caudasyndroom")),
    ("severe-neurological-deficit", coding(ICD_NL, "G82.2", "Paraplegie, niet gespecificeerd")),
    ("severe-neurological-deficit", coding(SCT, "23042008", "spinale paraparese")),
]


@pytest.mark.parametrize("stu3", [False, True], ids=["nl-core", "stu3"])
@pytest.mark.parametrize("name,code", FINDINGS, ids=[f"{n}-{c['code']}" for n, c in FINDINGS])
def test_symptom_conditions_are_the_facts_they_code_like_their_local_twin(name, code, stu3):
    coded = facts(problem("c1", code, stu3=stu3)).obs(name)
    twin = facts(local_obs("o1", name, True, onset="2026-11-20T08:00:00+01:00")).obs(name)
    assert coded.value is True and twin.value is True
    assert coded.attrs["onset"].value == twin.attrs["onset"].value
    assert "progressive" not in coded.attrs  # the zib has no progression: unknown, the stricter row


@pytest.mark.parametrize("zib_first", [False, True], ids=["fhir-code-first", "zib-code-first"])
def test_refuted_problem_is_an_explicit_no_whichever_coding_comes_first(zib_first):
    f = facts(problem("c1", coding(ICD_NL, "M54.5"), verification=("refuted", "410516002"), zib_first=zib_first))
    assert f.obs("back-pain").value is False


def test_refuted_cancer_problem_is_no_cancer_whichever_coding_comes_first():
    f = facts(problem("c1", coding(ICD_NL, "C50.9"), verification=("refuted", "410516002"), zib_first=True))
    assert f.cancers == []


def test_zib_status_code_alone_is_read_as_its_fhir_code():
    res = problem("c1", coding(ICD_NL, "M54.5"))
    res["verificationStatus"] = {"coding": [coding(SCT, "410516002", "afwezigheid bekend")]}
    assert facts(res).obs("back-pain").value is False
    res["verificationStatus"] = {"coding": [coding(SCT, "415684004", "vermoedelijk")]}
    assert facts(res).obs("back-pain").value is True


@pytest.mark.parametrize("stu3", [False, True], ids=["nl-core", "stu3"])
def test_resolved_problem_is_no_present_symptom(stu3):
    f = facts(problem("c1", coding(ICD_NL, "M54.3"), clinical="resolved" if stu3 else "inactive", stu3=stu3))
    assert f.obs("radicular-pain").value is False


@pytest.mark.parametrize("ext_url,site_code", [
    (NL + "ext-AnatomicalLocation.Laterality", "7771000"),
    (NL + "BodySite-Qualifier", "24028007")], ids=["nl-core", "stu3"])
def test_sciatica_laterality_from_the_body_site_laterality(ext_url, site_code):
    site = {"coding": [coding(SCT, "61685007")],
            "extension": [{"url": ext_url, "valueCodeableConcept": {"coding": [coding(SCT, site_code)]}}]}
    coded = facts(problem("c1", coding(ICD_NL, "M54.3"), body_site=site)).obs("radicular-pain")
    twin = facts(local_obs("o1", "radicular-pain", True, laterality="unilateral")).obs("radicular-pain")
    assert coded.attrs["laterality"].value == twin.attrs["laterality"].value == "unilateral"


def test_stale_symptom_problem_is_unknown_not_present():
    f = facts(problem("c1", coding(ICD_NL, "M54.5"), onset="2025-01-10"))
    assert f.obs("back-pain").value is None


# ------------------------------------------------------------------ Observations in nl-core shapes
def nl_obs(rid, code, profile, **value):
    res = {"resourceType": "Observation", "id": rid, "status": "final", "subject": {"reference": "Patient/p1"},
           "meta": {"profile": [NL + profile]}, "code": {"coding": [code]},
           "effectiveDateTime": "2026-11-22T09:00:00+01:00"}
    res.update(value)
    return res


def test_nl_core_pain_score_like_its_twin():
    coded = facts(nl_obs("o1", coding(SCT, "225908003", "pijnscore"), "nl-core-PainScore", valueInteger=7,
                         method={"coding": [coding("urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.9.1", "NRS")]}))
    twin_res = local_obs("o1", "pain-score", True)
    del twin_res["valueBoolean"]
    twin = facts({**twin_res, "valueInteger": 7})
    assert coded.obs("pain-score").value == 7 == twin.obs("pain-score").value


PIJN_METHODE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.9.1"


@pytest.mark.parametrize("method,raw,expected", [
    ("NRS", {"valueInteger": 7}, 7),
    ("VAS10", {"valueInteger": 4}, 4),
    (None, {"valueInteger": 7}, 7),                          # no method: the 0-10 reading
    ("VAS100", {"valueInteger": 7}, None),                   # 7 of 100 is not 7 of 10
    ("VAS100", {"valueInteger": 70}, None),
    ("VAS100", {"valueQuantity": {"value": 70}}, None),      # zib2017 shape: valueQuantity without a unit
    ("XYZ", {"valueInteger": 7}, None),                      # an unknown method: scale unknown
])
def test_pain_score_method_decides_the_scale(method, raw, expected):
    extra = {"method": {"coding": [coding(PIJN_METHODE, method)]}} if method else {}
    f = facts(nl_obs("o1", coding(SCT, "225908003", "pijnscore"), "nl-core-PainScore", **raw, **extra))
    fact = f.obs("pain-score")
    assert fact.value == expected
    if expected is None:
        assert fact.unknown is Unknown.UNREADABLE and method in (fact.note or "")
        assert any("pain-score" in w and method in w for w in f.warnings)


@pytest.mark.parametrize("answer,expected", [("165245003", True), ("16581000146103", True), ("282145008", False)])
def test_nl_core_mobility_walking_is_ambulatory(answer, expected):
    res = nl_obs("o1", coding(SCT, "282097004", "loopvermogen"), "nl-core-Mobility.Walking",
                 valueCodeableConcept={"coding": [coding(SCT, answer)]})
    assert facts(res).obs("ambulatory").value is expected


@pytest.mark.parametrize("answer,grade", [("425389002", 0), ("422512005", 1), ("422894000", 2), ("423053003", 3),
                                          ("423237006", 4), ("LA9624-3", 2)])
def test_ecog_with_snomed_or_loinc_answers(answer, grade):
    system = LOINC if answer.startswith("LA") else SCT
    res = nl_obs("o1", coding(LOINC, "89247-1"), "nl-core-LaboratoryTestResult",
                 valueCodeableConcept={"coding": [coding(system, answer)]})
    assert facts(res).obs("ecog").value == grade


def test_zib2017_pregnancy_status_and_snomed_present_absent_answers():
    res = nl_obs("o1", coding(SCT, "77386006", "Zwanger"), "zib-Pregnancy-PregnancyStatus", valueBoolean=True)
    assert facts(res).obs("pregnancy").value is True
    res = nl_obs("o2", coding(LOCAL, "can-lie-prone"), "x", valueCodeableConcept={"coding": [coding(SCT, "2667000")]})
    assert facts(res).obs("can-lie-prone").value is False
    res["valueCodeableConcept"] = {"coding": [coding(SCT, "52101004")]}
    assert facts(res).obs("can-lie-prone").value is True


# ------------------------------------------------------------------ MDO as an Encounter, medication references
def test_finished_mdo_encounter_is_the_mdo_held():
    enc = {"resourceType": "Encounter", "id": "mdo-1", "status": "finished", "subject": {"reference": "Patient/p1"},
           "meta": {"profile": [NL + "nl-core-MultidisciplinaryTeamMeeting"]},
           "type": [{"coding": [coding(SCT, "384682003", "multidisciplinaire zorgbespreking")]}],
           "period": {"start": "2026-11-21T15:00:00+01:00", "end": "2026-11-21T16:00:00+01:00"}}
    [e] = facts(enc).events
    assert (e.kind, e.status, e.date, e.source.resource_type) == ("mdo-referral", "done", "2026-11-21T16:00:00+01:00",
                                                                  "Encounter")
    enc["status"] = "planned"
    assert facts(enc).events == []


def mp9_agreement(med_ref):
    return {"resourceType": "MedicationRequest", "id": "ma-1", "status": "active", "intent": "order",
            "meta": {"profile": [NL + "mp-MedicationAgreement"]}, "subject": {"reference": "Patient/p1"},
            "category": [{"coding": [coding(SCT, "33633005")]}], "medicationReference": {"reference": med_ref},
            "extension": [{"url": NL + "ext-TimeInterval.Period", "valuePeriod": {"start": "2026-11-22T08:00:00+01:00"}}]}


def product(rid, *codes):
    return {"resourceType": "Medication", "id": rid, "meta": {"profile": [NL + "mp-PharmaceuticalProduct"]},
            "code": {"coding": list(codes)}}


def test_mp9_agreement_with_a_bundle_medication_coded_atc_is_dexamethasone_since_its_period_start():
    med = product("med-1", coding("urn:oid:2.16.840.1.113883.2.4.4.10", "99999", "DEXAMETHASON TABLET 4MG"),
                  coding("http://www.whocc.no/atc", "H02AB02", "dexamethason"))
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"fullUrl": "urn:uuid:5b1f", "resource": med},
                        {"resource": mp9_agreement("urn:uuid:5b1f")}]}
    for f in (facts(bundle), facts(med, mp9_agreement("Medication/med-1"))):
        [m] = f.medications
        assert (m.drug_class, m.ingredient, m.started) == ("corticosteroid", "dexamethasone", "2026-11-22T08:00:00+01:00")


def test_g_standaard_only_product_is_reported_not_guessed():
    med = product("med-1", coding("urn:oid:2.16.840.1.113883.2.4.4.10", "99999", "DEXAMETHASON TABLET 4MG"))
    f = facts(med, mp9_agreement("Medication/med-1"))
    assert f.medications == []
    assert any("unrecognised product code urn:oid:2.16.840.1.113883.2.4.4.10|99999" in w for w in f.warnings)


def test_iodinated_contrast_allergy_and_radiotherapy_by_their_snomed_codes():
    allergy = {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"},
               "meta": {"profile": [NL + "nl-core-AllergyIntolerance"]},
               "code": {"coding": [coding(SCT, "426722004", "jodiumhoudende contrastmiddelen")]}}
    assert facts(allergy).allergy("iodinated-contrast").value is True
    rt = {"resourceType": "Procedure", "id": "rt1", "status": "completed", "subject": {"reference": "Patient/p1"},
          "meta": {"profile": [NL + "nl-core-Procedure-event"]}, "code": {"coding": [coding(SCT, "108290001")]},
          "performedPeriod": {"start": "2026-11-10", "end": "2026-11-12"}, "bodySite": [{"coding": [coding(SCT, "45296009")]}]}
    [e] = facts(rt).events
    assert (e.kind, e.status, e.level, e.date) == ("radiotherapy", "done", "T6", "2026-11-12")


def test_stu3_eoverdracht_mobility_component_ability_to_walk_is_ambulatory():
    res = {"resourceType": "Observation", "id": "mob", "status": "final", "subject": {"reference": "Patient/p1"},
           "meta": {"profile": [NL + "zib-Mobility"]}, "code": {"coding": [coding(SCT, "301438001", "Ability to mobilise")]},
           "effectiveDateTime": "2026-11-22T09:00:00+01:00",
           "component": [{"code": {"coding": [coding(SCT, "282097004", "Ability to walk")]},
                          "valueCodeableConcept": {"coding": [coding(SCT, "282145008", "niet in staat om te lopen")]}}]}
    f = facts(res)
    assert f.obs("ambulatory").value is False and f.obs("ambulatory").sources[0].reference == "Observation/mob"


def test_collapsed_vertebra_icd10_nl_is_a_vertebral_fracture_of_unknown_cause_at_its_level():
    """ICD-10-NL M48.5 (M48.56 lumbar; verified in the EHR code list): a collapsed vertebra is a
    vertebral fracture whose cause the code does not give, so no osteoporotic or traumatic subtype
    is guessed. M54.1 (radiculopathy) stays unmapped: it does not tell radicular pain from a deficit."""
    f = facts(problem("c1", coding(ICD_NL, "M48.56", "Ingezakte wervel"), body_site={"text": "L1"}))
    fractures = [c for c in f.conditions if c.name == "vertebral-fracture"]
    assert [(c.level, c.subtype) for c in fractures] == [("L1", None)]
    radiculopathy = facts(problem("c2", coding(ICD_NL, "M54.16", "Radiculopathie lumbaal")))
    assert not radiculopathy.obs("radicular-pain").is_known and not radiculopathy.obs("radicular-deficit").is_known


def test_radiotherapy_of_another_part_of_the_body_is_no_spinal_treatment():
    rt = {"resourceType": "Procedure", "id": "rt-1", "status": "completed", "subject": {"reference": "Patient/p1"},
          "code": {"coding": [coding(SCT, "108290001", "Radiotherapie")]}, "performedDateTime": "2026-11-22",
          "bodySite": [{"coding": [coding(SCT, "12738006", "Hersenen")]}]}
    assert not facts(rt).events_of("radiotherapy")
    spinal = {**rt, "id": "rt-2", "bodySite": [{"text": "L1"}]}
    assert [e.level for e in facts(spinal).events_of("radiotherapy")] == ["L1"]
