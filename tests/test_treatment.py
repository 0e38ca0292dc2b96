"""Unit tests of the treatment rules TX-1 .. TX-10 on PatientFacts built directly."""
from __future__ import annotations

import json
import pathlib
from datetime import timedelta
from typing import Any

import pytest

from spine_guideline import treatment
from spine_guideline.context import Evaluation
from spine_guideline.facts import (
    Cancer,
    CancerCategory,
    PatientFacts,
    SearchStatus,
    Source,
)
from spine_guideline.findings import Finding, Message, Status
from spine_guideline.results import TreatmentWindowResult
from tests.support.results import wire

from .support.treatment import NO_DEFICIT, NO_OTHER_DEFICIT, NOW, POLICY, deficit, ob, patient

CATALOG_DIR = pathlib.Path(__file__).resolve().parent.parent / "cds_service" / "messages"


# ---------------------------------------------------------------------------
# helpers (the PatientFacts builders are in tests/support/treatment.py)
# ---------------------------------------------------------------------------

def run(facts: PatientFacts) -> dict[str, Finding]:
    return {f.topic: f for f in treatment.evaluate(facts, POLICY)}


def window(facts: PatientFacts) -> Finding:
    return run(facts)["treatment-window"]


def note_keys(f: Finding) -> list[str]:
    return [n.key for n in f.notes]


def missing_codes(f: Finding) -> set[str]:
    return {m.code for m in f.missing}


# ---------------------------------------------------------------------------
# entry condition
# ---------------------------------------------------------------------------

def test_entry_no_metastasis_gives_no_findings():
    assert treatment.evaluate(patient(levels=()), POLICY) == []


def test_entry_bilsky_2_without_condition_opens_topics():
    f = run(patient(levels=(), obs={("bilsky-grade", "T8"): "2", **NO_DEFICIT}))
    assert wire(f["treatment-window"])["rule"] == "TX-2c"


def test_entry_cord_compression_condition_opens_topics():
    f = run(patient(levels=(), conditions=("cord-compression",), obs=NO_DEFICIT))
    assert wire(f["treatment-window"])["windowHours"] == 168


def test_entry_suspected_metastasis_counts():
    assert run(patient(suspected=True, obs=NO_DEFICIT))


def test_order_hooks_give_nothing():
    assert treatment.evaluate_orders(patient(obs={"mescc-deficit": deficit()}), POLICY) == []


# ---------------------------------------------------------------------------
# TX-1 dexamethasone dose
# ---------------------------------------------------------------------------

def test_TX_1_dose_note_with_severe_deficit():
    f = window(patient(obs={"severe-neurological-deficit": deficit("severe-neurological-deficit"),
                            ("bilsky-grade", "L1"): "3"}))
    assert "TX-1" in f.rules
    note = next(n for n in f.notes if n.key.startswith("tx.window.note.dexamethasone"))
    assert (note.key, note.params["iv"], note.params["low"], note.params["high"]) == \
        ("tx.window.note.dexamethasone", 10, 8, 16)


def test_TX_1_already_on_corticosteroid():
    f = window(patient(obs={"severe-neurological-deficit": deficit("severe-neurological-deficit")},
                       meds=("corticosteroid",)))
    assert "tx.window.note.dexamethasone-active" in note_keys(f)


def test_TX_1_absent_without_severe_deficit():
    f = window(patient(obs={"mescc-deficit": deficit(), "severe-neurological-deficit": False}))
    assert "TX-1" not in f.rules


# ---------------------------------------------------------------------------
# TX-2 treatment window
# ---------------------------------------------------------------------------

def test_TX_2a_rapidly_progressive_mescc_deficit():
    f = window(patient(obs={"mescc-deficit": deficit(days=3), "ambulatory": True}))
    assert (wire(f), f.indicator.value) == ({"windowHours": 24, "rule": "TX-2a"}, "critical")
    assert f.missing == [] and f.override_reasons


@pytest.mark.parametrize("days,walking,hours,rule", [
    (7, True, 24, "TX-2a"),       # day 7 counts as rapid (policy)
    (7.9, True, 24, "TX-2a"),     # 7 whole days
    (8, True, 72, "TX-2b"),       # day 8: slowly progressive
    (8, False, 24, "TX-2a"),      # slow but cannot walk (policy)
])
def test_TX_2a_TX_2b_day_7_vs_8(days, walking, hours, rule):
    f = window(patient(obs={"mescc-deficit": deficit(days=days), "ambulatory": walking, **NO_OTHER_DEFICIT}))
    assert (wire(f)["windowHours"], wire(f)["rule"]) == (hours, rule)


def test_TX_2a_day_7_policy_note():
    f = window(patient(obs={"mescc-deficit": deficit(days=7), "ambulatory": True}))
    assert "tx.window.note.policy-day-limit" in note_keys(f)
    f8 = window(patient(obs={"mescc-deficit": deficit(days=3), "ambulatory": True}))
    assert "tx.window.note.policy-day-limit" not in note_keys(f8)


