"""Minting CDS Hooks client JWTs for tests (reusable by any test that calls the service).

- ``sandbox_token(aud, now=...)`` signs exactly as the CDS Hooks Sandbox does,
  with its published ES384 key (tests/fixtures/interop/cds-hooks-sandbox/).
- ``sandbox_trust_doc()`` is a trust-file document that trusts the sandbox with
  its published JWKS inline; ``TrustStore.from_dict(sandbox_trust_doc(), ".")``.
- ``new_ec_key()`` / ``new_rsa_key()`` + ``public_jwk()`` + ``mint()`` for other
  issuers; ``unsigned_token()`` and ``hmac_token()`` craft what must be refused.
- ``Clock`` is a settable clock for ``JwtVerifier(now=clock)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .interop import SANDBOX_DIR

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_LIFETIME = 300


class Clock:
    """A settable clock: ``clock()`` returns ``clock.t``; ``clock.advance(s)``."""

    def __init__(self, t: float | None = None) -> None:
        self.t = float(t if t is not None else int(time.time()))

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def sandbox_private_key() -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key((SANDBOX_DIR / "ecprivkey.pem").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def sandbox_jwks() -> dict[str, Any]:
    return json.loads((SANDBOX_DIR / "jwks.json").read_text(encoding="utf-8"))


def sandbox_trust_doc(**extra: Any) -> dict[str, Any]:
    """A trust-file document trusting the sandbox issuer with its published JWKS inline."""
    return {"issuers": [{"iss": SANDBOX_ISS, "jwks": sandbox_jwks(), **extra}]}


def sandbox_token(aud: str | list[str] | None, *, now: float | None = None, **claims: Any) -> str:
    """A token as the CDS Hooks Sandbox signs it: ES384, header kid + jku,
    claims iss/aud/exp=now+300/iat/jti. ``claims`` override or add claims
    (a value of None removes the claim; ``aud=None`` leaves aud out)."""
    t = int(now if now is not None else time.time())
    body = {
        "iss": SANDBOX_ISS,
        "aud": aud,
        "exp": t + SANDBOX_LIFETIME,
        "iat": t,
        "jti": str(uuid.uuid4()),
    }
    if aud is None:
        del body["aud"]
    return mint(sandbox_private_key(), "ES384", _merge(body, claims), kid=SANDBOX_KID, jku=SANDBOX_JKU)


def token_claims(iss: str, aud: str | list[str], *, now: float, lifetime: int = 300, **claims: Any) -> dict[str, Any]:
    """The standard CDS Hooks claims; ``claims`` override or add (None removes)."""
    t = int(now)
    body = {"iss": iss, "aud": aud, "exp": t + lifetime, "iat": t, "jti": str(uuid.uuid4())}
    return _merge(body, claims)


def _merge(body: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    for name, value in claims.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def mint(
    private_key: Any,
    alg: str,
    claims: dict[str, Any],
    *,
    kid: str | None = None,
    jku: str | None = None,
    typ: str | None = "JWT",
    extra_headers: dict[str, Any] | None = None,
) -> str:
    """Sign ``claims`` with PyJWT (asymmetric algorithms)."""
    headers: dict[str, Any] = {}
    if typ is not None:
        headers["typ"] = typ
    if kid is not None:
        headers["kid"] = kid
    if jku is not None:
        headers["jku"] = jku
    headers.update(extra_headers or {})
    return jwt.encode(claims, private_key, algorithm=alg, headers=headers)


def new_ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP384R1())


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_jwk(private_key: Any, kid: str, alg: str | None = None, **extra: Any) -> dict[str, Any]:
    """The public JWK of a generated key."""
    public = private_key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    jwk = {**jwk, "kid": kid, "use": "sig"}
    if alg is not None:
        jwk["alg"] = alg
    jwk.update(extra)
    return jwk


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys)}


def public_pem(private_key: Any) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{p}"


def unsigned_token(claims: dict[str, Any], **header: Any) -> str:
    """An ``alg: none`` token (empty signature)."""
    return _segments({"alg": "none", "typ": "JWT", **header}, claims) + "."


def hmac_token(secret: bytes, alg: str, claims: dict[str, Any], **header: Any) -> str:
    """An HMAC-signed token, e.g. signed with a public key's PEM as the secret
    (the classic algorithm-confusion attack). Built by hand because PyJWT
    rightly refuses to do it."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = _segments({"alg": alg, "typ": "JWT", **header}, claims)
    sig = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{b64url(sig)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"
