"""The demo page in a real browser (issue 8): Debian's Chromium driven by Playwright against
a real ``spine-cds demo`` process (gunicorn, threads: the service fetches from its own demo
FHIR endpoint). Runs sample patients through patient-view and the order hooks, checks the
rendered cards against the JSON the page shows, takes a suggestion and an override and
checks the feedback store, and proves card text cannot inject HTML or script.

Screenshot: test-artifacts/demo.png (git-ignored). With SPINE_CDS_UPDATE_DOCS_SCREENSHOT=1 the
same picture also replaces docs/demo.png, the one the README shows."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import requests

from cds_service import samples

from .support.browser import ARTIFACTS, ROOT, browser, chromium  # noqa: F401 (fixtures)
from .support.service_process import spine_cds_process

#: the first test may wait for scripts/install-chromium.sh (apt-get), hence the long timeout;
#: the tests themselves take about 20 s together.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

RESULT = "org.spine-cds.result"
UI_INDICATOR = {"en": {"info": "Info", "warning": "Warning", "critical": "Critical"},
                "nl": {"info": "Informatie", "warning": "Waarschuwing", "critical": "Kritiek"}}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with spine_cds_process(tmp_path_factory.mktemp("demo"), command="demo") as base:
        yield base


@pytest.fixture
def page(browser, service):  # noqa: F811 (the fixture of support/browser.py)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.goto(f"{service}/demo/")
    page.wait_for_selector("body[data-ready=true]")
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture(scope="module")
def md_page(browser, service):  # noqa: F811 (the fixture of support/browser.py)
    """One page for the renderer table (a new page per row would cost a second each)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{service}/demo/")
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()


def run_hook(page, sample_id: str, hook: str, lang: str, prefetch: bool) -> list[dict]:
    """Choose patient, hook, language and data path; run; return the service answers from the raw panel."""
    page.select_option("#patient", sample_id)
    page.select_option("#hook", hook)
    page.select_option("#lang", lang)
    page.set_checked("#use-prefetch", prefetch)
    runs = page.evaluate("window.spineDemo.state.runs")
    page.click("#run")
    page.wait_for_function("n => document.getElementById('cards').getAttribute('data-run') === String(n)",
                           arg=runs + 1)
    blocks = [json.loads(t) for t in page.locator("#raw pre").all_text_contents()]
    requests_sent = [b for b in blocks if isinstance(b, dict) and "hook" in b]
    answers = [b for b in blocks if isinstance(b, dict) and "cards" in b]
    assert requests_sent and len(answers) == len(requests_sent), page.text_content("#status")
    for req in requests_sent:
        assert req["hook"] == hook and req["context"]["patientId"] == samples.get_sample(sample_id).patient_id
        assert ("prefetch" in req) is prefetch
        assert req["fhirServer"].endswith("/demo/fhir")
        if hook != "patient-view":
            assert req["context"]["draftOrders"]["entry"], "order hook without draft orders"
    return [c for a in answers for c in a["cards"]]


def check_rendered(page, cards: list[dict], lang: str) -> None:
    """Every card of the answers is on the page, with its indicator in colour AND text, its
    summary, detail, source label and topic."""
    assert page.locator("article.card").count() == len(cards)
    for card in cards:
        article = page.locator(f"article.card[data-uuid='{card['uuid']}']")
        assert article.get_attribute("data-indicator") == card["indicator"]
        assert article.get_attribute("data-topic") == card["source"]["topic"]["code"]
        assert f"card-{card['indicator']}" in article.get_attribute("class")
        assert article.locator(".badge").text_content() == UI_INDICATOR[lang][card["indicator"]]
        assert article.locator(".summary").text_content() == card["summary"]
        assert article.locator(".source a").text_content() == card["source"]["label"]
        assert article.locator(".detail strong").count() >= 1  # the bold conclusion, rendered
        assert "**" not in article.locator(".detail").text_content()
        if card.get("overrideReasons"):
            # one option per reason, after an empty first one (issue 16: no reason is preselected)
            assert article.locator("select.override-reason option").count() == len(card["overrideReasons"]) + 1
            assert article.locator("select.override-reason").input_value() == ""
        assert article.locator("button.suggestion").count() == len(card.get("suggestions", []))


