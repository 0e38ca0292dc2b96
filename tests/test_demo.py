"""The demo (issue 8): routes only in demo mode, the page's CSP, the read-only demo FHIR
endpoint, the demo APIs, and the promise the page's prefetch toggle rests on: every
sample gives the same cards through the FHIR-server fallback as through prefetch."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from cds_service import samples
from cds_service.schemas import errors as schema_errors
from cds_service.services import SERVICES, TEMPLATES, template_resource_type

from .conftest import make_app
from .support.live_server import live

SAMPLES = samples.list_samples()
SAMPLE_IDS = [s.id for s in SAMPLES]
RESULT = "org.spine-cds.result"
TYPES = sorted({template_resource_type(t) for t in TEMPLATES.values()} - {"Patient"})


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("demo"), DEMO=True)


@pytest.fixture
def demo(demo_app):
    return demo_app.test_client()


@pytest.fixture(scope="module")
def live_base(demo_app):
    with live(demo_app) as base:
        yield base


def hook_body(sample, hook, **extra):
    context = {"userId": "Practitioner/demo-clinician", "patientId": sample.patient_id}
    if hook != "patient-view":
        context["draftOrders"] = samples.draft_orders_bundle(sample)
        if hook == "order-select":
            context["selections"] = [f"{r['resourceType']}/{r['id']}" for r in sample.draft_orders]
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    body.update(extra)
    return body


def card_results(cards):
    """(topic, result) pairs, order-free: what must not depend on how the data came. The dates
    in ``answeredBy`` are the sample's relative dates, rendered at each request's own second,
    so they are compared without them."""
    def stable(result):
        if "answeredBy" in result:
            result = {**result, "answeredBy": [{**a, "date": None} for a in result["answeredBy"]]}
        return json.dumps(result, sort_keys=True)
    return sorted((c["source"]["topic"]["code"], stable(c["extension"][RESULT])) for c in cards)


# ------------------------------------------------------------------ demo mode only

DEMO_PATHS = ["/demo/", "/demo/static/demo.js", "/demo/api/samples", "/demo/fhir/metadata",
              f"/demo/fhir/Patient/{SAMPLES[0].patient_id}", f"/demo/fhir/Condition?patient={SAMPLES[0].patient_id}",
              f"/demo/api/prefetch/{SAMPLES[0].id}", f"/demo/api/feedback/{uuid.uuid4()}"]


@pytest.mark.parametrize("path", DEMO_PATHS)
def test_demo_routes_do_not_exist_outside_demo_mode(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("path", DEMO_PATHS)
def test_demo_routes_exist_in_demo_mode(demo, path):
    assert demo.get(path).status_code == 200


def test_demo_blueprint_refuses_when_mounted_outside_demo_mode(tmp_path):
    """Defence in depth: even registered by mistake, the demo answers 404 without DEMO."""
    from cds_service.demo import bp
    app = make_app(tmp_path)
    app.register_blueprint(bp)
    resp = app.test_client().get("/demo/api/samples")
    assert resp.status_code == 404


# ------------------------------------------------------------------ the page

def test_page_is_served_with_a_strict_content_security_policy(demo):
    resp = demo.get("/demo/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    csp = {d.split()[0]: d.split()[1:] for d in resp.headers["Content-Security-Policy"].split(";") if d.strip()}
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in v for values in csp.values() for v in values)
    html = resp.get_data(as_text=True)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL | re.IGNORECASE)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.IGNORECASE), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html, flags=re.IGNORECASE), "inline style (blocked by the CSP)"


@pytest.mark.parametrize("asset,mimetype", [("demo.js", "text/javascript"), ("demo.css", "text/css")])
def test_page_assets_are_served(demo, asset, mimetype):
    resp = demo.get(f"/demo/static/{asset}")
    assert resp.status_code == 200 and resp.mimetype == mimetype


def test_page_script_puts_response_text_in_the_page_only_through_the_markdown_renderer():
    """innerHTML is used once, for card.detail after renderMarkdown (which escapes first)."""
    from importlib import resources
    js = resources.files("cds_service.demo").joinpath("static/demo.js").read_text(encoding="utf-8")
    assignments = re.findall(r"\.(?:innerHTML|outerHTML)\s*=\s*([^;]+);", js)
    assert assignments == ["renderMarkdown(card.detail)"]
    assert "insertAdjacentHTML" not in js and "document.write" not in js and "eval(" not in js


# ------------------------------------------------------------------ the demo FHIR endpoint

def test_fhir_metadata_is_a_capability_statement(demo):
    resp = demo.get("/demo/fhir/metadata")
    body = resp.get_json()
    assert resp.mimetype == "application/fhir+json"
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
    served = {r["type"] for r in body["rest"][0]["resource"]}
    assert set(TYPES) | {"Patient"} <= served


@pytest.mark.parametrize("sample_id", SAMPLE_IDS)
def test_fhir_patient_read_and_searchsets_serve_the_sample_bundle(demo, sample_id):
    sample = samples.get_sample(sample_id)
    expected = samples.resources(sample_id)
    patient = demo.get(f"/demo/fhir/Patient/{sample.patient_id}")
    assert patient.status_code == 200 and patient.get_json()["id"] == sample.patient_id
    for rtype in TYPES:
        resp = demo.get(f"/demo/fhir/{rtype}?patient={sample.patient_id}")
        assert resp.status_code == 200, rtype
        bundle = resp.get_json()
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
        ids = [e["resource"]["id"] for e in bundle["entry"]]
        assert ids == [r["id"] for r in expected if r["resourceType"] == rtype], rtype
        assert bundle["total"] == len(ids)
        for entry in bundle["entry"]:
            ref = entry["resource"].get("subject", entry["resource"].get("patient"))["reference"]
            assert ref == f"Patient/{sample.patient_id}"
            assert entry["fullUrl"].endswith(f"/demo/fhir/{rtype}/{entry['resource']['id']}")


def test_fhir_search_by_reference_form_of_the_patient(demo):
    sample = SAMPLES[0]
    short = demo.get(f"/demo/fhir/Condition?patient={sample.patient_id}").get_json()
    long = demo.get(f"/demo/fhir/Condition?patient=Patient/{sample.patient_id}").get_json()
    assert short["total"] > 0 and [e["resource"]["id"] for e in short["entry"]] == \
        [e["resource"]["id"] for e in long["entry"]]


def test_fhir_search_for_an_unknown_patient_is_an_empty_searchset(demo):
    body = demo.get("/demo/fhir/Condition?patient=nobody-here").get_json()
    assert body["type"] == "searchset" and body["total"] == 0 and body["entry"] == []


@pytest.mark.parametrize("path,status", [
    ("/demo/fhir/Patient/nobody-here", 404),
    ("/demo/fhir/Encounter/x1", 404),
    ("/demo/fhir/Basic?patient=x", 404),
    ("/demo/fhir/lowercase?patient=x", 404),
    ("/demo/fhir/Condition", 400),
    ("/demo/fhir", 404),
    ("/demo/fhir/Patient/..%2F..%2Fetc", 404),
])
def test_fhir_endpoint_answers_operation_outcome_otherwise(demo, path, status):
    resp = demo.get(path)
    assert resp.status_code == status
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]


def test_fhir_endpoint_is_read_only(demo):
    resp = demo.post(f"/demo/fhir/Patient/{SAMPLES[0].patient_id}", json={"resourceType": "Patient"})
    assert resp.status_code == 405


# ------------------------------------------------------------------ demo API

def test_api_samples_lists_every_sample_with_its_draft_orders(demo):
    listed = demo.get("/demo/api/samples").get_json()["samples"]
    assert [s["id"] for s in listed] == SAMPLE_IDS
    for item, sample in zip(listed, SAMPLES, strict=False):
        assert item["patientId"] == sample.patient_id and item["hooks"] == list(sample.hooks)
        assert item["description"] and item["description_nl"]
        assert [r["id"] for r in item["draftOrders"]] == [r["id"] for r in sample.draft_orders]


def test_api_samples_give_a_patient_banner_and_order_texts_per_language(demo):
    """Issue 16: the page shows a patient banner (name, age, sex, key problems), not the
    scenario text, and the draft order in the card language."""
    listed = {s["id"]: s for s in demo.get("/demo/api/samples").get_json()["samples"]}
    for item in listed.values():
        b = item["banner"]
        assert b["name"] and b["sex"] in ("male", "female", "other", "unknown")
        assert isinstance(b["age"], int) and 0 < b["age"] < 120
        assert b["problems"], item["id"]
        assert len(item["draftOrderTexts"]) == len(item["draftOrders"])
    bk = listed["bk-order-t3"]
    assert bk["banner"]["name"] == "Cornelis Brouwer"
    assert bk["draftOrderTexts"] == [{"nl": "Ballonkyfoplastiek Th3", "en": "Balloon kyphoplasty T3"}]


def test_order_hooks_are_offered_where_an_order_makes_sense():
    """Issue 16: every VP/BK and MRI-deadline sample can play the order hooks with a draft order."""
    for sample in SAMPLES:
        if sample.id.startswith(("vpbk-", "mri-", "mescc-", "bk-", "osteoporotic-")):
            assert {"order-select", "order-sign"} & set(sample.hooks) and sample.draft_orders, sample.id


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.id)
def test_api_prefetch_has_exactly_the_service_keys(demo, service):
    body = demo.get(f"/demo/api/prefetch/{SAMPLES[0].id}?service={service.id}").get_json()
    assert set(body["prefetch"]) == set(service.prefetch_keys)
    assert body["prefetch"]["patient"]["id"] == SAMPLES[0].patient_id


@pytest.mark.parametrize("path", ["/demo/api/prefetch/no-such-sample", f"/demo/api/prefetch/{SAMPLE_IDS[0]}?service=nope"])
def test_api_prefetch_unknown_sample_or_service_is_404(demo, path):
    assert demo.get(path).status_code == 404


def test_api_feedback_returns_the_stored_rows(demo):
    cards = []  # (service id, card)
    for sample in SAMPLES:  # the first sample with a warning or critical card
        body = hook_body(sample, "patient-view", prefetch=samples.prefetch(sample.id, TEMPLATES))
        for service in (s for s in SERVICES if s.hook == "patient-view"):
            cards += [(service.id, c) for c in demo.post(f"/cds-services/{service.id}", json=body).get_json()["cards"]]
        if any(c.get("overrideReasons") for _, c in cards):
            break
    # feedback goes to the service that returned the card: only there is it a known card
    service_id, card = next((sid, c) for sid, c in cards if c.get("overrideReasons"))
    reason = card["overrideReasons"][0]
    item = {"card": card["uuid"], "outcome": "overridden", "overrideReason": {"reason": reason, "userComment": "demo"},
            "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    assert demo.get(f"/demo/api/feedback/{card['uuid']}").get_json()["feedback"] == []
    assert demo.post(f"/cds-services/{service_id}/feedback", json={"feedback": [item]}).status_code == 200
    rows = demo.get(f"/demo/api/feedback/{card['uuid']}").get_json()["feedback"]
    assert len(rows) == 1
    assert rows[0]["outcome"] == "overridden" and rows[0]["service_id"] == service_id
    assert rows[0]["override_reason"]["reason"]["code"] == reason["code"]
    assert rows[0]["known_card"] is True and rows[0]["raw"]["card"] == card["uuid"]


# ------------------------------------------------------------------ fallback == prefetch

@pytest.fixture(scope="module")
def answers(demo_app, live_base):
    """Per (sample, hook, way): the service's answers, computed once for the tests below.
    A client without the conftest schema check, so the comparisons run on every sample even
    while some card is schema-invalid; validity is asserted on its own, further down."""
    plain = FlaskClient(demo_app, demo_app.response_class)
    cache: dict[tuple[str, str, str], list[tuple[str, int, dict]]] = {}

    def get(sample, hook, way):
        key = (sample.id, hook, way)
        if key not in cache:
            out = []
            for service in (s for s in SERVICES if s.hook == hook):
                extra = {"prefetch": samples.prefetch(sample.id, service.prefetch_keys)} if way == "prefetch" \
                    else {"fhirServer": f"{live_base}/demo/fhir"}
                # addressed to the live server whose /demo/fhir it names, as the demo page does
                resp = plain.post(f"/cds-services/{service.id}", json=hook_body(sample, hook, **extra),
                                  base_url=live_base)
                out.append((service.id, resp.status_code, resp.get_json()))
            cache[key] = out
        return cache[key]
    return get


def cards_of(answer):
    for service_id, status, body in answer:
        assert status == 200, (service_id, body)
    return [c for _, _, body in answer for c in body["cards"]]


@pytest.mark.parametrize("sample_id", SAMPLE_IDS)
def test_sample_gives_the_same_cards_through_the_fhir_fallback_as_through_prefetch(answers, sample_id):
    """What the page's prefetch toggle promises: the demo FHIR endpoint and the prefetch API
    carry the same data, so the service's two ways of getting it give the same advice."""
    sample = samples.get_sample(sample_id)
    for hook in sample.hooks:
        via_prefetch = cards_of(answers(sample, hook, "prefetch"))
        via_fhir = cards_of(answers(sample, hook, "fhir"))
        assert card_results(via_fhir) == card_results(via_prefetch), f"{sample_id} {hook}"
        assert sorted(c["indicator"] for c in via_fhir) == sorted(c["indicator"] for c in via_prefetch)
        assert sorted(c["summary"] for c in via_fhir) == sorted(c["summary"] for c in via_prefetch)


