"""SINS per vertebra (spec/sins.md; VPBK-M-1 bands, VPBK-M-2 SINS of each index vertebra)."""
from __future__ import annotations

import json
import pathlib

import pytest

from spine_guideline import sins
from spine_guideline.facts import ConditionRecord, Fact, Unknown
from tests.support.results import wire_with_rules

from .support.augmentation import POLICY, base, sins_fact, src

VALIDATION = json.loads((pathlib.Path(__file__).parent / "validation" / "sins_validation.json")
                        .read_text(encoding="utf-8"))["cases"]
TABLE = POLICY.get("sins", "component_points")
FIELDS = {"pain": "sins-pain", "bone_lesion": "sins-bone-lesion", "alignment": "sins-alignment",
          "collapse": "sins-collapse", "posterolateral": "sins-posterolateral"}


def with_sins(level: str, total=None, **components):
    f = base()
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", "m"), level))
    f.observations[("sins", level)] = sins_fact(level, total, **components)
    return f


def test_every_category_of_every_component_is_in_the_validation_set():
    for key, comp in FIELDS.items():
        assert {c[key] for c in VALIDATION} == set(TABLE[comp]), comp
    locations = {c["location"] or c["expected_location"] for c in VALIDATION}
    assert locations == set(TABLE["sins-location"])
    assert {c["location"] for c in VALIDATION if c["location"]} == set(TABLE["sins-location"])


@pytest.mark.parametrize("case", VALIDATION, ids=[c["id"] for c in VALIDATION])
def test_VPBK_M_2_sins_validation_set(case):
    comps = {k: TABLE[comp][case[k]] for k, comp in FIELDS.items()}
    if case["location"]:
        comps["location"] = TABLE["sins-location"][case["location"]]
    else:
        assert sins.location_category(case["level"], POLICY) == case["expected_location"]
    f = with_sins(case["level"], None, **comps)
    a = sins.assess(f, case["level"], POLICY)
    assert (a.score, a.category, a.band) == (case["total"], case["category"], case["band"])
    assert a.computed_from_components
    assert a.location_from_level == (case["location"] is None)
    res = wire_with_rules(sins.finding(a))
    assert res["score"] == case["total"] and res["protocolBand"] == case["band"]
    assert res["computedFromComponents"] is True and "scoreRange" not in res


@pytest.mark.parametrize("total,category,band", [
    (6, "stable", "0-6"), (7, "potentially-unstable", "7-9"), (9, "potentially-unstable", "7-9"),
    (10, "potentially-unstable", ">=10"), (12, "potentially-unstable", ">=10"), (13, "unstable", ">=10"),
    (2, "stable", "0-6"), (17, "unstable", ">=10")])
def test_VPBK_M_1_recorded_total_boundaries(total, category, band):
    a = sins.assess(with_sins("L2", total), "L2", POLICY)
    assert (a.score, a.category, a.band, a.computed_from_components) == (total, category, band, False)


def test_recorded_total_impossible_for_the_level_is_a_conflict():
    # L2 is mobile (2 points): a total of 0 or 18 cannot be reached there
    for total in (0, 18):
        a = sins.assess(with_sins("L2", total), "L2", POLICY)
        assert a.conflict
    assert sins.assess(with_sins("L1", 18), "L1", POLICY).score == 18


def test_VPBK_M_2_missing_components_give_the_range_and_undecided_bands():
    # L1 junctional 3 (from level) + pain 3 + lytic 2 = 8; alignment 0-4, collapse 0-3, posterolateral 0-3
    a = sins.assess(with_sins("L1", None, pain=3, bone_lesion=2), "L1", POLICY)
    assert a.score is None and a.range == (8, 18)
    assert a.bands == ["7-9", ">=10"] and a.band is None
    assert a.categories == ["potentially-unstable", "unstable"]
    finding = sins.finding(a)
    assert wire_with_rules(finding)["scoreRange"] == [8, 18]
    assert "score" not in wire_with_rules(finding) and "protocolBand" not in wire_with_rules(finding)
    assert {m.code for m in finding.missing} == {"sins-alignment", "sins-collapse", "sins-posterolateral"}


