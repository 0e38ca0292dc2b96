"""``spine-cds evaluate``: the guideline offline on Bundle / NDJSON files and directories.

Fixtures (tests/fixtures/evaluate/) are sample patients resolved at NOW, so the
expected cards are those of the samples (tests/test_samples.py checks them
through the pipeline; here we check reading, grouping, output and exit codes).
"""
from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from cds_service import cli, evaluate, samples

FIX = pathlib.Path(__file__).resolve().parent / "fixtures" / "evaluate"
NOW = "2026-11-23T10:00:00Z"
NOW_DT = datetime(2026, 11, 23, 10, tzinfo=UTC)
REPO = pathlib.Path(__file__).resolve().parent.parent


def run(*argv: str, tty: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if tty:
        err.isatty = lambda: True  # type: ignore[method-assign]
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(["evaluate", *argv])
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_topic(result: dict) -> dict[str, dict]:
    return {c["source"]["topic"]["code"]: c for c in result["cards"]}


# --------------------------------------------------------------------------- one Bundle

def test_bundle_file_json_output_DX_2a_TX_2a():
    code, out, err = run(str(FIX / "mescc-collection.json"), "--format", "json", "--now", NOW, "--lang", "en")
    assert code == 0, err
    [result] = json_lines(out)
    assert result["patientId"] == "sample-mescc-12h"
    assert result["hook"] == "patient-view" and result["evaluatedAt"] == NOW
    cards = by_topic(result)
    assert cards["mri-urgency"]["extension"]["org.spine-cds.result"]["windowHours"] == 12
    assert cards["treatment-window"]["extension"]["org.spine-cds.result"]["rule"] == "TX-2a"
    assert cards["corticosteroids"]["service"] == "spine-metastases-diagnosis"
    assert cards["treatment-window"]["service"] == "spine-metastases-treatment"
    assert all(len(c["summary"]) < 140 and c["uuid"] for c in result["cards"])
    assert err == ""  # one patient: no progress bar, no summary


def test_resource_without_subject_belongs_to_the_only_patient_of_the_bundle():
    # the fixture's back-pain Observation has no subject: it still counts for the Bundle's only Patient
    inputs = evaluate.read_inputs([str(FIX / "mescc-collection.json")])
    assert list(inputs.patients) == ["sample-mescc-12h"]
    assert len(inputs.patients["sample-mescc-12h"].resources) == len(samples.resources("mescc-12h", now=NOW_DT))
    assert inputs.problems == [] and inputs.fatal == []


def test_bundle_file_table_output_in_dutch():
    code, out, err = run(str(FIX / "mescc-collection.json"), "--now", NOW, "--lang", "nl")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PATIENT", "SERVICE", "TOPIC", "INDICATOR", "SUMMARY", "KEY", "RESULT"]
    mri = next(line for line in lines if " mri-urgency " in line)
    assert "sample-mescc-12h" in mri and "critical" in mri and "windowHours=12 rule=DX-2a" in mri
    assert "12 uur" in mri  # the Dutch summary
    assert "Summary" not in out


def test_table_and_json_give_the_same_cards():
    _, table, _ = run(str(FIX / "mescc-collection.json"), "--now", NOW, "--lang", "en")
    _, js, _ = run(str(FIX / "mescc-collection.json"), "--now", NOW, "--lang", "en", "--format", "json")
    [result] = json_lines(js)
    rows = table.splitlines()[1:]
    assert len(rows) == len(result["cards"])
    for row, card in zip(rows, result["cards"], strict=False):
        assert card["summary"] in row and card["source"]["topic"]["code"] in row


def test_now_moves_the_evaluation_moment():
    # a year later every recorded finding is stale: no 12-hour MRI window any more
    _, out, _ = run(str(FIX / "mescc-collection.json"), "--format", "json", "--now", "2027-11-23T10:00:00Z")
    [result] = json_lines(out)
    mri = by_topic(result).get("mri-urgency")
    assert mri is None or mri["extension"]["org.spine-cds.result"]["windowHours"] != 12


# --------------------------------------------------------------------------- NDJSON

def test_ndjson_several_patients_and_a_broken_line():
    code, out, err = run(str(FIX / "three-patients.ndjson"), "--format", "json", "--now", NOW, "--lang", "en")
    assert code == 0
    results = json_lines(out)
    assert [r["patientId"] for r in results] == ["sample-mescc-12h", "sample-quiet", "sample-vpbk-eligible"]
    cards = {r["patientId"]: by_topic(r) for r in results}
    assert cards["sample-quiet"] == {}
    assert cards["sample-vpbk-eligible"]["vpbk-eligibility"]["extension"]["org.spine-cds.result"]["verdict"] \
        == "eligible"
    assert cards["sample-mescc-12h"]["mri-urgency"]["extension"]["org.spine-cds.result"]["windowHours"] == 12
    path = str(FIX / "three-patients.ndjson")
    assert f"{path}:4: not valid JSON" in err and "line skipped" in err
    assert f"{path}:7: not a FHIR resource" in err


def test_ndjson_table_lists_patients_without_cards():
    code, out, _ = run(str(FIX / "three-patients.ndjson"), "--now", NOW)
    assert code == 0
    quiet = [line for line in out.splitlines() if line.startswith("sample-quiet")]
    assert len(quiet) == 1 and "(no cards)" in quiet[0]


def test_ndjson_with_no_readable_line_is_unusable():
    code, out, err = run(str(FIX / "all-bad.ndjson"), "--now", NOW)
    assert code == 2 and out == ""
    assert "all-bad.ndjson:1: not valid JSON" in err
    assert "all-bad.ndjson:2: not a FHIR resource" in err
    assert "no line could be read" in err and "no patient data could be read" in err


# --------------------------------------------------------------------------- directories

def test_directory_recursive_sorted_transaction_and_searchset():
    code, out, err = run(str(FIX / "dir"), "--format", "json", "--now", NOW, "--lang", "en")
    assert code == 0, err
    results = {r["patientId"]: by_topic(r) for r in json_lines(out)}
    # the transaction Bundle refers to its Patient by urn:uuid fullUrl
    assert set(results) == {"sample-mri-24h", "sample-tx-7d"}
    assert results["sample-mri-24h"]["mri-urgency"]["extension"]["org.spine-cds.result"]["windowHours"] == 24
    assert results["sample-tx-7d"]["treatment-window"]["extension"]["org.spine-cds.result"]["windowHours"] == 168
    assert "notes.txt" not in err
    assert "searchset.json: entry" in err and "no resource" in err  # the OperationOutcome-less outcome entry


def test_expand_paths_sorted_and_filtered():
    files, errors = evaluate.expand_paths([str(FIX / "dir")])
    assert files == sorted(files) and errors == []
    assert [f.name for f in files] == ["searchset.json", "transaction-urn-uuid.json"]


# --------------------------------------------------------------------------- errors and exit codes

def test_broken_json_file_names_line_and_column():
    code, out, err = run(str(FIX / "broken.json"), "--now", NOW)
    assert code == 2 and out == ""
    assert f"{FIX / 'broken.json'}: line 5 column" in err and "not valid JSON" in err


def test_not_fhir_file():
    code, _, err = run(str(FIX / "not-fhir.json"))
    assert code == 2 and "not a FHIR resource" in err


def test_missing_path_is_exit_2_but_the_rest_is_still_evaluated():
    code, out, err = run(str(FIX / "mescc-collection.json"), str(FIX / "nope.json"), "--now", NOW)
    assert code == 2
    assert "nope.json: no such file or directory" in err
    assert "sample-mescc-12h" in out


def test_bad_now_is_exit_2():
    code, _, err = run(str(FIX / "mescc-collection.json"), "--now", "yesterday")
    assert code == 2 and "--now" in err


def test_unknown_hook_is_an_argparse_error():
    with pytest.raises(SystemExit) as exc:
        run(str(FIX / "mescc-collection.json"), "--hook", "encounter-start")
    assert exc.value.code == 2


def test_help_says_searches_count_as_succeeded(capsys):
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    text = capsys.readouterr().out
    assert "counts as succeeded" in text and "NDJSON" in text and "--hook" in text


# --------------------------------------------------------------------------- order hooks

def test_order_sign_checks_the_draft_mri_order_DX_2a():
    code, out, err = run(str(FIX / "order-mri-routine.json"), "--hook", "order-sign", "--format", "json",
                         "--now", NOW)
    assert code == 0, err
    [result] = json_lines(out)
    mri = by_topic(result)["mri-order"]["extension"]["org.spine-cds.result"]
    assert mri["requiredWithinHours"] == 12 and mri["wholeSpine"] is False
    assert result["hook"] == "order-sign"


def test_order_hook_skips_patients_without_draft_orders():
    code, out, err = run(str(FIX / "three-patients.ndjson"), "--hook", "order-select", "--format", "json",
                         "--now", NOW)
    assert code == 0 and out == ""
    assert "3 patient(s) without draft orders skipped" in err


# --------------------------------------------------------------------------- many patients

@pytest.fixture(scope="module")
def many_ndjson(tmp_path_factory) -> pathlib.Path:
    """Every sample patient (21+) in one NDJSON file."""
    path = tmp_path_factory.mktemp("bulk") / "bulk.ndjson"
    with path.open("w", encoding="utf-8") as fh:
        for s in samples.list_samples(now=NOW_DT):
            for res in samples.resources(s.id, now=NOW_DT):
                fh.write(json.dumps(res) + "\n")
    return path


def test_many_patients_table_ends_with_a_summary(many_ndjson):
    n = len(samples.list_samples())
    assert n > evaluate.MANY
    code, out, err = run(str(many_ndjson), "--now", NOW, "--lang", "en")
    assert code == 0
    table, summary = out.split("\nSummary: ", 1)
    assert summary.startswith(f"{n} patients, {n - 1} with cards")
    verdict_line = next(line for line in summary.splitlines() if line.startswith("vpbk-eligibility"))
    for verdict in ("eligible", "eligible-relative-contraindications", "mdo-review-needed", "not-eligible",
                    "insufficient-data"):
        assert f"{verdict}: " in verdict_line
    mri_line = next(line for line in summary.splitlines() if line.startswith("mri-urgency"))
    assert "windowHours:" in mri_line and "12: " in mri_line
    # the summary's card count is the table's row count (minus the patient without cards)
    rows = table.splitlines()[1:]
    cards_total = int(summary.split(" with cards, ")[1].split(" cards")[0])
    assert len(rows) == cards_total + 1
    assert "[" not in err  # stderr is not a TTY here: no progress bar


def test_many_patients_json_summary_goes_to_stderr(many_ndjson):
    code, out, err = run(str(many_ndjson), "--format", "json", "--now", NOW)
    assert code == 0
    assert len(json_lines(out)) == len(samples.list_samples())
    assert "Summary:" in err and "Summary:" not in out


def test_progress_bar_only_on_a_tty(many_ndjson):
    _, _, err = run(str(many_ndjson), "--format", "json", "--now", NOW, "--no-summary", tty=True)
    n = len(samples.list_samples())
    assert f"] {n}/{n} patients" in err and "\r" in err
    _, _, err = run(str(many_ndjson), "--format", "json", "--now", NOW, "--no-summary", "--quiet", tty=True)
    assert "patients" not in err


def test_summary_can_be_forced_for_few_patients():
    _, out, _ = run(str(FIX / "mescc-collection.json"), "--now", NOW, "--summary")
    assert "\nSummary: 1 patients, 1 with cards" in out


# --------------------------------------------------------------------------- the console entry

def test_python_m_cli_evaluate_subprocess():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "cds_service.cli", "evaluate", str(FIX / "mescc-collection.json"),
                           "--format", "json", "--now", NOW, "--lang", "en"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    [result] = json_lines(proc.stdout)
    assert by_topic(result)["mri-urgency"]["extension"]["org.spine-cds.result"]["rule"] == "DX-2a"
    proc = subprocess.run([sys.executable, "-m", "cds_service.cli", "evaluate", str(FIX / "broken.json")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=str(REPO))
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr


def test_evaluate_applies_the_freshness_setting_like_the_service(tmp_path, monkeypatch, capsys):
    """Regression (issue 14): evaluate re-read the environment and dropped SPINE_CDS_FRESHNESS, so a
    2-day-old INR counted as fresh offline while the service (INR limit 1 day) called it stale."""
    from cds_service.cli import main as cli_main

    from .conftest import make_app

    def inr_status(env: dict[str, str]) -> str:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert cli_main(["evaluate", "--sample", "vpbk-eligible-metastatic", "--format", "json",
                         "--lang", "en"]) == 0
        for name in env:
            monkeypatch.delenv(name)
        [line] = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
        [card] = [c for c in json.loads(line)["cards"] if c["source"]["topic"]["code"] == "vpbk-preprocedure"]
        [check] = [c for c in card["extension"]["org.spine-cds.result"]["checks"] if c["code"] == "inr"]
        return check["status"]

    assert inr_status({}) == "ok"
    assert inr_status({"SPINE_CDS_FRESHNESS": '{"inr": 1}'}) == "unknown"
    # the service, with the same setting, decides the same
    app = make_app(tmp_path, FRESHNESS='{"inr": 1}')
    assert app.extensions["spine_cds"].runtime.mapping_settings.freshness_days == {"inr": 1}
