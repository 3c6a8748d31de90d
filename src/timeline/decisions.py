"""Deciding appends: which events of a request are new, duplicates or refused, judged against
the seekers' timelines, then written in one transaction — over a small port to the event store
(:class:`TimelineStore`, which :class:`~timeline.application.TimelineApp` implements).

The walk of an append: an edge hands validated events to :meth:`Appender.append` (or, for many
requests at once, to :class:`Decisions` via the group committer and the bulk import); each
event is decided by the domain (:func:`timeline.domain.timeline.decide`, the scope rule, the
idempotency and version checks here); the accepted ones are saved to the store with their
index rows. Nothing here reads the clock (``now`` comes from the caller's clock) or touches a
database but through the port."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast

from eventsourcing.persistence import IntegrityError

from timeline.domain.canonical import JCS, content_digest, digest_algorithm
from timeline.domain.errors import Conflict, FieldError, InvalidEvent, OutOfScope, SeekerGone
from timeline.domain.event_types import EventType
from timeline.domain.identity import person_ref
from timeline.domain.scope import scope_refusal
from timeline.domain.timeline import Timeline, decide, event_content
from timeline.domain.zone import HELSINKI
from timeline.results import Appended
from timeline.store.index import IndexRow
from timeline.vocabulary import ParsedEvent

MAX_CONCURRENCY_RETRIES = 8
LOOKUP_CHUNK = 10_000

#: an event ready to decide, with the ``person_ref`` derived from its identity code (if any)
Prepared = tuple[ParsedEvent, str | None]


class TimelineStore(Protocol):
    """What deciding and saving appends needs from the event store."""

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]:
        """The index rows of those of ``event_ids`` already stored."""
        ...

    def load_many(self, seeker_ids: Sequence[str]) -> dict[str, Timeline | None]:
        """Each seeker's timeline as stored now (None: no events yet), to decide on: the
        caller may change them."""
        ...

    def erased(self, seeker_ids: Sequence[str]) -> set[str]:
        """Those of ``seeker_ids`` whose personal data was erased: nothing may be appended to
        them (docs/erasure.md)."""
        ...

    def look_up(
        self, event_ids: Sequence[str], seeker_ids: Sequence[str]
    ) -> tuple[dict[str, IndexRow], set[str], dict[str, Timeline | None]]:
        """:meth:`index_by_event_ids`, :meth:`erased` and :meth:`load_many` at once (in one
        read where the store can): the stored ones of ``event_ids``, the erased ones of
        ``seeker_ids``, and a timeline for each of those (None for an erased one)."""
        ...

    def write(self, events: Sequence[Timeline.Event], index_rows: Sequence[IndexRow]) -> list[int]:
        """Write the events and their index rows in one transaction; the global position of
        each event, in order. Raises ``IntegrityError`` (nothing written) if another writer
        took one of their versions or event ids first."""
        ...

    def remember(self, timelines: Mapping[str, Timeline | None]) -> None:
        """These timelines are as stored now (every event decided on them is committed)."""
        ...


class Appender:
    """Appends batches to a :class:`TimelineStore`: time limits and person refs
    (:meth:`prepare`), decisions, save — and again if a concurrent writer won the race."""

    def __init__(
        self,
        store: TimelineStore,
        clock: Callable[[], datetime],
        *,
        future_tolerance: timedelta,
        person_key: bytes,
        digest_algorithm: int = JCS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.future_tolerance = future_tolerance
        self._person_key = person_key
        #: the content digest algorithm of new events (timeline.domain.canonical)
        self.digest_algorithm = digest_algorithm

    def append(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None = None
    ) -> list[Appended]:
        """Append a batch atomically: every event is accepted (new or duplicate) or none is
        written and :class:`InvalidEvent`/:class:`Conflict`/:class:`OutOfScope` says which and
        why. ``scope``: the municipalities the writer may act for (None: all, as an operator);
        each event is judged against the seeker as stored (see :mod:`timeline.domain.scope`)."""
        if not events:
            return []
        now = self.clock()
        prepared = self.prepare(events, now)
        for attempt in range(MAX_CONCURRENCY_RETRIES):
            try:
                decisions = self.decisions(
                    now, [e.event_id for e, _ in prepared], [e.seeker_id for e, _ in prepared]
                )
                slots = decisions.decide(prepared, scope=scope)
                return decisions.answer(slots, decisions.save())
            except IntegrityError:
                # A concurrent writer took a version or an event_id first: decide again.
                if attempt == MAX_CONCURRENCY_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def prepare(self, events: Sequence[ParsedEvent], now: datetime) -> list[Prepared]:
        """Check recorded-time limits and derive person refs; raises :class:`InvalidEvent`."""
        self._check_times(events, now)
        return [self._with_person_ref(e) for e in events]

    def decisions(
        self, now: datetime, event_ids: Sequence[str], seeker_ids: Sequence[str] = ()
    ) -> Decisions:
        """A fresh set of decisions at ``now``, knowing which of ``event_ids`` are stored, with
        the timelines of ``seeker_ids`` loaded — read together, in one round trip where the
        store can (:meth:`TimelineStore.look_up`), when they are no more than a read's chunk."""
        ids = list(dict.fromkeys(event_ids))
        seekers = list(dict.fromkeys(seeker_ids))
        if seekers and len(ids) <= LOOKUP_CHUNK and len(seekers) <= LOOKUP_CHUNK:
            known, erased, timelines = self.store.look_up(ids, seekers)
            decisions = Decisions(self.store, now, known, digest_algorithm=self.digest_algorithm)
            decisions.erased.update(erased)
            decisions.aggregates.update(timelines)
            return decisions
        stored: dict[str, IndexRow] = {}
        for i in range(0, len(ids), LOOKUP_CHUNK):
            stored.update(self.store.index_by_event_ids(ids[i : i + LOOKUP_CHUNK]))
        decisions = Decisions(self.store, now, stored, digest_algorithm=self.digest_algorithm)
        for i in range(0, len(seekers), LOOKUP_CHUNK):
            decisions.load(seekers[i : i + LOOKUP_CHUNK])
        return decisions

    def decide_each(
        self, events: Sequence[ParsedEvent]
    ) -> tuple[list[tuple[int, Exception]], Decisions]:
        """Decide every event on its own against the store (nothing written): the refused
        ones with their reasons, and the decisions of the others, ready to save."""
        now = self.clock()
        decisions = self.decisions(now, [e.event_id for e in events], [e.seeker_id for e in events])
        refused: list[tuple[int, Exception]] = []
        for i, raw in enumerate(events):
            try:
                decisions.decide(self.prepare([raw], now), index=False)
            except (InvalidEvent, Conflict) as exc:
                refused.append((i, exc))
        return refused, decisions

    def _with_person_ref(self, event: ParsedEvent) -> Prepared:
        if event.personal_identity_code is None:
            return event, None
        return event, person_ref(event.personal_identity_code, self._person_key)

    def _check_times(self, events: Sequence[ParsedEvent], now: datetime) -> None:
        """The upper end of the plausible range of occurred times (the vocabulary checks the
        rest): at most the future tolerance after ``now``, for an event and for the
        replacement a correction puts in place of another."""
        limit = now + self.future_tolerance
        limit_day = limit.astimezone(HELSINKI).date()
        for i, e in enumerate(events):
            times = [("", e.occurred_at, e.occurred_on)]
            if e.type == EventType.CORRECTION:
                rep = e.data["replacement"]
                times.append(("data.replacement.", rep.get("occurred_at"), rep["occurred_on"]))
            for prefix, at, on in times:
                if at is not None and datetime.fromisoformat(at) > limit:
                    raise InvalidEvent(
                        [
                            FieldError(
                                prefix + "occurred_at",
                                "is in the future beyond the allowed tolerance",
                                "future",
                            )
                        ],
                        index=i,
                    )
                if at is None and date.fromisoformat(on) > limit_day:
                    raise InvalidEvent(
                        [FieldError(prefix + "occurred_on", "is in the future", "future")],
                        index=i,
                    )


