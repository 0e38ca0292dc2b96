"""Unit tests of the diagnosis module (DX-1 .. DX-7) over hand-built PatientFacts."""
from __future__ import annotations

import json
import pathlib
from datetime import UTC, date, datetime, timedelta

import pytest

from spine_guideline import diagnosis as dx
from spine_guideline.facts import (
    Cancer,
    CancerCategory,
    ConditionRecord,
    DraftOrder,
    Event,
    Fact,
    Medication,
    PatientFacts,
    SearchStatus,
    Source,
)
from spine_guideline.findings import Finding, Indicator, Message, Status
from spine_guideline.policy import load_policy
from tests.support.results import wire

POLICY = load_policy()
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ROOT = pathlib.Path(__file__).resolve().parent.parent
CATALOGS = {lang: json.loads((ROOT / "cds_service" / "messages" / lang / "diagnosis.json")
                             .read_text(encoding="utf-8")) for lang in ("en", "nl")}
ALL_OK = {t: SearchStatus.OK for t in ("Condition", "Observation", "Procedure", "MedicationRequest",
                                        "MedicationStatement", "AllergyIntolerance", "ServiceRequest")}


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------

def ob(name: str, value=True, **attrs) -> Fact:
    """An Observation fact with components (onset, progressive, laterality)."""
    sub = {k: Fact(f"{name}.{k}", v, (Source("Observation", f"{name}-obs"),)) for k, v in attrs.items()}
    return Fact(name, value, (Source("Observation", f"{name}-obs", "2026-11-22"),), attrs=sub)


def deficit(laterality="unilateral", days=3, progressive=True, name="radicular-deficit") -> Fact:
    attrs = {}
    if laterality is not None:
        attrs["laterality"] = laterality
    if days is not None:
        attrs["onset"] = NOW - timedelta(days=days)
    if progressive is not None:
        attrs["progressive"] = progressive
    return ob(name, True, **attrs)


def cancer(kind="breast", onset: date | None = date(2025, 1, 1), category=CancerCategory.SOLID,
           suspected=False) -> Cancer:
    return Cancer(kind, category, Source("Condition", f"ca-{kind}"), onset=onset,
                  onset_field="onsetDateTime" if onset else None, suspected=suspected)


def metastasis(level="L1", onset: date | None = None, suspected=False) -> ConditionRecord:
    return ConditionRecord("spinal-metastasis", Source("Condition", f"met-{level}"), level=level,
                           suspected=suspected, onset=onset)


def patient(*observations: Fact, cancers=(), conditions=(), events=(), medications=(),
            orders=(), searches=None) -> PatientFacts:
    return PatientFacts(
        now=NOW, patient_id="p1",
        observations={(f.name, f.level): f for f in observations},
        cancers=list(cancers), conditions=list(conditions), events=list(events),
        medications=list(medications), draft_orders=list(orders),
        searches=dict(ALL_OK if searches is None else searches))


NEURO_NEGATIVE = (ob("mescc-deficit", False), ob("radicular-deficit", False), ob("radicular-pain", False))
SUSPECTED = (ob("back-pain"), ob("night-pain"))


def topic(findings: list[Finding], name: str) -> Finding | None:
    found = [f for f in findings if f.topic == name]
    assert len(found) <= 1, found
    return found[0] if found else None


def mri(facts: PatientFacts) -> Finding | None:
    return topic(dx.evaluate(facts, POLICY), "mri-urgency")


def note_keys(f: Finding) -> list[str]:
    return [n.key for n in f.notes]


def missing_codes(f: Finding) -> list[str]:
    return [m.code for m in f.missing]


# ---------------------------------------------------------------------------
# DX-1 suspicion and entry condition
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("alarm", ["night-pain", "progressive-pain", "new-local-back-pain",
                                   "spinal-percussion-pain", "poor-general-condition"])
def test_DX1_back_pain_with_each_alarm_symptom_raises_suspicion(alarm):
    f = mri(patient(ob("back-pain"), ob(alarm), *NEURO_NEGATIVE))
    assert f is not None and wire(f) == {"windowHours": 336, "rule": "DX-2e"}
    assert "DX-1" in f.rules
    crit = {c.key: c.status for c in f.criteria}
    assert crit[f"dx.crit.alarm.{alarm}"] == Status.MET


def test_DX1_back_pain_without_alarm_symptoms_gives_no_card():
    alarms = [ob(a, False) for a in POLICY.get("diagnosis", "alarm_symptoms")]
    assert mri(patient(ob("back-pain"), *alarms, *NEURO_NEGATIVE)) is None


def test_DX1_alarm_symptom_without_back_pain_recorded_false_gives_no_card():
    assert mri(patient(ob("back-pain", False), ob("poor-general-condition"), *NEURO_NEGATIVE)) is None


def test_DX1_night_pain_implies_back_pain_by_policy():
    f = mri(patient(ob("night-pain"), *NEURO_NEGATIVE))
    assert wire(f)["rule"] == "DX-2e"
    assert any(c.key == "dx.crit.back-pain-implied" for c in f.criteria)


def test_DX1_mescc_deficit_alone_raises_suspicion_of_mescc():
    f = mri(patient(ob("mescc-deficit")))
    assert wire(f) == {"windowHours": 12, "rule": "DX-2a"}
    assert {c.key: c.status for c in f.criteria}["dx.crit.mescc-suspicion"] == Status.MET


def test_DX1_stable_deficit_without_back_pain_raises_no_suspicion():
    f = mri(patient(ob("back-pain", False), deficit(progressive=False), ob("mescc-deficit", False)))
    assert f is None


def test_DX1_back_pain_known_malignancy_alarms_unknown_asks_to_assess():
    f = mri(patient(ob("back-pain"), cancers=[cancer()]))
    assert f is not None
    assert f.indicator == Indicator.INFO
    assert wire(f) == {"windowHours": None, "rule": None}
    assert f.suggestions == []
    for code in POLICY.get("diagnosis", "alarm_symptoms"):
        assert code in missing_codes(f)
    assert "dx.note.known-malignancy" in note_keys(f)


ALARMS_FALSE = tuple(ob(a, False) for a in POLICY.get("diagnosis", "alarm_symptoms"))


@pytest.mark.parametrize("obs,variant,not_missing,missing", [
    # alarms all recorded (absent), neurological findings missing: do not say "alarms not assessed"
    ((ob("back-pain"), *ALARMS_FALSE), "assess-neuro", ["night-pain"], ["mescc-deficit", "radicular-deficit"]),
    # alarms missing, neurological findings recorded
    ((ob("back-pain"), ob("mescc-deficit", False), ob("radicular-deficit", False)), "assess",
     ["mescc-deficit"], ["night-pain"]),
    # both missing
    ((ob("back-pain"),), "assess-both", [], ["night-pain", "mescc-deficit"]),
])
def test_DX1_assess_card_names_what_is_missing(obs, variant, not_missing, missing):
    f = mri(patient(*obs, cancers=[cancer()]))
    assert wire(f) == {"windowHours": None, "rule": None}
    assert f.conclusion.key == f"dx.mri.conclusion.{variant}"
    assert f.summary.key == f"dx.mri.summary.{variant}"
    for code in missing:
        assert code in missing_codes(f)
    for code in not_missing:
        assert code not in missing_codes(f)


