#!/usr/bin/env python3
"""Verify a `timeline export` directory offline, with nothing but Python.

    python verify_export.py EXPORT_DIR

Checks that events.jsonl matches the SHA-256 in manifest.json, recomputes every event's content
digest and the seeker's hash chain, and that the chain ends at the manifest's chain head.
Exit 0 when everything verifies; exit 1 naming the first problem."""

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

CONTENT = ("event_id", "seeker_id", "type", "occurred_at", "occurred_on", "actor", "source", "data")


def canonical(obj: object) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def main(directory: str) -> int:
    root = Path(directory)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    body = (root / "events.jsonl").read_bytes()
    if hashlib.sha256(body).hexdigest() != manifest["files"]["events.jsonl"]:
        print("events.jsonl does not match the manifest's SHA-256")
        return 1
    prev = "0" * 64
    count = 0
    for number, line in enumerate(body.decode("utf-8").splitlines(), start=1):
        event = json.loads(line)
        digest = hashlib.sha256(canonical({k: event[k] for k in CONTENT})).hexdigest()
        if digest != event["digest"]:
            print(f"line {number} (version {event['version']}): content does not match its digest")
            return 1
        recorded = datetime.fromisoformat(event["recorded_at"]).astimezone(UTC)
        link = (
            f"{prev}|{event['seeker_id']}|{event['version']}|"
            f"{recorded.isoformat(timespec='microseconds')}|{digest}"
        )
        prev = hashlib.sha256(link.encode("ascii")).hexdigest()
        if prev != event["hash"]:
            print(f"line {number} (version {event['version']}): hash chain broken")
            return 1
        count += 1
    if count != manifest["events"] or (count and prev != manifest["chain_head"]):
        print("the chain does not end at the manifest's chain head")
        return 1
    print(f"OK: {count} events of seeker {manifest['seeker_id']} verify; chain head {prev}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