def test_TX_2b_slowly_progressive_walking():
    f = window(patient(obs={"mescc-deficit": deficit(days=20), "ambulatory": True, **NO_OTHER_DEFICIT}))
    assert (wire(f), f.indicator.value) == ({"windowHours": 72, "rule": "TX-2b"}, "warning")
    assert f.conclusion.key == "tx.window.conclusion.slow-walking"


def test_TX_2a_slow_ambulation_unknown_takes_stricter_row():
    f = window(patient(obs={"mescc-deficit": deficit(days=20)}))
    assert wire(f) == {"windowHours": 24, "rule": "TX-2a"}
    assert "ambulatory" in missing_codes(f)
    assert "tx.window.note.policy-unknown-stricter" in note_keys(f)
    assert f.summary.key == "tx.window.summary.provisional"


def test_TX_2a_slow_not_walking_policy_note():
    f = window(patient(obs={"mescc-deficit": deficit(days=20), "ambulatory": False}))
    assert wire(f)["windowHours"] == 24
    assert "tx.window.note.policy-slow-not-walking" in note_keys(f)
    assert f.missing == []


@pytest.mark.parametrize("walking,hours,rule", [(True, 72, "TX-2b"), (False, 24, "TX-2a")])
def test_TX_2b_stable_deficit_policy(walking, hours, rule):
    f = window(patient(obs={"mescc-deficit": deficit(days=30, progressive=False), "ambulatory": walking,
                            **NO_OTHER_DEFICIT}))
    assert (wire(f)["windowHours"], wire(f)["rule"]) == (hours, rule)
    assert "tx.window.note.policy-stable-deficit" in note_keys(f)


def test_TX_2a_unknown_onset_progressive_takes_stricter_row():
    f = window(patient(obs={"mescc-deficit": deficit(days=None), "ambulatory": True}))
    assert wire(f)["windowHours"] == 24
    assert "mescc-deficit.onset" in missing_codes(f)


def test_TX_2b_unknown_progression_with_old_onset_walking_is_72_either_way():
    f = window(patient(obs={"mescc-deficit": deficit(days=30, progressive=None), "ambulatory": True,
                            **NO_OTHER_DEFICIT}))
    assert wire(f)["windowHours"] == 72
    assert "mescc-deficit.progressive" not in missing_codes(f)


def test_TX_2c_radicular_deficit_with_radiological_mescc_does_not_choose_the_row():
    # rules 2026.12 (issue 15, defect 1): the TX-2 row is chosen by clinical and radiological MESCC only;
    # a radicular deficit with Bilsky 3 and mescc-deficit recorded absent is radiological MESCC: 7 days
    f = window(patient(obs={"mescc-deficit": False, "severe-neurological-deficit": False,
                            "radicular-deficit": deficit("radicular-deficit", days=2),
                            ("bilsky-grade", "L1"): "3"}))
    assert wire(f) == {"windowHours": 168, "rule": "TX-2c"}


def test_TX_2d_radicular_deficit_without_mescc():
    f = window(patient(obs={"mescc-deficit": False, "severe-neurological-deficit": False,
                            "radicular-deficit": deficit("radicular-deficit", days=2),
                            ("bilsky-grade", "L1"): "1a"}))
    assert (wire(f), f.indicator.value) == ({"windowHours": 336, "rule": "TX-2d"}, "info")
    assert f.override_reasons == []


def test_TX_2c_radiological_mescc_pain_only():
    f = window(patient(obs={**NO_DEFICIT, ("bilsky-grade", "L1"): "2"}))
    assert (wire(f), f.indicator.value) == ({"windowHours": 168, "rule": "TX-2c"}, "warning")
    assert "tx.window.note.policy-bilsky" in note_keys(f)


def test_TX_2c_unknown_bilsky_takes_stricter_row():
    f = window(patient(obs=NO_DEFICIT))
    assert wire(f)["rule"] == "TX-2c"
    assert ("bilsky-grade", "L1") in {(m.code, m.level) for m in f.missing}


def test_TX_2d_no_mescc():
    f = window(patient(levels=("L1", "L3"), obs={**NO_DEFICIT, ("bilsky-grade", "L1"): "1b",
                                                   ("bilsky-grade", "L3"): "0"}))
    assert wire(f) == {"windowHours": 336, "rule": "TX-2d"}
    assert f.missing == []


def test_TX_2_neurological_status_unknown_is_provisional_critical():
    f = window(patient(obs={("bilsky-grade", "L1"): "1a"}))
    assert wire(f)["windowHours"] == 24 and f.indicator.value == "critical"
    assert "mescc-deficit" in missing_codes(f)
    assert "mescc-deficit.onset" not in missing_codes(f)  # asked for once the deficit is recorded
    assert f.summary.key == "tx.window.summary.provisional"


def test_TX_2_failed_condition_search_keeps_cord_compression_unknown():
    f = window(patient(obs={**NO_DEFICIT, ("bilsky-grade", "L1"): "1a"},
                       searches={"Condition": SearchStatus.FAILED}))
    assert wire(f)["rule"] == "TX-2c"
    assert "cord-compression" in missing_codes(f)


# ---------------------------------------------------------------------------
# TX-3 / TX-5 MDO referral
# ---------------------------------------------------------------------------

