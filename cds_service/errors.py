"""Errors as FHIR OperationOutcome JSON (api-contract.md), never a stack trace."""
from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

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
        # A 500 is a bug. Log the class and the place, not the trace or any data.
        log.error("unhandled error", extra={"error_type": type(exc).__name__, "where": _where(exc)})
        return outcome_response(500, [issue(_GENERIC[500], code="exception", severity="fatal")])
