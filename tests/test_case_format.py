"""The table-driven case format itself: the JSON Schema and every case file held to
it, the names a case uses (rules, topics) held to the service, the base + patch
expansion of the loader, and the converter from the whole-patient form."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cds_service.services import SERVICES
from spine_guideline.registry import RULES

from .support import convert_cases
from .support.cases import (
    CASE_DIR,
    CASE_DIR_VARIABLE,
    SCHEMA_NAME,
    SHARED_BASES_NAME,
    CaseFormatError,
    case_dir,
    case_files,
    check_findings,
    expand_case,
    load_cases,
    merge_patch,
    produced_in_process,
    read_json,
)

SCHEMA: dict[str, Any] = read_json(CASE_DIR / SCHEMA_NAME)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
BASES_FILE_VALIDATOR = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/basesFile"})
CASES = load_cases()


def schema_errors(doc: Any, validator: jsonschema.Draft202012Validator = VALIDATOR) -> list[str]:
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


# --------------------------------------------------------------------------- the schema

def test_the_schema_is_a_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.name)
def test_every_case_file_follows_the_schema(path: Path) -> None:
    assert not schema_errors(read_json(path))


def test_the_shared_bases_file_follows_the_schema_when_there_is_one() -> None:
    path = case_dir() / SHARED_BASES_NAME
    docs = [read_json(path)] if path.exists() else []
    for doc in docs:
        assert not schema_errors(doc, BASES_FILE_VALIDATOR)
    # the bases-file definition is live: it takes a bases file and refuses a case file
    assert not schema_errors({"bases": {"b": {"resources": []}}}, BASES_FILE_VALIDATOR)
    assert schema_errors({"module": "x", "cases": []}, BASES_FILE_VALIDATOR)


PATIENT = {"resourceType": "Patient", "id": "p1"}
PAIN = {"resourceType": "Observation", "id": "pain-1", "status": "final", "valueBoolean": True}
WHOLE = {"id": "DX-1-x", "rules": ["DX-1"], "description": "d", "now": "2026-11-23T10:00:00Z",
         "hook": "patient-view", "resources": [PATIENT], "expect": [{"topic": "mri-urgency"}]}
PATCHED = {"id": "DX-1-y", "rules": ["DX-1"], "description": "d", "base": "b", "add": [PAIN],
           "remove": ["Patient/p1"], "modify": {"Patient/p1": {"gender": "male"}}, "expect": []}


def file_with(*cases: dict[str, Any]) -> dict[str, Any]:
    return {"module": "m", "bases": {"b": {"now": "2026-11-23T10:00:00Z", "resources": [PATIENT]}},
            "cases": list(cases)}


def test_the_schema_takes_both_forms() -> None:
    assert not schema_errors(file_with(WHOLE, PATCHED))


@pytest.mark.parametrize("change,why", [
    (lambda c: c.pop("rules"), "no rules"),
    (lambda c: c.update(rules=[]), "names no rule at all"),
    (lambda c: c.update(rules=["DX 1"]), "not a rule ID"),
    (lambda c: c.pop("now"), "a whole case without now"),
    (lambda c: c.update(base="b"), "both resources and a base"),
    (lambda c: c.update(add=[PAIN]), "a patch without a base"),
    (lambda c: c.update(hook="patient-open"), "an unknown hook"),
    (lambda c: c.update(now="2026-11-23T10:00:00"), "a moment without a time zone"),
    (lambda c: c.update(searches={"Condition": "broken"}), "an unknown search status"),
    (lambda c: c.update(selections=["mri-1"]), "a selection that is not Type/id"),
    (lambda c: c.update(unordered=True), "a field the format does not have"),
    (lambda c: c["expect"][0].update(indicator="urgent"), "an unknown indicator"),
    (lambda c: c["expect"][0].update(rulesIncluded=["DX-1"]), "a misspelt expectation field"),
    (lambda c: c.update(resources=[{"id": "p1"}]), "a resource without resourceType"),
])
def test_the_schema_refuses(change: Any, why: str) -> None:
    case = copy.deepcopy(WHOLE)
    change(case)
    assert schema_errors(file_with(case)), why


@pytest.mark.parametrize("change,why", [
    (lambda c: c.update(remove=["p1"]), "remove not by Type/id"),
    (lambda c: c.update(add=[{"resourceType": "Observation"}]), "an added resource without id"),
    (lambda c: c.update(modify={"Patient/p1": {}}), "an empty merge patch"),
    (lambda c: c.update(resources=[PATIENT]), "both a base and resources"),
])
def test_the_schema_refuses_a_bad_patch(change: Any, why: str) -> None:
    case = copy.deepcopy(PATCHED)
    change(case)
    assert schema_errors(file_with(case)), why


# --------------------------------------------------------------------------- names a case uses

def test_every_rule_a_case_names_is_registered() -> None:
    unknown = set()
    for cid, case in CASES:
        named = [*case.get("rules", []), *case.get("rulesAbsent", [])]
        for exp in case.get("expect", []):
            named += exp.get("rulesInclude", [])
            if isinstance(exp.get("result", {}).get("rule"), str):
                named.append(exp["result"]["rule"])
        unknown |= {(cid, r) for r in named if r not in RULES}
    assert not unknown


def test_every_topic_a_case_names_is_a_card_topic() -> None:
    """A misspelt ``absent`` topic would hold for any patient."""
    topics = {t for s in SERVICES for t in s.topics}
    wrong = set()
    for cid, case in CASES:
        named = [*case.get("absent", []), *(e["topic"] for e in case.get("expect", []))]
        wrong |= {(cid, t) for t in named if t not in topics}
    assert not wrong
    assert len(topics) == 13


def test_the_rules_claim_is_checked() -> None:
    produced: list[dict[str, Any]] = [{"topic": "mri-urgency", "indicator": "critical", "key": None,
                                       "result": {"rule": "DX-2a", "rules": ["DX-1", "DX-2a"]}},
                                      {"topic": "corticosteroids", "indicator": "warning", "key": None, "result": {"rule": "DX-3"}}]
    assert not check_findings({"rules": ["DX-1", "DX-2a", "DX-3"], "rulesAbsent": ["DX-2b"]}, produced)
    assert check_findings({"rules": ["DX-2b"]}, produced) == [
        "rules: the case claims DX-2b, but no finding cites it (cited: ['DX-1', 'DX-2a', 'DX-3'])"]
    assert check_findings({"rules": [], "rulesAbsent": ["DX-3"]}, produced) == [
        "rulesAbsent: DX-3 is cited by a finding"]


# --------------------------------------------------------------------------- expansion

BASES: dict[str, dict[str, Any]] = {
    "b": {"now": "2026-11-23T10:00:00Z", "hook": "order-sign",
          "draftOrders": [{"resourceType": "ServiceRequest", "id": "mri-1", "status": "draft"}],
          "resources": [PATIENT, PAIN, {"resourceType": "Observation", "id": "night-2", "valueBoolean": True},
                        {"resourceType": "Condition", "id": "c-3", "code": {"text": "x"}, "onsetDateTime": "2026"}]}}


def test_a_case_expands_to_its_base_with_the_patches_in_place() -> None:
    case = {"id": "c", "rules": ["DX-1"], "description": "d", "base": "b", "hook": "order-select",
            "remove": ["Observation/night-2"],
            "replace": [{"resourceType": "Observation", "id": "pain-1", "valueBoolean": False}],
            "modify": {"Condition/c-3": {"id": "c-9", "code": {"coding": [{"code": "y"}]}, "onsetDateTime": None}},
            "add": [{"resourceType": "Observation", "id": "new-4"}], "expect": []}
    out = expand_case(case, BASES)
    assert out == {"id": "c", "rules": ["DX-1"], "description": "d", "expect": [], "hook": "order-select",
                   "now": "2026-11-23T10:00:00Z", "draftOrders": BASES["b"]["draftOrders"],
                   "resources": [PATIENT, {"resourceType": "Observation", "id": "pain-1", "valueBoolean": False},
                                 {"resourceType": "Condition", "id": "c-9",
                                  "code": {"text": "x", "coding": [{"code": "y"}]}},
                                 {"resourceType": "Observation", "id": "new-4"}]}
    # the base is not changed by expanding it, and a case in the whole form stays as it is
    assert BASES["b"]["resources"][3] == {"resourceType": "Condition", "id": "c-3", "code": {"text": "x"},
                                          "onsetDateTime": "2026"}
    assert expand_case(WHOLE, BASES) == WHOLE


@pytest.mark.parametrize("patch,message", [
    ({"base": "nobody"}, "no base 'nobody'"),
    ({"base": "b", "remove": ["Observation/pain-9"]}, "Observation/pain-9 is not a resource of base 'b'"),
    ({"base": "b", "modify": {"Procedure/pain-1": {"status": "done"}}}, "Procedure/pain-1 is not a resource"),
    ({"base": "b", "replace": [{"resourceType": "Observation", "id": "x"}]}, "Observation/x is not a resource"),
    ({"base": "b", "remove": ["Patient/p1"], "modify": {"Patient/p1": {"gender": "male"}}}, "patched more than once"),
    ({"base": "b", "add": [PAIN]}, "Observation/pain-1 appears twice"),
    ({"base": "b", "resources": []}, "gives both base and resources"),
    ({"add": [PAIN]}, "without a base"),
])
def test_a_patch_that_does_not_fit_its_base_is_an_error(patch: dict[str, Any], message: str) -> None:
    case = {"id": "c", "rules": ["DX-1"], "description": "d", "now": "2026-11-23T10:00:00Z", "expect": [], **patch}
    with pytest.raises(CaseFormatError, match=message):
        expand_case(case, BASES)


def test_merge_patch_follows_rfc_7386() -> None:
    # the examples of RFC 7386 appendix A
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert merge_patch({"a": "foo"}, "bar") == "bar"


def write(folder: Path, name: str, doc: dict[str, Any]) -> None:
    (folder / name).write_text(json.dumps(doc), encoding="utf-8")


def test_bases_can_be_shared_by_all_files_and_the_loader_can_be_pointed_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, SHARED_BASES_NAME, {"bases": {"shared": {"now": "2026-11-23T10:00:00Z", "resources": [PATIENT]}}})
    write(tmp_path, "one.json", {"module": "m", "cases": [
        {"id": "a", "rules": ["DX-1"], "description": "d", "base": "shared", "add": [PAIN], "expect": []}]})
    write(tmp_path, "two.json", {"module": "m", "cases": [WHOLE]})
    monkeypatch.setenv(CASE_DIR_VARIABLE, str(tmp_path))
    assert case_dir() == tmp_path
    loaded = load_cases()
    assert [cid for cid, _ in loaded] == ["one:a", "two:DX-1-x"]
    assert loaded[0][1]["resources"] == [PATIENT, PAIN] and loaded[0][1]["now"] == "2026-11-23T10:00:00Z"
    # a base defined twice, in the file and shared, is an error, not a silent choice
    write(tmp_path, "one.json", {"module": "m", "bases": {"shared": {"resources": []}}, "cases": [WHOLE]})
    with pytest.raises(CaseFormatError, match="defined in the file and in bases.json"):
        load_cases()
    monkeypatch.delenv(CASE_DIR_VARIABLE)
    assert case_dir() == CASE_DIR


def test_case_ids_are_unique_and_every_case_has_a_moment(tmp_path: Path) -> None:
    write(tmp_path, "one.json", {"module": "m", "cases": [WHOLE, WHOLE]})
    with pytest.raises(CaseFormatError, match="used twice"):
        load_cases(tmp_path)
    write(tmp_path, "one.json", {"module": "m", "bases": {"b": {"resources": []}},
                                 "cases": [{**PATCHED, "remove": [], "modify": {}}]})
    with pytest.raises(CaseFormatError, match="has no now"):
        load_cases(tmp_path)


# --------------------------------------------------------------------------- the converter

def test_merge_diff_turns_any_case_resource_into_any_other() -> None:
    resources = [r for _, case in CASES[::7] for r in case["resources"]]
    for a in resources[::3]:
        for b in resources[::5]:
            assert merge_patch(a, convert_cases.merge_diff(a, b)) == b


@pytest.fixture(scope="module")
def converted_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Every case file copied and converted (the real files are left as they are)."""
    folder = tmp_path_factory.mktemp("converted-cases")
    for path in case_files(CASE_DIR):
        shutil.copy(path, folder / path.name)
    before = {p.name: p.read_text(encoding="utf-8") for p in case_files(folder)}
    assert convert_cases.main([str(p) for p in case_files(folder)]) == 0
    return folder, [f"{name}: {len(text)} -> {len((folder / name).read_text(encoding='utf-8'))} bytes"
                    for name, text in before.items()]


