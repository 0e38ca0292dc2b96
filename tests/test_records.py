"""The fast __init__ of the frozen records (spine_guideline/_records.py) must build
exactly what the dataclass's own __init__ builds, and keep the records frozen."""
from __future__ import annotations

import dataclasses
from datetime import UTC, date

import pytest

from spine_guideline import facts as facts_mod
from spine_guideline import findings as findings_mod
from spine_guideline._records import fast_init
from spine_guideline.facts import Cancer, CancerCategory, Fact, Source, Unknown
from spine_guideline.findings import Criterion, Message, Missing, Status, msg

RECORDS = [cls for mod in (facts_mod, findings_mod) for cls in vars(mod).values()
           if isinstance(cls, type) and "__dataclass_init__" in vars(cls)]


def test_the_hot_records_use_the_fast_init():
    names = {cls.__name__ for cls in RECORDS}
    assert {"Fact", "Source", "Criterion", "Message", "Missing"} <= names


def _build(cls, init, *args, **kwargs):
    obj = object.__new__(cls)
    init(obj, *args, **kwargs)
    return obj


SRC = Source("Observation", "o1", "2026-11-01", "SINS")
CASES = [
    (Fact, ("pain-score",), {}),
    (Fact, ("pain-score", 7, (SRC,), "L1"), {}),
    (Fact, ("sins", None, (SRC,), "T4", Unknown.STALE), {"note": "older than 30 days"}),
    (Fact, ("x",), {"attrs": {"onset": Fact("x.onset", "2026-01-01")}, "searched": "Observation"}),
    (Source, ("Condition",), {}),
    (Source, ("Condition", "c1"), {"display": "Wervelmetastase"}),
    (Criterion, ("dx.crit.alarm", Status.MET), {}),
    (Criterion, ("dx.crit.alarm", Status.UNKNOWN, "DX-1", (Fact("a"),), {"n": 2}), {}),
    (Message, ("k",), {}),
    (Message, ("k", {"a": 1}), {}),
    (Missing, ("pain-score",), {"level": "L2"}),
    (Cancer, ("breast", CancerCategory.SOLID, SRC), {"onset": date(2025, 1, 1), "active": False}),
]


@pytest.mark.parametrize("cls, args, kwargs", CASES)
def test_fast_init_builds_what_the_dataclass_init_builds(cls, args, kwargs):
    fast = cls(*args, **kwargs)
    reference = _build(cls, cls.__dataclass_init__, *args, **kwargs)
    assert fast == reference
    assert repr(fast) == repr(reference)
    for f in dataclasses.fields(cls):
        assert getattr(fast, f.name) == getattr(reference, f.name)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_records_stay_frozen(cls):
    obj = object.__new__(cls)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, name, "changed")
    built = next((cls(*a, **k) for c, a, k in CASES if c is cls), None)
    if built is not None:
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


def test_fast_init_refuses_classes_it_cannot_speak_for():
    @dataclasses.dataclass
    class Plain:
        x: int

    with pytest.raises(TypeError):
        fast_init(Plain)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPostInit:
        x: int

        def __post_init__(self):
            pass

    with pytest.raises(TypeError):
        fast_init(WithPostInit)


def test_absent_facts_are_shared_read_only_and_equal_to_fresh_ones():
    from datetime import datetime

    from spine_guideline.facts import PatientFacts, SearchStatus

    now = datetime(2026, 11, 23, tzinfo=UTC)
    ok = PatientFacts(now=now, searches={"Observation": SearchStatus.OK, "Condition": SearchStatus.OK})
    failed = PatientFacts(now=now, searches={"Observation": SearchStatus.FAILED})
    a, b = ok.obs("pain-score", "L1"), ok.obs("pain-score", "L1")
    assert a is b  # one instance serves every request
    assert a == Fact("pain-score", None, (), "L1", Unknown.NOT_RECORDED)
    assert failed.obs("pain-score", "L1").unknown is Unknown.SEARCH_FAILED  # the search status still decides
    none = ok.condition("vertebral-infection", "L1")
    assert none.value is False and none.searched == "Condition" and none.unknown is None
    unknown = failed.condition("vertebral-infection", "L1")
    assert unknown.value is None and unknown.unknown is Unknown.NOT_RECORDED
    assert Fact.missing("x") is Fact.missing("x") and Fact.missing("x") is not Fact.missing("x", "L2")
    with pytest.raises(TypeError):
        a.attrs["onset"] = Fact("pain-score.onset", "2026-01-01")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.value = 5  # type: ignore[misc]


def test_per_evaluation_computes_once_within_an_evaluation_and_afresh_outside():
    from datetime import datetime

    from spine_guideline.facts import PatientFacts, per_evaluation

    calls = []

    @per_evaluation
    def derived(facts, policy):
        calls.append(policy)
        return len(facts.cancers), policy

    facts = PatientFacts(now=datetime(2026, 11, 23, tzinfo=UTC))
    p1, p2 = object(), object()
    derived(facts, p1), derived(facts, p1)
    assert len(calls) == 2  # outside an evaluation: no memo (the facts may still change)
    facts.derived = {}
    assert derived(facts, p1) == (0, p1) and derived(facts, p1) == (0, p1)
    assert derived(facts, p2) == (0, p2)  # another argument, another value
    assert calls == [p1, p1, p1, p2]


def test_engine_gives_each_evaluation_its_own_memo(monkeypatch):
    from datetime import datetime

    from spine_guideline import engine
    from spine_guideline.facts import PatientFacts
    from spine_guideline.policy import load_policy

    facts = PatientFacts(now=datetime(2026, 11, 23, tzinfo=UTC))
    seen = []

    def spy(f, policy):
        seen.append(f.derived)
        raise RuntimeError("rule failed")

    monkeypatch.setitem(engine.MODULES, "spy", (spy, spy))
    with pytest.raises(RuntimeError):
        engine.evaluate_hook("patient-view", facts, load_policy(), ("spy",))
    assert seen == [{}] and facts.derived is None  # reset even when a rule raises