TX5_MET = {"fit-for-surgery": True, "complete-cord-lesion": False, "affected-contiguous-vertebrae": 2,
           "surgery-within-24h-possible": True}


def mdo(facts: PatientFacts) -> Finding:
    return run(facts)["mdo-referral"]


def test_TX_3_base_disciplines_without_deficit_and_tx5_false():
    f = mdo(patient(obs={**NO_DEFICIT, **TX5_MET, "fit-for-surgery": False, "mechanical-pain": False,
                         "progression-after-rt": False, "progression-under-rt-and-steroids": False}))
    assert wire(f)["disciplines"] == ["treating-specialist", "radiation-oncology", "radiology"]
    assert f.suggestions[0].kind == "create-mdo-referral"
    assert f.suggestions[0].params["disciplines"] == wire(f)["disciplines"]
    assert set(f.rules) >= {"TX-3", "TX-5"}


def test_TX_3_neurology_with_deficit_and_TX_5_met_adds_surgeon():
    f = mdo(patient(obs={"mescc-deficit": deficit(), **TX5_MET}))
    assert wire(f)["disciplines"] == ["treating-specialist", "radiation-oncology", "radiology", "neurology",
                                       "spine-surgery"]
    tx5 = next(c for c in f.criteria if c.key == "tx.mdo.crit.tx5")
    assert tx5.status == Status.MET


def test_TX_5_unknown_includes_surgeon_and_lists_unknowns():
    f = mdo(patient(obs=NO_DEFICIT))
    assert "spine-surgery" in wire(f)["disciplines"]
    assert {"fit-for-surgery", "complete-cord-lesion"} <= missing_codes(f)


def test_TX_3_surgery_condition_adds_surgeon_even_when_TX_5_fails():
    f = mdo(patient(obs={**NO_DEFICIT, **TX5_MET, "affected-contiguous-vertebrae": 5, "mechanical-pain": True}))
    assert "spine-surgery" in wire(f)["disciplines"]
    assert "tx.mdo.note.surgeon-tx7" in note_keys(f)


def test_TX_3_neurology_not_added_when_deficit_unknown():
    f = mdo(patient(obs=TX5_MET))
    assert "neurology" not in wire(f)["disciplines"]
    assert "tx.mdo.note.neurology-if-deficit" in note_keys(f)
    assert "mescc-deficit" in missing_codes(f)


def test_TX_3_no_suggestion_when_referral_exists():
    # a held MDO (completed referral) answers TX-3 altogether: see test_rules_2026_12
    f = mdo(patient(obs={**NO_DEFICIT, **TX5_MET}, events=(("mdo-referral", "planned"),)))
    assert f.suggestions == [] and f.indicator.value == "info"


@pytest.mark.parametrize("levels,met", [(("T11", "T12", "L1"), True), (("T10", "T11", "T12", "L1"), False),
                                        (("T5", "T6", "L1", "L2", "L3"), True)])
def test_TX_5_contiguous_vertebrae_counted_from_levels(levels, met):
    checks = Evaluation(patient(levels=levels, obs=NO_DEFICIT), POLICY).tx5
    c = next(c for c in checks if c.key == "tx.crit.contiguous-counted")
    assert c.value is met


@pytest.mark.parametrize("count,met", [(3, True), (4, False)])
def test_TX_5_contiguous_vertebrae_recorded(count, met):
    checks = Evaluation(patient(levels=("L1",), obs={"affected-contiguous-vertebrae": count}), POLICY).tx5
    assert next(c for c in checks if c.key == "tx.crit.contiguous").value is met


@pytest.mark.parametrize("hours,improved,met", [(23, None, True), (25, False, False), (25, True, True),
                                                (25, None, None)])
def test_TX_5_complete_cord_lesion(hours, improved, met):
    obs: dict[Any, Any] = {"complete-cord-lesion": ob("complete-cord-lesion", True,
                                                      onset=NOW - timedelta(hours=hours))}
    if improved is not None:
        obs["improved-after-corticosteroids"] = improved
    checks = Evaluation(patient(obs=obs), POLICY).tx5
    assert next(c for c in checks if c.key == "tx.crit.cord-lesion").value is met


@pytest.mark.parametrize("deficit_obs,s24,met", [(NO_DEFICIT, None, True),
                                                 ({"mescc-deficit": True}, False, False),
                                                 ({"mescc-deficit": True}, None, None)])
def test_TX_5_surgery_within_24h_only_with_deficit(deficit_obs, s24, met):
    obs = dict(deficit_obs)
    if s24 is not None:
        obs["surgery-within-24h-possible"] = s24
    checks = Evaluation(patient(obs=obs), POLICY).tx5
    assert next(c for c in checks if c.key == "tx.crit.surgery-within-24h").value is met


# ---------------------------------------------------------------------------
# TX-6 / TX-7 treatment modality
# ---------------------------------------------------------------------------

def modality(facts: PatientFacts) -> Finding:
    return run(facts)["treatment-modality"]


NO_SURGERY = {"mechanical-pain": False, "progression-after-rt": False, "progression-under-rt-and-steroids": False}


