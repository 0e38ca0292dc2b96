"""The CDS Hooks 2.0 JSON Schemas: spec examples, real client requests, invalid cases, OpenAPI.

Spec examples are transcribed in tests/fixtures/spec-examples/*.json, each with
its source (repository, commit, section), the schema (or sub-schema) it is an
example of, and whether the spec text makes it valid.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from cds_service import schemas
from cds_service.openapi import build_openapi

from .support.interop import CRD_REQUESTS

HERE = Path(__file__).parent
SPEC_EXAMPLES = sorted((HERE / "fixtures" / "spec-examples").glob("*.json"))
CRD_DIR = CRD_REQUESTS


def _fixture(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _sentence(path: str, predicate: str) -> tuple[str, str]:
    """The (path, message) pair errors() gives: the message names the member, then says what is wrong."""
    subject = "The body" if path == "$" else path[2:] if path.startswith("$.") else path[1:]
    return path, f"{subject} {predicate}"


def _errors_for(schema_ref: str, instance: Any) -> list[tuple[str, str]]:
    """errors() for a fixture's schema: "response.json" or "response.json#/$defs/Action"."""
    name, _, pointer = schema_ref.partition("#")
    return schemas.errors(name.removesuffix(".json") + (f"#{pointer}" if pointer else ""), instance)


# --- the schemas themselves --------------------------------------------------

@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = schemas.load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_every_ref_resolves(name: str) -> None:
    resolver = schemas.registry().resolver(base_uri=schemas.load_schema(name)["$id"])
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas.load_schema(name))
    for ref in refs:
        assert resolver.lookup(ref).contents is not None, ref


def test_unknown_schema_name_is_refused() -> None:
    with pytest.raises(KeyError):
        schemas.load_schema("cards")


def test_validator_is_cached() -> None:
    assert schemas.validator("request") is schemas.validator("request")


# --- spec examples -------------------------------------------------------------

def test_spec_examples_are_present() -> None:
    names = {p.stem for p in SPEC_EXAMPLES}
    for expected in ("discovery-example", "request-patient-view", "response-example",
                     "feedback-accepted", "feedback-overridden", "feedback-overridden-reason",
                     "action-delete", "response-system-actions"):
        assert expected in names


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=[p.stem for p in SPEC_EXAMPLES])
def test_spec_example(path: Path) -> None:
    fx = _fixture(path)
    assert fx["source"]["commits"] and fx["source"]["section"]
    instance = fx["example"]
    for key in fx.get("select", []):
        instance = instance[key]
    found = _errors_for(fx["schema"], instance)
    if fx["expect"] == "valid":
        assert found == []
    else:
        assert fx["expect"] == "invalid" and fx.get("note"), "an invalid spec example needs a note saying why"
        assert found == [tuple(e) for e in fx["errors"]]


# --- real client requests (Inferno Da Vinci CRD test kit) ---------------------

HOOK_REQUESTS = ["encounter_start_hook_request.json", "fancy_structure_hook_request.json",
                 "order_select_hook_request.json", "order_sign_hook_request.json"]


@pytest.mark.parametrize("name", HOOK_REQUESTS)
def test_crd_test_kit_request_is_a_valid_envelope(name: str) -> None:
    request = json.loads((CRD_DIR / name).read_text(encoding="utf-8"))
    assert schemas.errors("request", request) == []


def test_crd_test_kit_service_request_resource_is_not_a_hook_request() -> None:
    # crd_service_request_example.json in that folder is a FHIR ServiceRequest,
    # not a CDS Hooks request: it must be refused with the missing members named.
    resource = json.loads((CRD_DIR / "crd_service_request_example.json").read_text(encoding="utf-8"))
    assert resource["resourceType"] == "ServiceRequest"
    paths = {p for p, _ in schemas.errors("request", resource)}
    assert {"$.hook", "$.hookInstance", "$.context"} <= paths


# --- hand-made invalid instances ------------------------------------------------

def _spec(name: str) -> dict[str, Any]:
    return copy.deepcopy(_fixture(HERE / "fixtures" / "spec-examples" / f"{name}.json")["example"])


