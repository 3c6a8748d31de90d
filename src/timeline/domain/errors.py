"""Errors the domain and the application raise; the edges map them to statuses in one table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class FieldError:
    """One reason a request was refused, located by a field path such as ``data.municipality``."""

    loc: str
    msg: str
    kind: str = "value_error"


class TimelineError(Exception):
    """Base class of every refusal. Nothing is written when one is raised."""


class InvalidEvent(TimelineError):
    """The event breaks a rule of the vocabulary or of the timeline (422)."""

    def __init__(self, errors: list[FieldError], *, index: int | None = None) -> None:
        self.errors = errors
        self.index = index
        super().__init__("; ".join(f"{e.loc}: {e.msg}" for e in errors))


class Conflict(TimelineError):
    """The append conflicts with what is stored (409): a stale ``expected_version`` or an
    ``event_id`` reused with other content."""

    def __init__(
        self,
        detail: str,
        *,
        event_id: str,
        seeker_id: str,
        current_version: int | None,
        index: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.event_id = event_id
        self.seeker_id = seeker_id
        self.current_version = current_version
        self.index = index


class SeekerGone(InvalidEvent):
    """The seeker's personal data was erased (docs/erasure.md): nothing may be appended to its
    timeline any more (410 Gone; a refused line of an import). Nothing is written."""

    def __init__(self, seeker_id: str, *, event_id: str, index: int | None = None) -> None:
        self.seeker_id = seeker_id
        self.event_id = event_id
        super().__init__(
            [
                FieldError(
                    "seeker_id",
                    f"seeker {seeker_id} was erased: no event may be appended to its timeline",
                    "erased",
                )
            ],
            index=index,
        )


class NotFound(TimelineError):
    """No such seeker or event (404)."""


class OutOfScope(TimelineError):
    """The writer's scope does not cover this seeker or the municipality an event names (403).
    Decided from the stored timeline inside the append, never from what the request claims."""

    def __init__(
        self, error: FieldError, *, event_id: str, seeker_id: str, index: int | None = None
    ) -> None:
        self.errors = [error]
        self.event_id = event_id
        self.seeker_id = seeker_id
        self.index = index
        super().__init__(f"{error.loc}: {error.msg}")


class NoRuleset(TimelineError):
    """No ruleset covers the day asked about (it is before the first one came into force), so
    nothing can be said about that day's obligations (422, naming the field)."""

    def __init__(self, day: date, earliest: date, earliest_id: str, *, field: str = "on") -> None:
        self.day = day
        self.earliest = earliest
        self.field = field
        self.detail = (
            f"no ruleset covers {day.isoformat()}: obligations are known from "
            f"{earliest.isoformat()} ({earliest_id}, the first ruleset in force) on"
        )
        super().__init__(self.detail)
