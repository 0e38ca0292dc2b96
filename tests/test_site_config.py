"""A site configures the service without code changes: its own local codes
(the README's example, read from the README itself), policy overrides and
freshness limits; a broken file stops start-up with a clear error."""
from __future__ import annotations

import json
import pathlib
import re
from datetime import UTC, datetime

import pytest

from fhir_mappings import build_facts
from spine_guideline.facts import SearchStatus

from .conftest import make_app

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_extra_mapping() -> dict:
    text = (ROOT / "README.md").read_text()
    section = text.split("### A hospital's own codes", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    return json.loads(block)


def test_readme_extra_mapping_example_maps_a_local_code(tmp_path):
    path = tmp_path / "site-codes.json"
    path.write_text(json.dumps(readme_extra_mapping()))
    app = make_app(tmp_path, EXTRA_MAPPINGS=str(path))
    settings = app.extensions["spine_cds"].mapping_settings
    cond = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "https://hospital.example.org/codes", "code": "MET-WK"}]},
            "bodySite": [{"text": "L2"}]}
    facts = build_facts([cond], searches={"Condition": SearchStatus.OK}, now=datetime.now(UTC),
                        patient_id="p1", settings=settings)
    assert facts.metastatic_levels() == ["L2"]


def test_broken_extra_mapping_stops_start_up(tmp_path):
    path = tmp_path / "broken.json"
    doc = readme_extra_mapping()
    doc["group"][0]["element"][0]["target"][0]["code"] = "no-such-local-code"
    path.write_text(json.dumps(doc))
    with pytest.raises(Exception, match="no-such-local-code|not a spine-cds code|unknown"):
        make_app(tmp_path, EXTRA_MAPPINGS=str(path))


def test_policy_override_file_changes_a_threshold(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"augmentation": {"inr_max_exclusive": 1.4}}))
    app = make_app(tmp_path, POLICY_FILE=str(path))
    entry = app.extensions["spine_cds"].policy.entry("augmentation", "inr_max_exclusive")
    assert entry.value == 1.4 and entry.policy and "site override" in entry.source


def test_policy_override_of_unknown_value_stops_start_up(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"augmentation": {"no_such_threshold": 1}}))
    with pytest.raises(Exception, match="unknown policy value"):
        make_app(tmp_path, POLICY_FILE=str(path))


def test_freshness_override_makes_an_older_inr_stale(tmp_path):
    app = make_app(tmp_path, FRESHNESS=json.dumps({"inr": 1}))
    settings = app.extensions["spine_cds"].mapping_settings
    obs = {"resourceType": "Observation", "id": "inr1", "status": "final", "subject": {"reference": "Patient/p1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "6301-6"}]},
           "valueQuantity": {"value": 1.2}, "effectiveDateTime": "2026-11-20T10:00:00+00:00"}
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    stale = build_facts([obs], searches={"Observation": SearchStatus.OK}, now=now, patient_id="p1",
                        settings=settings).obs("inr")
    fresh = build_facts([obs], searches={"Observation": SearchStatus.OK}, now=now, patient_id="p1").obs("inr")
    assert fresh.value == 1.2
    assert stale.value is None and stale.unknown.value == "stale"