def _card(**extra: Any) -> dict[str, Any]:
    card = {"uuid": "0b7b4b3e-5a0a-4a43-9c43-6d3b3e0c1f00", "summary": "MRI within 24 hours",
            "indicator": "warning", "source": {"label": "Richtlijn wervelmetastasen 2024"}}
    card.update(extra)
    return card


def _mri_create() -> dict[str, Any]:
    return {"type": "create", "description": "Order an MRI of the whole spine",
            "resource": {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal"}}


def _suggestion(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"label": "Order MRI", "uuid": "5c2b9d0e-6b8e-4a54-8f4e-3c4d2a1b0e9f",
            "actions": list(actions) or [_mri_create()]}


RESPONSE_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("summary-140-chars", {"cards": [_card(summary="x" * 140)]},
     "$.cards[0].summary", "must be at most 139 characters long (is 140)"),
    ("summary-empty", {"cards": [_card(summary="")]}, "$.cards[0].summary", "must not be empty"),
    ("suggestions-without-selectionBehavior", {"cards": [_card(suggestions=[_suggestion()])]},
     "$.cards[0].selectionBehavior", "is required when 'suggestions' is present"),
    ("bad-selectionBehavior", {"cards": [_card(suggestions=[_suggestion()], selectionBehavior="all")]},
     "$.cards[0].selectionBehavior", "must be one of 'at-most-one', 'any'"),
    ("two-recommended-at-most-one",
     {"cards": [_card(selectionBehavior="at-most-one",
                      suggestions=[dict(_suggestion(), isRecommended=True), dict(_suggestion(), isRecommended=True)])]},
     "$.cards[0].suggestions",
     "may hold at most one recommended suggestion when selectionBehavior is 'at-most-one'"),
    ("overrideReason-without-display",
     {"cards": [_card(overrideReasons=[{"code": "declined", "system": "https://spine-cds.org/fhir/CodeSystem/override"}])]},
     "$.cards[0].overrideReasons[0].display", "is required"),
    ("overrideReasons-empty", {"cards": [_card(overrideReasons=[])]}, "$.cards[0].overrideReasons", "must not be empty"),
    ("create-without-resource",
     {"cards": [_card(selectionBehavior="any", suggestions=[_suggestion({"type": "create", "description": "Order"})])]},
     "$.cards[0].suggestions[0].actions[0].resource", "is required"),
    ("update-resource-without-id",
     {"cards": [_card(selectionBehavior="any", suggestions=[_suggestion(
         {"type": "update", "description": "Update", "resource": {"resourceType": "ServiceRequest"}})])]},
     "$.cards[0].suggestions[0].actions[0].resource.id", "is required"),
    ("delete-without-resourceId",
     {"cards": [_card(selectionBehavior="any", suggestions=[_suggestion({"type": "delete", "description": "Cancel"})])]},
     "$.cards[0].suggestions[0].actions[0].resourceId", "is required"),
    ("delete-resourceId-not-a-reference",
     {"cards": [_card(selectionBehavior="any", suggestions=[_suggestion(
         {"type": "delete", "description": "Cancel", "resourceId": "abc"})])]},
     "$.cards[0].suggestions[0].actions[0].resourceId", "must be a relative reference of the form ResourceType/id"),
    ("delete-resourceId-array",
     {"cards": [_card(selectionBehavior="any", suggestions=[_suggestion(
         {"type": "delete", "description": "Cancel", "resourceId": ["ServiceRequest/1"]})])]},
     "$.cards[0].suggestions[0].actions[0].resourceId", "must be of type string, not array"),
    ("action-bad-type",
     {"cards": [_card(selectionBehavior="any", suggestions=[_suggestion(dict(_mri_create(), type="insert"))])]},
     "$.cards[0].suggestions[0].actions[0].type", "must be one of 'create', 'update', 'delete'"),
    ("action-without-description",
     {"cards": [_card(selectionBehavior="any", suggestions=[_suggestion(
         {"type": "create", "resource": {"resourceType": "ServiceRequest"}})])]},
     "$.cards[0].suggestions[0].actions[0].description", "is required"),
    ("suggestion-without-label",
     {"cards": [_card(selectionBehavior="any", suggestions=[{"actions": [_mri_create()]}])]},
     "$.cards[0].suggestions[0].label", "is required"),
    ("wrong-indicator", {"cards": [_card(indicator="hard-stop")]},
     "$.cards[0].indicator", "must be one of 'info', 'warning', 'critical'"),
    ("source-without-label", {"cards": [_card(source={"url": "https://example.org"})]},
     "$.cards[0].source.label", "is required"),
    ("topic-not-a-coding", {"cards": [_card(source={"label": "x", "topic": {"code": "sins"}})]},
     "$.cards[0].source.topic.system", "is required"),
    ("link-bad-type", {"cards": [_card(links=[{"label": "Richtlijn", "url": "https://example.org", "type": "relative"}])]},
     "$.cards[0].links[0].type", "must be one of 'absolute', 'smart'"),
    ("link-absolute-with-appContext",
     {"cards": [_card(links=[{"label": "R", "url": "https://example.org", "type": "absolute", "appContext": "x"}])]},
     "$.cards[0].links[0].appContext", "is only allowed on links of type 'smart'"),
    ("link-relative-url", {"cards": [_card(links=[{"label": "R", "url": "guideline.html", "type": "absolute"}])]},
     "$.cards[0].links[0].url", "must be a valid uri"),
    ("misspelt-card-member", {"cards": [_card(overideReasons=[])]},
     "$.cards[0].overideReasons", "is not an allowed property here"),
    ("cards-missing", {"systemActions": [_mri_create()]}, "$.cards", "is required"),
    ("systemAction-delete-without-resourceId", {"cards": [], "systemActions": [{"type": "delete"}]},
     "$.systemActions[0].resourceId", "is required"),
]


@pytest.mark.parametrize("instance,path,message", [c[1:] for c in RESPONSE_CASES], ids=[c[0] for c in RESPONSE_CASES])
def test_invalid_response(instance: dict[str, Any], path: str, message: str) -> None:
    assert _sentence(path, message) in schemas.errors("response", instance)


def test_valid_card_with_suggestions_links_and_reasons() -> None:
    card = _card(
        detail="**MRI** binnen 24 uur.",
        selectionBehavior="at-most-one",
        suggestions=[dict(_suggestion(), isRecommended=True),
                     _suggestion({"type": "delete", "description": "Cancel", "resourceId": "ServiceRequest/mri-1"})],
        overrideReasons=[{"code": "patient-declined", "system": "https://spine-cds.org/fhir/CodeSystem/override",
                          "display": "Patiënt wil dit niet"}],
        links=[{"label": "SMART", "url": "https://app.example.org/launch", "type": "smart", "appContext": "{}"}],
        extension={"org.spine-cds.result": {"windowHours": 24, "rule": "DX-2b", "rules": ["DX-2b"]}},
    )
    card["source"]["topic"] = {"system": "https://spine-cds.org/fhir/CodeSystem/card-topic", "code": "mri-urgency"}
    assert schemas.errors("response", {"cards": [card]}) == []
    # 139 characters (code points, not bytes) is the longest summary allowed.
    assert schemas.errors("response", {"cards": [_card(summary="é" * 139)]}) == []


def _spine_card(**extra: Any) -> dict[str, Any]:
    card = _card(detail="**Conclusie**", overrideReasons=[
        {"code": "patient-declined", "system": "https://spine-cds.org/fhir/CodeSystem/override", "display": "Declined"}],
        extension={"org.spine-cds.result": {"windowHours": 24, "rule": "DX-2b", "rules": ["DX-1", "DX-2b"]}})
    card["source"]["topic"] = {"system": "https://spine-cds.org/fhir/CodeSystem/card-topic", "code": "mri-urgency"}
    card.update(extra)
    return card


def test_service_profile_accepts_a_complete_card() -> None:
    card = _spine_card(selectionBehavior="any", suggestions=[_suggestion()])
    assert schemas.errors("service-response", {"cards": [card]}) == []
    info = _spine_card(indicator="info")
    info.pop("overrideReasons")
    assert schemas.errors("service-response", {"cards": [info]}) == []


def _drop(d: dict[str, Any], key: str) -> dict[str, Any]:
    d = copy.deepcopy(d)
    d.pop(key)
    return d


PROFILE_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("card-without-uuid", _drop(_spine_card(), "uuid"), "$.cards[0].uuid", "is required"),
    ("card-uuid-not-uuid", _spine_card(uuid="card-1"), "$.cards[0].uuid", "must be a UUID"),
    ("warning-without-overrideReasons", _drop(_spine_card(), "overrideReasons"), "$.cards[0].overrideReasons", "is required"),
    ("critical-without-overrideReasons", _drop(_spine_card(indicator="critical"), "overrideReasons"),
     "$.cards[0].overrideReasons", "is required"),
    ("without-topic", _spine_card(source={"label": "x"}), "$.cards[0].source.topic", "is required"),
    ("unknown-topic", _spine_card(source={"label": "x", "topic": {
        "system": "https://spine-cds.org/fhir/CodeSystem/card-topic", "code": "mri"}}),
     "$.cards[0].source.topic.code", "must be one of " + ", ".join(
         f"'{t}'" for t in ("mri-urgency", "corticosteroids", "diagnostic-workup", "treatment-window", "mdo-referral",
                            "treatment-modality", "rt-dose", "survival-estimate", "aftercare", "sins",
                            "vpbk-eligibility", "vpbk-preprocedure", "mri-order"))),
    ("result-without-rules", _spine_card(extension={"org.spine-cds.result": {"rule": "DX-2b"}}),
     "$.cards[0].extension['org.spine-cds.result'].rules", "is required"),
    ("suggestion-without-uuid", _spine_card(selectionBehavior="any", suggestions=[_drop(_suggestion(), "uuid")]),
     "$.cards[0].suggestions[0].uuid", "is required"),
    # The CDS Hooks invariants still hold under the profile.
    ("summary-140-chars", _spine_card(summary="x" * 140), "$.cards[0].summary",
     "must be at most 139 characters long (is 140)"),
]


