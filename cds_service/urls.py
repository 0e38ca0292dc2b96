"""URL normalisation and containment, one place for every check of where the service may
send a token or fetch from: the JWT ``aud`` and ``jku`` (auth), the ``fhirServer``
allowlists (trust file, demo mode, the capture app) and the FHIR client's next links."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_PORTS", "has_dot_segment", "is_loopback_host", "is_secure_url", "is_within",
           "normalise_url", "origin"]

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_ESCAPED_PATH = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


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
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {_short(url)}")
    if "@" in parts.netloc:
        raise ValueError("URL carries user information")
    host = parts.hostname
    if not host:
        raise ValueError(f"URL has no host: {_short(url)}")
    port = parts.port  # ValueError for a port that is not a number in range
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL without user information, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None \
            or parts.password is not None:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def has_dot_segment(url: str) -> bool:
    """Whether the path holds a ``.`` or ``..`` segment, also percent-escaped."""
    return any(unquote(seg) in (".", "..") for seg in urlsplit(url).path.split("/"))


def is_loopback_host(host: str | None) -> bool:
    return host is not None and host.lower() in LOOPBACK_HOSTS


def is_secure_url(url: str) -> bool:
    """https, or http to a loopback host (tests, a local sidecar)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def is_within(url: str, base: str, *, strictly: bool = False) -> bool:
    """Whether ``url`` lies at (unless ``strictly``) or below ``base`` (a normalised base URL
    without query) on a path-segment boundary, compared normalised and without the query.
    A URL whose path holds an escaped dot, slash or backslash, a backslash, or a dot segment
    is never within: it could mean something else to the server that receives it."""
    try:
        norm = normalise_url(url)
    except ValueError:
        return False
    parts = urlsplit(norm)
    if _ESCAPED_PATH.search(parts.path) or "\\" in parts.path or has_dot_segment(norm):
        return False
    bare = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return (bare == base and not strictly) or bare.startswith(base + "/")
