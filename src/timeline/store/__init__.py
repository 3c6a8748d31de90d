"""The event store: ``eventsourcing`` application recorders extended with the event index
(idempotency key, recorded time, digest, hash chain, person look-up), written in the same
transaction as the events, for the in-memory, SQLite and PostgreSQL stores; and the database
beside the events (:mod:`timeline.store.side`) with each dialect's named SQL
(:mod:`timeline.store.sql_sqlite`, :mod:`timeline.store.sql_postgres`)."""

from timeline.store.index import EventIndex, IndexRow

__all__ = ["EventIndex", "IndexRow"]
