"""The shared table-driven case format (one JSON file per module in tests/cases/).

The format is defined by ``tests/cases/case-file.schema.json`` (every case file is
validated against it by tests/test_case_format.py). A case file::

    {"module": "diagnosis",
     "bases": {                                  # optional: named base patients
       "back-pain-at-night": {
         "description": "one line",
         "now": "2026-11-23T10:00:00Z",          # optional defaults for the cases that use it:
         "hook": "patient-view",                 #   now, hook, searches, draftOrders,
         "resources": [ {FHIR resource}, ... ]}  #   selections, patientId
     },
     "cases": [
       {"id": "DX-2a-mescc-deficit",            # unique, names the rule(s) it exercises
        "rules": ["DX-1", "DX-2a"],              # rule IDs this case makes fire: each must be in
                                                 #   the rules (result "rules" or "rule") of a finding
        "rulesAbsent": ["DX-2b"],                # optional: rule IDs no finding may cite
        "description": "one line",
        "now": "2026-11-23T10:00:00Z",           # evaluation moment
        "hook": "patient-view",                  # or order-select / order-sign

        # the patient, either whole ...
        "resources": [ {FHIR resource}, ... ],   # what prefetch/fetch returned (any types)
        # ... or as a named base plus what differs from it:
        "base": "back-pain-at-night",            # a base of this file or of tests/cases/bases.json
        "remove": ["Observation/night-pain-2"],  # base resources left out ("Type/id")
        "replace": [ {FHIR resource}, ... ],     # base resources replaced whole (same Type/id)
        "modify": {"Observation/back-pain-1":    # base resources changed by a JSON merge patch
                   {"valueBoolean": false}},     #   (RFC 7386: objects merge, null deletes)
        "add": [ {FHIR resource}, ... ],         # resources after the base's

        "searches": {"AllergyIntolerance": "failed"},  # optional; default: every type "ok"
        "draftOrders": [ {FHIR resource}, ... ], # optional (order hooks)
        "selections": ["ServiceRequest/mri-1"],  # optional (order-select)
        "expect": [                              # findings that must be there
          {"topic": "mri-urgency", "indicator": "critical", "key": null,
           "result": {"windowHours": 12, "rule": "DX-2a"},   # subset match
           "rulesInclude": ["DX-2a"]}],
        "absent": ["corticosteroids"]}           # topics that must give no finding
     ]}

A case with a base expands to the whole form (:func:`expand_case`): the base's
resources in their order, less ``remove``, with ``replace``/``modify`` applied in
place, then ``add``; a top-level field the case gives wins over the base's.
A patch that names a resource the base does not have is an error, never ignored.

The same cases run through the mapper + rules (tests/test_cases.py), through
HTTP with prefetch and with the FHIR-server fallback (tests/test_cases_http.py)
and through ``spine-cds evaluate`` (tests/test_cases_evaluate.py).
``python -m tests.support.convert_cases`` rewrites whole-form cases as base + patches.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import pathlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tests.support.results import wire_with_rules

CASE_DIR = pathlib.Path(__file__).resolve().parent.parent / "cases"
#: names another folder of case files to load instead of tests/cases/ (used to run the
#: cases of a converted copy; unset in normal runs)
CASE_DIR_VARIABLE = "SPINE_TEST_CASE_DIR"
SCHEMA_NAME = "case-file.schema.json"
SHARED_BASES_NAME = "bases.json"
SEARCHED_TYPES = ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest",
                  "MedicationStatement", "MedicationAdministration", "AllergyIntolerance",
                  "ServiceRequest", "DiagnosticReport", "ImagingStudy")
#: top-level fields a base may give and a case may override
INHERITED_FIELDS = ("now", "hook", "searches", "draftOrders", "selections", "patientId")
PATCH_FIELDS = ("base", "remove", "replace", "modify", "add")

Case = dict[str, Any]
Resource = dict[str, Any]


class CaseFormatError(ValueError):
    """A case file that cannot be expanded (unknown base, a patch naming a missing resource...)."""


def case_dir() -> pathlib.Path:
    override = os.environ.get(CASE_DIR_VARIABLE)
    return pathlib.Path(override) if override else CASE_DIR


def case_files(folder: pathlib.Path | None = None) -> list[pathlib.Path]:
    """The case files of ``folder`` (default: :func:`case_dir`): every ``*.json`` but the
    schemas and the shared bases."""
    folder = folder or case_dir()
    return sorted(p for p in folder.glob("*.json")
                  if p.name != SHARED_BASES_NAME and not p.name.endswith(".schema.json"))


def read_json(path: pathlib.Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def shared_bases(folder: pathlib.Path | None = None) -> dict[str, dict[str, Any]]:
    path = (folder or case_dir()) / SHARED_BASES_NAME
    if not path.exists():
        return {}
    bases: dict[str, dict[str, Any]] = read_json(path).get("bases", {})
    return bases


def bases_for(doc: dict[str, Any], shared: dict[str, dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """The bases a case file can name: its own ``bases`` and the shared ones (a name in both is an error)."""
    own: dict[str, dict[str, Any]] = doc.get("bases", {})
    clash = sorted(set(own) & set(shared))
    if clash:
        raise CaseFormatError(f"{where}: bases {clash} are defined in the file and in {SHARED_BASES_NAME}")
    return {**shared, **own}


def resource_key(res: Resource) -> str:
    return f"{res.get('resourceType')}/{res.get('id')}"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: ``patch`` applied to a copy of ``target``."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _keyed(resources: Iterable[Resource], where: str) -> dict[str, Resource]:
    out: dict[str, Resource] = {}
    for res in resources:
        key = resource_key(res)
        if key in out:
            raise CaseFormatError(f"{where}: {key} appears twice")
        out[key] = res
    return out


def expand_case(case: Case, bases: dict[str, dict[str, Any]], where: str = "case") -> Case:
    """The whole form of ``case``: a case with ``resources`` as it is (copied), a case
    with ``base`` expanded. Raises :class:`CaseFormatError` on a patch that does not fit."""
    where = f"{where}: case {case.get('id')!r}"
    if "base" not in case:
        stray = [f for f in PATCH_FIELDS if f in case]
        if stray:
            raise CaseFormatError(f"{where}: {stray} without a base")
        return copy.deepcopy(case)
    if "resources" in case:
        raise CaseFormatError(f"{where}: gives both base and resources")
    name = case["base"]
    if name not in bases:
        raise CaseFormatError(f"{where}: no base {name!r} (known: {sorted(bases)})")
    base = bases[name]
    base_resources = _keyed(base.get("resources", []), f"{where}: base {name!r}")
    removed = list(case.get("remove", []))
    replaced = _keyed(case.get("replace", []), f"{where}: replace")
    modified: dict[str, Any] = dict(case.get("modify", {}))
    named = removed + list(replaced) + list(modified)
    for key in named:
        if key not in base_resources:
            raise CaseFormatError(f"{where}: {key} is not a resource of base {name!r}")
    twice = sorted({k for k in named if named.count(k) > 1})
    if twice:
        raise CaseFormatError(f"{where}: {twice} patched more than once")
    resources: list[Resource] = []
    for key, res in base_resources.items():
        if key in removed:
            continue
        if key in replaced:
            resources.append(copy.deepcopy(replaced[key]))
        elif key in modified:
            resources.append(merge_patch(res, modified[key]))
        else:
            resources.append(copy.deepcopy(res))
    resources.extend(copy.deepcopy(case.get("add", [])))
    _keyed(resources, f"{where}: expanded")
    out: Case = {f: copy.deepcopy(v) for f, v in case.items() if f not in PATCH_FIELDS}
    for inherited in INHERITED_FIELDS:
        if inherited not in out and inherited in base:
            out[inherited] = copy.deepcopy(base[inherited])
    out["resources"] = resources
    return out


def load_file(path: pathlib.Path, shared: dict[str, dict[str, Any]] | None = None) -> list[Case]:
    """The expanded cases of one case file."""
    doc = read_json(path)
    bases = bases_for(doc, shared_bases(path.parent) if shared is None else shared, path.name)
    cases = [expand_case(case, bases, path.name) for case in doc["cases"]]
    for case in cases:
        if "now" not in case:
            raise CaseFormatError(f"{path.name}: case {case.get('id')!r} has no now (nor has its base)")
    return cases


def load_cases(folder: pathlib.Path | None = None) -> list[tuple[str, Case]]:
    """Every case of ``folder`` (default: :func:`case_dir`), expanded, as ("file:id", case)."""
    folder = folder or case_dir()
    shared = shared_bases(folder)
    out: list[tuple[str, Case]] = []
    for path in case_files(folder):
        for case in load_file(path, shared):
            out.append((f"{path.stem}:{case['id']}", case))
    ids = [cid for cid, _ in out]
    dupes = sorted({cid for cid in ids if ids.count(cid) > 1})
    if dupes:
        raise CaseFormatError(f"case ids used twice: {dupes}")
    if not out:
        raise CaseFormatError(f"{folder}: no case files")
    return out


def parse_now(case: Case) -> datetime:
    return datetime.fromisoformat(case["now"].replace("Z", "+00:00"))


def subset_match(expected: Any, actual: Any, path: str = "result") -> list[str]:
    """Differences where ``expected`` is not contained in ``actual``."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        errors = []
        for k, v in expected.items():
            if k not in actual:
                errors.append(f"{path}.{k}: missing (expected {v!r})")
            else:
                errors.extend(subset_match(v, actual[k], f"{path}.{k}"))
        return errors
    if expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def fired_rules(produced: list[dict[str, Any]]) -> set[str]:
    """The rule IDs the produced findings cite: each result's ``rules`` and ``rule``."""
    fired: set[str] = set()
    for p in produced:
        result = p["result"]
        fired.update(r for r in result.get("rules", []) if isinstance(r, str))
        if isinstance(result.get("rule"), str):
            fired.add(result["rule"])
    return fired


