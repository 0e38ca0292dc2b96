"""Card links to the capture app on a real ``spine-cds serve`` process (gunicorn, the bounded
worker): the app keeps the hook body only when its size is declared, so the server's own
limits still hold (a chunked body is read by the hook's bounded reader; a body that stops
arriving gets the same 4xx OperationOutcome as without the app, never a 500)."""
from __future__ import annotations

import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from cds_service import samples
from cds_service.services import BY_ID
from tests.support.service_process import spine_cds_process

pytestmark = pytest.mark.e2e

SERVICE = "spine-metastases-diagnosis"
OPEN_SERVER = "http://127.0.0.1:9/fhir"  # on the open list; never contacted (the request carries prefetch)
READ_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    env = {"SPINE_CDS_AUTH": "off", "SPINE_CDS_LANGUAGE": "en", "SPINE_CDS_APP_SECRET": "server-test-secret-capture",
           "SPINE_CDS_APP_OPEN_SERVERS": OPEN_SERVER, "SPINE_CDS_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT)}
    with spine_cds_process(tmp_path_factory.mktemp("capture-serve"), workers=1, env=env) as base:
        yield base


def body() -> dict:
    sample = samples.get_sample("missing-neurology")
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": OPEN_SERVER,
            "context": {"userId": "Practitioner/1", "patientId": sample.patient_id},
            "prefetch": samples.prefetch(sample.id, BY_ID[SERVICE].prefetch_keys)}


def links(cards: list[dict]) -> list[dict]:
    found = [ln for c in cards for ln in c["links"] if "/app/" in ln["url"]]
    assert found, "a card with missing data links to the capture app"
    return found


def test_a_declared_body_gets_the_smart_and_the_open_link(service):
    r = requests.post(f"{service}/cds-services/{SERVICE}", json=body(), timeout=20)
    assert r.status_code == 200, r.text
    kinds = {ln["type"] for ln in links(r.json()["cards"])}
    assert kinds == {"smart", "absolute"}


def test_a_chunked_body_is_read_by_the_hook_and_gets_the_smart_link(service):
    raw = json.dumps(body()).encode()
    r = requests.post(f"{service}/cds-services/{SERVICE}", data=(raw[i:i + 1000] for i in range(0, len(raw), 1000)),
                      headers={"Content-Type": "application/json"}, timeout=20)
    assert r.status_code == 200, r.text
    assert {ln["type"] for ln in links(r.json()["cards"])} == {"smart"}  # no server or user known: no open link


def test_a_body_that_stops_arriving_is_refused_as_without_the_app(service):
    parts = urlsplit(service)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    try:
        sock.sendall(f"POST /cds-services/{SERVICE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 5000\r\n\r\n{\"hook\": ".encode())
        t0 = time.monotonic()
        answer = b""
        while not answer.endswith(b"}") and time.monotonic() - t0 < 10:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    finally:
        sock.close()
    # werkzeug reads the short body as a client that went away: 400, as the service answers
    # without the app (the hook's own reader calls the same get_data for a declared size)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith((b"HTTP/1.1 400", b"HTTP/1.1 408")), head[:200]
    assert json.loads(payload)["resourceType"] == "OperationOutcome"
