"""A clock a test sets: ``create_app(..., clock=SettableClock(moment))``; ``clock.set(other)``."""
from __future__ import annotations

from datetime import UTC, datetime


class SettableClock:
    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment or datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment
