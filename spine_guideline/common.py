"""What every DX/TX topic module shares: three-valued reads, dates, missing/why
helpers, indicators and the vocabularies (enums) of the results.

One place for each: the "why unknown" text of a fact, one ``as_datetime`` with
one time-zone behaviour, one list of the neurological deficits.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from .facts import DraftOrder, Fact, Unknown
from .findings import Indicator, Message, Missing, msg
from .keys import VPBK_LEVEL, pick

#: guideline.md: "Neurological deficit" means any of these true (the order is the
#: order in which the cards list them)
NEURO_DEFICITS: tuple[str, ...] = ("mescc-deficit", "severe-neurological-deficit", "radicular-deficit")
MESCC = "mescc-deficit"
SEVERE = "severe-neurological-deficit"
RADICULAR = "radicular-deficit"


class MriState(str, enum.Enum):
    """A whole-spine MRI against the findings of DX-2 (see mri_window.mri_status)."""

    DONE = "done"          # made after every finding behind the row: DX-2 answered
    PLANNED = "planned"    # ordered, not done
    STALE = "stale"        # recent, but made before a finding (or its start is unknown)
    UNDATED = "undated"
    OLD = "old"
    NONE = "none"


# ---------------------------------------------------------------------------
# three-valued reads
# ---------------------------------------------------------------------------

def as_bool(fact: Fact) -> bool | None:
    """The fact's value when it is a boolean, else unknown."""
    return fact.value if isinstance(fact.value, bool) else None


def as_number(fact: Fact) -> float | None:
    """The fact's value when it is a number (not a boolean), else unknown."""
    v = fact.value
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


# ---------------------------------------------------------------------------
# missing data and notes
# ---------------------------------------------------------------------------

def why(fact: Fact) -> str:
    """Why the fact is unknown, as the wire code (``not-recorded`` when it does not say)."""
    return (fact.unknown or Unknown.NOT_RECORDED).value


def level_msg(level: str | None) -> Message:
    """The vertebra named in a card text (``unknown`` when the level is not known)."""
    return pick(VPBK_LEVEL, level) if level else msg("vpbk.level.unknown")


def missing_of(fact: Fact, code: str | None = None) -> Missing:
    """The missing-data entry for an unknown fact (``code`` names it when the fact's own name does not)."""
    return Missing(code or fact.name, why(fact), fact.level)


def add_missing(out: list[Missing], item: Missing) -> None:
    """Append unless an entry of that code is already listed."""
    if all(m.code != item.code for m in out):
        out.append(item)


def dedupe_missing(items: Iterable[Missing]) -> list[Missing]:
    """The first entry of every (code, level), in order."""
    seen: dict[tuple[str, str | None], Missing] = {}
    for m in items:
        seen.setdefault((m.code, m.level), m)
    return list(seen.values())


def add_note(out: list[Message], note: Message) -> None:
    if note not in out:
        out.append(note)


def unique_facts(items: Iterable[Fact]) -> tuple[Fact, ...]:
    """The facts in order, each instance once."""
    seen: set[int] = set()
    out: list[Fact] = []
    for f in items:
        if id(f) not in seen:
            seen.add(id(f))
            out.append(f)
    return tuple(out)


def order_key(order: DraftOrder) -> str:
    return f"{order.resource_type}/{order.resource_id}" if order.resource_id else order.resource_type


# ---------------------------------------------------------------------------
# dates
# ---------------------------------------------------------------------------

def as_datetime(value: Any, like: datetime | None = None) -> datetime | None:
    """A date, date-time or ISO 8601 string as a datetime (a date is its midnight).

    With ``like``: when exactly one of the two is naive, the result takes ``like``'s
    time zone (a naive moment is read in the evaluation's zone; an aware one loses its
    zone against a naive clock), so the two can be compared."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if like is not None and (moment.tzinfo is None) != (like.tzinfo is None):
        moment = moment.replace(tzinfo=like.tzinfo)
    return moment


def has_time(value: Any) -> bool:
    return isinstance(value, datetime) or (isinstance(value, str) and "T" in value)


def days_since(onset: Any, now: datetime) -> int | None:
    """Whole days elapsed from ``onset`` to ``now`` (rounded down; never negative)."""
    if isinstance(onset, date) and not isinstance(onset, datetime):
        return max(0, (now.date() - onset).days)
    moment = as_datetime(onset, now)
    if moment is None:
        return None
    return max(0, int((now - moment).total_seconds() // 86400))


def hours_since(onset: Any, now: datetime) -> float | None:
    moment = as_datetime(onset, now)
    if moment is None:
        return None
    return (now - moment).total_seconds() / 3600.0


def after(later: Any, earlier: Any) -> bool | None:
    """Whether ``later`` lies after ``earlier``; None when either is unknown.

    With a date only on either side the later one must fall on a later day (the same
    day cannot be told apart, so it does not count as after)."""
    a, b = as_datetime(later), as_datetime(earlier)
    if a is None or b is None:
        return None
    if has_time(later) and has_time(earlier):
        return as_datetime(later, b) > b  # type: ignore[operator]
    return a.date() > b.date()


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


# ---------------------------------------------------------------------------
# indicators
# ---------------------------------------------------------------------------

_SEVERITY = {Indicator.INFO: 0, Indicator.WARNING: 1, Indicator.CRITICAL: 2}


def max_indicator(*indicators: Indicator) -> Indicator:
    return max(indicators, key=_SEVERITY.__getitem__)


def window_indicator(hours: float | None, critical_max: float, warning_max: float) -> Indicator:
    """guideline.md indicator policy: critical up to ``critical_max`` hours, warning up to
    ``warning_max``, info beyond (and for no window)."""
    if hours is None:
        return Indicator.INFO
    if hours <= critical_max:
        return Indicator.CRITICAL
    if hours <= warning_max:
        return Indicator.WARNING
    return Indicator.INFO


def earliest_record(fact: Fact) -> str | None:
    dates = [s.date for s in fact.sources if s.date]
    return min(dates) if dates else None


def clock_start(fact: Fact) -> Any:
    """When a symptom or deficit started the clock (guideline.md "Answered deadlines"):
    its recorded onset, else its earliest record; None when neither is known."""
    onset = fact.attr("onset").value
    return onset if onset is not None else earliest_record(fact)
