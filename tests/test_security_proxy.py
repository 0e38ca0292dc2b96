"""The deployment example (docs/deployment/): nginx, with the repository's own proxy
configuration, in front of ``spine-cds serve``. Slow clients (headers or a body sent
a byte at a time) wait in nginx, so ``/healthz`` answers at once even when there are
many more of them than gunicorn has threads (issue 19, item 3)."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .support.fhir_server import free_port
from .support.hook_requests import THREADS, hook_body
from .support.service_process import spine_cds_process

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]  # the first run may install nginx
ROOT = Path(__file__).resolve().parents[1]
SNIPPET = ROOT / "docs" / "deployment" / "spine-cds-proxy.conf"
SCRIPT = ROOT / "scripts" / "nginx-for-tests.sh"


def _nginx_binary() -> str:
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=500)
    if out.returncode != 0:
        pytest.fail(f"nginx could not be had: {out.stderr.strip()[-300:]}")
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: Any) -> Iterator[str]:
    nginx = _nginx_binary()
    work = tmp_path_factory.mktemp("proxy")
    # gunicorn's own read deadline set long, so what is measured is the proxy's protection
    with spine_cds_process(work / "svc", workers=1, env={
            "SPINE_CDS_AUTH": "off", "SPINE_CDS_THREADS": str(THREADS), "SPINE_CDS_TRUSTED_PROXIES": "127.0.0.1",
            "SPINE_CDS_REQUEST_READ_TIMEOUT": "60"}) as upstream:
        port = free_port()
        temp = work / "nginx"
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (temp / d).mkdir(parents=True)
        os.chmod(temp, 0o777)
        for d in temp.iterdir():
            os.chmod(d, 0o777)
        conf = temp / "nginx.conf"
        conf.write_text(f"""
daemon off;
pid {temp}/nginx.pid;
error_log {temp}/error.log warn;
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    upstream spine_cds {{ server {upstream.removeprefix("http://")}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        include {SNIPPET};
    }}
}}
""")
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(temp)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"nginx exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
                try:
                    if requests.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not come up")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _slow_client(base: str, stop: threading.Event, body: bool) -> None:
    host, port = base.removeprefix("http://").split(":")
    try:
        sock = socket.create_connection((host, int(port)), timeout=5)
    except OSError:
        return
    try:
        if body:
            sock.sendall(b"POST /cds-services/spine-metastases-diagnosis HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        else:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        i = 0
        while not stop.is_set():
            sock.sendall(b" " if body else f"X-Slow-{i}: 1\r\n".encode())
            i += 1
            stop.wait(0.5)
    except OSError:
        pass
    finally:
        sock.close()


def test_a_hook_call_through_the_proxy_is_answered(proxied: str) -> None:
    r = requests.post(proxied + "/cds-services/spine-metastases-diagnosis", json=hook_body(), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["cards"]


def test_slow_clients_wait_in_the_proxy_not_in_gunicorn(proxied: str) -> None:
    stop = threading.Event()
    clients = [threading.Thread(target=_slow_client, args=(proxied, stop, i % 2 == 0)) for i in range(8 * THREADS)]
    for c in clients:
        c.start()
    try:
        time.sleep(1.0)
        waits = []
        for _ in range(5):
            t0 = time.monotonic()
            assert requests.get(proxied + "/healthz", timeout=5).status_code == 200
            waits.append(time.monotonic() - t0)
        r = requests.post(proxied + "/cds-services/spine-metastases-diagnosis", json=hook_body(), timeout=5)
        assert r.status_code == 200
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=5)
    assert max(waits) < 1.0, waits
