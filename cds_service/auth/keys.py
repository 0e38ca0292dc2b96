"""Key sets: public JWKs usable for ES384/RS384, from the trust file or fetched (cached,
bounded) from an issuer's allowlisted ``jku`` URLs."""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .errors import short as _short

__all__ = ["ALLOWED_ALGORITHMS", "JwksCache", "JwksFetchError", "MAX_JWKS_BYTES", "MAX_JWKS_KEYS",
           "MAX_KID_LENGTH", "MIN_RSA_BITS", "VerificationKey", "parse_jwks"]

log = logging.getLogger("cds_service.auth")

#: The only signing algorithms accepted (CDS Hooks 2.0 recommends exactly these).
ALLOWED_ALGORITHMS: tuple[str, ...] = ("ES384", "RS384")
MAX_KID_LENGTH = 255
MIN_RSA_BITS = 2048
#: Bounds on a JWKS fetched from a jku URL.
MAX_JWKS_BYTES = 64 * 1024
MAX_JWKS_KEYS = 50


@dataclass(frozen=True)
class VerificationKey:
    """A public key usable for ES384 or RS384, with the ``alg`` its JWK declared (if any)."""

    kid: str
    key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    alg: str | None = None

    def fits(self, alg: str) -> bool:
        """Whether a token with header ``alg`` may be checked with this key."""
        if self.alg is not None and self.alg != alg:
            return False
        if alg == "ES384":
            return isinstance(self.key, ec.EllipticCurvePublicKey) and isinstance(self.key.curve, ec.SECP384R1)
        if alg == "RS384":
            return isinstance(self.key, rsa.RSAPublicKey) and self.key.key_size >= MIN_RSA_BITS
        return False


class _UnusableKey(Exception):
    """A well-formed JWK that cannot verify ES384/RS384 (skipped, not an error)."""


def _parse_jwk(obj: Any) -> VerificationKey:
    """One public JWK -> VerificationKey.

    Raises ``ValueError`` for a malformed key or one carrying private or
    symmetric key material, ``_UnusableKey`` for a sound key of another kind.
    """
    if not isinstance(obj, dict):
        raise ValueError("a key must be a JSON object")  # noqa: TRY004 - a bad key document is a value error of the JWKS
    kty = obj.get("kty")
    if kty == "oct":
        raise ValueError("symmetric ('oct') keys are not allowed: CDS Hooks forbids shared secrets")
    if "d" in obj:
        raise ValueError("private key material ('d') must not be in a JWKS of public keys")
    kid = obj.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise ValueError("'kid' must be a non-empty string (CDS Hooks requires kid)")
    use = obj.get("use")
    if use is not None and use != "sig":
        raise _UnusableKey(f"kid {_short(kid)}: use {_short(use)} is not 'sig'")
    alg = obj.get("alg")
    if alg is not None and alg not in ALLOWED_ALGORITHMS:
        raise _UnusableKey(f"kid {_short(kid)}: alg {_short(alg)} is not one of {', '.join(ALLOWED_ALGORITHMS)}")
    key: Any
    if kty == "EC":
        if obj.get("crv") != "P-384":
            raise _UnusableKey(f"kid {_short(kid)}: EC curve {_short(obj.get('crv'))} is not P-384 (ES384)")
        try:
            key = ECAlgorithm.from_jwk(obj)
        except Exception as exc:  # noqa: BLE001 - PyJWT raises several types for bad JWKs
            raise ValueError(f"kid {_short(kid)}: not a valid EC key ({type(exc).__name__})") from None
    elif kty == "RSA":
        try:
            key = RSAAlgorithm.from_jwk(obj)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"kid {_short(kid)}: not a valid RSA key ({type(exc).__name__})") from None
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"kid {_short(kid)}: RSA key of {key.key_size} bits, at least {MIN_RSA_BITS} required")
    else:
        raise _UnusableKey(f"kid {_short(kid)}: key type {_short(kty)} is not EC or RSA")
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise ValueError(f"kid {_short(kid)}: not a public key")  # noqa: TRY004 - a bad key document is a value error of the JWKS
    return VerificationKey(kid=kid, key=key, alg=alg)


