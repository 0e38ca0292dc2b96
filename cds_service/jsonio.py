"""JSON on the request path: orjson first, the standard library where orjson says no.

Measured on this project's sample responses (17 kB of cards): the standard
library encodes in ~200 µs and decodes a 12 kB hook request in ~170 µs; orjson
takes ~14 µs and ~80 µs. That difference is a sizeable part of a request.

orjson is stricter than ``json`` in a few corners: bodies in UTF-16/32, ``NaN``
and ``Infinity``, lone surrogates, integers beyond 64 bits, nesting beyond 1,024
levels, non-string keys, types it does not know. In each of those the standard
library decides, exactly as before, so what the service accepts and returns does
not change; only the common case gets faster.
"""
from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

# datetimes go through Flask's own conversion (HTTP dates), as with the default provider
_DUMP_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


#: orjson turns integers beyond 64 bits into floats (silently losing digits); a body with
#: a run of 19+ digits anywhere goes to the standard library, which keeps them exact.
#: (Found by mapping every digit to "0" and everything else to " ", then searching for 19
#: zeros: ~13 us on a 12 kB body, where a regular expression takes ~270 us.)
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def _has_long_digit_run(data: bytes | bytearray) -> bool:
    return data.translate(_DIGITS_AS_ZERO).find(_LONG_RUN) != -1


class LoneSurrogate(ValueError):
    """A JSON string escapes half of a UTF-16 surrogate pair (``"\\ud800"``): it is no text,
    cannot be encoded to UTF-8 (logs, the card log, a response) and is refused."""


def loads(raw: bytes | bytearray | str) -> Any:
    """``json.loads`` with the same results and errors (``ValueError``, ``RecursionError``);
    ``LoneSurrogate`` (a ``ValueError``) for a string that is not valid Unicode."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _has_long_digit_run(data):
        return _checked(json.loads(raw))
    try:
        return orjson.loads(data)  # refuses lone surrogates itself
    except orjson.JSONDecodeError:
        return _checked(json.loads(raw))


def _checked(doc: Any) -> Any:
    """``doc`` (from the standard library's reader) when all its strings are valid Unicode."""
    try:
        json.dumps(doc, ensure_ascii=False, allow_nan=True).encode("utf-8")
    except UnicodeEncodeError:
        raise LoneSurrogate("lone surrogate in a string") from None
    return doc


#: datetimes and dataclasses are left to the standard library, which refuses them as before
#: (a card-log row holding one is sanitised and counted, never written in another format)
_STORE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(obj: Any) -> str:
    """``json.dumps(obj)`` with the same values: orjson where it can (UTF-8 rather than
    ``\\u`` escapes, the same JSON once read), the standard library for what orjson refuses
    (a lone surrogate, a huge integer, a datetime, a type it does not know). Where orjson
    writes, NaN is null, as in the responses; where the standard library writes, NaN stays
    NaN as before. UUIDs and plain (non-str) Enums, which the standard library refuses, orjson
    writes as text / their value; the wire format has neither. The database's JSON columns
    (card log, feedback) are written with it."""
    try:
        return orjson.dumps(obj, option=_STORE_OPTIONS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(obj)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, serialising with orjson (compact, keys in insertion order)."""

    sort_keys = False  # card fields keep the order they were built in (summary first)

    def _fast(self, obj: Any) -> bytes | None:
        try:
            return orjson.dumps(obj, default=self.default, option=_DUMP_OPTIONS)
        except TypeError:  # something only the standard library encodes (e.g. a huge int)
            return None

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if not kwargs:
            data = self._fast(obj)
            if data is not None:
                return data.decode("utf-8")
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return json.loads(s, **kwargs) if kwargs else loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Any:
        pretty = self.compact is False or (self.compact is None and self._app.debug)
        if not pretty:
            data = self._fast(self._prepare_response_obj(args, kwargs))
            if data is not None:
                return self._app.response_class(data + b"\n", mimetype=self.mimetype)  # type: ignore[arg-type]
        return super().response(*args, **kwargs)
