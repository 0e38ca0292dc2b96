"""The verifier: one CDS Hooks JWT -> the :class:`Caller`, or :class:`AuthError`.

PyJWT checks the signature, the required claims (``exp``, ``iat``, ``jti``), the
times (``exp``, ``iat``, ``nbf``, with ``clock_skew`` as leeway, on this verifier's
clock) and the types of ``jti`` and ``sub``. What is left here is what CDS Hooks and
the API contract add: ES384/RS384 only and fitting the key, ``iss`` from the trust
file, the ``kid``/``jku`` rules, ``aud`` naming the configured URL that was called,
NumericDates that are numbers, a bounded lifetime, tenants, and ``jti`` replay.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from jwt.types import Options

from ..urls import has_dot_segment, is_within, normalise_url
from .errors import AuthError
from .errors import short as _short
from .keys import ALLOWED_ALGORITHMS, MAX_KID_LENGTH, JwksCache, VerificationKey
from .replay import MAX_JTI_LENGTH, ReplayStore
from .trust import Issuer, TrustStore

__all__ = ["MAX_AUTHORIZATION_LENGTH", "Caller", "JwtVerifier"]

#: An Authorization header longer than this is refused before any parsing.
MAX_AUTHORIZATION_LENGTH = 8192
_BEARER_RE = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$")


@dataclass(frozen=True)
class Caller:
    """An authenticated CDS client."""

    iss: str
    jti: str
    tenant: str | None = None
    sub: str | None = None
    fhir_servers: tuple[str, ...] = ()

    def allows_fhir_server(self, url: str) -> bool:
        """Whether this caller may have the service fetch from ``url`` (a ``fhirServer``).

        True only when ``url``, normalised, is one of the issuer's ``fhir_servers`` or
        lies below one (on a path-segment boundary, ``urls.is_within``), and has no
        query, no user information and no dot segments. No ``fhir_servers`` listed:
        always False (prefetch only).
        """
        try:
            wanted = normalise_url(url)
        except ValueError:
            return False
        if "?" in wanted or has_dot_segment(wanted):
            return False
        return any(is_within(wanted, base) for base in self.fhir_servers)


class _ClockedJWT(jwt.PyJWT):
    """PyJWT's claim checks on the verifier's clock (PyJWT itself reads the system clock).

    RFC 7519 NumericDates may be fractional; PyJWT compares them cut to whole seconds,
    which would move ``iat`` and ``nbf`` up to a second into the past. They are
    rounded up instead, so the check is never looser than the claim."""

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__()
        self._clock = now

    def _validate_iat(self, payload: dict[str, Any], now: float, leeway: float) -> None:
        super()._validate_iat(_ceil(payload, "iat"), self._clock(), leeway)

    def _validate_nbf(self, payload: dict[str, Any], now: float, leeway: float) -> None:
        super()._validate_nbf(_ceil(payload, "nbf"), self._clock(), leeway)

    def _validate_exp(self, payload: dict[str, Any], now: float, leeway: float) -> None:
        super()._validate_exp(payload, self._clock(), leeway)


def _ceil(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if isinstance(value, float) and math.isfinite(value):
        return {**payload, name: math.ceil(value)}
    return payload


#: required claims and time checks by PyJWT; aud and iss are ours (normalised URL, trust file)
_PYJWT_OPTIONS: Options = {
    "verify_signature": True,
    "require": ["exp", "iat", "jti"],
    "verify_exp": True,
    "verify_iat": True,
    "verify_nbf": True,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": True,
    "verify_jti": True,
}


class JwtVerifier:
    """Checks CDS Hooks JWTs against a TrustStore. Thread-safe; one per process.

    ``clock_skew``: seconds allowed on exp/iat/nbf. ``http_session``: used to
    fetch jku URLs (a new requests.Session by default). ``now``: the clock
    (epoch seconds). ``jwks_ttl`` / ``jwks_min_refresh``: see :class:`JwksCache`.
    ``max_lifetime``: tokens with ``exp - iat`` above this are refused (CDS
    clients sign one short-lived token per call; the sandbox uses 300 s), which
    also bounds how long a jti is kept in the replay store.
    """

    def __init__(
        self,
        trust: TrustStore,
        replay_store: ReplayStore,
        *,
        clock_skew: float = 5.0,
        http_session: requests.Session | None = None,
        now: Callable[[], float] = time.time,
        jwks_ttl: float = 300.0,
        jwks_min_refresh: float = 30.0,
        max_lifetime: float = 3600.0,
    ) -> None:
        if not 0 <= clock_skew <= 300:
            raise ValueError("clock_skew must be between 0 and 300 seconds")
        if not 0 < max_lifetime <= 86400:
            raise ValueError("max_lifetime must be between 0 and 86400 seconds")
        self._max_lifetime = float(max_lifetime)
        self._trust = trust
        self._replay = replay_store
        self._skew = float(clock_skew)
        self._now = now
        self._jwks = JwksCache(
            http_session if http_session is not None else requests.Session(),
            now=now,
            ttl=jwks_ttl,
            min_refresh=jwks_min_refresh,
        )
        self._decoder = _ClockedJWT(now)

    def verify(self, authorization_header: str | None, audience_url: str) -> Caller:
        """Authenticate a call to ``audience_url`` (the full URL of the endpoint called).

        Returns the Caller; raises AuthError (answer 401) or ReplayStoreError (503).
        """
        token = _bearer_token(authorization_header)
        try:
            audience = normalise_url(audience_url)
        except ValueError as exc:
            raise AuthError(f"the endpoint URL cannot be used as audience ({exc})") from None
        alg, kid, jku = _check_header(_header(token))
        unverified = self._unverified_claims(token)
        issuer = self._issuer(unverified)
        key = self._find_key(issuer, kid, jku)
        if not key.fits(alg):
            raise AuthError(f"alg {alg} does not fit key {_short(kid)} of issuer {issuer.iss}")
        claims = self._decode(token, key, alg, issuer.iss)
        exp = self._check_lifetime(claims, issuer.iss)
        if not _audience_matches(claims.get("aud"), audience):
            raise AuthError(f"aud does not name {audience}")
        jti = claims["jti"]
        if not jti or len(jti) > MAX_JTI_LENGTH:
            raise AuthError(f"no usable 'jti' claim (issuer {issuer.iss})")
        tenant = _tenant(claims, issuer)
        # Checked last, so that only tokens that pass every other check use up their jti.
        if not self._replay.remember(issuer.iss, jti, exp + self._skew, self._now()):
            raise AuthError(f"jti replayed (issuer {issuer.iss})")
        sub = claims.get("sub")
        return Caller(iss=issuer.iss, jti=jti, tenant=tenant, sub=sub if isinstance(sub, str) else None,
                      fhir_servers=issuer.fhir_servers)

    def _unverified_claims(self, token: str) -> dict[str, Any]:
        """The claims before the signature is checked: only to find the issuer, and to refuse
        NumericDates that are not numbers (PyJWT would take ``"123"`` and ``true``)."""
        try:
            claims = self._decoder.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, RecursionError) as exc:
            raise AuthError(f"malformed token ({type(exc).__name__})") from None
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise AuthError(f"'{name}' is not a number")
        return claims

    def _issuer(self, claims: Mapping[str, Any]) -> Issuer:
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss:
            raise AuthError("no 'iss' claim")
        issuer = self._trust.get(iss)
        if issuer is None:
            raise AuthError(f"issuer {_short(iss)} is not trusted")
        return issuer

    def _decode(self, token: str, key: VerificationKey, alg: str, iss: str) -> dict[str, Any]:
        """Signature, required claims and times, by PyJWT; its refusals as log reasons."""
        try:
            return self._decoder.decode(token, key.key, algorithms=[alg], options=_PYJWT_OPTIONS,
                                        leeway=self._skew)
        except jwt.InvalidSignatureError:
            raise AuthError(f"bad signature (issuer {iss}, kid {_short(key.kid)})") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"no '{exc.claim}' claim (issuer {iss})") from None
        except jwt.ExpiredSignatureError:
            raise AuthError(f"token expired (issuer {iss})") from None
        except jwt.ImmatureSignatureError as exc:
            which = "nbf" if "nbf" in str(exc) else "iat"
            what = "not valid yet" if which == "nbf" else "issued in the future"
            raise AuthError(f"token {what} ({which}, issuer {iss})") from None
        except jwt.exceptions.InvalidJTIError:
            raise AuthError(f"no usable 'jti' claim (issuer {iss})") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"token refused by the JWT library ({type(exc).__name__}: {str(exc)[:100]})") from None

    def _check_lifetime(self, claims: Mapping[str, Any], iss: str) -> float:
        """CDS clients sign one short-lived token per call: ``exp - iat`` at most ``max_lifetime``."""
        exp, iat = float(claims["exp"]), float(claims["iat"])
        if exp < iat:
            raise AuthError("exp is before iat")
        if exp - iat > self._max_lifetime:
            raise AuthError(f"token lifetime {exp - iat:.0f} s exceeds {self._max_lifetime:.0f} s (issuer {iss})")
        return exp

    def _find_key(self, issuer: Issuer, kid: str, jku: str | None) -> VerificationKey:
        static = issuer.keys.get(kid)
        if static is not None:
            # The inline/file JWKS names this kid: that key is used whatever jku says.
            return static
        if jku is not None:
            listed = issuer.listed_jku(jku)
            if listed is None:
                raise AuthError(f"jku {_short(jku)} not allowlisted for issuer {issuer.iss} and kid {_short(kid)} unknown")
            urls: tuple[str, ...] = (listed,)
        else:
            urls = issuer.jku  # no jku header: the allowlisted sets are the out-of-band ones
        for url in urls:
            key = self._jwks.get(url, kid)
            if key is not None:
                return key
        raise AuthError(f"no key {_short(kid)} for issuer {issuer.iss}")


def _check_header(header: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """alg, kid and jku of a JOSE header CDS Hooks accepts."""
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise AuthError(f"algorithm {_short(alg)} not allowed (only {', '.join(ALLOWED_ALGORITHMS)})")
    if "crit" in header:
        raise AuthError("'crit' header parameters are not supported")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise AuthError(f"typ {_short(typ)} is not JWT")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise AuthError("the header has no usable 'kid'")
    jku = header.get("jku")
    if jku is not None and not isinstance(jku, str):
        raise AuthError("'jku' is not a string")
    return str(alg), kid, jku


def _tenant(claims: Mapping[str, Any], issuer: Issuer) -> str | None:
    tenant = claims.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise AuthError("'tenant' is not a string")
    if issuer.tenants is not None and tenant not in issuer.tenants:
        raise AuthError(f"tenant {_short(tenant)} not allowed for issuer {issuer.iss}")
    return tenant


def _bearer_token(header: str | None) -> str:
    if header is None or not isinstance(header, str) or not header.strip():
        raise AuthError("no Authorization header")
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        raise AuthError(f"Authorization header longer than {MAX_AUTHORIZATION_LENGTH} characters")
    match = _BEARER_RE.match(header.strip())
    if match is None:
        first = header.strip().split(None, 1)[0]
        # Name the scheme only when it looks like one, so no token text reaches the log.
        scheme = repr(first) if first.isalpha() and len(first) <= 12 else "not shown"
        raise AuthError(f"Authorization is not 'Bearer <JWT>' (scheme {scheme})")
    return match.group(1)


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, RecursionError) as exc:
        raise AuthError(f"malformed token header ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise AuthError("malformed token header")
    return header


def _audience_matches(aud: Any, audience: str) -> bool:
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
    if not values:
        return False
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            if normalise_url(value) == audience:
                return True
        except ValueError:
            continue
    return False
