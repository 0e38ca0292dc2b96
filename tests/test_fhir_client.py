"""The bounded FHIR client of the prefetch fallback (cds_service/fhir_client.py).

Three kinds of server: a real FHIR R4 server process (SEKMET, tests/support/fhir_server.py)
for searches with paging and reads end to end; the ``responses`` mock for status codes, bodies
and next links; and a raw loopback socket server for timing (hanging, slow-drip, huge answers).
"""
from __future__ import annotations

import gzip
import json
import logging
import threading
import time

import pytest
import requests
import responses

from cds_service.fhir_client import FhirClient, SearchResult
from tests.support.fhir_server import fhir_server, free_port, load_bundle
from tests.support.raw_server import RawServer, hang

TOKEN = "tok-3f9a.SECRET_value-xyz"
BASE = "https://ehr.example.org/fhir"


# --------------------------------------------------------------------------- helpers

def bundle(resources: list[dict], next_url: str | None = None, self_url: str | None = None) -> dict:
    links = []
    if self_url:
        links.append({"relation": "self", "url": self_url})
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources), "link": links,
            "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def obs(i: int | str, patient: str = "p1") -> dict:
    return {"resourceType": "Observation", "id": f"obs-{i}", "status": "final",
            "code": {"text": f"test {i}"}, "subject": {"reference": f"Patient/{patient}"}}


def cond(i: int, patient: str = "p1") -> dict:
    return {"resourceType": "Condition", "id": f"cond-{i}", "code": {"text": f"condition {i}"},
            "subject": {"reference": f"Patient/{patient}"}}


def outcome(diagnostics: str = "Patient Jansen not found", code: str = "not-found") -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}


def ids(result: SearchResult) -> set[str]:
    return {r["id"] for r in result.resources()}


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


# --------------------------------------------------------------------------- a real FHIR server

PATIENT_P1 = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Testpatiënt"}],
              "birthDate": "1950-02-03"}
PATIENT_P2 = {"resourceType": "Patient", "id": "p2", "name": [{"family": "Ander"}]}


@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory):
    with fhir_server(tmp_path_factory.mktemp("fhir"), token=TOKEN) as base_url:
        load_bundle(base_url, [PATIENT_P1, PATIENT_P2, *(cond(i) for i in range(5)),
                               *(obs(i) for i in range(7)), *(obs(f"p2-{i}", "p2") for i in range(3))],
                    token=TOKEN)
        yield base_url


@pytest.mark.e2e
def test_real_server_search_follows_every_page(fhir_base):
    result = FhirClient().search(fhir_base, "Observation?patient=p1&_count=2", token=TOKEN)
    assert result.ok and result.complete and result.error is None
    assert len(result.bundles) == 4  # 2 + 2 + 2 + 1
    assert result.resources_count == 7
    assert ids(result) == {f"obs-{i}" for i in range(7)}  # and none of patient p2


@pytest.mark.e2e
def test_real_server_page_limit_marks_incomplete(fhir_base):
    result = FhirClient(max_pages=2).search(fhir_base, "Condition?patient=p1&_count=2", token=TOKEN)
    assert result.ok and result.incomplete and not result.complete
    assert "page limit" in result.error
    assert result.resources_count == 4 and len(ids(result)) == 4


@pytest.mark.e2e
def test_real_server_read_patient(fhir_base):
    result = FhirClient().read(fhir_base, "Patient/p1", token=TOKEN)
    assert result.ok and result.status == 200
    assert result.resource["name"][0]["family"] == "Testpatiënt"
    missing = FhirClient().read(fhir_base, "Patient/nobody", token=TOKEN)
    assert not missing.ok and missing.status == 404 and missing.resource is None


