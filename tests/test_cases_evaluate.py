"""The table-driven cases (tests/cases/*.json) through ``spine-cds evaluate``: the
case's resources (and draft orders) written as one Bundle file, the command run
in-process with ``--format json`` and the case's ``--now`` and ``--hook``, and its
cards held to the case's expectations, as over HTTP. So the CLI cannot diverge
from the service.

``evaluate`` reads a file as the whole record: every search counts as succeeded,
the draft orders are the record's ServiceRequests/MedicationRequests with status
"draft", and every one of them is selected. A case that needs anything else is
listed in :data:`EXCLUDED` with the reason; a test holds the list to exactly the
cases that need it, so no case drops out unnoticed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cds_service.cli import main
from cds_service.evaluate import DRAFT_TYPES

from .support.cases import Case, check_findings, load_cases, produced_from_cards, resource_key, without_keys

CASES = load_cases()

#: the cases ``evaluate`` cannot express, with the reason (see inexpressible())
EXCLUDED: dict[str, str] = {
    "diagnosis:DX-6-condition-search-failed":
        "a search that did not succeed (Condition: failed): evaluate counts every search as succeeded",
}


def inexpressible(case: Case) -> str | None:
    """Why ``evaluate`` cannot run ``case`` as the service does, or None."""
    reasons: list[str] = []
    failed = [f"{rtype}: {status}" for rtype, status in sorted(case.get("searches", {}).items()) if status != "ok"]
    if failed:
        reasons.append(f"a search that did not succeed ({', '.join(failed)}): evaluate counts every search as succeeded")
    hook = case.get("hook", "patient-view")
    drafts = case.get("draftOrders", [])
    if hook == "patient-view":
        if drafts:
            reasons.append("draft orders on patient-view: evaluate gives draft orders only to the order hooks")
        return "; ".join(reasons) or None
    if not drafts:
        reasons.append("an order hook without draft orders: evaluate skips the patient")
    if any(r.get("resourceType") not in DRAFT_TYPES or r.get("status") != "draft" for r in drafts):
        reasons.append("a draft order evaluate would not take as one (status not draft, or not an order type)")
    if any(r.get("resourceType") in DRAFT_TYPES and r.get("status") == "draft" for r in case.get("resources", [])):
        reasons.append("a draft order in the record: evaluate would take it as a draft order of this hook")
    selections = case.get("selections")
    if hook == "order-select" and selections is not None and set(selections) != {resource_key(r) for r in drafts}:
        reasons.append("order-select with only some draft orders selected: evaluate selects every draft order")
    return "; ".join(reasons) or None


RUN = [(cid, case) for cid, case in CASES if cid not in EXCLUDED]


def run_evaluate(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The case through ``spine-cds evaluate``: the JSON result of the case's patient."""
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in [*case.get("resources", []), *case.get("draftOrders", [])]]}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    capsys.readouterr()
    code = main(["evaluate", str(path), "--format", "json", "--now", case["now"],
                 "--hook", case.get("hook", "patient-view"), "--quiet", "--no-summary"])
    out, err = capsys.readouterr()
    assert code == 0, err
    # nothing skipped or warned about: evaluate read the whole record
    assert err == "", err
    results = [json.loads(line) for line in out.splitlines()]
    mine = [r for r in results if r["patientId"] == case.get("patientId", "p1")]
    assert len(mine) == 1, f"patients in the output: {[r['patientId'] for r in results]}"
    result: dict[str, Any] = mine[0]
    return result


def test_the_excluded_cases_are_exactly_those_evaluate_cannot_express() -> None:
    needed = {cid: reason for cid, case in CASES if (reason := inexpressible(case)) is not None}
    assert needed == EXCLUDED
    assert len(RUN) + len(EXCLUDED) == len(CASES)
    assert len(EXCLUDED) == 1, "the excluded cases are counted: update this number with the list"


@pytest.mark.parametrize("case_id,case", RUN, ids=[c[0] for c in RUN])
def test_case_through_evaluate(case_id: str, case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_evaluate(case, tmp_path, capsys)
    assert result["hook"] == case.get("hook", "patient-view")
    errors = check_findings(without_keys(case), produced_from_cards(result["cards"]))
    assert not errors, "\n".join(errors)


def test_evaluate_is_held_to_the_expectations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check can fail: an expectation with another indicator than evaluate's card is reported."""
    case_id, case = next((cid, c) for cid, c in RUN if any("indicator" in e for e in c["expect"]))
    exp = next(e for e in case["expect"] if "indicator" in e)
    wrong = dict(case, expect=[dict(exp, indicator="info" if exp["indicator"] != "info" else "critical")])
    errors = check_findings(without_keys(wrong), produced_from_cards(run_evaluate(case, tmp_path, capsys)["cards"]))
    assert any("indicator" in e for e in errors), (case_id, errors)