def stored_feedback(service: str, card_uuid: str) -> list[dict]:
    resp = requests.get(f"{service}/demo/api/feedback/{card_uuid}", timeout=5)
    assert resp.status_code == 200
    return resp.json()["feedback"]


def by_topic(cards: list[dict], topic: str) -> list[dict]:
    return [c for c in cards if c["source"]["topic"]["code"] == topic]


def assert_expected(sample_id: str, cards: list[dict], topics: tuple[str, ...]) -> None:
    """The sample's own expectations for these topics hold in what the page received."""
    expect = samples.get_sample(sample_id).expect
    for topic in topics:
        results = [c["extension"][RESULT] for c in by_topic(cards, topic)]
        assert results, f"{sample_id}: no {topic} card"
        assert any(all(r.get(k) == v for k, v in expect[topic].items()) for r in results), (topic, results)


#: the screenshots the README's demo section shows (docs/), refreshed with SPINE_CDS_UPDATE_DOCS_SCREENSHOT=1
DOCS_SCREENSHOTS = ("demo.png", "demo-vpbk-nl.png", "demo-order-select-bk-t3.png")


def screenshot(page, name: str = "demo.png") -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("SPINE_CDS_UPDATE_DOCS_SCREENSHOT") == "1" and name in DOCS_SCREENSHOTS:
        shutil.copyfile(path, ROOT / "docs" / name)
    return path


def check_banner(page, sample_id: str, lang: str) -> None:
    """Issue 16: a patient banner (name, age, sex, key problems), not the scenario text."""
    sample = samples.get_sample(sample_id)
    banner = page.locator("#banner")
    patient = next(r for r in samples.resources(sample_id) if r["resourceType"] == "Patient")
    name = " ".join([*patient["name"][0].get("given", []), patient["name"][0]["family"]])
    assert banner.locator(".banner-name").text_content() == name
    facts = banner.locator(".banner-facts").text_content()
    assert (" jaar" if lang == "nl" else " years") in facts
    assert {"male": {"nl": "man", "en": "male"}, "female": {"nl": "vrouw", "en": "female"}}[patient["gender"]][lang] \
        in facts
    assert banner.locator(".banner-problems").text_content().count(",") >= 0
    problems = banner.locator(".banner-problems").text_content()
    assert any(c["code"].get("text", "") in problems for c in samples.resources(sample_id)
               if c["resourceType"] == "Condition")
    description = sample.description_nl if lang == "nl" else sample.description
    assert description not in page.locator("body").text_content()


# ------------------------------------------------------------------ the sample patients

def test_mri_12h_patient_via_fhir_fallback_and_override_feedback(page, service):
    """DX-2a: MESCC with a deficit -> MRI within 12 h, critical; override stored as feedback."""
    cards = run_hook(page, "mescc-12h", "patient-view", "en", prefetch=False)
    check_rendered(page, cards, "en")
    assert_expected("mescc-12h", cards, ("mri-urgency", "corticosteroids", "treatment-window"))
    mri = by_topic(cards, "mri-urgency")[0]
    assert mri["indicator"] == "critical"
    article = page.locator(f"article.card[data-uuid='{mri['uuid']}']")
    assert "Critical" in article.locator(".badge").text_content()

    check_banner(page, "mescc-12h", "en")
    reasons = mri["overrideReasons"]
    # no reason chosen: the override cannot be sent and nothing is stored
    assert article.locator("button.override-button").is_disabled()
    assert stored_feedback(service, mri["uuid"]) == []
    article.locator("select.override-reason").select_option(str(len(reasons) - 1))
    article.locator("input.override-comment").fill("MRI already booked at the referring hospital")
    article.locator("button.override-button").click()
    result = article.locator(".feedback-result[data-feedback=overridden]")
    result.wait_for()
    assert "1" in result.text_content()
    rows = stored_feedback(service, mri["uuid"])
    assert len(rows) == 1 and rows[0]["outcome"] == "overridden" and rows[0]["known_card"] is True
    assert rows[0]["override_reason"]["reason"]["code"] == reasons[-1]["code"]
    assert rows[0]["override_reason"]["userComment"] == "MRI already booked at the referring hospital"
    assert article.locator("button.override-button").is_disabled()
    page.locator("article.card").first.scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page)
    assert not page.problems  # type: ignore[attr-defined]


