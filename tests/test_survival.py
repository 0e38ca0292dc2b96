"""TX-4: the van der Linden survival model and the survival-estimate finding."""
from __future__ import annotations

import dataclasses

import pytest

from spine_guideline import survival, treatment
from spine_guideline.facts import Cancer, CancerCategory, SearchStatus, Source
from spine_guideline.findings import Finding
from tests.support.results import wire

from .support.treatment import POLICY, deficit, patient


def estimate(**kw) -> survival.SurvivalEstimate:
    return survival.van_der_linden(patient(**kw), POLICY)


def card(**kw) -> Finding:
    return {f.topic: f for f in treatment.evaluate(patient(**kw), POLICY)}["survival-estimate"]


@pytest.mark.parametrize("kps,points", [(100, 2), (80, 2), (70, 1), (65, 1), (50, 1), (45, 0), (40, 0), (10, 0)])
def test_TX_4_kps_points_breast_without_visceral(kps, points):
    est = estimate(obs={"karnofsky": kps, "visceral-metastases": False})
    assert est.score == points + 3 + 1


def test_TX_4_kps_80_vs_70_changes_group():
    c80 = card(obs={"karnofsky": 80, "visceral-metastases": False})
    c70 = card(obs={"karnofsky": 70, "visceral-metastases": False})
    assert (wire(c80)["score"], wire(c80)["group"], wire(c80)["medianSurvivalMonths"]) == (6, "C", 18.7)
    assert (wire(c70)["score"], wire(c70)["group"], wire(c70)["medianSurvivalMonths"]) == (5, "B", 9.0)
    assert c80.rules == ["TX-4"] and wire(c80)["model"] == "van-der-linden-2005"


def test_TX_4_kps_65_rounds_down_to_60_with_note():
    c = card(obs={"karnofsky": 65, "visceral-metastases": False})
    assert wire(c)["score"] == 5
    note = next(n for n in c.notes if n.key == "tx.survival.note.kps-rounded")
    assert (note.params["recorded"], note.params["used"]) == (65, 60)
    assert not any(n.key == "tx.survival.note.kps-rounded"
                   for n in card(obs={"karnofsky": 60, "visceral-metastases": False}).notes)


@pytest.mark.parametrize("tumour,points", [("breast", 3), ("prostate", 2), ("lung", 1), ("kidney", 0),
                                           ("other-solid", 0)])
def test_TX_4_tumour_points(tumour, points):
    est = estimate(cancers=(tumour,), obs={"karnofsky": 40, "visceral-metastases": True})
    assert est.score == points


@pytest.mark.parametrize("score_inputs,group,median", [
    ({"cancers": ("lung",), "obs": {"karnofsky": 90, "visceral-metastases": True}}, "A", 3.0),   # 3
    ({"cancers": ("lung",), "obs": {"karnofsky": 90, "visceral-metastases": False}}, "B", 9.0),  # 4
    ({"cancers": ("breast",), "obs": {"karnofsky": 90, "visceral-metastases": False}}, "C", 18.7),  # 6
])
def test_TX_4_group_boundaries(score_inputs, group, median):
    est = estimate(**score_inputs)
    assert (est.group, est.medians) == (group, (median,))


def test_TX_4_ecog_1_gives_a_range():
    c = card(obs={"ecog": 1, "visceral-metastases": False})
    assert wire(c)["score"] is None
    assert wire(c)["scoreRange"] == [5, 6]
    assert wire(c)["group"] == ["B", "C"]
    assert wire(c)["medianSurvivalMonths"] == [9.0, 18.7]
    keys = [n.key for n in c.notes]
    assert "tx.survival.note.ecog-converted" in keys and "tx.survival.note.ecog-range" in keys


def test_TX_4_ecog_1_range_within_one_group():
    est = estimate(cancers=("lung",), obs={"ecog": 1, "visceral-metastases": True})   # 2 or 3: both A
    assert est.score_range == (2, 3) and est.groups == ("A", "A") and est.group == "A"
    assert est.in_groups(["C"]) is False


@pytest.mark.parametrize("ecog,points", [(0, 2), (2, 1), (3, 0), (4, 0)])
def test_TX_4_ecog_conversion_single(ecog, points):
    est = estimate(obs={"ecog": ecog, "visceral-metastases": False})
    assert est.score == points + 4 and est.performance_scale == "ecog"


def test_TX_4_ecog_5_is_not_scored():
    est = estimate(obs={"ecog": 5, "visceral-metastases": False})
    assert not est.computed and "karnofsky" in {m.code for m in est.missing}


def test_TX_4_karnofsky_preferred_over_ecog():
    est = estimate(obs={"karnofsky": 80, "ecog": 3, "visceral-metastases": False})
    assert est.performance_scale == "karnofsky" and est.score == 6


@pytest.mark.parametrize("kw,visceral", [
    ({"conditions": ("visceral-metastases",)}, True),
    ({"obs": {"visceral-metastases": True}}, True),
    ({"obs": {"visceral-metastases": False}}, False),
    ({}, False),  # Condition search ok, none recorded
])
def test_TX_4_visceral_metastases(kw, visceral):
    obs = {"karnofsky": 80, **kw.pop("obs", {})}
    assert estimate(obs=obs, **kw).visceral is visceral


