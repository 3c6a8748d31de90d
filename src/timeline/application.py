"""The write side's application: the ``eventsourcing`` ``Application`` that holds the event store
(events, their index, the global log) and answers from it — appends (decided by
:mod:`timeline.decisions`), histories as known at any moment, timelines, the feed, look-ups.

It uses only the library's public seams: the recorder (with our index, ``timeline.store``), the
mapper, the event store's ``put`` and the repository's ``get`` for a past version. Timelines are
kept between loads in our own :class:`~timeline.cache.TimelineCache`, not the library's
aggregate cache (ops/adr/0008-the-house.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import InfrastructureFactory, Mapper, StoredEvent
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment
from psycopg.sql import Composed

from timeline.cache import TimelineCache
from timeline.clock import Clock, system_clock
from timeline.decisions import Appender
from timeline.domain.canonical import iso_utc
from timeline.domain.errors import NotFound
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact
from timeline.domain.identity import person_ref, validate_personal_identity_code
from timeline.domain.timeline import Timeline, fact_from_event
from timeline.results import Appended, HistoryEntry
from timeline.settings import Database, Settings, database, libpq_extra_params, store_env
from timeline.store.index import EventIndex, IndexRow
from timeline.store.keys import KeyRing
from timeline.store.mapper import TimelineMapper
from timeline.store.postgres import TimelinePostgresRecorder
from timeline.vocabulary import ParsedEvent


class ErasedSeekers(Protocol):
    """Which seekers were erased (the erasure register, :mod:`timeline.erasure`)."""

    def erased(self, seeker_ids: Sequence[str]) -> set[str]: ...

    def erased_statement(
        self, seeker_ids: Sequence[str], location: Database
    ) -> tuple[Composed, list[Any]] | None:
        """:meth:`erased` as one statement another connection to ``location`` may send (its
        rows: the erased ids), or None (then :meth:`erased`)."""
        ...


class _NoneErased:
    def erased(self, seeker_ids: Sequence[str]) -> set[str]:
        return set()

    def erased_statement(
        self, seeker_ids: Sequence[str], location: Database
    ) -> tuple[Composed, list[Any]] | None:
        return None


class TimelineApp(Application[UUID]):
    """The timeline service's write side, on the store of ``settings`` with ``clock``. ``env``
    adds library settings (a connection pool's size, as the jobs' services do)."""

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
        #: where the store lives (the erasure register beside it is read with the events)
        self.location = database(self.settings.database_url)
        self.clock: Clock = clock or system_clock
        self._person_key = self.settings.person_key.get_secret_value().encode("utf-8")
        full_env = store_env(self.settings.database_url, pool_size=self.settings.postgres_pool_size)
        full_env.update(env or {})
        #: the seekers' data keys (form 2 seals personal fields with them; erasure destroys
        #: them); built before the library's construction, which makes the mapper
        self.keys = KeyRing.from_settings(
            self.settings,
            create_table=str(full_env.get("CREATE_TABLE", "true")).lower()
            not in ("false", "n", "no", "0", "off"),
        )
        super().__init__(env=full_env)
        self.index = cast(EventIndex, self.recorder)
        self.cache = TimelineCache(self.settings.aggregate_cache_size)
        #: the erasure register (set by the composition root): appends to an erased seeker
        #: are refused, its history shows no payload, look-ups do not find it
        self.erasures: ErasedSeekers = _NoneErased()
        self.appender = Appender(
            self,
            self.clock,
            future_tolerance=timedelta(seconds=self.settings.future_tolerance_seconds),
            person_key=self._person_key,
            digest_algorithm=self.settings.digest_algorithm,
        )

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """The library's factory; on PostgreSQL its pool is also given the URL's libpq
        parameters beyond the five the library passes (e.g. ``target_session_attrs``), before
        it opens its first connection."""
        factory = super().construct_factory(env)
        extra = libpq_extra_params(env)
        if extra and isinstance(factory, PostgresFactory):
            kwargs = factory.datastore.pool.kwargs
            if not isinstance(kwargs, dict):  # eventsourcing 9.5 gives its pool a dict
                raise TypeError("the event store's pool does not take its parameters as a dict")
            kwargs.update(extra)
        return factory

    def construct_mapper(self) -> Mapper[UUID]:
        """The timeline's mapper: stored form 2 for timeline events, sealed with the key ring
        (:mod:`timeline.store.mapper`)."""
        return TimelineMapper(
            self.construct_transcoder(),
            self.keys,
            compressor=self.factory.compressor(),
            cipher=self.factory.cipher(),
        )

    def close(self) -> None:
        super().close()
        self.keys.close()

    def append(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None = None
    ) -> list[Appended]:
        """Append a batch atomically (see :meth:`timeline.decisions.Appender.append`)."""
        return self.appender.append(events, scope=scope)

    # -- the store, as deciding appends needs it (timeline.decisions.TimelineStore) ------------

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]:
        return self.index.index_by_event_ids(event_ids)

    def erased(self, seeker_ids: Sequence[str]) -> set[str]:
        """Those of ``seeker_ids`` that were erased (their timelines and keys leave this
        process's caches)."""
        found = self.erasures.erased(seeker_ids) if seeker_ids else set()
        self._forget(found)
        return found

    def _forget(self, erased: set[str]) -> None:
        if erased:
            # another process erased them: forget what this one kept of them (the timeline
            # decoded with their key, the unwrapped key itself)
            for seeker_id in erased:
                self.cache.evict(seeker_id)
            self.keys.evict([UUID(s) for s in erased])

    def load_many(self, seeker_ids: Sequence[str]) -> dict[str, Timeline | None]:
        """The timelines of ``seeker_ids`` with one read of the store: each from its copy in
        the cache (or from nothing), fast-forwarded by the events stored after it (other
        writers' too). Fast-forwarded timelines go back to the cache."""
        base = {s: self.cache.get(s) for s in dict.fromkeys(seeker_ids)}
        return self._fast_forward(base, self.index.select_events_after(_versions(base)))

    def look_up(
        self, event_ids: Sequence[str], seeker_ids: Sequence[str]
    ) -> tuple[dict[str, IndexRow], set[str], dict[str, Timeline | None]]:
        """What deciding an append needs: the index rows of those of ``event_ids`` stored,
        those of ``seeker_ids`` erased, and the others' timelines (as :meth:`load_many`; an
        erased seeker's is None: nothing is decided on it). On PostgreSQL with the erasure
        register beside the events, one round trip (:meth:`TimelinePostgresRecorder.
        read_before_append`); else :meth:`index_by_event_ids`, :meth:`erased` and
        :meth:`load_many` in turn."""
        seekers = list(dict.fromkeys(seeker_ids))
        recorder = self.recorder
        if not isinstance(recorder, TimelinePostgresRecorder):
            known = self.index_by_event_ids(event_ids) if event_ids else {}
            erased = self.erased(seekers) if seekers else set()
            timelines = self.load_many([s for s in seekers if s not in erased])
            return known, erased, {**timelines, **dict.fromkeys(erased)}
        statement = self.erasures.erased_statement(seekers, self.location) if seekers else None
        base = {s: self.cache.get(s) for s in seekers}
        known, newer, rows = recorder.read_before_append(event_ids, _versions(base), statement)
        if statement is not None:
            erased = {str(r[0]) for r in rows}
            self._forget(erased)
        else:
            erased = self.erased(seekers) if seekers else set()
        for seeker_id in erased:  # (its events after the copy are not decoded)
            base.pop(seeker_id, None)
            newer.pop(seeker_id, None)
        return known, erased, {**self._fast_forward(base, newer), **dict.fromkeys(erased)}

    def _fast_forward(
        self, base: dict[str, Timeline | None], newer: Mapping[str, Sequence[StoredEvent]]
    ) -> dict[str, Timeline | None]:
        """The timelines of ``base`` (copies from the cache, or None) with the events stored
        after each applied; the fast-forwarded ones go back to the cache."""
        to_event = self.mapper.to_domain_event
        out = dict(base)
        for seeker_id, events in newer.items():
            # each event mutates the timeline, as project_aggregate does, without its
            # per-event isinstance check against a runtime protocol (a tenth of a cold load)
            current = base[seeker_id]
            for stored in events:
                current = cast(Timeline.Event, to_event(stored)).mutate(current)
            current = cast(Timeline, current)
            self.cache.put(seeker_id, current)
            out[seeker_id] = current
        return out

    def write(self, events: Sequence[Timeline.Event], index_rows: Sequence[IndexRow]) -> list[int]:
        # the seekers' keys in one read (new ones made and committed) before the events
        # sealed with them are written
        self.keys.data_keys(list({e.originator_id: None for e in events}), create=True)
        recordings = self.events.put(events, index_rows=index_rows)
        return [r.notification.id for r in recordings]

    def remember(self, timelines: Mapping[str, Timeline | None]) -> None:
        """Keep timelines whose decided events are all committed, so the next load only asks
        the store for what was written after them."""
        for seeker_id, timeline in timelines.items():
            if timeline is not None:
                self.cache.put(seeker_id, timeline)

    # -- reads ---------------------------------------------------------------------------------

    def lookup_person(self, personal_identity_code: str) -> list[str]:
        """Seeker ids whose timelines were opened for this identity code (via the keyed hash)."""
        code = validate_personal_identity_code(
            personal_identity_code, allow_temporary=self.settings.test_codes_allowed
        )
        found = self.index.seekers_by_person_ref(person_ref(code, self._person_key))
        gone = self.erased(found)  # (their refs are cleared by the erasure itself)
        return [s for s in found if s not in gone]

    def timeline(self, seeker_id: str, *, as_of: datetime | None = None) -> Timeline:
        """The seeker's timeline as known at ``as_of`` (recorded time), or now."""
        if as_of is None:
            key = str(UUID(seeker_id))  # (a ValueError for what is no seeker id, as the library's)
            found = self.load_many([key])[key]
            if found is None:
                raise NotFound(f"no timeline for seeker {seeker_id}")
            return found
        rows = self.index.index_for_seeker(seeker_id, recorded_until=as_of.astimezone(UTC))
        if not rows:
            raise NotFound(f"no events of seeker {seeker_id} were recorded by {as_of}")
        try:
            return cast(Timeline, self.repository.get(UUID(seeker_id), version=rows[-1].version))
        except AggregateNotFoundError:
            raise NotFound(f"no timeline for seeker {seeker_id}") from None

    def facts(self, seeker_id: str, *, as_of: datetime | None = None) -> list[Fact]:
        if as_of is not None:
            return [f for f, _ in self._as_of(seeker_id, as_of)]
        return list(self.timeline(seeker_id).facts)

    def _as_of(self, seeker_id: str, as_of: datetime) -> list[tuple[Fact, IndexRow]]:
        """The facts known at ``as_of`` with their index rows.

        A timeline's facts up to a version never change, so when the timeline is in the
        cache its first facts are the answer: only the index rows are read. Otherwise one read
        gives the stored events with their index rows, and the facts are built from them
        directly instead of replaying the timeline (which would compute every digest and chain
        hash again): the chain was checked when each event was written, and ``timeline
        verify`` checks it over the stored events."""
        until = as_of.astimezone(UTC)
        if seeker_id in self.cache:
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
        at ``as_of``. Paged by version. An erased seeker's entries carry ``erased`` and no
        payload."""
        erased = bool(self.erased([seeker_id]))
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
        correction, retraction = EventType.CORRECTION, EventType.RETRACTION  # (once, not per fact)
        for f in facts:
            if f.type == correction:
                superseded.setdefault(str(f.data["corrects_event_id"]), []).append(f.event_id)
            elif f.type == retraction:
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
            out.append(
                HistoryEntry(
                    index=rows[f.version],
                    fact=f,
                    status=status,
                    superseded_by=superseded.get(f.event_id, []),
                    voided_by=voided.get(f.event_id),
                    erased=erased,
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
        erased = self.erased(list({r.seeker_id for r in rows}))
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
                    "data": None if row.seeker_id in erased else ev.data,
                    "hash": row.hash,
                    "erased": row.seeker_id in erased,
                }
            )
        return out


def _versions(timelines: Mapping[str, Timeline | None]) -> dict[str, int]:
    """The version of each timeline (0: none yet): where its fast-forward starts."""
    return {s: (t.version if t is not None else 0) for s, t in timelines.items()}
