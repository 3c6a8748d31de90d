"""``timeline import FILE`` in two passes, streaming (the validation keeps a compact state per
seeker: ~90 B an event of the file in one pass, that of one partition with ``--partitions``).

1. **Validate** (:class:`~timeline.bulk.validate.Validator`): every line read, parsed and
   decided in order, keeping a compact state per seeker; the accepted events' rows go to a
   spool file (plain values, ``marshal``), nothing to the store. Any problem: the problems are
   the answer and nothing is written.
2. **Write**: the spool in chunks of :data:`CHUNK` events, one transaction each
   (:class:`~timeline.bulk.rows.BulkSink`: ``COPY`` under the table lock on PostgreSQL, the
   recorder's insert path elsewhere). If a chunk loses a race (another writer took a version or
   an event id since pass 1: ``IntegrityError``, nothing of it written), the rest of the file
   is appended again batch by batch as a live append would be.

A crash between chunks leaves whole chunks written; a rerun finds them stored (duplicates)
and writes the rest. Standard input is copied to a temporary file first (two passes).

With ``workers`` > 1 (``timeline import --workers N``, PostgreSQL), pass 1 runs in N processes,
one partition of the seekers each, and pass 2 writes their spools merged in the file's order
(:mod:`timeline.bulk.parallel`): the same answer and the same rows as one process."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from eventsourcing.persistence import IntegrityError
from tqdm import tqdm

from timeline.bulk import parallel
from timeline.bulk.rows import BulkSink, Record, StoredEvents, sink_for
from timeline.bulk.spool import Spool
from timeline.bulk.validate import Line, Outcome, Validator, read_event
from timeline.vocabulary import ParsedEvent

CHUNK = 20_000  # events a transaction of the write pass
APPEND_BATCH = 500  # events a batch when a chunk lost a race (as a live append)


@dataclass(frozen=True)
class ImportResult:
    problems: list[str]  # ``line N: field: reason``; nothing was written if any
    accepted: int
    duplicates: int


def _count_lines(source: IO[bytes]) -> int:
    n = 0
    while block := source.read(1 << 20):
        n += block.count(b"\n")
    source.seek(0)
    return n


def _chunks(records: Iterable[tuple[int, Record]], size: int) -> Iterator[tuple[int, list[Record]]]:
    """``(offset of the first record's line, records)``, ``size`` records at a time."""
    first = -1
    chunk: list[Record] = []
    for offset, record in records:
        if not chunk:
            first = offset
        chunk.append(record)
        if len(chunk) >= size:
            yield first, chunk
            chunk = []
    if chunk:
        yield first, chunk


def import_file(
    app: Any,
    path: str,
    *,
    quiet: bool,
    bar: BarFactory | None = None,
    fast: bool = True,
    workers: int = 1,
    partitions: int | None = None,
) -> ImportResult:
    """Import the JSON lines file at ``path`` (``-``: standard input) into ``app``'s store (a
    :class:`~timeline.application.TimelineApp`). ``bar(desc, total=, unit=, quiet=)`` makes
    the progress bars (the command line's, with honest rates; a plain one by default).
    ``fast`` False: without the fast paths (every line read by ``parse_event``, every event
    encoded through its domain event and the mapper) — the same answer and the same stored
    bytes, slower; for the tests that hold the fast paths to that. ``workers`` > 1: the
    validation pass in that many processes, each for a partition of the seekers
    (:mod:`timeline.bulk.parallel`; PostgreSQL only) — the same answer and the same rows;
    ``partitions`` > ``workers``: that many partitions, taking turns (bounded memory)."""
    bar = bar or _plain_bar
    with ExitStack() as stack:
        if path == "-":
            copy = stack.enter_context(tempfile.NamedTemporaryFile(prefix="timeline-import-"))
            shutil.copyfileobj(sys.stdin.buffer, copy, 1 << 20)
            copy.flush()
            path = copy.name  # (read through handles of its own: each keeps its offset)
        source = stack.enter_context(open(path, "rb"))
        reread = stack.enter_context(open(path, "rb"))
        now = app.clock()
        form = StoredEvents(app.mapper, now, direct=fast)
        total = _count_lines(source)
        outcome: Outcome | None = None
        if workers > 1 or (partitions or 1) > 1:
            shown = stack.enter_context(bar("validating", total=total, unit="line", quiet=quiet))
            found = parallel.validate(
                app, path, now, workers, shown, stack, fast=fast, partitions=partitions
            )
            shown.close()
            if found is not None:
                outcome, records = found
        if outcome is None:  # one process (or the partitions' answer was not sure: see there)
            spool = Spool(stack.enter_context(tempfile.TemporaryFile(prefix="timeline-spool-")))
            validator = Validator(
                app,
                app.appender,
                form,
                now,
                allow_test_codes=app.settings.test_codes_allowed,
                fast=fast,
            )
            shown = stack.enter_context(bar("validating", total=total, unit="line", quiet=quiet))

            def emit(line: Line, record: Record) -> None:
                spool.add(line, record)

            outcome = validator.run(_counted(source, shown), reread, emit)
            shown.close()
            del validator  # its per-seeker state: the write pass reuses that memory
            records = spool.records()
        if outcome.problems:
            return ImportResult(outcome.problems, 0, 0)
        sink = sink_for(app.recorder, form)
        with bar("writing", total=outcome.accepted, unit="event", quiet=quiet) as writing:
            written = _write(app, sink, records, reread, writing)
        return ImportResult([], written, outcome.events - written)


def _counted(source: IO[bytes], bar: tqdm[Any]) -> Iterator[bytes]:
    for n, raw in enumerate(source, start=1):
        if n % 1000 == 0:
            bar.update(1000)
        yield raw
    bar.update(max(0, (bar.total or 0) - bar.n))


def _write(
    app: Any,
    sink: BulkSink,
    records: Iterable[tuple[int, Record]],
    source: IO[bytes],
    bar: tqdm[Any],
) -> int:
    """Pass 2 (``records``: the spooled ``(line offset, record)`` pairs in the file's order);
    the number of events written."""
    written = 0
    for first, chunk in _chunks(records, CHUNK):
        try:
            sink.write(chunk)
        except IntegrityError:
            return written + _append_rest(app, source, first, bar)
        written += len(chunk)
        bar.update(len(chunk))
    return written


BarFactory = Callable[..., "tqdm[Any]"]


def _plain_bar(desc: str, *, total: int, unit: str, quiet: bool) -> tqdm[Any]:
    """A bar with the phase's own average rate (``smoothing=0``)."""
    return tqdm(
        desc=desc,
        total=total,
        unit=unit,
        unit_scale=True,
        smoothing=0,
        file=sys.stderr,
        disable=quiet,
    )


def _append_rest(app: Any, source: IO[bytes], offset: int, bar: tqdm[Any]) -> int:
    """The file from ``offset`` on, appended batch by batch as a live append would be
    (decided again against the store: what another writer took first is a duplicate or is
    refused); the number of new events."""
    allow = app.settings.test_codes_allowed
    source.seek(offset)
    accepted = 0
    batch: list[ParsedEvent] = []
    for raw in source:
        if raw.strip():
            batch.append(read_event(raw, allow_test_codes=allow))
        if len(batch) >= APPEND_BATCH:
            accepted += sum(not r.duplicate for r in app.append(batch))
            bar.update(len(batch))
            batch = []
    if batch:
        accepted += sum(not r.duplicate for r in app.append(batch))
        bar.update(len(batch))
    return accepted
