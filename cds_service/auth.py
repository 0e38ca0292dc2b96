"""Authentication of CDS clients by the JWT of CDS Hooks 2.0 ("Trusting CDS Clients").

Every call carries ``Authorization: Bearer <jwt>``. This module checks that
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
- ``exp``, ``iat`` and ``jti`` are required, ``nbf`` is checked when present;
  times allow ``clock_skew`` seconds (default 5: the CDS Hooks Sandbox rounds
  its clock, so its ``iat`` can be half a second ahead);
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

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    insert,
    inspect,
)
from sqlalchemy.exc import (
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)

__all__ = [
    "ALLOWED_ALGORITHMS",
    "AuthError",
    "Caller",
    "Issuer",
    "JwtVerifier",
    "MemoryReplayStore",
    "ReplayStore",
    "ReplayStoreError",
    "SqlReplayStore",
    "TrustFileError",
    "TrustStore",
    "normalise_url",
]

log = logging.getLogger(__name__)

#: The only signing algorithms accepted (CDS Hooks 2.0 recommends exactly these).
ALLOWED_ALGORITHMS: tuple[str, ...] = ("ES384", "RS384")
#: An Authorization header longer than this is refused before any parsing.
MAX_AUTHORIZATION_LENGTH = 8192
MAX_JTI_LENGTH = 255
MAX_KID_LENGTH = 255
MAX_ISS_LENGTH = 1024
MIN_RSA_BITS = 2048
#: Bounds on a JWKS fetched from a jku URL.
MAX_JWKS_BYTES = 64 * 1024
MAX_JWKS_KEYS = 50

_BEARER_RE = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class AuthError(Exception):
    """The request is not authenticated. ``reason`` is for the log, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TrustFileError(ValueError):
    """The trust file cannot be used; the message says where and why."""


class ReplayStoreError(RuntimeError):
    """The replay store could not be consulted: the request cannot be authenticated
    now (answer 503, not 401, so the caller is not told its token is bad)."""


def _short(value: Any, limit: int = 80) -> str:
    """repr of an untrusted value, cut for the log."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


# --------------------------------------------------------------------------- URLs


def normalise_url(url: str) -> str:
    """The canonical form of an absolute http(s) URL, for comparing ``aud`` and base URLs.

    Scheme and host in lower case, the default port dropped, trailing slashes
    dropped, the fragment dropped; path and query are kept as they are.
    Raises ``ValueError`` for anything that is not an absolute http(s) URL with
    a host, or that carries user information.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("not a URL")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {_short(url)}")
    if "@" in parts.netloc:
        raise ValueError("URL carries user information")
    host = parts.hostname
    if not host:
        raise ValueError(f"URL has no host: {_short(url)}")
    port = parts.port  # ValueError for a port that is not a number in range
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def _has_dot_segment(normalised: str) -> bool:
    path = urlsplit(normalised).path
    return any(unquote(seg) in (".", "..") for seg in path.split("/"))


def _is_secure_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)


# --------------------------------------------------------------------------- keys


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


def _parse_jwks(doc: Any, *, strict: bool, where: str) -> dict[str, VerificationKey]:
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


# --------------------------------------------------------------------------- trust file


@dataclass(frozen=True)
class Issuer:
    """One trusted CDS client (an entry of the trust file)."""

    iss: str
    keys: Mapping[str, VerificationKey] = field(default_factory=dict)  # inline or file JWKS
    jku: tuple[str, ...] = ()  # allowlisted JWKS URLs, as written in the trust file
    tenants: frozenset[str] | None = None  # None: any tenant (or none)
    fhir_servers: tuple[str, ...] = ()  # normalised base URLs

    def listed_jku(self, url: str) -> str | None:
        """The configured jku URL that ``url`` names (compared normalised), or None."""
        try:
            wanted = normalise_url(url)
        except ValueError:
            return None
        for configured in self.jku:
            if normalise_url(configured) == wanted:
                return configured
        return None


_ISSUER_FIELDS = {"iss", "jwks", "jwks_file", "jku", "tenants", "fhir_servers"}


