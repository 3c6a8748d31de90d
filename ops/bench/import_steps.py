"""The CPU time per event of each step of `timeline import` (process time, one process): where
the import's time goes, next to the rate that `scale.py --only import` measures.

    python ops/bench/import_steps.py FILE [--lines 10000]

FILE: JSON lines (`timeline demo --out FILE`). Each step runs twice over the same lines and
the second run is timed; the store is a throwaway SQLite file (only the lookups touch it)."""

from __future__ import annotations

import argparse
import contextlib
import json
import marshal
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from timeline.application import TimelineApp
from timeline.bulk.rows import Accepted, Record, StoredEvents
from timeline.bulk.validate import Line, Validator
from timeline.clock import system_clock
from timeline.decisions import event_digest
from timeline.domain.canonical import GENESIS_HASH, chain_hash
from timeline.domain.errors import InvalidEvent
from timeline.domain.timeline_rules import check_event
from timeline.settings import Settings
from timeline.vocabulary import parse_event

try:  # (absent before the fast path: the script also measures an older tree via PYTHONPATH)
    from timeline.vocabulary.fast import parse_line
except ImportError:  # pragma: no cover
    parse_line = None  # type: ignore[assignment]


class _NoEncoding:
    def encode(self, accepted: Accepted) -> Record:
        return ()


def timed(label: str, n: int, step: Callable[[], Any]) -> Any:
    step()
    start = time.process_time()
    out = step()
    print(f"{label:<58} {(time.process_time() - start) / n * 1e6:7.1f} µs/event")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    with args.file.open("rb") as f:
        raws = [line for _, line in zip(range(args.lines), f, strict=False)]
    n = len(raws)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/steps.db", environment="test")
        app = TimelineApp(settings=settings)
        now = system_clock()
        values = timed("json.loads", n, lambda: [json.loads(r.decode("utf-8")) for r in raws])
        events = timed(
            "parse_event (pydantic)",
            n,
            lambda: [parse_event(v, allow_test_identity_codes=True) for v in values],
        )
        timed(
            "recorded-time limits, person ref",
            n,
            lambda: [app.appender.prepare([e], now) for e in events],
        )
        if parse_line is not None:
            fast = timed(
                "fast path: parse_line (msgspec), instead of the two above",
                n,
                lambda: [parse_line(r, allow_test_identity_codes=True) for r in raws],
            )
            vouched = sum(e is not None for e in fast)
            print(
                f"{'  lines it vouched for (the rest: the two above)':<58} {vouched:>7,} of {n:,}"
            )
        algorithm = app.appender.digest_algorithm
        timed(
            "content digest", n, lambda: [event_digest(e, dict(e.data), algorithm) for e in events]
        )
        timed(
            "chain hash",
            n,
            lambda: [
                chain_hash(
                    GENESIS_HASH,
                    digest=GENESIS_HASH,
                    seeker_id=e.seeker_id,
                    version=2,
                    recorded_at="2026-01-01T00:00:00.000000+00:00",
                )
                for e in events
            ],
        )

        def validate(encoder: Any) -> list[Record | None]:
            v = Validator(app, app.appender, encoder, now, allow_test_codes=True)
            v._load([e.seeker_id for e in events])
            return [v.decide(Line(i, 0, e), {}) for i, e in enumerate(events)]

        timed(
            "decide: the above but parsing, + rules, ids, state",
            n,
            lambda: validate(_NoEncoding()),
        )
        form = StoredEvents(app.mapper, now)
        records = timed(
            "decide + encode: + the stored form (form 2, sealed)", n, lambda: validate(form)
        )
        v = Validator(app, app.appender, _NoEncoding(), now, allow_test_codes=True)
        for i, e in enumerate(events):
            v.decide(Line(i, 0, e), {})
        facts = [v.seekers[e.seeker_id].facts_for(e.type, e.data) for e in events]  # type: ignore[union-attr]
        days = [date.fromisoformat(e.occurred_on) for e in events]
        # the spells the validation pass keeps per seeker (absent before it kept them)
        kept = {s: getattr(state, "spells", None) for s, state in v.seekers.items()}

        def rules() -> None:
            for f, e, d in zip(facts, events, days, strict=True):
                spells = kept[e.seeker_id]
                extra = {} if spells is None else {"known_spells": spells()}
                with contextlib.suppress(InvalidEvent):  # (on the seekers' final state)
                    check_event(f, e.type, d, e.data, **extra)

        timed("  of which the timeline rules (check_event)", n, rules)
        timed("  of which uuid bytes", n, lambda: [UUID(e.event_id).bytes for e in events])
        rows = [r for r in records if r is not None]
        timed("spool (marshal out and in)", n, lambda: marshal.loads(marshal.dumps(rows)))  # noqa: S302
        timed(
            "spooled rows -> stored events and index rows",
            n,
            lambda: (form.stored_events(rows, uuids=False), form.index_rows(rows)),
        )
        app.close()


if __name__ == "__main__":
    main()
