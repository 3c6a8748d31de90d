"""The composition root: the one place anything is built, from typed settings and a clock.

The entry points — the HTTP app factory (:func:`timeline.api.app.create_app`), the grouped
server (:mod:`timeline.api.grouped`), the CLI, the jobs' process (:mod:`timeline.worker`) and
the scripts under ``ops/`` — call :func:`bootstrap` and hand each use case its collaborators
(the application, a view, the access log), never this bundle. Nothing is built at import time;
an import contract (``pyproject.toml``) keeps every other module from importing this one."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from timeline.application import TimelineApp
from timeline.audit.access_log import AccessLog
from timeline.audit.digests import Digests
from timeline.auth import TokenRegistry
from timeline.clock import Clock, system_clock
from timeline.erasure import ErasureLookup, ErasureRegister
from timeline.group_commit import GroupCommitter
from timeline.jobs import Jobs, JobsProcess, JobsRuntime, NightlyAudit
from timeline.settings import LIBPQ_PARAMS, Settings, database
from timeline.store.replica import ReplicaDatabase
from timeline.store.side import PoolSpec, SideDatabase


@dataclass(frozen=True)
class _OnReplica:
    app: TimelineApp
    db: SideDatabase
    obligations: ObligationsView
    outcomes: OutcomesView


class ReadServices:
    """The read side on a read replica (``TIMELINE_READ_DATABASE_URL``): the log and the
    projections' tables as a hot standby has replayed them, read only. Nothing here writes:
    appends, the access log and the projection workers are the primary's.

    Built on first use, not at start-up: a replica that is down is no reason for the service
    (or a CLI command) not to start. Until it answers, each use raises the driver's
    ``OperationalError`` (or the pool's timeout): the reader chooser passes it over for the
    primary, a read sent to it is answered 503."""

    def __init__(self, build: Callable[[], _OnReplica]) -> None:
        self._build = build
        self._built: _OnReplica | None = None
        self._lock = threading.Lock()

    def _get(self) -> _OnReplica:
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    @property
    def app(self) -> TimelineApp:
        return self._get().app

    @property
    def db(self) -> SideDatabase:
        return self._get().db

    @property
    def obligations(self) -> ObligationsView:
        return self._get().obligations

    @property
    def outcomes(self) -> OutcomesView:
        return self._get().outcomes

    def close(self) -> None:
        with self._lock:
            built, self._built = self._built, None
        if built is not None:
            built.db.close()
            built.app.close()


@dataclass
class Services:
    """What one process's edges are built from (see :func:`bootstrap`)."""

    settings: Settings
    clock: Clock
    app: TimelineApp
    db: SideDatabase
    obligations: ObligationsView
    outcomes: OutcomesView
    access_log: AccessLog
    tokens: TokenRegistry
    digests: Digests
    #: the erasure register (timeline.erasure; docs/erasure.md)
    erasures: ErasureRegister
    for_jobs: bool = False
    #: the read replica's read services, when ``TIMELINE_READ_DATABASE_URL`` is set
    replica: ReadServices | None = None

    def close(self) -> None:
        if self.replica is not None:
            self.replica.close()
        self.db.close()
        self.app.close()


#: How long a job waits for a connection of its pools before it fails. Jobs are not meant to
#: wait at all (at most ``jobs_pool_size - 1`` scheduled jobs run at once, plus the follower,
#: each holding one connection of each pool at a time); if one does, it waits its turn.
JOBS_WAIT_SECONDS = 600


def bootstrap(
    settings: Settings | None = None, clock: Clock | None = None, *, for_jobs: bool = False
) -> Services:
    """Everything the edges need. On PostgreSQL each set of services has its own connection
    pools: for requests (the default) the event store's pool of ``postgres_pool_size`` and a
    pool of ``request_pool_size`` for the projections and the access log, where a caller
    waits at most ``request_pool_timeout``; ``for_jobs``, pools of ``jobs_pool_size`` for the
    scheduled jobs, which wait their turn, and no timelines kept in memory (jobs read the log,
    not timelines). Requests therefore never wait behind jobs."""
    settings = settings or Settings()
    clock = clock or system_clock
    if for_jobs:
        env = {
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": str(settings.jobs_pool_size - 1),
            "POSTGRES_CONNECT_TIMEOUT": str(JOBS_WAIT_SECONDS),  # the library's pool wait
        }
        pool = PoolSpec("jobs", settings.jobs_pool_size, JOBS_WAIT_SECONDS)
    else:
        env = {"POSTGRES_CONNECT_TIMEOUT": str(math.ceil(settings.request_pool_timeout))}
        pool = PoolSpec("requests", settings.request_pool_size, settings.request_pool_timeout)
    # Jobs read the log, not timelines: their application keeps none in memory.
    app_settings = settings.model_copy(update={"aggregate_cache_size": 0}) if for_jobs else settings
    app = TimelineApp(env, settings=app_settings, clock=clock)
    db = SideDatabase(settings, pool=pool)
    access_log = AccessLog(db, clock)
    erasures = ErasureRegister(db)
    app.erasures = erasures  # appends refused, histories without payload, look-ups empty
    return Services(
        settings=settings,
        clock=clock,
        app=app,
        db=db,
        obligations=ObligationsView(app, db),
        outcomes=OutcomesView(app, db),
        access_log=access_log,
        digests=Digests(app, db, settings.digest_key_bytes, clock, access_log, erasures),
        erasures=erasures,
        tokens=TokenRegistry.from_settings(
            settings.tokens.get_secret_value() if settings.tokens else None,
            settings.tokens_file,
            development=settings.environment == "development",
        ),
        for_jobs=for_jobs,
        # the jobs (the projection workers among them) write: never on a replica
        replica=None if for_jobs else read_services(settings, clock, env, pool),
    )


#: every connection to a replica reads only, whatever server it reaches
READ_ONLY = "-c default_transaction_read_only=on"


def read_services(
    settings: Settings, clock: Clock, env: dict[str, str], pool: PoolSpec
) -> ReadServices | None:
    """The read services on ``settings.read_database_url`` (None without one), with pools of
    the same sizes as the primary's for requests, built on first use. Nothing is made there
    (the schema is the primary's, replicated) and every connection is read-only."""
    url = settings.read_database_url
    if url is None:
        return None
    on_replica = settings.model_copy(update={"database_url": url, "read_database_url": None})
    params = database(url).params
    libpq = {**params, "options": f"{params.get('options', '')} {READ_ONLY}".strip()}
    replica_env = {**env, "CREATE_TABLE": "false", LIBPQ_PARAMS: json.dumps(libpq)}
    replica_pool = PoolSpec(f"{pool.name}-replica", pool.max_size, pool.timeout)

    def build() -> _OnReplica:
        app = TimelineApp(replica_env, settings=on_replica, clock=clock)
        db: SideDatabase | None = None
        try:
            db = ReplicaDatabase(on_replica, pool=replica_pool)
            app.erasures = ErasureLookup(db)  # the register as replicated (read only)
            return _OnReplica(app, db, ObligationsView(app, db), OutcomesView(app, db))
        except BaseException:
            if db is not None:
                db.close()
            app.close()
            raise

    return ReadServices(build)


def jobs_services(services: Services) -> Services:
    """The services the scheduled jobs run on, beside ``services`` (see :func:`bootstrap`):
    their own pools; for the in-memory store, ``services`` itself (its log lives in this
    process only), or ``services`` already made for jobs."""
    if services.for_jobs or is_in_memory(services):
        return services
    return bootstrap(services.settings, services.clock, for_jobs=True)


def is_in_memory(services: Services) -> bool:
    """Whether the store lives in this process only (``memory:``)."""
    return services.db.in_memory


def group_committer(
    services: Services, *, max_batch: int = 1000, max_wait_ms: float = 1.0
) -> GroupCommitter:
    """The writer of ``timeline serve`` and the grouped server: concurrent appends share one
    transaction (see :mod:`timeline.group_commit`)."""
    return GroupCommitter(services.app, max_batch=max_batch, max_wait_ms=max_wait_ms)


def jobs_runtime(services: Services) -> JobsRuntime:
    """The scheduled jobs (and, on PostgreSQL, the follower) on the jobs' services beside
    ``services`` (:func:`jobs_services`: pools of their own), not started. Stopping the runtime
    closes those services if they were made for it."""
    own = jobs_services(services)
    jobs = Jobs(own.app, own.obligations, own.clock, own.outcomes)
    return JobsRuntime(
        jobs,
        NightlyAudit(jobs, own.app, own.access_log, own.digests),
        following=own.db.dialect == "postgres",
        pool_size=own.settings.jobs_pool_size,
        close=own.close if own is not services else None,
    )


def start_jobs(services: Services, *, separate_process: bool = False) -> JobsRuntime | JobsProcess:
    """Start the scheduled jobs beside ``services``: in threads of this process on pools of
    their own, or (``separate_process``, unless the store lives in this process only) in a
    child process, ``python -m timeline.worker``, on the same settings."""
    if separate_process and not is_in_memory(services):
        return JobsProcess(services.settings).start()
    return jobs_runtime(services).start()
