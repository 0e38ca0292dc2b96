"""Typed result records (spine_guideline/results.py) and their one serialiser (cds_service/wire.py).

Every card topic returns its own record type, every record type has a wire function, records are
frozen, and the wire format keeps the contract's conditional keys (a SINS range or score, a
survival range as lists, VP/BK optional fields left out when unset). The cards of the samples
are compared whole elsewhere (tests/test_samples.py); this pins the records themselves."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from cds_service import wire
from spine_guideline import results as r
from spine_guideline.engine import evaluate_hook
from spine_guideline.facts import Source
from spine_guideline.policy import load_policy
from tests.support.cases import facts_for, load_cases

#: the record each card topic returns (the table in results.py's docstring)
RECORD_OF_TOPIC: dict[str, type] = {
    "mri-urgency": r.MriUrgencyResult,
    "mri-order": r.MriOrderResult,
    "corticosteroids": r.CorticosteroidsResult,
    "diagnostic-workup": r.WorkupResult,
    "treatment-window": r.TreatmentWindowResult,
    "mdo-referral": r.MdoResult,
    "treatment-modality": r.ModalityResult,
    "rt-dose": r.RtDoseResult,
    "survival-estimate": r.SurvivalResult,
    "aftercare": r.AftercareResult,
    "sins": r.SinsResult,
    "vpbk-eligibility": r.VpbkEligibilityResult,
    "vpbk-preprocedure": r.PreprocedureResult,
}


def test_every_record_of_the_union_has_a_wire_function_and_a_topic():
    union = set(typing.get_args(r.Result))
    assert union == set(wire._SERIALISERS)
    assert union == set(RECORD_OF_TOPIC.values())
    for name in RECORD_OF_TOPIC.values():
        assert f":class:`{name.__name__}`" in (r.__doc__ or ""), name


def test_a_value_that_is_not_a_record_is_an_error_not_an_empty_result():
    with pytest.raises(TypeError, match="no wire format for result record dict"):
        wire.record_payload({"windowHours": 12})  # type: ignore[arg-type]


@pytest.mark.parametrize("record_type", sorted(RECORD_OF_TOPIC.values(), key=lambda t: t.__name__))
def test_records_are_frozen(record_type):
    assert dataclasses.is_dataclass(record_type)
    assert record_type.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _findings_of_all_cases():
    policy = load_policy()
    for name, case in load_cases():
        yield from ((name, f) for f in evaluate_hook(case.get("hook", "patient-view"), facts_for(case), policy))


def test_each_topic_returns_its_record_over_all_cases_and_each_topic_is_seen():
    seen: set[str] = set()
    wrong = []
    for name, f in _findings_of_all_cases():
        seen.add(f.topic)
        if type(f.result) is not RECORD_OF_TOPIC[f.topic]:
            wrong.append((name, f.topic, type(f.result).__name__))
        payload = wire.finding_payload(f)
        assert payload["rules"] == list(dict.fromkeys(f.rules))
    assert not wrong
    assert seen == set(RECORD_OF_TOPIC)


def test_survival_range_goes_out_as_lists_and_one_score_as_scalars():
    ranged = r.SurvivalResult("van-der-linden-2005", None, (5, 6), ("B", "C"), None, (9.0, 18.7), "model")
    assert wire.record_payload(ranged) == {
        "model": "van-der-linden-2005", "score": None, "scoreRange": [5, 6], "group": ["B", "C"],
        "medianSurvivalMonths": [9.0, 18.7], "basis": "model"}
    one = r.SurvivalResult("van-der-linden-2005", 6, None, ("C",), "C", (18.7,), "clinician", 4.0)
    assert wire.record_payload(one) == {
        "model": "van-der-linden-2005", "score": 6, "group": "C", "medianSurvivalMonths": 18.7,
        "basis": "clinician", "lifeExpectancyMonths": 4.0}
    assert list(wire.record_payload(one)) == ["model", "score", "group", "medianSurvivalMonths", "basis",
                                              "lifeExpectancyMonths"]


def _sins(**changes):
    base = r.SinsResult(vertebra="L3", computed_from_components=True, score=None, score_range=(9, 11),
                        category=None, band=None, bands=("7-12",), categories=("potentially-unstable",),
                        conflict=False, recorded=None, component_range=(9, 11), missing_components=("pain",),
                        location_from_level=True, location_conflict=False, recorded_location=None,
                        level_location=None)
    return dataclasses.replace(base, **changes)


def test_sins_range_without_conflict_leaves_the_conflict_fields_out():
    out = wire.record_payload(_sins())
    assert out["scoreRange"] == [9, 11] and "score" not in out
    assert not {"componentRange", "recordedScore", "locationConflict", "category", "protocolBand"} & set(out)


def test_sins_conflict_and_location_conflict_say_what_was_recorded():
    out = wire.record_payload(_sins(conflict=True, recorded=11, component_range=(9, 9), location_conflict=True,
                                    recorded_location=1, level_location=2))
    assert (out["recordedScore"], out["componentRange"], out["locationConflict"]) == (11, [9, 9], True)
    assert (out["recordedLocationPoints"], out["levelLocationPoints"]) == (1, 2)
    decided = wire.record_payload(_sins(score=9, band="7-12", category="potentially-unstable"))
    assert decided["score"] == 9 and "scoreRange" not in decided and decided["protocolBand"] == "7-12"


def _eligibility(**changes):
    base = r.VpbkEligibilityResult(
        verdict=r.Verdict.ELIGIBLE, pathway=r.Pathway.METASTATIC, vertebra="L2", technique=(r.Technique.VP,),
        technique_notes=(), absolute=(), relative=(), relative_unknown=(), unmet_conditions=(), missing=(),
        unmet_criteria=(), absolute_unknown=(), mdo_overrides=())
    return dataclasses.replace(base, **changes)


def test_vpbk_optional_fields_only_when_set():
    bare = wire.record_payload(_eligibility())
    assert bare["verdict"] == "eligible" and bare["technique"] == ["VP"]
    assert not {"preferences", "lesionKinds", "orderedTechnique", "order", "steppedCareMissing",
                "survivalModel", "levelFromOrder", "daysSinceFracture"} & set(bare)
    full = wire.record_payload(_eligibility(
        ordered_technique=r.Technique.BK, order="sr-1", level_from_order=True, stepped_care_missing=("analgesics",),
        survival_model=r.ModelEstimate("van-der-linden-2005", "B-C", (9.0, 18.7)), lesion_kinds=("metastasis",)))
    assert (full["orderedTechnique"], full["order"], full["levelFromOrder"]) == ("BK", "sr-1", True)
    assert full["survivalModel"] == {"model": "van-der-linden-2005", "group": "B-C", "medianSurvivalMonths": [9.0, 18.7]}
    assert full["steppedCareMissing"] == ["analgesics"] and full["lesionKinds"] == ["metastasis"]


def test_aftercare_names_what_answered_each_deadline_by_reference():
    answered = r.AftercareResult("TX-9", (r.Answer("DX-2", Source("ImagingStudy", "mri-1"), "2026-11-20"),))
    assert wire.record_payload(answered) == {
        "rule": "TX-9", "answeredBy": [{"deadline": "DX-2", "reference": "ImagingStudy/mri-1", "date": "2026-11-20"}]}
    assert wire.record_payload(r.AftercareResult("TX-9")) == {"rule": "TX-9"}


def test_enums_go_out_as_their_codes():
    assert wire.record_payload(r.CorticosteroidsResult(r.Advice.WITHHOLD, "DX-6")) == {"advice": "withhold",
                                                                                     "rule": "DX-6"}
    assert wire.record_payload(r.CorticosteroidsResult(None, None)) == {"advice": None, "rule": None}
    assert wire.record_payload(r.ModalityResult(r.FirstChoice.SYSTEMIC_THERAPY)) == {"firstChoice": "systemic-therapy"}
    checks = r.PreprocedureResult((("inr", r.CheckStatus.OK), ("ecg", r.CheckStatus.UNKNOWN)))
    assert wire.record_payload(checks) == {"checks": [{"code": "inr", "status": "ok"},
                                                      {"code": "ecg", "status": "unknown"}]}
