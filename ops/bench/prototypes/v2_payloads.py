"""Payload encodings on the real demo payloads (ADR 0009): bytes per event and encode/decode
rates of today's stored JSON, a JSON of the payload alone, the v2 msgpack positional form (origin
inline or interned), each raw, with zstd, and with zstd and a trained dictionary.

    .venv/bin/python ops/bench/prototypes/v2_payloads.py FILE.jsonl [--repeat 3]

First it checks the v2 codec on every event: decode(encode(c)) == c, the clear-only decode
gives every field the rules read, and the JCS digest (orjson) equals today's digest (and the
rfc8785 package's on a sample). Rates are events/s of one process, min–max of --repeat runs.
Needs msgspec, orjson, zstandard, rfc8785 (the ``bench`` extra)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import rfc8785
import zstandard
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, UUIDAsHex

sys.path.insert(0, str(Path(__file__).resolve().parent))

import v2_codec as v2

from timeline.domain.canonical import content_digest
from timeline.domain.identity import person_ref
from timeline.domain.timeline import event_content
from timeline.vocabulary import parse_event

PERSON_KEY = b"bench-person-key"
RECORDED = datetime(2026, 12, 1, 20, 51, 0, 588134, tzinfo=UTC)
#: The fields the rules, scope and statistics read (grep of src/timeline/domain, projections).
RULE_FIELDS = {
    "municipality",
    "to_municipality",
    "labour_market_status",
    "coach_id",
    "kind",
    "applied_on",
    "reason",
    "service_id",
    "service_type",
    "applications_per_period",
    "period",
    "valid_from",
    "valid_until",
    "basis_event_ids",
    "corrects_event_id",
    "retracts_event_id",
    "replacement",
}


def _rule_data(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``data`` the rules read (a correction's or retraction's reason is text)."""
    amendment = type_ in ("correction", "retraction")
    out = {k: v for k, v in data.items() if k in RULE_FIELDS and not (amendment and k == "reason")}
    if "replacement" in out:
        rep = out["replacement"]
        out["replacement"] = {**rep, "data": _rule_data(rep["type"], rep["data"])}
    return out


def contents(path: Path) -> list[dict[str, Any]]:
    """Every event of the file as its canonical content (person_ref derived as the app does)."""
    out = []
    with path.open("rb") as f:
        for line in f:
            p = parse_event(orjson.loads(line), allow_test_identity_codes=True)
            data = dict(p.data)
            if p.personal_identity_code is not None:
                data["person_ref"] = person_ref(p.personal_identity_code, PERSON_KEY)
            out.append(
                event_content(
                    p.event_id,
                    p.seeker_id,
                    p.type,
                    p.occurred_at,
                    p.occurred_on,
                    p.actor,
                    p.source,
                    data,
                )
            )
    return out


