"""Tolerant access to FHIR JSON as sent by real clients.

Every helper accepts anything (wrong types, strings for objects, lists for
objects, numbers as strings) and returns a well-typed result or ``None`` /
an empty list; none of them raises.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

_NUM = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def as_dict(x: Any) -> dict:
    """An object; a one-element list of an object counts as that object."""
    if isinstance(x, dict):
        return x
    if isinstance(x, list) and x and isinstance(x[0], dict):
        return x[0]
    return {}


def as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, list):
        return x
    return [x]


def as_str(x: Any) -> str | None:
    if isinstance(x, str):
        s = x.strip()
        return s or None
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return str(x)
    return None


def as_number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x) if x == x and x not in (float("inf"), float("-inf")) else None
    if isinstance(x, str) and _NUM.match(x):
        v = float(x)
        return v if v == v and abs(v) != float("inf") else None
    return None


def as_bool(x: Any) -> bool | None:
    if isinstance(x, bool):
        return x
    if isinstance(x, str):
        s = x.strip().lower()
        if s in ("true", "yes", "y", "ja", "1"):
            return True
        if s in ("false", "no", "n", "nee", "0"):
            return False
    return None


def codings(cc: Any) -> list[tuple[str | None, str | None, str | None]]:
    """(system, code, display) of a CodeableConcept, Coding, list of either, or a bare code string."""
    out: list[tuple[str | None, str | None, str | None]] = []
    for item in as_list(cc):
        if isinstance(item, str):
            if item.strip():
                out.append((None, item.strip(), None))
            continue
        if not isinstance(item, dict):
            continue
        if "coding" in item:
            for c in as_list(item.get("coding")):
                if isinstance(c, dict):
                    code = as_str(c.get("code"))
                    if code is not None or as_str(c.get("display")):
                        out.append((as_str(c.get("system")), code, as_str(c.get("display"))))
                elif isinstance(c, str) and c.strip():
                    out.append((None, c.strip(), None))
        elif "code" in item or "system" in item:
            code = as_str(item.get("code"))
            if code is not None:
                out.append((as_str(item.get("system")), code, as_str(item.get("display"))))
    return out


def cc_text(cc: Any, cods: list[tuple[str | None, str | None, str | None]] | None = None) -> str | None:
    """CodeableConcept.text, else the first display. ``cods``: ``codings(cc)`` if the caller has them."""
    for item in as_list(cc):
        if isinstance(item, dict):
            t = as_str(item.get("text"))
            if t:
                return t
    for _s, _c, d in (codings(cc) if cods is None else cods):
        if d:
            return d
    return None


def texts(cc: Any) -> list[str]:
    out = []
    for item in as_list(cc):
        if isinstance(item, dict):
            t = as_str(item.get("text"))
            if t:
                out.append(t)
        elif isinstance(item, str) and item.strip():
            out.append(item.strip())
    out.extend(d for _s, _c, d in codings(cc) if d)
    return out


def status_code(x: Any) -> str | None:
    """A status given as code string (R4 Observation.status, STU3 Condition.clinicalStatus)
    or CodeableConcept (R4 Condition.clinicalStatus), lowercased."""
    if isinstance(x, str):
        return x.strip().lower() or None
    if type(x) is dict:
        # the usual CodeableConcept: its first Coding has the code codings() would find first
        coding = x.get("coding")
        if type(coding) is list and coding and type(coding[0]) is dict:
            code = coding[0].get("code")
            if type(code) is str and code.strip():
                return code.strip().lower()
    for _s, code, _d in codings(x):
        if code:
            return code.lower()
    return None


_DT = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                 r"\s*(Z|[+-]\d{2}:?\d{2})?)?)?)?$")


def date_text(raw: str, parsed: tuple[datetime, bool]) -> str:
    """The text to keep of a date string that ``parse_datetime`` read as ``parsed``: the
    string itself (the sender's precision) when it holds nothing but the date, else the
    date as read, in ISO 8601. Only readable dates are kept, so no record text passes
    for a date."""
    text = raw.strip()
    if _DT_TEXT.fullmatch(text):
        return text
    when, date_only = parsed
    return when.date().isoformat() if date_only else when.isoformat()


_DT_TEXT = re.compile(r"[0-9:TZ.+-]+")


def parse_datetime(x: Any, tz: timezone | Any = UTC) -> tuple[datetime, bool] | None:
    """(aware datetime, date_only) from a FHIR date/dateTime/instant string; None if unreadable.
    Partial dates (``2024``, ``2024-05``) read as their first day; no timezone = ``tz``."""
    if not isinstance(x, str):
        return None
    # The two usual forms, read by the C parser: ``2024-05-01`` and ``2024-05-01T10:00:00Z``.
    # The shape checks leave the C parser nothing it reads differently from _DT (no week
    # dates, fractions or offsets); whatever it refuses goes to the general reading below.
    if len(x) == 20 and x[10] == "T" and x[19] == "Z" and x[4] == x[7] == "-" and x[13] == x[16] == ":":
        try:
            return datetime.fromisoformat(x), False
        except ValueError:
            pass
    elif len(x) == 10 and x[4] == x[7] == "-":
        try:
            day = date.fromisoformat(x)
            return datetime(day.year, day.month, day.day, tzinfo=tz), True
        except ValueError:
            pass
    return _parse_datetime_general(x, tz)


def _parse_datetime_general(x: str, tz: timezone | Any) -> tuple[datetime, bool] | None:
    m = _DT.match(x.strip())
    if not m:
        return None
    y, mo, d, hh, mm, ss, zone = m.groups()
    try:
        day = date(int(y), int(mo or 1), int(d or 1))
        if hh is None:
            return datetime.combine(day, time(0, 0), tzinfo=tz), True
        t = time(int(hh), int(mm), int(ss or 0))
        if zone is None:
            tzinfo = tz
        elif zone == "Z":
            tzinfo = UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        return datetime.combine(day, t, tzinfo=tzinfo), False
    except (ValueError, OverflowError):
        return None


def parse_date(x: Any) -> date | None:
    p = parse_datetime(x)
    return p[0].date() if p else None


def reference(x: Any) -> str | None:
    """``Reference.reference`` (or a bare string)."""
    if isinstance(x, str):
        return x.strip() or None
    if isinstance(x, dict):
        return as_str(x.get("reference"))
    if isinstance(x, list) and x:
        return reference(x[0])
    return None


def ref_type_id(ref: str | None) -> tuple[str | None, str | None]:
    """``Patient/1``, ``http://x/fhir/Patient/1/_history/2`` -> (Patient, 1)."""
    if not ref:
        return None, None
    parts = [p for p in ref.split("?")[0].split("/") if p]
    if "_history" in parts:
        parts = parts[:parts.index("_history")]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2], parts[-1]
    return None, None


