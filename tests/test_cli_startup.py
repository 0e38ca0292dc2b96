"""Start-up as a stranger meets it: the demo's address is printed, and its root leads to the demo."""
from __future__ import annotations

import pytest

from cds_service import cli

from .conftest import make_app


@pytest.mark.parametrize("command,expected", [
    ("demo", "spine-cds: demo at http://127.0.0.1:8080/demo/"),
    ("serve", "spine-cds: serving on http://127.0.0.1:8080 (discovery at http://127.0.0.1:8080/cds-services)"),
])
def test_start_up_says_where_the_service_is(command, expected, monkeypatch, tmp_path, capsys):
    started = []
    monkeypatch.setattr(cli, "_gunicorn", lambda host, port, workers: started.append((host, port)) or 0)
    monkeypatch.setenv("SPINE_CDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPINE_CDS_AUTH", "off")
    assert cli.main([command]) == 0
    assert started == [("127.0.0.1" if command == "demo" else "0.0.0.0", 8080)]
    assert expected in capsys.readouterr().err


def test_demo_root_leads_to_the_demo_page(tmp_path):
    client = make_app(tmp_path, DEMO=True).test_client()
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/demo/")
    assert client.get("/demo/").status_code == 200


def test_root_is_not_found_outside_demo_mode(tmp_path):
    assert make_app(tmp_path).test_client().get("/").status_code == 404
