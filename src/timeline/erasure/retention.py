"""The retention job's selection: the seekers whose last event is older than the retention
period (docs/erasure.md: the period, its legal basis and what is assumed). "Now" is the
caller's clock; nothing here reads one.

A seeker is due when every one of its events was both recorded and happened before the cut-off
(``now`` minus the period): a late entry about an old case, or a case with a future-dated
event, keeps the seeker. Erased seekers are never selected again."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from timeline.application import TimelineApp
from timeline.domain.canonical import iso_utc
from timeline.domain.zone import HELSINKI
from timeline.erasure.register import ErasureLookup
from timeline.store.memory import TimelineMemoryRecorder

_PERIOD = re.compile(r"^\s*(\d{1,4})\s*([ymd])\s*$")


@dataclass(frozen=True)
class Period:
    """A retention period: a count of years, months or days."""

    count: int
    unit: str  # "y", "m" or "d"

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def parse_period(text: str) -> Period:
    """``5y``, ``60m`` or ``1825d`` (years, months, days); ValueError naming the form."""
    found = _PERIOD.match(text.lower())
    if not found or int(found.group(1)) == 0:
        msg = f"{text!r} is not a period: a positive number and a unit, e.g. 5y, 60m or 1825d"
        raise ValueError(msg)
    return Period(int(found.group(1)), found.group(2))


def cutoff(now: datetime, period: Period) -> datetime:
    """The instant ``period`` before ``now``: calendar arithmetic on the Europe/Helsinki day
    (29 February goes to the 28th in a year without one), the same wall-clock time."""
    local = now.astimezone(HELSINKI)
    if period.unit == "d":
        return (local.replace(tzinfo=None) - timedelta(days=period.count)).replace(tzinfo=HELSINKI)
    months = period.count * (12 if period.unit == "y" else 1)
    total = local.year * 12 + (local.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Due:
    """A seeker due for erasure, with its last event's recorded time and day."""

    seeker_id: str
    last_recorded_at: str
    last_occurred_on: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeker_id": self.seeker_id,
            "last_recorded_at": self.last_recorded_at,
            "last_occurred_on": self.last_occurred_on,
        }


def due(app: TimelineApp, register: ErasureLookup, before: datetime) -> list[Due]:
    """Every seeker not erased whose events were all recorded, and happened, before
    ``before``, by seeker id."""
    day = before.astimezone(HELSINKI).date()
    recorder = app.index
    if isinstance(recorder, TimelineMemoryRecorder):
        return list(_due_in_memory(app, register, before, day))
    db = register.db
    with db.read() as tx:
        rows = tx.execute(tx.sql.RETENTION_CANDIDATES, [iso_utc(before), day.isoformat()])
    return [Due(str(r[0]), _instant(r[1]), str(r[2])) for r in rows]


def _instant(value: Any) -> str:
    if isinstance(value, datetime):
        return iso_utc(value)
    return iso_utc(datetime.fromisoformat(str(value)))


def _due_in_memory(
    app: TimelineApp, register: ErasureLookup, before: datetime, day: date
) -> Iterator[Due]:
    erased = register.all_erased()
    after: str | None = None
    while True:
        ids = app.index.seeker_ids(after=after, limit=1000)
        if not ids:
            return
        for seeker_id in ids:
            rows = app.index.index_for_seeker(seeker_id)
            if not rows or seeker_id in erased:
                continue
            last_recorded = max(r.recorded_at for r in rows)
            last_day = max(r.occurred_on for r in rows)
            if last_recorded < before and last_day < day.isoformat():
                yield Due(seeker_id, iso_utc(last_recorded), last_day)
        after = ids[-1]
