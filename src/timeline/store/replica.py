"""The side database of a read replica (a PostgreSQL hot standby): the projections' tables as
replicated from the primary, read only.

The views built on it (obligations, outcomes) make their tables when they are built; on a
standby those statements are the primary's to run — the tables arrive by replication — so a
:class:`ReplicaTx` passes over schema statements (``CREATE``, ``ALTER``, ``DROP`` and the
tracking row's seed, ``INSERT … WHERE NOT EXISTS``) and runs every other statement in a
``READ ONLY`` transaction, where the server refuses any write (ops/adr/0010-read-replicas.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from timeline.store.side import SideDatabase, Tx

#: first words of the statements that make or change the schema
SCHEMA_VERBS = ("CREATE", "ALTER", "DROP")


def is_schema_statement(sql: str) -> bool:
    """Whether ``sql`` makes or changes the schema, or seeds a row only where there is none
    (idempotent set-up a replica has from its primary)."""
    words = sql.lstrip().upper()
    if words.startswith(SCHEMA_VERBS):
        return True
    return words.startswith("INSERT") and "WHERE NOT EXISTS" in words


class ReplicaTx(Tx):
    """A read-only transaction on a replica: schema statements are passed over (see the module
    docstring); what else writes is refused by the server."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if is_schema_statement(sql):
            return []
        return super().execute(sql, params)


class ReplicaDatabase(SideDatabase):
    """The projections' tables on a read replica of ``settings.database_url`` (PostgreSQL only:
    :class:`~timeline.settings.Settings` refuses a replica of anything else)."""

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.dialect != "postgres":
            raise ValueError("a read replica is a PostgreSQL hot standby")
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            yield ReplicaTx(conn, "postgres")

    read = transaction
