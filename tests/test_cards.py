"""Rendering findings as CDS Hooks cards: text from the catalogs in both
languages, criteria with their data, suggestions as valid FHIR resources."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards import RenderContext, render_card
from cds_service.i18n import Catalogs, load_catalogs, negotiate
from cds_service.schemas import errors as schema_errors
from cds_service.suggestions import SuggestionContext
from spine_guideline.facts import Fact, Source, Unknown
from spine_guideline.findings import Criterion, Finding, Indicator, Missing, Status, Suggestion, msg
from spine_guideline.results import MriUrgencyResult

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CATALOGS = load_catalogs()
TEST_MESSAGES = {
    "en": {"t.summary": "MRI of the whole spine within {hours} hours", "t.conclusion": "Order an MRI now.",
           "t.crit": "Deficit present", "t.crit2": "Onset known", "t.label": "Order MRI",
           "missing.onset": "Record the onset as a component of the deficit observation",
           "t.long": "x" * 300},
    "nl": {"t.summary": "MRI van de gehele wervelkolom binnen {hours} uur", "t.conclusion": "Vraag nu een MRI aan.",
           "t.crit": "Uitval aanwezig", "t.crit2": "Begin bekend", "t.label": "MRI aanvragen",
           "missing.onset": "Leg het begin vast als component van de observatie",
           "t.long": "x" * 300},
}


def catalogs() -> Catalogs:
    merged = {lang: dict(CATALOGS.messages[lang], **TEST_MESSAGES[lang]) for lang in ("en", "nl")}
    return Catalogs.build(merged)


def finding(**kw) -> Finding:
    src = Source("Observation", "obs-1", "2026-11-20T08:00:00Z")
    base = dict(
        topic="mri-urgency", rules=["DX-1", "DX-2a"], indicator=Indicator.CRITICAL,
        summary=msg("t.summary", hours=12), conclusion=msg("t.conclusion"),
        result=MriUrgencyResult(window_hours=12, rule="DX-2a"),
        criteria=[Criterion("t.crit", Status.MET, "DX-1", (Fact("mescc-deficit", True, (src,)),)),
                  Criterion("t.crit2", Status.UNKNOWN, "DX-2a",
                            (Fact.missing("mescc-deficit.onset", why=Unknown.STALE),))],
        missing=[Missing("onset")],
        suggestions=[Suggestion("create-mri-whole-spine", msg("t.label"),
                                {"priority": "stat", "within_hours": 12, "rule": "DX-2a"})],
    )
    base.update(kw)
    return Finding(**base)


def render(f: Finding, lang="en", drafts=None):
    cats = catalogs()
    ctx = RenderContext(lang, cats, SuggestionContext("p1", NOW, lang, cats, drafts or {}))
    return render_card(f, ctx)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_card_is_valid_and_complete(lang):
    card = render(finding(), lang)
    assert not schema_errors("response", {"cards": [card]})
    assert card["summary"] == TEST_MESSAGES[lang]["t.summary"].format(hours=12)
    assert card["indicator"] == "critical"
    assert card["source"]["topic"] == {"system": "https://spine-cds.org/fhir/CodeSystem/card-topic",
                                       "code": "mri-urgency", "display": CATALOGS.messages[lang]["topic.mri-urgency"]}
    # rules 2026.12 (api-contract): every result also carries missing and rulesVersion
    # issue 16: the references each criterion rests on stay in the result (``evidence``), not in the text
    assert card["extension"]["org.spine-cds.result"] == {
        "windowHours": 12, "rule": "DX-2a", "rules": ["DX-1", "DX-2a"], "missing": ["onset"], "rulesVersion": "2026.12",
        "evidence": [{"criterion": "t.crit", "status": "met", "references": ["Observation/obs-1"], "rule": "DX-1"},
                     {"criterion": "t.crit2", "status": "unknown", "references": [], "rule": "DX-2a",
                      "unknown": ["stale"]}]}
    assert card["overrideReasons"] and all(r["display"] for r in card["overrideReasons"])
    assert card["selectionBehavior"] == "at-most-one"


def test_detail_states_conclusion_then_missing_then_open_criteria_then_met():
    # issue 16: the conclusion, then what to record, then what is not met / unknown with its
    # evidence, then the met criteria compressed per rule; no raw reference in the text
    detail = render(finding())["detail"]
    assert (detail.index("Order an MRI now.") < detail.index("Missing data") < detail.index("Onset known")
            < detail.index("deficit present"))
    assert "Observation/obs-1" not in detail
    assert "✔ **Met** (DX-1): deficit present" in detail
    assert "? **Unknown**: Onset known (DX-2a)" in detail
    assert "recorded too long ago" in detail
    assert "Record the onset as a component" in detail


def test_absent_condition_reads_as_none_recorded_with_what_was_searched():
    f = finding(criteria=[Criterion("t.crit", Status.NOT_MET, "DX-1",
                                    (Fact("vertebral-infection", False, searched="Condition"),))])
    assert "none recorded (searched: conditions)" in render(f)["detail"]


def test_long_summary_is_cut_below_140():
    card = render(finding(summary=msg("t.long")))
    assert len(card["summary"]) < 140


def test_info_card_has_no_override_reasons():
    card = render(finding(indicator=Indicator.INFO, suggestions=[]))
    assert "overrideReasons" not in card and "suggestions" not in card


def test_data_in_detail_cannot_inject_html():
    f = finding(criteria=[Criterion("t.crit", Status.MET, "DX-1",
                                    (Fact("x", True, (Source("Observation", "<script>alert(1)</script>"),)),))])
    assert "<script>" not in render(f)["detail"]


def test_mri_suggestion_is_a_valid_r4_service_request_with_deadline():
    card = render(finding())
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    res = action["resource"]
    ServiceRequest.model_validate(res)
    assert res["priority"] == "stat"
    assert res["occurrenceDateTime"] == "2026-11-23T22:00:00+00:00"
    assert res["subject"] == {"reference": "Patient/p1"}
    assert res["code"]["coding"][0]["code"] == "mri-whole-spine"


def test_dexamethasone_suggestion_is_a_valid_medication_request_with_tx1_dose():
    card = render(finding(topic="corticosteroids", suggestions=[Suggestion("create-dexamethasone", msg("t.label"))]))
    res = card["suggestions"][0]["actions"][0]["resource"]
    MedicationRequest.model_validate(res)
    doses = res["dosageInstruction"]
    assert doses[0]["doseAndRate"][0]["doseQuantity"]["value"] == 10
    assert doses[1]["doseAndRate"][0]["doseRange"]["low"]["value"] == 8
    assert doses[1]["doseAndRate"][0]["doseRange"]["high"]["value"] == 16


def test_update_suggestion_changes_the_draft_order():
    draft = {"resourceType": "ServiceRequest", "id": "mri-1", "status": "draft", "intent": "order",
             "priority": "routine", "subject": {"reference": "Patient/p1"},
             "code": {"coding": [{"system": "http://loinc.org", "code": "24935-9"}]}}
    f = finding(topic="mri-order", suggestions=[Suggestion("update-mri-order", msg("t.label"), {
        "order_id": "ServiceRequest/mri-1", "priority": "stat", "within_hours": 12, "whole_spine": True})])
    card = render(f, drafts={"ServiceRequest/mri-1": draft})
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "update"
    assert action["resource"]["id"] == "mri-1"
    assert action["resource"]["priority"] == "stat"
    assert action["resource"]["code"]["coding"][0]["code"] == "mri-whole-spine"
    assert draft["priority"] == "routine"  # the request's own data is not modified


def test_lab_suggestion_orders_each_lab():
    f = finding(topic="vpbk-preprocedure", suggestions=[Suggestion("create-lab-order", msg("t.label"),
                                                                   {"lab": "electrolytes"})])
    codes = [a["resource"]["code"]["coding"][0]["code"] for a in render(f)["suggestions"][0]["actions"]]
    assert codes == ["2951-2", "2823-3"]


@pytest.mark.parametrize("header,expected", [
    (None, "nl"), ("en", "en"), ("en-GB,en;q=0.9", "en"), ("nl-NL", "nl"), ("de, en;q=0.5", "en"),
    ("fr", "nl"), ("en;q=0.2, nl;q=0.8", "nl"), ("*", "nl"), ("en;q=0", "nl"), ("garbage;;;q=x", "nl"),
])
def test_language_negotiation(header, expected):
    assert negotiate(header, "nl") == expected


def test_catalogs_have_the_same_keys_in_both_languages():
    assert set(CATALOGS.messages["en"]) == set(CATALOGS.messages["nl"])


def test_several_independent_suggestions_allow_any_selection():
    f = finding(topic="vpbk-preprocedure", suggestions=[
        Suggestion("create-lab-order", msg("t.label"), {"lab": "inr"}),
        Suggestion("create-lab-order", msg("t.label"), {"lab": "creatinine"})])
    card = render(f)
    assert card["selectionBehavior"] == "any"
    assert not schema_errors("response", {"cards": [card]})


@pytest.mark.parametrize("days,shown,more", [
    ([1, 2, 3, 1], 3, None),          # a record worded like one shown adds nothing
    ([5] * 40, 1, None),              # forty records of one day: one line, nothing more
    ([1, 1, 1, 1, 2], 2, None),
    ([1, 2, 3, 4, 5, 4], 3, "+2"),    # two more distinct days
])
def test_criterion_evidence_counts_only_what_would_read_differently(days, shown, more):
    """A review found '+N' counting copies of lines already shown (A, B, C, A read '+1')."""
    from cds_service.cards import _criterion_evidence
    ctx = RenderContext("en", CATALOGS, SuggestionContext("p1", NOW, "en", CATALOGS, {}))
    fact = Fact("karnofsky", 70, tuple(Source("Observation", f"o{i}", f"2026-11-{d:02d}T10:00:00Z", "Karnofsky")
                                       for i, d in enumerate(days)))
    lines = _criterion_evidence(Criterion("vpbk.crit.m5.performance", Status.MET, "VPBK-M-5", (fact,), {}), ctx)
    assert len([ln for ln in lines if not ln.startswith("+")]) == shown
    assert (lines[-1] if lines[-1].startswith("+") else None) == more


def test_the_source_label_is_in_the_card_language_with_the_rules_version_as_written():
    """The Dutch label said 'spine-cds rules' (English), and a version passed as text would get
    the Dutch decimal comma (2026,12)."""
    from spine_guideline import RULES_VERSION
    nl = render(finding(), "nl")["source"]["label"]
    en = render(finding(), "en")["source"]["label"]
    assert f"spine-cds-regels {RULES_VERSION})" in nl and "rules" not in nl
    assert f"spine-cds rules {RULES_VERSION})" in en
