"""Record text never becomes live markup in a card (issue 19, items 1 and 9).

The CDS Hooks Sandbox renders ``detail`` as Markdown with raw HTML allowed, and
patient-view fires when the chart opens, so a code, display, text, date or id
from a request that reached ``detail`` unescaped was stored XSS. Each card's
``detail`` is rendered here by a GitHub-flavoured Markdown renderer with raw
HTML and linkify on (the most permissive reading an EHR may give it), and the
HTML it makes must hold only the tags the service's own templates use.
"""
from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cds_service import samples
from cds_service.i18n import escape_text, load_catalogs
from cds_service.services import SERVICES, TEMPLATES, ServiceDef, template_resource_type
from fhir_mappings.fhirutil import date_text, parse_datetime

from .conftest import make_app

NOW = datetime.now(UTC).replace(microsecond=0)
# What the catalogs' own Markdown makes: bold, italics, lists, code spans, paragraphs.
TEMPLATE_TAGS = {"p", "strong", "em", "ul", "li", "code"}
MD = MarkdownIt("gfm-like", {"html": True})
SAMPLES = samples.list_samples(now=NOW)

HOSTILE = [
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "x\n\n# PWND", "www.ev.il", "ev.il/x",
    "[click](javascript:alert(1))", "![x](http://ev.il/a.png)", "**bold**", "_it_", "`code`",
    "<a href=//ev.il>x</a>", "http://ev.il", "a@ev.il", "~~s~~", "| a | b |\n|---|---|", "> quote",
    "1. list", "- item", "&lt;img src=x onerror=alert(1)&gt;", "\u2028# PWND", "<!-- c -->", "\\<b>x\\</b>",
    "<https://ev.il>", "x\r\n---\r\ny", "    indented code", "```\nfence", "<details open ontoggle=alert(1)>",
]
PREFIXES = ["", "carcinoma ", "2026-01-05", "2026-01-05T10:00:00Z", "L1 ", "C79.51"]
_PIECES = st.sampled_from([*"<>&[]()!*_`#-+|~:/.@\\\"'\n\r\t =\u2028", "www.", "http", "img", "onerror", "ev.il"])
hostile = st.one_of(st.sampled_from(HOSTILE), st.lists(_PIECES, max_size=20).map("".join),
                    st.builds(lambda p, h: p + h, st.sampled_from(PREFIXES), st.sampled_from(HOSTILE)))


# The catalogs name the local code system in their how-to-record texts; a linkify renderer
# makes that a link. Those links are the templates' own, not data's.
TEMPLATE_LINKS = {url for templates in load_catalogs().messages.values() for t in templates.values()
                  for url in re.findall(r"https?://[^\s)\"'`|]+", t)}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.live: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and attrs == [("href", attrs[0][1])] and attrs[0][1] in TEMPLATE_LINKS:
            return
        if tag not in TEMPLATE_TAGS or attrs:
            self.live.append(f"<{tag} {attrs}>")


def live_markup(markdown: str) -> list[str]:
    """What ``markdown`` renders to beyond the templates' own tags (empty: nothing live)."""
    parser = _Tags()
    parser.feed(MD.render(markdown))
    return parser.live


def _app(tmp_path: Any) -> Any:
    return make_app(tmp_path).test_client()


KEY_OF = {template_resource_type(TEMPLATES[k]): k for k in TEMPLATES}


def _body(service: ServiceDef, prefetch: dict, patient: str, drafts: dict | None) -> dict:
    context: dict[str, Any] = {"userId": "Practitioner/1", "patientId": patient}
    if service.hook != "patient-view":
        context["draftOrders"] = drafts or {"resourceType": "Bundle", "type": "collection", "entry": []}
    if service.hook == "order-select":
        context["selections"] = [f"{e['resource']['resourceType']}/{e['resource']['id']}"
                                 for e in context["draftOrders"].get("entry", []) if isinstance(e, dict)
                                 and isinstance(e.get("resource"), dict) and isinstance(e["resource"].get("id"), str)
                                 and isinstance(e["resource"].get("resourceType"), str)]
    return {"hook": service.hook, "hookInstance": "d1a0c7c2-3b8f-4a47-9d6e-5b8f0f9c1a11", "context": context,
            "prefetch": prefetch}


