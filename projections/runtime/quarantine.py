"""Quarantine: a projection never halts on one event.

When an event cannot be read from the log, or a seeker's evaluation or the write of their rows
raises, the failure is recorded in the projection's ``<name>_quarantine`` table, that seeker is
marked stale, and the rest of the batch goes on; the tracking position advances as usual. Each
entry names the projection, the seeker, the log position and event id of the event it blames,
the stage, the error, and the event's recorded time (projections never read the clock).

Stages:

- ``decode``: the stored event could not be turned into a fact (an unknown type, a broken
  payload). The event is *kept out* of the projection's copy of the seeker's facts.
- ``apply``: a batch raised outside any one seeker's evaluation, and this event alone raised
  when applied on its own; it too is kept out.
- ``evaluate``: the seeker's evaluation raised. The event blamed is the first one whose
  arrival makes it raise (found by bisecting the seeker's history in version order).
- ``write``: the seeker's rows could not be written (on PostgreSQL, e.g. a NUL byte in a text
  field). Each page of rows is written under a savepoint; if it fails it is rolled back and
  written again seeker by seeker, each under its own savepoint, so one seeker's rows cannot
  abort the transaction of the others. (Savepoints rather than sanitising values: they isolate
  every database error a value can cause, not only the NUL bytes one foresaw, and the rows
  never silently differ from the events.)

``evaluate`` and ``write`` entries are replaced at each new failure of the seeker and removed
as soon as the seeker is evaluated and written cleanly again (a retraction of the bad event, a
fixed bug); ``decode`` and ``apply`` entries stay until a rebuild, which reads every event again
and records what still fails. Errors that say the database or the connection is unwell (not
the data) are never quarantined: they stop the batch, which is rolled back and retried, as
before.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC
from pathlib import PurePath
from typing import Any, TypeVar

import psycopg

from timeline.domain.facts import Fact
from timeline.store.side import Dialect, Tx

__all__ = [
    "KEPT_OUT",
    "Entry",
    "Quarantine",
    "describe",
    "evaluate_each",
    "is_poison",
    "savepoint",
    "write_each",
]

log = logging.getLogger("projections.quarantine")  # (the name operators filter on)

KEPT_OUT = ("decode", "apply")
"""Stages whose event is missing from the projection until a rebuild reads it cleanly."""
TRANSIENT = ("evaluate", "write")
"""Stages cleared by the seeker's next clean evaluation and write."""
ERROR_LENGTH = 1000

R = TypeVar("R")


def is_poison(exc: BaseException) -> bool:
    """Whether ``exc`` is about the data (quarantine it) rather than the database or the
    connection being unwell (stop the batch: it is rolled back and retried)."""
    if not isinstance(exc, Exception) or isinstance(
        exc, (MemoryError, ConnectionError, TimeoutError)
    ):
        return False
    if isinstance(exc, psycopg.Error):
        return isinstance(exc, (psycopg.DataError, psycopg.IntegrityError))
    if isinstance(exc, sqlite3.Error):
        return isinstance(exc, (sqlite3.DataError, sqlite3.IntegrityError))
    return True


def clean(text: str, limit: int = ERROR_LENGTH) -> str:
    """Text safe to store anywhere (no NUL or other control characters), at most ``limit``."""
    out = "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode() for c in text
    )
    return out if len(out) <= limit else out[: limit - 1] + "…"


