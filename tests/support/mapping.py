"""FHIR resource builders and code-system constants for the mapping tests (tests/test_mapping_*.py)."""
from __future__ import annotations

from datetime import UTC, datetime

from fhir_mappings import build_facts
from spine_guideline.facts import SearchStatus

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
RXN = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"
ALL_OK = {t: SearchStatus.OK for t in ("Condition", "Observation", "Procedure", "MedicationRequest",
                                       "MedicationStatement", "AllergyIntolerance", "ServiceRequest")}


def cc(system, code):
    return {"coding": [{"system": system, "code": code}]}


def facts(*resources, **kw):
    return build_facts(list(resources), searches=ALL_OK, now=NOW, patient_id="p1", **kw)


def condition(system, code_, rid="c1", body_site=None, **extra):
    res = {"resourceType": "Condition", "id": rid, "subject": {"reference": "Patient/p1"},
           "code": cc(system, code_), "recordedDate": "2026-11-01"}
    if body_site:
        res["bodySite"] = [{"text": body_site}]
    res.update(extra)
    return res


def observation(system, code, value, rid="o1", date="2026-11-22", body_site=None, **extra):
    res = {"resourceType": "Observation", "id": rid, "status": "final", "code": cc(system, code),
           "effectiveDateTime": date}
    res.update(value)
    if body_site:
        res["bodySite"] = {"text": body_site}
    res.update(extra)
    return res