def _cards_with(client: Any, service_id: str, *resources: dict, sample_id: str = "no-known-primary") -> list[dict]:
    """The cards of ``service_id`` for a sample patient (by default one without a known primary:
    every diagnosis card) with ``resources`` added to the record."""
    service = next(s for s in SERVICES if s.id == service_id)
    sample = next(s for s in SAMPLES if s.id == sample_id)
    prefetch = copy.deepcopy(samples.prefetch(sample.id, service.prefetch_keys, now=NOW))
    for res in resources:
        bundle = prefetch[KEY_OF[res["resourceType"]]]
        bundle.setdefault("entry", []).append({"resource": {**res, "subject": {"reference": f"Patient/{sample.patient_id}"}}})
    r = client.post(f"/cds-services/{service.id}", json=_body(service, prefetch, sample.patient_id, None))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["cards"]


def _assert_no_live_markup(cards: list[dict]) -> None:
    for card in cards:
        assert not live_markup(card["detail"]), (live_markup(card["detail"]), card["detail"])
        assert "\n" not in card["summary"], card["summary"]


# ----------------------------------------------------------------- the reported attacks

def test_unrecognised_cancer_code_is_escaped_on_the_corticosteroids_card(tmp_path: Any) -> None:
    """Issue 19, item 1: the code went into "A cancer code outside the tables was found (...)" whole."""
    payload = "<img src=x onerror=alert(1)>"
    cond = {"resourceType": "Condition", "id": "c1", "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": "urn:x", "code": payload, "display": "carcinoma " + payload}],
                     "text": "carcinoma " + payload}, "recordedDate": "2026-01-05"}
    cards = _cards_with(_app(tmp_path), "spine-metastases-diagnosis", cond)
    shown = [c for c in cards if "onerror" in c["detail"]]
    assert shown, "the attack no longer reaches a card: the test must be re-aimed"
    for card in shown:
        assert "<img" not in card["detail"]
        assert "&lt;img src=x onerror=alert(1)&gt;" in card["detail"]
    _assert_no_live_markup(cards)


@pytest.mark.parametrize("field", ["effectiveDateTime", "issued", "effectivePeriod.end"])
def test_markup_as_a_report_date_is_unknown_not_printed(tmp_path: Any, field: str) -> None:
    """Issue 19, item 1: a DiagnosticReport date was kept as a raw string and printed whole."""
    payload = "<img src=x onerror=alert(1)>"
    report: dict[str, Any] = {"resourceType": "DiagnosticReport", "id": "r1", "status": "final",
                              "code": {"coding": [{"system": "http://snomed.info/sct", "code": "443271005"}]}}  # PET-CT
    if field == "effectivePeriod.end":
        report["effectivePeriod"] = {"end": payload}
    else:
        report[field] = payload
    cards = _cards_with(_app(tmp_path), "spine-metastases-diagnosis", report)
    workup = [c for c in cards if c["source"]["topic"]["code"] == "diagnostic-workup"]
    # the step is shown, its date unknown (issue 16: an unknown date is left out, not printed as "?",
    # and the report's reference stays out of the card text)
    assert workup and "(PET-)CT done." in workup[0]["detail"]
    for card in cards:
        assert "onerror" not in card["detail"]
    _assert_no_live_markup(cards)


def test_markdown_in_a_recorded_date_makes_no_heading_or_link(tmp_path: Any) -> None:
    """Issue 19, item 9: ``recordedDate`` ``"x\\n\\n# PWND"`` made a heading, ``www.ev.il`` a link."""
    client = _app(tmp_path)
    for date in ("x\n\n# PWND", "www.ev.il", "2026-01-05\n\n# PWND"):
        cond = {"resourceType": "Condition", "id": "c1", "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94503003"}],
                         "text": "carcinoma of the lung"}, "recordedDate": date}
        cards = _cards_with(client, "spine-metastases-diagnosis", cond)
        for card in cards:
            assert "PWND" not in card["detail"] and "ev.il" not in card["detail"], card["detail"]
        _assert_no_live_markup(cards)


def test_dates_are_kept_only_when_readable() -> None:
    assert date_text("2026-01-05", parse_datetime("2026-01-05")) == "2026-01-05"  # type: ignore[arg-type]
    assert date_text(" 2026-01 ", parse_datetime(" 2026-01 ")) == "2026-01"  # type: ignore[arg-type]
    assert date_text("2026-01-05 10:00", parse_datetime("2026-01-05 10:00")) == "2026-01-05T10:00:00+00:00"  # type: ignore[arg-type]
    for junk in ("x\n\n# PWND", "<img src=x>", "www.ev.il", "2026-01-05<b>", "2026-01-05\n# x"):
        assert parse_datetime(junk) is None, junk