@pytest.mark.e2e
def test_real_server_search_many_within_deadline(fhir_base):
    queries = {"conditions": "Condition?patient=p1", "observations": "Observation?patient=p2&_count=1",
               "patient": "Patient?_id=p1", "nothing": "MedicationRequest?patient=p1"}
    results = FhirClient().search_many(fhir_base, queries, TOKEN, time.monotonic() + 5)
    assert set(results) == set(queries)
    assert all(r.complete for r in results.values())
    assert ids(results["conditions"]) == {f"cond-{i}" for i in range(5)}
    assert ids(results["observations"]) == {"obs-p2-0", "obs-p2-1", "obs-p2-2"}
    assert len(results["observations"].bundles) == 3
    assert ids(results["patient"]) == {"p1"}
    assert results["nothing"].resources_count == 0


@pytest.mark.e2e
def test_real_server_without_token_is_refused_and_token_never_logged(fhir_base, caplog):
    caplog.set_level(logging.DEBUG)
    refused = FhirClient().search(fhir_base, "Condition?patient=p1", token=None)
    assert not refused.ok and refused.status == 401 and refused.error == "HTTP 401"
    wrong = FhirClient().read(fhir_base, "Patient/p1", token="not-the-token")
    assert not wrong.ok and wrong.status == 401
    assert FhirClient().search(fhir_base, "Condition?patient=p1", token=TOKEN).complete
    assert "spine_cds.fhir" in {r.name for r in caplog.records}
    assert TOKEN not in caplog.text and "not-the-token" not in caplog.text


# --------------------------------------------------------------------------- HTTP answers (mocked)

def test_bearer_token_and_fhir_accept_header_are_sent(mock):
    mock.get(f"{BASE}/Observation", json=bundle([obs(1)]))
    assert FhirClient().search(BASE, "Observation?patient=123", token=TOKEN).complete
    assert FhirClient().search(BASE, "Observation?patient=123", token=None).complete
    with_token, without = mock.calls[0].request, mock.calls[1].request
    assert with_token.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in without.headers
    assert with_token.headers["Accept"] == "application/fhir+json"
    assert with_token.headers["User-Agent"] == "spine-cds/0.1"


def test_token_never_in_logs_even_on_failures(mock, caplog):
    caplog.set_level(logging.DEBUG)
    mock.get(f"{BASE}/Observation", status=500, json=outcome(f"token {TOKEN} rejected"))
    mock.get(f"{BASE}/Patient/123", status=401, json=outcome(f"bad token {TOKEN}"))
    client = FhirClient()
    results = [client.search(BASE, "Observation?patient=123", token=TOKEN),
               client.read(BASE, "Patient/123", token=TOKEN),
               client.search(BASE, "Observation?patient=123", token="bad\r\nX-Injected: 1")]
    assert not any(r.ok for r in results)
    assert results[2].error == "invalid token format" and len(mock.calls) == 2
    assert caplog.records and TOKEN not in caplog.text and "bad\r\n" not in caplog.text
    assert all(TOKEN not in (r.error or "") for r in results)


def test_logs_name_host_type_status_but_no_patient_identifier(mock, caplog):
    caplog.set_level(logging.INFO, logger="spine_cds.fhir")
    mock.get(f"{BASE}/Condition", json=bundle([cond(1)]))
    FhirClient().search(BASE, "Condition?patient=pat-7781", token=None)
    (record,) = [r for r in caplog.records if r.name == "spine_cds.fhir"]
    message = record.getMessage()
    assert "ehr.example.org" in message and "type=Condition" in message and "status=200" in message
    assert "duration_ms=" in message and "pat-7781" not in message


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_http_error_status_is_a_failure(mock, status):
    mock.get(f"{BASE}/Condition", status=status, json=outcome())
    result = FhirClient().search(BASE, "Condition?patient=1", token=None)
    assert not result.ok and result.status == status and result.error == f"HTTP {status}"
    assert result.bundles == [] and result.resources_count == 0


def test_redirect_is_not_followed(mock):
    mock.get(f"{BASE}/Condition", status=302, headers={"Location": "http://169.254.169.254/latest"})
    result = FhirClient().search(BASE, "Condition?patient=1", token=TOKEN)
    assert not result.ok and result.status == 302 and "redirect" in result.error
    assert len(mock.calls) == 1


