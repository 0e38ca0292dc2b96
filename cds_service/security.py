"""Wires CDS Hooks JWT authentication (auth.py) into requests.

With ``SPINE_CDS_AUTH=required`` (the default) every discovery, service and
feedback call needs a valid JWT from a trusted issuer; without a trust file
every token is refused. The 401 body never says why; the reason is logged
without the token.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ServiceError

log = logging.getLogger("spine_cds.auth")


@dataclass
class Security:
    required: bool
    verifier: Any = None
    base_url: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], engine: Any) -> Security:
        if config["AUTH"] == "off":
            return cls(required=False)
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

    def fhir_server_allowed(self, caller: Any) -> Callable[[str], bool]:
        if not self.required:
            return lambda url: True
        if caller is None:
            return lambda url: False
        return caller.allows_fhir_server
