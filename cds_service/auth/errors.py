"""The exceptions of authentication, and how an untrusted value is shown in a log reason."""
from __future__ import annotations

from typing import Any

__all__ = ["AuthError", "ReplayStoreError", "TrustFileError", "short"]


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


def short(value: Any, limit: int = 80) -> str:
    """repr of an untrusted value, cut for the log."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"
