"""The shared table-driven case format (one JSON file per module in tests/cases/).

A case file::

    {"module": "diagnosis",
     "cases": [
       {"id": "DX-2a-mescc-deficit",            # unique, names the rule(s) it exercises
        "rules": ["DX-1", "DX-2a"],              # rule IDs this case exercises
        "description": "one line",
        "now": "2026-11-23T10:00:00Z",           # evaluation moment
        "hook": "patient-view",                  # or order-select / order-sign
        "resources": [ {FHIR resource}, ... ],   # what prefetch/fetch returned (any types)
        "searches": {"AllergyIntolerance": "failed"},  # optional; default: every type "ok"
        "draftOrders": [ {FHIR resource}, ... ], # optional (order hooks)
        "selections": ["ServiceRequest/mri-1"],  # optional (order-select)
        "expect": [                              # findings that must be there
          {"topic": "mri-urgency", "indicator": "critical", "key": null,
           "result": {"windowHours": 12, "rule": "DX-2a"},   # subset match (lists compared as sets
                                                              # when "unordered": true)
           "rulesInclude": ["DX-2a"]}],
        "absent": ["corticosteroids"]}           # topics that must give no finding
     ]}

The same cases run through the mapper + rules here (tests/test_cases.py) and
through HTTP with prefetch and with the FHIR-server fallback (e2e tests).
"""
from __future__ import annotations

import json
import pathlib
from datetime import datetime
from typing import Any

CASE_DIR = pathlib.Path(__file__).resolve().parent.parent / "cases"
SEARCHED_TYPES = ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest",
                  "MedicationStatement", "MedicationAdministration", "AllergyIntolerance",
                  "ServiceRequest", "DiagnosticReport", "ImagingStudy")


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(CASE_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            out.append((f"{path.stem}:{case['id']}", case))
    return out


def parse_now(case: dict[str, Any]) -> datetime:
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


def check_findings(case: dict[str, Any], produced: list[dict[str, Any]]) -> list[str]:
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
    return errors