@pytest.mark.parametrize("card,path,message", [c[1:] for c in PROFILE_CASES], ids=[c[0] for c in PROFILE_CASES])
def test_service_profile_refuses(card: dict[str, Any], path: str, message: str) -> None:
    assert _sentence(path, message) in schemas.errors("service-response", {"cards": [card]})


REQUEST_CASES: list[tuple[str, Any, str, str]] = [
    ("without-hook", {"hookInstance": "1", "context": {}}, "$.hook", "is required"),
    ("without-hookInstance", {"hook": "patient-view", "context": {}}, "$.hookInstance", "is required"),
    ("without-context", {"hook": "patient-view", "hookInstance": "1"}, "$.context", "is required"),
    ("context-not-object", {"hook": "patient-view", "hookInstance": "1", "context": ["Patient/1"]},
     "$.context", "must be of type object, not array"),
    ("hookInstance-not-string", {"hook": "patient-view", "hookInstance": 7, "context": {}},
     "$.hookInstance", "must be of type string, not integer"),
    ("not-an-object", ["hook"], "$", "must be of type object, not array"),
]


def _auth(**changes: Any) -> dict[str, Any]:
    request = _spec("request-patient-view")
    request["fhirAuthorization"].update(changes)
    return request


REQUEST_CASES += [
    ("fhirAuthorization-without-access_token",
     dict(_spec("request-patient-view"), fhirAuthorization=_drop(_spec("request-patient-view")["fhirAuthorization"], "access_token")),
     "$.fhirAuthorization.access_token", "is required"),
    ("fhirAuthorization-token_type-mac", _auth(token_type="MAC"), "$.fhirAuthorization.token_type", "must be 'Bearer'"),
    ("fhirAuthorization-expires_in-string", _auth(expires_in="300"),
     "$.fhirAuthorization.expires_in", "must be of type integer, not string"),
    ("fhirAuthorization-without-fhirServer", _drop(_spec("request-patient-view"), "fhirServer"),
     "$.fhirServer", "is required when 'fhirAuthorization' is present"),
    ("fhirServer-not-a-url", dict(_spec("request-patient-view"), fhirServer="ehr.example.org/fhir"),
     "$.fhirServer", "must be an absolute http(s) URL"),
    ("prefetch-value-not-a-resource",
     dict(_spec("request-patient-view"), prefetch={"patientToGreet": {"id": "1"}}),
     "$.prefetch.patientToGreet.resourceType", "is required"),
    ("prefetch-value-a-list",
     dict(_spec("request-patient-view"), prefetch={"hemoglobin-a1c": []}),
     "$.prefetch['hemoglobin-a1c']", "must be of type object or null, not array"),
    ("extension-not-object", dict(_spec("request-patient-view"), extension="x"),
     "$.extension", "must be of type object, not string"),
]


