"""How long the obligation rules take for one busy seeker: ``evaluate`` of a spell from 2025 into
2026 with about 200 facts of every kind (conversations, applications, misses), on 2026-06-01.
Goal: a few milliseconds a call (the projections evaluate every touched seeker of a batch).

    python ops/bench/rules_timing.py [--facts 200] [--rounds 50]

Timing lives here, not in the unit tests: a wall-clock limit fails under load."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact
from timeline.domain.rules import evaluate
from timeline.rulesets import default_rulesets

GOAL_MS = 5.0


def _fact(number: int, type_: EventType, on: date, data: dict[str, Any]) -> Fact:
    return Fact(
        event_id=f"e{number}",
        seeker_id="8b9f2f6e-2d7c-4d55-a8a1-5b2a4b0f0c33",
        type=type_,
        occurred_on=on,
        recorded_at=datetime(2020, 1, 1, tzinfo=UTC),
        version=number,
        data=data,
    )


def busy_seeker(n: int) -> list[Fact]:
    """A spell from 2025 into 2026 with about ``n`` facts of every kind."""
    start = date(2025, 1, 7)
    facts = [
        _fact(
            1,
            EventType.JOB_SEARCH_STARTED,
            start,
            {"municipality": "398", "labour_market_status": "unemployed"},
        ),
        _fact(
            2,
            EventType.MEETING_HELD,
            date(2025, 1, 10),
            {"kind": "initial_interview", "channel": "in_person"},
        ),
        _fact(
            3, EventType.EMPLOYMENT_PLAN_AGREED, date(2025, 1, 10), {"plan_kind": "employment_plan"}
        ),
    ]
    kinds = [
        "supplementary_conversation",
        "job_search_conversation",
        "intensified_period_conversation",
    ]
    i = 0
    while len(facts) < n:
        day = start + timedelta(days=3 + i * 2)
        number = len(facts) + 1
        if i % 4 == 3:
            data: dict[str, Any] = {"kind": kinds[i % 3], "channel": "in_person"}
            facts.append(_fact(number, EventType.MEETING_HELD, day, data))
        elif i % 17 == 5:
            data = {"kind": "job_search_conversation", "reason": "no_show"}
            facts.append(_fact(number, EventType.MEETING_MISSED, day, data))
        else:
            data = {
                "applied_on": day.isoformat(),
                "kind": "vacancy" if i % 5 else "open_application",
            }
            facts.append(_fact(number, EventType.APPLICATION_REPORTED, day, data))
        i += 1
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    facts = busy_seeker(args.facts)
    rulesets = default_rulesets()
    on = date(2026, 6, 1)
    evaluate(facts, on, rulesets)  # warm-up
    begin = time.perf_counter()
    for _ in range(args.rounds):
        evaluate(facts, on, rulesets)
    per_call = (time.perf_counter() - begin) / args.rounds * 1000
    verdict = "MET" if per_call <= GOAL_MS else "NOT MET"
    print(
        f"evaluate, {len(facts)} facts: {per_call:.2f} ms a call (goal ≤ {GOAL_MS} ms: {verdict})"
    )


if __name__ == "__main__":
    main()
