"""Authentication of CDS clients by the JWT of CDS Hooks 2.0 ("Trusting CDS Clients").

The package: ``trust`` (the trust file: issuers, their keys, tenants, FHIR servers),
``keys`` (JWKs and the cached, bounded jku key sets), ``replay`` (jti replay stores),
``verifier`` (one token -> a Caller; PyJWT checks signature, required claims and
times, the rest is what CDS Hooks adds). URLs are compared by ``cds_service.urls``.

Every call carries ``Authorization: Bearer <jwt>``. This package checks that
token against the trust file of the API contract and either returns who the
caller is (:class:`Caller`) or raises :class:`AuthError`. It knows nothing of
Flask: the HTTP layer passes the header value and the URL that was called, and
answers 401 with a generic OperationOutcome on ``AuthError``. The reason in an
``AuthError`` is meant for the log only; it never contains the token.

Rules (CDS Hooks 2.0 and the contract):

- algorithms ES384 (EC P-384 key) and RS384 (RSA key of at least 2048 bits)
  only; ``none``, HMAC and everything else are refused, and so is a token whose
  ``alg`` does not fit the type of the key its ``kid`` names;
- ``iss`` must be an issuer of the trust file; the key is found by ``kid`` in
  the issuer's inline or file JWKS, or in the JWKS served at one of the
  issuer's allowlisted ``jku`` URLs (fetched with short timeouts and a size
  bound, cached, refreshed on an unknown ``kid`` at most once per
  ``jwks_min_refresh`` seconds). A token's ``jku`` header that the issuer does
  not list is refused unless its ``kid`` is in the issuer's inline/file JWKS
  (then that key is used and nothing is fetched);
- ``aud`` (a string or a list) must name the called URL, compared after
  :func:`normalise_url`;
- ``exp``, ``iat`` and ``jti`` are required, ``nbf`` is checked when present
  (by PyJWT, on the verifier's clock; NumericDates must be numbers); times allow
  ``clock_skew`` seconds (default 5: the CDS Hooks Sandbox rounds its clock, so its
  ``iat`` can be half a second ahead);
- a ``jti`` is accepted once per issuer while the token could still be valid
  (:class:`SqlReplayStore` shares this between worker processes);
- when the issuer lists ``tenants``, the ``tenant`` claim must be one of them.

Typical wiring::

    trust = TrustStore.from_file(path)            # TrustFileError at start-up
    verifier = JwtVerifier(trust, SqlReplayStore(engine))
    caller = verifier.verify(request.headers.get("Authorization"),
                             base_url + request.path)   # AuthError -> 401
    caller.allows_fhir_server(body["fhirServer"])
"""
from __future__ import annotations

from ..urls import normalise_url
from .errors import AuthError, ReplayStoreError, TrustFileError
from .keys import ALLOWED_ALGORITHMS, JwksCache, VerificationKey
from .replay import MemoryReplayStore, ReplayStore, SqlReplayStore, jwt_replay_table
from .trust import Issuer, TrustStore
from .verifier import Caller, JwtVerifier

__all__ = [
    "ALLOWED_ALGORITHMS",
    "AuthError",
    "Caller",
    "Issuer",
    "JwksCache",
    "JwtVerifier",
    "MemoryReplayStore",
    "ReplayStore",
    "ReplayStoreError",
    "SqlReplayStore",
    "TrustFileError",
    "TrustStore",
    "VerificationKey",
    "jwt_replay_table",
    "normalise_url",
]
