"""Demo-mode exposure (issue 19, item 12). The demo runs without authentication and with
CORS ``*``, so any web page its user opens can post hook calls to it:

- ``fhirServer`` made the demo fetch any loopback or intranet address the page chose;
  now only the demo's own ``/demo/fhir`` and SPINE_CDS_DEMO_FHIR_SERVERS are fetched
  (400 with full prefetch, 412 when data would be needed, and the address is never
  contacted);
- any Host header was answered, so a page that rebinds its own DNS name to 127.0.0.1
  could read the demo (DNS rebinding); now only loopback Host names are answered, others
  get 421 Misdirected Request with an OperationOutcome.

Against the real ``spine-cds demo`` (gunicorn) on loopback, since both live in the server
path (Host handling, the fetch), plus fast in-process checks of the same rules."""
from __future__ import annotations

import base64
import http.server
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_service import samples
from cds_service.config import ConfigError, read_settings
from cds_service.services import BY_ID

from .conftest import make_app
from .support.service_process import spine_cds_process

SAMPLE = "mescc-12h"
SERVICE = "spine-metastases-diagnosis"


class _Recorder:
    """An 'intranet' HTTP server on loopback that records every request it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                recorder.paths.append(self.path)
                body = b'{"resourceType": "Bundle", "type": "searchset", "entry": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def hook_body(*, prefetch: bool, fhir_server: Any = None) -> dict[str, Any]:
    service = BY_ID[SERVICE]
    sample = next(s for s in samples.list_samples() if s.id == SAMPLE)
    body: dict[str, Any] = {"hook": service.hook, "hookInstance": str(uuid.uuid4()),
                            "context": {"userId": "Practitioner/1", "patientId": sample.patient_id}}
    if prefetch:
        body["prefetch"] = samples.prefetch(sample.id, service.prefetch_keys)
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    return body


# --------------------------------------------------------------------------- the real server

@pytest.fixture(scope="module")
def intranet() -> Iterator[_Recorder]:
    with _Recorder() as rec:
        yield rec


@pytest.fixture(scope="module")
def listed() -> Iterator[_Recorder]:
    with _Recorder() as rec:
        yield rec


@pytest.fixture(scope="module")
def demo(tmp_path_factory: Any, listed: _Recorder) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("demo")
    with spine_cds_process(work, command="demo", workers=1, env={
            "SPINE_CDS_LANGUAGE": "en", "SPINE_CDS_DEMO_FHIR_SERVERS": listed.base + "/fhir"}) as base:
        yield base


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/cds-services", "/demo/", "/demo/fhir/metadata", "/demo/api/samples",
                                  "/healthz", "/app/"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}",
                                  "192.168.1.5:{port}", "localhost.evil.example"])
def test_a_foreign_host_header_is_421(demo: str, path: str, host: str) -> None:
    port = demo.rsplit(":", 1)[1]
    r = requests.get(demo + path, headers={"Host": host.format(port=port)}, timeout=10)
    assert r.status_code == 421, (path, host, r.status_code)
    out = r.json()
    assert out["resourceType"] == "OperationOutcome" and "localhost" in out["issue"][0]["diagnostics"]


@pytest.mark.e2e
def test_a_foreign_host_header_is_421_on_a_preflight_and_a_hook_call(demo: str) -> None:
    url = f"{demo}/cds-services/{SERVICE}"
    r = requests.options(url, headers={"Host": "rebound.example", "Origin": "http://rebound.example",
                                       "Access-Control-Request-Method": "POST"}, timeout=10)
    assert r.status_code == 421 and "Access-Control-Allow-Origin" not in r.headers
    r = requests.post(url, json=hook_body(prefetch=True), headers={"Host": "rebound.example"}, timeout=10)
    assert r.status_code == 421


@pytest.mark.e2e
@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LOCALHOST:{port}", "[::1]:{port}",
                                  "localhost"])
def test_loopback_host_headers_are_answered(demo: str, host: str) -> None:
    port = demo.rsplit(":", 1)[1]
    r = requests.get(demo + "/cds-services", headers={"Host": host.format(port=port)}, timeout=10)
    assert r.status_code == 200


@pytest.mark.e2e
def test_fhir_server_on_a_loopback_or_intranet_address_is_never_contacted(demo: str, intranet: _Recorder) -> None:
    url = f"{demo}/cds-services/{SERVICE}"
    for fhir in (intranet.base, intranet.base + "/fhir", demo.replace("127.0.0.1", "localhost") + "/other/fhir",
                 "http://10.0.0.1/fhir", "http://169.254.169.254/latest"):
        r = requests.post(url, json=hook_body(prefetch=False, fhir_server=fhir), timeout=10)
        assert r.status_code == 412, (fhir, r.text)
        assert r.json()["issue"][0]["expression"] == ["$.fhirServer"]
        r = requests.post(url, json=hook_body(prefetch=True, fhir_server=fhir), timeout=10)
        assert r.status_code == 400, (fhir, r.text)
    assert intranet.paths == []


@pytest.mark.e2e
def test_the_demos_own_fhir_endpoint_is_used(demo: str) -> None:
    url = f"{demo}/cds-services/{SERVICE}"
    r = requests.post(url, json=hook_body(prefetch=False, fhir_server=demo + "/demo/fhir"), timeout=20)
    assert r.status_code == 200, r.text
    assert r.json()["cards"]
    # ... under the name the page itself uses (window.location.origin)
    local = demo.replace("127.0.0.1", "localhost")
    r = requests.post(url, json=hook_body(prefetch=False, fhir_server=local + "/demo/fhir"), timeout=20,
                      headers={"Host": local.removeprefix("http://")})
    assert r.status_code == 200, r.text


@pytest.mark.e2e
def test_a_server_named_in_the_setting_is_fetched(demo: str, listed: _Recorder) -> None:
    url = f"{demo}/cds-services/{SERVICE}"
    r = requests.post(url, json=hook_body(prefetch=False, fhir_server=listed.base + "/fhir"), timeout=20)
    assert r.status_code == 200, r.text
    assert listed.paths and all(p.startswith("/fhir/") for p in listed.paths)
    before = len(listed.paths)
    r = requests.post(url, json=hook_body(prefetch=False, fhir_server=listed.base + "/other"), timeout=20)
    assert r.status_code == 412 and len(listed.paths) == before


# --------------------------------------------------------------------------- in process (fast)

@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example:80", "127.0.0.2.example", "0.0.0.0",
                                  "localhost:notaport"])
def test_demo_in_process_refuses_a_foreign_host(tmp_path: Path, host: str) -> None:
    client = make_app(tmp_path, DEMO=True).test_client()
    r = client.get("/cds-services", headers={"Host": host})
    assert r.status_code == 421 and r.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/cds-services").status_code == 200  # Host: localhost


def test_outside_demo_mode_any_host_is_answered(tmp_path: Path) -> None:
    assert make_app(tmp_path).test_client().get("/cds-services", headers={"Host": "cds.example.org"}) \
        .status_code == 200


def test_demo_in_process_refuses_a_foreign_fhir_server(tmp_path: Path) -> None:
    client = make_app(tmp_path, DEMO=True).test_client()
    url = f"/cds-services/{SERVICE}"
    for fhir in ("http://127.0.0.1:1/fhir", "http://localhost/demo/fhir/../../admin", "http://localhost/demo",
                 "http://localhost/demo/fhir?x=1", "http://localhost:81/demo/fhir"):
        assert client.post(url, json=hook_body(prefetch=True, fhir_server=fhir)).status_code == 400, fhir
    assert client.post(url, json=hook_body(prefetch=True, fhir_server="http://localhost/demo/fhir")) \
        .status_code == 200


@pytest.mark.parametrize("value", ["ftp://x/fhir", "http://h/fhir?x=1", "http://h/a/../b", "http://u@h/fhir"])
def test_a_bad_demo_fhir_server_stops_start_up(value: str) -> None:
    with pytest.raises(ConfigError, match="SPINE_CDS_DEMO_FHIR_SERVERS"):
        read_settings({"SPINE_CDS_DEMO": "1", "SPINE_CDS_DEMO_FHIR_SERVERS": value})


def test_demo_fhir_servers_are_normalised() -> None:
    s = read_settings({"SPINE_CDS_DEMO": "1", "SPINE_CDS_DEMO_FHIR_SERVERS": "HTTP://H:80/fhir/, https://x/r4"})
    assert s.values["DEMO_FHIR_SERVERS"] == ["http://h/fhir", "https://x/r4"]




@pytest.mark.e2e
def test_the_capture_app_opens_in_demo_mode_on_the_demos_own_fhir_endpoint(demo: str, intranet: _Recorder) -> None:
    """Issue 18: in demo mode the app's open mode is allowed for the demo's own FHIR endpoint
    (no SPINE_CDS_APP_OPEN_SERVERS set): a card with missing data links to it, and the page reads
    the record from there; a link naming another server is refused and that server never contacted."""
    r = requests.post(f"{demo}/cds-services/spine-metastases-treatment",
                      json=hook_body(prefetch=False, fhir_server=demo + "/demo/fhir"), timeout=20)
    assert r.status_code == 200, r.text
    links = [ln for card in r.json()["cards"] for ln in card.get("links", [])
             if ln["type"] == "absolute" and "/app/" in ln["url"]]
    assert links, "a card with missing data links to the capture app in open mode"
    page = requests.get(links[0]["url"], timeout=20, headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text[:500]
    assert 'id="criteria"' in page.text and '<input type="radio"' in page.text, page.text[:2000]
    # the server is inside the signed context: the demo's own endpoint; swapped for another
    # server the context no longer verifies, and that server is never contacted
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(links[0]["url"]).query)["appContext"][0]
    version, payload, signature = token.split(".")
    context = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert context["s"] == demo + "/demo/fhir"
    context["s"] = intranet.base + "/fhir"
    forged = base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("=")
    foreign = links[0]["url"].replace(token, f"{version}.{forged}.{signature}")
    refused = requests.get(foreign, timeout=20, headers={"Accept-Language": "en"})
    assert refused.status_code in (400, 403), refused.status_code
    assert intranet.paths == []