class TrustStore:
    """The issuers this service trusts, validated once at start-up."""

    def __init__(self, issuers: Iterable[Issuer] = ()) -> None:
        self._issuers: dict[str, Issuer] = {}
        for issuer in issuers:
            if issuer.iss in self._issuers:
                raise TrustFileError(f"issuer {issuer.iss!r} is listed twice")
            self._issuers[issuer.iss] = issuer

    @classmethod
    def empty(cls) -> TrustStore:
        """No trusted issuer: every token is refused (no trust file configured)."""
        return cls(())

    @classmethod
    def from_file(cls, path: str | Path) -> TrustStore:
        """Read and validate a trust file; ``jwks_file`` paths are relative to it."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TrustFileError(f"trust file {path}: cannot be read ({exc.strerror or exc})") from None
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise TrustFileError(f"trust file {path}: not valid JSON ({exc})") from None
        try:
            return cls.from_dict(doc, path.parent)
        except TrustFileError as exc:
            raise TrustFileError(f"trust file {path}: {exc}") from None

    @classmethod
    def from_dict(cls, doc: Any, base_dir: str | Path) -> TrustStore:
        """Validate a parsed trust file; raises TrustFileError naming the faulty entry."""
        if not isinstance(doc, dict):
            raise TrustFileError("the trust file must be a JSON object with an 'issuers' list")
        unknown = set(doc) - {"issuers"}
        if unknown:
            raise TrustFileError(f"unknown top-level field(s): {', '.join(sorted(unknown))}")
        entries = doc.get("issuers")
        if not isinstance(entries, list):
            raise TrustFileError("'issuers' must be a list")
        base = Path(base_dir)
        issuers: list[Issuer] = []
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            issuer = _parse_issuer(entry, f"issuers[{i}]", base)
            if issuer.iss in seen:
                raise TrustFileError(f"issuers[{i}]: issuer {issuer.iss!r} is listed twice")
            seen.add(issuer.iss)
            issuers.append(issuer)
        if not issuers:
            log.warning("the trust file lists no issuer: every token will be refused")
        return cls(issuers)

    def get(self, iss: str) -> Issuer | None:
        return self._issuers.get(iss)

    @property
    def issuers(self) -> tuple[Issuer, ...]:
        return tuple(self._issuers.values())


def _string_list(entry: dict[str, Any], name: str, where: str) -> list[str] | None:
    if name not in entry:
        return None
    value = entry[name]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise TrustFileError(f"{where}: '{name}' must be a non-empty list of non-empty strings")
    return value


def _parse_issuer(entry: Any, where: str, base: Path) -> Issuer:
    if not isinstance(entry, dict):
        raise TrustFileError(f"{where}: an issuer must be a JSON object")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss.strip() or len(iss) > MAX_ISS_LENGTH:
        raise TrustFileError(f"{where}: 'iss' must be a non-empty string")
    where = f"{where} ({iss})"
    unknown = set(entry) - _ISSUER_FIELDS
    if unknown:
        raise TrustFileError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_ISSUER_FIELDS))}"
        )
    if "jwks" in entry and "jwks_file" in entry:
        raise TrustFileError(f"{where}: give either 'jwks' or 'jwks_file', not both")

    keys: dict[str, VerificationKey] = {}
    if "jwks" in entry:
        try:
            keys = _parse_jwks(entry["jwks"], strict=True, where="jwks")
        except ValueError as exc:
            raise TrustFileError(f"{where}: {exc}") from None
    elif "jwks_file" in entry:
        name = entry["jwks_file"]
        if not isinstance(name, str) or not name.strip():
            raise TrustFileError(f"{where}: 'jwks_file' must be a path (relative to the trust file)")
        jwks_path = base / name
        try:
            jwks_doc = json.loads(jwks_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TrustFileError(f"{where}: jwks_file {jwks_path} cannot be read ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise TrustFileError(f"{where}: jwks_file {jwks_path} is not valid JSON ({exc})") from None
        try:
            keys = _parse_jwks(jwks_doc, strict=True, where=f"jwks_file {name}")
        except ValueError as exc:
            raise TrustFileError(f"{where}: {exc}") from None

    jku = _string_list(entry, "jku", where) or []
    for url in jku:
        try:
            normalise_url(url)
        except ValueError as exc:
            raise TrustFileError(f"{where}: jku {url!r} is not usable ({exc})") from None
        if not _is_secure_url(url):
            raise TrustFileError(f"{where}: jku {url!r} must use https (http only on loopback)")

    if not keys and not jku:
        raise TrustFileError(
            f"{where}: no usable key: give 'jwks', 'jwks_file' or 'jku' with at least one ES384 (P-384) or RS384 key"
        )

    tenants = _string_list(entry, "tenants", where)
    fhir = _string_list(entry, "fhir_servers", where) or []
    fhir_servers: list[str] = []
    for url in fhir:
        try:
            fhir_servers.append(normalise_url(url))
        except ValueError as exc:
            raise TrustFileError(f"{where}: fhir_servers entry {url!r} is not usable ({exc})") from None
        if urlsplit(fhir_servers[-1]).query:
            raise TrustFileError(f"{where}: fhir_servers entry {url!r} must be a base URL without a query")

    return Issuer(
        iss=iss,
        keys=keys,
        jku=tuple(jku),
        tenants=frozenset(tenants) if tenants is not None else None,
        fhir_servers=tuple(fhir_servers),
    )


# --------------------------------------------------------------------------- jku fetching


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
            return _parse_jwks(doc, strict=False, where=f"jku {url}")
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            raise JwksFetchError(f"not a usable JWKS: {str(exc)[:200]}") from None


# --------------------------------------------------------------------------- replay stores


class ReplayStore(Protocol):
    def remember(self, iss: str, jti: str, expires_at: float, now: float) -> bool:
        """Record (iss, jti) until ``expires_at``; False when it is already recorded
        and not yet expired (a replay)."""
        ...


class MemoryReplayStore:
    """A replay store for one process (unit tests, single-process demo)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def remember(self, iss: str, jti: str, expires_at: float, now: float) -> bool:
        with self._lock:
            for key in [k for k, exp in self._seen.items() if exp < now]:
                del self._seen[key]
            if (iss, jti) in self._seen:
                return False
            self._seen[(iss, jti)] = expires_at
            return True