@pytest.mark.parametrize("cancer", ["multiple-myeloma", "non-hodgkin-lymphoma", "germ-cell-tumour"])
def test_TX_6_fast_effect_tumour_with_mescc_deficit(cancer):
    f = modality(patient(cancers=(cancer,), obs={"mescc-deficit": deficit(), "mechanical-pain": True}))
    assert wire(f) == {"firstChoice": "systemic-therapy"}
    assert "TX-6" in f.rules and "TX-7b" in f.rules


def test_TX_6_not_without_deficit():
    f = modality(patient(cancers=("multiple-myeloma",), obs={**NO_DEFICIT, **NO_SURGERY}))
    assert wire(f)["firstChoice"] == "radiotherapy"
    assert "TX-6" not in f.rules


@pytest.mark.parametrize("fact", ["vital-chemotherapy-indication", "no-other-treatment-options"])
def test_TX_6_vital_indication_or_no_other_options(fact):
    f = modality(patient(obs={"mescc-deficit": deficit(), fact: True}))
    assert wire(f)["firstChoice"] == "systemic-therapy"


def test_TX_6_unknown_lists_missing_and_falls_through():
    f = modality(patient(obs={"mescc-deficit": deficit(), **NO_SURGERY}))
    assert wire(f)["firstChoice"] == "radiotherapy"
    assert {"vital-chemotherapy-indication", "no-other-treatment-options"} <= missing_codes(f)


@pytest.mark.parametrize("obs", [{"mechanical-pain": True},
                                 {"progression-after-rt": True, "re-irradiation-possible": False},
                                 {"progression-under-rt-and-steroids": True}])
def test_TX_7_surgery_conditions(obs):
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY, **obs, "fit-for-surgery": True}))
    assert wire(f)["firstChoice"] == "surgery"
    assert "TX-7" in f.rules and "TX-7c" in f.rules
    assert "tx.modality.note.tx7c" in note_keys(f)


def test_TX_7_progression_after_rt_with_reirradiation_possible_is_not_surgical():
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY, "progression-after-rt": True,
                              "re-irradiation-possible": True, "adequate-rt-dose-possible": True}))
    assert wire(f)["firstChoice"] == "radiotherapy"
    assert "TX-7a" in f.rules


def test_TX_7_unfit_patient_goes_to_radiotherapy():
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY, "mechanical-pain": True, "fit-for-surgery": False,
                              "adequate-rt-dose-possible": True}))
    assert wire(f)["firstChoice"] == "radiotherapy"
    assert "tx.modality.note.unfit-for-surgery" in note_keys(f)


def test_TX_7_surgery_with_fitness_unknown_lists_it():
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY, "mechanical-pain": True}))
    assert wire(f)["firstChoice"] == "surgery"
    assert "fit-for-surgery" in missing_codes(f)


def test_TX_7_sins_13_is_support_only():
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY, ("sins", "L1"): 14, "adequate-rt-dose-possible": True}))
    assert wire(f)["firstChoice"] == "radiotherapy"
    assert "tx.note.sins-support" in note_keys(f)


def test_TX_7_radiotherapy_when_adequate_dose_unknown():
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY}))
    assert wire(f)["firstChoice"] == "radiotherapy"
    assert "adequate-rt-dose-possible" in missing_codes(f)


def test_TX_7a_TX_10_undecided_when_no_adequate_dose():
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY, "adequate-rt-dose-possible": False}))
    assert wire(f)["firstChoice"] == "undecided"
    assert {"TX-7a", "TX-7c", "TX-10"} <= set(f.rules)
    assert {"tx.modality.note.tx7a", "tx.modality.note.options"} <= set(note_keys(f))


def test_TX_7b_choice_with_patient_always_noted():
    for obs in ({**NO_DEFICIT, **NO_SURGERY}, {"mescc-deficit": deficit(), "vital-chemotherapy-indication": True}):
        f = modality(patient(obs=obs))
        assert "TX-7b" in f.rules and "tx.modality.note.tx7b" in note_keys(f)


def test_TX_7c_not_on_radiotherapy_card():
    f = modality(patient(obs={**NO_DEFICIT, **NO_SURGERY, "adequate-rt-dose-possible": True}))
    assert "TX-7c" not in f.rules


# ---------------------------------------------------------------------------
# TX-8 radiotherapy dose
# ---------------------------------------------------------------------------

def dose(facts: PatientFacts) -> Finding:
    return run(facts)["rt-dose"]


GOOD_8B = {"mescc-deficit": True, "karnofsky": 80, "life-expectancy": 24.0, "oligometastatic": False}


def test_TX_8a_oligometastatic():
    f = dose(patient(obs={**GOOD_8B, "oligometastatic": True}))
    assert wire(f) == {"schedule": "30-39Gy/10-13fx", "rule": "TX-8a"}


@pytest.mark.parametrize("levels,status", [(("L1", "L2", "L3"), Status.UNKNOWN),
                                           (("L1", "L2", "L3", "L5"), Status.NOT_MET)])
