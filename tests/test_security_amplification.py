"""Draft-order amplification (issue 19, item 4): one order-select call with 8,000 selected
BK orders took 5-11 s of CPU and returned 72 MB with 16,000 cards. A call carries at most
SPINE_CDS_MAX_DRAFT_ORDERS draft orders (413 beyond) and SPINE_CDS_MAX_SELECTIONS
selections (400 beyond), refused before the schema check, the mapping and the rules.

Time and memory at the limit are measured by ``python -m bench.bench_orders`` (not
asserted here: timed tests flake); the figures are in docs/deployment.md."""
from __future__ import annotations

import json
import time

import pytest

from bench.bench_orders import order_select_body
from cds_service.config import DEFAULTS, ConfigError, read_settings

from .conftest import make_app


def _post(app, body, service="spine-order-select"):
    return app.test_client().post(f"/cds-services/{service}", data=json.dumps(body),
                                  content_type="application/json")


def _card_log_rows(app) -> int:
    from sqlalchemy import text
    with app.extensions["spine_cds"].storage.engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM card_log")).scalar_one()


def test_defaults_are_fifty_and_fifty():
    assert DEFAULTS["MAX_DRAFT_ORDERS"] == 50 and DEFAULTS["MAX_SELECTIONS"] == 50


def test_eight_thousand_selected_bk_orders_are_refused_fast_with_413(tmp_path):
    app = make_app(tmp_path)
    body = order_select_body(8000)
    assert len(json.dumps(body)) > 3_000_000  # the probe's 3 MB call, under the body limit
    t0 = time.perf_counter()
    r = _post(app, body)
    elapsed = time.perf_counter() - t0
    assert r.status_code == 413
    out = r.get_json()
    assert out["resourceType"] == "OperationOutcome"
    assert out["issue"][0]["code"] == "too-costly"
    assert out["issue"][0]["expression"] == ["$.context.draftOrders.entry"]
    assert "more than 50" in out["issue"][0]["diagnostics"] and "50" in out["issue"][0]["diagnostics"]
    assert len(r.data) < 1000
    assert _card_log_rows(app) == 0
    # refused after parsing only (before: 5-11 s); generous bound, parsing 4 MB takes ~0.2 s
    assert elapsed < 3.0, elapsed


def test_at_the_limit_the_call_is_answered_and_one_more_order_is_refused(tmp_path):
    app = make_app(tmp_path)
    limit = DEFAULTS["MAX_DRAFT_ORDERS"]
    r = _post(app, order_select_body(limit))
    assert r.status_code == 200
    cards = r.get_json()["cards"]
    assert cards and all(c["extension"]["org.spine-cds.result"] for c in cards)
    assert _post(app, order_select_body(limit + 1, limit)).status_code == 413


def test_too_many_selections_are_a_400(tmp_path):
    app = make_app(tmp_path)
    body = order_select_body(10)
    body["context"]["selections"] = [f"ServiceRequest/bk-{i}" for i in range(DEFAULTS["MAX_SELECTIONS"] + 1)]
    r = _post(app, body)
    assert r.status_code == 400
    issue = r.get_json()["issue"][0]
    assert issue["expression"] == ["$.context.selections"] and "51" in issue["diagnostics"]


def test_order_sign_is_bounded_too(tmp_path):
    app = make_app(tmp_path, MAX_DRAFT_ORDERS=3)
    body = order_select_body(4)
    body["hook"] = "order-sign"
    del body["context"]["selections"]
    assert _post(app, body, "spine-order-sign").status_code == 413
    body["context"]["draftOrders"]["entry"] = body["context"]["draftOrders"]["entry"][:3]
    assert _post(app, body, "spine-order-sign").status_code == 200


def test_the_limits_are_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINE_CDS_MAX_DRAFT_ORDERS", "2")
    monkeypatch.setenv("SPINE_CDS_MAX_SELECTIONS", "1")
    app = make_app(tmp_path)
    assert _post(app, order_select_body(3, 1)).status_code == 413
    assert _post(app, order_select_body(2, 2)).status_code == 400
    assert _post(app, order_select_body(2, 1)).status_code == 200


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5", "true"])
def test_a_bad_limit_stops_start_up(value):
    with pytest.raises(ConfigError, match="SPINE_CDS_MAX_DRAFT_ORDERS"):
        read_settings({"SPINE_CDS_MAX_DRAFT_ORDERS": value, "SPINE_CDS_AUTH": "off"})


@pytest.mark.e2e
def test_the_real_server_refuses_eight_thousand_orders_and_answers_at_the_limit(tmp_path):
    import requests

    from .support.service_process import spine_cds_process
    with spine_cds_process(tmp_path, workers=1, env={"SPINE_CDS_AUTH": "off", "SPINE_CDS_LANGUAGE": "en"}) as base:
        url = base + "/cds-services/spine-order-select"
        r = requests.post(url, data=json.dumps(order_select_body(8000)),
                          headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 413 and r.json()["issue"][0]["code"] == "too-costly"
        r = requests.post(url, json=order_select_body(DEFAULTS["MAX_DRAFT_ORDERS"]), timeout=30)
        assert r.status_code == 200 and r.json()["cards"]


def test_orders_nested_in_bundles_count_too(tmp_path):
    """A review found the limit counted only top-level entries while the mapping reads Bundles
    nested in draftOrders: 40 Bundles of 40 BK orders took 13.5 s and returned 3,200 cards."""
    app = make_app(tmp_path, MAX_DRAFT_ORDERS=5)
    body = order_select_body(6)
    del body["context"]["selections"]
    body["hook"] = "order-sign"
    orders = body["context"]["draftOrders"]["entry"]
    nested = [{"resource": {"resourceType": "Bundle", "type": "collection", "entry": orders[i:i + 2]}}
              for i in range(0, 6, 2)]
    body["context"]["draftOrders"]["entry"] = nested
    r = _post(app, body, "spine-order-sign")
    assert r.status_code == 413, r.get_data(as_text=True)[:300]
    assert r.get_json()["resourceType"] == "OperationOutcome"
    body["context"]["draftOrders"]["entry"] = nested[:2]  # four orders in two Bundles
    assert _post(app, body, "spine-order-sign").status_code == 200