@pytest.mark.parametrize("body,content_type,reason", [
    (b'{"resourceType": "Bundle", "type": "searchset", "entry": [', "application/fhir+json",
     "answer is not valid JSON"),
    (b"<html><body>Login</body></html>", "text/html", "answer is not JSON (content type)"),
    (b"[1, 2, 3]", "application/json", "answer is not a FHIR resource"),
    (b"", "application/fhir+json", "answer is not valid JSON"),
    (b"\xff\xfe\x00garbage", "application/fhir+json", "answer is not valid JSON"),
    (json.dumps(obs(1)).encode(), "application/fhir+json", "answer is not a searchset Bundle"),
    (json.dumps({"resourceType": "Bundle", "type": "transaction-response"}).encode(), "application/fhir+json",
     "answer is not a searchset Bundle"),
])
def test_unusable_answers_are_failures(mock, body, content_type, reason):
    mock.get(f"{BASE}/Observation", body=body, content_type=content_type)
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert not result.ok and result.error == reason and result.status == 200


def test_operation_outcome_answer_is_a_failure_without_its_diagnostics(mock):
    mock.get(f"{BASE}/Observation", json=outcome("Patient Jansen, BSN 123456782, is not known"))
    mock.get(f"{BASE}/Patient/1", json=outcome("no such patient", "processing"))
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert not result.ok and result.error == "OperationOutcome (error/not-found)"
    read = FhirClient().read(BASE, "Patient/1", token=None)
    assert not read.ok and read.error == "OperationOutcome (error/processing)"


def test_read_answer_must_be_the_requested_resource(mock):
    mock.get(f"{BASE}/Patient/1", json={"resourceType": "Patient", "id": "2"})
    mock.get(f"{BASE}/Patient/3", json={"resourceType": "Patient", "id": "3"})
    assert FhirClient().read(BASE, "Patient/1", token=None).error == "answer is not the requested resource"
    assert FhirClient().read(BASE, "Patient/3", token=None).resource == {"resourceType": "Patient", "id": "3"}


def test_gzip_answer_is_decoded(mock):
    body = gzip.compress(json.dumps(bundle([obs(1), obs(2)])).encode())
    mock.get(f"{BASE}/Observation", body=body, content_type="application/fhir+json",
             headers={"Content-Encoding": "gzip"})
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert result.complete and ids(result) == {"obs-1", "obs-2"}


@pytest.mark.parametrize("body,encoding,reason", [
    (json.dumps(bundle([obs(1)])).encode(), "br", "unsupported content encoding"),
    (gzip.compress(json.dumps(bundle([obs(1)])).encode())[:-12], "gzip", "truncated compressed answer"),
    (b"not gzip at all", "gzip", "invalid compressed answer"),
])
def test_bad_content_encoding_is_a_failure(mock, body, encoding, reason):
    mock.get(f"{BASE}/Observation", body=body, content_type="application/fhir+json",
             headers={"Content-Encoding": encoding})
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert not result.ok and result.error == reason


@pytest.mark.parametrize("page", [
    {"resourceType": "Bundle", "type": "searchset", "entry": "junk", "link": {"relation": "next"}},
    {"resourceType": "Bundle", "type": "searchset", "entry": [3, None, {"resource": "x"}], "link": [7]},
])
def test_malformed_bundle_parts_are_skipped_not_fatal(mock, page):
    mock.get(f"{BASE}/Observation", json=page)
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert result.complete and result.resources_count == 0


def test_gzip_bomb_stops_at_max_bytes(mock):
    body = gzip.compress(b" " * 20_000_000)  # about 20 kB that inflate to 20 MB
    mock.get(f"{BASE}/Observation", body=body, content_type="application/fhir+json",
             headers={"Content-Encoding": "gzip"})
    start = time.monotonic()
    result = FhirClient(max_bytes=1_000_000).search(BASE, "Observation?patient=1", token=None)
    assert not result.ok and result.error == "answer too large"
    assert time.monotonic() - start < 1.5


