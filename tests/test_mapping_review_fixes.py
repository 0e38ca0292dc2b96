"""Mapping fixes found by the clinical review: analgesics given and stopped are
history (VPBK-M-4), a partial onset date reads as its latest possible day
(DX-2b / TX-2a: the stricter row), and freshness counts whole days (VPBK-P-1)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_mappings import build_facts
from spine_guideline.facts import SearchStatus

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"
OK = {t: SearchStatus.OK for t in ("Observation", "Condition", "MedicationStatement", "MedicationRequest",
                                    "Procedure", "AllergyIntolerance")}


def facts(*resources):
    return build_facts(list(resources), searches=OK, now=NOW, patient_id="p1")


@pytest.mark.parametrize("status,given,active", [("completed", True, False), ("stopped", True, False),
                                                 ("active", True, True), ("entered-in-error", False, False)])
def test_VPBK_M_4_analgesic_given_and_stopped_is_a_done_event(status, given, active):
    med = {"resourceType": "MedicationStatement", "id": "m1", "status": status,
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-09-01",
           "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "N02AA01"}]}}
    f = facts(med)
    assert bool(f.events_of("analgesic", status="done")) is given
    assert f.medication("analgesic").is_true is active


def _deficit(onset: str) -> dict:
    return {"resourceType": "Observation", "id": "d1", "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": LOCAL, "code": "radicular-deficit"}]}, "valueBoolean": True,
            "effectiveDateTime": "2026-11-23T08:00:00Z",
            "component": [{"code": {"coding": [{"system": LOCAL, "code": "onset"}]}, "valueDateTime": onset}]}


@pytest.mark.parametrize("onset,expected", [
    ("2026-11", NOW),                                        # the month is not over: latest day is today
    ("2026-10", datetime(2026, 10, 31, tzinfo=UTC)),
    ("2025", datetime(2025, 12, 31, tzinfo=UTC)),
    ("2026-11-10", datetime(2026, 11, 10, tzinfo=UTC)),   # a full date stays as it is
])
def test_DX_2b_partial_onset_date_reads_as_its_latest_possible_day(onset, expected):
    got = facts(_deficit(onset)).obs("radicular-deficit").attr("onset").value
    assert got == expected


@pytest.mark.parametrize("when,fresh", [("2026-11-16T09:59:00Z", True),   # 7 days 1 minute: day 7 counts
                                        ("2026-11-15T10:01:00Z", True),   # 7 days 23 h 59 min: rounds down to 7
                                        ("2026-11-15T09:59:00Z", False)])  # 8 days 1 minute: stale
def test_VPBK_P_1_inr_freshness_counts_whole_days(when, fresh):
    inr = {"resourceType": "Observation", "id": "i1", "status": "final", "subject": {"reference": "Patient/p1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "6301-6"}]},
           "valueQuantity": {"value": 1.1}, "effectiveDateTime": when}
    fact = facts(inr).obs("inr")
    if fresh:
        assert fact.value == 1.1
    else:
        assert fact.value is None and fact.unknown.value == "stale"
