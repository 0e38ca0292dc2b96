"""Mapping side of rules 2026.12 (issue 15): codes real clients send, level-less spinal
metastases, MedicationAdministration, which glucocorticoid and since when, a held MDO.

Each test names the defect (issue 15 numbering) or data-dictionary row it guards and
fails on the mapper before the fix.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_mappings import build_facts
from spine_guideline.engine import evaluate_hook
from spine_guideline.facts import SearchStatus
from spine_guideline.policy import load_policy

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10"
ICD_NL = "http://hl7.org/fhir/sid/icd-10-nl"
ATC = "http://www.whocc.no/atc"
RXN = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"
TYPES = ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest", "MedicationStatement",
         "MedicationAdministration", "AllergyIntolerance", "ServiceRequest", "DiagnosticReport", "ImagingStudy")
ALL_OK = {t: SearchStatus.OK for t in TYPES}


def cc(system, code, display=None):
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def facts(*resources, **kw):
    return build_facts(list(resources), searches=ALL_OK, now=NOW, patient_id="p1", **kw)


def condition(code, body_site=None, rid="c1", **extra):
    res = {"resourceType": "Condition", "id": rid, "subject": {"reference": "Patient/p1"}, "code": code,
           "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
           "recordedDate": "2026-11-01"}
    if body_site is not None:
        res["bodySite"] = [body_site]
    res.update(extra)
    return res


def obs(name, value, rid, **extra):
    res = {"resourceType": "Observation", "id": rid, "status": "final", "code": cc(LOCAL, name),
           "effectiveDateTime": "2026-11-22T08:00:00Z", "subject": {"reference": "Patient/p1"}}
    res.update(value)
    res.update(extra)
    return res


# ------------------------------------------------------------------ defect 5: C79.5 without a level
SPINE_SITES = [
    pytest.param(cc(SCT, "421060004", "Wervelkolom"), (), id="snomed-vertebral-column"),
    pytest.param(cc(SCT, "421060004"), (), id="snomed-vertebral-column-code-only"),
    pytest.param({"text": "Wervelkolom"}, (), id="text-wervelkolom"),
    pytest.param({"text": "spine"}, (), id="text-spine"),
    pytest.param(cc(SCT, "122496007"), ("L",), id="snomed-lumbar-spine"),
    pytest.param(cc(SCT, "1217256009"), ("L", "T"), id="snomed-thoracolumbar"),
    pytest.param({"text": "lumbale wervelkolom"}, ("L",), id="text-lumbale-wervelkolom"),
]


@pytest.mark.parametrize("site,regions", SPINE_SITES)
@pytest.mark.parametrize("system,code", [(ICD, "C79.5"), (ICD_NL, "C79.5"), (ICD, "C79.51"), (SCT, "94222008")])
def test_defect5_bone_metastasis_at_the_spine_without_level_is_a_spinal_metastasis(system, code, site, regions):
    f = facts(condition(cc(system, code), site))
    recs = f.condition_records("spinal-metastasis")
    assert [(r.name, r.level) for r in recs] == [("spinal-metastasis", None)]
    assert f.condition("spinal-metastasis").is_true
    assert f.metastatic_levels() == []  # level unknown, not a level


def test_defect5_bone_metastasis_elsewhere_is_not_a_spinal_metastasis():
    f = facts(condition(cc(ICD, "C79.5"), cc(SCT, "61685007", "Lower limb structure")),
              condition(cc(ICD, "C79.5"), None, rid="c2"))
    assert f.condition_records("spinal-metastasis") == []


@pytest.mark.parametrize("code,level", [("66794005", "L1"), ("23215003", "T12"), ("61032001", "L1"),
                                        ("280849005", "T12"), ("65985001", "S1"), ("14806007", "C1")])
def test_snomed_vertebra_codes_are_levels_without_any_display(code, level):
    f = facts(condition(cc(ICD, "C79.5"), cc(SCT, code)))
    assert [r.level for r in f.condition_records("spinal-metastasis")] == [level]


def test_defect5_region_narrows_the_candidate_level_of_a_level_bound_observation():
    meta_l1 = condition(cc(SCT, "94602001"), cc(SCT, "66794005"), rid="c1")
    meta_t7 = condition(cc(SCT, "94602001"), cc(SCT, "62487009"), rid="c2")
    sins = obs("sins", {"valueInteger": 9}, "o1", bodySite=cc(SCT, "122496007"))  # lumbar spine, no level
    f = facts(meta_l1, meta_t7, sins)
    assert f.obs("sins", "L1").value == 9
    assert f.obs_levels("sins") == {"L1": f.obs("sins", "L1")}
    # without the region the same record cannot be placed
    plain = obs("sins", {"valueInteger": 9}, "o1")
    assert facts(meta_l1, meta_t7, plain).obs_levels("sins") == {}


def test_defect5_non_walking_rapidly_progressive_mescc_gets_the_treatment_cards():
    """Issue 15 defect 5: the spinal metastasis coded C79.5 + "Wervelkolom" gave no
    treatment-window / MDO / modality card at all."""
    resources = [
        condition(cc(ICD_NL, "C79.5", "Secundaire maligne neoplasma van bot en beenmerg"),
                  cc(SCT, "421060004", "Wervelkolom")),
        condition(cc(SCT, "254837009", "Breast cancer"), None, rid="c-breast"),
        obs("mescc-deficit", {"valueBoolean": True}, "o1",
            component=[{"code": cc(LOCAL, "onset"), "valueDateTime": "2026-11-22T06:00:00Z"},
                       {"code": cc(LOCAL, "progressive"), "valueBoolean": True}]),
        obs("ambulatory", {"valueBoolean": False}, "o2"),
    ]
    topics = {f.topic for f in evaluate_hook("patient-view", facts(*resources), load_policy())}
    assert {"treatment-window", "mdo-referral", "treatment-modality"} <= topics


# ------------------------------------------------------------------ defect 8: order codes real clients send
def med_request(code, rid="m1", status="draft", **extra):
    res = {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
           "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": code}
    res.update(extra)
    return res


@pytest.mark.parametrize("code", [cc(RXN, "197582", "dexamethasone 4 MG Oral Tablet"), cc(RXN, "197579"),
                                  cc(RXN, "309684"), cc(ATC, "H02AB02"), cc(RXN, "3264")],
                         ids=["rxnorm-197582", "rxnorm-197579", "rxnorm-309684", "atc-H02AB02", "rxnorm-3264"])
def test_defect8_dexamethasone_draft_orders_are_corticosteroid_orders(code):
    f = facts(draft_orders={"resourceType": "Bundle", "entry": [{"resource": med_request(code)}]})
    assert [o.kind for o in f.draft_orders] == ["corticosteroid"]


def test_defect8_rxnorm_clinical_drug_as_active_medication_names_its_ingredient():
    f = facts(med_request(cc(RXN, "197582"), status="active", authoredOn="2026-11-23T07:00:00Z"))
    [m] = f.medications
    assert (m.drug_class, m.ingredient, m.started, m.code) == (
        "corticosteroid", "dexamethasone", "2026-11-23T07:00:00Z", f"{RXN}|197582")


def mri_order(rid, *codes, status="draft"):
    return {"resourceType": "ServiceRequest", "id": rid, "status": status, "intent": "order",
            "subject": {"reference": "Patient/p1"}, "priority": "urgent",
            "code": {"coding": [{"system": CPT, "code": c} for c in codes]}}


def drafts(*orders):
    return {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]}


@pytest.mark.parametrize("code", ["72141", "72146", "72148", "72156", "72157", "72158"])
def test_defect8_one_cpt_spine_region_is_one_segment(code):
    f = facts(draft_orders=drafts(mri_order("mri-1", code)))
    assert [o.kind for o in f.draft_orders] == ["mri-segment"]


def test_defect8_one_order_with_the_three_cpt_regions_is_a_whole_spine_order():
    f = facts(draft_orders=drafts(mri_order("mri-1", "72141", "72146", "72148")))
    assert [o.kind for o in f.draft_orders] == ["mri-whole-spine"]


def test_defect8_three_selected_cpt_region_orders_make_a_whole_spine_order():
    orders = drafts(mri_order("c", "72156"), mri_order("t", "72157"), mri_order("l", "72158"))
    assert [o.kind for o in facts(draft_orders=orders).draft_orders] == ["mri-whole-spine"] * 3
    # order-select with only two of them selected: two segments, the third not selected
    f = facts(draft_orders=orders, selections=["ServiceRequest/c", "ServiceRequest/t"])
    assert [(o.kind, o.selected) for o in f.draft_orders] == [
        ("mri-segment", True), ("mri-segment", True), ("mri-segment", False)]


def test_defect8_cpt_region_mri_order_gets_the_mri_order_check():
    f = facts(draft_orders=drafts(mri_order("mri-1", "72148")))
    findings = evaluate_hook("order-sign", f, load_policy())
    assert "mri-order" in {x.topic for x in findings}


def test_a_region_body_site_makes_a_site_mri_code_one_segment_not_the_whole_spine(tmp_path):
    # No verified standard code is a spine MRI whose extent comes from the bodySite (the SNOMED codes once
    # used, 241645008 / 431985004, are refused); a site's own code can still say so with dependsOn bodySite.
    import json

    from fhir_mappings import MappingSettings, load_tables
    site_map = {"resourceType": "ConceptMap", "url": "https://hospital.example/fhir/ConceptMap/mri",
                "targetUri": "https://spine-cds.org/fhir/ValueSet/order", "status": "active",
                "group": [{"source": "https://hospital.example/orders", "element": [{"code": "MRI-WK", "target": [
                    {"code": "mri-whole-spine", "equivalence": "equivalent",
                     "dependsOn": [{"property": "bodySite", "value": "whole-spine-or-none"}]},
                    {"code": "mri-segment", "equivalence": "equivalent",
                     "dependsOn": [{"property": "bodySite", "value": "level"}]}]}]}]}
    path = tmp_path / "site.json"
    path.write_text(json.dumps(site_map), encoding="utf-8")
    settings = MappingSettings.from_env({"SPINE_CDS_EXTRA_MAPPINGS": str(path)})
    load_tables(settings)
    order = {"resourceType": "ServiceRequest", "id": "mri-1", "status": "draft", "intent": "order",
             "code": cc("https://hospital.example/orders", "MRI-WK"), "bodySite": [cc(SCT, "122496007")]}
    assert [o.kind for o in facts(draft_orders=drafts(order), settings=settings).draft_orders] == ["mri-segment"]
    order["bodySite"] = [{"text": "lumbale wervelkolom"}]
    assert [o.kind for o in facts(draft_orders=drafts(order), settings=settings).draft_orders] == ["mri-segment"]
    del order["bodySite"]
    assert [o.kind for o in facts(draft_orders=drafts(order), settings=settings).draft_orders] == ["mri-whole-spine"]


# ------------------------------------------------------------------ defect 4: MedicationAdministration, which steroid
def administration(status, when, code=None, rid="ma1"):
    return {"resourceType": "MedicationAdministration", "id": rid, "status": status,
            "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": code or cc(ATC, "H02AB02", "dexamethasone"),
            "effectiveDateTime": when, "dosage": {"route": {"text": "IV"}, "dose": {"value": 10, "unit": "mg"}}}


def test_defect4_completed_dexamethasone_dose_three_hours_ago_is_active():
    f = facts(administration("completed", "2026-11-23T07:00:00Z"))
    [m] = f.medications
    assert m.active and m.drug_class == "corticosteroid" and m.ingredient == "dexamethasone"
    assert m.source.resource_type == "MedicationAdministration" and m.started == "2026-11-23T07:00:00Z"
    assert f.medication("corticosteroid").is_true


@pytest.mark.parametrize("when,active", [("2026-11-22T10:30:00Z", True), ("2026-11-22T09:30:00Z", False),
                                         ("2026-11-23", True), ("2026-11-21", False)])
def test_defect4_completed_administration_counts_for_24_hours(when, active):
    f = facts(administration("completed", when))
    assert bool(f.medications) is active


def test_defect4_administration_in_progress_is_active_and_not_done_is_not():
    assert facts(administration("in-progress", "2026-11-20T07:00:00Z")).medications
    assert not facts(administration("not-done", "2026-11-23T07:00:00Z")).medications


def test_defect4_prednisolone_is_a_corticosteroid_but_not_dexamethasone():
    for code in (cc(ATC, "H02AB06", "prednisolon"), cc(RXN, "198142")):
        f = facts(med_request(code, status="active", authoredOn="2025-01-10"))
        [m] = f.medications
        assert (m.drug_class, m.ingredient, m.started) == ("corticosteroid", "prednisolone", "2025-01-10")


def test_defect4_a_class_code_names_no_ingredient():
    [m] = facts(med_request(cc(ATC, "H02AB"), status="active")).medications
    assert m.drug_class == "corticosteroid" and m.ingredient is None


def test_medication_statement_start_is_its_effective_start():
    res = {"resourceType": "MedicationStatement", "id": "ms1", "status": "active", "subject": {"reference": "Patient/p1"},
           "medicationCodeableConcept": cc(ATC, "H02AB02"), "effectivePeriod": {"start": "2026-11-20"},
           "dateAsserted": "2026-11-22"}
    [m] = facts(res).medications
    assert m.started == "2026-11-20"


def test_mp9_agreement_start_from_its_time_interval_else_its_registration_date():
    period = {"url": "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period",
              "valuePeriod": {"start": "2026-11-21T08:00:00+01:00"}}
    registered = {"url": "http://nictiz.nl/fhir/StructureDefinition/ext-RegistrationDateTime",
                  "valueDateTime": "2026-11-20T16:00:00+01:00"}
    [m] = facts(med_request(cc(ATC, "H02AB02"), status="active", extension=[registered, period])).medications
    assert m.started == "2026-11-21T08:00:00+01:00"
    [m] = facts(med_request(cc(ATC, "H02AB02"), status="active", extension=[registered])).medications
    assert m.started == "2026-11-20T16:00:00+01:00"


def test_stu3_medication_statement_taken_n_is_not_taken():
    res = {"resourceType": "MedicationStatement", "id": "ms1", "status": "completed", "taken": "n",
           "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": cc(ATC, "H02AB02")}
    assert facts(res).medications == []
    res["taken"], res["status"] = "y", "active"
    assert len(facts(res).medications) == 1


# ------------------------------------------------------------------ a held MDO (TX-3 answered)
def test_completed_mdo_referral_is_an_mdo_held_on_its_occurrence_or_last_update():
    ref = {"resourceType": "ServiceRequest", "id": "mdo-1", "status": "completed", "intent": "order",
           "subject": {"reference": "Patient/p1"}, "code": cc(LOCAL, "mdo-referral"),
           "occurrenceDateTime": "2026-11-20T14:00:00Z", "meta": {"lastUpdated": "2026-11-21T09:00:00Z"}}
    [e] = facts(ref).events
    assert (e.kind, e.status, e.date) == ("mdo-referral", "done", "2026-11-20T14:00:00Z")
    del ref["occurrenceDateTime"]
    [e] = facts(ref).events
    assert (e.kind, e.status, e.date) == ("mdo-referral", "done", "2026-11-21T09:00:00Z")
    ref["status"] = "active"
    [e] = facts(ref).events
    assert e.status == "planned"


def test_a_completed_order_of_another_kind_is_no_event_done():
    ref = {"resourceType": "ServiceRequest", "id": "mri-1", "status": "completed", "intent": "order",
           "subject": {"reference": "Patient/p1"}, "code": {"coding": [{"system": "http://loinc.org", "code": "30854-4"}]}}
    assert facts(ref).events == []


# ------------------------------------------------------------------ issue 14: a mapping defect is loud
def test_a_defect_in_a_handler_raises_a_mapping_error_not_a_skipped_resource(monkeypatch):
    import fhir_mappings.mapper as mapper
    from fhir_mappings import MappingError

    def broken(ctx, res):
        raise KeyError("bug")
    monkeypatch.setitem(mapper.HANDLERS, "Observation", broken)
    with pytest.raises(MappingError) as info:
        facts(obs("back-pain", {"valueBoolean": True}, "o1"))
    assert info.value.stage == "resource" and info.value.where == "Observation/o1"
    assert isinstance(info.value.__cause__, KeyError)


def test_a_defect_in_resolution_raises_a_mapping_error_not_incomplete_observations(monkeypatch):
    import fhir_mappings.mapper as mapper
    from fhir_mappings import MappingError

    def broken(ctx, facts_):
        raise ZeroDivisionError
    monkeypatch.setattr(mapper, "resolve", broken)
    with pytest.raises(MappingError, match="resolution"):
        facts(obs("back-pain", {"valueBoolean": True}, "o1"))


def test_a_defect_in_a_draft_order_raises_a_mapping_error(monkeypatch):
    import fhir_mappings.handlers.orders as orders
    from fhir_mappings import MappingError

    def broken(*args):
        raise TypeError
    monkeypatch.setattr(orders, "draft_order", broken)
    with pytest.raises(MappingError, match="draft order"):
        facts(draft_orders=drafts(mri_order("mri-1", "72148")))


def test_odd_input_is_still_read_as_unknown_with_a_warning():
    odd = {"resourceType": "Observation", "id": "o1", "status": "final", "code": cc(LOCAL, "pain-score"),
           "effectiveDateTime": "2026-11-22", "valueQuantity": {"value": "many"}}
    f = facts(odd, "junk", {"resourceType": "Condition", "code": 7, "bodySite": [None, 3]})
    assert f.obs("pain-score").value is None and any("pain-score" in w for w in f.warnings)