def test_vpbk_patient_via_prefetch_in_dutch_and_suggestion_by_keyboard(page, service):
    """VPBK-M: eligible metastatic L1; Dutch cards; a suggestion taken with the keyboard."""
    sample_id = "vpbk-eligible-metastatic"
    cards = run_hook(page, sample_id, "patient-view", "nl", prefetch=True)
    check_rendered(page, cards, "nl")
    assert_expected(sample_id, cards, ("vpbk-eligibility", "sins"))
    assert page.evaluate("document.documentElement.lang") == "nl"
    assert page.text_content("label[for=patient]") == "Patiënt"

    # rules 2026.12: this patient's deadlines are answered (MDO judgement held, treated), so none of
    # its cards suggests an order; the keyboard is tried on the patient whose MDO review is to come
    cards = run_hook(page, "vpbk-mdo-review-needed", "patient-view", "nl", prefetch=True)
    check_rendered(page, cards, "nl")
    check_banner(page, "vpbk-mdo-review-needed", "nl")
    with_suggestion = [c for c in cards if c.get("suggestions")]
    assert with_suggestion, "no card with a suggestion for this sample"
    card = with_suggestion[0]
    suggestion = card["suggestions"][0]
    button = page.locator(f"button.suggestion[data-suggestion='{suggestion['uuid']}']")
    button.focus()
    page.keyboard.press("Enter")
    article = page.locator(f"article.card[data-uuid='{card['uuid']}']")
    article.locator(".feedback-result[data-feedback=accepted]").wait_for()
    rows = stored_feedback(service, card["uuid"])
    assert len(rows) == 1 and rows[0]["outcome"] == "accepted"
    assert rows[0]["accepted_suggestions"] == [{"id": suggestion["uuid"]}]
    assert all(b.is_disabled() for b in article.locator("button.suggestion").all())
    screenshot(page, "demo-vpbk-nl.png")
    assert not page.problems  # type: ignore[attr-defined]


def test_order_select_bk_at_t3_and_order_sign_mri(page, service):
    """VPBK-T: a BK order at T3 (outside the BK range) -> VP only; MRI order check at signing."""
    cards = run_hook(page, "bk-order-t3", "order-select", "en", prefetch=False)
    check_rendered(page, cards, "en")
    assert_expected("bk-order-t3", cards, ("vpbk-eligibility",))
    assert "bk-t3" in page.text_content("#draft-order")
    assert "Balloon kyphoplasty T3" in page.text_content("#draft-order")  # in the card language
    check_banner(page, "bk-order-t3", "en")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "demo-order-select-bk-t3.png")
    page.select_option("#lang", "nl")
    assert "Ballonkyfoplastiek Th3" in page.text_content("#draft-order")
    # the raw JSON scrolls in its own box: opening it does not stretch the cards
    height = page.evaluate("document.getElementById('cards').scrollHeight")
    page.locator("#raw-details summary").click()
    assert page.evaluate("document.getElementById('cards').scrollHeight") == height
    assert page.evaluate("document.getElementById('raw').scrollHeight > document.getElementById('raw').clientHeight")
    assert page.evaluate("document.getElementById('raw').clientHeight") < 1000

    cards = run_hook(page, "mri-order-routine-mescc", "order-sign", "en", prefetch=True)
    check_rendered(page, cards, "en")
    assert_expected("mri-order-routine-mescc", cards, ("mri-order",))
    screenshot(page, "demo-order-sign.png")
    assert not page.problems  # type: ignore[attr-defined]


# ------------------------------------------------------------------ safety of card text