def parse_jwks(doc: Any, *, strict: bool, where: str) -> dict[str, VerificationKey]:
    """A JWK Set -> {kid: key}.

    ``strict`` (trust file): malformed, private or symmetric keys and duplicate
    kids are errors. Not strict (fetched from a jku): such keys are left out,
    and a duplicated kid is left out altogether (it would be ambiguous).
    Keys of other kinds (another curve, ``use: enc``...) are left out in both.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError(f"{where}: a JWKS must be an object with a 'keys' list")  # noqa: TRY004 - a bad key document is a value error of the JWKS
    keys_in = doc["keys"]
    if not strict and len(keys_in) > MAX_JWKS_KEYS:
        raise ValueError(f"{where}: more than {MAX_JWKS_KEYS} keys")
    out: dict[str, VerificationKey] = {}
    dropped: set[str] = set()
    for i, obj in enumerate(keys_in):
        try:
            vk = _parse_jwk(obj)
        except _UnusableKey as exc:
            log.info("%s: key %d left out: %s", where, i, exc)
            continue
        except ValueError as exc:
            if strict:
                raise ValueError(f"{where}.keys[{i}]: {exc}") from None
            log.warning("%s: key %d left out: %s", where, i, exc)
            continue
        if vk.kid in out or vk.kid in dropped:
            if strict:
                raise ValueError(f"{where}.keys[{i}]: kid {vk.kid!r} appears twice")
            out.pop(vk.kid, None)
            dropped.add(vk.kid)
            log.warning("%s: kid %r appears twice; neither is used", where, vk.kid)
            continue
        out[vk.kid] = vk
    return out


class JwksFetchError(Exception):
    pass


@dataclass
class _CacheEntry:
    keys: dict[str, VerificationKey]
    fetched_at: float


class JwksCache:
    """JWK Sets fetched from allowlisted jku URLs, per process.

    A set is used for ``ttl`` seconds, then fetched again; an unknown ``kid``
    also causes a fetch. Fetches of one URL happen at most once per
    ``min_refresh`` seconds (whatever tokens arrive), so a caller cannot make
    this service hammer a jku. When a fetch fails the previous set stays in use
    for at most ``stale_grace`` seconds past its ttl.
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        now: Callable[[], float],
        ttl: float = 300.0,
        min_refresh: float = 30.0,
        stale_grace: float = 600.0,
        timeout: tuple[float, float] = (2.0, 2.0),
        max_bytes: int = MAX_JWKS_BYTES,
    ) -> None:
        self._session = session
        self._now = now
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._stale_grace = stale_grace
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._entries: dict[str, _CacheEntry] = {}
        self._attempts: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, url: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(url, threading.Lock())

    def get(self, url: str, kid: str) -> VerificationKey | None:
        """The key ``kid`` from the JWKS at ``url`` (an allowlisted URL), or None."""
        with self._lock(url):
            t = self._now()
            entry = self._entries.get(url)
            if entry is not None and t - entry.fetched_at < self._ttl and kid in entry.keys:
                return entry.keys[kid]
            last = self._attempts.get(url)
            if last is None or t - last >= self._min_refresh:
                self._attempts[url] = t
                try:
                    keys = self._fetch(url)
                except JwksFetchError as exc:
                    log.warning("jku %s: fetch failed: %s", url, exc)
                else:
                    entry = _CacheEntry(keys, t)
                    self._entries[url] = entry
            if entry is not None and t - entry.fetched_at < self._ttl + self._stale_grace:
                return entry.keys.get(kid)
            return None

    def _fetch(self, url: str) -> dict[str, VerificationKey]:
        deadline = time.monotonic() + sum(self._timeout)
        try:
            with self._session.get(
                url,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
                headers={"Accept": "application/jwk-set+json, application/json"},
            ) as resp:
                if resp.status_code != 200:
                    raise JwksFetchError(f"HTTP {resp.status_code}")
                declared = resp.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
                    raise JwksFetchError(f"response of {declared} bytes exceeds {self._max_bytes}")
                body = bytearray()
                for chunk in resp.iter_content(chunk_size=8192):
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise JwksFetchError(f"response exceeds {self._max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise JwksFetchError("response too slow")
        except requests.RequestException as exc:
            raise JwksFetchError(type(exc).__name__) from None
        try:
            doc = json.loads(bytes(body).decode("utf-8"))
            return parse_jwks(doc, strict=False, where=f"jku {url}")
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            raise JwksFetchError(f"not a usable JWKS: {str(exc)[:200]}") from None
