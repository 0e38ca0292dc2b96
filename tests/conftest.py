"""Shared fixtures: the Flask ``app`` and ``client`` (in the style of Flask's own
tests). Every response the test client receives from a CDS Hooks endpoint is
checked against the project's schemas, so no test can pass on a response an
EHR would reject."""
from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.schemas import errors as schema_errors

from .support.sample_cards import sample_cards

#: test-infrastructure variables (which PostgreSQL port/data directory the suite's own
#: server uses), not service settings: kept so parallel checkouts do not collide
_INFRA_VARIABLES = {"SPINE_CDS_PGPORT", "SPINE_CDS_PGDATA", "SPINE_CDS_UPDATE_DOCS_SCREENSHOT"}


@pytest.fixture(autouse=True)
def _no_service_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from the defaults: a SPINE_CDS_* variable exported in the shell
    (or left by another test) must not change what a test sees. Tests that need one
    set it themselves (monkeypatch.setenv, or the settings passed to make_app)."""
    for name in list(os.environ):
        if name.startswith("SPINE_CDS_") and name not in _INFRA_VARIABLES:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def all_sample_cards() -> list[dict]:
    """Every card of every sample patient, hook, service and language (see tests/support/sample_cards.py)."""
    return sample_cards(datetime.now(UTC).replace(microsecond=0))


def check_response_shape(path: str, method: str, response) -> None:
    """Assert the response follows the CDS Hooks / OperationOutcome schemas."""
    if not path.startswith("/cds-services") or method == "OPTIONS":
        return
    status = response.status_code
    if status >= 400:
        body = response.get_json(silent=True)
        assert body is not None, f"{status} without a JSON body"
        problems = schema_errors("operation-outcome", body)
        assert not problems, f"error body is not an OperationOutcome: {problems}"
        assert status != 500, f"500 for {method} {path}: {body}"
        return
    if method == "GET" and path.rstrip("/") == "/cds-services":
        problems = schema_errors("discovery", response.get_json())
        assert not problems, f"discovery response invalid: {problems}"
    elif method == "POST" and not path.endswith("/feedback"):
        body = response.get_json()
        # our stricter schema: contract topics, result extension with rules, uuids, overrideReasons
        problems = schema_errors("service-response", body)
        assert not problems, f"cards response invalid: {problems}"


class CheckingClient(FlaskClient):
    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = getattr(response, "request", None)
        if request is not None:
            check_response_shape(request.path, request.method, response)
        # As every WSGI server does once the body is sent (PEP 3333): the service writes its
        # request log line and queues card-log rows then. The body is read first, so it
        # stays readable (file responses are streamed from the file).
        response.get_data()
        response.close()
        return response


def make_app(tmp_path, clock=None, **config):
    settings = {"AUTH": "off", "DATABASE_URL": f"sqlite:///{tmp_path}/spine-cds-test.sqlite3",
                "LANGUAGE": "en", "DATA_DIR": str(tmp_path)}
    settings.update(config)
    app = create_app(settings, clock=clock)
    app.testing = True
    app.test_client_class = CheckingClient
    return app


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()
