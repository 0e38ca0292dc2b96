"""The rules reference the service serves (/guideline, /guideline/rules/{RULE-ID}) and
the cards' links to it."""
from __future__ import annotations

import html
import json
import re

import pytest

from cds_service.guideline import LANGUAGES, load_texts
from spine_guideline import GUIDELINE_VERSION
from spine_guideline.registry import RULES

from .conftest import make_app

PAGE_KEYS = {"title", "decides", "policy", "source"}


def test_every_registered_rule_has_a_page_text_in_both_languages() -> None:
    texts = load_texts()
    for lang in LANGUAGES:
        rule_keys = {k for k in texts[lang] if not k.startswith("_")}
        assert rule_keys == set(RULES), (lang, sorted(rule_keys ^ set(RULES)))
        for rid, text in texts[lang].items():
            if rid.startswith("_"):
                continue
            assert PAGE_KEYS <= set(text), (lang, rid)
            assert text["title"].strip() and len(text["title"]) <= 60, (lang, rid)
            assert text["decides"].strip() and text["source"].strip(), (lang, rid)
            assert isinstance(text["policy"], list), (lang, rid)
            assert not re.search(r"<[A-Za-z/!]", json.dumps(text)), (lang, rid)  # plain text, no markup
        assert set(texts[lang]["_sources"]) == {"000", "001", "002", "003", "004"}


@pytest.mark.parametrize("rid", ["VPBK-T-3", "VPBK-T-4", "VPBK-M-8", "VPBK-M-9", "VPBK-P-6", "TX-9"])
def test_static_explanations_that_left_the_cards_are_on_the_rule_pages(rid: str) -> None:
    for lang in LANGUAGES:
        assert len(load_texts()[lang][rid].get("more", "")) > 300, (lang, rid)


@pytest.fixture
def page_client(tmp_path):
    return make_app(tmp_path, BASE_URL="https://cds.example.org").test_client()


def test_index_lists_every_rule_in_both_languages(page_client) -> None:
    for lang in LANGUAGES:
        resp = page_client.get(f"/guideline?lang={lang}")
        assert resp.status_code == 200 and resp.mimetype == "text/html"
        assert resp.headers["Content-Language"] == lang
        body = resp.get_data(as_text=True)
        for rid in RULES:
            assert f'href="/guideline/rules/{rid}?lang={lang}"' in body, (lang, rid)
        assert GUIDELINE_VERSION in body


def test_language_follows_accept_language_without_a_query(page_client) -> None:
    resp = page_client.get("/guideline/rules/TX-2b", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert resp.headers["Content-Language"] == "nl"
    assert html.escape(load_texts()["nl"]["TX-2b"]["title"]) in resp.get_data(as_text=True)


def test_rule_page_names_source_thresholds_with_provenance_and_policy(page_client) -> None:
    body = page_client.get("/guideline/rules/TX-2?lang=en").get_data(as_text=True)
    text = load_texts()["en"]["TX-2"]
    assert html.escape(text["decides"]) in body
    assert "treatment.window_hours" in body and "002 BEHANDELING 1" in body
    assert "Policy choices" in body
    for child in ("TX-2a", "TX-2b", "TX-2c", "TX-2d"):
        assert f"/guideline/rules/{child}?lang=en" in body
    assert GUIDELINE_VERSION in body


def test_rule_page_shows_a_site_override(tmp_path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"augmentation": {"inr_max_exclusive": 1.4}}), encoding="utf-8")
    client = make_app(tmp_path, POLICY_FILE=str(policy)).test_client()
    body = client.get("/guideline/rules/VPBK-P-1?lang=en").get_data(as_text=True)
    assert "<code>1.4</code>" in body and "changed by this site" in body


def test_unknown_rule_is_404(page_client) -> None:
    assert page_client.get("/guideline/rules/DX-" + "42").status_code == 404
    assert page_client.get("/guideline/rules/%3Cscript%3E").status_code == 404


def test_pages_are_served_with_a_strict_content_security_policy(page_client) -> None:
    resp = page_client.get("/guideline/rules/DX-1")
    assert "script-src" not in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


def test_card_source_url_is_the_page_of_the_cards_main_rule(all_sample_cards, page_client) -> None:
    assert all_sample_cards
    seen: set[str] = set()
    for card in all_sample_cards:
        result = card["extension"]["org.spine-cds.result"]
        main = result["rules"][0] if result.get("rules") else result["rule"]
        url = card["source"]["url"]
        assert url == f"http://127.0.0.1:8080/guideline/rules/{main}", (card["sample"], url)
        assert card["links"][0]["url"] == url
        seen.add(main)
    # each page answers 200 and names the card's rules
    for rid in sorted(seen):
        resp = page_client.get(f"/guideline/rules/{rid}")
        assert resp.status_code == 200 and f"<code>{rid}</code>" in resp.get_data(as_text=True), rid


def test_card_links_use_the_configured_base_url_else_the_requests_own(tmp_path) -> None:
    body = {"hook": "patient-view", "hookInstance": "5f2c1d1e-0000-4000-8000-000000000001",
            "context": {"userId": "Practitioner/1", "patientId": "p1"},
            "prefetch": {k: None for k in ("patient", "conditions", "procedures", "medicationRequests",
                                           "medicationStatements", "serviceRequests", "diagnosticReports")}
            | {"observations": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
                "resourceType": "Observation", "id": "o1", "status": "final",
                "code": {"coding": [{"system": "https://spine-cds.org/fhir/CodeSystem/spine-cds",
                                     "code": "mescc-deficit"}]},
                "valueBoolean": True, "effectiveDateTime": "2026-11-23T08:00:00Z"}}]}}}
    for config, expected in (({"BASE_URL": "https://cds.example.org/spine"}, "https://cds.example.org/spine"),
                             ({}, "http://localhost")):
        client = make_app(tmp_path, **config).test_client()
        cards = client.post("/cds-services/spine-metastases-diagnosis", json=body).get_json()["cards"]
        assert cards
        for card in cards:
            assert re.fullmatch(re.escape(expected) + r"/guideline/rules/[A-Z]+(-[A-Z])?-\d+[a-z]?",
                                card["source"]["url"]), card["source"]["url"]