replay_metadata = MetaData()

#: (iss, jti) of accepted tokens until they expire; the primary key makes a
#: second insert fail in whichever worker process tries it.
jwt_replay_table = Table(
    "jwt_replay",
    replay_metadata,
    Column("iss", String(MAX_ISS_LENGTH), nullable=False),
    Column("jti", String(MAX_JTI_LENGTH), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # epoch seconds, rounded up
    PrimaryKeyConstraint("iss", "jti", name="pk_jwt_replay"),
    Index("ix_jwt_replay_expires_at", "expires_at"),
)


def _sqlite_busy(exc: OperationalError) -> bool:
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return "locked" in text or "busy" in text


class SqlReplayStore:
    """A replay store in the database (SQLite file or PostgreSQL), shared by all
    worker processes that use the same database. Creates its table if needed.

    Expired rows of the same (iss, jti) are removed before the insert; all
    expired rows are purged at most once per ``purge_interval`` seconds.
    Database failures raise :class:`ReplayStoreError`.
    """

    _SQLITE_RETRIES = 8

    def __init__(self, engine: Engine, *, purge_interval: float = 60.0) -> None:
        self._engine = engine
        self._purge_interval = purge_interval
        self._last_purge: float | None = None
        self._purge_lock = threading.Lock()
        self._sqlite = engine.dialect.name == "sqlite"
        try:
            replay_metadata.create_all(engine, checkfirst=True)
        except (OperationalError, ProgrammingError):
            # Another worker created it at the same moment.
            if not inspect(engine).has_table(jwt_replay_table.name):
                raise

    def remember(self, iss: str, jti: str, expires_at: float, now: float) -> bool:
        t = jwt_replay_table
        now_s = math.floor(now)
        for attempt in range(self._SQLITE_RETRIES if self._sqlite else 1):
            try:
                with self._engine.begin() as conn:
                    conn.execute(delete(t).where(t.c.iss == iss, t.c.jti == jti, t.c.expires_at < now_s))
                    conn.execute(insert(t).values(iss=iss, jti=jti, expires_at=math.ceil(expires_at)))
                break
            except IntegrityError:
                return False
            except OperationalError as exc:
                # SQLite answers "database is locked" when writers collide (it may
                # refuse at once rather than wait, to avoid a deadlock): retry.
                if self._sqlite and _sqlite_busy(exc) and attempt + 1 < self._SQLITE_RETRIES:
                    time.sleep(0.02 * (attempt + 1))
                    continue
                raise ReplayStoreError(f"replay store unavailable: {type(exc).__name__}") from exc
            except SQLAlchemyError as exc:
                raise ReplayStoreError(f"replay store unavailable: {type(exc).__name__}") from exc
        self._maybe_purge(now_s)
        return True

    def _maybe_purge(self, now_s: int) -> None:
        with self._purge_lock:
            if self._last_purge is not None and now_s - self._last_purge < self._purge_interval:
                return
            self._last_purge = now_s
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(jwt_replay_table).where(jwt_replay_table.c.expires_at < now_s))
        except SQLAlchemyError as exc:  # purging is housekeeping: never fail a request for it
            log.warning("jwt_replay purge failed: %s", type(exc).__name__)