def test_DX1_back_pain_alarms_unknown_without_malignancy_gives_no_card():
    assert mri(patient(ob("back-pain"))) is None


def test_DX1_known_malignancy_strengthens_the_text():
    f = mri(patient(*SUSPECTED, *NEURO_NEGATIVE, cancers=[cancer("prostate")]))
    note = next(n for n in f.notes if n.key == "dx.note.known-malignancy")
    assert note.params["types"] == [Message("dx.cancer.prostate")]


# ---------------------------------------------------------------------------
# DX-2 rows, boundaries and policies
# ---------------------------------------------------------------------------

def test_DX2a_mescc_deficit_is_12_hours_critical_with_stat_suggestion():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit")))
    assert wire(f) == {"windowHours": 12, "rule": "DX-2a"}
    assert f.indicator == Indicator.CRITICAL
    assert [(s.kind, dict(s.params)) for s in f.suggestions] == \
        [("create-mri-whole-spine", {"priority": "stat", "within_hours": 12, "rule": "DX-2a"})]
    assert f.override_reasons


@pytest.mark.parametrize("laterality,rule,policy_note", [
    ("bilateral", "DX-2a", False),
    ("unilateral", "DX-2b", False),
    (None, "DX-2a", True),
])
def test_DX2a_bilateral_vs_unilateral_vs_missing_laterality(laterality, rule, policy_note):
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-pain", False),
                    deficit(laterality=laterality, days=2)))
    assert wire(f)["rule"] == rule
    assert ("dx.note.policy.unknown-laterality" in note_keys(f)) is policy_note
    assert ("radicular-deficit.laterality" in missing_codes(f)) is policy_note


@pytest.mark.parametrize("days,hours_extra,rule,window,indicator", [
    (0, 0, "DX-2b", 24, Indicator.CRITICAL),
    (7, 0, "DX-2b", 24, Indicator.CRITICAL),      # day 7 is "within 7 days"
    (7, 23, "DX-2b", 24, Indicator.CRITICAL),     # 7 days 23 hours: still 7 whole days
    (8, 0, "DX-2c", 48, Indicator.WARNING),       # day 8 is "more than 7 days"
    (30, 0, "DX-2c", 48, Indicator.WARNING),
])
def test_DX2b_DX2c_onset_boundary_7_vs_8_days(days, hours_extra, rule, window, indicator):
    d = ob("radicular-deficit", True, laterality="unilateral", progressive=True,
           onset=NOW - timedelta(days=days, hours=hours_extra))
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), d))
    assert wire(f) == {"windowHours": window, "rule": rule}
    assert f.indicator == indicator
    assert f.suggestions[0].params["within_hours"] == window


def test_DX2b_onset_as_a_date_counts_whole_days():
    d = ob("radicular-deficit", True, laterality="unilateral", progressive=True,
           onset=date(2026, 11, 16))  # 7 days before NOW's date
    assert mri(patient(*SUSPECTED, ob("mescc-deficit", False), d)).result.rule == "DX-2b"


def test_DX2c_stable_unilateral_deficit_by_policy():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=2, progressive=False)))
    assert wire(f) == {"windowHours": 48, "rule": "DX-2c"}
    assert "dx.note.policy.stable-unilateral" in note_keys(f)


@pytest.mark.parametrize("days,rule", [
    (3, "DX-2b"),     # unknown progression, recent: the stricter row, by policy
    (10, "DX-2c"),    # unknown progression, old: DX-2c either way
])
def test_DX2_unknown_progression(days, rule):
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=days, progressive=None)))
    assert wire(f)["rule"] == rule
    assert "dx.note.policy.unknown-progression" in note_keys(f)
    assert "radicular-deficit.progressive" in missing_codes(f)


def test_DX1_unknown_progression_of_a_deficit_raises_mescc_suspicion_by_policy():
    f = mri(patient(ob("back-pain", False), ob("mescc-deficit", False), deficit(days=3, progressive=None)))
    assert wire(f) == {"windowHours": 24, "rule": "DX-2b"}
    assert {c.key: c.status for c in f.criteria}["dx.crit.mescc-suspicion"] == Status.MET
    assert "dx.note.policy.unknown-progression" in note_keys(f)


MESCC_5_DAYS = ob("mescc-deficit", onset=NOW - timedelta(days=5))


def test_DX2_answered_by_a_whole_spine_mri_done_after_the_onset_gives_no_card():
    # rules 2026.12 "Answered deadlines" (issue 15, defect 3): no mri-urgency card once answered
    ev = Event("mri-whole-spine", Source("ImagingStudy", "i1"), "done", date="2026-11-20")
    assert mri(patient(*SUSPECTED, MESCC_5_DAYS, events=[ev])) is None


def test_DX2_unknown_onset_takes_the_stricter_row():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=None, progressive=True)))
    assert wire(f) == {"windowHours": 24, "rule": "DX-2b"}
    assert "dx.note.policy.unknown-onset" in note_keys(f)
    assert "radicular-deficit.onset" in missing_codes(f)


@pytest.mark.parametrize("lat,days,progressive,rule,key", [
    ("unilateral", 2, True, "DX-2b", "dx.mri.conclusion.DX-2b"),
    ("unilateral", 10, True, "DX-2c", "dx.mri.conclusion.DX-2c"),
    ("unilateral", 2, False, "DX-2c", "dx.mri.conclusion.stable"),
    ("unilateral", 10, None, "DX-2c", "dx.mri.conclusion.DX-2c.progression-unknown"),
    ("unilateral", 2, None, "DX-2b", "dx.mri.conclusion.DX-2b.progression-unknown"),
    ("unilateral", None, True, "DX-2b", "dx.mri.conclusion.DX-2b.onset-unknown"),
    ("unilateral", None, None, "DX-2b", "dx.mri.conclusion.DX-2b.onset-progression-unknown"),
    (None, 2, True, "DX-2a", "dx.mri.conclusion.DX-2a.laterality-unknown"),
])
def test_DX2b_DX2c_conclusion_states_only_what_was_decided(lat, days, progressive, rule, key):
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-pain", False),
                    deficit(laterality=lat, days=days, progressive=progressive)))
    assert wire(f)["rule"] == rule
    assert f.conclusion.key == key
    en = render(f.conclusion, CATALOGS["en"])
    if progressive is not True:
        assert "and is progressive" not in en
    if days is None:
        assert "arose within 7 days" not in en