def describe(exc: BaseException) -> str:
    """``Type: message (at file.py:line in function)``: where the error was raised."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" (at {PurePath(last.filename).name}:{last.lineno} in {last.name})"
    return clean(f"{type(exc).__name__}: {exc}{where}")


@dataclass(frozen=True)
class Entry:
    """One quarantined failure."""

    projection: str
    seeker_id: str
    stage: str
    error: str
    position: int | None = None
    event_id: str | None = None
    #: the blamed event's recorded time (ISO 8601, UTC), from the event itself
    recorded_at: str | None = None

    @classmethod
    def of(
        cls, projection: str, seeker_id: str, stage: str, exc: BaseException, fact: Fact | None
    ) -> Entry:
        return cls(
            projection=projection,
            seeker_id=seeker_id,
            stage=stage,
            error=describe(exc),
            position=fact.position if fact else None,
            event_id=fact.event_id if fact else None,
            recorded_at=fact.recorded_at.astimezone(UTC).isoformat() if fact else None,
        )

    @property
    def reason(self) -> str:
        """What a reader of the stale rows is told."""
        event = f"event {self.event_id} " if self.event_id else "the event "
        where = f"at log position {self.position}" if self.position else "at an unknown position"
        return clean(f"{self.stage} failed on {event}{where}: {self.error}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = ("projection", "seeker_id", "position", "event_id", "stage", "error", "recorded_at")


class Quarantine:
    """A projection's quarantine table, ``<projection>_quarantine``."""

    def __init__(self, projection: str) -> None:
        self.projection = projection
        self.table = f"{projection}_quarantine"

    def create_statements(self, dialect: Dialect) -> list[str]:
        big = "BIGINT" if dialect == "postgres" else "INTEGER"
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (projection TEXT NOT NULL, "
            f"seeker_id TEXT NOT NULL, position {big}, event_id TEXT, stage TEXT NOT NULL, "
            "error TEXT NOT NULL, recorded_at TEXT)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_seeker ON {self.table} (seeker_id)",
        ]

    def record(self, tx: Tx, entries: Sequence[Entry]) -> None:
        """Add ``entries``; a seeker's new evaluate/write entry replaces its earlier ones, and
        a kept-out event is recorded once."""
        if not entries:
            return
        for e in entries:  # also in the log, so an operator watching it sees it at once
            log.warning("%s: seeker %s quarantined: %s", self.projection, e.seeker_id, e.reason)
        transient = sorted({e.seeker_id for e in entries if e.stage in TRANSIENT})
        self._delete(tx, transient, TRANSIENT)
        p = tx.sql.P
        for e in entries:
            if e.stage in KEPT_OUT:
                tx.execute(
                    f"DELETE FROM {self.table} WHERE seeker_id = {p} AND position = {p} "
                    f"AND stage IN {_marks(tx, KEPT_OUT)}",
                    [e.seeker_id, e.position, *KEPT_OUT],
                )
        tx.copy(
            self.table,
            _COLUMNS,
            [
                (
                    self.projection,
                    clean(e.seeker_id),
                    e.position,
                    clean(e.event_id) if e.event_id else None,
                    e.stage,
                    clean(e.error),
                    e.recorded_at,
                )
                for e in entries
            ],
        )

    def for_seekers(self, tx: Tx, seeker_ids: Sequence[str]) -> dict[str, list[Entry]]:
        """The entries of these seekers (one query; usually none)."""
        out: dict[str, list[Entry]] = {}
        for chunk in _chunks(seeker_ids):
            for row in tx.execute(
                f"SELECT {','.join(_COLUMNS)} FROM {self.table} WHERE seeker_id IN "
                f"{_marks(tx, chunk)} ORDER BY position",
                chunk,
            ):
                out.setdefault(str(row[1]), []).append(_entry(row))
        return out

    def settle(
        self,
        tx: Tx,
        known: Mapping[str, Sequence[Entry]],
        clean_ids: Sequence[str],
        failures: Sequence[Entry],
    ) -> None:
        """After evaluating seekers: clear the evaluate/write entries of those now written
        cleanly (``known`` holds the entries they had), record the new ``failures``."""
        cleared = [s for s in clean_ids if any(e.stage in TRANSIENT for e in known.get(s, ()))]
        self._delete(tx, cleared, TRANSIENT)
        self.record(tx, failures)

    def entries(self, tx: Tx, limit: int | None = None) -> list[Entry]:
        sql = f"SELECT {','.join(_COLUMNS)} FROM {self.table} ORDER BY position, seeker_id"
        params: list[Any] = []
        if limit is not None:
            sql += f" LIMIT {tx.sql.P}"
            params.append(limit)
        return [_entry(r) for r in tx.execute(sql, params)]

    def counts(self, tx: Tx) -> tuple[int, int]:
        """(entries, distinct seekers)."""
        [(n, seekers)] = tx.execute(f"SELECT COUNT(*), COUNT(DISTINCT seeker_id) FROM {self.table}")
        return int(n), int(seekers)

    def _delete(self, tx: Tx, seeker_ids: Sequence[str], stages: Sequence[str]) -> None:
        for chunk in _chunks(seeker_ids):
            tx.execute(
                f"DELETE FROM {self.table} WHERE seeker_id IN {_marks(tx, chunk)} "
                f"AND stage IN {_marks(tx, stages)}",
                [*chunk, *stages],
            )


