"""The FHIR fallback sends the caller's bearer token only below the allowed base path
(issue 19, item 6): with ``fhir_servers: ["http://host/fhir"]`` a ``next`` link to
``http://host/outside/...`` (absolute or ``../../``) was followed with the token."""
from __future__ import annotations

import pytest
import responses

from cds_service.fhir_client import FhirClient

TOKEN = "tok-3f9a.SECRET_value-xyz"
BASE = "http://ehr.example.org/fhir"


def _page(next_url: str | None) -> dict:
    doc: dict = {"resourceType": "Bundle", "type": "searchset",
                 "entry": [{"resource": {"resourceType": "Observation", "id": "o1"}}]}
    if next_url:
        doc["link"] = [{"relation": "next", "url": next_url}]
    return doc


@pytest.mark.parametrize("next_url", [
    "http://ehr.example.org/outside/Observation?page=2",       # absolute, same origin, another path
    "../../outside/Observation?page=2",                          # relative, climbing out
    "../fhir-other/Observation?page=2",                          # a sibling sharing the prefix
    "/outside/Observation?page=2",                               # absolute path
    "http://ehr.example.org/fhir/%2e%2e/outside/Observation",   # escaped dot segments
    "http://ehr.example.org/fhir/..%2Foutside/Observation",     # escaped slash
    "http://ehr.example.org/fhir",                               # the base itself, no resource path
])
def test_next_link_outside_the_base_path_is_not_followed(next_url: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{BASE}/Observation", json=_page(next_url))
        mock.get("http://ehr.example.org/outside/Observation", json=_page(None))
        mock.get("http://ehr.example.org/fhir-other/Observation", json=_page(None))
        result = FhirClient().search(BASE, "Observation?patient=1", token=TOKEN)
        assert result.ok and result.incomplete and "base path" in (result.error or "")
        assert [c.request.url for c in mock.calls] == [f"{BASE}/Observation?patient=1"]


def test_next_link_below_the_base_path_is_followed_with_the_token() -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/Observation", json=_page("Observation?patient=1&page=2"),
                 match=[responses.matchers.query_string_matcher("patient=1")])
        mock.get(f"{BASE}/Observation", json=_page(None),
                 match=[responses.matchers.query_string_matcher("patient=1&page=2")])
        result = FhirClient().search(BASE, "Observation?patient=1", token=TOKEN)
        assert result.complete
        assert mock.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"