def check_rules(case: Case, produced: list[dict[str, Any]]) -> list[str]:
    """The case's ``rules`` must each be cited by a produced finding; ``rulesAbsent`` by none."""
    fired = fired_rules(produced)
    errors = [f"rules: the case claims {rule}, but no finding cites it (cited: {sorted(fired)})"
              for rule in case.get("rules", []) if rule not in fired]
    errors.extend(f"rulesAbsent: {rule} is cited by a finding" for rule in case.get("rulesAbsent", [])
                  if rule in fired)
    return errors


def check_findings(case: Case, produced: list[dict[str, Any]]) -> list[str]:
    """``produced``: [{"topic", "indicator", "key", "result"}] from findings or cards."""
    errors: list[str] = []
    for exp in case.get("expect", []):
        candidates = [p for p in produced if p["topic"] == exp["topic"]
                      and ("key" not in exp or p.get("key") == exp["key"])]
        if not candidates:
            errors.append(f"no {exp['topic']} finding (got {[p['topic'] for p in produced]})")
            continue
        best: list[str] | None = None
        for cand in candidates:
            errs = []
            if "indicator" in exp and cand["indicator"] != exp["indicator"]:
                errs.append(f"indicator: expected {exp['indicator']}, got {cand['indicator']}")
            errs.extend(subset_match(exp.get("result", {}), cand["result"]))
            for rule in exp.get("rulesInclude", []):
                if rule not in cand["result"].get("rules", []):
                    errs.append(f"rules: {rule} not in {cand['result'].get('rules')}")
            if not errs:
                best = []
                break
            if best is None or len(errs) < len(best):
                best = errs
        if best:
            errors.extend(f"{exp['topic']}: {e}" for e in best)
    topics = {p["topic"] for p in produced}
    for topic in case.get("absent", []):
        if topic in topics:
            errors.append(f"{topic}: expected no finding, got one")
    errors.extend(check_rules(case, produced))
    return errors


