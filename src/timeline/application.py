"""The write side: the ``eventsourcing`` Application that appends to timelines (idempotent,
atomic per batch, optimistic concurrency per seeker) and reads histories, as known at any moment.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    project_aggregate,
)
from eventsourcing.persistence import IntegrityError, Recording

from timeline.clock import Clock, system_clock
from timeline.domain.canonical import content_digest, iso_utc
from timeline.domain.errors import Conflict, FieldError, InvalidEvent, NotFound, OutOfScope
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact
from timeline.domain.identity import person_ref, validate_personal_identity_code
from timeline.domain.scope import scope_refusal
from timeline.domain.timeline import Timeline, decide, event_content, fact_from_event
from timeline.domain.zone import HELSINKI
from timeline.settings import Settings, store_env
from timeline.store.index import EventIndex, IndexRow
from timeline.vocabulary import ParsedEvent

MAX_CONCURRENCY_RETRIES = 8
LOOKUP_CHUNK = 10_000


@dataclass(frozen=True)
class Appended:
    """The answer for one appended event (new or a duplicate of an earlier append).
    ``recorded_at`` is written as everywhere in answers: UTC with microseconds
    (``2025-06-10T09:00:00.000000+00:00``), the very text the hash chain covers."""

    event_id: str
    seeker_id: str
    version: int
    position: int
    recorded_at: datetime
    hash: str
    duplicate: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "seeker_id": self.seeker_id,
            "version": self.version,
            "position": self.position,
            "recorded_at": iso_utc(self.recorded_at),
            "hash": self.hash,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event of a history with both times and its audit status."""

    index: IndexRow
    fact: Fact
    status: str = "valid"  # valid | superseded | void
    superseded_by: list[str] = field(default_factory=list)
    voided_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        occurred = self.fact.occurred_at or datetime.combine(
            self.fact.occurred_on, datetime.min.time(), tzinfo=HELSINKI
        )
        late = self.index.recorded_at - occurred
        return {
            "event_id": self.index.event_id,
            "seeker_id": self.index.seeker_id,
            "version": self.index.version,
            "position": self.index.position,
            "type": self.index.type,
            "occurred_at": self.index.occurred_at,
            "occurred_on": self.index.occurred_on,
            "recorded_at": iso_utc(self.index.recorded_at),
            "recorded_late_days": max(late.days, 0),
            "actor": dict(self.fact.actor),
            "source": self.fact.source,
            "data": dict(self.fact.data),
            "digest": self.index.digest,
            "hash": self.index.hash,
            "status": self.status,
            "superseded_by": self.superseded_by,
            "voided_by": self.voided_by,
        }