def _entry(row: Sequence[Any]) -> Entry:
    return Entry(
        projection=str(row[0]),
        seeker_id=str(row[1]),
        position=None if row[2] is None else int(row[2]),
        event_id=row[3],
        stage=str(row[4]),
        error=str(row[5]),
        recorded_at=row[6],
    )


def _marks(tx: Tx, values: Sequence[Any]) -> str:
    """``(P,P,…)``: one placeholder of the dialect per value."""
    return "(" + ",".join([tx.sql.P] * len(values)) + ")"


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


_names = itertools.count()


@contextlib.contextmanager
def savepoint(tx: Tx, *, keep: bool = True) -> Iterator[None]:
    """Run a block under a savepoint: on an exception roll back to it (the transaction goes on,
    also on PostgreSQL after a server-side error) and re-raise. ``keep=False`` rolls back even
    on success (a probe)."""
    name = f"q{next(_names)}"
    tx.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        tx.execute(f"ROLLBACK TO SAVEPOINT {name}")
        tx.execute(f"RELEASE SAVEPOINT {name}")
        raise
    if not keep:
        tx.execute(f"ROLLBACK TO SAVEPOINT {name}")
    tx.execute(f"RELEASE SAVEPOINT {name}")


def _raises(work: Callable[[], object]) -> bool:
    try:
        work()
    except Exception as exc:
        if not is_poison(exc):
            raise
        return True
    return False


def blame(facts: Sequence[Fact], fails: Callable[[Sequence[Fact]], bool]) -> Fact | None:
    """The event to blame when ``fails(facts)``: the last of the shortest prefix (in version
    order) that fails, by bisection — ``fails`` is called about log2(len(facts)) times."""
    if not facts:
        return None
    ok, bad = 0, len(facts)  # fails(facts[:0]) is taken to be False, fails(facts) True
    while bad - ok > 1:
        mid = (ok + bad) // 2
        if fails(facts[:mid]):
            bad = mid
        else:
            ok = mid
    return facts[bad - 1]


def evaluate_each(
    projection: str,
    facts: Mapping[str, Sequence[Fact]],
    compute: Callable[[str, Sequence[Fact]], R],
) -> tuple[dict[str, R], list[Entry]]:
    """``compute`` each seeker's result from their facts (version order); a seeker whose
    computation raises is left out and described by an ``evaluate`` entry."""
    done: dict[str, R] = {}
    failed: list[Entry] = []
    for sid, fs in facts.items():
        try:
            done[sid] = compute(sid, fs)
        except Exception as exc:
            if not is_poison(exc):
                raise

            def fails(part: Sequence[Fact], sid: str = sid) -> bool:
                return _raises(lambda: compute(sid, part))

            failed.append(Entry.of(projection, sid, "evaluate", exc, blame(fs, fails)))
    return done, failed


def write_each(
    tx: Tx,
    projection: str,
    results: dict[str, R],
    write: Callable[[Tx, Mapping[str, R]], None],
    facts: Mapping[str, Sequence[Fact]],
    compute: Callable[[str, Sequence[Fact]], R],
) -> list[Entry]:
    """``write`` the results of every seeker at once, under a savepoint; if that raises, write
    them seeker by seeker, leave out (``results`` loses them) and describe by a ``write`` entry
    those whose rows cannot be written."""
    if not results:
        return []
    try:
        with savepoint(tx):
            write(tx, results)
    except Exception as exc:
        if not is_poison(exc):
            raise
    else:
        return []
    failed: list[Entry] = []
    for sid in list(results):
        try:
            with savepoint(tx):
                write(tx, {sid: results[sid]})
        except Exception as exc:
            if not is_poison(exc):
                raise
            del results[sid]

            def probe(part: Sequence[Fact], sid: str = sid) -> bool:
                def attempt() -> None:
                    with savepoint(tx, keep=False):
                        write(tx, {sid: compute(sid, part)})

                return _raises(attempt)

            failed.append(Entry.of(projection, sid, "write", exc, blame(facts.get(sid, []), probe)))
    return failed
