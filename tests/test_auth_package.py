"""The auth package after the split (issue 14): PyJWT checks required claims and times on
the verifier's clock; what CDS Hooks adds stays ours. And the one URL module
(cds_service.urls) that auth, the fhirServer allowlists and the FHIR client share."""
from __future__ import annotations

from pathlib import Path

import pytest

from cds_service import urls
from cds_service.auth import AuthError, JwtVerifier, MemoryReplayStore, TrustStore, verifier
from tests.support.jwt_tokens import SANDBOX_ISS, Clock, bearer, sandbox_token, sandbox_trust_doc

T0 = 1_750_000_000  # far from the real clock: a check on the system clock would refuse every token
AUD = "https://cds.example.org/cds-services/spine-metastases-treatment"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def v(clock) -> JwtVerifier:
    return JwtVerifier(TrustStore.from_dict(sandbox_trust_doc(), "."), MemoryReplayStore(), now=clock)


def _reason(v: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthError) as info:
        v.verify(bearer(token), AUD)
    return info.value.reason


def test_pyjwt_checks_times_on_the_verifiers_clock(v, clock):
    assert v.verify(bearer(sandbox_token(AUD, now=clock.t)), AUD).iss == SANDBOX_ISS
    clock.advance(10_000)
    assert "expired" in _reason(v, sandbox_token(AUD, now=T0))


def test_a_fractional_iat_is_not_cut_back_to_the_whole_second(clock):
    strict = JwtVerifier(TrustStore.from_dict(sandbox_trust_doc(), "."), MemoryReplayStore(), clock_skew=0,
                         now=clock)
    assert "future" in _reason(strict, sandbox_token(AUD, now=clock.t, iat=T0 + 0.2))
    assert "nbf" in _reason(strict, sandbox_token(AUD, now=clock.t, nbf=T0 + 0.2))


@pytest.mark.parametrize("claims", [{"exp": str(T0 + 300)}, {"iat": str(T0)}, {"nbf": False}])
def test_numericdates_must_be_numbers_although_pyjwt_would_take_them(v, clock, claims):
    assert "not a number" in _reason(v, sandbox_token(AUD, now=clock.t, **claims))


def test_sub_that_is_not_a_string_is_refused(v, clock):
    # stricter than before the split (it was accepted and dropped): PyJWT's verify_sub
    assert "Subject" in _reason(v, sandbox_token(AUD, now=clock.t, sub=42))


def test_no_auth_module_over_600_lines():
    for path in Path(verifier.__file__).parent.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 600, path.name


@pytest.mark.parametrize("url, base, strictly, inside", [
    ("http://h/fhir", "http://h/fhir", False, True),
    ("http://h/fhir", "http://h/fhir", True, False),
    ("HTTP://H:80/fhir/Observation?x=1", "http://h/fhir", True, True),
    ("http://h/fhir-other", "http://h/fhir", False, False),
    ("http://h/fhir/../outside", "http://h/fhir", False, False),
    ("http://h/fhir/%2e%2e/outside", "http://h/fhir", False, False),
    ("http://h/fhir/..%2Foutside", "http://h/fhir", False, False),
    ("http://h/fhir/a\\b", "http://h/fhir", False, False),
    ("http://h:8080/fhir", "http://h/fhir", False, False),
    ("https://h/fhir", "http://h/fhir", False, False),
    ("http://user@h/fhir", "http://h/fhir", False, False),
    ("not a url", "http://h/fhir", False, False),
])
def test_is_within(url, base, strictly, inside):
    assert urls.is_within(url, base, strictly=strictly) is inside


def test_auth_and_capture_use_the_shared_normalisation():
    from cds_service import auth
    from cds_service.capture import service
    assert auth.normalise_url is urls.normalise_url is service.normalise_url
