"""The access log: every read of a personal timeline or its obligations — who, when, what, and
the stated purpose — appended to a hash-chained, append-only table (updates and deletes are
refused by triggers; any edit that slips past them breaks the chain)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from timeline.clock import Clock
from timeline.db import SideDatabase, Tx
from timeline.domain.canonical import GENESIS_HASH, canonical_bytes, iso_utc

TABLE = "timeline_access_log"
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
            for sql in self._schema(tx):
                tx.execute(sql)

    @staticmethod
    def _schema(tx: Tx) -> list[str]:
        big = "BIGINT" if tx.dialect == "postgres" else "INTEGER"
        create = (
            f"CREATE TABLE IF NOT EXISTS {TABLE} (seq {big} PRIMARY KEY, at TEXT NOT NULL, "
            "actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, seeker_id TEXT, "
            "purpose TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, "
            "hash TEXT NOT NULL)"
        )
        index = f"CREATE INDEX IF NOT EXISTS {TABLE}_seeker ON {TABLE} (seeker_id, at)"
        if tx.dialect == "postgres":
            return [
                create,
                index,
                "CREATE OR REPLACE FUNCTION timeline_access_log_append_only() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only';"
                " END $$",
                f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}",
                f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                "FOR EACH ROW EXECUTE FUNCTION timeline_access_log_append_only()",
            ]
        return [
            create,
            index,
            f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
            "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
            f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
            "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
        ]

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
        """Append one entry (serialised: each entry chains to the one before)."""
        at = iso_utc(self.clock())
        detail_text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"))
        with self.db.transaction() as tx:
            if tx.dialect == "postgres":
                tx.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
            last = tx.execute(f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1")
            seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, GENESIS_HASH)
            fields = _fields(seq, at, actor, role, action, seeker_id, purpose, detail_text)
            digest = _hash(prev, fields)
            tx.execute(
                f"INSERT INTO {TABLE} ({','.join(COLUMNS)}) VALUES "
                f"({','.join('?' * len(COLUMNS))})",
                [seq, at, actor, role, action, seeker_id, purpose, detail_text, prev, digest],
            )
        return Access(seq, at, actor, role, action, seeker_id, purpose, detail_text, prev, digest)

    def query(
        self,
        *,
        seeker_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[Access]:
        sql = f"SELECT {','.join(COLUMNS)} FROM {TABLE} WHERE 1=1"
        params: list[Any] = []
        for clause, value in (
            ("seeker_id = ?", seeker_id),
            ("actor = ?", actor),
            ("at >= ?", iso_utc(since) if since else None),
            ("at <= ?", iso_utc(until) if until else None),
        ):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self.db.transaction() as tx:
            return [Access(*row) for row in tx.execute(sql, params)]

    def verify(self) -> str | None:
        """None when every entry chains to the one before; else the first broken entry."""
        prev = GENESIS_HASH
        expected_seq = 1
        with self.db.transaction() as tx:
            rows = tx.execute(f"SELECT {','.join(COLUMNS)} FROM {TABLE} ORDER BY seq")
        for row in rows:
            a = Access(*row)
            if a.seq != expected_seq:
                return f"access log entry {expected_seq} is missing"
            fields = _fields(
                a.seq, a.at, a.actor, a.role, a.action, a.seeker_id, a.purpose, a.detail
            )
            if a.prev_hash != prev or _hash(prev, fields) != a.hash:
                return f"access log entry {a.seq} was altered (hash chain broken)"
            prev = a.hash
            expected_seq += 1
        return None
