"""A setting that cannot be used stops start-up with one line naming it and exit 2,
never a traceback: the policy file, the site mapping file, freshness JSON, the trust file."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cds_service.cli import main


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


CASES = [
    ("POLICY_FILE", lambda t: str(t / "nope.json"), "cannot read the file"),
    ("POLICY_FILE", lambda t: _write(t, "p.json", "{not json"), "SPINE_CDS_POLICY_FILE: Expecting"),
    ("POLICY_FILE", lambda t: _write(t, "p.json", '{"augmentation": {"no_such_value": 1}}'),
     "unknown policy value augmentation.no_such_value"),
    ("POLICY_FILE", lambda t: _write(t, "p.json", "[1, 2]"), "expected a JSON object"),
    ("EXTRA_MAPPINGS", lambda t: str(t / "missing.json"), "SPINE_CDS_EXTRA_MAPPINGS"),
    ("EXTRA_MAPPINGS", lambda t: _write(t, "m.json", '{"resourceType": "ConceptMap", "group": 3}'),
     "SPINE_CDS_EXTRA_MAPPINGS"),
    ("FRESHNESS", lambda t: "{inr: 3", "SPINE_CDS_FRESHNESS"),
    ("FRESHNESS", lambda t: '{"inr": -3}', "whole day counts"),
    ("FRESHNESS", lambda t: '{"inr": 2.5}', "whole day counts"),
    ("FRESHNESS", lambda t: "[3]", "whole day counts"),
    ("TRUST", lambda t: _write(t, "trust.json", "{}"), "SPINE_CDS_TRUST"),
    ("TRUST", lambda t: _write(t, "trust.json", "{oops"), "SPINE_CDS_TRUST"),
]


@pytest.mark.parametrize("setting,value,expected", CASES)
def test_bad_setting_is_one_line_and_exit_2(setting, value, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPINE_CDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPINE_CDS_BASE_URL", "https://cds.example.org")
    if setting == "TRUST":
        monkeypatch.setenv("SPINE_CDS_AUTH", "required")
    else:
        monkeypatch.setenv("SPINE_CDS_AUTH", "off")
    monkeypatch.setenv(f"SPINE_CDS_{setting}", value(tmp_path))
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("spine-cds: configuration error: SPINE_CDS_"), err
    assert expected in err, err
    assert "Traceback" not in err


def test_evaluate_names_a_bad_policy_file_and_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPINE_CDS_POLICY_FILE", str(tmp_path / "absent.json"))
    bundle = _write(tmp_path, "b.json", json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1"}}]}))
    assert main(["evaluate", bundle]) == 2
    err = capsys.readouterr().err
    assert "configuration error: SPINE_CDS_POLICY_FILE: cannot read the file" in err
    assert "Traceback" not in err


def test_the_command_itself_prints_no_traceback(tmp_path):
    env = {"SPINE_CDS_POLICY_FILE": str(tmp_path / "absent.json"), "SPINE_CDS_AUTH": "off",
           "SPINE_CDS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "cds_service.cli", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"spine-cds: configuration error: SPINE_CDS_POLICY_FILE: cannot read the file (No such file or directory): "
        f"{tmp_path / 'absent.json'}"]
