"""Start a real ``spine-cds serve`` (gunicorn) process on loopback for end-to-end tests."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .fhir_server import free_port


@contextmanager
def spine_cds_process(workdir: Path, *, command: str = "serve", env: dict[str, str] | None = None,
                      workers: int = 2, timeout: float = 30.0) -> Iterator[str]:
    """Yields the base URL of a running service; stops it afterwards. ``{base}`` in a value
    of ``env`` stands for that URL (e.g. ``SPINE_CDS_BASE_URL``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_CDS_")}
    full_env.update({"SPINE_CDS_DATA_DIR": str(workdir), "SPINE_CDS_LOG_LEVEL": "INFO"})
    full_env.update({k: v.replace("{base}", base) for k, v in (env or {}).items()})
    log_path = workdir / f"spine-cds-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cds_service.cli", command, "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", str(workers)],
                                env=full_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"spine-cds exited early:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"spine-cds did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def read_log(workdir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(workdir.glob("spine-cds-*.log")))
