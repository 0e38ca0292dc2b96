"""Errors as FHIR OperationOutcome JSON (api-contract.md), never a stack trace."""
from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from fhir_mappings import MappingError

log = logging.getLogger("spine_cds.errors")

FHIR_JSON = "application/fhir+json"

_STATUS_CODE = {400: "invalid", 401: "security", 403: "security", 404: "not-found", 405: "not-supported", 408: "exception",
                412: "incomplete", 413: "too-costly", 415: "not-supported", 429: "too-costly", 500: "exception",
                503: "exception"}

_GENERIC = {
    400: "The request is not valid.",
    401: "Authentication failed.",
    403: "Not allowed.",
    404: "Not found.",
    405: "Method not allowed.",
    408: "The request did not arrive in time.",
    412: "Required data is missing and could not be retrieved.",
    413: "The request body is too large.",
    415: "The request body must be JSON (application/json).",
    500: "Internal error: the request could not be processed.",
    503: "The service is not ready.",
}


class ServiceError(Exception):
    """An error the service answers with an OperationOutcome."""

    def __init__(self, status: int, diagnostics: str, *, expression: Iterable[str] | None = None,
                 code: str | None = None, issues: list[dict[str, Any]] | None = None):
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.expression = list(expression or [])
        self.code = code or _STATUS_CODE.get(status, "processing")
        self.issues = issues


def issue(diagnostics: str, *, code: str = "invalid", severity: str = "error",
          expression: Iterable[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    expr = [e for e in (expression or []) if e]
    if expr:
        out["expression"] = expr
    return out


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def outcome_response(status: int, issues: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(operation_outcome(issues)), status=status, mimetype=FHIR_JSON)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return "?"
    frame = tb[-1]
    return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        issues = exc.issues or [issue(exc.diagnostics, code=exc.code, expression=exc.expression)]
        headers = {"WWW-Authenticate": 'Bearer realm="spine-cds"'} if exc.status == 401 else None
        return outcome_response(exc.status, issues, headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        valid = getattr(exc, "valid_methods", None)
        if status == 405 and valid:
            headers["Allow"] = ", ".join(valid)
        return outcome_response(status, [issue(_GENERIC.get(status, exc.name),
                                               code=_STATUS_CODE.get(status, "processing"))], headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # A 500 is a bug: loud (logged, counted), never cards built on half-read data. Log the
        # class, the place and the mapping stage, not the trace or any data.
        kind = "mapping" if isinstance(exc, MappingError) else "unhandled"
        count = INTERNAL_ERRORS.add(kind)
        extra = {"error_type": type(exc).__name__, "where": _where(exc.__cause__ or exc), "count": count}
        if isinstance(exc, MappingError):
            extra["stage"] = exc.stage
            log.error("mapping failed: no cards for this request", extra=extra)
            return outcome_response(500, [issue(_MAPPING_FAILED, code="exception", severity="fatal")])
        log.error("unhandled error", extra=extra)
        return outcome_response(500, [issue(_GENERIC[500], code="exception", severity="fatal")])


_MAPPING_FAILED = ("The patient's record could not be read because of a defect in this service; no advice is "
                   "given rather than advice on part of the record. The defect has been logged.")


class ErrorCounter:
    """Internal errors by kind since the process started (each gunicorn worker its own),
    shown on /readyz so an operator sees a defect that keeps recurring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, kind: str) -> int:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            return self.counts[kind]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


INTERNAL_ERRORS = ErrorCounter()