def test_DX2_policy_switched_off_leaves_the_row_undecided():
    from spine_guideline.policy import load_policy as lp
    strict = lp({"diagnosis": {"unknown_onset_takes_stricter_row": False}})
    facts = patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=None, progressive=True))
    f = topic(dx.evaluate(facts, strict), "mri-urgency")
    assert wire(f) == {"windowHours": None, "rule": None}


def test_DX2_unilateral_deficit_never_goes_to_DX2a():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=1)))
    assert wire(f)["rule"] == "DX-2b"


def test_DX2_most_severe_picture_wins():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit"), deficit(days=20), ob("radicular-pain")))
    assert wire(f)["rule"] == "DX-2a"


def test_DX2d_radicular_pain_without_deficit_is_one_week_warning():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-deficit", False),
                    ob("radicular-pain", True, laterality="unilateral")))
    assert wire(f) == {"windowHours": 168, "rule": "DX-2d"}
    assert f.indicator == Indicator.WARNING
    assert f.suggestions[0].params == {"priority": "urgent", "within_hours": 168, "rule": "DX-2d"}
    assert "dx.note.bilateral-radicular-pain" not in note_keys(f)


def test_DX2d_bilateral_radicular_pain_prompts_cauda_check():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-deficit", False),
                    ob("radicular-pain", True, laterality="bilateral")))
    assert wire(f)["rule"] == "DX-2d"
    assert "dx.note.bilateral-radicular-pain" in note_keys(f)


def test_DX2e_local_back_pain_only_is_two_weeks_info():
    f = mri(patient(*SUSPECTED, *NEURO_NEGATIVE))
    assert wire(f) == {"windowHours": 336, "rule": "DX-2e"}
    assert f.indicator == Indicator.INFO
    assert f.suggestions[0].params == {"priority": "routine", "within_hours": 336, "rule": "DX-2e"}
    assert f.override_reasons == []


def test_DX2_missing_neurological_data_is_listed_and_no_window_is_guessed():
    f = mri(patient(*SUSPECTED))
    assert wire(f) == {"windowHours": None, "rule": None}
    assert f.indicator == Indicator.WARNING
    assert f.suggestions == []
    assert missing_codes(f)[:3] == ["mescc-deficit", "radicular-deficit", "radicular-pain"]
    assert all(m.why == "not-recorded" for m in f.missing)


def test_DX2_undecided_is_at_least_as_urgent_as_the_known_picture():
    # unilateral recent progressive deficit (DX-2b, 24 h) but MESCC deficit not examined (could be DX-2a)
    f = mri(patient(*SUSPECTED, deficit(days=2)))
    assert wire(f) == {"windowHours": None, "rule": None}
    assert f.indicator == Indicator.CRITICAL
    assert missing_codes(f)[0] == "mescc-deficit"
    assert f.conclusion.params["upper"] == Message("dx.duration.hours", {"n": 24})


def test_DX2_missing_data_that_cannot_change_the_row_is_not_listed():
    f = mri(patient(*SUSPECTED, ob("mescc-deficit")))
    assert wire(f)["rule"] == "DX-2a"
    assert "radicular-pain" not in missing_codes(f)
    assert "radicular-deficit" not in missing_codes(f)


def test_DX2_search_failed_is_reported_as_the_reason():
    facts = patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-deficit", False))
    facts.searches["Observation"] = SearchStatus.FAILED
    f = mri(facts)
    assert ("radicular-pain", "search-failed") in [(m.code, m.why) for m in f.missing]


def test_DX2_severe_deficit_alone_does_not_choose_a_row():
    # rules 2026.12 (issue 15, defect 2): severe-neurological-deficit has no laterality of its own
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-deficit", False),
                    ob("radicular-pain", False), ob("severe-neurological-deficit", True, progressive=True)))
    assert wire(f) == {"windowHours": 336, "rule": "DX-2e"}
    assert "dx.note.severe-deficit-noted" in note_keys(f)


@pytest.mark.parametrize("event,suggested,note", [
    (Event("mri-whole-spine", Source("ServiceRequest", "s1"), "planned"), False, "dx.note.mri-planned"),
    (Event("mri-whole-spine", Source("ImagingStudy", "i0"), "done", date="2025-01-10"), True, "dx.note.mri-old"),
    (Event("mri-segment", Source("ImagingStudy", "i2"), "done", date="2026-11-20"), True, "dx.note.segment-not-enough"),
])
def test_DX2_no_suggestion_when_whole_spine_mri_recent_or_planned(event, suggested, note):
    f = mri(patient(*SUSPECTED, MESCC_5_DAYS, events=[event]))
    assert wire(f)["windowHours"] == 12
    assert bool(f.suggestions) is suggested
    assert note in note_keys(f)


def test_DX2a_mri_done_before_the_deficit_arose_does_not_silence_the_deadline():
    # an MRI 10 days ago, a bilateral deficit since yesterday: the 12-hour deadline stands
    ev = Event("mri-whole-spine", Source("ImagingStudy", "i9"), "done", date="2026-11-13")
    f = mri(patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-pain", False),
                    deficit(laterality="bilateral", days=1), events=[ev]))
    assert wire(f) == {"windowHours": 12, "rule": "DX-2a"}
    assert f.indicator == Indicator.CRITICAL
    assert f.summary.key == "dx.mri.summary.window"
    assert [s.kind for s in f.suggestions] == ["create-mri-whole-spine"]
    assert "dx.note.mri-before-onset" in note_keys(f) and "dx.note.mri-done" not in note_keys(f)


def test_DX2c_mri_done_after_the_deficit_arose_answers_the_deadline():
    ev = Event("mri-whole-spine", Source("ImagingStudy", "i8"), "done", date="2026-11-20")
    assert mri(patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-pain", False),
                       deficit(days=10), events=[ev])) is None


