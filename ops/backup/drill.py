"""Point-in-time restore drill: a primary archiving its WAL, a base backup, the demo loaded
(``timeline demo``: events recorded over past days), every one of those days sealed and the
digests exported (``timeline digest --export``), a moment T noted, more appended after it; then
a restore to T in a new cluster must hold exactly the history up to T — ``timeline verify
--digests`` passes, the same positions, event ids and chain hashes as the primary had at T, no
event appended after T — and a restore to an earlier moment, before some sealed days, must be
refused by the same verify.

    python ops/backup/drill.py [--seekers 50]

Prints one JSON line with the figures (restore seconds, events replayed…); exit 1 if a check
failed. The clusters live under /tmp/timeline-pitr-* and are removed at the end. Step by step by
hand: ops/backup/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "cluster"))

from backup import archive_settings, base_backup, make_dirs, restore  # noqa: E402
from failover import timeline_cli  # noqa: E402
from pgcluster import Cluster, Clusters, free_port  # noqa: E402

from timeline.application import TimelineApp  # noqa: E402
from timeline.bootstrap import bootstrap  # noqa: E402
from timeline.settings import Settings  # noqa: E402
from timeline.vocabulary import HELSINKI, parse_event  # noqa: E402

DBNAME = "timeline"


@dataclass
class DrillOutcome:
    demo_events: int
    late_demo_events: int  # the second, smaller demo loaded after the early moment
    days_sealed: int
    appended_after_t: int
    base_backup_seconds: float
    archived_wal_bytes: int  # what the restore could replay from
    restore_seconds: float
    restore_stopped: str
    events_restored: int
    same_history_up_to_t: bool
    after_t_present: int  # events appended after T found in the restored store (must be 0)
    verify_exit: int
    verify_output: str
    early_restore_verify_exit: int  # restored before some sealed days: must not be 0
    early_restore_verify_output: str

    @property
    def ok(self) -> bool:
        return (
            self.same_history_up_to_t
            and self.after_t_present == 0
            and self.verify_exit == 0
            and self.early_restore_verify_exit != 0
        )


def _history(cluster: Cluster) -> list[tuple[Any, ...]]:
    """Every event's (position, event_id, seeker, version, chain hash), in log order."""
    with cluster.connect(DBNAME) as conn:
        return list(
            conn.execute(
                "SELECT position, event_id::text, seeker_id::text, version, hash "
                "FROM timeline_event_index ORDER BY position"
            ).fetchall()
        )


def _now(cluster: Cluster) -> str:
    """The server's clock now, as recovery_target_time takes it."""
    time.sleep(0.2)  # commits before it are clearly before, commits after clearly after
    moment = str(cluster.sql("SELECT clock_timestamp()::text"))
    time.sleep(0.2)
    return moment


def _demo(url: str, seekers: int, seed: int) -> int:
    done = timeline_cli("demo", "--db", url, "--seekers", str(seekers), "--seed", str(seed))
    if done.returncode != 0:
        raise RuntimeError(f"timeline demo failed: {done.stderr[-2000:]}")
    return int(json.loads(done.stdout.strip().splitlines()[-1])["appended"])


def seal_past_days(url: str) -> int:
    """Seal every finished day that has events (what the nightly ``timeline digest`` did on
    each of them; the demo records its events in past days, all at once)."""
    services = bootstrap(Settings(database_url=url))
    try:
        today = services.clock().astimezone(HELSINKI).date()
        days = {
            row[0]
            for row in services.db.query(
                "SELECT DISTINCT (recorded_at AT TIME ZONE 'Europe/Helsinki')::date "
                "FROM timeline_event_index"
            )
        }
        sealed = sorted(d for d in days if isinstance(d, date) and d < today)
        for day in sealed:
            services.digests.seal(day)
        return len(sealed)
    finally:
        services.close()


