"""Moving a store's events to another stored form, in place (``timeline migrate-store``).

Every stored timeline event keeps its row: position (the notification id), seeker, version,
topic and everything in our index (recorded time, digest, chain hash, ``person_ref``). Only the
``state`` column of the library's events table is rewritten: each event is decoded with the
application's mapper (which reads every form) and encoded again with it (which writes the
newest form), then read back and compared with what was decoded before the new bytes are
written. So a digest or chain hash recomputed by ``timeline verify`` afterwards is the one
the index holds, and the daily digests (positions and chain hashes) still verify.

The store is read in position order, ``batch`` events a chunk; each chunk's rewrites are one
transaction (on PostgreSQL: ``COPY`` into a temporary table and one ``UPDATE … FROM`` under the
library's ``EXCLUSIVE`` table lock, so no writer's insert interleaves with it). A row already
in the target form is skipped, which is what makes the command resumable: after a crash a
rerun starts again from the first position and finds the committed chunks done.

The stored forms, told apart by the state's first byte (ops/adr/0009-stored-form-v2.md):

- form 1: the library's JSON object of the event's attributes (``{``);
- form 2: ``0x02``, then a clear part and a personal part sealed with a per-seeker key.

On PostgreSQL the index table is first brought to the layout this build reads (layout 2:
hashes as bytes, the type as its code; :func:`convert_index`), in one transaction of its own,
before the services are built — they refuse a layout-1 table. Its values do not change: the
service reads the same text from either layout."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification, StoredEvent

from timeline.domain.errors import TimelineError
from timeline.settings import Settings, database
from timeline.store import form2
from timeline.store.keys import SeekerErased
from timeline.store.mapper import TimelineMapper
from timeline.store.postgres import (
    IndexConversion,
    LogConversion,
    TimelinePostgresRecorder,
    convert_index_layout,
    convert_to_log,
    pack_state_sql,
)
from timeline.store.sqlite import TimelineSQLiteRecorder

#: The forms a state can be in, by its first byte.
FORM_BY_FIRST_BYTE = {form2.FORM1_FIRST: 1, form2.FORM: 2}
FORMS = (1, 2)
#: ``--to 3``: stored form 2 in the single log table (PostgreSQL's index layout 3; SQLite's
#: tables are unchanged by it): the store as this build writes it
LOG_TARGET = 3
#: what ``--to`` accepts
TARGETS = (*FORMS, LOG_TARGET)


def form_of(to: int) -> int:
    """The stored form ``--to`` asks for (3: form 2, in the log)."""
    return form2.FORM if to == LOG_TARGET else to


#: Events read and rewritten per transaction, unless told otherwise.
DEFAULT_BATCH = 2_000


class MigrationRefused(TimelineError):
    """The store cannot be migrated as asked (the message says why). Nothing of the chunk at
    hand was written; chunks committed before stay (in form ``to``, complete), and a rerun
    resumes after them once the cause is fixed."""


def stored_form(state: bytes) -> int | None:
    """The stored form of ``state`` (1 or 2), or None when it is neither (an empty or
    altered state: ``timeline verify`` names those)."""
    return FORM_BY_FIRST_BYTE.get(state[0]) if state else None


def mapper_form(mapper: Mapper[Any]) -> int:
    """The form ``mapper`` writes timeline events in: 2 for the timeline's mapper
    (:class:`~timeline.store.mapper.TimelineMapper`), 1 for the library's own (its JSON)."""
    return 2 if isinstance(mapper, TimelineMapper) else 1


@dataclass
class Migration:
    """What a run did (or, with ``dry_run``, would do)."""

    to: int
    dry_run: bool
    #: every stored event read
    examined: int = 0
    #: events rewritten into form ``to`` (with ``dry_run``: that would be)
    rewritten: int = 0
    #: events found already in form ``to``
    already: int = 0
    #: events per form found, before this run rewrote them
    found: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: what ``size_before`` and ``size_after`` measure
    size_of: str = ""
    size_before: int | None = None
    size_after: int | None = None

    @property
    def rate(self) -> float:
        """Events examined per second of the run."""
        return self.examined / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["found"] = {str(k): v for k, v in sorted(self.found.items())}
        out["seconds"] = round(self.seconds, 3)
        out["events_per_second"] = round(self.rate)
        return out


class _Writer:
    """One dialect's in-place rewrite of a chunk's states, and the size of what it rewrites."""

    size_of = ""

    def rewrite(self, rows: Sequence[tuple[Notification, bytes]]) -> None:
        raise NotImplementedError

    def size(self) -> int | None:
        raise NotImplementedError