class TimelineApp(Application[UUID]):
    """The timeline service's write side. Construct with settings and a clock; or, as the
    library's projection runner does, with an ``env`` mapping only."""

    name = "timeline"
    is_snapshotting_enabled = False

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.clock: Clock = clock or system_clock
        self._person_key = self.settings.person_key.get_secret_value().encode("utf-8")
        full_env = store_env(self.settings.database_url, pool_size=self.settings.postgres_pool_size)
        # Cached timelines are fast-forwarded from the store on every load (so other writers'
        # events are seen) and deep-copied, so a refused command never corrupts the cache.
        full_env["AGGREGATE_CACHE_MAXSIZE"] = str(self.settings.aggregate_cache_size)
        full_env.update(env or {})
        super().__init__(env=full_env)
        self.index = cast(EventIndex, self.recorder)

    # -- append --------------------------------------------------------------------------------

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
                return self._append_once(prepared, now, scope)
            except IntegrityError:
                # A concurrent writer took a version or an event_id first: decide again.
                if attempt == MAX_CONCURRENCY_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _append_once(
        self,
        events: list[tuple[ParsedEvent, str | None]],
        now: datetime,
        scope: frozenset[str] | None,
    ) -> list[Appended]:
        decisions = self.decisions(now, [e.event_id for e, _ in events])
        decisions.load([e.seeker_id for e, _ in events])
        slots = decisions.decide(events, scope=scope)
        return decisions.answer(slots, decisions.save())

    def dry_run(self, events: Sequence[ParsedEvent]) -> list[tuple[int, Exception]]:
        """Check a whole batch against the store and the timeline rules without writing.
        Unlike :meth:`append` it does not stop at the first refusal: it returns every refused
        event's index with the reason (a refused event is left out of the simulation)."""
        return self.decide_each(events)[0]

    # -- reusable steps of an append (group commit and bulk import) ----------------------------
    # BEGIN performance steps (issue 6): `append` = prepare + decisions + decide + save + answer.

    def prepare(
        self, events: Sequence[ParsedEvent], now: datetime
    ) -> list[tuple[ParsedEvent, str | None]]:
        """Check recorded-time limits and derive person refs; raises :class:`InvalidEvent`."""
        self._check_times(events, now)
        return [self._with_person_ref(e) for e in events]

    def decisions(self, now: datetime, event_ids: Sequence[str]) -> Decisions:
        """A fresh set of decisions at ``now``, knowing which of ``event_ids`` are stored."""
        known: dict[str, IndexRow] = {}
        ids = list(dict.fromkeys(event_ids))
        for i in range(0, len(ids), LOOKUP_CHUNK):
            known.update(self.index.index_by_event_ids(ids[i : i + LOOKUP_CHUNK]))
        return Decisions(self, now, known)

    def decide_each(
        self, events: Sequence[ParsedEvent]
    ) -> tuple[list[tuple[int, Exception]], Decisions]:
        """Decide every event on its own against the store (nothing written): the refused
        ones with their reasons, and the decisions of the others, ready to :meth:`save`."""
        now = self.clock()
        decisions = self.decisions(now, [e.event_id for e in events])
        seekers = list(dict.fromkeys(e.seeker_id for e in events))
        for i in range(0, len(seekers), LOOKUP_CHUNK):
            decisions.load(seekers[i : i + LOOKUP_CHUNK])
        refused: list[tuple[int, Exception]] = []
        for i, raw in enumerate(events):
            try:
                decisions.decide(self.prepare([raw], now), index=False)
            except (InvalidEvent, Conflict) as exc:
                refused.append((i, exc))
        return refused, decisions

    # END performance steps (issue 6)

    def _load(self, seeker_id: str, cache: dict[str, Timeline | None]) -> Timeline | None:
        if seeker_id not in cache:
            try:
                cache[seeker_id] = cast(Timeline, self.repository.get(UUID(seeker_id)))
            except AggregateNotFoundError:
                cache[seeker_id] = None
        return cache[seeker_id]

    def _load_many(self, seeker_ids: Sequence[str], cache: dict[str, Timeline | None]) -> None:
        """Load the timelines of ``seeker_ids`` not yet in ``cache`` with one read of the store:
        each from its copy in the aggregate cache (or from nothing), fast-forwarded by the
        events stored after it (other writers' too). The fast-forwarded timelines go back to
        the aggregate cache; the cache's own objects are never changed."""
        todo = [s for s in dict.fromkeys(seeker_ids) if s not in cache]
        if not todo:
            return
        repository = self.repository
        base: dict[str, Timeline | None] = {}
        for seeker_id in todo:
            base[seeker_id] = None
            if repository.cache is None:
                continue
            key = UUID(seeker_id)
            # The library fast-forwards cached timelines in place under this lock: copy under it.
            lock = repository._use_fastforward_lock(key)
            try:
                with lock:
                    base[seeker_id] = copy.deepcopy(cast(Timeline, repository.cache.get(key)))
            except KeyError:
                pass
            finally:
                repository._disuse_fastforward_lock(key)
        newer = self.index.select_events_after(
            {s: (a.version if a is not None else 0) for s, a in base.items()}
        )
        to_event = self.mapper.to_domain_event
        for seeker_id in todo:
            agg = base[seeker_id]
            events = newer.get(seeker_id)
            if events:
                agg = cast(Timeline, project_aggregate(agg, [to_event(e) for e in events]))
                if repository.cache is not None:
                    repository.cache.put(UUID(seeker_id), copy.deepcopy(agg))
            cache[seeker_id] = agg

    def _save_events(
        self, events: Sequence[Timeline.Event], **kwargs: Any
    ) -> list[Recording[UUID]]:
        """:meth:`save` for domain events already collected: the same steps, without the
        library's per-object protocol checks (``isinstance`` against runtime protocols was a
        tenth of a bulk import)."""
        processing = ProcessingEvent[UUID]()
        processing.events.extend(events)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, called as save does
        return recordings

    def _is_cached(self, seeker_id: str) -> bool:
        cache = self.repository.cache
        if cache is None:
            return False
        try:
            cache.get(UUID(seeker_id))
        except (KeyError, ValueError):
            return False
        return True

    def _remember(self, aggregates: Mapping[str, Timeline | None]) -> None:
        """Put timelines whose decided events are all committed into the aggregate cache, so
        the next load only asks the store for what was written after them."""
        if self.repository.cache is None:
            return
        for seeker_id, agg in aggregates.items():
            if agg is None:
                continue
            clone = copy.deepcopy(agg)
            clone.collect_events()
            self.repository.cache.put(UUID(seeker_id), clone)

    def _with_person_ref(self, event: ParsedEvent) -> tuple[ParsedEvent, str | None]:
        if event.personal_identity_code is None:
            return event, None
        return event, person_ref(event.personal_identity_code, self._person_key)

    def _check_times(self, events: Sequence[ParsedEvent], now: datetime) -> None:
        """The upper end of the plausible range of occurred times (the vocabulary checks the
        rest): at most the future tolerance after ``now``, for an event and for the
        replacement a correction puts in place of another."""
        limit = now + timedelta(seconds=self.settings.future_tolerance_seconds)
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

    # -- reads ---------------------------------------------------------------------------------

    def lookup_person(self, personal_identity_code: str) -> list[str]:
        """Seeker ids whose timelines were opened for this identity code (via the keyed hash)."""
        code = validate_personal_identity_code(
            personal_identity_code, allow_temporary=self.settings.test_codes_allowed
        )
        return self.index.seekers_by_person_ref(person_ref(code, self._person_key))

    def timeline(self, seeker_id: str, *, as_of: datetime | None = None) -> Timeline:
        """The seeker's timeline as known at ``as_of`` (recorded time), or now."""
        version: int | None = None
        if as_of is not None:
            rows = self.index.index_for_seeker(seeker_id, recorded_until=as_of.astimezone(UTC))
            if not rows:
                raise NotFound(f"no events of seeker {seeker_id} were recorded by {as_of}")
            version = rows[-1].version
        try:
            return cast(Timeline, self.repository.get(UUID(seeker_id), version=version))
        except AggregateNotFoundError:
            raise NotFound(f"no timeline for seeker {seeker_id}") from None

    def facts(self, seeker_id: str, *, as_of: datetime | None = None) -> list[Fact]:
        if as_of is not None:
            return [f for f, _ in self._as_of(seeker_id, as_of)]
        return list(self.timeline(seeker_id).facts)

    def _as_of(self, seeker_id: str, as_of: datetime) -> list[tuple[Fact, IndexRow]]:
        """The facts known at ``as_of`` with their index rows.

        A timeline's facts up to a version never change, so when the timeline is in the
        aggregate cache its first facts are the answer: only the index rows are read. Otherwise
        one read gives the stored events with their index rows, and the facts are built from
        them directly instead of replaying the timeline (which would compute every digest and
        chain hash again): the chain was checked when each event was written, and
        ``timeline verify`` checks it over the stored events."""
        until = as_of.astimezone(UTC)
        if self._is_cached(seeker_id):
            rows = self.index.index_as_of(seeker_id, until)
            if not rows:
                raise NotFound(f"no events of seeker {seeker_id} were recorded by {as_of}")
            facts = self.timeline(seeker_id).facts  # fast-forwarded: at least these versions
            n = len(rows)
            if rows[-1].version == n and len(facts) >= n and facts[n - 1].version == n:
                return list(zip(facts[:n], rows, strict=True))
        pairs = self.index.events_with_index(seeker_id, recorded_until=until)
        if not pairs:
            raise NotFound(f"no events of seeker {seeker_id} were recorded by {as_of}")
        to_event = self.mapper.to_domain_event
        return [
            (fact_from_event(cast(Timeline.Recorded, to_event(stored))), row)
            for stored, row in pairs
        ]

    def history(
        self,
        seeker_id: str,
        *,
        as_of: datetime | None = None,
        after_version: int = 0,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """The history with both times, each event marked valid, superseded or void as known
        at ``as_of``. Paged by version."""
        if as_of is not None:
            known = self._as_of(seeker_id, as_of)
            facts = [f for f, _ in known]
            rows = {r.version: r for _, r in known}
        else:
            facts = self.facts(seeker_id)
            upto = facts[-1].version if facts else 0
            rows = {r.version: r for r in self.index.index_for_seeker(seeker_id, to_version=upto)}
        superseded: dict[str, list[str]] = {}
        voided: dict[str, str] = {}
        for f in facts:
            if f.type == EventType.CORRECTION:
                superseded.setdefault(str(f.data["corrects_event_id"]), []).append(f.event_id)
            elif f.type == EventType.RETRACTION:
                voided[str(f.data["retracts_event_id"])] = f.event_id
        out = []
        for f in facts:
            if f.version <= after_version:
                continue
            status = (
                "void"
                if f.event_id in voided
                else ("superseded" if f.event_id in superseded else "valid")
            )
            row = rows[f.version]
            out.append(
                HistoryEntry(
                    index=row,
                    fact=f,
                    status=status,
                    superseded_by=superseded.get(f.event_id, []),
                    voided_by=voided.get(f.event_id),
                )
            )
            if limit is not None and len(out) >= limit:
                break
        return out

    def feed(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The global order for downstream consumers: events after a position."""
        rows = self.index.index_after_position(after, limit)
        notifications = (
            {
                n.id: n
                for n in self.recorder.select_notifications(
                    after,
                    limit=max(limit * 2, 10),
                    inclusive_of_start=False,
                    stop=rows[-1].position if rows else None,
                )
            }
            if rows
            else {}
        )
        out = []
        for row in rows:
            assert row.position is not None
            ev = cast(Timeline.Recorded, self.mapper.to_domain_event(notifications[row.position]))
            out.append(
                {
                    "position": row.position,
                    "event_id": row.event_id,
                    "seeker_id": row.seeker_id,
                    "version": row.version,
                    "type": row.type,
                    "occurred_at": row.occurred_at,
                    "occurred_on": row.occurred_on,
                    "recorded_at": iso_utc(row.recorded_at),
                    "actor": ev.actor,
                    "source": ev.source,
                    "data": ev.data,
                    "hash": row.hash,
                }
            )
        return out


# BEGIN performance steps (issue 6): decisions shared by the requests of one transaction.


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
    decisions stand. Used by :meth:`TimelineApp.append` (one request), the group committer
    (many) and the bulk import (one per event, saved in chunks)."""

    def __init__(self, app: TimelineApp, now: datetime, known: dict[str, IndexRow]) -> None:
        self.app = app
        self.now = now
        self.known = known
        self.aggregates: dict[str, Timeline | None] = {}
        self.seen: dict[str, tuple[str, int]] = {}  # event_id -> (digest, request number)
        self.planned: list[Planned] = []
        self.requests = 0

    def load(self, seeker_ids: Sequence[str]) -> None:
        """Load these seekers' timelines now, with one read of the store (optional: a seeker
        not loaded beforehand is loaded on its own when its first event is decided)."""
        self.app._load_many(seeker_ids, self.aggregates)

    def decide(
        self,
        events: list[tuple[ParsedEvent, str | None]],
        *,
        index: bool = True,
        scope: frozenset[str] | None = None,
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
        events: list[tuple[ParsedEvent, str | None]],
        request: int,
        added: list[str],
        saved: dict[str, Timeline | None],
        *,
        index: bool,
        scope: frozenset[str] | None,
    ) -> list[Slot]:
        app = self.app
        slots: list[Slot] = []
        for i, (event, ref) in enumerate(events):
            at = i if index else None
            data = dict(event.data)
            if ref is not None:
                data["person_ref"] = ref
            stored = self.known.get(event.event_id)
            earlier = self.seen.get(event.event_id)
            if stored is not None or earlier is not None:
                # A repeat: is it the same content? (A new event's digest is computed once,
                # by the timeline as it records the event.)
                digest = content_digest(
                    event_content(
                        event.event_id,
                        event.seeker_id,
                        event.type,
                        event.occurred_at,
                        event.occurred_on,
                        event.actor,
                        event.source,
                        data,
                    )
                )
                previous = stored.digest if stored is not None else earlier[0]  # type: ignore[index]
                if previous != digest:
                    raise Conflict(
                        "event_id was already used for an event with other content",
                        event_id=event.event_id,
                        seeker_id=event.seeker_id,
                        current_version=None,
                        index=at,
                    )
                if stored is not None:
                    slots.append(_answer(stored, duplicate=True))
                else:
                    slots.append(Repeat(event.event_id, duplicate=earlier[1] != request))  # type: ignore[index]
                continue
            agg = app._load(event.seeker_id, self.aggregates)
            if scope is not None:
                # Before any other answer about this seeker (its version, its rules): a writer
                # outside the scope learns nothing of it.
                refusal = scope_refusal(agg.facts if agg else (), event.type, data, scope)
                if refusal is not None:
                    raise OutOfScope(
                        refusal, event_id=event.event_id, seeker_id=event.seeker_id, index=at
                    )
            current = agg.version if agg is not None else 0
            if event.expected_version is not None and event.expected_version != current:
                raise Conflict(
                    f"expected_version {event.expected_version} but the timeline is at "
                    f"version {current}",
                    event_id=event.event_id,
                    seeker_id=event.seeker_id,
                    current_version=current,
                    index=at,
                )
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
                type=p.event.type.value,
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
        recordings = self.app._save_events([p.domain_event for p in todo], index_rows=rows)
        if planned is None:
            # Every decided event is committed: the timelines as decided are the stored ones.
            self.app._remember(self.aggregates)
        positions = {
            (str(r.domain_event.originator_id), r.domain_event.originator_version): (
                r.notification.id
            )
            for r in recordings
        }
        return {
            row.event_id: _answer(
                row.with_position(positions[(row.seeker_id, row.version)]), duplicate=False
            )
            for row in rows
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


# END performance steps (issue 6)


def _answer(row: IndexRow, *, duplicate: bool) -> Appended:
    assert row.position is not None
    return Appended(
        event_id=row.event_id,
        seeker_id=row.seeker_id,
        version=row.version,
        position=row.position,
        recorded_at=row.recorded_at,
        hash=row.hash,
        duplicate=duplicate,
    )
