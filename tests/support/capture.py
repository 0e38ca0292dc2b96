"""The patient and card helpers of the capture-app tests (tests/test_capture_*.py): a patient
with back pain and a spinal metastasis at L2 (Bilsky 0), neurological status not recorded, and
the treatment-window card of an answer."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"
TREATMENT = "spine-metastases-treatment"
RESULT = "org.spine-cds.result"


def patient_resources(pid: str) -> list[dict]:
    now = datetime.now(UTC)

    def ago(days: float) -> str:
        return (now - timedelta(days=days)).isoformat()

    subject = {"reference": f"Patient/{pid}"}
    return [
        {"resourceType": "Patient", "id": pid, "birthDate": "1958-04-01", "gender": "female"},
        {"resourceType": "Condition", "id": f"{pid}-lung", "subject": subject, "onsetDateTime": ago(300),
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "363358000"}]}},
        {"resourceType": "Condition", "id": f"{pid}-met", "subject": subject, "onsetDateTime": ago(3),
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94602001"}]},
         "bodySite": [{"coding": [{"system": LOCAL, "code": "L2"}]}]},
        {"resourceType": "Observation", "id": f"{pid}-pain", "status": "final", "subject": subject,
         "code": {"coding": [{"system": LOCAL, "code": "back-pain"}]}, "effectiveDateTime": ago(1),
         "valueBoolean": True},
        {"resourceType": "Observation", "id": f"{pid}-bilsky", "status": "final", "subject": subject,
         "code": {"coding": [{"system": LOCAL, "code": "bilsky-grade"}]}, "effectiveDateTime": ago(2),
         "bodySite": [{"coding": [{"system": LOCAL, "code": "L2"}]}],
         "valueCodeableConcept": {"coding": [{"system": LOCAL, "code": "0"}]}},
    ]


def window_card(cards: list[dict]) -> dict:
    found = [c for c in cards if c["source"]["topic"]["code"] == "treatment-window"]
    assert len(found) == 1, [c["source"]["topic"]["code"] for c in cards]
    return found[0]