class _SQLiteWriter(_Writer):
    def __init__(self, recorder: TimelineSQLiteRecorder) -> None:
        self.recorder = recorder
        self.size_of = "the database file (pages in use: PRAGMA page_count - freelist_count)"
        self._update = (
            f"UPDATE {recorder.events_table_name} SET state = ? "
            "WHERE originator_id = ? AND originator_version = ? AND rowid = ?"
        )

    def rewrite(self, rows: Sequence[tuple[Notification, bytes]]) -> None:
        params = [
            (state, UUID(str(n.originator_id)).hex, n.originator_version, n.id) for n, state in rows
        ]
        with self.recorder.datastore.transaction(commit=True) as c:
            c.executemany(self._update, params)
            changed = c.sqlite_cursor.rowcount
            if changed != len(params):
                raise MigrationRefused(
                    f"{len(params) - changed} of {len(params)} events changed under the "
                    "migration (a writer is running?): the chunk was rolled back; stop the "
                    "writers and run it again"
                )

    def size(self) -> int | None:
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA page_size")
            page = int(c.fetchone()[0])
            c.execute("PRAGMA page_count")
            pages = int(c.fetchone()[0])
            c.execute("PRAGMA freelist_count")
            free = int(c.fetchone()[0])
        return page * (pages - free)


class _PostgresWriter(_Writer):
    def __init__(self, recorder: TimelinePostgresRecorder) -> None:
        from psycopg.sql import SQL, Identifier, Literal  # noqa: PLC0415 (PostgreSQL only)

        self.recorder = recorder
        schema, table = recorder.datastore.schema, recorder.events_table_name
        events = SQL("{}.{}").format(Identifier(schema), Identifier(table))
        self.size_of = f"the events table {schema}.{table} (pg_total_relation_size)"
        id_type = SQL(recorder.datastore.originator_id_type)
        self._lock = SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(events)
        self._temp = SQL(
            "CREATE TEMPORARY TABLE timeline_migrate_chunk (notification_id bigint, "
            "originator_id {}, originator_version bigint, state bytea) ON COMMIT DROP"
        ).format(id_type)
        self._copy = SQL(
            "COPY timeline_migrate_chunk (notification_id, originator_id, originator_version, "
            "state) FROM STDIN"
        )
        # (the state as the log keeps it: without E when E is the row's columns)
        self._update = SQL(
            "UPDATE {} e SET state = "
            + pack_state_sql("m.state", "e.")
            + " FROM timeline_migrate_chunk m "
            "WHERE e.originator_id = m.originator_id "
            "AND e.originator_version = m.originator_version "
            "AND e.notification_id = m.notification_id"
        ).format(events, Identifier(schema))
        self._size = SQL("SELECT pg_total_relation_size({}::regclass)").format(
            Literal(f'"{schema}"."{table}"')
        )

    def rewrite(self, rows: Sequence[tuple[Notification, bytes]]) -> None:
        with self.recorder.datastore.transaction(commit=True) as c:
            c.execute("SET LOCAL lock_timeout = '30s'")
            c.execute(self._lock)  # (the library's insert lock: no writer interleaves)
            c.execute(self._temp)
            with c.copy(self._copy) as copy:
                for n, state in rows:
                    copy.write_row((n.id, n.originator_id, n.originator_version, state))
            c.execute(self._update)
            if c.rowcount != len(rows):
                raise MigrationRefused(
                    f"{len(rows) - c.rowcount} of {len(rows)} events changed under the "
                    "migration (a writer is running?): the chunk was rolled back; stop the "
                    "writers and run it again"
                )

    def size(self) -> int | None:
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(self._size)
            row = c.fetchone()
        return None if row is None else int(cast(Any, row)["pg_total_relation_size"])


def _writer(recorder: ApplicationRecorder) -> _Writer:
    if isinstance(recorder, TimelinePostgresRecorder):
        return _PostgresWriter(recorder)
    if isinstance(recorder, TimelineSQLiteRecorder):
        return _SQLiteWriter(recorder)
    raise MigrationRefused(
        "the store is not a SQLite or PostgreSQL database (memory: keeps nothing to migrate)"
    )


def check(recorder: ApplicationRecorder, mapper: Mapper[UUID], *, to: int, batch: int) -> _Writer:
    """The rewriter of ``recorder``'s store, or :class:`MigrationRefused` when the migration
    asked for cannot run (before anything is read or written)."""
    check_target(form_of(to), mapper_form(mapper))
    if batch < 1:
        raise MigrationRefused(f"--batch {batch}: must be at least 1")
    return _writer(recorder)


def check_target(to: int, written: int = form2.FORM) -> None:
    """:class:`MigrationRefused` unless ``to`` is the form ``written`` (by default the one the
    service's mapper writes; 3: form 2 in the log): checked before anything is converted."""
    if to not in TARGETS:
        raise MigrationRefused(f"--to {to}: no such stored form (known: {TARGETS})")
    to = form_of(to)
    if written != to:
        raise MigrationRefused(
            f"--to {to}: this build writes stored form {written}, so it cannot move events "
            f"into form {to}; nothing was written"
        )