def test_DX2a_mri_done_same_day_as_onset_without_time_is_not_taken_as_after():
    ev = Event("mri-whole-spine", Source("ImagingStudy", "i7"), "done", date="2026-11-22")
    onset_day = ob("mescc-deficit", onset=date(2026, 11, 22))
    f = mri(patient(*SUSPECTED, onset_day, events=[ev]))
    assert f.suggestions and "dx.note.mri-before-onset" in note_keys(f)
    later = Event("mri-whole-spine", Source("ImagingStudy", "i6"), "done", date="2026-11-22T15:00:00+00:00")
    timed = ob("mescc-deficit", onset=datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    assert mri(patient(*SUSPECTED, timed, events=[later])) is None  # answered


def test_DX2a_mri_done_with_unknown_onset_is_held_to_the_findings_earliest_record():
    # rules 2026.12 "Answered deadlines": without an onset, the finding's earliest record starts the clock
    ev = Event("mri-whole-spine", Source("ImagingStudy", "i5"), "done", date="2026-11-20")
    f = mri(patient(*SUSPECTED, ob("mescc-deficit"), events=[ev]))  # recorded 2026-11-22, after the MRI
    assert f.indicator == Indicator.CRITICAL
    assert [s.kind for s in f.suggestions] == ["create-mri-whole-spine"]
    assert "dx.note.mri-before-onset" in note_keys(f)
    later = Event("mri-whole-spine", Source("ImagingStudy", "i4"), "done", date="2026-11-23")
    assert mri(patient(*SUSPECTED, ob("mescc-deficit"), events=[later])) is None
    undated_finding = Fact("mescc-deficit", True, (Source("Observation", "m"),))
    f = mri(patient(*SUSPECTED, undated_finding, events=[ev]))  # no date at all: policy counts it as old
    assert "dx.note.mri-onset-unknown" in note_keys(f) and "mescc-deficit.onset" in missing_codes(f)


def test_DX2f_safety_netting_on_every_mri_urgency_card():
    cases = [patient(*SUSPECTED, *NEURO_NEGATIVE), patient(*SUSPECTED),
             patient(ob("back-pain"), cancers=[cancer()]), patient(ob("mescc-deficit"))]
    for facts in cases:
        f = mri(facts)
        assert "dx.note.safety-netting" in note_keys(f)
        assert "DX-2f" in f.rules


# ---------------------------------------------------------------------------
# DX-3 / DX-6 / DX-7 corticosteroids
# ---------------------------------------------------------------------------

SEVERE = ob("severe-neurological-deficit", True, laterality="bilateral", progressive=True)
NO_DOUBT = (ob("atypical-radiology", False), ob("progression-elsewhere", True))


def steroids(facts: PatientFacts) -> Finding | None:
    return topic(dx.evaluate(facts, POLICY), "corticosteroids")


def test_DX3_severe_deficit_known_primary_no_doubt_start_with_dose():
    f = steroids(patient(SEVERE, *NO_DOUBT, cancers=[cancer()]))
    assert wire(f) == {"advice": "start", "rule": "DX-3"}
    assert "DX-3" in f.rules and "TX-1" in f.rules
    assert [s.kind for s in f.suggestions] == ["create-dexamethasone"]
    dose = f.conclusion.params["dose"]
    assert dose.params == {"loading": 10, "daily": "8-16"}


def test_DX3_unknown_doubt_still_starts():
    f = steroids(patient(SEVERE, cancers=[cancer()]))
    assert wire(f)["advice"] == "start"
    assert "dx.note.doubt-unknown-start" in note_keys(f)


def test_DX3_start_text_with_unknown_doubt_does_not_claim_there_is_no_doubt():
    f = steroids(patient(SEVERE, cancers=[cancer()]))
    assert f.conclusion.key == "dx.steroids.conclusion.start.doubt-unknown"
    assert "without doubt" not in render(f.conclusion, CATALOGS["en"])
    assert "zonder twijfel" not in render(f.conclusion, CATALOGS["nl"])
    known = steroids(patient(SEVERE, *NO_DOUBT, cancers=[cancer()]))
    assert known.conclusion.key == "dx.steroids.conclusion.start"


@pytest.mark.parametrize("no_doubt,key", [
    (True, "dx.steroids.conclusion.start.mri-done"),
    (False, "dx.steroids.conclusion.start.mri-done.doubt-unknown"),
])
def test_DX3_start_text_once_the_mri_is_done_does_not_say_before_the_mri(no_doubt, key):
    severe = ob("severe-neurological-deficit", True, laterality="bilateral", progressive=True,
                onset=NOW - timedelta(days=5))
    ev = Event("mri-whole-spine", Source("ImagingStudy", "i1"), "done", date="2026-11-21")
    f = steroids(patient(severe, *(NO_DOUBT if no_doubt else ()), cancers=[cancer()], events=[ev]))
    assert wire(f)["advice"] == "start"
    assert f.conclusion.key == key
    assert "before the MRI" not in render(f.conclusion, CATALOGS["en"])
    assert "vóór de MRI" not in render(f.conclusion, CATALOGS["nl"])


def test_DX3_assess_severity_text_with_unknown_doubt_does_not_claim_there_is_no_doubt():
    f = steroids(patient(ob("mescc-deficit"), cancers=[cancer()]))
    assert f.conclusion.key == "dx.steroids.conclusion.assess-severity.doubt-unknown"
    assert "without doubt" not in render(f.conclusion, CATALOGS["en"])
    assert "zonder twijfel" not in render(f.conclusion, CATALOGS["nl"])


def test_DX3_no_start_suggestion_when_corticosteroid_already_active():
    med = Medication("corticosteroid", Source("MedicationRequest", "dex"))
    f = steroids(patient(ob("severe-neurological-deficit", True, progressive=False), *NO_DOUBT,
                         cancers=[cancer()], medications=[med], conditions=[metastasis()]))
    assert wire(f)["advice"] == "start"
    assert f.suggestions == []
    assert f.indicator == Indicator.INFO


def test_DX3_severe_deficit_with_known_primary_and_nothing_else_starts():
    # entry condition of the spec: severe-neurological-deficit true is enough (no spinal-pathway gate)
    f = steroids(patient(ob("severe-neurological-deficit", True, progressive=False), *NO_DOUBT,
                         ob("back-pain", False), cancers=[cancer()]))
    assert f is not None and wire(f) == {"advice": "start", "rule": "DX-3"}
    assert [s.kind for s in f.suggestions] == ["create-dexamethasone"]


def test_DX6_severe_deficit_without_any_cancer_or_spinal_context_withholds():
    f = steroids(patient(ob("severe-neurological-deficit", True, progressive=False), ob("back-pain", False)))
    assert f is not None and wire(f) == {"advice": "withhold", "rule": "DX-6"}


@pytest.mark.parametrize("cancers,reason", [
    ([], "no-known-primary"),
    ([cancer("unknown-primary", category=CancerCategory.UNKNOWN_PRIMARY)], "no-known-primary"),
    ([cancer("secondary", category=CancerCategory.SECONDARY)], "no-known-primary"),
    ([cancer("lung", suspected=True)], "no-known-primary"),
])
def test_DX6_no_known_primary_withhold(cancers, reason):
    f = steroids(patient(SEVERE, cancers=cancers))
    assert wire(f) == {"advice": "withhold", "rule": "DX-6"}
    assert f.suggestions == []
    assert f.conclusion.params["reasons"] == [Message(f"dx.reason.{reason}")]
    assert "dx.note.dx7-escalation" in note_keys(f)


def test_DX6_C80_note_says_it_does_not_make_a_primary_known():
    f = steroids(patient(SEVERE, cancers=[cancer("unknown-primary", category=CancerCategory.UNKNOWN_PRIMARY)]))
    assert "dx.note.unknown-primary-code" in note_keys(f)


def test_DX4_secondary_code_note_only_when_no_primary_is_known():
    sec = cancer("secondary", category=CancerCategory.SECONDARY)
    with_primary = steroids(patient(SEVERE, *NO_DOUBT, cancers=[cancer(), sec]))
    without = steroids(patient(SEVERE, cancers=[sec]))
    assert "dx.note.secondary-not-primary" not in note_keys(with_primary)
    assert "dx.note.secondary-not-primary" in note_keys(without)


def test_DX6_doubt_established_withholds():
    f = steroids(patient(SEVERE, ob("atypical-radiology"), cancers=[cancer()]))
    assert wire(f)["advice"] == "withhold"
    assert "DX-4" in f.rules and "DX-6" in f.rules


def test_DX6_condition_search_failed_is_undecided():
    searches = dict(ALL_OK, Condition=SearchStatus.FAILED)
    f = steroids(patient(SEVERE, searches=searches))
    assert wire(f) == {"advice": None, "rule": None}
    assert ("primary-cancer", "search-failed") in [(m.code, m.why) for m in f.missing]


def test_DX6_unrecognised_cancer_code_is_undecided_not_guessed():
    f = steroids(patient(SEVERE, cancers=[Cancer("unrecognised", CancerCategory.UNRECOGNISED,
                                                 Source("Condition", "x"), code="sct|123")]))
    assert wire(f)["advice"] is None
    assert "dx.note.unrecognised-cancer" in note_keys(f)


def test_DX3_DX6_entry_needs_a_deficit():
    assert steroids(patient(*SUSPECTED, *NEURO_NEGATIVE)) is None


def test_DX3_mescc_deficit_not_severe_gives_an_info_card_DX3_not_met():
    # entry condition (mescc-deficit true) holds: a card that says DX-3 is not met, not silence
    f = steroids(patient(ob("mescc-deficit"), ob("severe-neurological-deficit", False), *NO_DOUBT,
                         cancers=[cancer()]))
    assert f is not None and wire(f) == {"advice": None, "rule": None}
    assert f.indicator == Indicator.INFO and f.suggestions == []
    assert f.summary.key == "dx.steroids.summary.not-severe"
    assert {c.key: c.status for c in f.criteria}["dx.crit.severe-deficit"] == Status.NOT_MET
    assert "severe-neurological-deficit" not in missing_codes(f)


def test_DX3_mescc_deficit_severity_unknown_asks_to_record_it():
    f = steroids(patient(ob("mescc-deficit"), *NO_DOUBT, cancers=[cancer()]))
    assert wire(f)["advice"] is None
    assert "severe-neurological-deficit" in missing_codes(f)


def test_DX7_progressive_deficit_despite_corticosteroids_is_critical():
    med = Medication("corticosteroid", Source("MedicationStatement", "pred"))
    f = steroids(patient(SEVERE, *NO_DOUBT, cancers=[cancer()], medications=[med]))
    assert "DX-7" in f.rules
    assert f.indicator == Indicator.CRITICAL
    assert "dx.note.dx7-fired" in note_keys(f)


def test_DX7_not_fired_without_active_corticosteroid():
    f = steroids(patient(SEVERE, *NO_DOUBT, cancers=[cancer()]))
    assert "DX-7" not in f.rules


@pytest.mark.parametrize("severe", [False, None])
def test_DX7_progressive_mescc_deficit_despite_corticosteroids_fires_when_not_severe(severe):
    med = Medication("corticosteroid", Source("MedicationRequest", "dex"))
    extra = (ob("severe-neurological-deficit", False),) if severe is False else ()
    f = steroids(patient(ob("mescc-deficit", progressive=True), *extra, *NO_DOUBT, cancers=[cancer()],
                         conditions=[metastasis()], medications=[med]))
    assert f is not None and "DX-7" in f.rules
    assert f.indicator == Indicator.CRITICAL
    assert f.summary.key == "dx.steroids.summary.dx7"
    assert "dx.note.dx7-fired" in note_keys(f)
    assert wire(f)["advice"] is None
    assert ("severe-neurological-deficit" in missing_codes(f)) is (severe is None)


@pytest.mark.parametrize("severe", [False, None])
def test_DX3_corticosteroid_order_known_primary_deficit_not_severe_or_unknown_gives_a_card(severe):
    o = DraftOrder("corticosteroid", "MedicationRequest", "dex-9")
    extra = (ob("severe-neurological-deficit", severe),) if severe is not None else ()
    [f] = orders(patient(*extra, *NO_DOUBT, cancers=[cancer()], conditions=[metastasis()], orders=[o]))
    assert f.topic == "corticosteroids" and f.key == "MedicationRequest/dex-9"
    assert wire(f) == {"advice": None, "rule": None}
    assert "DX-3" in f.rules
    # the missing severity is asked for, not silently dropped
    assert ("severe-neurological-deficit" in missing_codes(f)) is (severe is None)
    assert f.summary.key == ("dx.steroids.summary.order-not-severe" if severe is False
                             else "dx.steroids.summary.order-assess-severity")


def test_DX7_on_a_corticosteroid_order_with_progressive_deficit_and_active_steroid():
    med = Medication("corticosteroid", Source("MedicationRequest", "dex"))
    o = DraftOrder("corticosteroid", "MedicationRequest", "dex-10")
    [f] = orders(patient(ob("mescc-deficit", progressive=True), ob("severe-neurological-deficit", False),
                         *NO_DOUBT, cancers=[cancer()], conditions=[metastasis()], medications=[med],
                         orders=[o]))
    assert "DX-7" in f.rules and f.indicator == Indicator.CRITICAL


# ---------------------------------------------------------------------------
# DX-4 / DX-5 diagnostic work-up
# ---------------------------------------------------------------------------

def workup(facts: PatientFacts) -> Finding | None:
    return topic(dx.evaluate(facts, POLICY), "diagnostic-workup")


def test_DX5_entry_needs_a_spinal_metastasis_condition():
    assert workup(patient(*NO_DOUBT, cancers=[cancer()])) is None


def test_DX5_no_known_primary_pet_ct_and_biopsy():
    f = workup(patient(conditions=[metastasis(suspected=True)]))
    assert wire(f) == {"steps": ["pet-ct", "biopsy"], "reasons": ["no-known-primary"]}
    assert f.indicator == Indicator.WARNING
    assert "DX-5" in f.rules


@pytest.mark.parametrize("kind,onset,reference,long_", [
    ("lung", date(2024, 11, 23), None, False),          # exactly 2 years: not more than 2
    ("lung", date(2024, 11, 22), None, True),           # 2 years and 1 day
    ("breast", date(2024, 11, 22), None, False),        # 2 years is short for other types
    ("breast", date(2021, 11, 23), None, False),        # exactly 5 years
    ("breast", date(2021, 11, 22), None, True),         # 5 years and 1 day
    ("multiple-myeloma", date(2021, 11, 22), None, True),
    ("lung", date(2024, 11, 22), date(2025, 1, 1), False),  # interval to the metastasis onset
])
def test_DX4_interval_boundaries(kind, onset, reference, long_):
    facts = patient(*NO_DOUBT, cancers=[cancer(kind, onset=onset)],
                    conditions=[metastasis(onset=reference)])
    f = workup(facts)
    assert ("long-interval" in wire(f)["reasons"]) is long_
    assert wire(f)["steps"] == (["pet-ct", "biopsy"] if long_ else [])
    crit = next(c for c in f.criteria if c.key == "dx.crit.long-interval")
    assert crit.params["onset_field"] == "onsetDateTime"
    assert crit.status == Status.of(long_)


def test_DX4_interval_uses_recordedDate_fallback_and_names_it():
    c = Cancer("lung", CancerCategory.SOLID, Source("Condition", "ca"), onset=date(2020, 1, 1),
               onset_field="recordedDate")
    f = workup(patient(*NO_DOUBT, cancers=[c], conditions=[metastasis()]))
    crit = next(c for c in f.criteria if c.key == "dx.crit.long-interval")
    assert crit.params["onset_field"] == "recordedDate"
    assert "long-interval" in wire(f)["reasons"]


def test_DX4_short_interval_with_one_primary_removes_interval_doubt():
    cs = [cancer("lung", onset=date(2010, 1, 1)), cancer("breast", onset=date(2026, 1, 1))]
    f = workup(patient(*NO_DOUBT, cancers=cs, conditions=[metastasis()]))
    assert "long-interval" not in wire(f)["reasons"]


@pytest.mark.parametrize("obs,reason", [
    ((ob("atypical-radiology", True), ob("progression-elsewhere", True)), "atypical-radiology"),
    ((ob("atypical-radiology", False), ob("progression-elsewhere", False)), "no-progression-elsewhere"),
])
def test_DX4_doubt_reasons_give_DX5_steps(obs, reason):
    f = workup(patient(*obs, cancers=[cancer()], conditions=[metastasis()]))
    assert wire(f) == {"steps": ["pet-ct", "biopsy"], "reasons": [reason]}
    assert "DX-4" in f.rules and "DX-5" in f.rules


def test_DX4_no_doubt_no_steps_info():
    f = workup(patient(*NO_DOUBT, cancers=[cancer()], conditions=[metastasis()]))
    assert wire(f) == {"steps": [], "reasons": []}
    assert f.indicator == Indicator.INFO


def test_DX4_unknown_doubt_lists_missing():
    f = workup(patient(cancers=[cancer()], conditions=[metastasis()]))
    assert wire(f) == {"steps": [], "reasons": []}
    assert {"atypical-radiology", "progression-elsewhere"} <= set(missing_codes(f))
    assert f.summary.key == "dx.workup.summary.undecided"


def test_DX4_missing_onset_listed():
    f = workup(patient(*NO_DOUBT, cancers=[cancer(onset=None)], conditions=[metastasis()]))
    assert "primary-cancer-onset" in missing_codes(f)


# ---------------------------------------------------------------------------
# order hooks: mri-order and corticosteroid orders
# ---------------------------------------------------------------------------

def orders(facts: PatientFacts) -> list[Finding]:
    return dx.evaluate_orders(facts, POLICY)


def test_DX2_mri_order_segment_routine_is_fixed_to_whole_spine_stat():
    o = DraftOrder("mri-segment", "ServiceRequest", "mri-1", priority="routine", levels=("L1",))
    [f] = orders(patient(*SUSPECTED, ob("mescc-deficit"), orders=[o]))
    assert f.topic == "mri-order" and f.key == "ServiceRequest/mri-1"
    assert wire(f) == {"orderedWithinHours": 336, "requiredWithinHours": 12, "wholeSpine": False}
    assert f.indicator == Indicator.CRITICAL
    assert [(s.kind, dict(s.params)) for s in f.suggestions] == [
        ("update-mri-order", {"order_id": "mri-1", "priority": "stat", "within_hours": 12,
                              "whole_spine": True})]


@pytest.mark.parametrize("deadline_hours,priority,ordered,ok", [
    (20, None, 20, True),
    (30, "stat", 30, False),       # the deadline wins over the priority
    (None, "asap", 24, True),
    (None, "urgent", 72, False),
    (None, None, None, False),
])
def test_DX2b_mri_order_deadline_vs_window(deadline_hours, priority, ordered, ok):
    deadline = NOW + timedelta(hours=deadline_hours) if deadline_hours is not None else None
    o = DraftOrder("mri-whole-spine", "ServiceRequest", "mri-2", priority=priority, deadline=deadline)
    [f] = orders(patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=1), orders=[o]))
    assert wire(f) == {"orderedWithinHours": ordered, "requiredWithinHours": 24, "wholeSpine": True}
    assert bool(f.suggestions) is not ok
    assert f.indicator == (Indicator.INFO if ok else Indicator.CRITICAL)


