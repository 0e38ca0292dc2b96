"""A real FHIR R4 server process on loopback for end-to-end tests.

It runs SEKMET (PyPI ``sekmet-fhir``, a FastAPI FHIR R4 server backed by
SQLite) under uvicorn in a child process, with a fresh store in a temporary
directory, on a free port of 127.0.0.1.  Its workflow simulator is off (it
would add resources on its own), the traffic log is off and authentication is
off unless a bearer ``token`` is asked for.

Use it from ``tests/conftest.py``::

    from tests.support.fhir_server import fhir_server, load_bundle

    @pytest.fixture(scope="session")
    def fhir_base(tmp_path_factory):
        with fhir_server(tmp_path_factory.mktemp("fhir")) as base_url:
            yield base_url

Start-up takes about 1.5 s.  Searches page with ``_count``/``_offset`` and
answer ``Bundle.link[next]`` with absolute URLs on the same base.
"""
from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

HOST = "127.0.0.1"


class FhirServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _settings(base_url: str, port: int, workdir: Path, token: str | None, validation: str) -> dict[str, Any]:
    auth: dict[str, Any] = {"types": ["bearer"], "tokens": [token]} if token else {"types": ["none"]}
    return {
        "base_url": base_url,
        "host": HOST,
        "port": port,
        "data_dir": str(workdir / "data"),
        "db_path": str(workdir / "data" / "sekmet.db"),
        "own_private_key_path": str(workdir / "keys" / "private.pem"),
        "server_auth": auth,
        "validation": {"inbound": validation},
        "simulator": {"enabled": False},
        "log_inbound": False,
        "peers": {},
    }


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _wait_ready(proc: subprocess.Popen, base_url: str, timeout: float, log_path: Path) -> None:
    until = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise FhirServerError(f"FHIR server exited with code {proc.returncode} during start-up; "
                                  f"log:\n{_tail(log_path)}")
        try:
            r = requests.get(f"{base_url}/metadata", timeout=1.0, headers={"Accept": "application/fhir+json"})
            if r.status_code == 200 and r.json().get("resourceType") == "CapabilityStatement":
                return
        except (requests.RequestException, ValueError):
            pass
        if time.monotonic() > until:
            _stop(proc)
            raise FhirServerError(f"FHIR server did not answer {base_url}/metadata within {timeout:.0f} s; "
                                  f"log:\n{_tail(log_path)}")
        time.sleep(0.05)


def start_fhir_server(tmp_path: Path | str, *, token: str | None = None, validation: str = "warn",
                      timeout: float = 20.0) -> tuple[str, Callable[[], None]]:
    """Start a FHIR server on a free loopback port; return (base_url, stop).

    ``token``: when given, the server accepts only ``Authorization: Bearer <token>``.
    ``validation``: SEKMET's inbound structural validation ("strict", "warn", "off").
    Raises FhirServerError (with the server's log) when it does not come up in ``timeout`` s.
    """
    workdir = Path(tmp_path)
    workdir.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port can be taken between choosing and binding it
        port = free_port()
        base_url = f"http://{HOST}:{port}/fhir"
        run_dir = workdir / f"sekmet-{port}"
        (run_dir / "data").mkdir(parents=True, exist_ok=True)
        config = run_dir / "settings.yaml"  # JSON is valid YAML
        config.write_text(json.dumps(_settings(base_url, port, run_dir, token, validation), indent=2))
        log_path = run_dir / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
        env["SEKMET_CONFIG"] = str(config)
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "sekmet.main:app_factory", "--factory",
                 "--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log"],
                cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        atexit.register(_stop, proc)
        try:
            _wait_ready(proc, base_url, timeout, log_path)
        except FhirServerError as e:
            last_error = e
            if "address already in use" in _tail(log_path).lower():
                continue
            raise

        def stop(proc: subprocess.Popen = proc) -> None:
            _stop(proc)

        return base_url, stop
    raise FhirServerError(f"could not start the FHIR server: {last_error}")


@contextmanager
def fhir_server(tmp_path: Path | str, **kwargs: Any) -> Iterator[str]:
    """Context manager around :func:`start_fhir_server`; yields the base URL."""
    base_url, stop = start_fhir_server(tmp_path, **kwargs)
    try:
        yield base_url
    finally:
        stop()


def as_transaction(resources: Iterable[dict]) -> dict:
    """A transaction Bundle that PUTs resources with an id and POSTs those without."""
    entries = []
    for res in resources:
        rtype = res["resourceType"]
        if res.get("id"):
            entries.append({"fullUrl": f"{rtype}/{res['id']}", "resource": res,
                            "request": {"method": "PUT", "url": f"{rtype}/{res['id']}"}})
        else:
            entries.append({"resource": res, "request": {"method": "POST", "url": rtype}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def load_bundle(base_url: str, bundle: dict | list[dict], *, token: str | None = None,
                timeout: float = 30.0) -> dict:
    """Load resources into the server; return the transaction-response Bundle.

    ``bundle``: a transaction/batch Bundle (sent as is), any other Bundle (its
    entries' resources are loaded), or a list of resources.  Raises
    FhirServerError when the server refuses the bundle or any entry.
    """
    if isinstance(bundle, list):
        bundle = as_transaction(bundle)
    elif bundle.get("type") not in ("transaction", "batch"):
        bundle = as_transaction(e["resource"] for e in bundle.get("entry", []) if "resource" in e)
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    r = requests.post(base_url, data=json.dumps(bundle), headers=headers, timeout=timeout)
    if r.status_code != 200:
        raise FhirServerError(f"loading the bundle failed: HTTP {r.status_code}: {r.text[:2000]}")
    answer = r.json()
    failed = [e.get("response", {}) for e in answer.get("entry", [])
              if not str(e.get("response", {}).get("status", "")).startswith("2")]
    if failed:
        raise FhirServerError(f"{len(failed)} bundle entries were refused: {json.dumps(failed)[:2000]}")
    return answer
