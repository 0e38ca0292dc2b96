"""The data dictionary's general reading rules, one row per rule variant."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from fhir_mappings import MappingSettings, build_facts
from spine_guideline.facts import SearchStatus, Unknown

from .support.mapping import ALL_OK, ATC, ICD, LOCAL, LOINC, NOW, SCT, cc, condition, facts, observation


def local_obs(name, value, rid="o1", date="2026-11-22", site=None, components=None, **extra):
    res = observation(LOCAL, name, value, rid=rid, date=date, body_site=site, **extra)
    if components:
        res["component"] = [{"code": cc(LOCAL, k), **v} for k, v in components]
    return res


# ------------------------------------------------------------------ status filters
@pytest.mark.parametrize("field,value,kept", [
    ("verificationStatus", {"coding": [{"code": "refuted"}]}, False),
    ("verificationStatus", {"coding": [{"code": "entered-in-error"}]}, False),
    ("verificationStatus", "refuted", False),  # STU3: a plain code
    ("verificationStatus", {"coding": [{"code": "confirmed"}]}, True),
    ("clinicalStatus", {"coding": [{"code": "active"}]}, True),
])
def test_condition_status_filters(field, value, kept):
    f = facts(condition(ICD, "G95.2", **{field: value}))
    assert bool(f.condition_records("cord-compression")) is kept


@pytest.mark.parametrize("verification,suspected", [("provisional", True), ("differential", True),
                                                    ("unconfirmed", True), ("confirmed", False), (None, False)])
def test_suspected_vs_confirmed(verification, suspected):
    extra = {"verificationStatus": {"coding": [{"code": verification}]}} if verification else {}
    f = facts(condition(SCT, "94602001", body_site="L1", **extra),
              condition(ICD, "C50.9", rid="c2", **extra))
    assert f.conditions[0].suspected is suspected
    assert f.cancers[0].suspected is suspected
    assert len(f.condition_records("spinal-metastasis", include_suspected=False)) == (0 if suspected else 1)


@pytest.mark.parametrize("clinical", ["inactive", "resolved", "remission"])
def test_clinical_status_history(clinical):
    f = facts(condition(ICD, "C61", clinicalStatus={"coding": [{"code": clinical}]}),
              condition(ICD, "G95.2", rid="c2", clinicalStatus=clinical))
    assert [(c.cancer_type, c.active) for c in f.cancers] == [("prostate", False)]
    assert f.primary_cancers(include_history=True) and not f.primary_cancers(include_history=False)
    assert f.condition("cord-compression").is_false  # history is not a present problem


@pytest.mark.parametrize("fields,onset,field", [
    ({"onsetDateTime": "2024-03-05T10:00:00Z"}, date(2024, 3, 5), "onsetDateTime"),
    ({"onsetPeriod": {"start": "2023-01-02"}}, date(2023, 1, 2), "onsetPeriod.start"),
    ({}, date(2026, 11, 1), "recordedDate"),
])
def test_condition_onset(fields, onset, field):
    f = facts(condition(SCT, "240198002", body_site="L1", **fields))
    assert (f.conditions[0].onset, f.conditions[0].onset_field) == (onset, field)


# ------------------------------------------------------------------ newest wins / freshness
def test_newest_wins_by_effective_then_issued():
    old = observation(LOINC, "72514-3", {"valueInteger": 3}, rid="old", date="2026-11-20")
    new = observation(LOINC, "72514-3", {"valueInteger": 8}, rid="new", date="2026-11-22")
    issued_only = {"resourceType": "Observation", "id": "iss", "status": "final", "code": cc(LOINC, "72514-3"),
                   "issued": "2026-11-21T08:00:00Z", "valueInteger": 5}
    f = facts(old, issued_only, new)
    assert f.obs("pain-score").value == 8 and f.obs("pain-score").sources[0].resource_id == "new"
    f = facts(old, issued_only)
    assert f.obs("pain-score").value == 5


def test_same_moment_disagreeing_is_conflict():
    a = observation(LOCAL, "back-pain", {"valueBoolean": True}, rid="a")
    b = observation(LOCAL, "back-pain", {"valueBoolean": False}, rid="b")
    fact = facts(a, b).obs("back-pain")
    assert fact.is_unknown and fact.unknown == Unknown.CONFLICT and len(fact.sources) == 2


def test_explicit_false_is_no():
    assert facts(observation(LOCAL, "night-pain", {"valueBoolean": False})).obs("night-pain").is_false


@pytest.mark.parametrize("name,system,code,value,age_days,stale", [
    ("inr", LOINC, "6301-6", {"valueQuantity": {"value": 1.2}}, 7, False),
    ("inr", LOINC, "6301-6", {"valueQuantity": {"value": 1.2}}, 8, True),
    ("platelets", LOINC, "777-3", {"valueQuantity": {"value": 200, "code": "10*9/L"}}, 30, False),
    ("platelets", LOINC, "777-3", {"valueQuantity": {"value": 200, "code": "10*9/L"}}, 31, True),
    ("pain-score", LOINC, "72514-3", {"valueInteger": 4}, 31, True),
    ("back-pain", LOCAL, "back-pain", {"valueBoolean": True}, 30, False),
    ("back-pain", LOCAL, "back-pain", {"valueBoolean": True}, 31, True),
    ("karnofsky", LOINC, "89243-0", {"valueInteger": 60}, 31, True),
    ("bilsky-grade", LOCAL, "bilsky-grade", {"valueString": "2"}, 90, False),
    ("bilsky-grade", LOCAL, "bilsky-grade", {"valueString": "2"}, 91, True),
    ("fit-for-surgery", LOCAL, "fit-for-surgery", {"valueBoolean": True}, 91, True),
    ("life-expectancy", LOCAL, "life-expectancy", {"valueQuantity": {"value": 3, "code": "mo"}}, 89, False),
    ("histologically-proven", LOCAL, "histologically-proven", {"valueBoolean": True}, 4000, False),
])
def test_freshness_limits(name, system, code, value, age_days, stale):
    when = date.fromordinal(NOW.date().toordinal() - age_days).isoformat()
    site = "L1" if name == "bilsky-grade" else None
    fact = facts(observation(system, code, value, date=when, body_site=site)).obs(name, site)
    if stale:
        assert fact.is_unknown and fact.unknown == Unknown.STALE and fact.sources
    else:
        assert fact.is_known


def test_freshness_is_configurable():
    res = observation(LOINC, "6301-6", {"valueQuantity": {"value": 1.2}}, date="2026-11-13")
    assert facts(res).obs("inr").unknown == Unknown.STALE
    s = MappingSettings(freshness_days={"inr": 14})
    assert build_facts([res], searches=ALL_OK, now=NOW, settings=s).obs("inr").value == 1.2
    s = MappingSettings(freshness_days={"lab": 1})
    plt = observation(LOINC, "777-3", {"valueQuantity": {"value": 99, "code": "10*9/L"}}, date="2026-11-20")
    assert build_facts([plt], searches=ALL_OK, now=NOW, settings=s).obs("platelets").unknown == Unknown.STALE


def test_undated_observation_cannot_be_fresh():
    res = observation(LOINC, "72514-3", {"valueInteger": 5})
    del res["effectiveDateTime"]
    assert facts(res).obs("pain-score").unknown == Unknown.STALE


def test_absent_observation_is_unknown_and_search_failure_says_so():
    assert facts().obs("pain-score").unknown == Unknown.NOT_RECORDED
    f = build_facts([], searches={"Observation": SearchStatus.FAILED}, now=NOW)
    assert f.obs("pain-score").unknown == Unknown.SEARCH_FAILED


# ------------------------------------------------------------------ values and units
@pytest.mark.parametrize("name,value,expected", [
    ("life-expectancy", {"valueQuantity": {"value": 30, "code": "d"}}, 30 * 12 / 365.25),
    ("life-expectancy", {"valueQuantity": {"value": 6, "code": "wk"}}, 6 * 7 * 12 / 365.25),
    ("life-expectancy", {"valueQuantity": {"value": 4, "unit": "months"}}, 4.0),
    ("life-expectancy", {"valueQuantity": {"value": "1.5", "code": "a"}}, 18.0),
    ("life-expectancy", {"valueInteger": 6}, None),  # no unit: unreadable
    ("life-expectancy", {"valueQuantity": {"value": 6, "code": "kg"}}, None),
])
def test_life_expectancy_units(name, value, expected):
    fact = facts(observation(LOCAL, name, value)).obs(name)
    if expected is None:
        assert fact.unknown == Unknown.UNREADABLE and fact.sources
    else:
        assert fact.value == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("system,code,value,expected", [
    (LOINC, "2160-0", {"valueQuantity": {"value": 1.0, "code": "mg/dL"}}, 88.42),
    (LOINC, "777-3", {"valueQuantity": {"value": 150, "unit": "10^9/L"}}, 150.0),
    (LOINC, "6301-6", {"valueQuantity": {"value": "1.3", "code": "{INR}"}}, 1.3),
    (LOINC, "6301-6", {"valueDecimal": 1.3}, 1.3),
    (LOINC, "72514-3", {"valueQuantity": {"value": 11}}, None),  # out of 0-10
    (LOINC, "72514-3", {"valueString": "seven"}, None),
    (LOINC, "89247-1", {"valueInteger": 6}, None),
    (LOINC, "89243-0", {"valueInteger": 75}, 75),  # KPS as recorded
])
def test_values_and_units(system, code, value, expected):
    f = facts(observation(system, code, value))
    fact = next(iter(f.observations.values()))
    if expected is None:
        assert fact.unknown == Unknown.UNREADABLE
        assert any("Observation/o1" in w for w in f.warnings)
    else:
        assert fact.value == pytest.approx(expected)


# ------------------------------------------------------------------ levels and binding
@pytest.mark.parametrize("site,levels", [
    ({"coding": [{"system": LOCAL, "code": "L1"}]}, ["L1"]),
    ({"coding": [{"system": LOCAL, "code": "Th12"}]}, ["T12"]),
    ({"text": "Th12"}, ["T12"]),
    ({"text": "T11-L1"}, ["T11", "T12", "L1"]),
    ({"coding": [{"system": "http://example.org/x", "code": "x", "display": "L5-S1"}]}, ["L5", "S1"]),
    ("L2", ["L2"]),
])
def test_vertebral_levels(site, levels):
    res = condition(SCT, "94602001")
    res["bodySite"] = [site]
    assert facts(res).metastatic_levels() == levels


def test_level_bound_fact_without_body_site_binds_to_single_candidate():
    f = facts(condition(SCT, "94602001", body_site="L1"), local_obs("sins", {"valueInteger": 8}))
    assert f.obs("sins", "L1").value == 8 and f.obs_levels("sins") == {"L1": f.obs("sins", "L1")}


def test_level_bound_fact_without_body_site_is_ambiguous_with_two_candidates():
    f = facts(condition(SCT, "94602001", body_site="L1-L2"), local_obs("mdo-vpbk-benefit", {"valueBoolean": True}))
    for lvl in ("L1", "L2"):
        fact = f.obs("mdo-vpbk-benefit", lvl)
        assert fact.is_unknown and fact.unknown == Unknown.LEVEL_AMBIGUOUS and fact.sources


def test_draft_order_levels_are_candidates():
    draft = {"resourceType": "ServiceRequest", "id": "vp", "code": cc(LOCAL, "percutaneous-vertebroplasty"),
             "bodySite": [{"text": "T9"}]}
    f = facts(local_obs("fracture-stable", {"valueBoolean": True}), draft_orders=[draft])
    assert f.obs("fracture-stable", "T9").is_true


def test_level_records_and_patient_wide_record():
    f = facts(local_obs("radicular-pain", {"valueBoolean": True}, site="L1"))
    assert f.obs("radicular-pain", "L1").is_true
    assert f.obs("radicular-pain").is_true and f.obs("radicular-pain").note == "recorded at L1"


def test_infection_without_body_site_applies_to_every_level():
    f = facts(condition(SCT, "2304001"))
    assert f.condition("vertebral-infection", "L3").is_true and f.condition("vertebral-infection", "T2").is_true


# ------------------------------------------------------------------ components
def test_symptom_components():
    res = local_obs("complete-cord-lesion", {"valueBoolean": True}, components=[
        ("onset", {"valueDateTime": "2026-11-22T06:00:00Z"}), ("progressive", {"valueBoolean": True}),
        ("laterality", {"valueCodeableConcept": cc(LOCAL, "bilateral")})])
    fact = facts(res).obs("complete-cord-lesion")
    assert fact.attr("onset").value == datetime(2026, 11, 22, 6, tzinfo=UTC)
    assert fact.attr("progressive").is_true and fact.attr("laterality").value == "bilateral"
    assert fact.attr("onset").sources == fact.sources


def test_stepped_care_waiver_per_treatment():
    res = [local_obs("stepped-care-waived", {"valueBoolean": True}, rid=f"w{i}", components=[
        ("treatment", {"valueCodeableConcept": cc(LOCAL, t)}), ("reason", {"valueString": "patient choice"})])
        for i, t in enumerate(("radiotherapy", "analgesics"))]
    f = facts(*res)
    assert f.obs("stepped-care-waived.radiotherapy").is_true
    assert f.obs("stepped-care-waived.analgesics").attr("reason").value == "patient choice"
    assert f.obs("stepped-care-waived.systemic-therapy").is_unknown


SINS_COMPONENTS = [("sins-location", "junctional", 3), ("sins-pain", "occasional-non-mechanical", 1),
                   ("sins-bone-lesion", "mixed", 1), ("sins-alignment", "de-novo-deformity", 2),
                   ("sins-collapse", "no-collapse-over-50-involved", 1), ("sins-posterolateral", "unilateral", 1)]


@pytest.mark.parametrize("comp,category,points", SINS_COMPONENTS)
def test_sins_components_category_codes_and_points(comp, category, points):
    by_code = local_obs("sins", {}, site="L1", components=[(comp, {"valueCodeableConcept": cc(LOCAL, category)})])
    by_points = local_obs("sins", {}, site="L2", rid="o2", components=[(comp, {"valueInteger": points})])
    f = facts(by_code, by_points)
    for lvl in ("L1", "L2"):
        sins = f.obs("sins", lvl)
        assert sins.value is None and sins.attr(comp).value == points and sins.attr(comp).level == lvl


def test_sins_component_out_of_range_is_unreadable():
    f = facts(local_obs("sins", {"valueInteger": 9}, site="L1", components=[("sins-alignment", {"valueInteger": 7})]))
    assert f.obs("sins", "L1").value == 9 and f.obs("sins", "L1").attr("sins-alignment").unknown == Unknown.UNREADABLE


@pytest.mark.parametrize("recorded,expected", [(None, "lytic"), ("lytic", "lytic"), ("blastic", None)])
def test_lesion_type_from_sins_bone_lesion(recorded, expected):
    res = [local_obs("sins", {"valueInteger": 10}, site="L1",
                     components=[("sins-bone-lesion", {"valueCodeableConcept": cc(LOCAL, "lytic")})])]
    if recorded:
        res.append(local_obs("lesion-type", {"valueCodeableConcept": cc(LOCAL, recorded)}, rid="lt", site="L1"))
    fact = facts(*res).obs("lesion-type", "L1")
    assert fact.value == expected
    if expected is None:
        assert fact.unknown == Unknown.CONFLICT and len(fact.sources) == 2


# ------------------------------------------------------------------ histological proof
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"


def test_histology_extension_is_proof():
    f = facts(condition(ICD, "C34.1", extension=[{"url": MCODE, "valueCodeableConcept": cc(SCT, "35917007")}]))
    assert f.cancers[0].histologically_proven.is_true


def test_pathology_report_evidence_is_proof():
    report = {"resourceType": "DiagnosticReport", "id": "path1", "status": "final",
              "category": [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "SP")], "code": cc(LOINC, "x")}
    cond = condition(ICD, "C34.1", evidence=[{"detail": [{"reference": "DiagnosticReport/path1"}]}])
    assert facts(cond, report).cancers[0].histologically_proven.is_true
    report["category"] = [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")]
    assert facts(cond, report).cancers[0].histologically_proven.is_unknown


def test_confirmed_alone_is_not_proof_and_observation_decides():
    cond = condition(ICD, "C34.1", verificationStatus={"coding": [{"code": "confirmed"}]})
    assert facts(cond).cancers[0].histologically_proven.is_unknown
    no = local_obs("histologically-proven", {"valueBoolean": False}, date="2020-01-01")
    fact = facts(cond, no).cancers[0].histologically_proven
    assert fact.is_false and fact.sources[0].reference == "Observation/o1"


def test_histology_observation_focus_applies_to_its_condition():
    c1, c2 = condition(ICD, "C34.1", rid="lung"), condition(ICD, "C61", rid="prostate")
    obs = local_obs("histologically-proven", {"valueBoolean": True}, focus=[{"reference": "Condition/lung"}])
    f = facts(c1, c2, obs)
    by_type = {c.cancer_type: c.histologically_proven.value for c in f.cancers}
    assert by_type["lung"] is True


# ------------------------------------------------------------------ allergies
def test_refuted_and_resolved_allergies_are_ignored():
    base = {"resourceType": "AllergyIntolerance", "code": cc(LOCAL, "bone-cement")}
    f = facts({**base, "id": "a1", "verificationStatus": {"coding": [{"code": "refuted"}]}},
              {**base, "id": "a2", "clinicalStatus": "resolved"})
    assert f.allergies == [] and f.allergy("bone-cement").is_false


# ------------------------------------------------------------------ draft orders
def test_draft_order_priority_deadline_levels_selection():
    drafts = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "ServiceRequest", "id": "mri", "status": "draft", "priority": "STAT",
                      "code": cc(LOINC, "30854-4"), "occurrenceDateTime": "2026-11-23T22:00:00Z"}},
        {"resource": {"resourceType": "ServiceRequest", "id": "vp", "status": "draft",
                      "code": cc(LOCAL, "balloon-kyphoplasty"), "bodySite": [{"text": "T12-L1"}],
                      "occurrencePeriod": {"start": "2026-11-24", "end": "2026-11-30T12:00:00Z"}}}]}
    f = facts(draft_orders=drafts, selections=["ServiceRequest/vp"])
    mri, vp = f.draft_orders
    assert (mri.priority, mri.deadline, mri.selected) == ("stat", datetime(2026, 11, 23, 22, tzinfo=UTC), False)
    assert (vp.levels, vp.deadline, vp.selected) == (("T12", "L1"), datetime(2026, 11, 30, 12, tzinfo=UTC), True)
    assert f.candidate_levels() == ["T12", "L1"]


def test_old_fhir_draft_orders():
    drafts = [{"resourceType": "ProcedureRequest", "id": "pr", "code": cc(LOINC, "30854-4"),
               "orderedOn": "2026-11-23", "scheduledDateTime": "2026-11-24T08:00:00Z", "priority": "urgent"},
              {"resourceType": "MedicationOrder", "id": "mo", "medicationCodeableConcept": cc(ATC, "H02AB02")},
              {"resourceType": "ProcedureRequest", "id": "pr3", "code": cc(LOINC, "30854-4"),
               "occurrenceDateTime": "2026-11-25"}]
    f = facts(draft_orders={"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]})
    got = [(d.kind, d.fhir_version_hint, d.priority) for d in f.draft_orders]
    assert got == [("mri-whole-spine", "DSTU2", "urgent"), ("corticosteroid", "DSTU2", None),
                   ("mri-whole-spine", "STU3", None)]
    assert f.draft_orders[0].deadline == datetime(2026, 11, 24, 8, tzinfo=UTC)


def test_draft_orders_are_not_planned_events_and_all_selected_without_selections():
    sr = {"resourceType": "ServiceRequest", "id": "mri", "status": "draft", "code": cc(LOINC, "30854-4")}
    f = facts(sr, draft_orders=[sr, sr])
    assert f.events == [] and len(f.draft_orders) == 1 and f.draft_orders[0].selected


# ------------------------------------------------------------------ tolerance
def test_bundles_pages_duplicates_and_junk():
    obs = observation(LOINC, "72514-3", {"valueInteger": 4})
    page1 = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": obs}, "junk", {"x": 1}]}
    page2 = {"resourceType": "Bundle", "entry": [{"resource": obs}, {"resource": {
        "resourceType": "Bundle", "entry": [{"resource": condition(ICD, "G95.2")}]}}]}
    f = facts(page1, page2, None, 3, [None, "x"], {"resourceType": "OperationOutcome"})
    assert f.obs("pain-score").value == 4 and len(f.obs("pain-score").sources) == 1
    assert f.condition("cord-compression").is_true
    assert len(f.warnings) == 4 and all("not a FHIR resource" in w for w in f.warnings)


@pytest.mark.parametrize("broken", [
    {"resourceType": "Condition", "id": "x", "code": "C50"},
    {"resourceType": "Condition", "id": "x", "code": [{"coding": {"system": ICD, "code": "C50"}}]},
    {"resourceType": "Condition", "id": "x", "code": {"coding": [{"system": 5, "code": 50}]}, "bodySite": "L1"},
    {"resourceType": "Observation", "id": "x", "code": cc(LOINC, "72514-3"), "valueInteger": "7",
     "effectiveDateTime": 20261122},
    {"resourceType": "Observation", "id": "x", "code": {"coding": "bad"}, "component": "bad"},
    {"resourceType": "MedicationRequest", "id": "x", "status": ["active"], "medicationCodeableConcept": "H02AB02"},
    {"resourceType": "AllergyIntolerance", "id": "x", "category": "medication", "code": {"text": None}},
    {"resourceType": "Procedure", "id": "x", "status": "completed", "code": None, "bodySite": {"text": 12}},
    {"resourceType": "Patient", "id": "p1", "birthDate": "19xx", "gender": {"x": 1}},
])
def test_wrong_types_never_crash(broken):
    f = facts(broken, observation(LOINC, "72514-3", {"valueInteger": 2}, rid="ok"))
    assert f.obs("pain-score").is_known  # the good resource still counts


def test_string_numbers_are_read():
    res = observation(LOINC, "72514-3", {"valueInteger": "7"})
    assert facts(res).obs("pain-score").value == 7


def test_other_patients_resources_are_skipped():
    other = condition(ICD, "G95.2", subject={"reference": "Patient/someone-else"})
    f = facts(other)
    assert f.conditions == [] and any("another patient" in w for w in f.warnings)


def test_patient_demographics():
    f = facts({"resourceType": "Patient", "id": "p1", "birthDate": "1960-12-01", "gender": "male"})
    assert (f.birth_date, f.sex, f.age_years()) == (date(1960, 12, 1), "male", 65)


def test_warnings_carry_no_patient_data():
    res = observation(LOINC, "72514-3", {"valueString": "Jan Jansen, pain very bad"})
    f = facts(res)
    assert f.warnings and "Jansen" not in json.dumps(f.warnings)
