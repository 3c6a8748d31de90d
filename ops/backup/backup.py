"""Base backups, a WAL archive and point-in-time restore with PostgreSQL's own tools
(ops/backup/README.md is the runbook; every command run is printed first).

    python ops/backup/backup.py archive-settings --archive /srv/wal-archive
        the postgresql.conf lines that archive every finished WAL segment into that directory
    python ops/backup/backup.py base --port 5432 --out /srv/base/2026-12-01
        pg_basebackup (plain format, WAL streamed into it, a fast checkpoint), then
        pg_verifybackup against its manifest
    python ops/backup/backup.py restore --backup /srv/base/2026-12-01 --archive /srv/wal-archive \\
        --to '2026-12-01 21:00:00+02' --pgdata /srv/restored --port 5440
        a new cluster from the base backup, replaying the archive up to that moment
        (recovery_target_time), promoted, started on its own port

Run as root, the PostgreSQL binaries run as the postgres user; otherwise as the caller (who must
own the data directories). Binaries: TIMELINE_PG_BIN (default /usr/lib/postgresql/15/bin).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))

import psycopg
from pgcluster import (
    PG_BIN,
    Cluster,
    ClusterError,
    chown_to_postgres,
    missing_binaries,
    run,
)


def archive_command(archive: Path) -> str:
    """Copy a finished WAL segment into ``archive``: never over an existing file (a second
    cluster archiving into the same place must fail loudly, not overwrite), flushed to disk
    and renamed into place, so a segment in the archive is always whole."""
    target = shlex.quote(str(archive / "%f"))
    part = shlex.quote(str(archive / "%f.part"))
    return f"test ! -f {target} && cp %p {part} && sync {part} && mv {part} {target}"


def archive_settings(archive: Path) -> dict[str, str]:
    """The settings of a primary that archives its WAL into ``archive`` (a restart is needed
    to turn ``archive_mode`` on)."""
    command = archive_command(archive).replace("'", "''")
    return {
        "archive_mode": "on",
        "archive_command": f"'{command}'",
        # a quiet primary still closes a segment at least this often, bounding what a restore
        # can miss after losing the primary to this many seconds
        "archive_timeout": "60",
    }


def make_dirs(path: Path) -> None:
    """``mkdir -p``; each directory made here belongs to the postgres user (directories that
    were there are left as they are)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir()
        chown_to_postgres(directory)


def base_backup(host: str, port: int, out: Path, *, echo: bool = True) -> float:
    """``pg_basebackup`` of the cluster at host:port into ``out`` (plain format, the WAL it
    needs streamed into it, so it restores even without the archive), checked with
    ``pg_verifybackup``. Returns its seconds."""
    start = time.monotonic()
    make_dirs(out.parent)
    run(
        [
            PG_BIN / "pg_basebackup",
            "-h",
            host,
            "-p",
            str(port),
            "-U",
            "postgres",
            "-D",
            out,
            "-X",
            "stream",
            "--checkpoint=fast",
            "--label",
            f"timeline base backup {time.strftime('%Y-%m-%d %H:%M:%S')}",
        ],
        echo=echo,
        timeout=3600,
    )
    run([PG_BIN / "pg_verifybackup", out], echo=echo, timeout=3600)
    return time.monotonic() - start


@dataclass
class Restored:
    cluster: Cluster
    seconds: float  # from the copy of the base backup to a promoted, writable cluster
    stopped: str  # the server's own line saying where recovery stopped


def restore(
    backup: Path,
    archive: Path,
    target_time: str,
    pgdata: Path,
    port: int,
    *,
    name: str = "restored",
    echo: bool = True,
    timeout: float = 3600,
    made: Callable[[Cluster], object] = lambda _: None,
) -> Restored:
    """A new cluster in ``pgdata`` from the base backup, replaying WAL from the archive up to
    ``target_time`` (the last transaction committed at or before it is in, the first after it
    is not), then promoted to a new timeline and left running on ``port``. Its own archiving
    is off: it must never write into the original's archive. ``made`` is given the cluster
    before it starts (to remove it whatever happens next)."""
    if pgdata.exists():
        raise ClusterError(f"{pgdata} exists: restore into a new directory")
    start = time.monotonic()
    make_dirs(pgdata.parent)
    run(["cp", "-a", backup, pgdata], echo=echo, timeout=timeout)
    run(["mkdir", "-p", pgdata / "log"], echo=echo)
    cluster = Cluster(name, pgdata, port, echo=echo, log=pgdata / "log" / "restore.log")
    made(cluster)
    restore_command = f"cp {shlex.quote(str(archive))}/%f %p".replace("'", "''")
    settings = {
        "port": str(port),
        "restore_command": f"'{restore_command}'",
        "recovery_target_time": f"'{target_time}'",
        "recovery_target_action": "'promote'",
        "archive_mode": "off",
        "synchronous_standby_names": "''",
    }
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    if echo:
        print(f"# {pgdata / 'postgresql.auto.conf'} +=\n{lines}", file=sys.stderr, end="")
    with open(pgdata / "postgresql.auto.conf", "a", encoding="utf-8") as f:
        f.write(f"# ops/backup/backup.py restore\n{lines}")
    run(["touch", pgdata / "recovery.signal"], echo=echo)
    (pgdata / "standby.signal").unlink(missing_ok=True)
    cluster.start(timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not cluster.in_recovery():
                break
        except psycopg.OperationalError:  # not accepting connections yet, or stopped
            if cluster.postmaster_pid() is None:
                log = cluster.logfile.read_text(errors="replace")[-3000:]
                raise ClusterError(f"the restored cluster stopped:\n{log}") from None
        if time.monotonic() > deadline:
            raise ClusterError(f"{name} still recovering after {timeout} s")
        time.sleep(0.1)
    seconds = time.monotonic() - start
    log = cluster.logfile.read_text(errors="replace")
    found = re.findall(r"recovery stopping [^\n]*", log)
    return Restored(cluster, seconds, found[-1] if found else "(no stop line in the log)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    settings = sub.add_parser("archive-settings", help="postgresql.conf lines for archiving")
    settings.add_argument("--archive", type=Path, required=True)
    base = sub.add_parser("base", help="a base backup, verified")
    base.add_argument("--host", default="127.0.0.1")
    base.add_argument("--port", type=int, default=5432)
    base.add_argument("--out", type=Path, required=True)
    rest = sub.add_parser("restore", help="point-in-time restore into a new cluster")
    rest.add_argument("--backup", type=Path, required=True)
    rest.add_argument("--archive", type=Path, required=True)
    rest.add_argument("--to", required=True, help="e.g. '2026-12-01 21:00:00+02'")
    rest.add_argument("--pgdata", type=Path, required=True)
    rest.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "archive-settings":
        for key, value in archive_settings(args.archive).items():
            print(f"{key} = {value}")
        return 0
    problem = missing_binaries()
    if problem:
        print(f"backup: {problem}", file=sys.stderr)
        return 2
    try:
        if args.command == "base":
            seconds = base_backup(args.host, args.port, args.out)
            print(f"base backup in {args.out}, verified, {seconds:.1f} s")
        else:
            done = restore(args.backup, args.archive, args.to, args.pgdata, args.port)
            print(
                f"restored and promoted in {done.seconds:.1f} s: {done.stopped}\n"
                f"running on port {args.port} (log: {done.cluster.logfile}); "
                f"stop it with: pg_ctl stop -D {args.pgdata} (as the postgres user)"
            )
    except ClusterError as exc:
        print(f"backup {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
