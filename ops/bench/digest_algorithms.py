"""What the content digest costs per event under each algorithm (docs/audit.md): algorithm 1
(the old canonical JSON), algorithm 2 as the service makes it (the standard library's encoder
for content RFC 8785 writes identically, else the ``rfc8785`` package), and the ``rfc8785``
package on every event, in alternating rounds on the same demo events.

    python ops/bench/digest_algorithms.py [--seekers 300] [--rounds 3]

It also counts the events whose algorithm-1 and algorithm-2 hex agree (on the vocabulary's
values they all do: the canonical bytes are the same)."""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import rfc8785

from timeline.demo import generate
from timeline.domain.canonical import JCS, LEGACY, content_digest
from timeline.domain.timeline import event_content
from timeline.vocabulary import parse_event


def _contents(seekers: int) -> list[dict[str, Any]]:
    parsed = [
        parse_event(e.envelope, allow_test_identity_codes=True) for e in generate(seekers, seed=1)
    ]
    return [
        event_content(
            p.event_id,
            p.seeker_id,
            p.type,
            p.occurred_at,
            p.occurred_on,
            p.actor,
            p.source,
            dict(p.data),
        )
        for p in parsed
    ]


def _package(content: Mapping[str, Any]) -> str:
    return "jcs:" + hashlib.sha256(rfc8785.dumps(dict(content))).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seekers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    contents = _contents(args.seekers)
    same = sum(
        content_digest(c, algorithm=LEGACY) == content_digest(c, algorithm=JCS)[4:]
        for c in contents
    )
    print(f"{len(contents)} events; algorithm-1 hex equals algorithm-2 hex for {same}")
    ways: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "algorithm 1": lambda c: content_digest(c, algorithm=LEGACY),
        "algorithm 2 (service)": lambda c: content_digest(c, algorithm=JCS),
        "algorithm 2 (rfc8785 always)": _package,
    }
    for number in range(args.rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            for content in contents:
                way(content)
            took = time.perf_counter() - start
            print(
                f"round {number} {name:30} {len(contents) / took:>9,.0f} events/s "
                f"{took / len(contents) * 1e6:6.1f} µs/event"
            )


if __name__ == "__main__":
    main()
