"""The table-driven cases (tests/cases/*.json) end to end through HTTP: every
service of the case's hook is called, once with prefetch and once with the
FHIR-server fallback (the service fetches the same resources over HTTP), and
both must give the expected cards (topic, indicator, result) — the same as
the mapper + rules run in tests/test_cases.py."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from cds_service.services import SERVICES

from .support.cases import check_findings, load_cases, parse_now, produced_from_cards, without_keys
from .support.http_cases import BASE, at, by_type, client, clock, request_body, search_result, searchset  # noqa: F401 (fixtures)

CASES = load_cases()


def serve_case(mock: responses.RequestsMock, case) -> None:
    types, failed = by_type(case), case.get("searches", {})

    def answer(request):
        url = urlparse(request.url)
        path = url.path[len(urlparse(BASE).path):].strip("/")
        rtype, _, rid = path.partition("/")
        if failed.get(rtype) == "failed":
            return 500, {}, json.dumps({"resourceType": "OperationOutcome",
                                        "issue": [{"severity": "error", "code": "exception"}]})
        if rid:
            found = [r for r in types.get(rtype, []) if r.get("id") == rid]
            if not found:
                return 404, {}, json.dumps({"resourceType": "OperationOutcome",
                                            "issue": [{"severity": "error", "code": "not-found"}]})
            return 200, {"Content-Type": "application/fhir+json"}, json.dumps(found[0])
        query = parse_qs(url.query)
        assert query.get("patient") == [case.get("patientId", "p1")]
        template = rtype + "?" + "&".join(f"{k}={v[0]}" for k, v in query.items() if k == "_include")
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(searchset(search_result(types, template)))

    mock.add_callback(responses.GET, re.compile(re.escape(BASE) + r"/.*"), callback=answer)


@pytest.mark.parametrize("mode", ["prefetch", "fhir-fallback"])
@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_case_over_http(client, at, case_id, case, mode):  # noqa: F811 (fixtures of support/http_cases.py)
    at(parse_now(case))
    hook = case.get("hook", "patient-view")
    cards = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        if mode == "fhir-fallback":
            serve_case(mock, case)
        for service in [s for s in SERVICES if s.hook == hook]:
            r = client.post(f"/cds-services/{service.id}", json=request_body(case, service,
                                                                              prefetch=mode == "prefetch"))
            assert r.status_code == 200, (service.id, r.get_data(as_text=True)[:500])
            cards.extend(r.get_json()["cards"])
    errors = check_findings(without_keys(case), produced_from_cards(cards))
    assert not errors, "\n".join(errors)