@pytest.mark.parametrize("hours", [-5, 0])
def test_DX2a_mri_order_with_a_deadline_passed_is_not_judged_in_time(hours):
    o = DraftOrder("mri-whole-spine", "ServiceRequest", "mri-p", deadline=NOW + timedelta(hours=hours))
    [f] = orders(patient(*SUSPECTED, ob("mescc-deficit"), orders=[o]))
    assert wire(f) == {"orderedWithinHours": hours, "requiredWithinHours": 12, "wholeSpine": True}
    assert f.indicator == Indicator.CRITICAL
    assert f.summary.key == "dx.order.summary.fix"
    assert [m.key for m in f.conclusion.params["problems"]] == ["dx.order.problem.deadline-passed"]
    assert "dx.note.order-deadline-passed" in note_keys(f) and "dx.note.order-deadline" not in note_keys(f)
    assert [(s.kind, dict(s.params)) for s in f.suggestions] == [
        ("update-mri-order", {"order_id": "mri-p", "priority": "stat", "within_hours": 12,
                              "whole_spine": True})]
    crit = next(c for c in f.criteria if c.key == "dx.crit.order-in-time.passed")
    assert crit.status == Status.NOT_MET


def test_DX2e_mri_order_with_a_deadline_passed_is_a_warning():
    o = DraftOrder("mri-whole-spine", "ServiceRequest", "mri-q", deadline=NOW - timedelta(hours=30))
    [f] = orders(patient(*SUSPECTED, *NEURO_NEGATIVE, orders=[o]))
    assert wire(f)["requiredWithinHours"] == 336
    assert f.indicator == Indicator.WARNING
    assert f.suggestions and f.suggestions[0].params["within_hours"] == 336


