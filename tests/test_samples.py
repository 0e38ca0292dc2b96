"""The bundled sample patients (cds_service/samples): each one gives the cards it promises.

Every sample runs through the same path as an HTTP request: the prefetch built by
``samples.prefetch`` is gathered like a request's prefetch, then ``pipeline.run``
for every service of every hook the sample lists. Its ``expect`` topics must
appear with the expected result values (subset match), and over all samples
every card topic of the contract and every VP/BK verdict must appear.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cds_service import pipeline, samples
from cds_service.i18n import load_catalogs
from cds_service.prefetch import gather
from cds_service.services import SERVICES
from spine_guideline.policy import load_policy

from .support.cases import subset_match

NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = load_policy()
CATALOGS = load_catalogs()
SAMPLES = samples.list_samples(now=NOW)

CONTRACT_TOPICS = {"mri-urgency", "corticosteroids", "diagnostic-workup", "treatment-window", "mdo-referral",
                   "treatment-modality", "rt-dose", "survival-estimate", "aftercare", "sins",
                   "vpbk-eligibility", "vpbk-preprocedure", "mri-order"}
VERDICTS = {"eligible", "eligible-relative-contraindications", "mdo-review-needed", "not-eligible",
            "insufficient-data"}


def run_sample(sample: samples.Sample, now: datetime = NOW, lang: str = "en") -> list[dict]:
    """Every card of every service of the sample's hooks, as (service, card) dicts."""
    out = []
    for hook in sample.hooks:
        for service in (s for s in SERVICES if s.hook == hook):
            body = {"hook": hook, "context": {"patientId": sample.patient_id},
                    "prefetch": samples.prefetch(sample.id, service.prefetch_keys, now=now)}
            gathered = gather(service, body, client=None, fhir_server_allowed=lambda url: False,
                              budget_seconds=1.0)
            drafts = samples.draft_orders_bundle(sample) if hook != "patient-view" else None
            outcome = pipeline.run(service, resources=gathered.resources, searches=gathered.searches, now=now,
                                   patient_id=sample.patient_id, lang=lang, policy=POLICY, catalogs=CATALOGS,
                                   draft_orders=drafts, failed_types=gathered.failed)
            for card in outcome.cards:
                out.append({"hook": hook, "service": service.id, "topic": card["source"]["topic"]["code"],
                            "indicator": card["indicator"], "summary": card["summary"],
                            "result": card["extension"]["org.spine-cds.result"]})
    return out


@pytest.fixture(scope="module")
def produced() -> dict[str, list[dict]]:
    return {s.id: run_sample(s) for s in SAMPLES}


def test_there_are_samples():
    assert 3 <= len(SAMPLES) <= 30
    assert len({s.id for s in SAMPLES}) == len(SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.id for s in SAMPLES])
def test_sample_gives_expected_cards(sample, produced):
    cards = produced[sample.id]
    errors = []
    for topic, expected in sample.expect.items():
        candidates = [c for c in cards if c["topic"] == topic]
        if not candidates:
            errors.append(f"{topic}: no card (got {sorted({c['topic'] for c in cards})})")
            continue
        diffs = [subset_match(expected, c["result"]) for c in candidates]
        if all(diffs):
            errors.append(f"{topic}: " + "; ".join(min(diffs, key=len)))
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.id for s in SAMPLES])
def test_sample_cards_are_well_formed(sample, produced):
    dutch = run_sample(sample, lang="nl")
    assert [(c["topic"], c["result"]) for c in dutch] == [(c["topic"], c["result"]) for c in produced[sample.id]]
    for card in produced[sample.id] + dutch:
        assert len(card["summary"]) < 140, card["summary"]
        assert card["result"].get("rules"), card


def test_every_contract_topic_appears(produced):
    seen = {c["topic"] for cards in produced.values() for c in cards}
    assert CONTRACT_TOPICS - seen == set()


def test_every_vpbk_verdict_appears(produced):
    seen = {c["result"].get("verdict") for cards in produced.values() for c in cards
            if c["topic"] == "vpbk-eligibility"}
    assert VERDICTS - seen == set()


def test_one_sample_gives_no_card(produced):
    assert any(not cards for cards in produced.values())


def test_expect_names_only_contract_topics():
    for s in SAMPLES:
        assert set(s.expect) <= CONTRACT_TOPICS, s.id


def test_order_samples_have_drafts_and_order_hooks():
    for s in SAMPLES:
        has_order_hook = bool(set(s.hooks) & {"order-select", "order-sign"})
        assert has_order_hook == bool(s.draft_orders), s.id
        for order in s.draft_orders:
            assert order["status"] == "draft"
            assert order["subject"]["reference"] == f"Patient/{s.patient_id}"


