"""Codes the verified EHR code list refuses (terminology/refused-codes.json) stay out of every table.

The list is kept in the package with its origin; this test holds every shipped ConceptMap, the
compiled lookups (exact and prefix) and the answer table against it, and the sample patients and case
files too (a sample coded with a refused code would silently lose its fact once the code is gone)."""
from __future__ import annotations

import json
import pathlib
import re
from importlib import resources

import pytest

from fhir_mappings.tables import DOMAINS, compile_terminology

TERM_DIR = resources.files("fhir_mappings") / "terminology"
REFUSED_DOC = json.loads((TERM_DIR / "refused-codes.json").read_text(encoding="utf-8"))
REFUSED = [(c["system"], c["code"]) for c in REFUSED_DOC["codes"]]
ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_refused_list_is_the_one_from_the_verified_code_list():
    assert "ehr-codes.md" in REFUSED_DOC["origin"]
    codes = {c for _, c in REFUSED}
    # the concrete codes the verified list marks 'not to be used' (issue 17 audit)
    assert {"71286001", "42942008", "427811002", "241645008", "431985004", "392010000",
            "82810-3", "LA15173-0"} <= codes
    assert all(c.get("reason") for c in REFUSED_DOC["codes"])


def _conceptmap_elements():
    term = compile_terminology()
    for item in sorted(TERM_DIR.iterdir(), key=lambda p: p.name):
        if item.name.startswith("ConceptMap-") and item.name.endswith(".json"):
            doc = json.loads(item.read_text(encoding="utf-8"))
            for g in doc["group"]:
                system = term.system(g["source"])
                for e in g["element"]:
                    yield item.name, system, e["code"]


@pytest.mark.parametrize("system,code", REFUSED, ids=[c for _, c in REFUSED])
def test_no_conceptmap_element_maps_a_refused_code(system, code):
    term = compile_terminology()
    sys_ = term.system(system)
    hits = [(name, c) for name, s, c in _conceptmap_elements()
            if s == sys_ and (c == code or (c.endswith("*") and
                                            term.normalise(s, code).startswith(term.normalise(s, c[:-1]))))]
    assert not hits, f"{system}|{code} is refused by refused-codes.json but mapped in {hits}"


@pytest.mark.parametrize("system,code", REFUSED, ids=[c for _, c in REFUSED])
def test_compiled_tables_do_not_know_a_refused_code(system, code):
    term = compile_terminology()
    assert all(term.lookup(d, system, code) == () for d in DOMAINS)
    sys_ = term.system(system)
    assert not [k for k in term.answers if k[1] == sys_ and k[2] == code]


def _codings(node):
    if isinstance(node, dict):
        if isinstance(node.get("code"), str) and isinstance(node.get("system"), str):
            yield node["system"], node["code"]
        for v in node.values():
            yield from _codings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _codings(v)


@pytest.mark.parametrize("path", sorted([*ROOT.glob("cds_service/samples/*.json"), *ROOT.glob("tests/cases/*.json")]),
                         ids=lambda p: p.name)
def test_samples_and_cases_use_no_refused_code(path):
    refused = set(REFUSED)
    used = set(_codings(json.loads(path.read_text(encoding="utf-8"))))
    assert not used & refused, f"{path.name} codes with refused {sorted(used & refused)}"


def test_no_card_text_tells_a_clinician_to_record_a_refused_code():
    """A how-to-record text naming a code the mapping ignores would send the record nowhere."""
    catalogs = sorted((ROOT / "cds_service" / "messages").glob("*/*.json"))
    assert catalogs
    found = [(path.parent.name, path.name, key, code) for path in catalogs
             for key, text in json.loads(path.read_text(encoding="utf-8")).items()
             for _, code in REFUSED if isinstance(text, str) and re.search(rf"(?<![\w.-]){re.escape(code)}(?![\w-])", text)]
    assert not found