def check(cs: Sequence[dict[str, Any]]) -> None:
    sample = cs[:: max(1, len(cs) // 5000)]
    for c in cs:
        parts = v2.encode(c)
        back = v2.decode(
            event_id=c["event_id"],
            seeker_id=c["seeker_id"],
            type_=c["type"],
            occurred_on=c["occurred_on"],
            clear=parts.clear,
            personal=parts.personal,
        )
        if back != c:
            sys.exit(f"round trip differs:\n{c}\n{back}")
        if v2.digest(c).hex() != content_digest(c):
            sys.exit(f"JCS digest differs from today's: {c}")
        _, clear = v2.clear_facts_data(c["type"], parts.clear)
        if _rule_data(c["type"], clear) != _rule_data(c["type"], c["data"]):
            sys.exit(f"the clear part lacks a field the rules read: {c}")
    for c in sample:
        if rfc8785.dumps(c) != v2.jcs(c):
            sys.exit(f"orjson output is not JCS for {c}")
    print(
        f"checked {len(cs):,} events: lossless round trip, the clear part has every field the "
        f"rules read, JCS digest == today's digest ({len(sample):,} also against rfc8785)"
    )


# -- the encodings ----------------------------------------------------------------------------


def library_state(transcoder: JSONTranscoder, c: dict[str, Any]) -> bytes:
    """The state today's mapper stores (the library's JSON transcoder, Timeline.Recorded)."""
    state: dict[str, Any] = {"timestamp": RECORDED}
    if c["type"] == "job_search_started":
        state["originator_topic"] = "timeline.domain.timeline:Timeline"
    for k in ("event_id", "occurred_at", "occurred_on", "actor", "source", "data"):
        state[k] = c[k]
    return transcoder.encode(state)


def json_payload(c: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {"occurred_at": c["occurred_at"], "actor": c["actor"], "source": c["source"], **c["data"]}
    )


@dataclass
class Variant:
    name: str
    encode: Callable[[dict[str, Any]], list[bytes]]  # the stored blobs of one event
    decode: Callable[[dict[str, Any], list[bytes]], object]


def rate(f: Callable[[], object], n: int, repeat: int) -> tuple[float, float]:
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        rates.append(n / (time.perf_counter() - start))
    return min(rates), max(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dict-size", type=int, default=32 * 1024)
    args = ap.parse_args()
    cs = contents(args.file)
    n = len(cs)
    line_bytes = sum(len(x.rstrip(b"\n")) for x in args.file.open("rb")) / n
    check(cs)

    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    origins: dict[tuple[str, str, str, str | None], int] = {}
    for c in cs:
        a = c["actor"]
        origins.setdefault((a["id"], a["role"], a["organisation"], c["source"]), len(origins))
    by_id = {i: k for k, i in origins.items()}

    def v2_inline(c: dict[str, Any]) -> list[bytes]:
        p = v2.encode(c)
        return [p.clear] if p.personal is None else [p.clear, p.personal]

    def v2_interned(c: dict[str, Any]) -> list[bytes]:
        p = v2.encode(c, interned=True)
        return [p.clear] if p.personal is None else [p.clear, p.personal]

    def v2_decode(c: dict[str, Any], blobs: list[bytes]) -> object:
        a = c["actor"]  # (the interned origin's id is a column: look it up as a reader would)
        key = origins[(a["id"], a["role"], a["organisation"], c["source"])]
        return v2.decode(
            event_id=c["event_id"],
            seeker_id=c["seeker_id"],
            type_=c["type"],
            occurred_on=c["occurred_on"],
            clear=blobs[0],
            personal=blobs[1] if len(blobs) > 1 else None,
            origin=by_id[key],
        )

    base = [
        Variant(
            "today: library JSON state (+ topic column)",
            lambda c: [library_state(transcoder, c)],
            lambda c, b: transcoder.decode(b[0]),
        ),
        Variant(
            "JSON of the payload only (orjson)",
            lambda c: [json_payload(c)],
            lambda c, b: orjson.loads(b[0]),
        ),
        Variant("v2 msgpack, origin inline", v2_inline, v2_decode),
        Variant("v2 msgpack, origin interned", v2_interned, v2_decode),
    ]
    variants = list(base)
    sample = cs[:: max(1, n // 10_000)]  # the dictionary is trained on ~12 % of the events
    for b in base[1:]:
        plain = zstandard.ZstdCompressor(level=3, write_checksum=False, write_dict_id=False)
        variants.append(_compressed(b, "zstd-3", plain, zstandard.ZstdDecompressor()))
        trained: list[bytes | bytearray | memoryview] = [
            blob for c in sample for blob in b.encode(c)
        ]
        zdict = zstandard.train_dictionary(args.dict_size, trained)
        comp = zstandard.ZstdCompressor(
            level=3, dict_data=zdict, write_checksum=False, write_dict_id=False
        )
        variants.append(
            _compressed(
                b,
                f"zstd-3 + {args.dict_size // 1024} KiB dict",
                comp,
                zstandard.ZstdDecompressor(dict_data=zdict),
            )
        )

    print(
        f"\n{n:,} events, JSON line {line_bytes:,.0f} B; {len(origins)} distinct origins "
        "(actor + source)"
    )
    print(
        f"{'encoding':<52} {'B/event':>8} {'clear':>7} {'pers.':>7} {'encode ev/s':>20} "
        f"{'decode ev/s':>20}"
    )
    for v in variants:
        blobs = [v.encode(c) for c in cs]
        size = sum(len(x) for bs in blobs for x in bs) / n
        clear = sum(len(bs[0]) for bs in blobs) / n
        personal = sum(len(bs[1]) for bs in blobs if len(bs) > 1) / n
        enc = rate(partial(_encode_all, v, cs), n, args.repeat)
        dec = rate(partial(_decode_all, v, cs, blobs), n, args.repeat)
        split = v.name.startswith("v2")
        print(
            f"{v.name:<52} {size:8.1f} {clear if split else float('nan'):7.1f} "
            f"{personal if split else float('nan'):7.1f} "
            f"{enc[0]:>9,.0f}–{enc[1]:<10,.0f} {dec[0]:>9,.0f}–{dec[1]:<10,.0f}"
        )
    facts = [v2.encode(c).clear for c in cs]
    types = [c["type"] for c in cs]
    clear_only = rate(
        lambda: [v2.clear_facts_data(t, b) for t, b in zip(types, facts, strict=True)],
        n,
        args.repeat,
    )
    print(
        f"{'v2 clear part only → (occurred_at, rule data)':<52} {'':>8} {'':>7} {'':>7} "
        f"{'':>20} {clear_only[0]:>9,.0f}–{clear_only[1]:<10,.0f}"
    )
    print(json.dumps({"events": n, "line_bytes": line_bytes, "origins": len(origins)}))


def _encode_all(v: Variant, cs: Sequence[dict[str, Any]]) -> object:
    return [v.encode(c) for c in cs]


def _decode_all(v: Variant, cs: Sequence[dict[str, Any]], blobs: Sequence[list[bytes]]) -> object:
    return [v.decode(c, b) for c, b in zip(cs, blobs, strict=True)]


def _compressed(
    b: Variant, label: str, comp: zstandard.ZstdCompressor, dec: zstandard.ZstdDecompressor
) -> Variant:
    def encode(c: dict[str, Any]) -> list[bytes]:
        return [comp.compress(x) for x in b.encode(c)]

    def decode(c: dict[str, Any], blobs: list[bytes]) -> object:
        return b.decode(c, [dec.decompress(x) for x in blobs])

    return Variant(f"{b.name}, {label}", encode, decode)


if __name__ == "__main__":
    main()
