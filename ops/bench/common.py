"""Helpers shared by the benches and the kill test: throwaway databases, the grouped server,
the machine line and the figure lines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

PG_HOST = os.environ.get("TIMELINE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TIMELINE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TIMELINE_TEST_PG_USER", "postgres")


def envelope(
    seeker: str, type_: str, on: str, data: dict[str, Any], *, source: str
) -> dict[str, Any]:
    """An event envelope as a service backend sends it (the caseworker of Lahti, 398)."""
    return {
        "event_id": str(uuid.uuid4()),
        "seeker_id": seeker,
        "type": type_,
        "occurred_on": on,
        "actor": {"id": f"caseworker:{source}", "role": "coach", "organisation": "398"},
        "source": source,
        "data": data,
    }


def admin(dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True)


def db_url(dbname: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A uniquely named database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``python -m timeline.api.grouped`` on 127.0.0.1; returns when /health answers."""
    env = {**os.environ, "TIMELINE_ENVIRONMENT": "development", "TIMELINE_DATABASE_URL": url}
    env.pop("TIMELINE_TOKENS", None)
    env.pop("TIMELINE_TOKENS_FILE", None)
    proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "timeline.api.grouped", "--db", url, "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited: {err[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> str:
    """Stop the server; what it wrote to stderr."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.stderr.read().decode(errors="replace") if proc.stderr else ""


def group_stats(stderr: str) -> dict[str, float] | None:
    """The group committers' counters the grouped server prints when it stops (summed over
    its processes)."""
    total: dict[str, float] = {}
    for line in stderr.splitlines():
        if line.startswith("group-commit-stats "):
            for key, value in json.loads(line.split(" ", 1)[1]).items():
                total[key] = total.get(key, 0) + value
    return total or None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


ROWS: list[tuple[str, str, str, str, str]] = []


def report(name: str, ours: str, base: str, ratio: float, goal: str, met: bool | None) -> None:
    verdict = "n/a" if met is None else ("MET" if met else "NOT MET")
    ROWS.append((name, ours, base, f"{ratio:.2f}", f"{goal} — {verdict}"))
    print(f"{name:<44} ours {ours:<26} baseline {base:<26} ratio {ratio:6.2f}  {goal}: {verdict}")
    sys.stdout.flush()


def machine() -> str:
    cores = os.cpu_count()
    mem = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "?",
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    with admin() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]  # type: ignore[index]
        fsync = conn.execute("SHOW fsync").fetchone()[0]  # type: ignore[index]
    return (
        f"{cores} cores ({cpu}), {int(mem) // 1024} MiB RAM, PostgreSQL {version} "
        f"(fsync={fsync}, synchronous_commit={sync}), Python {sys.version.split()[0]}"
    )


def export_tree(ref: str, out: Path) -> Path:
    """The code of this repository at ``ref`` (``git archive``), unpacked into the new directory
    ``out``: the *before* tree of a bench that runs two trees alternating, each on its own
    ``PYTHONPATH``."""
    repo = Path(__file__).resolve().parents[2]
    archive = subprocess.run(  # noqa: S603 - git, fixed arguments
        ["git", "-C", str(repo), "archive", ref],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    out.mkdir()
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)  # noqa: S603, S607
    print(f"before: {ref} exported with git archive")
    return out
