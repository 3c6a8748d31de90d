"""Item 3 of issue 15: a point-in-time restore verifies against the digests. A primary
archiving its WAL, a base backup, the demo (``timeline demo --seekers 50``), its past days
sealed and exported, a moment T, more appended; restored to T in a new cluster, the store holds
exactly the history up to T (positions, event ids, chain hashes), nothing appended after T, and
``timeline verify --digests`` passes — while a restore to a moment before some sealed days is
refused by the same verify, naming the day (ops/backup/drill.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# ops/cluster is on sys.path (conftest.py); the drill is in ops/backup
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ops" / "backup"))

from drill import pitr_drill
from pgcluster import Clusters

pytestmark = pytest.mark.cluster


def test_a_point_in_time_restore_holds_the_history_up_to_that_moment_and_verifies(
    clusters: Clusters,
) -> None:
    outcome = pitr_drill(clusters, seekers=50)
    assert outcome.demo_events > 0
    assert outcome.days_sealed > 0
    assert outcome.same_history_up_to_t
    assert outcome.events_restored == outcome.demo_events + outcome.late_demo_events
    assert outcome.after_t_present == 0
    assert outcome.verify_exit == 0, outcome.verify_output
    assert outcome.early_restore_verify_exit == 1, outcome.early_restore_verify_output
    assert "no longer matches the kept digest" in outcome.early_restore_verify_output