def test_TX_8a_3_vs_4_lesions(levels, status):
    f = dose(patient(levels=levels, obs=NO_DEFICIT))
    crit = f.criteria[0]
    assert crit.rule == "TX-8a" and crit.status == status
    assert ("oligometastatic" in missing_codes(f)) is (status == Status.UNKNOWN)
    assert wire(f)["rule"] == "TX-8c"


def test_TX_8a_recorded_count_over_max():
    f = dose(patient(levels=("L1",), obs={**NO_DEFICIT, "spinal-metastasis-count": 6}))
    assert f.criteria[0].status == Status.NOT_MET and "oligometastatic" not in missing_codes(f)


def test_TX_8b_deficit_good_condition_long_life():
    f = dose(patient(obs=GOOD_8B))
    assert wire(f) == {"schedule": "30Gy/10fx", "rule": "TX-8b"}
    assert f.missing == []


@pytest.mark.parametrize("months,rule", [(12.0, "TX-8c"), (13.0, "TX-8b")])
def test_TX_8b_life_expectancy_12_vs_13_months(months, rule):
    assert dose(patient(obs={**GOOD_8B, "life-expectancy": months})).result.rule == rule


@pytest.mark.parametrize("perf,rule", [({"karnofsky": 70}, "TX-8b"), ({"karnofsky": 60}, "TX-8c"),
                                       ({"ecog": 1}, "TX-8b"), ({"ecog": 2}, "TX-8c"),
                                       ({"karnofsky": 50, "good-general-condition": True}, "TX-8b"),
                                       ({"karnofsky": 90, "good-general-condition": False}, "TX-8c")])
def test_TX_8b_good_condition(perf, rule):
    obs = {k: v for k, v in GOOD_8B.items() if k != "karnofsky"}
    assert dose(patient(obs={**obs, **perf})).result.rule == rule


@pytest.mark.parametrize("cancer,visceral,rule", [("breast", False, "TX-8b"),   # KPS 80: 2+3+1 = 6, group C
                                                  ("prostate", False, "TX-8c")])  # 5, group B
def test_TX_8b_model_group_c_only_when_no_clinician_estimate(cancer, visceral, rule):
    obs = {k: v for k, v in GOOD_8B.items() if k != "life-expectancy"}
    f = dose(patient(cancers=(cancer,), obs={**obs, "visceral-metastases": visceral}))
    assert wire(f)["rule"] == rule
    assert "tx.rtdose.note.model-used" in note_keys(f)


def test_TX_8b_ecog_1_range_over_groups_is_unknown():
    obs = {"mescc-deficit": True, "ecog": 1, "visceral-metastases": False, "oligometastatic": False}
    f = dose(patient(obs=obs))   # breast: 3+1 + (1 or 2) = 5 or 6 -> B or C
    assert wire(f)["rule"] == "TX-8c"
    assert "life-expectancy" in missing_codes(f)
    assert "tx.rtdose.note.could-change" in note_keys(f)


def test_TX_8c_no_deficit():
    f = dose(patient(obs={**GOOD_8B, **NO_DEFICIT}))
    assert wire(f) == {"schedule": "8Gy/1fx", "rule": "TX-8c"}
    assert f.missing == [] and f.summary.key == "tx.rtdose.summary"


def test_TX_8c_with_unknowns_says_row_could_change():
    f = dose(patient(obs={"mescc-deficit": True}))
    assert wire(f)["rule"] == "TX-8c"
    assert f.summary.key == "tx.rtdose.summary.provisional"
    assert {"oligometastatic", "karnofsky", "life-expectancy"} <= missing_codes(f)
    assert "tx.rtdose.note.model-used" not in note_keys(f)  # the model could not be computed
    assert f.criteria[-1].key == "tx.rtdose.crit.life-expectancy-unknown"


# ---------------------------------------------------------------------------
# TX-9 / TX-10 aftercare
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["radiotherapy", "spinal-surgery"])
def test_TX_9_TX_10_aftercare_after_treatment(kind):
    f = run(patient(obs=NO_DEFICIT, events=((kind, "done"),)))["aftercare"]
    assert wire(f)["rule"] == "TX-9" and f.indicator.value == "info"
    assert "TX-10" in f.rules
    assert "tx.aftercare.note.leaflet" in note_keys(f)


def test_TX_9_no_aftercare_when_only_planned():
    assert "aftercare" not in run(patient(obs=NO_DEFICIT, events=(("radiotherapy", "planned"),)))


def test_TX_9_taper_note_with_active_corticosteroid_and_no_leaflet_when_suspected():
    f = run(patient(obs=NO_DEFICIT, suspected=True, events=(("radiotherapy", "done"),),
                    meds=("corticosteroid",)))["aftercare"]
    assert "tx.aftercare.note.taper-active" in note_keys(f)
    assert "tx.aftercare.note.leaflet" not in note_keys(f)


# ---------------------------------------------------------------------------
# message catalogs
# ---------------------------------------------------------------------------

def load_catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for p in sorted((CATALOG_DIR / lang).glob("*.json")):
        merged.update(json.loads(p.read_text(encoding="utf-8")))
    return merged


def render(m: Message, cat: dict[str, str]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, Message):
            return render(v, cat)
        if isinstance(v, (list, tuple)):
            return ", ".join(value(x) for x in v)
        return str(v)
    return cat[m.key].format(**{k: value(v) for k, v in m.params.items()})