def walk_bundle(x: Any, depth: int = 0) -> Iterator[tuple[Any, str | None]]:
    """Every item of a request's resources: unpack Bundles (nested) and lists.
    Yields (item, fullUrl) where item is a resource dict or junk."""
    yield from bundle_items(x, depth)


def bundle_items(x: Any, depth: int = 0, out: list[tuple[Any, str | None]] | None = None
                 ) -> list[tuple[Any, str | None]]:
    """``walk_bundle`` as a list (appended to ``out``): no generator per nesting level
    for each of a large request's entries."""
    if out is None:
        out = []
    if depth > 8:
        out.append((x, None))
        return out
    if isinstance(x, list):
        for item in x:
            bundle_items(item, depth + 1, out)
        return out
    if isinstance(x, dict) and x.get("resourceType") == "Bundle":
        for entry in as_list(x.get("entry")):
            if isinstance(entry, dict) and "resource" in entry:
                res = entry.get("resource")
                if isinstance(res, dict) and res.get("resourceType") == "Bundle":
                    bundle_items(res, depth + 1, out)
                else:
                    out.append((res, as_str(entry.get("fullUrl"))))
            elif isinstance(entry, dict) and "resourceType" in entry:
                bundle_items(entry, depth + 1, out)
            else:
                out.append((entry, None))
        return out
    out.append((x, None))
    return out


def plain_concept_key(cc: Any) -> tuple[str | None, ...] | None:
    """(system, code, display, text) of the usual shape, a dict whose ``coding`` is one
    Coding, when all four are strings or absent: they alone decide what ``codings`` and
    ``cc_text`` read from it, so equal keys mean equal concepts. None for other shapes
    (read in full by ``codings``)."""
    if type(cc) is not dict:
        return None
    coding = cc.get("coding")
    if type(coding) is not list or len(coding) != 1 or type(coding[0]) is not dict:
        return None
    c = coding[0]
    key = (c.get("system"), c.get("code"), c.get("display"), cc.get("text"))
    for v in key:
        if v is not None and type(v) is not str:
            return None
    return key