@pytest.mark.parametrize("payload", HOSTILE)
def test_escape_text_leaves_nothing_live(payload: str) -> None:
    for where in ("{}", "- a {} b", "**{}**", "x ({})", "_{}_"):
        text = where.format(escape_text(payload))
        assert not live_markup(text), (payload, text, MD.render(text))
        assert "\n" not in escape_text(payload)


def test_escape_text_keeps_plain_data_readable() -> None:
    for plain in ("Observation/obs-1, 2026-01-05", "L1", "T11-L1", "C79.51", "8 Gy", "DX-2a"):
        assert escape_text(plain) == plain
    assert MD.render(escape_text("a_b *c* [d](e) www.ev.il")).strip() == "<p>a_b *c* [d](e) www.ev.il</p>"
    assert escape_text("a\n\n# b\u2028c", markdown=False) == "a # b c"


# ----------------------------------------------------------------- property test

def _string_paths(doc: Any, path: tuple = ()) -> list[tuple]:
    """Every string leaf of ``doc`` except ``resourceType`` (which decides what is read at all)."""
    out: list[tuple] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k != "resourceType":
                out += _string_paths(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _string_paths(v, path + (i,))
    elif isinstance(doc, str):
        out.append(path)
    return out


def _set(doc: Any, path: tuple, value: str) -> None:
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value


CASES = [(s, svc) for s in SAMPLES for svc in SERVICES if svc.hook in s.hooks]


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: Any) -> Any:
    return _app(tmp_path_factory.mktemp("markup"))


# Records the rules print from: an unrecognised cancer code (its code on the
# corticosteroids and work-up cards), a PET-CT report and an MRI (their dates and ids).
PROBES = [
    lambda h: {"resourceType": "Condition", "id": "probe-c", "clinicalStatus": {"coding": [{"code": "active"}]},
               "code": {"coding": [{"system": h, "code": h, "display": "carcinoma " + h}], "text": "carcinoma " + h},
               "recordedDate": h, "onsetDateTime": h},
    lambda h: {"resourceType": "DiagnosticReport", "id": "probe-r", "status": "final", "effectiveDateTime": h,
               "issued": h, "code": {"coding": [{"system": "http://snomed.info/sct", "code": "443271005", "display": h}],
                                     "text": h}},
    lambda h: {"resourceType": "Procedure", "id": "probe-p", "status": "completed", "performedDateTime": h,
               "code": {"coding": [{"system": "http://loinc.org", "code": "30854-4", "display": h}], "text": h}},
]


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[ServiceDef, dict, str, dict | None]:
    sample, service = draw(st.sampled_from(CASES))
    prefetch = copy.deepcopy(samples.prefetch(sample.id, service.prefetch_keys, now=NOW))
    drafts = copy.deepcopy(samples.draft_orders_bundle(sample)) if service.hook != "patient-view" else None
    for probe in draw(st.lists(st.sampled_from(PROBES), max_size=3, unique_by=id)):
        res = probe(draw(hostile))
        key = KEY_OF[res["resourceType"]]
        if key in prefetch:
            res["subject"] = {"reference": f"Patient/{sample.patient_id}"}
            prefetch[key].setdefault("entry", []).append({"resource": res})
    doc = {"prefetch": prefetch, "drafts": drafts}
    paths = _string_paths(doc)
    chosen = draw(st.lists(st.sampled_from(paths), min_size=1, max_size=12, unique=True)) if paths else []
    for path in chosen:
        old = _get(doc, path)
        prefix = draw(st.sampled_from([*PREFIXES, old]))
        payload = draw(hostile)
        _set(doc, path, draw(st.sampled_from([prefix + payload, payload + prefix])))
    return service, prefetch, sample.patient_id, drafts


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(req=hostile_requests())
def test_hostile_strings_in_any_mapped_field_make_no_live_markup(shared_client: Any, req: tuple) -> None:
    """Hostile strings in any string field of the sample patients' records and draft orders
    (codes, displays, texts, dates, ids, references, units, statuses): no 5xx, no live markup."""
    service, prefetch, patient, drafts = req
    client = shared_client
    r = client.post(f"/cds-services/{service.id}", json=_body(service, prefetch, patient, drafts))
    assert r.status_code < 500
    if r.status_code != 200:
        return
    for card in r.get_json()["cards"]:
        assert not live_markup(card["detail"]), (live_markup(card["detail"]), card["detail"])
        assert not re.search(r"[\x00-\x1f\u2028\u2029]", card["summary"]), card["summary"]
