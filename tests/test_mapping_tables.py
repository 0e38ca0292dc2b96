"""The terminology tables: verify flags kept, validation at load, a site's extra mapping file."""
from __future__ import annotations

import json

import pytest

from fhir_mappings import MappingSettings, TerminologyError, build_facts, load_tables
from fhir_mappings.tables import VERIFY_URL, compile_terminology, load_terminology

from .support.mapping import ALL_OK, ICD, LOINC, NOW, SCT, condition

# Codes the data dictionary marks *verify*: (domain, system, code as written in the table)
VERIFY_CODES = [
    ("condition", ICD, "S12*"), ("condition", ICD, "S22.0*"), ("condition", ICD, "S32.0*"),
    ("condition", ICD, "D16.6"), ("condition", SCT, "203241002"), ("condition", SCT, "91302008"),
    ("observation", LOINC, "5902-2"), ("observation", LOINC, "2951-2"), ("observation", LOINC, "2823-3"),
    ("observation", LOINC, "2160-0"), ("event", SCT, "29303009"), ("event", SCT, "399208008"),
    ("allergy", SCT, "716186003"),
]


def _elements(domain):
    term_dir = __import__("importlib").resources.files("fhir_mappings") / "terminology"
    doc = json.loads((term_dir / f"ConceptMap-{domain}.json").read_text(encoding="utf-8"))
    for g in doc["group"]:
        for e in g["element"]:
            yield g["source"], e


@pytest.mark.parametrize("domain,system,code", VERIFY_CODES, ids=[f"DD-verify-{c[2]}" for c in VERIFY_CODES])
def test_verify_codes_stay_flagged(domain, system, code):
    found = [e for s, e in _elements(domain) if s == system and e["code"] == code]
    assert found, f"{code} missing from ConceptMap-{domain}.json"
    assert all({"url": VERIFY_URL, "valueBoolean": True} in e.get("extension", []) for e in found)
    term = load_terminology()
    assert all(t.verify for t in term.lookup(domain, system, code.rstrip("*") + ("1" if code.endswith("*") else "")))


def test_brain_metastases_as_visceral_is_flagged_policy():
    assert all(t.policy for t in load_terminology().lookup("condition", ICD, "C79.31"))


def test_load_tables_once_at_startup():
    term = load_tables()
    assert term is load_terminology()
    assert len(term.obs_defs) > 60 and term.sources


def _write(tmp_path, doc):
    p = tmp_path / "site.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


SITE_MAP = {"resourceType": "ConceptMap", "url": "https://hospital.example/fhir/ConceptMap/spine",
            "targetUri": "https://spine-cds.org/fhir/ValueSet/condition", "status": "active",
            "group": [{"source": "https://hospital.example/codes", "target": "https://spine-cds.org/fhir/CodeSystem/spine-cds",
                       "element": [{"code": "MET-WK", "target": [{"code": "spinal-metastasis", "equivalence": "equivalent"}]}]}]}


def test_extra_mapping_file_adds_site_codes(tmp_path):
    cancer_map = dict(SITE_MAP, targetUri="https://spine-cds.org/fhir/ValueSet/cancer",
                      group=[{"source": SCT, "element": [{"code": "99999999", "target": [
                          {"code": "breast", "equivalence": "equivalent"}]}]}])
    path = _write(tmp_path, {"resourceType": "Bundle", "entry": [{"resource": SITE_MAP}, {"resource": cancer_map}]})
    settings = MappingSettings.from_env({"SPINE_CDS_EXTRA_MAPPINGS": path})
    assert settings.extra_mapping_file == path
    load_tables(settings)
    res = [condition("https://hospital.example/codes", "MET-WK", body_site="L2"),
           condition(SCT, "99999999", rid="c2")]
    f = build_facts(res, searches=ALL_OK, now=NOW, settings=settings)
    assert f.metastatic_levels() == ["L2"] and [c.cancer_type for c in f.cancers] == ["breast"]
    # the defaults are untouched
    assert build_facts(res, searches=ALL_OK, now=NOW).conditions == []


@pytest.mark.parametrize("broken", [
    "not json",
    {"resourceType": "ValueSet"},
    dict(SITE_MAP, targetUri="https://spine-cds.org/fhir/ValueSet/nonsense"),
    dict(SITE_MAP, group=[{"source": "x", "element": [{"code": "a", "target": [{"code": "no-such-fact"}]}]}]),
    dict(SITE_MAP, group=[{"source": "x", "element": [{"code": "a", "target": [{"code": "breast"}]}]}]),
    dict(SITE_MAP, group=[{"source": "x", "element": [{"code": "a*", "target": [{"code": "spinal-metastasis"}]}]}]),
    dict(SITE_MAP, group=[{"source": "x", "element": [{"code": "a", "target": [
        {"code": "spinal-metastasis", "dependsOn": [{"property": "bodySite", "value": "knee"}]}]}]}]),
    dict(SITE_MAP, group=[{"source": "x", "element": [{"code": "", "target": []}]}]),
])
def test_malformed_extra_mapping_fails_loudly(tmp_path, broken):
    p = tmp_path / "site.json"
    p.write_text(broken if isinstance(broken, str) else json.dumps(broken), encoding="utf-8")
    with pytest.raises(TerminologyError):
        compile_terminology(str(p))


def test_missing_extra_file_fails_loudly(tmp_path):
    with pytest.raises(TerminologyError):
        compile_terminology(str(tmp_path / "absent.json"))


def test_bad_freshness_override_fails_at_startup():
    with pytest.raises(ValueError):
        load_tables(MappingSettings(freshness_days={"no-such-fact": 3}))


def test_lookups_are_prefix_tables():
    term = load_terminology()
    assert ("http://hl7.org/fhir/sid/icd-10", "C50") in term.prefix["cancer"]
    assert [t.code for t in term.lookup("cancer", ICD + "-nl", "C50.9")] == ["breast"]
    assert term.lookup("cancer", ICD, "D50") == ()
    assert [t.code for t in term.lookup("medication", "http://www.whocc.no/atc", "h02ab02")] == ["corticosteroid"]