def test_TX_4_visceral_unknown_when_search_failed():
    c = card(obs={"karnofsky": 80}, searches={"Condition": SearchStatus.FAILED})
    assert wire(c)["score"] is None and wire(c)["group"] is None
    assert "visceral-metastases" in {m.code for m in c.missing}
    assert c.summary.key == "tx.survival.summary.incomplete"


def test_TX_4_missing_performance_status():
    c = card(obs={"visceral-metastases": False})
    assert wire(c)["basis"] == "none" and "karnofsky" in {m.code for m in c.missing}


def test_TX_4_unknown_primary_scores_as_other_by_policy():
    est = estimate(cancers=(), obs={"karnofsky": 80, "visceral-metastases": False})
    assert est.tumour == "other" and est.score == 3
    assert any(n.key == "tx.survival.note.unknown-primary-as-other" for n in est.notes)


def test_TX_4_several_primary_types_conflict():
    est = estimate(cancers=("breast", "lung"), obs={"karnofsky": 80, "visceral-metastases": False})
    assert not est.computed
    assert ("primary-cancer", "conflict") in {(m.code, m.why) for m in est.missing}


def test_TX_4_active_primary_preferred_over_history():
    facts = patient(cancers=("breast",), obs={"karnofsky": 80, "visceral-metastases": False})
    facts.cancers.append(Cancer("lung", CancerCategory.SOLID, Source("Condition", "old"), active=False))
    assert survival.van_der_linden(facts, POLICY).tumour == "breast"


def test_TX_4_clinician_life_expectancy_takes_precedence():
    c = card(obs={"karnofsky": 80, "visceral-metastases": False, "life-expectancy": 4.0})
    assert wire(c)["basis"] == "clinician" and wire(c)["lifeExpectancyMonths"] == 4.0
    assert wire(c)["group"] == "C"  # the model is still shown
    assert c.summary.key == "tx.survival.summary.clinician"


@pytest.mark.parametrize("months,over", [(12.0, False), (13.0, True)])
def test_TX_4_life_expectancy_over_12_months(months, over):
    facts = patient(obs={"life-expectancy": months})
    le = survival.life_expectancy_over(facts, POLICY, 12, ["C"])
    assert (le.over, le.basis) == (over, "clinician")


def test_TX_4_deficit_caveat():
    with_deficit = card(obs={"karnofsky": 80, "mescc-deficit": deficit()})
    without = card(obs={"karnofsky": 80, "mescc-deficit": False, "radicular-deficit": False,
                        "severe-neurological-deficit": False})
    assert "tx.survival.note.deficit-caveat" in [n.key for n in with_deficit.notes]
    assert "tx.survival.note.deficit-caveat" not in [n.key for n in without.notes]


def test_TX_4_links_bartels_and_bollen_not_computed():
    c = card(obs={"karnofsky": 80})
    urls = [link.url for link in c.links]
    assert any("ruhosting" in u for u in urls) and any("lumc" in u for u in urls)
    assert set(wire(c)) <= {"model", "score", "scoreRange", "group", "medianSurvivalMonths", "basis",
                             "lifeExpectancyMonths"}


def test_TX_4_policy_override_of_group_table_is_honoured():
    sections = {k: dict(v) for k, v in POLICY.sections.items()}
    groups = sections["survival"]["vdl_groups"]
    changed = [dict(g) for g in groups.value]
    changed[2]["min"] = 5
    changed[1]["max"] = 4
    sections["survival"]["vdl_groups"] = dataclasses.replace(groups, value=changed)
    policy = dataclasses.replace(POLICY, sections=sections)
    est = survival.van_der_linden(patient(obs={"karnofsky": 70, "visceral-metastases": False}), policy)
    assert est.group == "C"


def test_TX_4_suspected_only_primary_is_unknown_not_scored():
    # DX-4/DX-5 exclude suspected primaries: the model's tumour category is unknown, not 'breast' or 'other'
    facts = patient(cancers=(), obs={"karnofsky": 80, "visceral-metastases": False})
    facts.cancers = [Cancer("breast", CancerCategory.SOLID, Source("Condition", "ca-s"), suspected=True)]
    est = survival.van_der_linden(facts, POLICY)
    assert est.tumour is None and not est.computed
    assert "primary-cancer" in {m.code for m in est.missing}
    assert "tx.survival.note.suspected-primary" in {n.key for n in est.notes}
    # a confirmed primary next to it decides
    facts.cancers.append(Cancer("prostate", CancerCategory.SOLID, Source("Condition", "ca-p")))
    assert survival.van_der_linden(facts, POLICY).tumour == "prostate"


def test_TX_4_visceral_absent_only_inferred_from_no_condition_is_shown_as_none_recorded():
    inferred = card(obs={"karnofsky": 80})
    keys = {n.key for n in inferred.notes}
    assert "tx.survival.input.visceral-none-recorded" in keys and "tx.survival.input.visceral-absent" not in keys
    recorded = card(obs={"karnofsky": 80, "visceral-metastases": False})
    keys = {n.key for n in recorded.notes}
    assert "tx.survival.input.visceral-absent" in keys and "tx.survival.input.visceral-none-recorded" not in keys
    assert wire(inferred)["score"] == wire(recorded)["score"] == 6
