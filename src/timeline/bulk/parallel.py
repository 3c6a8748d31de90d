"""``timeline import --workers N [--partitions P]``: the validation pass in N processes, each for
one partition of the seekers at a time (P partitions, N unless given; :mod:`timeline.bulk.parts`,
the projections' partitions of ADR 0011).

Every worker reads the whole file, skips the lines routed to the others, and validates and
decides its own lines exactly as the one-process pass does (:class:`Validator`: the rules are
per seeker, and a seeker's lines all go to one worker), spooling its accepted events with the
offsets of their lines. The parent then holds the answer to what a single pass would say:

- the problems: every worker's reading problems if any has one, else every refusal, in line
  order (each line was read by exactly one worker);
- the rows: the workers' spools merged by line offset, so the write pass writes the same rows
  in the same order (:mod:`timeline.bulk.engine`).

What a partition cannot see is another partition's lines: an event id that comes again under
another seeker (always a conflict) or a line routed to the wrong worker. Each worker hands back
the ids of the lines it decided; if any id was decided by two workers, or a worker found a seeker
that is not its partition's, the partitions' answer is not used and the file is validated again
in one process (whose messages are the contract) — before anything is written either way.

PostgreSQL only: the workers read the store (and make the seekers' data keys) through
connections of their own, making no tables (the command's process has made them: statements
that make tables race when several processes run them at once). They do not read the erasure
register (the command's services do): each hands back the seekers it met, and if the register
names one of them (or a worker met a destroyed key), the file goes to the one-process pass too,
which refuses that seeker's lines as always."""

from __future__ import annotations

import heapq
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from timeline.bulk.parts import Parts
from timeline.bulk.rows import Record, StoredEvents
from timeline.bulk.spool import Spool
from timeline.bulk.validate import Line, Outcome, Validator
from timeline.store.keys import SeekerErased

_COUNT_EVERY = 1000  # lines a worker reads between updates of the shared count

_lines_read: Any = None  # a worker's handle on the parent's count of lines read


@dataclass
class _Part:
    """What a worker hands back."""

    outcome: Outcome
    decided: str  # the file of the sorted 16-byte ids of the lines it decided
    misrouted: bool
    seekers: list[str]  # the seekers of its lines


def _start(counter: Any) -> None:
    global _lines_read  # noqa: PLW0603 (one per worker process)
    _lines_read = counter


def _counting(source: IO[bytes]) -> Iterator[bytes]:
    n = 0
    for raw in source:
        n += 1
        if n == _COUNT_EVERY:
            with _lines_read.get_lock():
                _lines_read.value += n
            n = 0
        yield raw
    with _lines_read.get_lock():
        _lines_read.value += n


def _validate_part(
    settings: Any, now: datetime, path: str, n: int, k: int, spool_path: str, fast: bool
) -> _Part:
    """One worker: partition ``k`` of ``n`` of the file at ``path`` validated, its accepted
    events spooled to ``spool_path``."""
    from timeline.application import TimelineApp  # noqa: PLC0415 (in the worker process)
    from timeline.clock import FixedClock  # noqa: PLC0415

    app = TimelineApp({"CREATE_TABLE": "false"}, settings=settings, clock=FixedClock(now))
    try:
        form = StoredEvents(app.mapper, now, direct=fast)
        validator = Validator(
            app,
            app.appender,
            form,
            now,
            allow_test_codes=app.settings.test_codes_allowed,
            fast=fast,
            part=(Parts(n), k),
        )
        with (
            open(path, "rb") as source,
            open(path, "rb") as reread,
            open(spool_path, "w+b") as file,
        ):
            spool = Spool(file)

            def emit(line: Line, record: Record) -> None:
                spool.add(line, record)

            outcome = validator.run(_counting(source), reread, emit)
            spool.flush()
        ids = validator.decided
        decided = spool_path + ".ids"
        with open(decided, "wb") as out:  # (a file: the parent keeps none of them in memory)
            out.write(b"".join(sorted(bytes(ids[i : i + 16]) for i in range(0, len(ids), 16))))
        return _Part(outcome, decided, validator.misrouted, list(validator.seekers))
    finally:
        app.close()


def _repeated_across(parts: list[_Part]) -> bool:
    """Whether an event id was decided by two workers."""

    def ids(k: int, path: str) -> Iterator[tuple[bytes, int]]:
        with open(path, "rb") as file:
            while block := file.read(16 << 12):
                for i in range(0, len(block), 16):
                    yield block[i : i + 16], k

    last, last_k = b"", -1
    for key, k in heapq.merge(*(ids(k, p.decided) for k, p in enumerate(parts))):
        if key == last and k != last_k:
            return True
        last, last_k = key, k
    return False


def _merged(parts: list[_Part]) -> Outcome:
    """The one-process pass's outcome from the partitions' (problems in line order)."""

    def number(problem: str) -> int:
        return int(problem.split(":", 1)[0].removeprefix("line "))

    outcome = Outcome()
    for p in parts:
        outcome.events += p.outcome.events
        outcome.accepted += p.outcome.accepted
        outcome.parse_problems += p.outcome.parse_problems
        outcome.refusals += p.outcome.refusals
    outcome.parse_problems.sort(key=number)  # (stable: a line's own problems keep their order)
    outcome.refusals.sort(key=number)
    return outcome


def validate(
    app: Any,
    path: str,
    now: datetime,
    workers: int,
    bar: tqdm[Any],
    stack: ExitStack,
    *,
    fast: bool,
    partitions: int | None = None,
) -> tuple[Outcome, Iterator[tuple[int, Record]]] | None:
    """The validation pass of ``path`` in ``partitions`` partitions of the seekers (default:
    ``workers``), at most ``workers`` processes at a time: the outcome and the accepted records
    in the file's order, or None when the partitions cannot answer for the whole file (an id
    decided in two, a misrouted line: see the module; validate it in one process).

    More partitions than workers bound the memory: a process validates one partition and
    ends (its per-seeker state, ~90 B an event of its seekers, goes with it), and the parent
    keeps only each partition's seekers; each partition reads the whole file once."""
    context = multiprocessing.get_context("spawn")  # (no fork of a process with threads)
    counter = context.Value("q", 0)
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="timeline-spools-")))
    n = partitions or workers
    spools = [str(folder / f"part-{k}") for k in range(n)]
    with ProcessPoolExecutor(
        min(workers, n),
        mp_context=context,
        initializer=_start,
        initargs=(counter,),
        # a fresh process for each partition when they take turns: the memory of one
        # partition's state is given back before the next (ends with the process)
        max_tasks_per_child=1 if n > workers else None,
    ) as pool:
        futures = [
            pool.submit(_validate_part, app.settings, now, path, n, k, spools[k], fast)
            for k in range(n)
        ]
        while not all(f.done() for f in futures):
            time.sleep(0.2)
            # each partition reads every line: the file's lines read by all of them, over N
            bar.update(max(0, counter.value // n - bar.n))
        try:
            parts = [f.result() for f in futures]
        except SeekerErased:  # (a destroyed key met while encoding)
            return None
    bar.update(max(0, (bar.total or 0) - bar.n))
    if any(p.misrouted for p in parts) or _repeated_across(parts):
        return None
    if app.erased([s for p in parts for s in p.seekers]):
        return None
    outcome = _merged(parts)
    files = [stack.enter_context(open(s, "rb")) for s in spools]  # noqa: SIM115 (the stack)
    records = heapq.merge(*(Spool(f).records() for f in files), key=lambda r: r[0])
    return outcome, records
