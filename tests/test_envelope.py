"""The compiled request schema (fastjsonschema, the request path) must agree with the full
validator (jsonschema, which names the problems) on every input: one schema file, two engines."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.schemas import conforms, is_valid

from .support.interop import CRD_REQUESTS

INTEROP = CRD_REQUESTS

leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 400), st.floats(allow_nan=False, allow_infinity=False),
                 st.sampled_from(["", "x", "Bearer", "bearer", "BEARER ", "http://a", "https://ehr.example/fhir",
                                  "ftp://x", "http:// x", "Observation", "observation", "Bundle", "OperationOutcome"]))
anything = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                        max_leaves=10)
auth = st.fixed_dictionaries({}, optional={
    "access_token": leaf, "token_type": leaf, "expires_in": leaf, "scope": leaf, "subject": leaf, "patient": leaf})
prefetch_value = st.one_of(st.none(), st.fixed_dictionaries({}, optional={"resourceType": leaf, "entry": anything}),
                           leaf)
bodies = st.fixed_dictionaries({}, optional={
    "hook": leaf, "hookInstance": leaf, "context": st.one_of(st.dictionaries(st.text(max_size=5), leaf), leaf),
    "fhirServer": leaf, "fhirAuthorization": st.one_of(auth, leaf),
    "prefetch": st.one_of(st.dictionaries(st.text(max_size=5), prefetch_value, max_size=3), leaf),
    "extension": st.one_of(st.dictionaries(st.text(max_size=3), leaf), leaf)})


@settings(max_examples=1500, deadline=None)
@given(body=st.one_of(bodies, anything))
def test_fast_check_agrees_with_the_schema(body):
    assert conforms("request", body) == is_valid("request", body)


@pytest.mark.parametrize("path", sorted(INTEROP.glob("*.json")), ids=lambda p: p.name)
def test_fast_check_agrees_on_real_client_requests(path):
    body = json.loads(path.read_text())
    assert conforms("request", body) == is_valid("request", body)
