"""The merged stream: every seeker's events interleaved in recorded order, and the JSON Lines
they are written as."""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from timeline.demo.life import seeker_events
from timeline.demo.rules import CALENDAR, local
from timeline.demo.seeker import Pending, Seeker


@dataclass(frozen=True)
class DemoEvent:
    """One generated event: when the backend sends it to the store, and the wire envelope."""

    recorded_at: datetime  # aware UTC, >= the occurred time
    envelope: dict[str, Any]  # JSON-ready: str UUIDs, ISO strings


def write_jsonl(events: Iterable[DemoEvent], fp: TextIO) -> int:
    """Write one envelope per line (compact JSON, no recorded time); return the count."""
    count = 0
    for event in events:
        fp.write(json.dumps(event.envelope, ensure_ascii=False, separators=(",", ":")))
        fp.write("\n")
        count += 1
    return count


def generate(
    seekers: int = 200,
    seed: int = 1,
    *,
    start: date = date(2022, 1, 3),
    end: date = date(2026, 10, 31),
) -> Iterator[DemoEvent]:
    """Yield the synthetic events of ``seekers`` job seekers in ascending ``recorded_at`` order
    (per seeker: the order the store receives them). Deterministic for ``seed``."""
    if end <= start:
        raise ValueError("end must be after start")
    master = random.Random(seed)  # noqa: S311 - synthetic data, not security
    latest_first = max(start, end - timedelta(days=45))
    span = (latest_first - start).days
    # (first registration instant, index, seeker seed, its day): a few bytes per seeker
    pending: list[tuple[datetime, int, int, date]] = []
    for index in range(seekers):
        seeker_seed = master.getrandbits(64)
        u = master.random()
        # a stock at the start plus a steady inflow: more first registrations early on
        offset = int(span * (u**1.6 if master.random() < 0.5 else u))
        first = CALENDAR.roll_forward(start + timedelta(days=offset))
        if first > latest_first:
            first = start
        pending.append((local(first, 0).astimezone(UTC), index, seeker_seed, first))
    pending.sort()
    heap: list[tuple[datetime, int, int, dict[str, Any], Iterator[Pending]]] = []
    p = 0
    while heap or p < len(pending):
        while p < len(pending) and (not heap or pending[p][0] <= heap[0][0]):
            _, index, seeker_seed, first = pending[p]
            p += 1
            stream = seeker_events(Seeker(seeker_seed, first, end))
            for recorded, seq, envelope in stream:
                heapq.heappush(heap, (recorded, index, seq, envelope, stream))
                break
        if not heap:
            continue
        recorded, index, _seq, envelope, stream = heap[0]
        yield DemoEvent(recorded, envelope)
        for nxt_recorded, nxt_seq, nxt_envelope in stream:
            heapq.heapreplace(heap, (nxt_recorded, index, nxt_seq, nxt_envelope, stream))
            break
        else:
            heapq.heappop(heap)
