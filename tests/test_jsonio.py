"""The fast JSON path (orjson) must accept, refuse and produce what the standard
library does; only the speed may differ (cds_service/jsonio.py)."""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service import jsonio
from cds_service.jsonio import FastJSONProvider

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_loads_agrees_with_the_standard_library(value):
    text = json.dumps(value)
    assert jsonio.loads(text.encode()) == json.loads(text)
    assert jsonio.loads(text) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_dumps_writes_what_the_standard_library_reads_back(value):
    # the card log's JSON columns: the same value once read, whichever encoder wrote it
    assert json.loads(jsonio.dumps(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("value", [
    {"text": "lone \ud800 surrogate"},     # orjson refuses it; json writes it escaped
    {"n": 123456789012345678901234567890},  # beyond 64 bits
    {1: "non-string key"},
])
def test_dumps_falls_back_to_the_standard_library(value):
    assert jsonio.dumps(value) == json.dumps(value)


@pytest.mark.parametrize("value", [
    {"when": datetime(2026, 12, 3, 10, 0, tzinfo=UTC)},  # orjson would write it; json refuses it
    {"s": {1, 2}},
])
def test_dumps_refuses_what_the_standard_library_refuses(value):
    # so a card-log row holding one is sanitised and counted as before (storage._insert_alone)
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        jsonio.dumps(value)


def test_dumps_writes_nan_as_null_as_the_responses_do():
    # a NaN in the card log is what the card said: null (PostgreSQL's JSON refuses NaN)
    assert json.loads(jsonio.dumps({"x": float("nan")})) == {"x": None}


@pytest.mark.parametrize("raw", [
    '{"a": NaN}', '{"a": Infinity}', '[-Infinity]',                 # not JSON, but json accepts them
    '{"n": 123456789012345678901234567890}',                        # beyond 64 bits
    '{"n": -9223372036854775809, "m": 18446744073709551616}',       # just beyond (u)int64
    '{"a": 1, "a": 2}',                                             # duplicate key: the last wins
    '[1e400, -1e400, 1e-400]',                                      # beyond double range
])
def test_what_orjson_refuses_the_standard_library_still_decides(raw):
    expected = json.loads(raw)
    got = jsonio.loads(raw.encode())
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("raw", ['{"s": "\\ud800"}', '["a\\udfff"]', '{"\\ud800": 1}',
                                 '{"n": 1234567890123456789012, "s": "\\udc00"}'])
def test_lone_surrogates_are_refused(raw):
    """Issue 19, item 8: the standard library reads them, but they are no text (no log line,
    card-log row or response can hold them); refused as LoneSurrogate, a ValueError."""
    with pytest.raises(jsonio.LoneSurrogate):
        jsonio.loads(raw.encode())


def test_utf16_body_is_read_as_before():
    raw = json.dumps({"hook": "patient-view", "naam": "Müller"}).encode("utf-16")
    assert jsonio.loads(raw) == json.loads(raw)


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,]", b"\xff\xfe\x00", b"{'a': 1}", b"nul"])
def test_invalid_json_raises_value_error_like_json(raw):
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        jsonio.loads(raw)


def test_deep_nesting_ends_in_an_error_not_a_crash():
    raw = ("[" * 100_000 + "]" * 100_000).encode()
    with pytest.raises((ValueError, RecursionError)):
        jsonio.loads(raw)


@pytest.fixture()
def bare_app():
    app = Flask(__name__)
    app.json = FastJSONProvider(app)
    return app


def test_response_is_compact_json_in_insertion_order(bare_app):
    with bare_app.app_context():
        resp = bare_app.json.response({"cards": [{"summary": "Spoed-MRI ✔", "indicator": "critical"}]})
    assert resp.mimetype == "application/json"
    body = resp.get_data()
    assert body == '{"cards":[{"summary":"Spoed-MRI ✔","indicator":"critical"}]}\n'.encode()
    assert json.loads(body)["cards"][0]["summary"] == "Spoed-MRI ✔"


def test_types_only_the_standard_library_encodes_fall_back(bare_app):
    value = {"big": 2 ** 70, "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}
    with bare_app.app_context():
        fast = json.loads(bare_app.json.response(value).get_data())
        plain = json.loads(Flask(__name__).json.dumps(value))
    assert fast == plain
    assert fast["big"] == 2 ** 70
    assert fast["when"] == "Fri, 02 Jan 2026 03:04:05 GMT"  # Flask's own date format, not orjson's


def test_unknown_type_is_still_a_type_error(bare_app):
    with bare_app.app_context(), pytest.raises(TypeError):
        bare_app.json.dumps({"x": object()})


def test_nan_becomes_null_so_the_output_stays_valid_json(bare_app):
    # The standard library would write the bare token NaN, which is not JSON; the service's
    # own results never hold NaN (rules give None for unknown values), but if one slipped
    # through, clients get null rather than a body they cannot parse.
    with bare_app.app_context():
        out = bare_app.json.dumps({"x": math.nan})
    assert out == '{"x":null}'
    assert json.loads(out) == {"x": None}


def test_the_service_app_uses_the_fast_provider(client):
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    assert isinstance(client.application.json, FastJSONProvider)
    assert resp.get_data().startswith(b'{"services":[')


@pytest.mark.parametrize("text, expected", [
    ("1234567890123456789", True), ("x1234567890123456789y", True), ("123456789012345678", False),
    ("12345678901234567 8", False), ("", False), ("٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨", False),  # only ASCII digits count
])
def test_long_digit_runs_are_found(text, expected):
    assert jsonio._has_long_digit_run(text.encode()) is expected
