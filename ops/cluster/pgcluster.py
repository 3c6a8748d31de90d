"""Throwaway PostgreSQL 15 clusters on one machine, for the failover and backup drills and their
tests: ``initdb`` on a free port under a directory of /tmp, trust authentication on 127.0.0.1
only, standbys made by ``pg_basebackup -R``, a postmaster killed with SIGKILL, a standby
promoted with ``pg_ctl promote``.

Every command is run with the binaries of ``TIMELINE_PG_BIN`` (default
/usr/lib/postgresql/15/bin), as the ``postgres`` user when run as root (``initdb`` refuses root),
and is printed first when ``echo`` is on, so an operator sees what was done (ops/cluster/README.md
gives the same steps by hand).

    python ops/cluster/pgcluster.py demo   # a primary and a synchronous standby; Ctrl-C ends
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path(os.environ.get("TIMELINE_PG_BIN", "/usr/lib/postgresql/15/bin"))

#: Settings every cluster gets: small, local, and able to replicate and archive.
BASE_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "100",
    "shared_buffers": "'64MB'",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "wal_keep_size": "'256MB'",
    "hot_standby": "on",
    "logging_collector": "off",
    "log_line_prefix": "'%m [%p] '",
}


class ClusterError(RuntimeError):
    """A cluster command failed; the message carries its output."""


def missing_binaries() -> str | None:
    """Why clusters cannot be made here (no ``initdb``…), or None."""
    for name in ("initdb", "pg_ctl", "pg_basebackup", "postgres"):
        if not (PG_BIN / name).is_file():
            return f"no {name} in {PG_BIN} (install postgresql-15 or set TIMELINE_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
    return None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owner() -> dict[str, Any]:
    """``subprocess`` arguments running a command as the postgres user when we are root."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def run(
    args: Sequence[str | Path], *, echo: bool = False, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary (as the postgres user when root); ClusterError with its output
    when it fails."""
    argv = [str(a) for a in args]
    if echo:
        print("$", shlex.join(argv), file=sys.stderr)
    done = subprocess.run(  # noqa: S603 - binaries of PG_BIN with our own arguments
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",  # the postgres user may not read the caller's directory
        **_owner(),
    )
    if check and done.returncode != 0:
        msg = f"{shlex.join(argv)} exited {done.returncode}: {(done.stderr or done.stdout)[-3000:]}"
        raise ClusterError(msg)
    return done


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a postmaster's backends, walsenders…)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ")"
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers signal 0; its state says it is gone
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rfind(")") + 2 :].split()[0] != "Z"
    return True


@dataclass
class Cluster:
    """One PostgreSQL cluster (data directory + port) on 127.0.0.1."""

    name: str
    datadir: Path
    port: int
    echo: bool = False
    #: the postmaster's pid while it runs (from postmaster.pid)
    pid: int | None = None
    #: the server's log (default: ``<name>.log`` beside the data directory)
    log: Path | None = None

    @property
    def logfile(self) -> Path:
        return self.log or self.datadir.parent / f"{self.name}.log"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.conninfo(dbname), autocommit=True, connect_timeout=5)

    def sql(self, statement: str, params: Sequence[Any] = (), dbname: str = "postgres") -> Any:
        """The first column of the first row of ``statement`` (or None)."""
        with self.connect(dbname) as conn:
            cur = conn.execute(statement.encode(), params)
            row = cur.fetchone() if cur.description else None
            return row[0] if row else None

    # -- making one ----------------------------------------------------------------------------

    def initdb(self) -> None:
        run(
            [
                PG_BIN / "initdb",
                "-D",
                self.datadir,
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--data-checksums",  # as in production; pg_rewind needs it (or wal_log_hints)
                "--no-sync",  # a throwaway cluster; its WAL is still fsynced while it runs
            ],
            echo=self.echo,
        )
        self.configure({**BASE_SETTINGS, "port": str(self.port)})

    def configure(self, settings: Mapping[str, str]) -> None:
        """Append ``settings`` to postgresql.conf (a later line wins); takes effect at the next
        start or reload."""
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        if self.echo:
            print(f"# {self.datadir / 'postgresql.conf'} +=\n{lines}", file=sys.stderr, end="")
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(f"\n# ops/cluster/pgcluster.py\n{lines}")

    def reload(self) -> None:
        run([PG_BIN / "pg_ctl", "reload", "-D", self.datadir], echo=self.echo)

    def start(self, timeout: float = 60) -> None:
        run(
            [
                PG_BIN / "pg_ctl",
                "start",
                "-D",
                self.datadir,
                "-l",
                self.logfile,
                "-w",
                "-t",
                str(int(timeout)),
            ],
            echo=self.echo,
            timeout=timeout + 10,
        )
        self.pid = self.postmaster_pid()

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self, mode: str = "fast") -> None:
        run(
            [PG_BIN / "pg_ctl", "stop", "-D", self.datadir, "-m", mode, "-w", "-t", "30"],
            echo=self.echo,
            timeout=40,
        )
        self.pid = None

    def kill(self) -> float:
        """SIGKILL the postmaster, then at once every process it started, as if the machine
        were gone (no shutdown checkpoint, no goodbye to clients or standbys). Returns the
        ``time.monotonic()`` of the kill."""
        pid = self.pid or self.postmaster_pid()
        if pid is None:
            raise ClusterError(f"{self.name} is not running")
        children = _children(pid)
        if self.echo:
            print(f"$ kill -KILL {pid}  # and its {len(children)} children", file=sys.stderr)
        at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.pid = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in [pid, *children]):
            time.sleep(0.01)
        return at

    def promote(self, timeout: float = 60) -> None:
        """``pg_ctl promote -w``: returns once the standby accepts writes."""
        run(
            [PG_BIN / "pg_ctl", "promote", "-D", self.datadir, "-w", "-t", str(int(timeout))],
            echo=self.echo,
            timeout=timeout + 10,
        )

    def wait_streaming(self, standby: str, timeout: float = 30) -> None:
        """Until the standby named ``standby`` streams from this primary."""
        deadline = time.monotonic() + timeout
        while not self.sql(
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = %s "
            "AND state = 'streaming'",
            [standby],
        ):
            if time.monotonic() > deadline:
                raise ClusterError(f"{standby} is not streaming from {self.name} after {timeout} s")
            time.sleep(0.05)

    def wal_sender_pid(self, standby: str) -> int | None:
        """The pid of the WAL sender streaming to ``standby`` (its application_name)."""
        pid = self.sql("SELECT pid FROM pg_stat_replication WHERE application_name = %s", [standby])
        return int(pid) if pid else None

    def in_recovery(self) -> bool:
        return bool(self.sql("SELECT pg_is_in_recovery()"))

    def wait_ready(self, timeout: float = 60) -> None:
        """Until a connection succeeds (after a start, a restore)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def destroy(self) -> None:
        """Stop (immediately, then SIGKILL whatever is left of this cluster's processes) and
        remove the data directory."""
        pid = self.pid or self.postmaster_pid()
        if pid is not None and _alive(pid):
            with contextlib.suppress(ClusterError, subprocess.TimeoutExpired):
                self.stop("immediate")
        if pid is not None:
            for p in [pid, *_children(pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
        self.pid = None
        shutil.rmtree(self.datadir, ignore_errors=True)


@dataclass
class Clusters:
    """A directory under /tmp holding clusters on free ports; :meth:`close` stops and removes
    every one (whatever state it was left in) and the directory."""

    base: Path
    echo: bool = False
    made: list[Cluster] = field(default_factory=list)

    @classmethod
    @contextlib.contextmanager
    def temporary(
        cls, prefix: str = "timeline-cluster-", *, echo: bool = False
    ) -> Iterator[Clusters]:
        base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        chown_to_postgres(base)
        clusters = cls(base, echo=echo)
        try:
            yield clusters
        finally:
            clusters.close()

    def _new(self, name: str, port: int | None) -> Cluster:
        cluster = Cluster(name, self.base / name, port or free_port(), echo=self.echo)
        self.made.append(cluster)
        return cluster

    def primary(
        self, name: str = "primary", *, port: int | None = None, settings: Mapping[str, str] = {}
    ) -> Cluster:
        """A new cluster, configured with ``settings`` and started."""
        cluster = self._new(name, port)
        cluster.initdb()
        if settings:
            cluster.configure(settings)
        self._start(cluster, port is None)
        return cluster

    def standby(
        self,
        of: Cluster,
        name: str = "standby",
        *,
        port: int | None = None,
        settings: Mapping[str, str] = {},
    ) -> Cluster:
        """A hot standby of ``of``: ``pg_basebackup -R`` (which writes primary_conninfo and
        standby.signal), its own port, ``cluster_name`` = ``name`` (the application_name the
        primary's ``synchronous_standby_names`` refers to), started and streaming."""
        cluster = self._new(name, port)
        run(
            [
                PG_BIN / "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(of.port),
                "-U",
                "postgres",
                "-D",
                cluster.datadir,
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ],
            echo=self.echo,
        )
        cluster.configure({"port": str(cluster.port), "cluster_name": f"'{name}'", **settings})
        self._start(cluster, port is None)
        of.wait_streaming(name)
        return cluster

    @staticmethod
    def _start(cluster: Cluster, any_port: bool, attempts: int = 3) -> None:
        """Start; if the free port was taken meanwhile (by another test, another agent),
        start again on another one."""
        for attempt in range(attempts):
            try:
                cluster.start()
                return
            except ClusterError:
                log = cluster.logfile
                taken = log.exists() and "could not bind" in log.read_text(errors="replace")
                if not (any_port and taken) or attempt == attempts - 1:
                    raise
            cluster.port = free_port()
            cluster.configure({"port": str(cluster.port)})

    def close(self) -> None:
        for cluster in reversed(self.made):
            cluster.destroy()
        shutil.rmtree(self.base, ignore_errors=True)


def synchronous(standby_name: str, commit: str) -> dict[str, str]:
    """The primary's settings for one synchronous standby; ``commit``: ``remote_apply``
    (a commit is acknowledged once the standby has applied it: visible there) or ``on`` (once the
    standby has flushed it to disk)."""
    return {
        "synchronous_standby_names": f"'FIRST 1 ({standby_name})'",
        "synchronous_commit": commit,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["demo"])
    parser.add_argument("--commit", default="remote_apply", choices=["remote_apply", "on"])
    args = parser.parse_args(argv)
    problem = missing_binaries()
    if problem:
        print(f"pgcluster: {problem}", file=sys.stderr)
        return 2
    with Clusters.temporary(echo=True) as clusters:
        primary = clusters.primary()
        standby = clusters.standby(primary)
        primary.configure(synchronous(standby.name, args.commit))
        primary.reload()
        primary.sql("CREATE DATABASE timeline")
        print(
            "primary  ", primary.url("timeline"),
            "\nstandby  ", standby.url("timeline"),
            "\nservice   TIMELINE_DATABASE_URL="
            f"'postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
            "/timeline?target_session_attrs=read-write'",
            "\nCtrl-C stops and removes both.",
        )  # fmt: skip
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