def test_the_converted_files_expand_to_exactly_the_cases_they_were(converted_copy: tuple[Path, list[str]]) -> None:
    folder, sizes = converted_copy
    assert load_cases(folder) == load_cases(CASE_DIR)
    for path in case_files(folder):
        doc = read_json(path)
        assert not schema_errors(doc)
        assert doc.get("bases") and all("base" in c for c in doc["cases"]), path.name
    # the committed files are kept in the converted form: a case added whole fails here until
    # `python -m tests.support.convert_cases` has been run over it
    unconverted = [line for line in sizes if line.split(": ")[1].split(" -> ")[0] != line.split(" -> ")[1].split(" ")[0]]
    assert not unconverted, f"run python -m tests.support.convert_cases: {unconverted}"


def test_the_converted_cases_give_the_expected_findings(converted_copy: tuple[Path, list[str]]) -> None:
    failing = {}
    for cid, case in load_cases(converted_copy[0]):
        errors = check_findings(case, produced_in_process(case))
        if errors:
            failing[cid] = errors
    assert not failing


def test_converting_again_changes_nothing_and_a_new_whole_case_is_converted_too(
        converted_copy: tuple[Path, list[str]], tmp_path: Path) -> None:
    folder = converted_copy[0]
    path = case_files(folder)[0]
    shutil.copy(path, tmp_path / path.name)
    copied = tmp_path / path.name
    assert convert_cases.main([str(copied)]) == 0
    assert copied.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    # a case added in the whole form after the conversion (as others do) is converted
    # against the bases already there
    doc = read_json(copied)
    original = next(case for cid, case in load_cases(CASE_DIR) if cid.startswith(path.stem + ":"))
    doc["cases"].append({**original, "id": original["id"] + "-again"})
    copied.write_text(json.dumps(doc), encoding="utf-8")
    assert convert_cases.main([str(copied)]) == 0
    again = read_json(copied)
    assert set(again["bases"]) == set(doc["bases"])
    assert "base" in again["cases"][-1] and "resources" not in again["cases"][-1]
    assert load_cases(tmp_path)[-1][1] == {**original, "id": original["id"] + "-again"}