def event_digest(event: ParsedEvent, data: dict[str, Any], algorithm: int) -> str:
    """The content digest of ``event`` (with its person ref in ``data``) as the timeline
    records it, under digest ``algorithm``: what an append stores and a retry is compared with
    (the bulk import digests through this too)."""
    return content_digest(
        event_content(
            event.event_id,
            event.seeker_id,
            event.type,
            event.occurred_at,
            event.occurred_on,
            event.actor,
            event.source,
            data,
        ),
        algorithm=algorithm,
    )


def version_conflict(event: ParsedEvent, current: int, index: int | None) -> Conflict | None:
    """The refusal of an event whose ``expected_version`` is not its timeline's ``current``
    version (None: no expectation, or it holds)."""
    if event.expected_version is None or event.expected_version == current:
        return None
    return Conflict(
        f"expected_version {event.expected_version} but the timeline is at version {current}",
        event_id=event.event_id,
        seeker_id=event.seeker_id,
        current_version=current,
        index=index,
    )


@dataclass(frozen=True)
class Planned:
    """One new event decided for writing: its request's slot, the domain event, chain values."""

    event: ParsedEvent
    person_ref: str | None
    domain_event: Timeline.Event
    digest: str
    hash: str


@dataclass(frozen=True)
class Repeat:
    """A slot answered by an event decided earlier in the same decisions (``duplicate`` when
    that was another request)."""

    event_id: str
    duplicate: bool


