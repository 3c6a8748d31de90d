"""SIGKILL the HTTP server (group commit on PostgreSQL) mid-load: no acknowledged event is lost
or doubled, unacknowledged ones are absent or stored once, and every chain verifies after a
restart. A small, bounded version of ops/bench/kill_test.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests import pg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ops" / "bench"))

from kill_test import kill_round


@pytest.mark.postgres
def test_no_acknowledged_event_is_lost_or_doubled_when_the_server_is_killed() -> None:
    with pg.temporary_database() as dbname:
        outcome = kill_round(pg.url(dbname), clients=8, seconds=3, seekers=50)
    assert outcome.acknowledged > 0
    assert outcome.lost == []
    assert outcome.doubled == []
    assert outcome.broken_chains == []
