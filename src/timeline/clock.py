"""The only module that reads the clock. Everything else takes a :data:`Clock`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock for tests and imports of history: returns a set instant, moved explicitly."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            msg = "FixedClock needs an aware datetime"
            raise ValueError(msg)
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now
