"""The erasure register: one entry per erased seeker — when, who ran it, on whose authority and
why, and which events it covered (how many, the last version and position) — appended to a
hash-chained, append-only table beside the access log (updates, deletes and, on PostgreSQL,
TRUNCATE are refused by triggers; an edit that slips past them breaks the chain).

As with the access log, the chain alone cannot show a removed tail or a chain recomputed after
an edit: each day's head is sealed into the signed daily digest (format 3,
:mod:`timeline.audit.digests`), and a digest kept outside the system proves the register up to
that entry unchanged (docs/erasure.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from psycopg.sql import SQL, Composed, Identifier

from timeline.audit.access_log import EMPTY_HEAD, Head, Scan
from timeline.domain.canonical import GENESIS_HASH, canonical_bytes, iso_utc
from timeline.domain.zone import HELSINKI
from timeline.settings import Database
from timeline.store.side import SideDatabase, Tx

TABLE = "timeline_erasures"
#: Entries read per query by :meth:`ErasureLookup.scan` and :func:`ErasureLookup.entries`.
SCAN_PAGE = 10_000
#: Seeker ids asked about per query by :meth:`ErasureLookup.erased`.
ASK_CHUNK = 500
COLUMNS = (
    "seq",
    "erased_at",
    "seeker_id",
    "reason",
    "authority",
    "actor",
    "events",
    "last_version",
    "last_position",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class Erasure:
    """One entry of the register. ``events``, ``last_version`` and ``last_position`` say which
    of the seeker's events the erasure covered (every event stored when it was recorded)."""

    seq: int
    erased_at: str
    seeker_id: str
    reason: str
    authority: str
    actor: str
    events: int
    last_version: int
    last_position: int | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: Sequence[Any]) -> Erasure:
        return cls(
            int(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            str(row[4]),
            str(row[5]),
            int(row[6]),
            int(row[7]),
            None if row[8] is None else int(row[8]),
            str(row[9]),
            str(row[10]),
        )

    def fields(self) -> dict[str, Any]:
        """What the entry's hash covers (everything but the hashes)."""
        out = asdict(self)
        del out["prev_hash"], out["hash"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def entry_hash(prev: str, fields: dict[str, Any]) -> str:
    """SHA-256(prev hash | canonical JSON of the entry's fields), as hex (the access log's rule)."""
    return hashlib.sha256(prev.encode("ascii") + b"|" + canonical_bytes(fields)).hexdigest()


class ErasureLookup:
    """Reads of the register (also on a read replica: nothing here writes or makes tables)."""

    def __init__(self, db: SideDatabase) -> None:
        self.db = db

    def erased(self, seeker_ids: Sequence[str]) -> set[str]:
        """Those of ``seeker_ids`` that are in the register (erased, or being erased)."""
        wanted = list(dict.fromkeys(str(s) for s in seeker_ids))
        out: set[str] = set()
        for i in range(0, len(wanted), ASK_CHUNK):
            chunk = wanted[i : i + ASK_CHUNK]
            rows = self.db.query(self.db.sql.erased_among(len(chunk)), chunk)
            out.update(str(r[0]) for r in rows)
        return out

    def erased_statement(
        self, seeker_ids: Sequence[str], location: Database
    ) -> tuple[Composed, list[Any]] | None:
        """:meth:`erased`'s question as one statement (its rows: the erased seeker ids) for a
        connection of the PostgreSQL database ``location`` other than this register's own (the
        table named with its schema), so that a caller can send it with its other reads there
        (the reads before an append's decision, :meth:`TimelineApp.look_up`); None when the
        register is not in that database (then ask :meth:`erased`)."""
        db = self.db
        if db.dialect != "postgres" or db.location != location or db.schema != location.schema:
            return None
        statement = SQL("SELECT seeker_id FROM {}.{} WHERE seeker_id = ANY(%s)").format(
            Identifier(db.schema), Identifier(TABLE)
        )
        return statement, [list(dict.fromkeys(str(s) for s in seeker_ids))]

    def entry_of(self, seeker_id: str) -> Erasure | None:
        rows = self.db.query(self.db.sql.ERASURE_OF, [str(seeker_id)])
        return Erasure.of(rows[0]) if rows else None

    def entries(self, *, after: int = 0, limit: int | None = None) -> list[Erasure]:
        """Entries numbered above ``after``, in number order (at most ``limit``)."""
        out: list[Erasure] = []
        for entry in self._pages(after):
            if limit is not None and len(out) >= limit:
                break
            out.append(entry)
        return out

    def all_erased(self) -> set[str]:
        """Every erased seeker (the register is small: one entry per seeker erased)."""
        return {e.seeker_id for e in self._pages(0)}

    def _pages(self, after: int) -> Iterator[Erasure]:
        while True:
            with self.db.read() as tx:
                rows = tx.execute(tx.sql.ERASURES_PAGE, [after, SCAN_PAGE])
            for row in rows:
                entry = Erasure.of(row)
                after = entry.seq
                yield entry
            if len(rows) < SCAN_PAGE:
                return

    def scan(self) -> Scan:
        """Read the whole register once, in number order: check that every entry chains to the
        one before, and note each day's last entry (for the daily digests). The same
        :class:`~timeline.audit.access_log.Scan` as the access log's."""
        out = Scan()
        prev = GENESIS_HASH
        expected_seq = 1
        for entry in self._pages(0):
            try:
                day = datetime.fromisoformat(entry.erased_at).astimezone(HELSINKI).date()
            except (TypeError, ValueError):
                out.problem = (
                    out.problem or f"erasure register entry {entry.seq} has no readable time"
                )
            else:
                last = out.last_of_day.get(day)
                if last is None or entry.seq > last.seq:
                    out.last_of_day[day] = Head(entry.seq, entry.hash)
            if out.problem is not None:
                continue
            if entry.seq != expected_seq:
                out.problem = f"erasure register entry {expected_seq} is missing"
                continue
            if entry.prev_hash != prev or entry_hash(prev, entry.fields()) != entry.hash:
                out.problem = f"erasure register entry {entry.seq} was altered (hash chain broken)"
                continue
            prev = entry.hash
            expected_seq += 1
        return out

    def verify(self) -> str | None:
        """None when every entry chains to the one before; else the first broken entry."""
        return self.scan().problem

    @staticmethod
    def head_before(tx: Tx, end: datetime) -> Head:
        """In ``tx``: the entry with the highest number among those dated before ``end`` (on
        PostgreSQL after waiting for entries being appended)."""
        if tx.sql.ERASURES_LOCK_HEAD:
            tx.execute(tx.sql.ERASURES_LOCK_HEAD)
        rows = tx.execute(tx.sql.ERASURES_HEAD_BEFORE, [iso_utc(end)])
        return Head(int(rows[0][0]), str(rows[0][1])) if rows else EMPTY_HEAD


class ErasureRegister(ErasureLookup):
    """The register on the primary: makes its table, and appends entries."""

    def __init__(self, db: SideDatabase) -> None:
        super().__init__(db)
        with db.transaction() as tx:
            for sql in tx.sql.ERASURES_SCHEMA:
                tx.execute(sql)

    @staticmethod
    def append(
        tx: Tx,
        *,
        now: datetime,
        seeker_id: str,
        reason: str,
        authority: str,
        actor: str,
        events: int,
        last_version: int,
        last_position: int | None,
    ) -> Erasure:
        """In ``tx`` (serialised: each entry chains to the one before): append the entry of
        ``seeker_id``. Its time is never before the previous entry's, so the entries' times
        rise with their numbers and a day's digest never misses an entry of that day."""
        if tx.sql.ERASURES_LOCK_APPEND:
            tx.execute(tx.sql.ERASURES_LOCK_APPEND)
        last = tx.execute(tx.sql.ERASURES_LAST)
        seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, GENESIS_HASH)
        at = max(iso_utc(now), str(last[0][2]) if last else "")
        unsigned = Erasure(
            seq,
            at,
            seeker_id,
            reason,
            authority,
            actor,
            events,
            last_version,
            last_position,
            prev,
            "",
        )
        entry = Erasure(**{**unsigned.to_dict(), "hash": entry_hash(prev, unsigned.fields())})
        tx.execute(tx.sql.ERASURES_INSERT, [getattr(entry, c) for c in COLUMNS])
        return entry