@pytest.mark.parametrize("sample_id", SAMPLE_IDS)
def test_sample_expectations_hold_through_the_fhir_fallback(answers, sample_id):
    """The sample's own ``expect`` (topic -> result subset, over all its hooks) through the
    page's default path: the service fetching from the demo FHIR endpoint."""
    sample = samples.get_sample(sample_id)
    by_topic: dict[str, list[dict]] = {}
    for hook in sample.hooks:
        for card in cards_of(answers(sample, hook, "fhir")):
            by_topic.setdefault(card["source"]["topic"]["code"], []).append(card["extension"][RESULT])
    for topic, want in sample.expect.items():
        assert topic in by_topic, f"{sample_id}: no {topic} card via {sample.hooks}"
        assert any(all(r.get(k) == v for k, v in want.items()) for r in by_topic[topic]), \
            f"{sample_id} {topic}: {by_topic[topic]} lacks {want}"


@pytest.mark.parametrize("sample_id", SAMPLE_IDS)
def test_sample_answers_through_the_fhir_fallback_are_schema_valid(answers, sample_id):
    """The page's default path gives answers an EHR accepts (the same check as the conftest client)."""
    sample = samples.get_sample(sample_id)
    for hook in sample.hooks:
        for service_id, _status, body in answers(sample, hook, "fhir"):
            problems = schema_errors("response", body)
            assert not problems, f"{sample_id} {hook} {service_id}: {problems}"