@pytest.mark.parametrize("instance,path,message", [c[1:] for c in REQUEST_CASES], ids=[c[0] for c in REQUEST_CASES])
def test_invalid_request(instance: Any, path: str, message: str) -> None:
    assert _sentence(path, message) in schemas.errors("request", instance)


def test_request_tolerates_what_clients_send() -> None:
    request = _spec("request-patient-view")
    request.update(fhirAuthorization=dict(request["fhirAuthorization"], token_type="bearer", patient="1288992"),
                   prefetch={"patient": None, "conditions": {"resourceType": "Bundle", "type": "searchset"},
                             "failed": {"resourceType": "OperationOutcome", "issue": []}},
                   unknownMember={"any": "thing"})
    request.pop("fhirAuthorization")
    request.pop("fhirServer")
    assert schemas.errors("request", request) == []


def test_error_messages_do_not_quote_input_values() -> None:
    secret = "eyJhbGciOiJSUzM4NCJ9.SECRET-TOKEN"
    request = _auth(access_token=secret, token_type=secret, expires_in=secret)
    request["prefetch"] = {"patientToGreet": ["BSN 123456782", secret]}
    request["context"] = secret
    found = schemas.errors("request", request)
    assert len(found) >= 4
    assert all(secret not in m and "123456782" not in m for _, m in found)


