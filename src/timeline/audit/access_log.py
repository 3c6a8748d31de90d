"""The access log: every read of a personal timeline or its obligations — who, when, what, and
the stated purpose — appended to a hash-chained, append-only table (updates and deletes are
refused by triggers; any edit that slips past them breaks the chain).

The chain alone cannot show a removed tail, an emptied table, or a chain recomputed after an
edit: whoever can write the table can also write consistent hashes. So each day's head (the
last entry dated that day or before: its number and hash) is sealed into the signed daily
digest (:mod:`timeline.audit.digests`), and a digest kept outside the system proves the log
up to that entry unchanged."""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from timeline import telemetry
from timeline.clock import Clock
from timeline.domain.canonical import GENESIS_HASH, canonical_bytes, iso_utc
from timeline.domain.zone import HELSINKI
from timeline.store.side import SideDatabase, Tx

TABLE = "timeline_access_log"
#: Entries read per query by :meth:`AccessLog.scan`.
SCAN_PAGE = 10_000
COLUMNS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "seeker_id",
    "purpose",
    "detail",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class Access:
    seq: int
    at: str
    actor: str
    role: str
    action: str
    seeker_id: str | None
    purpose: str
    detail: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["detail"] = json.loads(self.detail) if self.detail else {}
        return out


@dataclass(frozen=True)
class Head:
    """The last entry of the log at some moment: its number and chain hash (0 and the genesis
    hash for an empty log)."""

    seq: int
    hash: str


EMPTY_HEAD = Head(0, GENESIS_HASH)


@dataclass
class Scan:
    """One pass over the whole log: the first broken entry (None when every entry chains to
    the one before), and for each day (Europe/Helsinki) the entry with the highest number
    among those dated that day."""

    problem: str | None = None
    last_of_day: dict[date, Head] = field(default_factory=dict)

    def head_at_end_of(self, day: date) -> Head:
        """The entry with the highest number among those dated ``day`` or before: what the
        daily digest of ``day`` seals."""
        days = sorted(self.last_of_day)
        best = EMPTY_HEAD
        for d in days[: bisect.bisect_right(days, day)]:
            if self.last_of_day[d].seq > best.seq:
                best = self.last_of_day[d]
        return best


def _hash(prev: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev.encode("ascii") + b"|" + canonical_bytes(fields)).hexdigest()


def _fields(
    seq: int,
    at: str,
    actor: str,
    role: str,
    action: str,
    seeker_id: str | None,
    purpose: str,
    detail: str,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "role": role,
        "action": action,
        "seeker_id": seeker_id,
        "purpose": purpose,
        "detail": detail,
    }


class AccessLog:
    def __init__(self, db: SideDatabase, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        with db.transaction() as tx:
            for sql in tx.sql.ACCESS_LOG_SCHEMA:
                tx.execute(sql)

    def record(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        seeker_id: str | None,
        purpose: str,
        detail: dict[str, Any] | None = None,
    ) -> Access:
        """Append one entry (serialised: each entry chains to the one before). Its time is
        read under the table lock and never before the previous entry's, so the entries'
        times rise with their numbers and a day's digest, sealed under the same lock, never
        misses an entry of that day that commits after it."""
        detail_text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"))
        with self.db.transaction() as tx:
            if tx.sql.ACCESS_LOG_LOCK_APPEND:
                tx.execute(tx.sql.ACCESS_LOG_LOCK_APPEND)
            last = tx.execute(tx.sql.ACCESS_LOG_LAST)
            seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, GENESIS_HASH)
            at = max(iso_utc(self.clock()), str(last[0][2]) if last else "")
            fields = _fields(seq, at, actor, role, action, seeker_id, purpose, detail_text)
            digest = _hash(prev, fields)
            tx.execute(
                tx.sql.ACCESS_LOG_INSERT,
                [seq, at, actor, role, action, seeker_id, purpose, detail_text, prev, digest],
            )
        telemetry.current().access_logged(action)
        return Access(seq, at, actor, role, action, seeker_id, purpose, detail_text, prev, digest)

    def query(
        self,
        *,
        seeker_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        after: int = 0,
    ) -> list[Access]:
        """Entries in number order, those numbered above ``after`` (the last of a page)."""
        p = self.db.sql.P
        sql = f"SELECT {','.join(COLUMNS)} FROM {TABLE} WHERE 1=1"
        params: list[Any] = []
        for condition, value in (
            ("seeker_id =", seeker_id),
            ("actor =", actor),
            ("at >=", iso_utc(since) if since else None),
            ("at <=", iso_utc(until) if until else None),
            ("seq >", after or None),
        ):
            if value is not None:
                sql += f" AND {condition} {p}"
                params.append(value)
        sql += f" ORDER BY seq LIMIT {p}"
        params.append(limit)
        with self.db.transaction() as tx:
            return [Access(*row) for row in tx.execute(sql, params)]

    def verify(self) -> str | None:
        """None when every entry chains to the one before; else the first broken entry."""
        return self.scan().problem

    def scan(self) -> Scan:
        """Read the whole log once, in number order (a page at a time): check that every entry
        chains to the one before, and note each day's last entry (for the daily digests)."""
        out = Scan()
        prev = GENESIS_HASH
        expected_seq = 1
        after = 0
        while True:
            with self.db.transaction() as tx:
                rows = tx.execute(tx.sql.ACCESS_LOG_PAGE, [after, SCAN_PAGE])
            for row in rows:
                a = Access(*row)
                after = a.seq
                try:
                    day = datetime.fromisoformat(a.at).astimezone(HELSINKI).date()
                except (TypeError, ValueError):
                    out.problem = out.problem or f"access log entry {a.seq} has no readable time"
                else:
                    last = out.last_of_day.get(day)
                    if last is None or a.seq > last.seq:
                        out.last_of_day[day] = Head(a.seq, a.hash)
                if out.problem is not None:
                    continue
                if a.seq != expected_seq:
                    out.problem = f"access log entry {expected_seq} is missing"
                    continue
                fields = _fields(
                    a.seq, a.at, a.actor, a.role, a.action, a.seeker_id, a.purpose, a.detail
                )
                if a.prev_hash != prev or _hash(prev, fields) != a.hash:
                    out.problem = f"access log entry {a.seq} was altered (hash chain broken)"
                    continue
                prev = a.hash
                expected_seq += 1
            if len(rows) < SCAN_PAGE:
                return out

    @staticmethod
    def head_before(tx: Tx, end: datetime) -> Head:
        """In ``tx``: the entry with the highest number among those dated before ``end`` (on
        PostgreSQL after waiting for entries being appended: see :meth:`record`)."""
        if tx.sql.ACCESS_LOG_LOCK_HEAD:
            tx.execute(tx.sql.ACCESS_LOG_LOCK_HEAD)
        rows = tx.execute(tx.sql.ACCESS_LOG_HEAD_BEFORE, [iso_utc(end)])
        return Head(int(rows[0][0]), str(rows[0][1])) if rows else EMPTY_HEAD