# --------------------------------------------------------------------------- verifier


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

        True only when ``url``, normalised, is one of the issuer's
        ``fhir_servers`` or lies below one (on a path-segment boundary), has no
        query, no user information and no dot segments. No ``fhir_servers``
        listed: always False (prefetch only).
        """
        try:
            wanted = normalise_url(url)
        except ValueError:
            return False
        if urlsplit(wanted).query or _has_dot_segment(wanted):
            return False
        return any(wanted == base or wanted.startswith(base + "/") for base in self.fhir_servers)


_SIGNATURE_ONLY = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
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
        self._decoder = jwt.PyJWT()

    def verify(self, authorization_header: str | None, audience_url: str) -> Caller:
        """Authenticate a call to ``audience_url`` (the full URL of the endpoint called).

        Returns the Caller; raises AuthError (answer 401) or ReplayStoreError (503).
        """
        token = _bearer_token(authorization_header)
        try:
            audience = normalise_url(audience_url)
        except ValueError as exc:
            raise AuthError(f"the endpoint URL cannot be used as audience ({exc})") from None

        header = _header(token)
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

        try:
            unverified = self._decoder.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, RecursionError) as exc:
            raise AuthError(f"malformed token ({type(exc).__name__})") from None
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise AuthError("no 'iss' claim")
        issuer = self._trust.get(iss)
        if issuer is None:
            raise AuthError(f"issuer {_short(iss)} is not trusted")

        key = self._find_key(issuer, kid, jku)
        if not key.fits(alg):
            raise AuthError(f"alg {alg} does not fit key {_short(kid)} of issuer {iss}")
        try:
            claims = self._decoder.decode(token, key.key, algorithms=[alg], options=_SIGNATURE_ONLY)
        except jwt.InvalidSignatureError:
            raise AuthError(f"bad signature (issuer {iss}, kid {_short(kid)})") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"token refused by the JWT library ({type(exc).__name__})") from None

        now = self._now()
        exp = self._time_claim(claims, "exp", required=True)
        iat = self._time_claim(claims, "iat", required=True)
        nbf = self._time_claim(claims, "nbf", required=False)
        if now >= exp + self._skew:
            raise AuthError(f"token expired (issuer {iss})")
        if iat > now + self._skew:
            raise AuthError(f"token issued in the future (iat {iat - now:.1f} s ahead, issuer {iss})")
        if nbf > now + self._skew:
            raise AuthError(f"token not valid yet (nbf, issuer {iss})")
        if exp < iat:
            raise AuthError("exp is before iat")
        if exp - iat > self._max_lifetime:
            raise AuthError(f"token lifetime {exp - iat:.0f} s exceeds {self._max_lifetime:.0f} s (issuer {iss})")

        if not _audience_matches(claims.get("aud"), audience):
            raise AuthError(f"aud does not name {audience}")

        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise AuthError(f"no usable 'jti' claim (issuer {iss})")

        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise AuthError("'tenant' is not a string")
        if issuer.tenants is not None and tenant not in issuer.tenants:
            raise AuthError(f"tenant {_short(tenant)} not allowed for issuer {iss}")

        sub = claims.get("sub")
        # Checked last, so that only tokens that pass every other check use up their jti.
        if not self._replay.remember(iss, jti, exp + self._skew, now):
            raise AuthError(f"jti replayed (issuer {iss})")
        return Caller(
            iss=iss,
            jti=jti,
            tenant=tenant,
            sub=sub if isinstance(sub, str) else None,
            fhir_servers=issuer.fhir_servers,
        )

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

    @staticmethod
    def _time_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> float:
        """A NumericDate claim; a missing optional one is -inf (never in the future)."""
        value = claims.get(name)
        if value is None:
            if required:
                raise AuthError(f"no '{name}' claim")
            return -math.inf
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AuthError(f"'{name}' is not a number")
        return float(value)


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
