"""Wires CDS Hooks JWT authentication (the auth package) into requests.

With ``SPINE_CDS_AUTH=required`` (the default) every discovery, service and
feedback call needs a valid JWT from a trusted issuer; without a trust file
every token is refused. The 401 body never says why; the reason is logged
without the token.

Demo mode (authentication off, CORS ``*``) is for the browser of the machine it runs
on: only loopback Host headers are answered (``demo_host_allowed``; 421 otherwise) and
``fhirServer`` may name only the demo's own FHIR endpoint and SPINE_CDS_DEMO_FHIR_SERVERS.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from .errors import ServiceError
from .urls import has_dot_segment, is_loopback_host, is_within, normalise_url

log = logging.getLogger("spine_cds.auth")


#: the demo's own read-only FHIR endpoint (cds_service.demo), below the service's base URL
DEMO_FHIR_PATH = "/demo/fhir"


@dataclass
class Security:
    required: bool
    verifier: Any = None
    base_url: str | None = None
    #: demo mode without authentication: fhirServer only the demo's own endpoint and these
    demo: bool = False
    demo_servers: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], engine: Any) -> Security:
        if config["AUTH"] == "off":
            return cls(required=False, demo=bool(config.get("DEMO")),
                       demo_servers=tuple(config.get("DEMO_FHIR_SERVERS") or ()))
        verifier = None
        if config.get("TRUST"):
            from .auth import JwtVerifier, SqlReplayStore, TrustStore
            trust = TrustStore.from_file(config["TRUST"])
            verifier = JwtVerifier(trust, SqlReplayStore(engine), clock_skew=config["CLOCK_SKEW"])
        return cls(required=True, verifier=verifier, base_url=config.get("BASE_URL"))

    def audience(self, request: Any) -> str:
        if self.base_url:
            return self.base_url + request.path
        return request.base_url

    def authenticate(self, request: Any) -> Any:
        if not self.required:
            return None
        if self.verifier is None:
            log.warning("jwt refused", extra={"reason": "no trust file configured"})
            raise ServiceError(401, "Authentication failed.", code="security")
        from .auth import AuthError, ReplayStoreError
        try:
            return self.verifier.verify(request.headers.get("Authorization"), self.audience(request))
        except AuthError as exc:
            log.warning("jwt refused", extra={"reason": str(getattr(exc, "reason", exc))[:200]})
            raise ServiceError(401, "Authentication failed.", code="security") from None
        except ReplayStoreError:
            log.error("jwt replay store unavailable")
            raise ServiceError(503, "The service is not ready; please retry.") from None

    def fhir_server_allowed(self, caller: Any, own_base: str = "") -> Callable[[str], bool]:
        """Which fhirServer this call may name. With authentication: the caller's issuer's
        ``fhir_servers``. Demo mode without it (issue 19): any web page the demo user opens
        could post a hook call (CORS ``*``), so only the demo's own FHIR endpoint (below
        ``own_base``, the request's loopback root URL) and SPINE_CDS_DEMO_FHIR_SERVERS,
        never a loopback or intranet address of the page's choosing. Authentication off
        outside demo mode (tests): any."""
        if not self.required:
            if self.demo:
                bases = (*self.demo_servers, normalise_url(own_base.rstrip("/") + DEMO_FHIR_PATH))
                return partial(_listed, bases)
            return lambda url: True
        if caller is None:
            return lambda url: False
        return caller.allows_fhir_server


def _listed(bases: tuple[str, ...], url: str) -> bool:
    """``url`` is one of ``bases`` or below one, without query or dot segments."""
    try:
        wanted = normalise_url(url)
    except ValueError:
        return False
    return "?" not in wanted and not has_dot_segment(wanted) and any(is_within(wanted, b) for b in bases)


def demo_host_allowed(host: str) -> bool:
    """Demo mode answers only requests addressed to loopback (``localhost``, ``127.0.0.1``,
    ``[::1]``, any port): a page that rebinds its own DNS name to 127.0.0.1 (DNS rebinding)
    still sends its own name as Host and is refused (421)."""
    try:
        hostname = urlsplit("//" + host).hostname
        urlsplit("//" + host).port  # noqa: B018 - ValueError for a port that is no number
    except ValueError:
        return False
    return is_loopback_host(hostname)