# --------------------------------------------------------------------------- next links

def test_next_link_loop_to_itself_stops(mock):
    url = f"{BASE}/Observation?patient=1"
    mock.get(url, json=bundle([obs(1)], next_url=url))
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert result.ok and result.incomplete and "loop" in result.error
    assert len(mock.calls) == 1 and result.resources_count == 1


def test_next_link_loop_over_two_pages_stops(mock):
    page1 = f"{BASE}/Observation?patient=1"
    page2 = f"{BASE}/Observation?patient=1&page=2"
    mock.get(page1, json=bundle([obs(1)], next_url=page2),
             match=[responses.matchers.query_string_matcher("patient=1")])
    mock.get(page2, json=bundle([obs(2)], next_url=page1.replace("https://ehr.example.org",
                                                                 "https://EHR.example.org:443")),
             match=[responses.matchers.query_string_matcher("patient=1&page=2")])
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert result.ok and result.incomplete and "loop" in result.error
    assert len(mock.calls) == 2 and ids(result) == {"obs-1", "obs-2"}


@pytest.mark.parametrize("next_url", [
    "https://evil.example.org/fhir/Observation?patient=1&page=2",
    "http://ehr.example.org/fhir/Observation?patient=1&page=2",       # https -> http downgrade
    "https://ehr.example.org:8443/fhir/Observation?patient=1&page=2",  # another port
    "https://user@evil.example.org/fhir/Observation?page=2",
    "//evil.example.org/fhir/Observation?page=2",
    "file:///etc/passwd",
])
def test_next_link_to_another_origin_is_not_followed(mock, next_url):
    mock.get(f"{BASE}/Observation", json=bundle([obs(1)], next_url=next_url))
    result = FhirClient().search(BASE, "Observation?patient=1", token=TOKEN)
    assert result.ok and result.incomplete and "origin" in result.error
    assert [c.request.url for c in mock.calls] == [f"{BASE}/Observation?patient=1"]


def test_relative_next_link_on_same_origin_is_followed(mock):
    mock.get(f"{BASE}/Observation", json=bundle([obs(1)], next_url="Observation?patient=1&page=2"),
             match=[responses.matchers.query_string_matcher("patient=1")])
    mock.get(f"{BASE}/Observation", json=bundle([obs(2)]),
             match=[responses.matchers.query_string_matcher("patient=1&page=2")])
    result = FhirClient().search(BASE, "Observation?patient=1", token=TOKEN)
    assert result.complete and ids(result) == {"obs-1", "obs-2"}
    assert mock.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_hapi_paging_link_at_the_base_is_followed(mock):
    # HAPI FHIR pages at the server's root, not below the resource type (hapifhir/hapi-fhir#2165)
    next_url = f"{BASE}?_getpages=5f1c-77aa&_getpagesoffset=1&_count=1&_bundletype=searchset"
    mock.get(f"{BASE}/Observation", json=bundle([obs(1)], next_url=next_url),
             match=[responses.matchers.query_string_matcher("patient=1")])
    mock.get(BASE, json=bundle([obs(2)]),
             match=[responses.matchers.query_string_matcher(
                 "_getpages=5f1c-77aa&_getpagesoffset=1&_count=1&_bundletype=searchset")])
    result = FhirClient().search(BASE, "Observation?patient=1", token=TOKEN)
    assert result.complete and ids(result) == {"obs-1", "obs-2"}
    assert len(mock.calls) == 2 and mock.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("next_url", [
    BASE,                                               # the base without a query is no page
    f"{BASE}?",                                         # nor with an empty one
    "https://ehr.example.org/?_getpages=5f1c",          # above the base path
    "https://ehr.example.org/fhirx?_getpages=5f1c",     # a sibling path sharing the prefix
])
def test_next_link_outside_the_base_path_is_not_followed(mock, next_url):
    mock.get(f"{BASE}/Observation", json=bundle([obs(1)], next_url=next_url))
    result = FhirClient().search(BASE, "Observation?patient=1", token=TOKEN)
    assert result.ok and result.incomplete and "base path" in result.error
    assert len(mock.calls) == 1


