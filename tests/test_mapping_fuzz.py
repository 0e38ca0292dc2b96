"""Property-based: random and malformed resources never crash the mapper, and
every known fact it returns has provenance."""
from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings import build_facts
from spine_guideline.facts import SearchStatus

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"
TYPES = ["Condition", "Observation", "Procedure", "MedicationRequest", "MedicationStatement",
         "MedicationAdministration", "AllergyIntolerance", "ServiceRequest", "ProcedureRequest",
         "DiagnosticReport", "ImagingStudy", "Patient", "Medication", "MedicationOrder", "Bundle", "Foo"]
SYSTEMS = ["http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/icd-10-cm",
           "http://www.whocc.no/atc", LOCAL, None]
CODES = ["94602001", "C79.51", "C50.9", "72514-3", "89247-1", "6301-6", "sins", "bilsky-grade", "back-pain",
         "H02AB02", "427811002", "30854-4", "stepped-care-waived", "life-expectancy", "L1", "LA9624-3", "x"]

scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 200), st.floats(allow_nan=True),
                   st.text(max_size=8), st.sampled_from(["L1", "T11-L1", "2026-11-20", "active", "final",
                                                         "completed", "7", "mo", "confirmed", "refuted"]))
coding = st.fixed_dictionaries({"system": st.sampled_from(SYSTEMS), "code": st.one_of(st.sampled_from(CODES), scalar)},
                               optional={"display": scalar})
concept = st.one_of(st.fixed_dictionaries({"coding": st.lists(coding, max_size=2)}, optional={"text": scalar}),
                    coding, scalar, st.lists(coding, max_size=2))
junk = st.recursive(scalar, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                   st.dictionaries(st.text(max_size=5), kids, max_size=3)),
                    max_leaves=6)
value = st.one_of(concept, junk, st.fixed_dictionaries({"value": scalar, "code": st.sampled_from(["mo", "d", "%", "x", "{INR}"])}))
FIELDS = {
    "id": st.one_of(st.sampled_from(["a", "b", "c"]), scalar), "status": scalar, "code": concept,
    "bodySite": st.one_of(concept, st.lists(concept, max_size=2)), "clinicalStatus": concept,
    "verificationStatus": concept, "effectiveDateTime": scalar, "issued": scalar, "valueInteger": scalar,
    "valueBoolean": scalar, "valueQuantity": value, "valueCodeableConcept": concept, "valueString": scalar,
    "component": st.lists(st.fixed_dictionaries({"code": concept}, optional={"valueInteger": scalar,
                                                "valueCodeableConcept": concept, "valueBoolean": scalar,
                                                "valueDateTime": scalar}), max_size=3),
    "medicationCodeableConcept": concept, "medicationReference": junk, "category": st.one_of(concept, scalar),
    "subject": junk, "onsetDateTime": scalar, "onsetPeriod": junk, "recordedDate": scalar,
    "evidence": junk, "extension": junk, "priority": scalar, "occurrenceDateTime": scalar,
    "occurrencePeriod": junk, "entry": st.lists(junk, max_size=2), "birthDate": scalar, "gender": scalar,
    "focus": junk, "reaction": junk, "performedDateTime": scalar, "procedureCode": concept, "series": junk,
}
resource = st.builds(lambda t, extra: {"resourceType": t, **extra}, st.sampled_from(TYPES),
                     st.fixed_dictionaries({}, optional=FIELDS))
request_items = st.lists(st.one_of(resource, junk,
                                   st.builds(lambda rs: {"resourceType": "Bundle", "entry": [{"resource": r} for r in rs]},
                                             st.lists(resource, max_size=4))), max_size=8)


def check_provenance(facts):
    for key, fact in facts.observations.items():
        if fact.is_known:
            assert fact.sources, key
        for sub in fact.attrs.values():
            if sub.is_known:
                assert sub.sources, key
    for c in facts.cancers:
        assert c.source.resource_type
        if c.histologically_proven.is_known:
            assert c.histologically_proven.sources
    for rec in facts.conditions + facts.events + facts.medications + facts.allergies:
        assert rec.source.resource_type


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=request_items, drafts=st.one_of(st.none(), request_items, resource, junk),
       selections=st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(["ServiceRequest/a", "x"]), scalar), max_size=3)))
def test_mapper_never_raises_and_keeps_provenance(items, drafts, selections):
    facts = build_facts(items, searches={"Condition": SearchStatus.OK, "Observation": "ok", "X": "bogus"},
                        now=NOW, patient_id="p1", draft_orders=drafts, selections=selections)
    check_provenance(facts)
    for w in facts.warnings:
        assert isinstance(w, str)
