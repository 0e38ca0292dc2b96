"""The trust file of the API contract: which CDS clients (issuers) are trusted, with which
keys, tenants and FHIR servers. Validated once at start-up (``TrustFileError``)."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..urls import is_secure_url, normalise_url
from .errors import TrustFileError
from .keys import VerificationKey, parse_jwks

__all__ = ["MAX_ISS_LENGTH", "Issuer", "TrustStore"]

log = logging.getLogger("cds_service.auth")

MAX_ISS_LENGTH = 1024


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
    keys = _issuer_keys(entry, where, base)
    jku = _issuer_jku(entry, where)
    if not keys and not jku:
        raise TrustFileError(
            f"{where}: no usable key: give 'jwks', 'jwks_file' or 'jku' with at least one ES384 (P-384) or RS384 key"
        )
    tenants = _string_list(entry, "tenants", where)
    return Issuer(
        iss=iss,
        keys=keys,
        jku=tuple(jku),
        tenants=frozenset(tenants) if tenants is not None else None,
        fhir_servers=_issuer_fhir_servers(entry, where),
    )


def _issuer_keys(entry: dict[str, Any], where: str, base: Path) -> dict[str, VerificationKey]:
    """The inline ``jwks`` or the ``jwks_file`` (relative to the trust file), checked strictly."""
    if "jwks" in entry and "jwks_file" in entry:
        raise TrustFileError(f"{where}: give either 'jwks' or 'jwks_file', not both")
    if "jwks" in entry:
        doc, label = entry["jwks"], "jwks"
    elif "jwks_file" in entry:
        name = entry["jwks_file"]
        if not isinstance(name, str) or not name.strip():
            raise TrustFileError(f"{where}: 'jwks_file' must be a path (relative to the trust file)")
        jwks_path = base / name
        try:
            doc = json.loads(jwks_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TrustFileError(f"{where}: jwks_file {jwks_path} cannot be read ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise TrustFileError(f"{where}: jwks_file {jwks_path} is not valid JSON ({exc})") from None
        label = f"jwks_file {name}"
    else:
        return {}
    try:
        return parse_jwks(doc, strict=True, where=label)
    except ValueError as exc:
        raise TrustFileError(f"{where}: {exc}") from None


def _issuer_jku(entry: dict[str, Any], where: str) -> list[str]:
    jku = _string_list(entry, "jku", where) or []
    for url in jku:
        try:
            normalise_url(url)
        except ValueError as exc:
            raise TrustFileError(f"{where}: jku {url!r} is not usable ({exc})") from None
        if not is_secure_url(url):
            raise TrustFileError(f"{where}: jku {url!r} must use https (http only on loopback)")
    return jku


def _issuer_fhir_servers(entry: dict[str, Any], where: str) -> tuple[str, ...]:
    fhir_servers: list[str] = []
    for url in _string_list(entry, "fhir_servers", where) or []:
        try:
            fhir_servers.append(normalise_url(url))
        except ValueError as exc:
            raise TrustFileError(f"{where}: fhir_servers entry {url!r} is not usable ({exc})") from None
        if urlsplit(fhir_servers[-1]).query:
            raise TrustFileError(f"{where}: fhir_servers entry {url!r} must be a base URL without a query")
    return tuple(fhir_servers)
