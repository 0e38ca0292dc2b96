"""Cards a clinician reads in ten seconds (issue 16), measured over every card the bundled
sample patients and the table-driven cases (tests/cases) give, in Dutch and English:
no ``detail`` over 1,500 characters, a median under 700, and none of the patterns no
clinician can use (raw references, code-system URLs, placeholders, message keys, the
same evidence twice, "not recorded" next to a reference). The references stay per
criterion in the machine-readable result (``evidence``)."""
from __future__ import annotations

import re
import statistics
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards import RESULT_EXTENSION, SUMMARY_LIMIT

from .support.sample_cards import case_cards, sample_cards

DETAIL_MAX = 1500
DETAIL_MEDIAN_MAX = 700
RESOURCE_TYPES = ("Patient|Condition|Observation|Procedure|MedicationRequest|MedicationStatement|"
                  "MedicationAdministration|AllergyIntolerance|ServiceRequest|DiagnosticReport|ImagingStudy")
#: what must never stand in a card's text, with why
FORBIDDEN = {
    "raw reference": re.compile(rf"\b(?:{RESOURCE_TYPES})/[A-Za-z0-9\-.]+"),
    "code-system URL": re.compile(r"https?://[^\s)]*(?:CodeSystem|ValueSet|/sid/|snomed\.info|loinc\.org)"),
    "placeholder (-)": re.compile(r"\(\\?-\)"),
    "placeholder Notes: -": re.compile(r"(?:Notes|Opmerkingen): \\?-"),
    "placeholder (levels: -)": re.compile(r"\((?:levels|niveaus): \\?-\)"),
    "placeholder ? days": re.compile(r"\? (?:days|dagen)\b"),
    "placeholder -": re.compile(r"(?<![\w\-])\\-(?![\w\-])"),
    "message key": re.compile(r"\[[a-z]+(?:\.[a-z0-9\-]+){1,}\]|\b(?:vpbk|dx|tx|sins|common|missing|unknown)"
                              r"\.[a-z0-9\-]+\.[a-z0-9\-.]+"),
    "ISO date": re.compile(r"\b20\d\d-\d\d-\d\d"),
}
#: English words that must not be left in a Dutch card (outside request data and codes)
ENGLISH_IN_DUTCH = re.compile(r"\b(?:the|and|not recorded|none recorded|searched|unknown|Missing data|Met|"
                              r"Not met|Rules|data|Background|see the|record|recorded)\b")
DUTCH_DECIMAL_POINT = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")


@pytest.fixture(scope="module")
def cards(all_sample_cards: list[dict]) -> list[dict[str, Any]]:
    return all_sample_cards + case_cards()


def _where(card: dict[str, Any]) -> str:
    return f"{card['sample']} {card['hook']} {card['source']['topic']['code']} [{card['lang']}]"


def test_the_measure_covers_samples_and_cases_in_both_languages(cards):
    assert {c["lang"] for c in cards} == {"nl", "en"}
    assert any(":" in c["sample"] for c in cards) and any(":" not in c["sample"] for c in cards)
    assert len(cards) > 1000


def test_detail_length_limits(cards):
    lengths = [len(c["detail"]) for c in cards]
    longest = max(cards, key=lambda c: len(c["detail"]))
    median = statistics.median(lengths)
    print(f"\ncards: {len(cards)}, detail median {median}, max {max(lengths)} ({_where(longest)})")
    assert max(lengths) <= DETAIL_MAX, (_where(longest), longest["detail"])
    assert median < DETAIL_MEDIAN_MAX


def test_summary_under_140_in_the_response_language(cards):
    for card in cards:
        assert len(card["summary"]) <= SUMMARY_LIMIT, _where(card)


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_no_pattern_a_clinician_cannot_use(cards, name):
    pattern = FORBIDDEN[name]
    found = [(_where(c), m.group()) for c in cards for field in ("summary", "detail")
             if (m := pattern.search(c[field]))]
    assert not found, found[:5]


def test_no_evidence_line_twice_and_no_not_recorded_next_to_a_reference(cards):
    for card in cards:
        for line in card["detail"].splitlines():
            if " — " not in line:
                continue
            parts = [p.strip() for p in line.split(" — ", 1)[1].split(";")]
            assert len(parts) == len(set(parts)), (_where(card), line)
            if any(p in ("not recorded", "niet vastgelegd") for p in parts):
                assert not FORBIDDEN["raw reference"].search(line), (_where(card), line)


