"""Structured (JSON) logs. Request logs carry hook, service, hookInstance,
status and duration; never patient data, tokens or request bodies."""
from __future__ import annotations

import json
import logging
import sys
import time

import orjson

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


#: what ``json.dumps(out, default=str, ensure_ascii=False)`` builds on every call, built once
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text

    def format(self, record: logging.LogRecord) -> str:
        # The date-time text changes once a second: format it once per second.
        second, text = self._second
        if second != int(record.created):
            second = int(record.created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        out = {
            "time": f"{text}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        try:
            return orjson.dumps(out, default=str).decode("utf-8")
        except TypeError:  # what orjson cannot write (e.g. integers over 64 bits)
            return _ENCODER.encode(out)


_REQUEST_LOG = logging.getLogger("spine_cds.request")


def request_line(fields: dict) -> None:
    """Log the per-request line: the record ``logger.info("request", extra=fields)`` makes,
    handed to the same handlers, minus the caller lookup (``findCaller`` walks the stack
    on every call, for a file/line/function the JSON line never shows)."""
    logger = _REQUEST_LOG
    if logger.isEnabledFor(logging.INFO):
        logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, "request", (), None,
                                        "request_line", fields))


def configure(level: str = "INFO") -> None:
    root = logging.getLogger("spine_cds")
    if any(getattr(h, "_spine_cds", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._spine_cds = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = True