def facts_for(case: Case) -> Any:
    """The case's facts, as the mapper builds them (searches "ok" unless the case says otherwise)."""
    from fhir_mappings import build_facts
    from spine_guideline.facts import SearchStatus

    searches = {t: SearchStatus.OK for t in SEARCHED_TYPES}
    searches.update({k: SearchStatus(v) for k, v in case.get("searches", {}).items()})
    return build_facts(case.get("resources", []), searches=searches, now=parse_now(case),
                       patient_id=case.get("patientId", "p1"),
                       draft_orders=case.get("draftOrders"), selections=case.get("selections"))


@functools.cache
def _policy() -> Any:
    from spine_guideline.policy import load_policy
    return load_policy()


def produced_in_process(case: Case) -> list[dict[str, Any]]:
    """The findings of the case's hook, through mapping + rules, in the shape
    :func:`check_findings` reads."""
    from spine_guideline.engine import evaluate_hook

    findings = evaluate_hook(case.get("hook", "patient-view"), facts_for(case), _policy())
    return [{"topic": f.topic, "indicator": f.indicator.value, "key": f.key, "result": wire_with_rules(f)}
            for f in findings]


def without_keys(case: Case) -> Case:
    """``case`` with the finding keys taken out of its expectations: card keys are not
    part of the wire format, so over HTTP and through ``evaluate`` the cards are
    matched on topic, indicator and result."""
    return dict(case, expect=[{k: v for k, v in e.items() if k != "key"} for e in case.get("expect", [])])


def produced_from_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CDS Hooks cards in the shape :func:`check_findings` reads."""
    return [{"topic": c["source"]["topic"]["code"], "indicator": c["indicator"],
             "key": None, "result": c["extension"]["org.spine-cds.result"]} for c in cards]