def test_dutch_cards_read_as_dutch(cards):
    for card in (c for c in cards if c["lang"] == "nl"):
        for field in ("summary", "detail"):
            text = re.sub(r"\([^()]*\b(?:lokaal|lokale code)\b[^()]*\)", "", card[field])  # local codes
            m = ENGLISH_IN_DUTCH.search(text)
            assert not m, (_where(card), m.group(), text)
            m = DUTCH_DECIMAL_POINT.search(text)
            assert not m, (_where(card), m.group(), text)


def test_references_stay_in_the_result_per_criterion(cards):
    traced = 0
    for card in cards:
        result = card["extension"][RESULT_EXTENSION]
        for item in result.get("evidence", []):
            assert set(item) >= {"criterion", "status", "references"}
            assert all(FORBIDDEN["raw reference"].fullmatch(r) for r in item["references"]), item
            traced += bool(item["references"])
        # the contract's fields are still there
        assert "rulesVersion" in result and "missing" in result and "rules" in result
    assert traced > 100


def test_static_text_is_one_line_with_links_to_rule_pages(cards):
    vpbk = [c for c in cards if c["source"]["topic"]["code"] == "vpbk-eligibility"]
    assert vpbk
    for card in vpbk:
        assert "/guideline/rules/" in card["source"]["url"]
        assert "Uitkomsten en risico" not in card["detail"] and "Outcomes and risks:" not in card["detail"]
        pages = [link["url"] for link in card["links"] if "/guideline/rules/" in link["url"]]
        if "Achtergrond" in card["detail"] or "Background" in card["detail"]:
            assert len(set(pages)) >= 2, (_where(card), pages)  # the card's rule, and where the background is


def test_bk_ordered_at_t3_summary_names_the_block(all_sample_cards):
    summaries = {c["lang"]: c["summary"] for c in all_sample_cards if c["sample"] == "bk-order-t3"
                 and c["hook"] != "patient-view" and c["source"]["topic"]["code"] == "vpbk-eligibility"}
    assert summaries["en"].startswith("BK not possible at T3"), summaries
    assert summaries["nl"].startswith("BK niet mogelijk op Th3"), summaries


def test_absolute_contraindication_is_named_in_the_summary(cards):
    blocked = [c for c in cards if c["source"]["topic"]["code"] == "vpbk-eligibility"
               and c["extension"][RESULT_EXTENSION].get("absoluteContraindications")]
    assert blocked
    for card in blocked:
        word = "absolute contra-indicatie" if card["lang"] == "nl" else "absolute contraindication"
        assert word in card["summary"], (_where(card), card["summary"])


def _service_requests(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["resource"] for s in card.get("suggestions", []) for a in s["actions"]
            if a["type"] == "create" and a["resource"]["resourceType"] == "ServiceRequest"]


@pytest.mark.parametrize("verdict, code", [("eligible", "ir-referral"),
                                           ("eligible-relative-contraindications", "ir-referral"),
                                           ("mdo-review-needed", "mdo-referral")])
def test_verdict_suggests_the_referral_as_valid_fhir_with_patient_and_level(cards, verdict, code):
    seen = 0
    for card in cards:
        result = card["extension"][RESULT_EXTENSION]
        if card["source"]["topic"]["code"] != "vpbk-eligibility" or result.get("verdict") != verdict:
            continue
        if code == "ir-referral" and result.get("orderedTechnique"):  # the order is already on the table
            continue
        found = [r for r in _service_requests(card) if r["code"]["coding"][0]["code"] == code]
        assert found, (_where(card), card.get("suggestions"))
        for res in found:
            ServiceRequest.model_validate(res)  # a valid FHIR R4 resource
            assert res["subject"]["reference"].startswith("Patient/")
            assert res["bodySite"][0]["text"]
            if code == "ir-referral":
                techniques = {d["coding"][0]["code"] for d in res["orderDetail"]}
                allowed = {"VP": "percutaneous-vertebroplasty", "BK": "balloon-kyphoplasty"}
                assert techniques == {allowed[t] for t in result["technique"]}
        seen += 1
    assert seen, f"no {verdict} card without an order"


def test_the_measure_fails_on_what_it_forbids():
    bad = ("- ✘ **Not met**: x (DX-1) — Observation/o121, 2026-11-20; not recorded; Observation/o121\n"
           "https://spine-cds.org/fhir/CodeSystem/spine-cds (-) Notes: -. (levels: -) now ? days [dx.crit.x]")
    for name, pattern in FORBIDDEN.items():
        if name in ("placeholder -",):
            continue
        assert pattern.search(bad), name
    assert ENGLISH_IN_DUTCH.search("gegevens: not recorded")
    assert DUTCH_DECIMAL_POINT.search("INR 1.1 onder 1,5")
    assert datetime.now(UTC)  # the samples are dated relative to now (conftest)


