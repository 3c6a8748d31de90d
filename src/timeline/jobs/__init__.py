"""Scheduled jobs (APScheduler 3): projection catch-up, day change, month close, the
statistics' catch-up and the nightly audit.

Each job is a few lines that call the application or a view. One instance of each job runs
across processes (:class:`JobLock`): on PostgreSQL a session advisory lock per job, on SQLite a
lease row in the database itself. Every run is logged (logger ``timeline.jobs``) and recorded
in the ``timeline_job_runs`` table with its outcome.

:func:`timeline.bootstrap.start_jobs` runs them beside a server on services of their own
(their own connection pools, see :func:`timeline.bootstrap.jobs_services`): a request never
waits for a connection a job holds, and a job that finds its pools busy waits its turn instead
of failing. Every class here takes its collaborators; the composition root builds them."""

from timeline.jobs.lock import JobLock
from timeline.jobs.partition import PartitionWorker
from timeline.jobs.runtime import (
    STOP_GRACE_SECONDS,
    JobsProcess,
    JobsRuntime,
    PostgresFollower,
    build_scheduler,
    stop_within,
)
from timeline.jobs.work import Jobs, NightlyAudit

__all__ = [
    "STOP_GRACE_SECONDS",
    "JobLock",
    "Jobs",
    "JobsProcess",
    "JobsRuntime",
    "NightlyAudit",
    "PartitionWorker",
    "PostgresFollower",
    "build_scheduler",
    "stop_within",
]