def test_DX1_mri_order_deadline_passed_without_suspicion_says_so():
    o = DraftOrder("mri-whole-spine", "ServiceRequest", "mri-r", deadline=NOW - timedelta(hours=2))
    [f] = orders(patient(ob("back-pain"), *ALARMS_FALSE, *NEURO_NEGATIVE, orders=[o]))
    assert wire(f)["requiredWithinHours"] is None
    assert "dx.note.order-deadline-passed" in note_keys(f)


def test_DX2e_mri_order_late_for_two_weeks_is_at_least_warning():
    o = DraftOrder("mri-whole-spine", "ServiceRequest", "m", deadline=NOW + timedelta(days=20))
    [f] = orders(patient(*SUSPECTED, *NEURO_NEGATIVE, orders=[o]))
    assert wire(f)["requiredWithinHours"] == 336
    assert f.indicator == Indicator.WARNING


def test_DX1_mri_order_without_suspicion_has_no_required_window():
    o = DraftOrder("mri-segment", "ServiceRequest", "m3", priority="routine")
    alarms = [ob(a, False) for a in POLICY.get("diagnosis", "alarm_symptoms")]
    [f] = orders(patient(ob("back-pain"), *alarms, *NEURO_NEGATIVE, orders=[o]))
    assert wire(f) == {"orderedWithinHours": 336, "requiredWithinHours": None, "wholeSpine": False}
    assert f.indicator == Indicator.INFO
    assert f.suggestions == []


