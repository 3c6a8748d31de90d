"""One instance of each job across processes: :class:`JobLock`."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from timeline.store import sql_postgres, sql_sqlite
from timeline.store.side import SideDatabase

log = logging.getLogger("timeline.jobs")


class JobLock:
    """At most one holder per job name across processes (and threads).

    - PostgreSQL: a session advisory lock per job, taken on one connection of this lock's own,
      outside every pool; the server releases it when that session ends, even if the process
      was killed.
    - SQLite: a lease row per job in ``timeline_job_leases`` (holder, expiry by the database's
      clock), renewed every ``lease_seconds / 3`` while held and deleted when released. A
      lease whose holder died is taken over at once when the holder ran on this host (its
      process is gone); otherwise when it expires. No file is made beside the database.
    - The in-memory store: within this process only (it has no other).
    """

    def __init__(self, db: SideDatabase, *, lease_seconds: float = 60.0) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self._local: dict[str, threading.Lock] = {}
        self._waiting: dict[str, int] = {}  # threads of this process waiting for a job's lock
        self._guard = threading.Lock()  # the dict above, the lock connection, the held leases
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._held: set[str] = set()
        self._renewer: threading.Thread | None = None
        self._closed = threading.Event()
        self.kind = (
            "advisory"
            if db.dialect == "postgres"
            else ("process" if db.path in (None, "", ":memory:") else "lease")
        )
        if self.kind == "lease":
            with db.transaction() as tx:
                tx.execute(sql_sqlite.JOB_LEASES_TABLE)

    @contextmanager
    def hold(self, job: str, *, wait: bool = False, poll_seconds: float = 0.2) -> Iterator[bool]:
        """Yield True while this caller holds ``job``'s lock; False at once if another does
        (or, in this process, waits for it), or, with ``wait``, wait for it: first for this
        process's holder — whose next attempt gives way to the waiter —, then polling for
        another process's."""
        with self._guard:
            local = self._local.setdefault(job, threading.Lock())
            waiting = self._waiting.get(job, 0)
            if wait:
                self._waiting[job] = waiting + 1
        if not wait and waiting:
            yield False
            return
        try:
            acquired = local.acquire(blocking=wait)
        finally:
            if wait:
                with self._guard:
                    self._waiting[job] -= 1
        if not acquired:
            yield False
            return
        try:
            got = self._acquire(job)
            while wait and not got:
                time.sleep(poll_seconds)
                got = self._acquire(job)
            try:
                yield got
            finally:
                if got:
                    self._release(job)
        finally:
            local.release()

    def close(self) -> None:
        """Stop renewing; close the lock connection (its advisory locks go with it)."""
        self._closed.set()
        with self._guard:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- PostgreSQL: advisory locks --------------------------------------------------------

    @staticmethod
    def _key(job: str) -> int:
        return int.from_bytes(hashlib.sha256(job.encode()).digest()[:8], "big", signed=True)

    def _advisory(self, sql: str, job: str, *, reconnect: bool) -> bool:
        """Run ``sql`` on the lock connection (made on first use); if that session was lost,
        ``reconnect`` once (its locks went with it)."""
        with self._guard:
            while True:
                if self._conn is None or self._conn.closed:
                    self._conn = self.db.dedicated_connection()
                try:
                    row = self._conn.execute(sql, [self._key(job)]).fetchone()
                    return bool(row and row[0])
                except psycopg.OperationalError:
                    log.warning("the job lock connection was lost", exc_info=True)
                    self._conn.close()
                    self._conn = None
                    if not reconnect:
                        raise
                    reconnect = False

    # -- SQLite: leases --------------------------------------------------------------------

    def _lease(self, job: str) -> bool:
        with self.db.transaction() as tx:
            rows = tx.execute(sql_sqlite.LEASE_OF, [job])
            if rows and rows[0][1] and rows[0][0] != self.holder and not _gone(rows[0][0]):
                return False
            tx.execute(sql_sqlite.LEASE_TAKE, [job, self.holder, self.lease_seconds])
        with self._guard:
            self._held.add(job)
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew, name="timeline-job-leases", daemon=True
                )
                self._renewer.start()
        return True

    def _renew(self) -> None:
        while not self._closed.wait(self.lease_seconds / 3):
            with self._guard:
                held = sorted(self._held)
            for job in held:
                try:
                    with self.db.transaction() as tx:
                        tx.execute(sql_sqlite.LEASE_RENEW, [self.lease_seconds, job, self.holder])
                except Exception:  # the next round tries again; the lease lasts until then
                    log.warning("could not renew the lease of %s", job, exc_info=True)

    def _unlease(self, job: str) -> None:
        with self._guard:
            self._held.discard(job)
        with self.db.transaction() as tx:
            tx.execute(sql_sqlite.LEASE_DROP, [job, self.holder])

    # -- either ----------------------------------------------------------------------------

    def _acquire(self, job: str) -> bool:
        if self.kind == "advisory":
            return self._advisory(sql_postgres.ADVISORY_TRY, job, reconnect=True)
        if self.kind == "lease":
            return self._lease(job)
        return True

    def _release(self, job: str) -> None:
        try:
            if self.kind == "advisory":
                self._advisory(sql_postgres.ADVISORY_UNLOCK, job, reconnect=False)
            elif self.kind == "lease":
                self._unlease(job)
        except Exception:  # the lock ends with its session, the lease when it expires
            log.warning("could not release the lock of %s", job, exc_info=True)


def _gone(holder: str) -> bool:
    """Whether a lease holder (``host:pid:token``) was a process on this host that has ended."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