FEEDBACK_CASES: list[tuple[str, Any, str, str]] = [
    ("bad-outcome", {"feedback": [{"card": "c1", "outcome": "ignored", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]},
     "$.feedback[0].outcome", "must be one of 'accepted', 'overridden'"),
    ("accepted-without-acceptedSuggestions",
     {"feedback": [{"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]},
     "$.feedback[0].acceptedSuggestions", "is required"),
    ("acceptedSuggestion-without-id",
     {"feedback": [{"card": "c1", "outcome": "accepted", "acceptedSuggestions": [{"uuid": "s1"}],
                    "outcomeTimestamp": "2020-12-11T00:00:00Z"}]},
     "$.feedback[0].acceptedSuggestions[0].id", "is required"),
    ("without-card", {"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]},
     "$.feedback[0].card", "is required"),
    ("timestamp-without-offset",
     {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00"}]},
     "$.feedback[0].outcomeTimestamp", "must be a valid date-time"),
    ("timestamp-impossible-date",
     {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2020-02-30T00:00:00Z"}]},
     "$.feedback[0].outcomeTimestamp", "must be a valid date-time"),
    ("overrideReason-empty",
     {"feedback": [{"card": "c1", "outcome": "overridden", "overrideReason": {},
                    "outcomeTimestamp": "2020-12-11T00:00:00Z"}]},
     "$.feedback[0].overrideReason", "must have a 'reason' or a 'userComment'"),
    ("overrideReason-reason-without-system",
     {"feedback": [{"card": "c1", "outcome": "overridden", "overrideReason": {"reason": {"code": "x"}},
                    "outcomeTimestamp": "2020-12-11T00:00:00Z"}]},
     "$.feedback[0].overrideReason.reason.system", "is required"),
    ("feedback-empty", {"feedback": []}, "$.feedback", "must not be empty"),
    ("feedback-missing", {"card": "c1"}, "$.feedback", "is required"),
]


@pytest.mark.parametrize("instance,path,message", [c[1:] for c in FEEDBACK_CASES], ids=[c[0] for c in FEEDBACK_CASES])
def test_invalid_feedback(instance: Any, path: str, message: str) -> None:
    assert _sentence(path, message) in schemas.errors("feedback", instance)


def test_feedback_comment_only_override_and_offset_timestamp_are_valid() -> None:
    feedback = {"feedback": [{"card": "c1", "outcome": "overridden", "overrideReason": {"userComment": "al gepland"},
                              "outcomeTimestamp": "2024-03-01T09:15:00.123+01:00"}]}
    assert schemas.errors("feedback", feedback) == []


DISCOVERY_CASES: list[tuple[str, Any, str, str]] = [
    ("without-description", {"services": [{"hook": "patient-view", "id": "a"}]}, "$.services[0].description", "is required"),
    ("id-with-slash", {"services": [{"hook": "patient-view", "id": "a/b", "description": "d"}]},
     "$.services[0].id", "must be a URL path segment (letters, digits, '.', '_', '~', '-')"),
    ("prefetch-template-not-string",
     {"services": [{"hook": "patient-view", "id": "a", "description": "d", "prefetch": {"p": {"q": 1}}}]},
     "$.services[0].prefetch.p", "must be of type string, not object"),
]


@pytest.mark.parametrize("instance,path,message", [c[1:] for c in DISCOVERY_CASES], ids=[c[0] for c in DISCOVERY_CASES])
def test_invalid_discovery(instance: Any, path: str, message: str) -> None:
    assert _sentence(path, message) in schemas.errors("discovery", instance)


def test_operation_outcome_of_this_service() -> None:
    body = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "diagnostics": "A required member is missing.",
         "expression": ["$.context.patientId"]}]}
    assert schemas.errors("operation-outcome", body) == []
    body["issue"][0]["code"] = "processing"
    assert [p for p, _ in schemas.errors("operation-outcome", body)] == ["$.issue[0].code"]


# --- JSONPath rendering ---------------------------------------------------------

@pytest.mark.parametrize("parts,expected", [
    ([], "$"),
    (["context", "patientId"], "$.context.patientId"),
    (["cards", 0, "suggestions", 12, "actions"], "$.cards[0].suggestions[12].actions"),
    (["prefetch", "hemoglobin-a1c"], "$.prefetch['hemoglobin-a1c']"),
    (["extension", "org.spine-cds.result"], "$.extension['org.spine-cds.result']"),
    (["x", "it's"], "$.x['it\\'s']"),
])
def test_json_path(parts: list[Any], expected: str) -> None:
    assert schemas.json_path(parts) == expected


def test_errors_sorted_naturally() -> None:
    cards = [_card() for _ in range(12)]
    cards[2]["indicator"] = "x"
    cards[10]["indicator"] = "x"
    assert [p for p, _ in schemas.errors("response", {"cards": cards})] == [
        "$.cards[2].indicator", "$.cards[10].indicator"]


# --- OpenAPI 3.1 ------------------------------------------------------------------

SERVICES = [
    {"id": "spine-metastases-diagnosis", "hook": "patient-view", "title": "Wervelmetastasen: diagnostiek",
     "description": "MRI urgency, corticosteroids and diagnostic work-up.",
     "prefetch": {"patient": "Patient/{{context.patientId}}",
                  "conditions": "Condition?patient={{context.patientId}}"}},
    {"id": "spine-order-sign", "hook": "order-sign", "title": "Orders: final check",
     "description": "Checks MRI and VP/BK orders.", "usageRequirements": "Needs draftOrders with R4 resources."},
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def openapi_doc() -> dict[str, Any]:
    return build_openapi(SERVICES)


def _resolve_pointer(doc: Any, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node = doc
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_version_and_paths(openapi_doc: dict[str, Any]) -> None:
    assert openapi_doc["openapi"] == "3.1.0"
    assert set(openapi_doc["paths"]) == {"/cds-services", "/cds-services/{id}", "/cds-services/{id}/feedback",
                                         "/healthz", "/readyz", "/openapi.json"}
    assert json.loads(json.dumps(openapi_doc)) == openapi_doc  # plain JSON


def test_openapi_every_ref_resolves_inside_the_document(openapi_doc: dict[str, Any]) -> None:
    refs = _refs(openapi_doc)
    assert len(refs) > 30
    for ref in refs:
        assert _resolve_pointer(openapi_doc, ref) is not None
    assert not any("$defs" in r or ".json" in r for r in refs)


def test_openapi_every_operation_has_responses_and_declared_path_params(openapi_doc: dict[str, Any]) -> None:
    for path, item in openapi_doc["paths"].items():
        params = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert params == set(part[1:-1] for part in path.split("/") if part.startswith("{")), path
        operations = {m: op for m, op in item.items() if m in METHODS}
        assert operations, path
        for method, op in operations.items():
            assert op["responses"], (path, method)


@pytest.mark.parametrize("path,method,codes", [
    ("/cds-services", "get", {"200", "401", "405"}),
    ("/cds-services/{id}", "post", {"200", "400", "401", "404", "405", "412", "413", "415"}),
    ("/cds-services/{id}/feedback", "post", {"200", "400", "401", "404", "405", "413", "415"}),
])
def test_openapi_errors_are_operation_outcomes(openapi_doc: dict[str, Any], path: str, method: str, codes: set[str]) -> None:
    responses = openapi_doc["paths"][path][method]["responses"]
    assert set(responses) == codes
    for code in codes - {"200"}:
        response = _resolve_pointer(openapi_doc, responses[code]["$ref"])
        for media in response["content"].values():
            assert media["schema"] == {"$ref": "#/components/schemas/OperationOutcome"}


def test_openapi_security(openapi_doc: dict[str, Any]) -> None:
    scheme = openapi_doc["components"]["securitySchemes"]["cdsHooksJwt"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert openapi_doc["security"] == [{"cdsHooksJwt": []}]
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert openapi_doc["paths"][path]["get"]["security"] == []
    assert "security" not in openapi_doc["paths"]["/cds-services/{id}"]["post"]  # the global JWT requirement applies


def test_openapi_embeds_the_same_schemas(openapi_doc: dict[str, Any]) -> None:
    components = openapi_doc["components"]["schemas"]
    for name in ("CdsServiceRequest", "CdsServiceResponse", "CdsDiscoveryResponse", "CdsFeedbackRequest",
                 "OperationOutcome", "Card", "Action", "Coding", "FhirAuthorization", "Feedback"):
        assert name in components
    assert components["Card"]["properties"]["summary"]["maxLength"] == 139
    assert components["Card"]["properties"]["source"] == {"$ref": "#/components/schemas/Source"}
    assert components["CdsServiceRequest"]["required"] == schemas.load_schema("request")["required"]
    assert not any(k in c for c in components.values() for k in ("$id", "$schema", "$defs"))


def test_openapi_embedded_schemas_validate_like_the_files(openapi_doc: dict[str, Any]) -> None:
    # The rewritten component schemas must accept and refuse the same instances as the files.
    doc = copy.deepcopy(openapi_doc)
    cases = [("CdsServiceResponse", "response", _spec("response-example")),
             ("SpineCdsServiceResponse", "service-response", _spec("response-example")),
             ("SpineCdsServiceResponse", "service-response", {"cards": [_spine_card()]}),
             ("CdsServiceResponse", "response", RESPONSE_CASES[0][1]),
             ("CdsServiceRequest", "request", _spec("request-patient-view")),
             ("CdsServiceRequest", "request", REQUEST_CASES[0][1]),
             ("CdsFeedbackRequest", "feedback", FEEDBACK_CASES[0][1]),
             ("CdsDiscoveryResponse", "discovery", {"services": SERVICES})]
    for component, name, instance in cases:
        v = Draft202012Validator({"$ref": f"#/components/schemas/{component}", **doc},
                                 format_checker=schemas.validator(name).format_checker)
        assert v.is_valid(instance) == schemas.validator(name).is_valid(instance), (component, instance)


def test_openapi_service_ids_and_discovery_example(openapi_doc: dict[str, Any]) -> None:
    item = openapi_doc["paths"]["/cds-services/{id}"]
    assert item["parameters"][0]["schema"]["enum"] == ["spine-metastases-diagnosis", "spine-order-sign"]
    example = openapi_doc["paths"]["/cds-services"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    assert example == {"services": SERVICES}
    assert schemas.errors("discovery", example) == []


def test_openapi_refuses_invalid_services() -> None:
    with pytest.raises(ValueError, match=r"\$\.services\[0\]\.description"):
        build_openapi([{"id": "x", "hook": "patient-view"}])


def test_openapi_with_no_services() -> None:
    doc = build_openapi([])
    assert "enum" not in doc["paths"]["/cds-services/{id}"]["parameters"][0]["schema"]


def test_openapi_passes_openapi_spec_validator(openapi_doc: dict[str, Any]) -> None:
    import openapi_spec_validator
    openapi_spec_validator.validate(openapi_doc)
