"""Fixtures for the cluster tests: throwaway PostgreSQL 15 clusters (``initdb`` on free ports
under /tmp, ops/cluster/pgcluster.py), each removed after its test however it ended — every
postmaster and the processes it started are killed by pid, the directories deleted.

Without the PostgreSQL binaries the tests skip with the reason, except under ``CI=true``,
where they fail."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

OPS_CLUSTER = Path(__file__).resolve().parents[2] / "ops" / "cluster"
sys.path.insert(0, str(OPS_CLUSTER))

from pgcluster import Clusters, missing_binaries  # noqa: E402


def require_clusters() -> None:
    problem = missing_binaries()
    if problem is None:
        return
    message = f"cannot make PostgreSQL clusters: {problem}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} — cluster tests are mandatory under CI=true", pytrace=False)
    pytest.skip(f"{message} (install postgresql-15, or run under CI=true to make this a failure)")


@pytest.fixture
def clusters() -> Iterator[Clusters]:
    """A directory of /tmp for this test's clusters (``clusters.primary()``,
    ``clusters.standby(of)``), all stopped and removed afterwards."""
    require_clusters()
    with Clusters.temporary("timeline-test-cluster-") as made:
        yield made
