"""The feedback store on a real PostgreSQL server (started by scripts/postgres-for-tests.sh)."""
from __future__ import annotations

import os
import pathlib
import subprocess
import uuid

import pytest
from sqlalchemy import text

from cds_service import samples
from cds_service.services import BY_ID

from .conftest import make_app

# the first test may wait for scripts/postgres-for-tests.sh to apt-get install PostgreSQL
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]
SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "postgres-for-tests.sh"


@pytest.fixture(scope="session")
def postgres_url():
    url = os.environ.get("SPINE_CDS_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        out = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"PostgreSQL could not be started: {exc}")
    if out.returncode != 0:
        pytest.fail(f"PostgreSQL could not be started: {out.stderr.strip()[-300:]}")
    return out.stdout.strip().splitlines()[-1]


def test_feedback_round_trip_on_postgres(tmp_path, postgres_url):
    app = make_app(tmp_path, DATABASE_URL=postgres_url)
    card = f"pg-{uuid.uuid4()}"
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis/feedback", json={"feedback": [
        {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z",
         "overrideReason": {"reason": {"code": "not-applicable", "system": "https://spine-cds.org/x",
                                       "display": "n/a"}}}]})
    assert r.status_code == 200
    storage = app.extensions["spine_cds"].storage
    assert storage.engine.dialect.name == "postgresql"
    rows = storage.feedback_for(card)
    assert [r["outcome"] for r in rows] == ["overridden"]
    with storage.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feedback WHERE card_uuid = :c"), {"c": card}).scalar() == 1


def test_readiness_reports_postgres(tmp_path, postgres_url):
    app = make_app(tmp_path, DATABASE_URL=postgres_url)
    assert app.test_client().get("/readyz").get_json()["checks"]["storage"] is True


def test_readiness_fails_when_database_is_unreachable(tmp_path):
    app = make_app(tmp_path, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["checks"]["storage"] is False


def test_card_log_on_postgres_holds_each_card_result_as_sent(tmp_path, postgres_url):
    # the card log's JSON columns (written with orjson, cds_service/jsonio.dumps) read back
    # exactly as the card carried them, on PostgreSQL as on SQLite
    app = make_app(tmp_path, DATABASE_URL=postgres_url, LANGUAGE="nl")
    service = BY_ID["vertebral-augmentation"]
    sample = next(s for s in samples.list_samples() if service.hook in s.hooks)
    body = {"hook": service.hook, "hookInstance": f"pg-{uuid.uuid4()}",
            "context": {"userId": "Practitioner/p", "patientId": sample.patient_id},
            "prefetch": samples.prefetch(sample.id, list(service.prefetch_keys))}
    r = app.test_client().post(f"/cds-services/{service.id}", json=body, headers={"Accept-Language": "nl"})
    assert r.status_code == 200
    cards = r.get_json()["cards"]
    assert cards
    storage = app.extensions["spine_cds"].storage
    assert storage.log_engine.dialect.name == "postgresql"
    for card in cards:
        logged = storage.card(card["uuid"])
        assert logged is not None
        assert logged["result"] == card["extension"]["org.spine-cds.result"]
        assert logged["rules"] == card["extension"]["org.spine-cds.result"]["rules"]
        assert logged["language"] == "nl" and logged["hook_instance"] == body["hookInstance"]


def test_feedback_with_nan_is_stored_on_postgres_with_its_raw_text(tmp_path, postgres_url):
    # JSON's NaN (accepted by the reader, refused by PostgreSQL's json type) is stored as null
    # in the column; the raw column keeps what the EHR sent
    app = make_app(tmp_path, DATABASE_URL=postgres_url)
    card = f"pg-nan-{uuid.uuid4()}"
    raw = ('{"feedback": [{"card": "CARD", "outcome": "overridden", "outcomeTimestamp": '
           '"2026-11-23T10:00:00Z", "overrideReason": {"userComment": "n/a", "score": NaN}}]}').replace("CARD", card)
    r = app.test_client().post("/cds-services/spine-metastases-diagnosis/feedback", data=raw,
                               content_type="application/json")
    assert r.status_code == 200
    rows = app.extensions["spine_cds"].storage.feedback_for(card)
    assert [row["override_reason"] for row in rows] == [{"userComment": "n/a", "score": None}]
    assert "NaN" in rows[0]["raw"]