def test_failing_later_page_keeps_earlier_pages_but_marks_incomplete(mock):
    mock.get(f"{BASE}/Observation", json=bundle([obs(1)], next_url=f"{BASE}/Observation?page=2"),
             match=[responses.matchers.query_string_matcher("patient=1")])
    mock.get(f"{BASE}/Observation", status=500, json=outcome(),
             match=[responses.matchers.query_string_matcher("page=2")])
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert result.ok and result.incomplete and not result.complete
    assert result.error == "page 2: HTTP 500" and result.status == 500 and ids(result) == {"obs-1"}


def test_resource_limit_stops_paging(mock):
    mock.get(f"{BASE}/Observation", json=bundle([obs(1), obs(2), obs(3)], next_url=f"{BASE}/Observation?p=2"))
    result = FhirClient(max_resources=3).search(BASE, "Observation?patient=1", token=None)
    assert result.ok and result.incomplete and "resource limit" in result.error and len(mock.calls) == 1


def test_outcome_entries_are_not_counted_as_resources(mock):
    body = bundle([obs(1)])
    body["entry"].append({"resource": outcome("warning", "informational"), "search": {"mode": "outcome"}})
    mock.get(f"{BASE}/Observation", json=body)
    result = FhirClient().search(BASE, "Observation?patient=1", token=None)
    assert result.complete and result.resources_count == 1 and ids(result) == {"obs-1"}


# --------------------------------------------------------------------------- where requests may go

@pytest.mark.parametrize("query", [
    "https://evil.example.org/fhir/Patient?x=1",
    "//evil.example.org/Patient",
    "/Patient?x=1",
    "../Patient?x=1",
    "Patient/../../admin",
    "Patient/./1",
    "Patient/%2e%2e/%2e%2e/admin",
    "Patient/..%2f..%2fadmin",
    "Patient\\..\\admin",
    "@evil.example.org/Patient",
    "Patient@evil.example.org/x",
    "patient:evil.example.org/Patient",
    "Observation?patient=1#frag",
    "Observation?patient=1\r\nHost: evil.example.org",
    "Observation\x00?patient=1",
    "",
    "?_type=Patient",
])
def test_queries_escaping_the_base_url_are_refused(mock, query):
    result = FhirClient().search(BASE, query, token=TOKEN)
    assert not result.ok and result.error == "invalid query" and result.status is None
    assert len(mock.calls) == 0


@pytest.mark.parametrize("reference", ["Patient", "Patient/1/_history/2", "Patient/../1", "Patient/1?x=y",
                                       "https://evil.example.org/Patient/1", "/Patient/1", "Patient/"])
def test_read_refuses_anything_but_type_slash_id(mock, reference):
    result = FhirClient().read(BASE, reference, token=None)
    assert not result.ok and result.error in ("invalid query", "invalid resource reference")
    assert len(mock.calls) == 0


@pytest.mark.parametrize("base_url", ["ftp://ehr.example.org/fhir", "http://user:pw@ehr.example.org/fhir",
                                      "http:///fhir", "https://ehr.example.org/fhir?x=1",
                                      "https://ehr.example.org/fhir/../admin", "ehr.example.org/fhir",
                                      "https://ehr.example.org:99999/fhir"])
def test_invalid_base_urls_are_refused(mock, base_url):
    result = FhirClient().search(base_url, "Patient?_id=1", token=TOKEN)
    assert not result.ok and result.error == "invalid base URL" and len(mock.calls) == 0


@pytest.mark.parametrize("base_url", [BASE, f"{BASE}/"])
def test_query_values_stay_on_the_base_host(mock, base_url):
    mock.get(f"{BASE}/Observation", json=bundle([obs(1)]))
    query = "Observation?patient=1&code=http://loinc.org|8867-4&_include=Observation:subject"
    assert FhirClient().search(base_url, query, token=None).complete
    sent = mock.calls[0].request.url
    assert sent.startswith(f"{BASE}/Observation?patient=1&code=http")