def test_VPBK_M_2_range_inside_one_band_decides_the_band_not_the_score():
    # T6 semi-rigid 1 + pain-free 0 + blastic 0 + normal 0 + none 0 = 1; posterolateral 0-3 -> 1-4
    a = sins.assess(with_sins("T6", None, pain=0, bone_lesion=0, alignment=0, collapse=0), "T6", POLICY)
    assert a.score is None and a.range == (1, 4) and a.band == "0-6" and a.category == "stable"


def test_VPBK_M_2_no_sins_at_a_metastatic_level():
    f = base()
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", "m"), "T8"))
    [finding] = sins.evaluate(f, POLICY)
    res = wire_with_rules(finding)
    assert res["vertebra"] == "T8" and res["scoreRange"] == [1, 16]
    assert [m.code for m in finding.missing] == ["sins"]


def test_recorded_total_contradicting_components_same_band_uses_the_recorded_total():
    # L3: mobile 2 + 3 + 2 + 0 + 2 + 0 = 9 computed, 8 recorded: both 7-9
    f = with_sins("L3", 8, pain=3, bone_lesion=2, alignment=0, collapse=2, posterolateral=0)
    a = sins.assess(f, "L3", POLICY)
    assert a.conflict and a.score == 8 and a.band == "7-9"
    finding = sins.finding(a)
    assert wire_with_rules(finding)["conflict"] is True
    assert finding.indicator.value == "warning" and finding.override_reasons


def test_recorded_total_contradicting_components_other_band_is_undecided():
    # L3 computed 9 (7-9), recorded 11 (>= 10)
    f = with_sins("L3", 11, pain=3, bone_lesion=2, alignment=0, collapse=2, posterolateral=0)
    a = sins.assess(f, "L3", POLICY)
    assert a.conflict and a.score is None and a.band is None
    res = wire_with_rules(sins.finding(a))
    assert res["scoreRange"] == [9, 11] and res["recordedScore"] == 11 and res["componentRange"] == [9, 9]
    assert [m.code for m in sins.finding(a).missing] == ["sins"]


def test_recorded_total_within_partial_component_range_is_no_conflict():
    f = with_sins("L3", 11, pain=3, bone_lesion=2)
    a = sins.assess(f, "L3", POLICY)
    assert not a.conflict and a.score == 11


def test_stale_sins_is_unknown_even_with_components():
    f = base()
    f.observations[("sins", "L2")] = Fact("sins", None, (src(),), "L2", Unknown.STALE,
                                          attrs={"sins-pain": Fact("p", 3)})
    a = sins.assess(f, "L2", POLICY)
    assert a.score is None and a.components["sins-pain"] is None and a.why == "stale"


def test_sins_entry_condition_observation_or_metastasis_level():
    f = base()
    assert sins.evaluate(f, POLICY) == []
    f.observations[("sins", "T9")] = sins_fact("T9", 5)
    assert [x.key for x in sins.evaluate(f, POLICY)] == ["T9"]


@pytest.mark.parametrize("table_name", ["protocol_bands", "categories"])
def test_sins_tables_partition_every_total_from_0_to_18(table_name):
    # sins._rows_for relies on this: rows ascending, contiguous, no overlap, covering 0..18
    rows = POLICY.get("sins", table_name)
    assert rows[0][0] == 0 and rows[-1][1] == 18
    for (_lo1, hi1, _n1), (lo2, _hi2, _n2) in zip(rows, rows[1:], strict=False):
        assert lo2 == hi1 + 1


@pytest.mark.parametrize("table_name", ["protocol_bands", "categories"])
def test_rows_found_for_a_range_equal_a_lookup_of_every_total(table_name):
    rows = POLICY.get("sins", table_name)
    for low in range(19):
        for high in range(low, 19):
            totals = list(range(low, high + 1))
            expected = {sins._lookup(rows, t) for t in totals}
            assert sins._rows_for(rows, totals) == expected
