"""Rules 2026.12 (issue 15): each defect of the DX/TX rules, named by its rule, on the
rules layer (facts in, findings out). The same situations run through the mapper as
table-driven cases in tests/cases/diagnosis.json and treatment.json."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cds_service.cards import RenderContext, render_card
from cds_service.i18n import load_catalogs
from cds_service.suggestions import SuggestionContext
from spine_guideline import RULES_VERSION
from spine_guideline.engine import evaluate_hook
from spine_guideline.facts import (
    Cancer,
    CancerCategory,
    ConditionRecord,
    Event,
    Fact,
    Medication,
    PatientFacts,
    SearchStatus,
    Source,
)
from spine_guideline.findings import Finding
from spine_guideline.policy import load_policy
from tests.support.results import wire

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
POLICY = load_policy()
SEARCHED = ("Condition", "Observation", "Procedure", "MedicationRequest", "MedicationStatement",
            "MedicationAdministration", "AllergyIntolerance", "ServiceRequest", "DiagnosticReport", "ImagingStudy")


def iso(delta: timedelta) -> str:
    return (NOW - delta).isoformat()


def ob(name: str, value: Any = True, recorded: timedelta = timedelta(hours=1), level: str | None = None,
       **attrs: Any) -> Fact:
    """An Observation fact recorded ``recorded`` before now, with components."""
    src = Source("Observation", f"{name}-{level or 'x'}", iso(recorded))
    sub = {k: Fact(f"{name}.{k}", v, (src,)) for k, v in attrs.items()}
    return Fact(name, value, (src,), level, attrs=sub)


def deficit(name: str = "mescc-deficit", days: int = 3, progressive: bool | None = True,
            laterality: str | None = None, recorded: timedelta = timedelta(hours=1)) -> Fact:
    attrs: dict[str, Any] = {"onset": NOW - timedelta(days=days)}
    if progressive is not None:
        attrs["progressive"] = progressive
    if laterality is not None:
        attrs["laterality"] = laterality
    return ob(name, True, recorded, **attrs)


def patient(*facts: Fact, level: str | None = "L1", metastasis: bool = True, cancer: str | None = "breast",
            events: tuple[Event, ...] = (), meds: tuple[Medication, ...] = (),
            diagnosed: timedelta = timedelta(days=30)) -> PatientFacts:
    conditions = [ConditionRecord("spinal-metastasis", Source("Condition", "met", iso(diagnosed)), level,
                                  onset=(NOW - diagnosed).date())] if metastasis else []
    cancers = [Cancer(cancer, CancerCategory.SOLID, Source("Condition", f"ca-{cancer}"),
                      onset=(NOW - timedelta(days=400)).date())] if cancer else []
    return PatientFacts(now=NOW, patient_id="p1", cancers=cancers, conditions=conditions,
                        observations={(f.name, f.level): f for f in facts}, events=list(events),
                        medications=list(meds), searches={t: SearchStatus.OK for t in SEARCHED})


def run(facts: PatientFacts, hook: str = "patient-view") -> dict[str, Finding]:
    findings = evaluate_hook(hook, facts, POLICY)
    out: dict[str, Finding] = {}
    for f in findings:
        assert f.topic not in out or f.topic in ("sins", "vpbk-eligibility", "vpbk-preprocedure"), f.topic
        out.setdefault(f.topic, f)
    return out


def notes(f: Finding) -> list[str]:
    return [n.key for n in f.notes]


def done(kind: str, ago: timedelta, level: str | None = "L1", rid: str = "p-1") -> Event:
    return Event(kind, Source("Procedure", rid, iso(ago)), "done", level, iso(ago))


# ---------------------------------------------------------------------------
# defect 1: TX-2 rows by clinical and radiological MESCC only
# ---------------------------------------------------------------------------

def test_TX_2d_pain_only_bilsky_0_with_the_deficits_absent_and_severity_unrecorded_is_14_days():
    f = run(patient(ob("mescc-deficit", False), ob("radicular-deficit", False), ob("bilsky-grade", "0", level="L1"),
                    ob("back-pain")))["treatment-window"]
    assert wire(f) == {"windowHours": 336, "rule": "TX-2d"}
    assert "severe-neurological-deficit" not in {m.code for m in f.missing}


def test_TX_2c_radiological_mescc_with_pain_only_is_7_days_whatever_is_unrecorded():
    f = run(patient(ob("mescc-deficit", False), ob("bilsky-grade", "2", level="L1")))["treatment-window"]
    assert wire(f) == {"windowHours": 168, "rule": "TX-2c"}
    assert f.indicator.value == "warning" and f.missing == []


def test_TX_2b_slowly_progressive_mescc_deficit_in_a_walking_patient_is_72h_with_radicular_unrecorded():
    f = run(patient(deficit(days=20), ob("ambulatory"), ob("severe-neurological-deficit", False),
                    ob("bilsky-grade", "3", level="L1")))["treatment-window"]
    assert wire(f) == {"windowHours": 72, "rule": "TX-2b"}
    assert "radicular-deficit" not in {m.code for m in f.missing}


def test_TX_2a_severe_deficit_without_any_mescc_is_conflicting_data_24h_with_a_line_to_reassess():
    f = run(patient(ob("mescc-deficit", False), deficit("severe-neurological-deficit"),
                    ob("bilsky-grade", "1a", level="L1")))["treatment-window"]
    assert wire(f) == {"windowHours": 24, "rule": "TX-2a"}
    assert "tx.window.note.policy-severe-without-mescc" in notes(f)


# ---------------------------------------------------------------------------
# defect 2: DX-2 rows, severe-neurological-deficit chooses no row
# ---------------------------------------------------------------------------

def test_DX_2c_unilateral_slowly_progressive_radicular_deficit_with_a_severe_deficit_is_48h():
    f = run(patient(ob("back-pain"), ob("night-pain"), ob("mescc-deficit", False),
                    deficit("radicular-deficit", days=10, laterality="unilateral"),
                    deficit("severe-neurological-deficit", days=10)))["mri-urgency"]
    assert wire(f) == {"windowHours": 48, "rule": "DX-2c"}
    assert f.indicator.value == "warning"
    assert "dx.note.severe-deficit-noted" in notes(f)


# ---------------------------------------------------------------------------
# defect 3: answered deadlines
# ---------------------------------------------------------------------------

RAPID = (deficit(days=3), ob("ambulatory", False), ob("bilsky-grade", "3", level="L1"),
         ob("back-pain"), ob("night-pain"))


def test_TX_2_answered_by_radiotherapy_at_the_level_after_the_deficit_began():
    rt = done("radiotherapy", timedelta(days=1), rid="rt-1")
    cards = run(patient(*RAPID, events=(rt,)))
    assert "treatment-window" not in cards
    answered = wire(cards["aftercare"])["answeredBy"]
    assert {"deadline": "TX-2", "reference": "Procedure/rt-1", "date": rt.date} in answered


def test_TX_2_not_answered_by_radiotherapy_before_the_deficit_or_at_another_level():
    before = done("radiotherapy", timedelta(days=5), rid="rt-0")
    cards = run(patient(*RAPID, events=(before,)))
    assert wire(cards["treatment-window"]) == {"windowHours": 24, "rule": "TX-2a"}
    assert "answeredBy" not in wire(cards["aftercare"])
    elsewhere = done("radiotherapy", timedelta(days=1), level="T4")
    assert "treatment-window" in run(patient(*RAPID, events=(elsewhere,)))


def test_TX_2_level_less_metastasis_is_answered_by_treatment_anywhere_in_the_spine():
    rt = done("radiotherapy", timedelta(days=1), level="T4")
    assert "treatment-window" not in run(patient(*RAPID[:2], level=None, events=(rt,)))


def test_TX_2_a_deficit_that_began_after_the_treatment_reopens_the_deadline():
    rt = done("radiotherapy", timedelta(days=10))
    cards = run(patient(deficit(days=2), ob("ambulatory", False), events=(rt,)))
    assert wire(cards["treatment-window"])["rule"] == "TX-2a"


def test_TX_3_answered_by_a_held_mdo_after_the_diagnosis():
    mdo = Event("mdo-referral", Source("ServiceRequest", "mdo-1", iso(timedelta(days=2))), "done", None,
                iso(timedelta(days=2)))
    cards = run(patient(*RAPID, events=(mdo,)))
    assert "mdo-referral" not in cards
    planned = Event("mdo-referral", Source("ServiceRequest", "mdo-2"), "planned")
    assert run(patient(*RAPID, events=(planned,)))["mdo-referral"].indicator.value == "info"
    before = Event("mdo-referral", Source("ServiceRequest", "mdo-0"), "done", None, iso(timedelta(days=60)))
    assert "mdo-referral" in run(patient(*RAPID, events=(before,)))


def test_DX_2_answered_by_a_whole_spine_mri_done_after_the_onset_and_listed_on_aftercare():
    mri = Event("mri-whole-spine", Source("ImagingStudy", "mri-1", iso(timedelta(days=2))), "done", None,
                iso(timedelta(days=2)))
    rt = done("radiotherapy", timedelta(days=1), rid="rt-1")
    cards = run(patient(*RAPID, events=(mri, rt)))
    assert "mri-urgency" not in cards and "treatment-window" not in cards
    deadlines = [a["deadline"] for a in wire(cards["aftercare"])["answeredBy"]]
    assert deadlines == ["DX-2", "TX-2"]
    old = Event("mri-whole-spine", Source("ImagingStudy", "mri-0"), "done", None, iso(timedelta(days=5)))
    assert run(patient(*RAPID, events=(old,)))["mri-urgency"].result.rule == "DX-2a"


# ---------------------------------------------------------------------------
# defect 4: corticosteroids
# ---------------------------------------------------------------------------

SEVERE = (deficit("severe-neurological-deficit", progressive=False), ob("atypical-radiology", False),
          ob("progression-elsewhere", True))


def dex_given(ago: timedelta, resource: str = "MedicationAdministration", ingredient: str = "dexamethasone"
              ) -> Medication:
    return Medication("corticosteroid", Source(resource, f"{ingredient}-1", iso(ago), ingredient), True,
                      None, ingredient, iso(ago))


def test_DX_3_a_dexamethasone_dose_given_counts_as_started_no_second_loading_dose():
    f = run(patient(*SEVERE, meds=(dex_given(timedelta(hours=3)),)))["corticosteroids"]
    assert wire(f)["advice"] == "start"
    assert f.suggestions == [] and f.summary.key == "dx.steroids.summary.start-active"


def test_DX_3_chronic_prednisolone_does_not_count_as_started_the_suggestion_stays():
    pred = dex_given(timedelta(days=200), "MedicationStatement", "prednisolone")
    f = run(patient(*SEVERE, meds=(pred,)))["corticosteroids"]
    assert [s.kind for s in f.suggestions] == ["create-dexamethasone"]
    assert "dx.note.other-glucocorticoid" in notes(f)


def test_DX_7_needs_the_progression_recorded_after_the_corticosteroid_was_started():
    # the progression recorded 4 h ago was the reason for dexamethasone started 2 h ago
    reason = deficit(recorded=timedelta(hours=4))
    f = run(patient(reason, meds=(dex_given(timedelta(hours=2)),)))["corticosteroids"]
    assert "DX-7" not in f.rules and "dx.note.dx7-progression-before-start" in notes(f)
    later = deficit(recorded=timedelta(hours=1))
    f = run(patient(later, meds=(dex_given(timedelta(hours=2)),)))["corticosteroids"]
    assert "DX-7" in f.rules and f.indicator.value == "critical"
    # any systemic glucocorticoid at the time of the progression counts for DX-7
    pred = dex_given(timedelta(days=200), "MedicationStatement", "prednisolone")
    assert "DX-7" in run(patient(later, meds=(pred,)))["corticosteroids"].rules


def test_DX_6_ends_once_a_biopsy_of_the_lesion_was_taken():
    severe = deficit("severe-neurological-deficit", progressive=False)
    f = run(patient(severe, cancer=None))["corticosteroids"]
    assert wire(f) == {"advice": "withhold", "rule": "DX-6"}
    biopsy = done("spine-lesion-biopsy", timedelta(days=1), rid="bx-1")
    f = run(patient(severe, cancer=None, events=(biopsy,)))["corticosteroids"]
    assert wire(f) == {"advice": "start", "rule": "DX-3"}
    assert "dx.note.biopsy-done-pathology-pending" in notes(f)


# ---------------------------------------------------------------------------
# defect 5 (rules side): a spinal metastasis without a level
# ---------------------------------------------------------------------------

def test_TX_2a_TX_3_TX_7_level_less_spinal_metastasis_still_opens_the_treatment_cards():
    cards = run(patient(deficit(days=2), ob("ambulatory", False), level=None))
    assert wire(cards["treatment-window"]) == {"windowHours": 24, "rule": "TX-2a"}
    assert "mdo-referral" in cards and "treatment-modality" in cards


# ---------------------------------------------------------------------------
# defect 9: rulesVersion, policyHash and missing on every result
# ---------------------------------------------------------------------------

def _card(finding: Finding, policy_hash: str | None) -> dict[str, Any]:
    cats = load_catalogs()
    ctx = RenderContext("en", cats, SuggestionContext("p1", NOW, "en", cats, {}), policy_hash=policy_hash)
    return render_card(finding, ctx)


def test_TX_2_every_result_carries_rules_version_missing_and_the_site_policy_hash():
    findings = evaluate_hook("patient-view", patient(deficit(days=2), level="L1"), POLICY)
    assert findings
    for f in findings:
        result = _card(f, None)["extension"]["org.spine-cds.result"]
        assert result["rulesVersion"] == RULES_VERSION == "2026.12"
        assert isinstance(result["missing"], list) and "policyHash" not in result
    slow = run(patient(deficit(days=20), ob("bilsky-grade", "3", level="L1")))["treatment-window"]
    result = _card(slow, "abc")["extension"]["org.spine-cds.result"]
    assert result["policyHash"] == "abc"
    assert result["missing"] == ["ambulatory"]
    unsure = run(patient(ob("mescc-deficit", False)))["treatment-window"]  # radiological MESCC unknown
    assert "bilsky-grade@L1" in _card(unsure, None)["extension"]["org.spine-cds.result"]["missing"]


def test_TX_2_policy_hash_is_the_sha256_of_the_site_file_canonical_json():
    overrides = {"treatment": {"rapid_progression_max_days": 6}}
    expected = hashlib.sha256(json.dumps(overrides, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert load_policy(overrides).site_hash == expected
    assert load_policy().site_hash is None


def test_TX_2_a_served_card_carries_the_hash_of_the_loaded_site_policy_file(tmp_path):
    from cds_service import samples
    from cds_service.services import SERVICES

    from .conftest import make_app

    overrides = {"treatment": {"mdo_indicator_not_referred": "info"}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(overrides, indent=2))
    service = next(s for s in SERVICES if s.id == "spine-metastases-treatment")
    sample = samples.get_sample("treatment-72h-slow-deficit")
    body = {"hook": "patient-view", "hookInstance": "d1bf7a1c-2d6c-4a45-8f3e-0c4e3a6a2b11",
            "context": {"patientId": sample.patient_id, "userId": "Practitioner/1"},
            "prefetch": samples.prefetch(sample.id, service.prefetch_keys, now=datetime.now(UTC))}
    for app, expected in ((make_app(tmp_path, POLICY_FILE=str(path)), load_policy(overrides).site_hash),
                          (make_app(tmp_path), None)):
        response = app.test_client().post(f"/cds-services/{service.id}", json=body)
        assert response.status_code == 200, response.get_json()
        results = [c["extension"]["org.spine-cds.result"] for c in response.get_json()["cards"]]
        assert results and all(r.get("policyHash") == expected and r["rulesVersion"] == "2026.12"
                               for r in results)


def test_TX_2a_a_site_window_outside_the_guideline_rows_is_written_in_plain_hours():
    policy = load_policy({"treatment": {"window_hours": {"TX-2a": 12, "TX-2b": 72, "TX-2c": 168, "TX-2d": 336}}})
    [f] = [f for f in evaluate_hook("patient-view", patient(deficit(days=2)), policy) if f.topic == "treatment-window"]
    assert wire(f) == {"windowHours": 12, "rule": "TX-2a"}
    assert f.summary.params["window"].key == "dx.duration.hours"


def test_DX_1_a_site_policy_naming_an_alarm_symptom_without_card_text_stops_start_up():
    import pytest

    from spine_guideline.policy import PolicyError

    alarms = POLICY.get("diagnosis", "alarm_symptoms")
    with pytest.raises(PolicyError, match="'weight-loss' has no card text"):
        load_policy({"diagnosis": {"alarm_symptoms": [*alarms, "weight-loss"]}})
    with pytest.raises(PolicyError, match="'soon'"):
        load_policy({"diagnosis": {"mri_priority_by_window_hours": {"12": "soon"}}})
    assert load_policy({"diagnosis": {"alarm_symptoms": alarms[:2]}}).get("diagnosis", "alarm_symptoms") == alarms[:2]


def test_TX_2_not_answered_by_a_treatment_whose_level_is_not_recorded_when_the_levels_are_known():
    """A review found radiotherapy without a level (or of the brain) answering TX-2 for a
    metastasis at L1: only a treatment at the affected level answers it (guideline.md)."""
    untold = done("radiotherapy", timedelta(days=1), level=None, rid="rt-1")
    assert "treatment-window" in run(patient(*RAPID, events=(untold,)))
    other = done("radiotherapy", timedelta(days=1), level="T4", rid="rt-2")
    assert "treatment-window" in run(patient(*RAPID, events=(other,)))
