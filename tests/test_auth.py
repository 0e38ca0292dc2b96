"""CDS Hooks 2.0 client authentication (cds_service.auth), one test per rule.

The reference caller is the CDS Hooks Sandbox: its published ES384 key signs
tokens exactly as the sandbox does (tests/support/jwt_tokens.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text

from cds_service.auth import (
    AuthError,
    Caller,
    JwtVerifier,
    MemoryReplayStore,
    ReplayStoreError,
    SqlReplayStore,
    TrustFileError,
    TrustStore,
    normalise_url,
)
from tests.support.jwt_tokens import (
    SANDBOX_ISS,
    SANDBOX_JKU,
    SANDBOX_KID,
    Clock,
    b64url,
    bearer,
    hmac_token,
    jwks,
    mint,
    new_ec_key,
    new_rsa_key,
    public_jwk,
    public_pem,
    sandbox_jwks,
    sandbox_private_key,
    sandbox_token,
    sandbox_trust_doc,
    token_claims,
    unsigned_token,
)

T0 = 1_750_000_000
AUD = "https://cds.example.org/cds-services/spine-metastases-treatment"
EHR_ISS = "https://ehr.example.org"
JKU_ISS = "https://other.example.org"
JKU_URL = "https://other.example.org/.well-known/jwks.json"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rsa_key():
    return new_rsa_key()


@pytest.fixture(scope="module")
def ehr_ec_key():
    return new_ec_key()


@pytest.fixture(scope="module")
def jku_keys():
    return {"k1": new_ec_key(), "k2": new_ec_key()}


@pytest.fixture(scope="module")
def trust_doc(rsa_key, ehr_ec_key) -> dict[str, Any]:
    p256 = new_ec_key(ec.SECP256R1())
    return {
        "issuers": [
            {"iss": SANDBOX_ISS, "jwks": sandbox_jwks()},
            {
                "iss": EHR_ISS,
                "jwks": jwks(
                    public_jwk(rsa_key, "rsa-1"),
                    public_jwk(ehr_ec_key, "ec-1"),
                    public_jwk(p256, "p256-1"),  # well-formed but not ES384: left out
                ),
                "tenants": ["t1", "t2"],
                "fhir_servers": ["https://EHR.example.org:443/fhir/"],
            },
            {"iss": JKU_ISS, "jku": [JKU_URL]},
        ]
    }


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def verifier(trust_doc, clock) -> JwtVerifier:
    return JwtVerifier(TrustStore.from_dict(trust_doc, "."), MemoryReplayStore(), now=clock)


def refused(verifier: JwtVerifier, header: str | None, aud: str = AUD) -> str:
    with pytest.raises(AuthError) as info:
        verifier.verify(header, aud)
    return info.value.reason


def ehr_token(key, alg: str, kid: str, clock: Clock, **claims: Any) -> str:
    claims.setdefault("tenant", "t1")
    return mint(key, alg, token_claims(EHR_ISS, AUD, now=clock.t, **claims), kid=kid)


# --------------------------------------------------------------------------- the CDS Hooks Sandbox


def test_sandbox_key_matches_its_published_jwks():
    published = sandbox_jwks()["keys"][0]
    derived = public_jwk(sandbox_private_key(), SANDBOX_KID)
    assert (derived["crv"], derived["x"], derived["y"]) == (published["crv"], published["x"], published["y"])


def test_sandbox_token_accepted_when_its_issuer_is_trusted_inline(clock):
    verifier = JwtVerifier(TrustStore.from_dict(sandbox_trust_doc(), "."), MemoryReplayStore(), now=clock)
    token = sandbox_token(AUD, now=clock.t, jti="jti-sandbox-1")
    caller = verifier.verify(bearer(token), AUD)
    assert caller == Caller(iss=SANDBOX_ISS, jti="jti-sandbox-1", tenant=None, sub=None, fhir_servers=())


def test_sandbox_token_needs_no_fetch_of_its_jku_when_kid_is_inline(verifier, clock):
    # The sandbox's jku is not in the trust file; its kid is in the inline JWKS.
    with responses.RequestsMock() as mocked:
        verifier.verify(bearer(sandbox_token(AUD, now=clock.t)), AUD)
        assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    "called",
    [
        "https://cds.example.org/cds-services/vertebral-augmentation",
        "https://cds.example.org/cds-services",
        "https://cds.example.org/cds-services/spine-metastases-treatment/feedback",
        "http://cds.example.org/cds-services/spine-metastases-treatment",
        "https://cds.example.org:8443/cds-services/spine-metastases-treatment",
        "https://evil.example.org/cds-services/spine-metastases-treatment",
    ],
)
def test_sandbox_token_refused_for_another_audience(verifier, clock, called):
    reason = refused(verifier, bearer(sandbox_token(AUD, now=clock.t)), called)
    assert "aud" in reason


@pytest.mark.parametrize(
    "aud, called",
    [
        (AUD, "HTTPS://CDS.Example.ORG:443/cds-services/spine-metastases-treatment/"),
        (AUD + "/", AUD),
        ([AUD], AUD),
        (["https://elsewhere.example/x", AUD], AUD),
        ("http://localhost:80/cds-services", "http://LOCALHOST/cds-services/"),
    ],
)
def test_audience_compared_after_normalisation_and_may_be_a_list(verifier, clock, aud, called):
    assert verifier.verify(bearer(sandbox_token(aud, now=clock.t)), called).iss == SANDBOX_ISS


@pytest.mark.parametrize("aud", [None, [], [123], "", "not a url", ["https://elsewhere.example/x"]])
def test_missing_or_foreign_audience_refused(verifier, clock, aud):
    assert "aud" in refused(verifier, bearer(sandbox_token(aud, now=clock.t)))


def test_sandbox_token_refused_after_expiry_with_clock_skew(verifier, clock):
    late = sandbox_token(AUD, now=clock.t)
    clock.advance(300 + 4)  # within the 5 s skew
    verifier.verify(bearer(late), AUD)
    too_late = sandbox_token(AUD, now=T0)
    clock.t = T0 + 300 + 5
    assert "expired" in refused(verifier, bearer(too_late))


def test_sandbox_token_refused_when_replayed(verifier, clock):
    token = sandbox_token(AUD, now=clock.t)
    verifier.verify(bearer(token), AUD)
    clock.advance(10)
    assert "replayed" in refused(verifier, bearer(token))
    # The same jti in a token for another endpoint is a replay too.
    again = sandbox_token(AUD + "/feedback", now=clock.t, jti=json.loads(_payload(token))["jti"])
    assert "replayed" in refused(verifier, bearer(again), AUD + "/feedback")


def test_jti_may_come_back_once_the_earlier_token_has_expired(verifier, clock):
    verifier.verify(bearer(sandbox_token(AUD, now=clock.t, jti="reused")), AUD)
    clock.advance(300 + 6)
    assert verifier.verify(bearer(sandbox_token(AUD, now=clock.t, jti="reused")), AUD).jti == "reused"


def test_refused_jti_is_not_used_up(verifier, clock):
    # A token that fails another check must not burn its jti for the real one.
    bad = sandbox_token("https://elsewhere.example/x", now=clock.t, jti="once")
    refused(verifier, bearer(bad))
    verifier.verify(bearer(sandbox_token(AUD, now=clock.t, jti="once")), AUD)


def _payload(token: str) -> str:
    import base64

    seg = token.split(".")[1]
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)).decode()


# --------------------------------------------------------------------------- algorithms and keys


def test_rs384_accepted_with_a_generated_key(verifier, clock, rsa_key):
    caller = verifier.verify(bearer(ehr_token(rsa_key, "RS384", "rsa-1", clock, sub="svc-1")), AUD)
    assert (caller.iss, caller.tenant, caller.sub) == (EHR_ISS, "t1", "svc-1")


def test_es384_accepted_with_a_generated_key(verifier, clock, ehr_ec_key):
    assert verifier.verify(bearer(ehr_token(ehr_ec_key, "ES384", "ec-1", clock)), AUD).iss == EHR_ISS


def _claims(clock: Clock) -> dict[str, Any]:
    return token_claims(EHR_ISS, AUD, now=clock.t, tenant="t1")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda k, c: unsigned_token(_claims(c), kid="rsa-1"), id="none"),
        pytest.param(lambda k, c: unsigned_token(_claims(c), kid="rsa-1").replace('"none"', '"None"'), id="None"),
        pytest.param(lambda k, c: hmac_token(public_pem(k["rsa"]), "HS256", _claims(c), kid="rsa-1"), id="HS256"),
        pytest.param(lambda k, c: hmac_token(public_pem(k["rsa"]), "HS384", _claims(c), kid="rsa-1"), id="HS384"),
        pytest.param(lambda k, c: mint(k["p256"], "ES256", _claims(c), kid="p256-1"), id="ES256"),
        pytest.param(lambda k, c: mint(k["rsa"], "RS256", _claims(c), kid="rsa-1"), id="RS256"),
        pytest.param(lambda k, c: mint(k["rsa"], "PS384", _claims(c), kid="rsa-1"), id="PS384"),
        pytest.param(lambda k, c: _with_header(mint(k["ec"], "ES384", _claims(c), kid="ec-1"), alg="ES512"),
                     id="ES512-header-P384-key"),
        pytest.param(lambda k, c: _with_header(mint(k["ec"], "ES384", _claims(c), kid="ec-1"), alg="EdDSA"),
                     id="EdDSA"),
        pytest.param(lambda k, c: _with_header(mint(k["ec"], "ES384", _claims(c), kid="ec-1"), alg=["ES384"]),
                     id="alg-a-list"),
    ],
)
def test_algorithms_other_than_es384_and_rs384_refused(verifier, clock, rsa_key, ehr_ec_key, make):
    keys = {"rsa": rsa_key, "ec": ehr_ec_key, "p256": new_ec_key(ec.SECP256R1())}
    assert "not allowed" in refused(verifier, bearer(make(keys, clock)))


def _with_header(token: str, **changes: Any) -> str:
    """The same payload and signature under a changed header (what an attacker can do)."""
    import base64

    head, payload, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header.update(changes)
    for name in [n for n, v in changes.items() if v is None]:
        del header[name]
    new_head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{new_head}.{payload}.{sig}"


def test_header_alg_es384_naming_an_rsa_key_refused(verifier, clock, ehr_ec_key):
    token = ehr_token(ehr_ec_key, "ES384", "rsa-1", clock)
    assert "does not fit" in refused(verifier, bearer(token))


def test_header_alg_rs384_naming_an_ec_key_refused(verifier, clock, rsa_key):
    token = ehr_token(rsa_key, "RS384", "ec-1", clock)
    assert "does not fit" in refused(verifier, bearer(token))


def test_jwk_declaring_another_alg_refused(clock, rsa_key):
    doc = {"issuers": [{"iss": EHR_ISS, "jwks": jwks(public_jwk(rsa_key, "rsa-1", alg="RS384"))}]}
    v = JwtVerifier(TrustStore.from_dict(doc, "."), MemoryReplayStore(), now=clock)
    v.verify(bearer(mint(rsa_key, "RS384", _claims(clock), kid="rsa-1")), AUD)
    # Same kid, alg swapped in the header: the signature is never even tried.
    token = _with_header(mint(rsa_key, "RS384", _claims(clock), kid="rsa-1"), alg="ES384")
    assert "does not fit" in refused(v, bearer(token))


def test_signature_by_another_key_under_the_sandbox_kid_refused(verifier, clock):
    forged = mint(new_ec_key(), "ES384", token_claims(SANDBOX_ISS, AUD, now=clock.t), kid=SANDBOX_KID, jku=SANDBOX_JKU)
    assert "bad signature" in refused(verifier, bearer(forged))


def test_tampered_payload_refused(verifier, clock):
    token = sandbox_token(AUD, now=clock.t)
    other = sandbox_token(AUD, now=clock.t, exp=T0 + 99999)
    head, _, sig = token.split(".")
    assert "bad signature" in refused(verifier, bearer(f"{head}.{other.split('.')[1]}.{sig}"))


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"kid": None}, "kid"),
        ({"kid": ""}, "kid"),
        ({"kid": 7}, "header"),  # PyJWT already refuses a non-string kid
        ({"kid": "unknown-kid"}, "not allowlisted"),  # the sandbox's jku is not in the trust file
        ({"kid": "unknown-kid", "jku": None}, "no key"),
        ({"crit": ["exp"]}, "header"),  # PyJWT refuses unknown critical extensions
        ({"crit": ["b64"], "b64": True}, "crit"),
        ({"typ": "at+jwt"}, "typ"),
        ({"jku": 5}, "jku"),
    ],
)
def test_header_fields_checked(verifier, clock, changes, fragment):
    token = _with_header(sandbox_token(AUD, now=clock.t), **changes)
    assert fragment in refused(verifier, bearer(token))


def test_typ_may_be_absent(verifier, clock, ehr_ec_key):
    token = mint(ehr_ec_key, "ES384", _claims(clock), kid="ec-1", typ=None)
    assert verifier.verify(bearer(token), AUD).iss == EHR_ISS


# --------------------------------------------------------------------------- issuers and jku


def test_unknown_issuer_refused(verifier, clock):
    token = mint(sandbox_private_key(), "ES384", token_claims("https://sandbox.cds-hooks.org/", AUD, now=clock.t),
                 kid=SANDBOX_KID, jku=SANDBOX_JKU)
    assert "not trusted" in refused(verifier, bearer(token))


def test_missing_issuer_refused(verifier, clock):
    assert "iss" in refused(verifier, bearer(sandbox_token(AUD, now=clock.t, iss=None)))


def test_empty_trust_store_refuses_everything(clock):
    v = JwtVerifier(TrustStore.empty(), MemoryReplayStore(), now=clock)
    assert "not trusted" in refused(v, bearer(sandbox_token(AUD, now=clock.t)))


def test_jku_not_allowlisted_refused_without_fetching(verifier, clock, ehr_ec_key):
    token = mint(ehr_ec_key, "ES384", _claims(clock), kid="attacker-kid", jku="https://evil.example/jwks.json")
    with responses.RequestsMock() as mocked:
        assert "not allowlisted" in refused(verifier, bearer(token))
        assert len(mocked.calls) == 0


def test_jku_of_another_issuer_not_usable(verifier, clock, jku_keys):
    # JKU_URL is allowlisted for JKU_ISS, not for EHR_ISS.
    token = mint(jku_keys["k1"], "ES384", _claims(clock), kid="k1", jku=JKU_URL)
    with responses.RequestsMock() as mocked:
        assert "not allowlisted" in refused(verifier, bearer(token))
        assert len(mocked.calls) == 0


def jku_token(jku_keys, kid: str, clock: Clock, jku: str | None = JKU_URL) -> str:
    return mint(jku_keys[kid], "ES384", token_claims(JKU_ISS, AUD, now=clock.t), kid=kid, jku=jku)


def jku_verifier(trust_doc, clock, **kw: Any) -> JwtVerifier:
    return JwtVerifier(TrustStore.from_dict(trust_doc, "."), MemoryReplayStore(), now=clock,
                       http_session=requests.Session(), **kw)


def test_allowlisted_jku_fetched_and_cached(trust_doc, clock, jku_keys):
    v = jku_verifier(trust_doc, clock, jwks_ttl=300)
    with responses.RequestsMock() as mocked:
        mocked.get(JKU_URL, json=jwks(public_jwk(jku_keys["k1"], "k1")))
        v.verify(bearer(jku_token(jku_keys, "k1", clock)), AUD)
        clock.advance(100)
        v.verify(bearer(jku_token(jku_keys, "k1", clock)), AUD)
        assert len(mocked.calls) == 1
        clock.advance(201)  # past the ttl: fetched again
        v.verify(bearer(jku_token(jku_keys, "k1", clock)), AUD)
        assert len(mocked.calls) == 2


def test_allowlisted_jku_matched_after_normalisation(trust_doc, clock, jku_keys):
    v = jku_verifier(trust_doc, clock)
    with responses.RequestsMock() as mocked:
        mocked.get(JKU_URL, json=jwks(public_jwk(jku_keys["k1"], "k1")))
        v.verify(bearer(jku_token(jku_keys, "k1", clock, jku="HTTPS://Other.Example.org:443/.well-known/jwks.json")), AUD)
        assert [c.request.url for c in mocked.calls] == [JKU_URL]  # the configured URL is the one fetched


def test_jku_refreshed_once_on_unknown_kid_and_rate_limited(trust_doc, clock, jku_keys):
    v = jku_verifier(trust_doc, clock, jwks_min_refresh=30)
    with responses.RequestsMock() as mocked:
        mocked.get(JKU_URL, json=jwks(public_jwk(jku_keys["k1"], "k1")))
        mocked.get(JKU_URL, json=jwks(public_jwk(jku_keys["k1"], "k1"), public_jwk(jku_keys["k2"], "k2")))
        v.verify(bearer(jku_token(jku_keys, "k1", clock)), AUD)
        clock.advance(31)
        v.verify(bearer(jku_token(jku_keys, "k2", clock)), AUD)  # key rotated in: one refresh finds it
        assert len(mocked.calls) == 2
        clock.advance(1)
        for _ in range(20):  # unknown kids in a burst cause no further fetch
            forged = mint(new_ec_key(), "ES384", token_claims(JKU_ISS, AUD, now=clock.t), kid="nope", jku=JKU_URL)
            assert "no key" in refused(v, bearer(forged))
        assert len(mocked.calls) == 2
        v.verify(bearer(jku_token(jku_keys, "k1", clock)), AUD)  # the cached keys still work
        assert len(mocked.calls) == 2


def test_issuer_jku_used_when_token_names_none(trust_doc, clock, jku_keys):
    v = jku_verifier(trust_doc, clock)
    with responses.RequestsMock() as mocked:
        mocked.get(JKU_URL, json=jwks(public_jwk(jku_keys["k1"], "k1")))
        assert v.verify(bearer(jku_token(jku_keys, "k1", clock, jku=None)), AUD).iss == JKU_ISS


@pytest.mark.parametrize(
    "response",
    [
        pytest.param({"body": requests.exceptions.ConnectTimeout()}, id="connect-timeout"),
        pytest.param({"body": requests.exceptions.ReadTimeout()}, id="read-timeout"),
        pytest.param({"body": requests.exceptions.ConnectionError()}, id="connection-error"),
        pytest.param({"status": 500, "body": "oops"}, id="http-500"),
        pytest.param({"status": 302, "headers": {"Location": "http://169.254.169.254/"}}, id="redirect"),
        pytest.param({"body": "<html>not json</html>"}, id="html"),
        pytest.param({"body": b"\xff\xfe\x00garbage"}, id="binary"),
        pytest.param({"json": ["keys"]}, id="json-list"),
        pytest.param({"json": {"keys": "k1"}}, id="keys-not-list"),
        pytest.param({"json": {"keys": [{"kty": "EC", "crv": "P-384", "kid": "k1", "x": "AA", "y": "AA"}]}},
                     id="broken-key"),
        pytest.param({"json": {"keys": [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0"}]}}, id="symmetric-key"),
        pytest.param({"json": {"keys": [{"kty": "EC", "kid": str(i)} for i in range(60)]}}, id="too-many-keys"),
        pytest.param({"body": "[" * 30_000 + "]" * 30_000}, id="deeply-nested"),
    ],
)
def test_jku_failures_refuse_the_token_without_crashing(trust_doc, clock, jku_keys, response):
    v = jku_verifier(trust_doc, clock)
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, JKU_URL, **response)
        assert "no key" in refused(v, bearer(jku_token(jku_keys, "k1", clock)))
        assert len(mocked.calls) == 1
        # Rate limited: a second token right after causes no second fetch.
        assert "no key" in refused(v, bearer(jku_token(jku_keys, "k1", clock)))
        assert len(mocked.calls) == 1


@pytest.mark.parametrize("declare_length", [True, False])
def test_jku_response_over_64_kib_refused(trust_doc, clock, jku_keys, declare_length):
    # A valid JWKS padded past the bound: refused whether or not the server declares its length.
    body = json.dumps(jwks(public_jwk(jku_keys["k1"], "k1"))) + " " * 70_000
    v = jku_verifier(trust_doc, clock)
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, JKU_URL, body=body, auto_calculate_content_length=declare_length)
        assert "no key" in refused(v, bearer(jku_token(jku_keys, "k1", clock)))
        assert len(mocked.calls) == 1


def test_jku_outage_keeps_cached_keys_for_a_while(trust_doc, clock, jku_keys):
    v = jku_verifier(trust_doc, clock, jwks_ttl=300)
    with responses.RequestsMock() as mocked:
        mocked.get(JKU_URL, json=jwks(public_jwk(jku_keys["k1"], "k1")))
        mocked.get(JKU_URL, body=requests.exceptions.ConnectTimeout())
        v.verify(bearer(jku_token(jku_keys, "k1", clock)), AUD)
        clock.advance(301)
        v.verify(bearer(jku_token(jku_keys, "k1", clock)), AUD)  # stale but within the grace period
        assert len(mocked.calls) == 2
        clock.advance(3600)
        mocked.get(JKU_URL, body=requests.exceptions.ConnectTimeout())
        assert "no key" in refused(v, bearer(jku_token(jku_keys, "k1", clock)))


# --------------------------------------------------------------------------- claims


@pytest.mark.parametrize("claim", ["exp", "iat", "jti"])
def test_required_claim_missing_refused(verifier, clock, claim):
    assert claim in refused(verifier, bearer(sandbox_token(AUD, now=clock.t, **{claim: None})))


@pytest.mark.parametrize(
    "claims, fragment",
    [
        ({"exp": "soon"}, "exp"),
        ({"exp": True}, "exp"),
        ({"iat": [T0]}, "iat"),
        ({"nbf": "now"}, "nbf"),
        ({"jti": 42}, "jti"),
        ({"jti": ""}, "jti"),
        ({"jti": "x" * 256}, "jti"),
        ({"exp": T0 + 10, "iat": T0 + 20}, "iat"),  # iat in the future (20 s) comes first
    ],
)
def test_claims_of_the_wrong_type_refused(verifier, clock, claims, fragment):
    assert fragment in refused(verifier, bearer(sandbox_token(AUD, now=clock.t, **claims)))


def test_exp_before_iat_refused(verifier, clock):
    assert "before iat" in refused(verifier, bearer(sandbox_token(AUD, now=clock.t, iat=T0 + 3, exp=T0 + 2)))


@pytest.mark.parametrize("lifetime, ok", [(3600, True), (3601, False), (10**20, False)])
def test_token_lifetime_bounded(verifier, clock, lifetime, ok):
    token = sandbox_token(AUD, now=clock.t, exp=T0 + lifetime)
    if ok:
        assert verifier.verify(bearer(token), AUD).iss == SANDBOX_ISS
    else:
        assert "lifetime" in refused(verifier, bearer(token))


def test_iat_half_a_second_ahead_accepted_like_the_sandbox_sends(verifier, clock):
    assert verifier.verify(bearer(sandbox_token(AUD, now=clock.t, iat=T0 + 0.5)), AUD).iss == SANDBOX_ISS


def test_iat_far_in_the_future_refused(verifier, clock):
    assert "future" in refused(verifier, bearer(sandbox_token(AUD, now=clock.t, iat=T0 + 60, exp=T0 + 360)))


def test_clock_skew_is_configurable(trust_doc, clock):
    strict = JwtVerifier(TrustStore.from_dict(trust_doc, "."), MemoryReplayStore(), clock_skew=0, now=clock)
    assert "future" in refused(strict, bearer(sandbox_token(AUD, now=clock.t, iat=T0 + 0.5)))
    with pytest.raises(ValueError):
        JwtVerifier(TrustStore.empty(), MemoryReplayStore(), clock_skew=-1)


def test_nbf_in_the_future_refused_and_past_nbf_tolerated(verifier, clock):
    assert "nbf" in refused(verifier, bearer(sandbox_token(AUD, now=clock.t, nbf=T0 + 60)))
    assert verifier.verify(bearer(sandbox_token(AUD, now=clock.t, nbf=T0 + 3)), AUD).iss == SANDBOX_ISS


def test_sub_not_required_and_returned_when_present(verifier, clock):
    assert verifier.verify(bearer(sandbox_token(AUD, now=clock.t, sub="client-1")), AUD).sub == "client-1"


@pytest.mark.parametrize("tenant, ok", [("t1", True), ("t2", True), ("t3", False), (None, False), (7, False)])
def test_tenant_allowlist(verifier, clock, ehr_ec_key, tenant, ok):
    token = mint(ehr_ec_key, "ES384", token_claims(EHR_ISS, AUD, now=clock.t, tenant=tenant), kid="ec-1")
    if ok:
        assert verifier.verify(bearer(token), AUD).tenant == tenant
    else:
        assert "tenant" in refused(verifier, bearer(token))


def test_issuer_without_tenant_list_accepts_any_tenant(verifier, clock):
    assert verifier.verify(bearer(sandbox_token(AUD, now=clock.t, tenant="hosp-9")), AUD).tenant == "hosp-9"


# --------------------------------------------------------------------------- the Authorization header


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="absent"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="bearer-alone"),
        pytest.param("Bearer ", id="bearer-space"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("garbage", id="garbage"),
        pytest.param("Bearer not-a-jwt", id="not-a-jwt"),
        pytest.param("Bearer a.b", id="two-segments"),
        pytest.param("Bearer a.b.c.d.e", id="five-segments-jwe"),
        pytest.param("Bearer e30.e30.", id="empty-header"),
        pytest.param("Bearer !!!.???.***", id="bad-characters"),
        pytest.param("Bearer bm90IGpzb24.e30.c2ln", id="header-not-json"),
        pytest.param("Bearer WzFd.e30.c2ln", id="header-a-list"),
        pytest.param("Bearer " + "a" * 9000 + ".b.c", id="huge"),
        pytest.param("Bearer " + b64url(b"[" * 3000 + b"]" * 3000) + ".e30.c2ln", id="header-deeply-nested"),
    ],
)
def test_malformed_authorization_refused(verifier, header):
    refused(verifier, header)


def test_token_with_trailing_text_or_other_scheme_refused(verifier, clock):
    token = sandbox_token(AUD, now=clock.t)
    refused(verifier, f"Bearer {token} extra")
    refused(verifier, f"Token {token}")
    refused(verifier, f"Bearer\t{token}")
    assert verifier.verify(f"bearer   {token}  ", AUD).iss == SANDBOX_ISS  # scheme is case-insensitive


def test_refusal_reasons_never_contain_the_token(verifier, clock):
    tokens = [
        sandbox_token("https://elsewhere.example/x", now=clock.t),
        _with_header(sandbox_token(AUD, now=clock.t), alg="HS384"),
        _with_header(sandbox_token(AUD, now=clock.t), kid="unknown"),
    ]
    for token in tokens:
        for header in (bearer(token), token, f"Basic {token}"):
            reason = refused(verifier, header)
            assert token not in reason
            assert not any(part in reason for part in token.split(".") if len(part) > 12)


def test_signed_payload_that_is_not_an_object_refused(verifier, clock):
    token = mint(sandbox_private_key(), "ES384", {"iss": SANDBOX_ISS}, kid=SANDBOX_KID)
    head, _, _ = token.split(".")
    refused(verifier, f"Bearer {head}.WzFd.c2ln")  # payload [1]


# --------------------------------------------------------------------------- the trust file


def _issuer(**fields: Any) -> dict[str, Any]:
    return {"issuers": [{"iss": EHR_ISS, "jwks": sandbox_jwks(), **fields}]}


_KEY = sandbox_jwks()["keys"][0]


@pytest.mark.parametrize(
    "doc, fragment",
    [
        pytest.param([], "JSON object", id="not-an-object"),
        pytest.param({}, "'issuers'", id="no-issuers"),
        pytest.param({"issuers": {}}, "'issuers'", id="issuers-not-list"),
        pytest.param({"issuers": [], "extra": 1}, "extra", id="unknown-top-level"),
        pytest.param({"issuers": ["x"]}, "issuers[0]", id="issuer-not-object"),
        pytest.param({"issuers": [{"jwks": {"keys": [_KEY]}}]}, "'iss'", id="no-iss"),
        pytest.param({"issuers": [{"iss": "", "jwks": {"keys": [_KEY]}}]}, "'iss'", id="empty-iss"),
        pytest.param(_issuer(tenant=["t1"]), "unknown field(s) tenant", id="typo-field"),
        pytest.param(_issuer(jwks_file="x.json"), "not both", id="jwks-and-file"),
        pytest.param({"issuers": [{"iss": EHR_ISS}]}, "no usable key", id="no-keys"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": {"keys": []}}]}, "no usable key", id="empty-jwks"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": [_KEY]}]}, "'keys' list", id="jwks-not-set"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": {"keys": [{**_KEY, "d": "AAAA"}]}}]}, "private",
                     id="private-key"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}}]},
                     "symmetric", id="hmac-secret"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": {"keys": [{k: v for k, v in _KEY.items() if k != "kid"}]}}]},
                     "kid", id="key-without-kid"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": {"keys": [_KEY, _KEY]}}]}, "twice", id="duplicate-kid"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": {"keys": [{**_KEY, "x": "AAAA"}]}}]}, "not a valid EC key",
                     id="broken-ec-key"),
        pytest.param({"issuers": [{"iss": EHR_ISS, "jwks": jwks(public_jwk(new_rsa_key(1024), "weak"))}]},
                     "at least 2048", id="weak-rsa-key"),
        pytest.param({"issuers": [_issuer()["issuers"][0], _issuer()["issuers"][0]]}, "listed twice",
                     id="duplicate-issuer"),
        pytest.param(_issuer(jku="https://x.example/jwks"), "'jku'", id="jku-not-list"),
        pytest.param(_issuer(jku=["http://x.example/jwks"]), "https", id="jku-plain-http"),
        pytest.param(_issuer(jku=["ftp://x.example/jwks"]), "jku", id="jku-not-http"),
        pytest.param(_issuer(tenants=[]), "'tenants'", id="tenants-empty"),
        pytest.param(_issuer(tenants=["t1", 2]), "'tenants'", id="tenants-not-strings"),
        pytest.param(_issuer(fhir_servers=["ehr.example.org/fhir"]), "fhir_servers", id="fhir-server-relative"),
        pytest.param(_issuer(fhir_servers=["https://u:p@ehr.example.org/fhir"]), "fhir_servers",
                     id="fhir-server-credentials"),
        pytest.param(_issuer(fhir_servers=["https://ehr.example.org/fhir?x=1"]), "query", id="fhir-server-query"),
    ],
)
def test_trust_file_validation_errors(doc, fragment):
    with pytest.raises(TrustFileError) as info:
        TrustStore.from_dict(doc, ".")
    assert fragment in str(info.value)


def test_trust_file_with_jwks_file_relative_to_it(tmp_path, clock, rsa_key):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ehr-jwks.json").write_text(json.dumps(jwks(public_jwk(rsa_key, "rsa-1"))))
    (tmp_path / "trust.json").write_text(json.dumps({"issuers": [{"iss": EHR_ISS, "jwks_file": "keys/ehr-jwks.json"}]}))
    v = JwtVerifier(TrustStore.from_file(tmp_path / "trust.json"), MemoryReplayStore(), now=clock)
    assert v.verify(bearer(mint(rsa_key, "RS384", _claims(clock), kid="rsa-1")), AUD).iss == EHR_ISS


@pytest.mark.parametrize(
    "files, fragment",
    [
        ({}, "cannot be read"),
        ({"trust.json": "{not json"}, "not valid JSON"),
        ({"trust.json": json.dumps({"issuers": [{"iss": EHR_ISS, "jwks_file": "missing.json"}]})}, "missing.json"),
        ({"trust.json": json.dumps({"issuers": [{"iss": EHR_ISS, "jwks_file": "k.json"}]}), "k.json": "[1"},
         "k.json is not valid JSON"),
    ],
)
def test_trust_file_read_errors_name_the_file(tmp_path, files, fragment):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    with pytest.raises(TrustFileError) as info:
        TrustStore.from_file(tmp_path / "trust.json")
    assert fragment in str(info.value) and "trust.json" in str(info.value)


def test_contract_example_trust_file_loads(tmp_path, rsa_key):
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(jwks(public_jwk(rsa_key, "r"))))
    doc = {"issuers": [
        {"iss": "https://sandbox.cds-hooks.org", "jwks": sandbox_jwks()},
        {"iss": "https://ehr.example.org", "jwks_file": "ehr-jwks.json"},
        {"iss": "https://other.example.org", "jku": ["https://other.example.org/.well-known/jwks.json"],
         "tenants": ["t1"]},
    ]}
    (tmp_path / "trust.json").write_text(json.dumps(doc))
    store = TrustStore.from_file(tmp_path / "trust.json")
    assert [i.iss for i in store.issuers] == [d["iss"] for d in doc["issuers"]]
    assert store.get("https://other.example.org").tenants == frozenset({"t1"})


# --------------------------------------------------------------------------- URLs and FHIR servers


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://cds.example.org/cds-services/x", "https://cds.example.org/cds-services/x"),
        ("HTTPS://CDS.Example.ORG/cds-services/X/", "https://cds.example.org/cds-services/X"),
        ("https://cds.example.org:443/a", "https://cds.example.org/a"),
        ("http://cds.example.org:80/a", "http://cds.example.org/a"),
        ("http://cds.example.org:443/a", "http://cds.example.org:443/a"),
        ("https://cds.example.org:8443/a//", "https://cds.example.org:8443/a"),
        ("https://cds.example.org", "https://cds.example.org"),
        ("https://cds.example.org/", "https://cds.example.org"),
        ("https://[::1]:443/a", "https://[::1]/a"),
        ("https://cds.example.org/a?x=1#frag", "https://cds.example.org/a?x=1"),
        (" https://cds.example.org/a ", "https://cds.example.org/a"),
    ],
)
def test_normalise_url(url, expected):
    assert normalise_url(url) == expected


@pytest.mark.parametrize(
    "url", ["", "/cds-services/x", "cds.example.org/x", "ftp://cds.example.org/x", "https://", "https://u:p@h/x",
            "https://h:99999/x", "https://h:port/x"],
)
def test_normalise_url_refuses_what_is_no_absolute_http_url(url):
    with pytest.raises(ValueError):
        normalise_url(url)


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://ehr.example.org/fhir", True),
        ("https://EHR.example.org:443/fhir/", True),
        ("https://ehr.example.org/fhir/r4", True),
        ("https://ehr.example.org/fhir-evil", False),
        ("https://ehr.example.org/fhirx/r4", False),
        ("https://ehr.example.org/", False),
        ("http://ehr.example.org/fhir", False),
        ("https://ehr.example.org:8443/fhir", False),
        ("https://ehr.example.org.evil.example/fhir", False),
        ("https://ehr.example.org/fhir/../admin", False),
        ("https://ehr.example.org/fhir/%2e%2e/admin", False),
        ("https://ehr.example.org/fhir?_format=json", False),
        ("https://user@ehr.example.org/fhir", False),
        ("not a url", False),
    ],
)
def test_caller_fhir_server_allowlist_by_prefix(verifier, clock, ehr_ec_key, url, allowed):
    caller = verifier.verify(bearer(ehr_token(ehr_ec_key, "ES384", "ec-1", clock)), AUD)
    assert caller.allows_fhir_server(url) is allowed


def test_issuer_without_fhir_servers_may_name_none(verifier, clock):
    caller = verifier.verify(bearer(sandbox_token(AUD, now=clock.t)), AUD)
    assert not caller.allows_fhir_server("https://launch.smarthealthit.org/v/r4/fhir")


def test_unusable_audience_url_refused(verifier, clock):
    assert "audience" in refused(verifier, bearer(sandbox_token(AUD, now=clock.t)), "/cds-services/x")


# --------------------------------------------------------------------------- replay stores


def _sqlite_engines(path: Path, n: int = 2):
    return [create_engine(f"sqlite:///{path}") for _ in range(n)]


def test_sql_replay_store_shared_between_two_engines(tmp_path):
    a, b = (SqlReplayStore(e) for e in _sqlite_engines(tmp_path / "replay.db"))
    assert a.remember(SANDBOX_ISS, "j1", T0 + 300, T0) is True
    assert b.remember(SANDBOX_ISS, "j1", T0 + 300, T0 + 1) is False
    assert b.remember("https://other.example.org", "j1", T0 + 300, T0 + 1) is True  # per issuer
    assert a.remember(SANDBOX_ISS, "j1", T0 + 700, T0 + 301) is True  # the old one has expired


def test_two_workers_refuse_each_others_replays(tmp_path, trust_doc, clock):
    workers = [
        JwtVerifier(TrustStore.from_dict(trust_doc, "."), SqlReplayStore(engine), now=clock)
        for engine in _sqlite_engines(tmp_path / "replay.db")
    ]
    token = sandbox_token(AUD, now=clock.t)
    workers[0].verify(bearer(token), AUD)
    assert "replayed" in refused(workers[1], bearer(token))
    assert "replayed" in refused(workers[0], bearer(token))


def test_sql_replay_store_purges_expired_rows(tmp_path):
    (engine,) = _sqlite_engines(tmp_path / "replay.db", 1)
    store = SqlReplayStore(engine, purge_interval=0)
    store.remember(SANDBOX_ISS, "old", T0 + 10, T0)
    store.remember(SANDBOX_ISS, "new", T0 + 900, T0 + 20)
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT jti FROM jwt_replay"))] == ["new"]


@pytest.mark.parametrize("n_threads", [8])
def test_sql_replay_store_under_concurrency_accepts_a_jti_exactly_once(tmp_path, n_threads):
    engines = _sqlite_engines(tmp_path / "replay.db", 2)
    stores = [SqlReplayStore(e) for e in engines]
    barrier = threading.Barrier(n_threads)
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        store = stores[i % 2]
        try:
            barrier.wait(timeout=10)
            for jti in ("shared-1", "shared-2", f"own-{i}"):
                ok = store.remember(SANDBOX_ISS, jti, T0 + 300, T0)
                with lock:
                    results.append((jti, ok))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    for jti in ("shared-1", "shared-2"):
        assert sorted(ok for j, ok in results if j == jti) == [False] * (n_threads - 1) + [True]
    assert all(ok for j, ok in results if j.startswith("own-"))


def test_memory_replay_store_under_concurrency_accepts_a_jti_exactly_once():
    store = MemoryReplayStore()
    outcomes: list[bool] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait(timeout=10)
        outcomes.append(store.remember(SANDBOX_ISS, "same", T0 + 300, T0))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(outcomes) == [False] * 7 + [True]


def test_concurrent_replays_of_one_token_accepted_once(tmp_path, trust_doc, clock):
    engines = _sqlite_engines(tmp_path / "replay.db", 2)
    workers = [JwtVerifier(TrustStore.from_dict(trust_doc, "."), SqlReplayStore(e), now=clock) for e in engines]
    token = sandbox_token(AUD, now=clock.t)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def call(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            workers[i % 2].verify(bearer(token), AUD)
            outcomes.append("ok")
        except AuthError as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("ok") == 1
    assert all("replayed" in o for o in outcomes if o != "ok")


def test_replay_store_failure_is_not_an_auth_failure(tmp_path, trust_doc, clock):
    (engine,) = _sqlite_engines(tmp_path / "replay.db", 1)
    store = SqlReplayStore(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE jwt_replay"))
    v = JwtVerifier(TrustStore.from_dict(trust_doc, "."), store, now=clock)
    with pytest.raises(ReplayStoreError):
        v.verify(bearer(sandbox_token(AUD, now=clock.t)), AUD)


# --------------------------------------------------------------------------- PostgreSQL

PG_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres-for-tests.sh"


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = os.environ.get("SPINE_CDS_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        out = subprocess.run(["bash", str(PG_SCRIPT), "start"], capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"PostgreSQL could not be started: {exc}")
    if out.returncode != 0:
        pytest.fail(f"PostgreSQL could not be started: {out.stderr.strip()[-300:]}")
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.postgres
def test_sql_replay_store_on_postgres_across_engines_and_threads(postgres_url):
    engines = [create_engine(postgres_url, pool_size=8) for _ in range(2)]
    try:
        stores = [SqlReplayStore(e) for e in engines]
        iss = f"https://pg-{uuid.uuid4()}.example.org"  # fresh per run: the database outlives the test
        assert stores[0].remember(iss, "j1", T0 + 300, T0) is True
        assert stores[1].remember(iss, "j1", T0 + 300, T0 + 1) is False
        assert stores[1].remember(iss, "j1", T0 + 700, T0 + 301) is True  # expired: may come back

        outcomes: list[bool] = []
        barrier = threading.Barrier(8)

        def worker(i: int) -> None:
            barrier.wait(timeout=10)
            outcomes.append(stores[i % 2].remember(iss, "race", T0 + 300, T0))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == [False] * 7 + [True]
    finally:
        for e in engines:
            e.dispose()