def messages_of(f: Finding) -> list[Message]:
    out = [f.summary, f.conclusion, *f.notes]
    out += [Message(c.key, c.params) for c in f.criteria]
    out += [s.label for s in f.suggestions] + [link.label for link in f.links]
    out += [Message(f"missing.{m.code}") for m in f.missing]
    out += [Message(f"override.{code}") for code in f.override_reasons]
    return out


def _scenarios() -> list[PatientFacts]:
    return [
        patient(obs={"mescc-deficit": deficit()}),
        patient(obs={"mescc-deficit": deficit(days=20)}),
        patient(obs={"mescc-deficit": deficit(days=7), "ambulatory": True, **TX5_MET}),
        patient(obs={"mescc-deficit": deficit(days=30, progressive=False), "ambulatory": True}),
        patient(obs={"mescc-deficit": deficit(days=30, progressive=False), "ambulatory": False}),
        patient(obs={"mescc-deficit": deficit(days=20), "ambulatory": False}),
        patient(obs={"severe-neurological-deficit": deficit("severe-neurological-deficit", days=None)},
                meds=("corticosteroid",)),
        patient(obs={"severe-neurological-deficit": deficit("severe-neurological-deficit")}),
        patient(obs={**NO_DEFICIT, ("bilsky-grade", "L1"): "2"}, events=(("mdo-referral", "planned"),)),
        patient(obs={**NO_DEFICIT, ("bilsky-grade", "L1"): "1a", **NO_SURGERY, "adequate-rt-dose-possible": False}),
        patient(levels=("T10", "T11", "T12", "L1"), obs={**NO_DEFICIT, "mechanical-pain": True, ("sins", "L1"): 15,
                                                         "progression-after-rt": True}),
        patient(cancers=("multiple-myeloma",), obs={"mescc-deficit": deficit(), "ecog": 1}),
        patient(cancers=("lung", "breast"), obs={**GOOD_8B, "karnofsky": 65}),
        patient(cancers=(), obs={**GOOD_8B, "oligometastatic": True}),
        patient(obs={**GOOD_8B, "life-expectancy": None}, events=(("radiotherapy", "done"),),
                meds=("corticosteroid",)),
        patient(obs={"complete-cord-lesion": True, "mescc-deficit": deficit()},
                events=(("spinal-surgery", "done"),), searches={"Condition": SearchStatus.FAILED}),
        patient(obs={**NO_DEFICIT, "mechanical-pain": True, "fit-for-surgery": False}),
        patient(cancers=("prostate",), obs={"ecog": 2, "visceral-metastases": True, "life-expectancy": 4.0}),
        patient(obs={"mescc-deficit": False, "radicular-deficit": False, ("bilsky-grade", "L1"): "1a",
                     "severe-neurological-deficit": deficit("severe-neurological-deficit", days=1)}),
        patient(obs={**NO_OTHER_DEFICIT, "ambulatory": True, ("bilsky-grade", "L1"): "2",
                     "severe-neurological-deficit": deficit("severe-neurological-deficit", days=20)}),
    ]


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_message_key_exists_and_summaries_are_short(lang):
    cat = load_catalog(lang)
    topics = set()
    for facts in _scenarios():
        for f in treatment.evaluate(facts, POLICY):
            topics.add(f.topic)
            for m in messages_of(f):
                assert m.key in cat, f"{lang}: {m.key} missing ({f.topic})"
                render(m, cat)
            assert len(render(f.summary, cat)) < 140, render(f.summary, cat)
    assert topics == {"treatment-window", "mdo-referral", "treatment-modality", "rt-dose",
                      "survival-estimate", "aftercare"}


def test_treatment_catalogs_have_the_same_keys_and_no_key_of_another_file():
    own = {lang: json.loads((CATALOG_DIR / lang / "treatment.json").read_text(encoding="utf-8"))
           for lang in ("en", "nl")}
    assert set(own["en"]) == set(own["nl"])
    for lang in ("en", "nl"):
        for p in (CATALOG_DIR / lang).glob("*.json"):
            if p.name != "treatment.json":
                # how-to-record and override texts may be shared (cds_service.i18n.SHAREABLE_PREFIXES)
                dup = {k for k in set(own[lang]) & set(json.loads(p.read_text(encoding="utf-8")))
                       if not k.startswith(("missing.", "override."))}
                assert not dup, f"{lang}/{p.name} also defines {sorted(dup)}"


# ---------------------------------------------------------------------------
# regressions from the clinical review (rule ID in each test name)
# ---------------------------------------------------------------------------

def test_TX_2_radiological_mescc_patient_wide_bilsky_used_when_metastasis_has_no_level():
    # a spinal-metastasis Condition without level and a patient-wide Bilsky 1a: radiological MESCC is
    # not present (the recorded grade is read), not "Bilsky not recorded"
    facts = patient(levels=(None,), obs={**NO_DEFICIT, "bilsky-grade": "1a"})
    rad = treatment.radiological_mescc(facts, POLICY)
    assert rad.value is False and rad.missing == []
    f = window(facts)
    assert wire(f) == {"windowHours": 336, "rule": "TX-2d"}
    assert "bilsky-grade" not in missing_codes(f)