def convert_index(
    settings: Settings, *, dry_run: bool = False, say: Callable[[str], object] | None = None
) -> IndexConversion | None:
    """PostgreSQL: the index table converted to the layout this build reads, in place, in one
    transaction (:func:`timeline.store.postgres.convert_index_layout`; nothing to do when it is
    already, or with ``dry_run``). None for SQLite and the memory store, whose index keeps its
    layout. Runs before the services are built: they refuse a layout-1 table."""
    db = database(settings.database_url)
    if db.kind != "postgres":
        return None
    import psycopg  # noqa: PLC0415 (PostgreSQL only)

    conninfo = psycopg.conninfo.make_conninfo(**db.libpq())
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return convert_index_layout(conn, db.schema, dry_run=dry_run, say=say)


def convert_log(
    settings: Settings, *, dry_run: bool = False, say: Callable[[str], object] | None = None
) -> LogConversion | None:
    """PostgreSQL: a layout-2 store (the library's events table and the index table) moved into
    the log, in place, in one transaction (:func:`timeline.store.postgres.convert_to_log`;
    nothing to do when it is there already, or with ``dry_run``). None for SQLite and the
    memory store. Runs after :func:`convert_index` and before the services are built: they
    refuse layouts 1 and 2."""
    db = database(settings.database_url)
    if db.kind != "postgres":
        return None
    import psycopg  # noqa: PLC0415 (PostgreSQL only)

    conninfo = psycopg.conninfo.make_conninfo(**db.libpq())
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return convert_to_log(conn, db.schema, dry_run=dry_run, say=say)


def migrate_store(
    recorder: ApplicationRecorder,
    mapper: Mapper[UUID],
    *,
    to: int,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[int], object] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Migration:
    """Rewrite every stored event not in form ``to`` into it, in position order, ``batch``
    events a transaction (see the module's text). ``mapper`` must write form ``to``: what it
    writes is what is stored. With ``dry_run`` nothing is written (no key is made either):
    the events that would be rewritten are counted. ``progress(n)`` is told of each ``n``
    positions passed (events, but for gaps the sequence left). ``clock`` times the run (a
    duration, not a moment)."""
    writer = check(recorder, mapper, to=to, batch=batch)
    run = Migration(to=to, dry_run=dry_run, size_of=writer.size_of)
    form = form_of(to)
    started = clock()
    run.size_before = writer.size()
    after = 0
    while True:
        chunk = recorder.select_notifications(after, batch, inclusive_of_start=False)
        if not chunk:
            break
        todo: list[Notification] = []
        for n in chunk:
            found = stored_form(n.state)
            if found is None:
                raise MigrationRefused(
                    f"position {n.id} (seeker {n.originator_id} version "
                    f"{n.originator_version}): its state is in no known stored form (first "
                    f"byte {n.state[:1].hex() or 'none'}); run `timeline verify` and restore "
                    "it from a backup before migrating"
                )
            run.found[found] = run.found.get(found, 0) + 1
            if found == form:
                run.already += 1
            else:
                todo.append(n)
        if todo and not dry_run:
            writer.rewrite(reencode(mapper, todo))
        run.rewritten += len(todo)
        run.examined += len(chunk)
        if progress is not None:  # (positions passed: the bar's total is the last position)
            progress(chunk[-1].id - after)
        after = chunk[-1].id
    run.size_after = writer.size()
    run.seconds = clock() - started
    return run


def reencode(
    mapper: Mapper[UUID], stored: Sequence[Notification]
) -> list[tuple[Notification, bytes]]:
    """Each event with its state in the form ``mapper`` writes, checked: the new state is read
    back and must give the same domain event, under the same topic."""
    events: list[DomainEventProtocol[UUID]] = [mapper.to_domain_event(n) for n in stored]
    if isinstance(mapper, TimelineMapper):  # the seekers' keys in one go (new ones committed)
        try:
            seekers = {UUID(str(n.originator_id)): None for n in stored}
            mapper.keys.data_keys(list(seekers), create=True)
        except SeekerErased as e:
            raise MigrationRefused(
                f"{e}, but its events are still in stored form 1, with their personal fields "
                "in clear: they cannot be sealed; nothing of this chunk was written"
            ) from None
    out = []
    for n, event in zip(stored, events, strict=True):
        new = mapper.to_stored_event(event)
        if new.topic != n.topic:
            raise MigrationRefused(
                f"position {n.id}: the event would be stored under topic {new.topic!r} "
                f"instead of {n.topic!r}; nothing of this chunk was written"
            )
        again = mapper.to_domain_event(
            StoredEvent(
                originator_id=n.originator_id,
                originator_version=n.originator_version,
                topic=n.topic,
                state=new.state,
            )
        )
        if again != event:
            raise MigrationRefused(
                f"position {n.id}: the event re-encoded does not read back the same; nothing "
                "of this chunk was written"
            )
        out.append((n, new.state))
    return out
