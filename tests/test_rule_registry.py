"""The rule registry (spine_guideline.registry) is the one list of rule IDs.

Held against everything else that names rules: every registered rule is named
by some test (other than this file and the page test, which list them all);
every rule ID that code, message catalogs or cards cite is registered; every
threshold a rule names exists in the policy data files.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spine_guideline.policy import load_policy
from spine_guideline.registry import RULES, SOURCES, UnknownRule, children, rule

ROOT = Path(__file__).resolve().parents[1]
RULE_ID = re.compile(r"(?<![\w-])((?:DX|TX)-\d+[a-z]?|VPBK-[MOTP]-\d+[a-z]?)(?![\w-])")
#: files that list every rule on purpose, so naming a rule there proves nothing
LISTING_FILES = {"test_rule_registry.py", "test_guideline_pages.py"}


def _ids_in(paths: list[Path]) -> dict[str, set[Path]]:
    found: dict[str, set[Path]] = {}
    for path in paths:
        for rid in RULE_ID.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(rid, set()).add(path)
    return found


def _files(folder: str, *suffixes: str) -> list[Path]:
    return [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in suffixes]


def test_registry_has_the_61_rules_of_rules_version_2026_12() -> None:
    assert len(RULES) == 61
    families = {r.family for r in RULES.values()}
    assert families == {"DX", "TX", "VPBK-M", "VPBK-O", "VPBK-T", "VPBK-P"}
    for r in RULES.values():
        assert r.source in SOURCES, r.id
        assert r.section and r.title and r.topics, r.id
        if r.parent is not None:
            assert r.parent in RULES and r.id.startswith(r.parent), r.id


def test_every_registered_rule_is_named_by_a_test() -> None:
    tests = [p for p in _files("tests", ".py", ".json") if p.name not in LISTING_FILES]
    named = _ids_in(tests)
    unnamed = sorted(set(RULES) - set(named))
    assert not unnamed, f"rules no test names: {unnamed}"


@pytest.mark.parametrize("folder,suffixes", [("spine_guideline", (".py", ".json")),
                                             ("cds_service", (".py", ".json", ".html")),
                                             ("fhir_mappings", (".py", ".json")),
                                             ("tests", (".py", ".json"))])
def test_no_code_catalog_or_test_cites_an_unregistered_rule(folder: str, suffixes: tuple[str, ...]) -> None:
    cited = _ids_in(_files(folder, *suffixes))
    unknown = {rid: sorted(str(p.relative_to(ROOT)) for p in paths) for rid, paths in cited.items()
               if rid not in RULES}
    assert not unknown, unknown


def test_every_threshold_a_rule_names_is_a_policy_value_with_a_source() -> None:
    policy = load_policy()
    for r in RULES.values():
        for key in r.thresholds:
            section, name = key.split(".", 1)
            entry = policy.entry(section, name)  # KeyError = the registry names a value that does not exist
            assert entry.source.strip(), key


def test_a_rule_with_a_policy_threshold_is_marked_as_a_policy_choice() -> None:
    policy = load_policy()
    for r in RULES.values():
        if any(policy.entry(*key.split(".", 1)).policy for key in r.thresholds):
            assert r.policy, r.id


def test_unknown_rule_ids_are_loud() -> None:
    with pytest.raises(UnknownRule):
        rule("DX-" + "99")  # spelled apart so the scan above does not read it as a citation
    assert rule("TX-2a").parent == "TX-2"
    assert [c.id for c in children("TX-8")] == ["TX-8a", "TX-8b", "TX-8c"]


def test_every_rule_a_card_cites_is_registered(all_sample_cards: list[dict]) -> None:
    cited: set[str] = set()
    for card in all_sample_cards:
        result = card["extension"]["org.spine-cds.result"]
        cited |= set(result.get("rules") or ()) | ({result["rule"]} if result.get("rule") else set())
        cited |= set(RULE_ID.findall(json.dumps(card, ensure_ascii=False)))
    assert cited, "the samples gave no card at all"
    assert not cited - set(RULES), sorted(cited - set(RULES))