# --------------------------------------------------------------------------- the loader

def test_dates_are_relative_to_now():
    sid = "mescc-12h"
    a = samples.load_bundle(sid, now=datetime(2030, 1, 10, 12, 0, tzinfo=UTC))
    b = samples.load_bundle(sid, now=datetime(2031, 1, 10, 12, 0, tzinfo=UTC))
    text_a, text_b = json.dumps(a), json.dumps(b)
    assert "{{" not in text_a
    assert "2030-01-" in text_a and "2031-01-" in text_b
    assert "2031-01-" not in text_a


@pytest.mark.parametrize("placeholder,expected", [
    ("{{now}}", "2030-01-10T12:00:00Z"),
    ("{{now-2d}}", "2030-01-08T12:00:00Z"),
    ("{{now+20h}}", "2030-01-11T08:00:00Z"),
    ("{{now-30m}}", "2030-01-10T11:30:00Z"),
    ("{{now-1w}}", "2030-01-03T12:00:00Z"),
    ("{{now-10d:date}}", "2029-12-31"),
])
def test_placeholder(placeholder, expected):
    now = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
    assert samples.resolve_dates({"x": [placeholder]}, now) == {"x": [expected]}


def test_unknown_placeholder_is_refused():
    with pytest.raises(ValueError):
        samples.resolve_dates("{{now-2y}}", NOW)


def test_default_now_is_the_present():
    bundle = samples.load_bundle(SAMPLES[0].id)
    assert "{{" not in json.dumps(bundle)
    sample = SAMPLES[0]
    cards_now = run_sample(sample)
    assert {c["topic"] for c in cards_now} == {c["topic"] for c in run_sample(sample, now=NOW + timedelta(seconds=1))}


def test_bundle_shape():
    for s in SAMPLES:
        bundle = samples.load_bundle(s.id, now=NOW)
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        for entry in bundle["entry"]:
            res = entry["resource"]
            assert entry["request"] == {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"}
            assert entry["fullUrl"].endswith(f"/{res['resourceType']}/{res['id']}")
        assert samples.resources(s.id, now=NOW) == [e["resource"] for e in bundle["entry"]]


def test_prefetch_holds_the_patients_resources_per_type():
    s = SAMPLES[0]
    pre = samples.prefetch(s.id, ["patient", "conditions", "observations", "allergies"], now=NOW)
    assert pre["patient"]["resourceType"] == "Patient" and pre["patient"]["id"] == s.patient_id
    assert pre["conditions"]["type"] == "searchset"
    conds = [r for r in samples.resources(s.id, now=NOW) if r["resourceType"] == "Condition"]
    assert [e["resource"] for e in pre["conditions"]["entry"]] == conds
    assert all(e["resource"]["resourceType"] == "Observation" for e in pre["observations"]["entry"])
    assert pre["allergies"]["total"] == len(pre["allergies"]["entry"])
    with pytest.raises(KeyError):
        samples.prefetch(s.id, ["nonsense"])
    with pytest.raises(KeyError):
        samples.load_bundle("no-such-sample")


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.pop("description_nl"), "description_nl"),
    (lambda d: d.update(id="other"), "file name"),
    (lambda d: d.update(hooks=["patient-view", "bogus"]), "hooks"),
    (lambda d: d["bundle"].update(type="collection"), "transaction"),
    (lambda d: d["bundle"]["entry"][0]["request"].update(method="POST"), "entry[0]"),
    (lambda d: d["bundle"]["entry"][1]["resource"].update(subject={"reference": "Patient/x"}), "entry[1]"),
    (lambda d: d["bundle"]["entry"][1]["resource"].update(effectiveDateTime="{{yesterday}}"), "placeholder"),
    (lambda d: d["bundle"]["entry"].pop(0), "exactly one Patient"),
])
def test_validation_names_the_problem(mutate, message):
    raw = json.loads(json.dumps(samples._raw()["mescc-12h"]))
    mutate(raw)
    problems = samples._validate("mescc-12h", raw)
    assert problems and any(message in p for p in problems), problems


def test_bad_file_error_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "broken-one.json").write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(samples._res, "files", lambda pkg: tmp_path)
    samples._raw.cache_clear()
    try:
        with pytest.raises(samples.SampleError, match="broken-one.json"):
            samples.list_samples()
    finally:
        monkeypatch.undo()
        samples._raw.cache_clear()
    assert samples.list_samples(now=NOW)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_sample_cards_render_without_missing_message_keys(lang, caplog):
    with caplog.at_level("ERROR", logger="spine_cds.i18n"):
        for sample in SAMPLES:
            run_sample(sample, lang=lang)
    missing = [(r.key, r.lang) for r in caplog.records if r.getMessage() == "message key missing"]
    assert missing == []