Slot = Appended | Planned | Repeat


class Decisions:
    """Decisions of one or more requests against shared timelines, written by one save.

    :meth:`decide` takes one request (a batch that is all accepted or all refused): its
    events are decided after every earlier request's, so a later request sees their effects
    (versions, rules). A refused request raises and leaves no trace: the other requests'
    decisions stand. Used by :meth:`Appender.append` (one request), the group committer
    (many) and the bulk import (one per event, saved in chunks)."""

    def __init__(
        self,
        store: TimelineStore,
        now: datetime,
        known: dict[str, IndexRow],
        *,
        digest_algorithm: int = JCS,
    ) -> None:
        self.store = store
        self.now = now
        self.known = known
        self.digest_algorithm = digest_algorithm
        self.aggregates: dict[str, Timeline | None] = {}
        self.erased: set[str] = set()  # of the seekers loaded
        self.seen: dict[str, tuple[str, int]] = {}  # event_id -> (digest, request number)
        self.planned: list[Planned] = []
        self.requests = 0

    def load(self, seeker_ids: Sequence[str]) -> None:
        """Load these seekers' timelines now, with one read of the store (optional: a seeker
        not loaded beforehand is loaded on its own when its first event is decided)."""
        todo = [s for s in dict.fromkeys(seeker_ids) if s not in self.aggregates]
        if todo:
            self.erased.update(self.store.erased(todo))
            self.aggregates.update(self.store.load_many(todo))

    def decide(
        self, events: list[Prepared], *, index: bool = True, scope: frozenset[str] | None = None
    ) -> list[Slot]:
        """Decide one request; raise :class:`InvalidEvent`/:class:`Conflict`/:class:`OutOfScope`
        (with the event's index in the request when ``index``) and undo this request's effects
        if refused. ``scope``: the municipalities this request's writer may act for (None: all);
        each event is judged against its seeker's timeline as decided so far — the store's,
        with the effects of this group's earlier requests and of this request's earlier
        events."""
        request = self.requests
        self.requests += 1
        mark = len(self.planned)
        added: list[str] = []
        saved: dict[str, Timeline | None] = {}  # seeker -> its timeline before this request
        try:
            return self._decide(events, request, added, saved, index=index, scope=scope)
        except BaseException:
            del self.planned[mark:]
            for event_id in added:
                del self.seen[event_id]
            self.aggregates.update(saved)
            raise

    def _decide(
        self,
        events: list[Prepared],
        request: int,
        added: list[str],
        saved: dict[str, Timeline | None],
        *,
        index: bool,
        scope: frozenset[str] | None,
    ) -> list[Slot]:
        slots: list[Slot] = []
        for i, (event, ref) in enumerate(events):
            at = i if index else None
            data = dict(event.data)
            if ref is not None:
                data["person_ref"] = ref
            if event.seeker_id not in self.aggregates:
                self.load([event.seeker_id])
            if event.seeker_id in self.erased:  # even a retry of an event stored before
                raise SeekerGone(event.seeker_id, event_id=event.event_id, index=at)
            stored = self.known.get(event.event_id)
            earlier = self.seen.get(event.event_id)
            if stored is not None or earlier is not None:
                slots.append(self._repeat(event, data, stored, earlier, request, at))
                continue
            agg = self.aggregates[event.seeker_id]
            if scope is not None:
                # Before any other answer about this seeker (its version, its rules): a writer
                # outside the scope learns nothing of it.
                refusal = scope_refusal(agg.facts if agg else (), event.type, data, scope)
                if refusal is not None:
                    raise OutOfScope(
                        refusal, event_id=event.event_id, seeker_id=event.seeker_id, index=at
                    )
            conflict = version_conflict(event, agg.version if agg is not None else 0, at)
            if conflict is not None:
                raise conflict
            if len(events) > 1 and event.seeker_id not in saved:
                # A refusal may only come after this request changed the timeline: keep a copy.
                saved[event.seeker_id] = copy.deepcopy(agg)
            try:
                agg = decide(
                    agg,
                    event.seeker_id,
                    event.type,
                    event_id=event.event_id,
                    occurred_at=event.occurred_at,
                    occurred_on=event.occurred_on,
                    actor=event.actor,
                    source=event.source,
                    data=data,
                    recorded_at=self.now,
                    digest_algorithm=self.digest_algorithm,
                )
            except InvalidEvent as exc:
                raise InvalidEvent(exc.errors, index=at) from None
            self.aggregates[event.seeker_id] = agg
            planned = Planned(
                event=event,
                person_ref=ref,
                domain_event=cast(Timeline.Event, agg.pending_events[-1]),
                digest=agg.digests[event.event_id],
                hash=agg.hashes[event.event_id],
            )
            self.seen[event.event_id] = (planned.digest, request)
            added.append(event.event_id)
            self.planned.append(planned)
            slots.append(planned)
        return slots

    @staticmethod
    def _repeat(
        event: ParsedEvent,
        data: dict[str, Any],
        stored: IndexRow | None,
        earlier: tuple[str, int] | None,
        request: int,
        at: int | None,
    ) -> Slot:
        """The slot of an event id already stored or decided: a duplicate if the content is
        the same (a new event's digest is computed once, by the timeline as it records the
        event), else a conflict. The retry is digested with the algorithm of the digest it is
        compared with, so a retry of an event stored under algorithm 1 is still a duplicate."""
        previous = stored.digest if stored is not None else cast(tuple[str, int], earlier)[0]
        digest = event_digest(event, data, digest_algorithm(previous))
        if previous != digest:
            raise Conflict(
                "event_id was already used for an event with other content",
                event_id=event.event_id,
                seeker_id=event.seeker_id,
                current_version=None,
                index=at,
            )
        if stored is not None:
            return Appended.of(stored, duplicate=True)
        return Repeat(event.event_id, duplicate=cast(tuple[str, int], earlier)[1] != request)

    def save(self, planned: Sequence[Planned] | None = None) -> dict[str, Appended]:
        """Write the planned events (all, or a slice in order) and their index rows in one
        transaction; the answers by event_id. Raises ``IntegrityError`` if another writer took
        a version or an event_id first (nothing of this save is then written)."""
        todo = self.planned if planned is None else planned
        if not todo:
            return {}
        rows = [
            IndexRow(
                event_id=p.event.event_id,
                seeker_id=p.event.seeker_id,
                version=p.domain_event.originator_version,
                position=None,
                type=str(p.event.type),
                occurred_at=p.event.occurred_at,
                occurred_on=p.event.occurred_on,
                # the time its timeline recorded (and chained) it: ``now`` of the decide
                recorded_at=p.domain_event.timestamp,
                digest=p.digest,
                hash=p.hash,
                person_ref=p.person_ref,
            )
            for p in todo
        ]
        positions = self.store.write([p.domain_event for p in todo], rows)
        if planned is None:
            # Every decided event is committed: the timelines as decided are the stored ones.
            self.store.remember(self.aggregates)
        return {
            row.event_id: Appended.of(row.with_position(position), duplicate=False)
            for row, position in zip(rows, positions, strict=True)
        }

    @staticmethod
    def answer(slots: Sequence[Slot], saved: Mapping[str, Appended]) -> list[Appended]:
        """One request's answers once its events are saved."""
        out = []
        for slot in slots:
            if isinstance(slot, Appended):
                out.append(slot)
            elif isinstance(slot, Planned):
                out.append(saved[slot.event.event_id])
            else:
                first = saved[slot.event_id]
                out.append(replace(first, duplicate=True) if slot.duplicate else first)
        return out