def _crit(f: Finding, key: str) -> Status:
    return next(c.status for c in f.criteria if c.key == key)


def test_TX_2b_a_rapid_radicular_deficit_does_not_make_a_stable_mescc_deficit_stricter():
    # rules 2026.12 (issue 15, defect 1): stable MESCC deficit while walking plus a rapidly progressive
    # radicular deficit: the radicular deficit never chooses the row, Bilsky unknown or not -> 72 h
    obs = {"mescc-deficit": deficit(progressive=False), "radicular-deficit": deficit("radicular-deficit", days=2),
           "severe-neurological-deficit": False, "ambulatory": True}
    f = window(patient(obs=obs))
    assert wire(f) == {"windowHours": 72, "rule": "TX-2b"}
    assert f.summary.key == "tx.window.summary"
    assert ("bilsky-grade", "L1") not in {(m.code, m.level) for m in f.missing}
    assert _crit(f, "tx.window.crit.radicular-deficit") == Status.MET
    assert window(patient(obs={**obs, ("bilsky-grade", "L1"): "2"})).result == TreatmentWindowResult(window_hours=72, rule="TX-2b")


def test_TX_2b_unknown_severe_deficit_does_not_move_a_walking_stable_mescc_patient_to_24h():
    # rules 2026.12 (issue 15, defect 1): severity does not choose a TX-2 row; unrecorded it is not asked for
    obs = {"mescc-deficit": deficit(progressive=False), "radicular-deficit": False, "ambulatory": True,
           ("bilsky-grade", "L1"): "2"}
    f = window(patient(obs=obs))
    assert wire(f) == {"windowHours": 72, "rule": "TX-2b"}
    assert "severe-neurological-deficit" not in missing_codes(f)
    assert _crit(f, "tx.window.crit.severe-neurological-deficit") == Status.UNKNOWN
    f72 = window(patient(obs={**obs, "severe-neurological-deficit": False}))
    assert wire(f72) == {"windowHours": 72, "rule": "TX-2b"} and f72.missing == []


def test_TX_2a_unknown_deficits_collapse_when_the_known_row_is_already_24h():
    f = window(patient(obs={"mescc-deficit": deficit(days=2), "ambulatory": True}))
    assert wire(f) == {"windowHours": 24, "rule": "TX-2a"}
    assert f.missing == [] and f.summary.key == "tx.window.summary"
    assert f.conclusion.key == "tx.window.conclusion.rapid"
    assert _crit(f, "tx.window.crit.severe-neurological-deficit") == Status.UNKNOWN
    assert _crit(f, "tx.window.crit.radicular-deficit") == Status.UNKNOWN


@pytest.mark.parametrize("days,progressive", [(20, True), (30, False)])
def test_TX_2c_severe_deficit_with_radiological_mescc_but_mescc_deficit_absent_is_radiological(days, progressive):
    # rules 2026.12 (issue 15, defect 1): severity does not choose the row; with mescc-deficit recorded
    # absent and Bilsky 3 the row is radiological MESCC (TX-2c), not the old "pronounced" 24 h
    f = window(patient(obs={"mescc-deficit": False, "radicular-deficit": False, "ambulatory": True,
                            "severe-neurological-deficit": deficit("severe-neurological-deficit", days=days,
                                                                   progressive=progressive),
                            ("bilsky-grade", "L1"): "3"}))
    assert wire(f) == {"windowHours": 168, "rule": "TX-2c"} and f.missing == []
    assert "tx.window.note.policy-severe-pronounced" not in note_keys(f)


def test_TX_2b_severe_slowly_progressive_mescc_deficit_in_a_walking_patient_is_72h():
    # issue 15: "not very pronounced" is the source's own "the patient can still walk" (002); the lead
    # did not accept 24 h for a severe deficit in a walking, slowly progressive patient
    f = window(patient(obs={"mescc-deficit": deficit(days=20), "radicular-deficit": False, "ambulatory": True,
                            "severe-neurological-deficit": deficit("severe-neurological-deficit", days=20),
                            ("bilsky-grade", "L1"): "1c"}))
    assert wire(f) == {"windowHours": 72, "rule": "TX-2b"}
    assert f.conclusion.key == "tx.window.conclusion.slow-walking"
    assert "TX-1" in f.rules  # the dose note still comes with the severe deficit


def test_TX_2d_not_for_a_severe_deficit_without_mescc():
    # TX-2d is "alleen pijn of een radiculair syndroom": a severe deficit is neither -> stricter row (policy)
    f = window(patient(obs={"mescc-deficit": False, "radicular-deficit": False,
                            "severe-neurological-deficit": deficit("severe-neurological-deficit", days=1),
                            ("bilsky-grade", "L1"): "1a"}))
    assert wire(f) == {"windowHours": 24, "rule": "TX-2a"}
    assert f.conclusion.key == "tx.window.conclusion.severe-without-mescc"
    assert "tx.window.note.policy-severe-without-mescc" in note_keys(f)
    assert f.conclusion.key != "tx.window.conclusion.none"


