"""What the runtime keeps beside a projection's own tables: its position in the log
(:class:`Tracking`, one row) and its copy of every seeker's facts (:class:`FactCopy`)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from timeline.domain.event_types import BY_NAME
from timeline.domain.facts import Fact
from timeline.store.side import Dialect, Tx

__all__ = ["FactCopy", "Tracking"]


@dataclass
class Tracking:
    """The position of the last log event a projection applied, kept in its own table."""

    name: str

    @property
    def table(self) -> str:
        return f"{self.name}_tracking"

    def create_statements(self, dialect: Dialect) -> list[str]:
        bigint = "BIGINT" if dialect == "postgres" else "INTEGER"
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (id INTEGER PRIMARY KEY CHECK (id = 1), "
            f"position {bigint} NOT NULL)",
            f"INSERT INTO {self.table} (id, position) SELECT 1, 0 WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table})",
        ]

    def position(self, tx: Tx, *, lock: bool = False) -> int:
        suffix = tx.sql.FOR_UPDATE if lock else ""
        rows = tx.execute(f"SELECT position FROM {self.table} WHERE id = 1{suffix}")
        return int(rows[0][0]) if rows else 0

    def advance(self, tx: Tx, position: int) -> None:
        tx.execute(f"UPDATE {self.table} SET position = {tx.sql.P} WHERE id = 1", [position])


@dataclass(frozen=True)
class FactCopy:
    """A projection's own copy of every seeker's facts, in table ``table``: what it re-evaluates
    seekers from without going back to the event store (and what it answers as-of reads
    from)."""

    table: str

    def create_statement(self, dialect: Dialect) -> str:
        big = "BIGINT" if dialect == "postgres" else "INTEGER"
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} (seeker_id TEXT NOT NULL, "
            f"version INTEGER NOT NULL, position {big} NOT NULL, event_id TEXT NOT NULL, "
            "type TEXT NOT NULL, occurred_on TEXT NOT NULL, occurred_at TEXT, "
            "recorded_at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (seeker_id, version))"
        )

    def keep(self, tx: Tx, facts: Sequence[Fact]) -> None:
        tx.copy(
            self.table,
            _FACT_COLUMNS,
            [
                (
                    f.seeker_id,
                    f.version,
                    f.position,
                    f.event_id,
                    str(f.type),
                    f.occurred_on.isoformat(),
                    f.occurred_at.isoformat() if f.occurred_at else None,
                    f.recorded_at.astimezone(UTC).isoformat(),
                    json.dumps(dict(f.data)),
                )
                for f in facts
            ],
        )

    def load(self, tx: Tx, seeker_ids: Iterable[str], page: int = 500) -> dict[str, list[Fact]]:
        """These seekers' facts in version order, by seeker."""
        ids = list(seeker_ids)
        out: dict[str, list[Fact]] = defaultdict(list)
        for i in range(0, len(ids), page):
            chunk = ids[i : i + page]
            marks = ",".join([tx.sql.P] * len(chunk))
            for row in tx.execute(
                f"SELECT {','.join(_FACT_COLUMNS)} FROM {self.table} "
                f"WHERE seeker_id IN ({marks}) ORDER BY seeker_id, version",
                chunk,
            ):
                out[row[0]].append(_fact(row))
        return out


_FACT_COLUMNS = (
    "seeker_id",
    "version",
    "position",
    "event_id",
    "type",
    "occurred_on",
    "occurred_at",
    "recorded_at",
    "data",
)


def _fact(row: Sequence[Any]) -> Fact:
    return Fact(
        seeker_id=row[0],
        version=int(row[1]),
        position=int(row[2]),
        event_id=row[3],
        type=BY_NAME[row[4]],
        occurred_on=date.fromisoformat(row[5]),
        occurred_at=datetime.fromisoformat(row[6]) if row[6] else None,
        recorded_at=datetime.fromisoformat(row[7]),
        data=json.loads(row[8]),
    )