def _append_after(url: str, count: int) -> list[str]:
    """``count`` new seekers' first events, appended now (after T)."""
    on = (datetime.now(tz=HELSINKI) - timedelta(days=1)).date().isoformat()
    envelopes: list[dict[str, Any]] = [
        {
            "event_id": str(uuid.uuid4()),
            "seeker_id": str(uuid.uuid4()),
            "type": "job_search_started",
            "occurred_on": on,
            "actor": {"id": "caseworker:pitr", "role": "coach", "organisation": "398"},
            "source": "pitr-drill",
            "data": {"municipality": "398", "labour_market_status": "unemployed"},
        }
        for _ in range(count)
    ]
    services = bootstrap(Settings(database_url=url))
    try:
        services.app.append([parse_event(e) for e in envelopes])
        services.access_log.record(
            actor="pitr-drill", role="admin", action="history", seeker_id=None, purpose="drill"
        )
    finally:
        services.close()
    return [str(e["event_id"]) for e in envelopes]


def _archive_everything(primary: Cluster) -> None:
    """Close the current WAL segment and wait until the archiver has copied it."""
    segment = str(primary.sql("SELECT pg_walfile_name(pg_switch_wal())"))
    deadline = time.monotonic() + 60
    while (primary.sql("SELECT last_archived_wal FROM pg_stat_archiver") or "") < segment:
        if time.monotonic() > deadline:
            raise RuntimeError(f"WAL segment {segment} not archived after 60 s")
        time.sleep(0.05)


def pitr_drill(clusters: Clusters, *, seekers: int = 50, late_seekers: int = 5) -> DrillOutcome:
    archive = clusters.base / "archive"
    make_dirs(archive)
    primary = clusters.primary("primary", settings=archive_settings(archive))
    primary.sql(f"CREATE DATABASE {DBNAME}")
    url = primary.url(DBNAME)
    TimelineApp(settings=Settings(database_url=url)).close()  # the tables, before the backup
    backup = clusters.base / "base"
    backup_seconds = base_backup("127.0.0.1", primary.port, backup, echo=False)

    demo_events = _demo(url, seekers, seed=11)
    early = _now(primary)  # before the second demo's days
    late_events = _demo(url, late_seekers, seed=12)
    days = seal_past_days(url)
    digests = clusters.base / "digests.jsonl"
    exported = timeline_cli("digest", "--db", url, "--export", str(digests))
    if exported.returncode != 0:
        raise RuntimeError(f"timeline digest --export failed: {exported.stderr[-2000:]}")
    at_t = _history(primary)
    moment = _now(primary)
    after_ids = _append_after(url, 20)
    _archive_everything(primary)

    restored = restore(
        backup, archive, moment, clusters.base / "restored", free_port(), echo=False,
        made=clusters.made.append,
    )  # fmt: skip
    history = _history(restored.cluster)
    present = {row[1] for row in history} & set(after_ids)
    verify = timeline_cli(
        "verify", "--db", restored.cluster.url(DBNAME), "--digests", str(digests), "--quiet"
    )

    early_restored = restore(
        backup,
        archive,
        early,
        clusters.base / "restored-early",
        free_port(),
        name="restored-early",
        echo=False,
        made=clusters.made.append,
    )
    early_verify = timeline_cli(
        "verify", "--db", early_restored.cluster.url(DBNAME), "--digests", str(digests), "--quiet"
    )
    return DrillOutcome(
        demo_events=demo_events,
        late_demo_events=late_events,
        days_sealed=days,
        appended_after_t=len(after_ids),
        base_backup_seconds=backup_seconds,
        archived_wal_bytes=sum(f.stat().st_size for f in archive.iterdir() if f.is_file()),
        restore_seconds=restored.seconds,
        restore_stopped=restored.stopped,
        events_restored=len(history),
        same_history_up_to_t=history == at_t,
        after_t_present=len(present),
        verify_exit=verify.returncode,
        verify_output=(verify.stdout + verify.stderr)[-2000:],
        early_restore_verify_exit=early_verify.returncode,
        early_restore_verify_output=(early_verify.stdout + early_verify.stderr)[-2000:],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seekers", type=int, default=50, help="the demo's seekers")
    args = parser.parse_args(argv)
    with Clusters.temporary("timeline-pitr-") as clusters:
        outcome = pitr_drill(clusters, seekers=args.seekers)
    shown = asdict(outcome)
    for key in ("verify_output", "early_restore_verify_output"):
        shown[key] = shown[key].strip().splitlines()[-1:]
    print(json.dumps({"ok": outcome.ok, **shown}))
    print("point-in-time restore drill:", "PASSED" if outcome.ok else "FAILED")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
