"""What the runtime keeps beside a projection's own tables: its position in the log
(:class:`Tracking`): one row for the unpartitioned worker, and one row per partition
(``<name>_partitions``, keyed by bucket range) once partitioned workers run.

The projection's position — what readiness, metrics and ``timeline status`` report — is the
**least** over the partitions: the least of the partition rows, and the unpartitioned row too
while some buckets have no partition row of their own. A partition without a row of its own
starts from the least row whose range overlaps its own (or the unpartitioned row): re-applying
a stretch of the log re-evaluates the same seekers from the same facts, so starting earlier is
safe, starting later never happens."""

from __future__ import annotations

from dataclasses import dataclass, field

from projections.runtime.partition import BUCKETS, WHOLE, Partition
from timeline.store.side import Dialect, Tx

__all__ = ["Tracking"]


@dataclass
class Tracking:
    """The position of the last log event a projection applied (for ``partition``'s seekers),
    kept in its own table."""

    name: str
    partition: Partition = field(default=WHOLE)

    @property
    def table(self) -> str:
        return f"{self.name}_tracking"

    @property
    def partitions_table(self) -> str:
        return f"{self.name}_partitions"

    def create_statements(self, dialect: Dialect) -> list[str]:
        bigint = "BIGINT" if dialect == "postgres" else "INTEGER"
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (id INTEGER PRIMARY KEY CHECK (id = 1), "
            f"position {bigint} NOT NULL)",
            f"INSERT INTO {self.table} (id, position) SELECT 1, 0 WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table})",
            f"CREATE TABLE IF NOT EXISTS {self.partitions_table} (lo INTEGER NOT NULL, "
            f"hi INTEGER NOT NULL, position {bigint} NOT NULL, PRIMARY KEY (lo, hi))",
        ]

    def drop_statements(self) -> list[str]:
        return [
            f"DROP TABLE IF EXISTS {self.table}",
            f"DROP TABLE IF EXISTS {self.partitions_table}",
        ]

    def _whole(self, tx: Tx, lock: bool) -> int:
        suffix = tx.sql.FOR_UPDATE if lock else ""
        rows = tx.execute(f"SELECT position FROM {self.table} WHERE id = 1{suffix}")
        return int(rows[0][0]) if rows else 0

    def rows(self, tx: Tx) -> list[tuple[int, int, int]]:
        """The partition rows: (lo, hi, position), by range."""
        return [
            (int(lo), int(hi), int(pos))
            for lo, hi, pos in tx.execute(
                f"SELECT lo, hi, position FROM {self.partitions_table} ORDER BY lo, hi"
            )
        ]

    def partitioned(self, tx: Tx) -> bool:
        """Whether partitioned workers keep this projection (a partition row exists)."""
        return bool(tx.execute(f"SELECT 1 FROM {self.partitions_table} LIMIT 1"))

    def least(self, tx: Tx, *, lock: bool = False) -> int:
        """The projection's position: the least over the partitions (see the module)."""
        whole = self._whole(tx, lock)
        rows = self.rows(tx)
        if not rows:
            return whole
        covered = [False] * BUCKETS
        for lo, hi, _ in rows:
            covered[lo:hi] = [True] * (hi - lo)
        least = min(pos for _, _, pos in rows)
        return least if all(covered) else min(least, whole)

    def position(self, tx: Tx, *, lock: bool = False) -> int:
        """This partition's position (the unpartitioned worker's: the least, see the
        module). ``lock``: hold its row until the transaction ends."""
        p = self.partition
        if p.whole:
            return self.least(tx, lock=lock)
        suffix = tx.sql.FOR_UPDATE if lock else ""
        rows = tx.execute(
            f"SELECT position FROM {self.partitions_table} WHERE lo = {tx.sql.P} "
            f"AND hi = {tx.sql.P}{suffix}",
            [p.lo, p.hi],
        )
        if rows:
            return int(rows[0][0])
        return self.inherited(tx)

    def inherited(self, tx: Tx) -> int:
        """Where this partition starts without a row of its own: the least overlapping
        partition row, else the unpartitioned row."""
        parents = [pos for lo, hi, pos in self.rows(tx) if self.partition.overlaps(lo, hi)]
        return min(parents) if parents else self._whole(tx, False)

    def claim(self, tx: Tx) -> None:
        """Give this partition its row (at the inherited position) if it has none yet."""
        p = self.partition
        if p.whole:
            return
        tx.execute(
            f"INSERT INTO {self.partitions_table} (lo, hi, position) VALUES "
            f"({tx.sql.P}, {tx.sql.P}, {tx.sql.P}) ON CONFLICT (lo, hi) DO NOTHING",
            [p.lo, p.hi, self.inherited(tx)],
        )

    def advance(self, tx: Tx, position: int) -> None:
        p = self.partition
        if p.whole:
            tx.execute(f"UPDATE {self.table} SET position = {tx.sql.P} WHERE id = 1", [position])
            return
        tx.execute(
            f"INSERT INTO {self.partitions_table} (lo, hi, position) VALUES "
            f"({tx.sql.P}, {tx.sql.P}, {tx.sql.P}) ON CONFLICT (lo, hi) DO UPDATE SET "
            "position = excluded.position",
            [p.lo, p.hi, position],
        )

    def collapse(self, tx: Tx, position: int) -> None:
        """Every partition has reached ``position``: keep it as the unpartitioned row, drop
        the partition rows (an N-worker rebuild, before the swap)."""
        tx.execute(f"DELETE FROM {self.partitions_table}")
        tx.execute(f"UPDATE {self.table} SET position = {tx.sql.P} WHERE id = 1", [position])