def test_mri_order_ignores_unselected_and_other_orders():
    o1 = DraftOrder("mri-segment", "ServiceRequest", "a", selected=False)
    o2 = DraftOrder("vertebroplasty", "ServiceRequest", "b")
    assert orders(patient(*SUSPECTED, ob("mescc-deficit"), orders=[o1, o2])) == []


def test_DX6_corticosteroid_order_without_known_primary_warns_withhold():
    o = DraftOrder("corticosteroid", "MedicationRequest", "dex-1")
    [f] = orders(patient(conditions=[metastasis(suspected=True)], orders=[o]))
    assert f.topic == "corticosteroids" and f.key == "MedicationRequest/dex-1"
    assert wire(f) == {"advice": "withhold", "rule": "DX-6"}
    assert f.indicator == Indicator.WARNING
    assert f.override_reasons


def test_DX3_corticosteroid_order_with_severe_deficit_and_known_primary_confirms():
    o = DraftOrder("corticosteroid", "MedicationRequest", "dex-2")
    [f] = orders(patient(SEVERE, *NO_DOUBT, cancers=[cancer()], orders=[o]))
    assert wire(f) == {"advice": "start", "rule": "DX-3"}
    assert f.indicator == Indicator.INFO
    assert f.suggestions == []


def test_DX6_corticosteroid_order_outside_the_spinal_pathway_gives_no_card():
    o = DraftOrder("corticosteroid", "MedicationRequest", "dex-3")
    assert orders(patient(ob("back-pain", False), ob("mescc-deficit", False),
                          ob("radicular-deficit", False), orders=[o])) == []


# ---------------------------------------------------------------------------
# message catalogs
# ---------------------------------------------------------------------------

def render(value, catalog) -> str:
    if isinstance(value, Message):
        params = {k: render(v, catalog) for k, v in value.params.items()}
        return catalog[value.key].format(**params)
    if isinstance(value, (list, tuple)):
        return ", ".join(render(v, catalog) for v in value)
    return str(value)


def _all_findings() -> list[Finding]:
    """Findings of every scenario above that produce cards, for the catalog check."""
    med = Medication("corticosteroid", Source("MedicationRequest", "dex"))
    scenarios = [
        patient(*SUSPECTED, *NEURO_NEGATIVE), patient(*SUSPECTED), patient(ob("back-pain"), cancers=[cancer()]),
        patient(ob("back-pain"), *ALARMS_FALSE, cancers=[cancer()]),
        patient(ob("back-pain"), ob("mescc-deficit", False), ob("radicular-deficit", False), cancers=[cancer()]),
        patient(*SUSPECTED, ob("mescc-deficit"), cancers=[cancer("lung")]),
        patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=None, progressive=None)),
        patient(*SUSPECTED, ob("mescc-deficit", False), deficit(laterality=None)),
        patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=20, progressive=False)),
        patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-deficit", False),
                ob("radicular-pain", True, laterality="bilateral")),
        patient(*SUSPECTED, MESCC_5_DAYS, events=[
            Event("mri-whole-spine", Source("ImagingStudy", "i"), "done", date="2026-11-20")]),
        patient(*SUSPECTED, ob("mescc-deficit"), events=[
            Event("mri-whole-spine", Source("ImagingStudy", "i"), "done", date="2026-11-20")]),
        patient(*SUSPECTED, ob("mescc-deficit", False), ob("radicular-pain", True),
                ob("radicular-deficit", False), events=[
            Event("mri-whole-spine", Source("ImagingStudy", "i"), "done", date="2026-11-20")]),
        patient(*SUSPECTED, ob("mescc-deficit", False), deficit(laterality="bilateral", days=1), events=[
            Event("mri-whole-spine", Source("ImagingStudy", "i"), "done", date="2026-11-13")]),
        patient(*SUSPECTED, ob("mescc-deficit"), events=[
            Event("mri-whole-spine", Source("ServiceRequest", "s"), "planned"),
            Event("mri-segment", Source("ImagingStudy", "x"), "done", date="2026-11-01")]),
        patient(*SUSPECTED, ob("mescc-deficit"), events=[
            Event("mri-whole-spine", Source("ImagingStudy", "o"), "done", date="2020-01-01")]),
        patient(*SUSPECTED, ob("mescc-deficit"), events=[
            Event("mri-whole-spine", Source("ImagingStudy", "u"), "done")]),
        patient(SEVERE, *NO_DOUBT, cancers=[cancer()]),
        patient(SEVERE, cancers=[cancer()], medications=[med]),
        patient(SEVERE, cancers=[cancer("unknown-primary", category=CancerCategory.UNKNOWN_PRIMARY),
                                 cancer("secondary", category=CancerCategory.SECONDARY),
                                 cancer("lung", suspected=True)],
                medications=[med], conditions=[metastasis(onset=date(2026, 1, 1))],
                events=[Event("spine-lesion-biopsy", Source("Procedure", "b"), "done", date="2026-11-01"),
                        Event("pet-ct", Source("ServiceRequest", "p"), "planned")]),
        patient(SEVERE, searches=dict(ALL_OK, Condition=SearchStatus.FAILED)),
        patient(SEVERE, cancers=[Cancer("unrecognised", CancerCategory.UNRECOGNISED,
                                        Source("Condition", "x"), code="sct|1")]),
        patient(ob("mescc-deficit"), *NO_DOUBT, cancers=[cancer()]),
        patient(SEVERE, ob("atypical-radiology"), ob("progression-elsewhere", False),
                cancers=[cancer("lung", onset=date(2010, 1, 1))], conditions=[metastasis()]),
        patient(cancers=[cancer(onset=None)], conditions=[metastasis()]),
        patient(*NO_DOUBT, cancers=[cancer()], conditions=[metastasis()]),
        patient(ob("mescc-deficit"), ob("severe-neurological-deficit", False), cancers=[cancer()],
                medications=[med]),
        patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=10, progressive=None)),
        patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=2, progressive=None)),
        patient(*SUSPECTED, ob("mescc-deficit", False), deficit(days=None, progressive=True)),
        patient(SEVERE, cancers=[cancer()]),
        patient(ob("severe-neurological-deficit", True, laterality="bilateral", onset=NOW - timedelta(days=5)),
                cancers=[cancer()], events=[Event("mri-whole-spine", Source("ImagingStudy", "i"), "done",
                                                  date="2026-11-21")]),
        patient(ob("severe-neurological-deficit", True, laterality="bilateral", onset=NOW - timedelta(days=5)),
                *NO_DOUBT, cancers=[cancer()], events=[Event("mri-whole-spine", Source("ImagingStudy", "i"),
                                                             "done", date="2026-11-21")]),
        patient(ob("mescc-deficit"), cancers=[cancer()]),
    ]
    order_scenarios = [
        patient(*SUSPECTED, ob("mescc-deficit"), orders=[
            DraftOrder("mri-segment", "ServiceRequest", "a", priority="urgent"),
            DraftOrder("mri-whole-spine", "ServiceRequest", None),
            DraftOrder("mri-whole-spine", "ServiceRequest", "c", deadline=NOW + timedelta(hours=6)),
            DraftOrder("mri-whole-spine", "ServiceRequest", "d", deadline=NOW + timedelta(hours=30.5)),
            DraftOrder("mri-whole-spine", "ServiceRequest", "d2", deadline=NOW - timedelta(hours=5)),
            DraftOrder("corticosteroid", "MedicationRequest", "e")]),
        patient(*SUSPECTED, orders=[DraftOrder("mri-whole-spine", "ServiceRequest", "f", priority="stat")]),
        patient(ob("back-pain", False), orders=[DraftOrder("mri-segment", "ServiceRequest", "g")]),
        patient(ob("back-pain"), cancers=[cancer()], orders=[DraftOrder("mri-segment", "ServiceRequest", "h")]),
        patient(SEVERE, *NO_DOUBT, cancers=[cancer()], orders=[DraftOrder("corticosteroid", "MedicationRequest", "i")]),
        patient(SEVERE, searches=dict(ALL_OK, Condition=SearchStatus.FAILED),
                orders=[DraftOrder("corticosteroid", "MedicationRequest", "j")]),
        patient(ob("severe-neurological-deficit", False), *NO_DOUBT, cancers=[cancer()],
                conditions=[metastasis()], orders=[DraftOrder("corticosteroid", "MedicationRequest", "k")]),
        patient(cancers=[cancer()], conditions=[metastasis()],
                orders=[DraftOrder("corticosteroid", "MedicationRequest", "l")]),
    ]
    out = [f for s in scenarios for f in dx.evaluate(s, POLICY)]
    out += [f for s in order_scenarios for f in dx.evaluate_orders(s, POLICY)]
    return out


