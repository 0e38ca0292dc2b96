"""Structured (JSON) logs. Request logs carry hook, service, hookInstance,
status and duration; never patient data, tokens or request bodies.

Every field is bounded where the line is written (``bounded``): strings to
``FIELD_CHARS`` characters, lists and objects to ``FIELD_ITEMS`` entries, nesting
to three levels; a request cannot make a log line longer than a few kilobytes."""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import orjson

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


FIELD_CHARS = 200
FIELD_ITEMS = 20
_DEPTH = 3


def bounded(value: Any, depth: int = 0) -> Any:
    """``value`` cut to the log's limits (strings, lists, objects, nesting); numbers as they are."""
    if isinstance(value, str):
        return value if len(value) <= FIELD_CHARS else value[:FIELD_CHARS] + "…"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= _DEPTH:
        return bounded(str(value), depth)
    if isinstance(value, dict):
        return {bounded(str(k), _DEPTH): bounded(v, depth + 1) for k, v in list(value.items())[:FIELD_ITEMS]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [bounded(v, depth + 1) for v in list(value)[:FIELD_ITEMS]]
    return bounded(str(value), depth)


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
            "message": bounded(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = bounded(value)
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
