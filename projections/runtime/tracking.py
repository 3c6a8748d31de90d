"""What the runtime keeps beside a projection's own tables: its position in the log
(:class:`Tracking`, one row)."""

from __future__ import annotations

from dataclasses import dataclass

from timeline.store.side import Dialect, Tx

__all__ = ["Tracking"]


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
