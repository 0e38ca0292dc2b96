"""The capture forms and their published Questionnaires (issue 18, part 1).

The key check: every question of every published Questionnaire, answered and extracted
the way the app writes it, goes through the real mapper and becomes the intended fact. So a
form can never write what the mapper does not read."""
from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire

from cds_service.capture.forms import FormsError, Item, build_registry, registry
from cds_service.capture.questionnaire import (
    OBSERVATION_EXTRACT,
    Answered,
    questionnaire,
    questionnaire_id,
    search_bundle,
    transaction,
)
from fhir_mappings import build_facts, load_tables
from spine_guideline.facts import SearchStatus

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
BASE = "http://spine-cds.test"
LEVEL = "L2"


def _all_items():
    for form in registry().forms:
        for item in form.items:
            yield form, item


def _values(item: Item) -> list[tuple[Any, Any]]:
    """(answer as the form parses it, value the mapper should read) pairs for ``item``."""
    if item.kind == "boolean":
        return [(True, True), (False, False)]
    if item.kind == "integer":
        low = int(item.minimum or 0)
        high = int(item.maximum if item.maximum is not None else low + 3)
        return [(low, low), (high, high)]
    if item.kind == "quantity":
        return [(2.5, 2.5)]
    if item.kind == "choice":
        return [(a.coding.code, int(a.value) if item.link_id.startswith("sins-") else a.value) for a in item.answers]
    if item.kind == "string":
        return [("A1", "A1")]
    if item.kind == "date":
        return [(date(2026, 11, 28), None)]
    raise AssertionError(item.kind)


def _facts(bundle: dict) -> Any:
    resources_ = [e["resource"] for e in bundle["entry"]]
    return build_facts(resources_, searches={"Observation": SearchStatus.OK}, now=NOW, patient_id="p1")


def _extract(form, item, value, components=None):
    answered = [Answered(form, item, value, components or {}, LEVEL if item.level_bound else None)]
    return transaction(answered, base_url=BASE, patient_id="p1", now=NOW, user="Practitioner/dr-1",
                       new_id=uuid.uuid4)


CASES = [(form.id, item.link_id, given, expected) for form, item in _all_items() for given, expected in _values(item)]


@pytest.mark.parametrize(("form_id", "link_id", "given", "expected"), CASES,
                         ids=[f"{c[1]}={c[2]}" for c in CASES])
def test_each_item_becomes_its_fact_through_the_mapper(form_id, link_id, given, expected):
    form = registry().form(form_id)
    item = form.item(link_id)
    bundle = _extract(form, item, given)
    obs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(obs) == 1 and obs[0]["code"]["coding"] == [item.code.fhir()]
    fact = _facts(bundle).obs(item.fact, LEVEL if item.level_bound else None)
    assert fact.unknown is None, (link_id, fact)
    if isinstance(expected, float):
        assert fact.value == pytest.approx(expected)
    else:
        assert fact.value == expected
    if item.level_bound:
        assert fact.level == LEVEL and obs[0]["bodySite"]["coding"][0]["code"] == LEVEL


COMPONENT_CASES = [(form.id, item.link_id, child.link_id, given, expected)
                   for form, item in _all_items() for child in item.children for given, expected in _values(child)]


@pytest.mark.parametrize(("form_id", "parent_id", "link_id", "given", "expected"), COMPONENT_CASES,
                         ids=[f"{c[2]}={c[3]}" for c in COMPONENT_CASES])
def test_each_component_becomes_its_sub_fact(form_id, parent_id, link_id, given, expected):
    form = registry().form(form_id)
    parent = form.item(parent_id)
    child = form.item(link_id)
    parent_value = True if parent.kind == "boolean" else None  # SINS: components alone
    bundle = _extract(form, parent, parent_value, {child.component: given})
    fact = _facts(bundle).obs(parent.fact, LEVEL if parent.level_bound else None)
    sub = fact.attrs.get(child.component)
    assert sub is not None and sub.unknown is None, (link_id, fact)
    if child.kind == "date":
        assert sub.value.date() == given
    else:
        assert sub.value == expected


def test_sins_components_alone_give_the_total_from_components():
    form = registry().form("sins")
    sins = form.item("sins")
    comps = {c.component: c.answers[0].coding.code for c in sins.children}  # the highest points of each
    facts = _facts(_extract(form, sins, None, comps))
    fact = facts.obs("sins", LEVEL)
    assert {k: v.value for k, v in fact.attrs.items()} == {
        "sins-location": 3, "sins-pain": 3, "sins-bone-lesion": 2, "sins-alignment": 4, "sins-collapse": 3,
        "sins-posterolateral": 3}


def test_every_observation_fact_of_the_tables_is_in_a_form_or_excused():
    reg = registry()
    placed = {item.fact for form in reg.forms for item in form.items}
    assert set(load_tables().obs_defs) == placed | set(reg.not_captured)
    assert not placed & set(reg.not_captured)


def _doc() -> dict:
    return json.loads((resources.files("cds_service.capture") / "data" / "forms.json").read_text(encoding="utf-8"))