# --------------------------------------------------------------------------- timing (raw sockets)

@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def make(handler):
        servers.append(RawServer(handler))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def headers(extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n{extra}\r\n".encode()


def drip(conn, server):
    server.send(conn, headers("Content-Length: 100000\r\n"))
    while not server.stop.wait(0.05):
        server.send(conn, b" ")


def huge_unannounced(conn, server):
    server.send(conn, headers("Connection: close\r\n") + b'{"resourceType":"Bundle","entry":[')
    chunk = b'{"resource":{"resourceType":"Observation"}},' * 1500
    while server.bytes_sent < 50_000_000 and not server.stop.is_set():
        server.send(conn, chunk)


def huge_announced(conn, server):
    server.send(conn, headers("Content-Length: 50000000\r\n") + b'{"resourceType":"Bundle"')
    server.stop.wait(10)


def late_headers_then_hang(conn, server):
    time.sleep(0.9)
    server.send(conn, headers("Content-Length: 1000\r\n") + b'{"resourceType":')
    server.stop.wait(10)


def slow_but_in_time(conn, server):
    time.sleep(0.2)
    body = json.dumps(bundle([obs(1)])).encode()
    server.send(conn, headers(f"Content-Length: {len(body)}\r\n") + body)


def test_hanging_server_is_bounded_by_the_shared_deadline(raw_server):
    server = raw_server(hang)
    client = FhirClient(read_timeout=5, total_budget=10)
    start = time.monotonic()
    result = client.search(server.base_url, "Observation?patient=1", token=None, deadline=start + 0.5)
    elapsed = time.monotonic() - start
    assert not result.ok and result.error == "read timeout"
    assert 0.4 <= elapsed < 1.5  # not the 5 s read timeout, nor the 10 s hang


def test_hanging_server_is_bounded_by_the_read_timeout(raw_server):
    server = raw_server(hang)
    start = time.monotonic()
    result = FhirClient(read_timeout=0.3, total_budget=10).read(server.base_url, "Patient/1", token=None)
    assert not result.ok and result.error == "read timeout"
    assert time.monotonic() - start < 1.2


def test_slow_drip_server_cannot_hold_past_the_budget(raw_server):
    server = raw_server(drip)
    start = time.monotonic()
    result = FhirClient(read_timeout=2, total_budget=0.6).search(server.base_url, "Observation?patient=1",
                                                                token=None)
    elapsed = time.monotonic() - start
    assert not result.ok and result.error in ("deadline exceeded while reading", "read timeout")
    assert server.bytes_sent > 0 and 0.5 <= elapsed < 1.5


def test_body_read_timeout_shrinks_with_the_remaining_budget(raw_server):
    # the socket timeout set when the request left (1.0 s) must not restart once the headers came
    server = raw_server(late_headers_then_hang)
    start = time.monotonic()
    result = FhirClient(read_timeout=3, total_budget=1.0).search(server.base_url, "Observation?patient=1",
                                                                token=None)
    assert not result.ok and result.error in ("read timeout", "deadline exceeded while reading")
    assert time.monotonic() - start < 1.45  # not 0.9 s + a fresh 1.0 s


def test_slow_server_within_budget_succeeds(raw_server):
    server = raw_server(slow_but_in_time)
    result = FhirClient(read_timeout=1, total_budget=2).search(server.base_url, "Observation?patient=1",
                                                              token=None)
    assert result.complete and ids(result) == {"obs-1"}


def test_fifty_megabyte_answer_stops_at_max_bytes(raw_server):
    server = raw_server(huge_unannounced)
    start = time.monotonic()
    result = FhirClient(max_bytes=1_000_000).search(server.base_url, "Observation?patient=1", token=None)
    assert not result.ok and result.error == "answer too large"
    assert time.monotonic() - start < 2.0
    assert server.done.wait(3)
    assert server.bytes_sent < 20_000_000  # we hung up long before the 50 MB were sent


def test_announced_fifty_megabytes_refused_before_reading(raw_server):
    server = raw_server(huge_announced)
    start = time.monotonic()
    result = FhirClient(max_bytes=10_000_000).search(server.base_url, "Observation?patient=1", token=None)
    assert not result.ok and result.error == "answer too large" and result.status == 200
    assert time.monotonic() - start < 0.5


def test_connection_refused_is_a_failure():
    result = FhirClient().search(f"http://127.0.0.1:{free_port()}/fhir", "Observation?patient=1", token=None)
    assert not result.ok and result.error == "connection refused" and result.status is None


def test_expired_deadline_sends_nothing(raw_server):
    server = raw_server(hang)
    result = FhirClient().search(server.base_url, "Observation?patient=1", token=None,
                                 deadline=time.monotonic() - 0.01)
    assert not result.ok and result.error == "deadline exceeded"
    time.sleep(0.1)
    assert server.connections == 0


def test_search_many_is_bounded_by_the_shared_deadline(raw_server):
    server = raw_server(hang)
    queries = {t: f"{t}?patient=1" for t in ("Condition", "Observation", "Procedure", "MedicationRequest",
                                              "AllergyIntolerance", "ServiceRequest")}
    start = time.monotonic()
    results = FhirClient(read_timeout=5, total_budget=10).search_many(server.base_url, queries, None,
                                                                      start + 0.5)
    elapsed = time.monotonic() - start
    assert set(results) == set(queries) and not any(r.ok for r in results.values())
    assert elapsed < 1.5  # not the 5 s read timeout
    assert server.connections <= 4  # at most four at once; the rest found the deadline gone


def test_search_many_returns_at_the_deadline_even_if_a_request_stalls():
    # e.g. a stalled DNS resolver, which no socket timeout bounds: the caller still gets answers
    release = threading.Event()

    class StallingAdapter(requests.adapters.HTTPAdapter):
        def send(self, *args, **kwargs):
            release.wait(5)
            raise requests.exceptions.ConnectionError("stalled")

    session = requests.Session()
    session.mount("https://", StallingAdapter())
    try:
        start = time.monotonic()
        results = FhirClient(session=session).search_many(BASE, {"c": "Condition?patient=1"}, None, start + 0.3)
        assert time.monotonic() - start < 0.8
        assert not results["c"].ok and results["c"].error == "deadline exceeded"
    finally:
        release.set()


def test_search_many_mixes_success_and_failure(mock):
    mock.get(f"{BASE}/Condition", json=bundle([cond(1)]))
    mock.get(f"{BASE}/Observation", status=500)
    results = FhirClient().search_many(BASE, {"c": "Condition?patient=1", "o": "Observation?patient=1",
                                              "bad": "//evil.example.org/x"}, TOKEN)
    assert results["c"].complete and ids(results["c"]) == {"cond-1"}
    assert results["o"].error == "HTTP 500" and results["bad"].error == "invalid query"
    assert FhirClient().search_many(BASE, {}, TOKEN) == {}


def test_a_search_that_raises_is_a_bug_and_raises_not_a_failed_search(monkeypatch):
    """A bug must be loud: an exception inside one of the concurrent searches or reads is raised to
    the caller (a 500 with an OperationOutcome), never turned into 'search failed' facts."""
    client = FhirClient(connect_timeout=0.5, read_timeout=0.5, total_budget=2.0)

    def broken(*args, **kwargs):
        raise RuntimeError("bug in the client")

    monkeypatch.setattr(client, "search", broken)
    monkeypatch.setattr(client, "read", broken)
    with pytest.raises(RuntimeError, match="bug in the client"):
        client.search_many("http://127.0.0.1:9/fhir", {"a": "Condition?patient=p1"}, token=None)
    with pytest.raises(RuntimeError, match="bug in the client"):
        client.read_many("http://127.0.0.1:9/fhir", {"a": "Medication/m1"}, token=None)