RULE_ID = re.compile(r"\b[A-Z]{2,5}(?:-[A-Z])?-\d+[a-z]?\b")


def test_met_criteria_compressed_but_named_by_rule(cards):
    """Met criteria compressed, never counted away: every met line names its rule(s),
    the most compact one too (``✔ Met (20): VPBK-M-1, VPBK-M-2, …``)."""
    counted = 0
    for card in cards:
        for line in card["detail"].splitlines():
            if not line.startswith("- ✔ **"):
                continue
            assert RULE_ID.search(line), (_where(card), line)
            assert not re.search(r"\*\*: \d+ criteria$", line), (_where(card), line)
            counted += bool(re.match(r"- ✔ \*\*(?:Met|Voldaan)\*\* \(\d+\): ", line))
    assert counted, "no card is compacted to the counted met line: the test above does not see it"


def _discipline_names(card: dict[str, Any], catalogs) -> list[str]:
    """The disciplines the MDO card's result says must be in the meeting, as the catalog names them."""
    evidence = card["extension"][RESULT_EXTENSION].get("evidence", [])
    keys = [e["criterion"] for e in evidence if e["criterion"].startswith("tx.mdo.crit.discipline.")
            and e["status"] == "met"]
    return [re.sub(r" ?\([^()]*\)", "", catalogs.text(k, card["lang"])).strip().lower() for k in keys]


@pytest.fixture(scope="module")
def most_compact_cards() -> list[dict[str, Any]]:
    """Every sample's cards with no detail budget at all: each card at its most compact."""
    from cds_service import cards as cards_module

    mp = pytest.MonkeyPatch()
    mp.setattr(cards_module, "_BUDGET", 0)
    try:
        return sample_cards(datetime.now(UTC).replace(microsecond=0))
    finally:
        mp.undo()


def test_most_compact_met_line_still_names_its_rules(most_compact_cards):
    test_met_criteria_compressed_but_named_by_rule(most_compact_cards)


@pytest.mark.parametrize("which", ["cards", "most_compact_cards"])
def test_mdo_card_always_names_its_disciplines(which, request):
    """Who must be in the MDO is the decision of the card (TX-3): named in one line on every
    card, compacted or not (``most_compact_cards``), as many as the conclusion counts."""
    from cds_service.i18n import load_catalogs

    catalogs = load_catalogs()
    mdo = [c for c in request.getfixturevalue(which) if c["source"]["topic"]["code"] == "mdo-referral"]
    assert mdo
    named = 0
    for card in mdo:
        names = _discipline_names(card, catalogs)
        counted = re.search(r"(\d+) discipline", card["detail"].split("\n", 1)[0])
        if counted:
            assert len(names) == int(counted.group(1)), (_where(card), names, card["detail"])
        if not names:
            continue
        line = next((ln for ln in card["detail"].splitlines() if ln.startswith("- ✔ ")
                     and all(n in ln.lower() for n in names)), None)
        assert line, (_where(card), names, card["detail"])
        named += 1
    assert named > 10


def test_bk_ordered_at_t3_conclusion_says_eligible_for_vp_and_bk_not_possible(all_sample_cards):
    details = {c["lang"]: c["detail"] for c in all_sample_cards if c["sample"] == "bk-order-t3"
               and c["hook"] == "order-select" and c["source"]["topic"]["code"] == "vpbk-eligibility"}
    en, nl = (details[lang].split("\n", 1)[0] for lang in ("en", "nl"))
    assert "every criterion" not in en and "eligible for VP" in en and "BK is not possible at T3" in en, en
    assert "aan alle criteria" not in nl and "in aanmerking voor VP" in nl and "BK is niet mogelijk op Th3" in nl, nl
    # the technique point said once: no note repeating the conclusion
    assert "where only VP is possible" not in details["en"] and "Technique possible" not in details["en"]
    assert "waar alleen VP mogelijk" not in details["nl"] and "Mogelijke techniek" not in details["nl"]


def test_no_conclusion_claims_every_criterion_met_above_one_not_met(cards):
    for card in cards:
        first, _, rest = card["detail"].partition("\n")
        if "- ✘ " in rest:
            assert "every criterion" not in first and "aan alle criteria" not in first, (_where(card), card["detail"])