def _with_cancers(facts: PatientFacts, *cancers: Cancer) -> PatientFacts:
    facts.cancers = list(cancers)
    return facts


TX6_NO_OTHER_REASON = {"mescc-deficit": deficit(), "vital-chemotherapy-indication": False,
                       "no-other-treatment-options": False}


@pytest.mark.parametrize("cancers", [
    (),
    (Cancer("unknown-primary", CancerCategory.UNKNOWN_PRIMARY, Source("Condition", "c80")),),
    (Cancer("secondary", CancerCategory.SECONDARY, Source("Condition", "c79")),),
], ids=["no-cancer", "C80-only", "secondary-only"])
def test_TX_6_fast_effect_tumour_unknown_without_a_known_primary(cancers):
    # DX-6: without a known primary the tumour may be a lymphoma, myeloma or germ cell tumour
    f = modality(_with_cancers(patient(obs={**TX6_NO_OTHER_REASON, **NO_SURGERY}), *cancers))
    assert _crit(f, "tx.modality.crit.fast-effect-tumour") == Status.UNKNOWN
    assert {"tx.modality.note.tx6-unknown", "tx.modality.note.primary-unknown"} <= set(note_keys(f))
    assert ("primary-cancer", "not-recorded") in {(m.code, m.why) for m in f.missing}
    assert wire(f)["firstChoice"] == "radiotherapy"


def test_TX_6_known_non_fast_primary_is_not_met():
    f = modality(patient(obs={**TX6_NO_OTHER_REASON, **NO_SURGERY}))
    assert _crit(f, "tx.modality.crit.fast-effect-tumour") == Status.NOT_MET
    assert "tx.modality.note.tx6-unknown" not in note_keys(f) and "primary-cancer" not in missing_codes(f)


@pytest.mark.parametrize("kind,category", [("multiple-myeloma", CancerCategory.HAEMATOLOGICAL),
                                           ("breast", CancerCategory.SOLID)])
def test_TX_6_suspected_only_primary_is_not_a_known_tumour_type(kind, category):
    # DX-4/DX-5 do not count a suspected primary as known; TX-6 neither (suspected myeloma is not
    # confirmed fast-effect, a suspected breast cancer does not exclude a lymphoma)
    facts = _with_cancers(patient(obs={**TX6_NO_OTHER_REASON, **NO_SURGERY}),
                          Cancer(kind, category, Source("Condition", "ca-suspected"), suspected=True))
    f = modality(facts)
    assert _crit(f, "tx.modality.crit.fast-effect-tumour") == Status.UNKNOWN
    assert wire(f)["firstChoice"] != "systemic-therapy"
    assert "tx.modality.note.suspected-primary" in note_keys(f)
    assert "primary-cancer" in missing_codes(f)


def test_TX_6_confirmed_fast_tumour_still_counts_next_to_a_suspected_one():
    facts = _with_cancers(patient(obs={**TX6_NO_OTHER_REASON}),
                          Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, Source("Condition", "mm")),
                          Cancer("breast", CancerCategory.SOLID, Source("Condition", "b"), suspected=True))
    assert wire(modality(facts))["firstChoice"] == "systemic-therapy"


def test_TX_3_spine_surgeon_included_while_TX_7_surgery_conditions_are_unknown():
    # TX-5 fails (4 contiguous vertebrae) but a TX-7 surgical indication may still exist
    obs = {**NO_DEFICIT, **TX5_MET, "affected-contiguous-vertebrae": 4}
    f = mdo(patient(obs=obs))
    assert "spine-surgery" in wire(f)["disciplines"]
    assert {"mechanical-pain", "progression-after-rt", "progression-under-rt-and-steroids"} <= missing_codes(f)
    assert "tx.mdo.note.surgeon-tx7-unknown" in note_keys(f)
    # unfit for surgery: no surgeon, nothing to ask
    unfit = mdo(patient(obs={**obs, "fit-for-surgery": False}))
    assert "spine-surgery" not in wire(unfit)["disciplines"] and "mechanical-pain" not in missing_codes(unfit)
    # all surgery conditions recorded false: no surgeon
    assert "spine-surgery" not in mdo(patient(obs={**obs, **NO_SURGERY})).result.disciplines


@pytest.mark.parametrize("deficit_value", [True, None])
def test_TX_8b_model_used_always_comes_with_the_deficit_caveat(deficit_value):
    # TX-8b needs a deficit; the van der Linden model was derived without deficits
    obs = {k: v for k, v in GOOD_8B.items() if k != "life-expectancy"}
    obs.update({"visceral-metastases": False, "severe-neurological-deficit": False, "radicular-deficit": False})
    if deficit_value is None:
        del obs["mescc-deficit"]
    f = dose(patient(obs=obs))
    assert "tx.rtdose.note.model-used" in note_keys(f)
    assert "tx.rtdose.note.model-deficit-caveat" in note_keys(f)
    clinician = dose(patient(obs={**obs, "life-expectancy": 24.0}))
    assert "tx.rtdose.note.model-deficit-caveat" not in note_keys(clinician)