HOSTILE_DETAIL = ("**Bold** and _italic_ and `code`\n\n"
                  "<script>window.__pwned = 1</script>\n\n"
                  "<img src=x onerror=\"window.__pwned = 2\">\n\n"
                  "- [bad link](javascript:window.__pwned=3)\n"
                  "- [good link](https://example.org/a_b?x=1&y=2)\n"
                  "- \"><svg onload=window.__pwned=4>\n\n"
                  "1. &lt;kept as text&gt; &amp; 5 &le; 6")


def test_hostile_card_text_creates_no_elements_and_runs_no_script(page, service):
    """The Markdown renderer escapes all HTML first; only its own tags appear."""
    card = {"uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "summary": "<b>not bold</b> <img src=x onerror=alert(1)>",
            "indicator": "warning", "detail": HOSTILE_DETAIL,
            "source": {"label": "<i>label</i>", "url": "javascript:window.__pwned=5",
                       "topic": {"system": "https://spine-cds.org/fhir/CodeSystem/card-topic", "code": "mri-urgency",
                                 "display": "<u>topic</u>"}},
            "links": [{"label": "<b>link</b>", "url": "javascript:window.__pwned=6", "type": "absolute"}],
            "suggestions": [{"label": "<img src=x onerror=window.__pwned=7>", "uuid": "s1", "actions": []}],
            "overrideReasons": [{"code": "x", "display": "<script>window.__pwned=8</script>"}]}

    def fulfil(route):
        route.fulfill(status=200, content_type="application/json", body=json.dumps({"cards": [card]}))

    page.route("**/cds-services/spine-metastases-diagnosis", fulfil)
    run_hook(page, "mescc-12h", "patient-view", "en", prefetch=False)
    box = page.locator("#cards")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    for selector in ("script", "img", "svg", "iframe", "b", "i", "u", "[onerror]", "[onload]",
                     "a[href^='javascript']"):
        assert box.locator(selector).count() == 0, selector
    hostile = page.locator("article.card[data-uuid='0f8fad5b-d9cb-469f-a165-70867728950e']")
    assert hostile.locator(".summary").text_content() == card["summary"]
    detail = hostile.locator(".detail")
    assert detail.locator("strong").first.text_content() == "Bold"
    assert detail.locator("em").first.text_content() == "italic"
    assert detail.locator("code").first.text_content() == "code"
    assert "<script>window.__pwned = 1</script>" in detail.text_content()
    assert "<kept as text> & 5 ≤ 6" in detail.text_content()
    links = detail.locator("a")
    assert links.count() == 1 and links.first.get_attribute("href") == "https://example.org/a_b?x=1&y=2"
    assert links.first.get_attribute("rel") == "noopener noreferrer"
    assert "bad link" in detail.text_content()
    assert hostile.locator(".source").locator("a").count() == 0  # javascript: URL shown as text only
    page.locator("button.suggestion").first.click()  # the label is text, clicking runs only our handler
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__pwned") == "undefined"


@pytest.mark.parametrize("markdown,html", [
    ("**a** _b_ *c* `d`", "<p><strong>a</strong> <em>b</em> <em>c</em> <code>d</code></p>"),
    ("- one\n- two", "<ul><li>one</li><li>two</li></ul>"),
    ("1. one\n2. two", "<ol><li>one</li><li>two</li></ol>"),
    ("line one\nline two\n\nnext", "<p>line one line two</p>\n<p>next</p>"),
    ("<b>x</b>", "<p>&lt;b&gt;x&lt;/b&gt;</p>"),
    ("a & b &lt; c", "<p>a &amp; b &lt; c</p>"),
    ("[x](javascript:alert(1))", "<p>x</p>"),
    ("[x](https://a.org/p_q_r)", '<p><a href="https://a.org/p_q_r" target="_blank" rel="noopener noreferrer">x</a></p>'),
    ('[x](https://a.org/"onmouseover="y)', ('<p><a href="https://a.org/&quot;onmouseover=&quot;y" target="_blank" '
                                            'rel="noopener noreferrer">x</a></p>')),
    ("`**not bold**`", "<p><code>**not bold**</code></p>"),
    ("snake_case_name", "<p>snake_case_name</p>"),
])
def test_markdown_renderer(md_page, markdown, html):
    assert md_page.evaluate("md => window.spineDemo.renderMarkdown(md)", markdown) == html