def test_the_converter_refuses_to_write_a_case_that_would_not_expand_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = min(case_files(CASE_DIR), key=lambda p: p.stat().st_size)
    shutil.copy(path, tmp_path / path.name)
    target = tmp_path / path.name
    real = convert_cases.convert_doc

    def lossy(doc: dict[str, Any], shared: dict[str, Any]) -> tuple[dict[str, Any], int, list[str]]:
        new_doc, count, names = real(doc, shared)
        next(c for c in new_doc["cases"] if "base" in c)["now"] = "2020-01-01T00:00:00Z"
        return new_doc, count, names

    monkeypatch.setattr(convert_cases, "convert_doc", lossy)
    before = target.read_bytes()
    assert convert_cases.main([str(target)]) == 1
    assert target.read_bytes() == before
    assert "nothing written" in capsys.readouterr().err


def test_a_null_in_a_case_resource_is_kept_exactly(tmp_path: Path) -> None:
    """A merge patch cannot set a null: the converter must not lose one."""
    with_null = {**PAIN, "note": None}
    doc = {"module": "m", "cases": [
        {**WHOLE, "id": f"DX-1-{n}", "resources": [PATIENT, PAIN, {**PAIN, "id": f"pain-{n}", "note": None}]}
        for n in range(2, 6)] + [{**WHOLE, "id": "DX-1-null", "resources": [PATIENT, with_null]}]}
    write(tmp_path, "m.json", doc)
    assert convert_cases.main([str(tmp_path / "m.json")]) == 0
    assert load_cases(tmp_path) == [(f"m:{c['id']}", c) for c in doc["cases"]]