ALL_FINDINGS = _all_findings()


def _messages(f: Finding) -> list[Message]:
    out = [f.summary, f.conclusion] + list(f.notes)
    out += [Message(c.key, c.params) for c in f.criteria]
    out += [s.label for s in f.suggestions]
    out += [Message(f"missing.{m.code}") for m in f.missing]
    out += [Message(f"override.{code}") for code in f.override_reasons]
    return out


def test_the_catalog_scenarios_cover_every_topic_and_many_keys():
    topics = {f.topic for f in ALL_FINDINGS}
    assert topics == {"mri-urgency", "corticosteroids", "diagnostic-workup", "mri-order"}
    used = {m.key for f in ALL_FINDINGS for m in _messages(f)}
    assert len(used) > 100


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_message_key_exists_and_renders(lang):
    catalog = CATALOGS[lang]
    for f in ALL_FINDINGS:
        for m in _messages(f):
            text = render(m, catalog)
            assert text and "{" not in text, (m.key, text)
        summary = render(f.summary, catalog)
        assert len(summary) < 140, (lang, f.summary.key, len(summary), summary)


NULL_MARKERS = {
    "en": {"advice": ("no start/withhold advice",),
           "window": ("No MRI deadline", "deadline cannot be set", "no DX-2 deadline")},
    "nl": {"advice": ("geen advies om te starten of te wachten",),
           "window": ("geen MRI-termijn", "termijn is niet te bepalen", "geen DX-2-termijn")},
}


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_DX2_DX3_DX6_null_window_or_advice_is_said_on_the_card(lang):
    """api-contract: windowHours / advice stay null when undecided; the card must say so."""
    checked = 0
    for f in ALL_FINDINGS:
        if f.topic == "corticosteroids" and wire(f)["advice"] is None:
            kind = "advice"
        elif f.topic == "mri-urgency" and wire(f)["windowHours"] is None:
            kind = "window"
        elif f.topic == "mri-order" and wire(f)["requiredWithinHours"] is None:
            kind = "window"
        else:
            continue
        checked += 1
        text = render(f.conclusion, CATALOGS[lang])
        assert any(m in text for m in NULL_MARKERS[lang][kind]), (f.topic, f.conclusion.key, text)
    assert checked >= 8


def test_catalogs_have_the_same_keys_and_fields():
    import string
    en, nl = CATALOGS["en"], CATALOGS["nl"]
    assert set(en) == set(nl)
    for key in en:
        fields_en = {p[1] for p in string.Formatter().parse(en[key]) if p[1]}
        fields_nl = {p[1] for p in string.Formatter().parse(nl[key]) if p[1]}
        assert fields_en == fields_nl, key


def test_every_policy_value_used_has_a_source():
    section = POLICY.sections["diagnosis"]
    for key, value in section.items():
        assert value.source, key


def test_DX7_progressive_radicular_deficit_despite_corticosteroids_opens_the_card():
    """Source 002: "progressieve uitval ondanks corticosteroïden" covers any deficit, so a
    progressive radicular deficit under corticosteroids must show DX-7 even though neither
    severe-neurological-deficit nor mescc-deficit is true."""
    med = Medication("corticosteroid", Source("MedicationRequest", "dex"))
    f = steroids(patient(deficit(progressive=True), ob("severe-neurological-deficit", False),
                         ob("mescc-deficit", False), *NO_DOUBT, cancers=[cancer()],
                         conditions=[metastasis()], medications=[med]))
    assert f is not None and "DX-7" in f.rules
    assert f.indicator == Indicator.CRITICAL


def test_DX7_stable_radicular_deficit_under_corticosteroids_gives_no_card():
    med = Medication("corticosteroid", Source("MedicationRequest", "dex"))
    f = steroids(patient(deficit(progressive=False), ob("severe-neurological-deficit", False),
                         ob("mescc-deficit", False), *NO_DOUBT, cancers=[cancer()],
                         conditions=[metastasis()], medications=[med]))
    assert f is None