def test_a_fact_the_mapper_does_not_read_stops_loading():
    doc = _doc()
    doc["forms"][0]["items"].append({"fact": "not-a-fact", "text": {"en": "x", "nl": "x"}})
    with pytest.raises(FormsError, match="not-a-fact"):
        build_registry(doc, load_tables())


def test_a_fact_left_out_of_every_form_stops_loading():
    doc = _doc()
    doc["forms"][0]["items"] = [i for i in doc["forms"][0]["items"] if i["fact"] != "mescc-deficit"]
    with pytest.raises(FormsError, match="mescc-deficit"):
        build_registry(doc, load_tables())


def test_a_component_the_mapper_does_not_read_stops_loading():
    doc = copy.deepcopy(_doc())
    doc["forms"][0]["items"][0]["components"] = ["severity"]
    doc["components"]["severity"] = {"en": "x", "nl": "x"}
    with pytest.raises(FormsError, match="severity"):
        build_registry(doc, load_tables())


def test_standard_codes_are_written_where_the_tables_have_one():
    reg = registry()
    code = {item.fact: item.code for form in reg.forms for item in form.items}
    assert (code["karnofsky"].system, code["karnofsky"].code) == ("http://loinc.org", "89243-0")
    assert (code["pain-score"].system, code["pain-score"].code) == ("http://loinc.org", "72514-3")
    assert (code["inr"].system, code["inr"].code) == ("http://loinc.org", "6301-6")
    assert code["mescc-deficit"].system == "https://spine-cds.org/fhir/CodeSystem/spine-cds"


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_published_questionnaires_are_valid_r4_with_observation_extraction(lang):
    for form in registry().forms:
        q = questionnaire(form, BASE, lang)
        Questionnaire.model_validate(q)
        assert q["id"] == questionnaire_id(form) and q["language"] == lang
        top = [i for i in q["item"] if i["linkId"] != "level"]
        assert all({"url": OBSERVATION_EXTRACT, "valueBoolean": True} in i["extension"] and i["code"] for i in top)
        for i in top:
            for child in i.get("item", []):
                assert {"url": OBSERVATION_EXTRACT, "valueCode": "component"} in child["extension"]
        assert ("level" in {i["linkId"] for i in q["item"]}) == form.level_bound
    Bundle.model_validate(search_bundle(registry(), BASE, lang))


def test_the_transaction_is_valid_r4_and_links_observations_to_the_response():
    form = registry().form("neurology")
    mescc = form.item("mescc-deficit")
    ambulatory = form.item("ambulatory")
    answered = [Answered(form, mescc, True, {"onset": date(2026, 11, 30), "progressive": True}, None),
                Answered(form, ambulatory, False, {}, None)]
    bundle = transaction(answered, base_url=BASE, patient_id="p1", now=NOW, user="Practitioner/dr-1",
                         new_id=uuid.uuid4)
    Bundle.model_validate(bundle)
    qr = bundle["entry"][0]
    assert qr["resource"]["resourceType"] == "QuestionnaireResponse"
    assert qr["resource"]["questionnaire"] == f"{BASE}/fhir/Questionnaire/spine-cds-neurology"
    assert qr["resource"]["author"] == {"reference": "Practitioner/dr-1"}
    observations = [e["resource"] for e in bundle["entry"][1:]]
    assert len(observations) == 2
    for obs in observations:
        assert obs["status"] == "final" and obs["subject"] == {"reference": "Patient/p1"}
        assert obs["derivedFrom"] == [{"reference": qr["fullUrl"]}]
        assert obs["performer"] == [{"reference": "Practitioner/dr-1"}]
        assert obs["effectiveDateTime"] == NOW.isoformat()
    facts = _facts(bundle)
    assert facts.obs("mescc-deficit").value is True
    assert facts.obs("mescc-deficit").attrs["progressive"].value is True
    assert facts.obs("ambulatory").value is False
    assert facts.obs("mescc-deficit").attrs["onset"].value >= NOW - timedelta(days=3)


def test_the_questionnaire_endpoints(tmp_path):
    from tests.conftest import make_app
    client = make_app(tmp_path).test_client()
    resp = client.get("/fhir/Questionnaire", headers={"Accept-Language": "nl"})
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    bundle = resp.get_json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset" and bundle["total"] == len(registry().forms)
    assert {e["resource"]["language"] for e in bundle["entry"]} == {"nl"}
    url = "http://localhost/fhir/Questionnaire/spine-cds-sins"
    found = client.get("/fhir/Questionnaire", query_string={"url": url}).get_json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["spine-cds-sins"] and found["total"] == 1
    one = client.get("/fhir/Questionnaire/spine-cds-neurology", headers={"Accept-Language": "en"}).get_json()
    Questionnaire.model_validate(one)
    assert one["url"] == "http://localhost/fhir/Questionnaire/spine-cds-neurology"
    assert one["item"][0]["linkId"] == "mescc-deficit" and one["item"][0]["type"] == "boolean"
    missing = client.get("/fhir/Questionnaire/nope")
    assert missing.status_code == 404 and missing.get_json()["resourceType"] == "OperationOutcome"
