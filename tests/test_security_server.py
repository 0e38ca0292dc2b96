"""Attacks on the running server (issue 19): each against ``spine-cds serve`` (gunicorn)
on loopback, since the defects live in the server path.

- item 2: with authentication on, the service does not start without
  SPINE_CDS_BASE_URL; forwarded headers count only from SPINE_CDS_TRUSTED_PROXIES;
- item 7: an unlisted fhirServer is a 400 even with every prefetch key given;
- item 3: a client that trickles its headers is dropped at the read deadline, and
  ``/healthz`` answers while such clients hold every thread; after a refusal the
  unread body is not drained (the connection closes);
- item 8: lone surrogates anywhere in a request are a 400 OperationOutcome;
- item 10: an oversized chunked body is a 413;
- item 11: a huge field adds no more than a bounded line to the log.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .support.hook_requests import THREADS, hook_body
from .support.jwt_tokens import bearer, sandbox_token, sandbox_trust_doc
from .support.service_process import read_log, spine_cds_process

pytestmark = pytest.mark.e2e

READ_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def open_service(tmp_path_factory: Any) -> Iterator[tuple[str, Path]]:
    """Authentication off (as in the demo and tests), one worker of four threads, 1.5 s to send a request."""
    work = tmp_path_factory.mktemp("open")
    with spine_cds_process(work, workers=1, env={
            "SPINE_CDS_AUTH": "off", "SPINE_CDS_LANGUAGE": "en", "SPINE_CDS_THREADS": str(THREADS),
            "SPINE_CDS_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT)}) as base:
        yield base, work


ALLOWED_FHIR = "http://127.0.0.1:9/fhir"


@pytest.fixture(scope="module")
def auth_service(tmp_path_factory: Any) -> Iterator[str]:
    """Authentication on, the CDS Hooks Sandbox trusted with one allowed FHIR server."""
    work = tmp_path_factory.mktemp("auth")
    trust = work / "trust.json"
    trust.write_text(json.dumps(sandbox_trust_doc(fhir_servers=[ALLOWED_FHIR])))
    with spine_cds_process(work, workers=1, env={
            "SPINE_CDS_AUTH": "required", "SPINE_CDS_TRUST": str(trust), "SPINE_CDS_BASE_URL": "{base}",
            "SPINE_CDS_LANGUAGE": "en"}) as base:
        yield base


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


# --------------------------------------------------------------------------- item 2

def test_authentication_on_without_base_url_does_not_start(tmp_path: Path) -> None:
    """Without SPINE_CDS_BASE_URL the ``aud`` check used the request's own Host: a token
    minted for another service of the same issuer was accepted by sending that Host."""
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"issuers": []}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_CDS_")}
    env.update(SPINE_CDS_AUTH="required", SPINE_CDS_TRUST=str(trust), SPINE_CDS_DATA_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "cds_service.cli", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "SPINE_CDS_BASE_URL is required" in proc.stderr


def test_token_for_another_service_is_refused_even_with_its_host(auth_service: str) -> None:
    other = "http://other-cds.example.org/cds-services/spine-metastases-diagnosis"
    r = requests.post(auth_service + "/cds-services/spine-metastases-diagnosis", json=hook_body(), timeout=10,
                      headers={"Authorization": bearer(sandbox_token(other)), "Host": "other-cds.example.org"})
    assert r.status_code == 401
    url = auth_service + "/cds-services/spine-metastases-diagnosis"
    r = requests.post(url, json=hook_body(), headers={"Authorization": bearer(sandbox_token(url))}, timeout=10)
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- item 7

@pytest.mark.parametrize("fhir_server", ["http://127.0.0.1:1/other", "http://127.0.0.1:9/fhir-other",
                                         "http://127.0.0.1:9/fhir/../admin", 7])
def test_unlisted_fhir_server_with_full_prefetch_is_a_400(auth_service: str, fhir_server: Any) -> None:
    """The contract: any fhirServer the issuer does not list is a 400, even when nothing is fetched."""
    url = auth_service + "/cds-services/spine-metastases-diagnosis"
    body = hook_body()
    body["fhirServer"] = fhir_server
    r = requests.post(url, json=body, headers={"Authorization": bearer(sandbox_token(url))}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["issue"][0]["expression"] == ["$.fhirServer"]


def test_listed_fhir_server_with_full_prefetch_is_answered(auth_service: str) -> None:
    url = auth_service + "/cds-services/spine-metastases-diagnosis"
    body = hook_body()
    body["fhirServer"] = ALLOWED_FHIR
    r = requests.post(url, json=body, headers={"Authorization": bearer(sandbox_token(url))}, timeout=10)
    assert r.status_code == 200, r.text


def _source_url(base: str, **headers: str) -> str:
    r = requests.post(base + "/cds-services/spine-metastases-diagnosis", json=hook_body(), headers=headers,
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["cards"][0]["source"]["url"]


def test_forwarded_proto_from_an_untrusted_address_is_ignored(open_service: tuple[str, Path]) -> None:
    """gunicorn believed X-Forwarded-Proto from loopback by default; nothing is trusted unless configured."""
    base, _ = open_service
    assert _source_url(base, **{"X-Forwarded-Proto": "https"}).startswith(base + "/")


def test_forwarded_proto_from_a_configured_proxy_counts(tmp_path: Path) -> None:
    with spine_cds_process(tmp_path, workers=1, env={"SPINE_CDS_AUTH": "off",
                                                     "SPINE_CDS_TRUSTED_PROXIES": "127.0.0.1"}) as base:
        assert _source_url(base, **{"X-Forwarded-Proto": "https"}).startswith("https://127.0.0.1:")


# --------------------------------------------------------------------------- item 3

def _trickle_headers(base: str, stop: threading.Event, closed_after: list[float]) -> None:
    """Send a request head one header line every 0.3 s until the server closes or ``stop``."""
    t0 = time.monotonic()
    try:
        sock = _connect(base)
    except OSError:
        return
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        i = 0
        while not stop.is_set():
            sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
            i += 1
            stop.wait(0.3)
    except OSError:  # the server closed the connection
        closed_after.append(time.monotonic() - t0)
    finally:
        sock.close()


def test_a_client_trickling_its_headers_is_dropped_at_the_read_deadline(open_service: tuple[str, Path]) -> None:
    base, _ = open_service
    stop, closed = threading.Event(), []
    t = threading.Thread(target=_trickle_headers, args=(base, stop, closed))
    t.start()
    t.join(timeout=READ_TIMEOUT + 6)
    stop.set()
    t.join(timeout=5)
    assert closed, "the server kept reading the trickled headers past the deadline"
    assert closed[0] < READ_TIMEOUT + 3


def test_healthz_answers_while_slow_clients_hold_every_thread(open_service: tuple[str, Path]) -> None:
    """Issue 19: 128 connections sending one header line a second kept /healthz from answering.
    Here twice as many slow clients as the worker has threads; /healthz must answer once the
    read deadline has freed the threads (it queues behind the clients already taken)."""
    base, _ = open_service
    stop, closed = threading.Event(), []
    clients = [threading.Thread(target=_trickle_headers, args=(base, stop, closed)) for _ in range(2 * THREADS)]
    for c in clients:
        c.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    try:
        r = requests.get(base + "/healthz", timeout=2 * READ_TIMEOUT + 4)
        waited = time.monotonic() - t0
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=5)
    assert r.status_code == 200
    assert waited < 2 * READ_TIMEOUT + 3, waited


def test_after_a_refusal_the_unread_body_is_not_drained(open_service: tuple[str, Path]) -> None:
    """Issue 19: clients trickling a body after their refusal kept a thread each, because the
    worker drained every unread body (up to 5 s) to keep the connection alive."""
    base, _ = open_service
    sock = _connect(base)
    try:
        sock.sendall(b"POST /cds-services/no-such-service HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{")
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 404")
        t0 = time.monotonic()
        closed = None
        while time.monotonic() - t0 < 8:
            try:
                sock.sendall(b" ")
                sock.settimeout(0.2)
                data = sock.recv(65536)
                if data == b"" or b"" == data:
                    closed = time.monotonic() - t0
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = time.monotonic() - t0
                break
        assert closed is not None and closed < 1.0, closed
    finally:
        sock.close()


# --------------------------------------------------------------------------- item 8

def _with_surrogate(where: str) -> tuple[dict[str, Any], str]:
    body = hook_body("spine-order-select" if where == "note" else "spine-metastases-diagnosis")
    marker = "SURROGATE-HERE"
    if where == "patientId":
        body["context"]["patientId"] = marker
        del body["prefetch"]  # the FHIR fallback path
        body["fhirServer"] = "http://127.0.0.1:9/fhir"
    elif where == "recordedDate":
        body["prefetch"]["conditions"]["entry"][0]["resource"]["recordedDate"] = marker
    elif where == "effectiveDateTime":
        body["prefetch"]["diagnosticReports"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "DiagnosticReport", "id": "r", "status": "final",
                          "code": {"text": "x"}, "effectiveDateTime": marker}}]}
    elif where == "note":
        order = {"resourceType": "ServiceRequest", "id": "o1", "status": "draft", "intent": "order",
                 "code": {"text": "MRI"}, "note": [{"text": marker}]}
        body["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
        body["context"]["selections"] = ["ServiceRequest/o1"]
    elif where == "hookInstance":
        body["hookInstance"] = marker
    return body, marker


@pytest.mark.parametrize("where", ["recordedDate", "note", "effectiveDateTime", "patientId", "hookInstance"])
def test_lone_surrogate_in_a_hook_call_is_a_400(open_service: tuple[str, Path], where: str) -> None:
    base, _ = open_service
    body, marker = _with_surrogate(where)
    raw = json.dumps(body).replace(marker, "\\ud800").encode()
    service = "spine-order-select" if where == "note" else "spine-metastases-diagnosis"
    r = requests.post(f"{base}/cds-services/{service}", data=raw, headers={"Content-Type": "application/json"},
                      timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


def test_lone_surrogate_in_feedback_is_a_400(open_service: tuple[str, Path]) -> None:
    base, _ = open_service
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z",
            "overrideReason": {"reason": {"system": "https://spine-cds.org/fhir/CodeSystem/override-reason",
                                          "code": "not-applicable"}, "userComment": "SURROGATE-HERE"}}
    raw = json.dumps({"feedback": [item]}).replace("SURROGATE-HERE", "\\ud800")
    r = requests.post(f"{base}/cds-services/spine-metastases-diagnosis/feedback", data=raw.encode(),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


# --------------------------------------------------------------------------- item 10

def test_oversized_chunked_body_is_a_413(open_service: tuple[str, Path]) -> None:
    base, _ = open_service

    def chunks() -> Iterator[bytes]:
        yield b'{"hook": "patient-view", "pad": "'
        for _ in range(60):
            yield b"x" * 100_000
        yield b'"}'

    r = requests.post(f"{base}/cds-services/spine-metastases-diagnosis", data=chunks(),
                      headers={"Content-Type": "application/json"}, timeout=20)
    assert r.status_code == 413, r.text
    assert r.json()["issue"][0]["code"] == "too-costly"


def test_chunked_body_within_the_limit_is_read(open_service: tuple[str, Path]) -> None:
    base, _ = open_service
    raw = json.dumps(hook_body()).encode()
    r = requests.post(f"{base}/cds-services/spine-metastases-diagnosis",
                      data=(raw[i:i + 1000] for i in range(0, len(raw), 1000)),
                      headers={"Content-Type": "application/json"}, timeout=20)
    assert r.status_code == 200, r.text
    assert r.json()["cards"]


# --------------------------------------------------------------------------- item 11

def test_a_huge_field_adds_a_bounded_line_to_the_log(open_service: tuple[str, Path]) -> None:
    base, work = open_service
    before = len(read_log(work))
    body = hook_body()
    body["hook"] = "h" * 1_000_000
    body["hookInstance"] = "i" * 1_000_000
    r = requests.post(f"{base}/cds-services/spine-metastases-diagnosis", json=body,
                      headers={"X-Request-ID": "r" * 5000}, timeout=20)
    assert r.status_code == 400
    time.sleep(0.5)
    grown = len(read_log(work)) - before
    assert 0 < grown < 4000, grown
