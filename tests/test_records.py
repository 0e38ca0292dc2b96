"""The records the rules read and return are frozen dataclasses built by the
dataclass's own ``__init__``; absent facts read as the search status says."""
from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from spine_guideline import facts as facts_mod
from spine_guideline import findings as findings_mod
from spine_guideline.facts import Cancer, CancerCategory, Fact, PatientFacts, SearchStatus, Source, Unknown
from spine_guideline.findings import Criterion, Message, Missing, Status, msg

RECORDS = [cls for mod in (facts_mod, findings_mod) for cls in vars(mod).values()
           if isinstance(cls, type) and dataclasses.is_dataclass(cls)
           and cls.__dataclass_params__.frozen]  # type: ignore[attr-defined]

SRC = Source("Observation", "o1", "2026-11-01", "SINS")
CASES = [
    (Fact, ("pain-score",), {}),
    (Fact, ("pain-score", 7, (SRC,), "L1"), {}),
    (Fact, ("sins", None, (SRC,), "T4", Unknown.STALE), {"note": "older than 30 days"}),
    (Source, ("Condition", "c1"), {"display": "Wervelmetastase"}),
    (Criterion, ("dx.crit.alarm", Status.UNKNOWN, "DX-1", (Fact("a"),), {"n": 2}), {}),
    (Message, ("k", {"a": 1}), {}),
    (Missing, ("pain-score",), {"level": "L2"}),
    (Cancer, ("breast", CancerCategory.SOLID, SRC), {"onset": date(2025, 1, 1), "active": False}),
]


def test_the_records_are_frozen_dataclasses_without_a_hand_made_init():
    names = {cls.__name__ for cls in RECORDS}
    assert {"Fact", "Source", "Criterion", "Message", "Missing", "Cancer"} <= names
    for cls in RECORDS:
        assert not hasattr(cls, "__dataclass_init__"), cls  # the dataclass's own __init__


@pytest.mark.parametrize("cls, args, kwargs", CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_records_stay_frozen(cls, args, kwargs):
    built = cls(*args, **kwargs)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, name, "changed")


def test_default_factories_give_each_record_its_own_value():
    a, b = Fact("a"), Fact("b")
    assert a.attrs == {} and a.attrs is not b.attrs
    assert msg("k").params is not msg("k").params


def test_missing_and_unknown_arguments_fail_like_the_dataclass():
    with pytest.raises(TypeError):
        Fact()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fact("a", nonsense=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Source("Observation", "1", "2026", "d", "one too many")  # type: ignore[call-arg]


def test_absent_facts_follow_the_search_status():
    now = datetime(2026, 11, 23, tzinfo=UTC)
    ok = PatientFacts(now=now, searches={"Observation": SearchStatus.OK, "Condition": SearchStatus.OK})
    failed = PatientFacts(now=now, searches={"Observation": SearchStatus.FAILED})
    a = ok.obs("pain-score", "L1")
    assert a == Fact("pain-score", None, (), "L1", Unknown.NOT_RECORDED)
    assert failed.obs("pain-score", "L1").unknown is Unknown.SEARCH_FAILED
    none = ok.condition("vertebral-infection", "L1")
    assert none.value is False and none.searched == "Condition" and none.unknown is None
    unknown = failed.condition("vertebral-infection", "L1")
    assert unknown.value is None and unknown.unknown is Unknown.NOT_RECORDED
    assert Fact.missing("x") == Fact.missing("x") and Fact.missing("x") != Fact.missing("x", "L2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.value = 5  # type: ignore[misc]


def test_an_evaluation_leaves_the_facts_as_they_were():
    from spine_guideline import engine
    from spine_guideline.policy import load_policy

    facts = PatientFacts(now=datetime(2026, 11, 23, tzinfo=UTC),
                         observations={("mescc-deficit", None): Fact("mescc-deficit", True, (SRC,))})
    before = dataclasses.replace(facts)
    engine.evaluate_hook("patient-view", facts, load_policy())
    assert facts == before and vars(facts).keys() == vars(before).keys()
