#!/usr/bin/env python3
"""Verify a `timeline export` folder offline, with nothing but Python (3.11 or later).

    python verify_export.py EXPORT_DIR        (inside the folder: python verify_export.py .)

Checks that every file in the folder is listed in manifest.json with its SHA-256 (events.jsonl,
report.html, this verifier) and that nothing else is there; then recomputes every event's
content digest and the seeker's hash chain, and that the chain ends at the manifest's chain
head. Exit 0 when everything verifies; exit 1 naming the first problem; exit 2 for bad usage.

An event's digest names its algorithm: 64 hex digits (algorithm 1, events recorded before RFC
8785 was adopted) is the SHA-256 of the service's own canonical JSON (sorted keys, separators
"," and ":", UTF-8, as Python's json.dumps makes it); "jcs:" and 64 hex digits (algorithm 2)
is the SHA-256 of the RFC 8785 (JCS) canonical JSON of the same content. JCS is implemented
here in a few lines, for the values events hold (strings, integers, booleans, null, arrays,
objects; never a fraction or an exponent): any standard JCS tool gives the same bytes.

An event marked "erased": true belongs to a seeker whose personal data was erased (its key
destroyed): the export carries its type, times, position, digest and hash but no payload, so
its digest cannot be recomputed; the chain's links are still recomputed from the digests as
written, and the chain must still end at the manifest's chain head. The manifest says whether
the seeker was erased ("erased"), and every event must agree with it.

What it proves: the folder is as the manifest describes it, and the events form an unbroken
chain ending at the manifest's chain head. What it cannot prove on its own: that the manifest
itself is the one the service wrote. Compare its SHA-256 (printed below) with the one in the
service's access log entry for this export, or the chain head with `timeline verify` or the
kept daily digests. For independence, run a copy of this verifier you obtained yourself (the
timeline repository's `ops/verify_export.py` runs src/timeline/audit/verify_export.py); the
copy in the folder is a convenience, and its own SHA-256 is listed in the manifest.

This file is self-contained on purpose: `timeline export` copies it into every export."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONTENT = ("event_id", "seeker_id", "type", "occurred_at", "occurred_on", "actor", "source", "data")
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
IGNORED = frozenset({"__pycache__"})
JCS_PREFIX = "jcs:"
JCS_MAX_INT = 2**53 - 1


class Problem(Exception):
    """The first thing that does not verify."""


def canonical(obj: object) -> bytes:
    """Algorithm 1's canonical JSON."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def jcs(obj: object) -> bytes:
    """RFC 8785 (JCS) canonical JSON of a value without fractions or exponents."""
    return _jcs(obj).encode("utf-8")


def _jcs(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # RFC 8785 3.2.2.3: numbers as IEEE 754 doubles; an integer is exact up to 2**53 - 1
        if abs(value) > JCS_MAX_INT:
            raise Problem(f"integer {value} is beyond the JCS range (2**53 - 1)")
        return str(value)
    if isinstance(value, str):
        # RFC 8785 3.2.2.2 escapes exactly what json.dumps(ensure_ascii=False) escapes: '"',
        # backslash, \b \f \n \r \t, other controls as \u00xx in lower case; the rest as is
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        # RFC 8785 3.2.3: members sorted by their names' UTF-16 code units
        items = sorted(value.items(), key=lambda kv: str(kv[0]).encode("utf-16-be"))
        return "{" + ",".join(f"{_jcs(k)}:{_jcs(v)}" for k, v in items) + "}"
    raise Problem(f"a {type(value).__name__} value: this verifier's JCS covers no fractions")


def content_digest(content: dict[str, Any], stored: str) -> str:
    """The digest of ``content`` by the algorithm the stored digest ``stored`` names, in the
    same text form (so the two compare equal when the content is the one digested)."""
    if stored.startswith(JCS_PREFIX):
        return JCS_PREFIX + hashlib.sha256(jcs(content)).hexdigest()
    if len(stored) == 64 and all(c in "0123456789abcdef" for c in stored):
        return hashlib.sha256(canonical(content)).hexdigest()
    raise Problem(f"digest {stored!r} names no algorithm this verifier knows")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(root: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Problem(f"no {MANIFEST} in {root}: is this an export folder?") from None
    except ValueError as exc:
        raise Problem(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise Problem(f"{MANIFEST} lists no files")
    return manifest


def check_files(root: Path, listed: dict[str, Any]) -> None:
    """Every listed file is present with its SHA-256, and every file present is listed."""
    if EVENTS not in listed:
        raise Problem(f"{MANIFEST} does not list {EVENTS}")
    for name, expected in sorted(listed.items()):
        path = root / name
        if Path(name).name != name or not path.is_file():
            raise Problem(f"{name} is listed in {MANIFEST} but is not in the folder")
        if sha256_file(path) != expected:
            raise Problem(f"{name} does not match the SHA-256 in {MANIFEST}")
    present = {p.name for p in root.iterdir() if p.name not in IGNORED}
    extra = sorted(present - set(listed) - {MANIFEST})
    if extra:
        raise Problem(f"not covered by {MANIFEST}: {', '.join(extra)}")


def check_chain(body: bytes, manifest: dict[str, Any]) -> tuple[int, str]:
    """Recompute each event's digest and the hash chain; return (events, chain head)."""
    prev = "0" * 64
    count = 0
    for number, line in enumerate(body.decode("utf-8").splitlines(), start=1):
        event = json.loads(line)
        if event.get("erased", False) is not (manifest.get("erased") is True):
            where = f"{EVENTS} line {number} (version {event['version']})"
            raise Problem(f"{where}: marked erased or not, against the manifest")
        if event.get("erased") is True:  # no payload: the link from the digest as written
            digest = str(event["digest"])
        else:
            digest = content_digest({k: event[k] for k in CONTENT}, event["digest"])
        if digest != event["digest"]:
            where = f"{EVENTS} line {number} (version {event['version']})"
            raise Problem(f"{where}: content does not match its digest")
        recorded = datetime.fromisoformat(event["recorded_at"]).astimezone(UTC)
        link = (
            f"{prev}|{event['seeker_id']}|{event['version']}|"
            f"{recorded.isoformat(timespec='microseconds')}|{digest}"
        )
        prev = hashlib.sha256(link.encode("ascii")).hexdigest()
        if prev != event["hash"]:
            raise Problem(f"{EVENTS} line {number} (version {event['version']}): hash chain broken")
        count += 1
    if count != manifest.get("events") or (count and prev != manifest.get("chain_head")):
        raise Problem("the chain does not end at the manifest's chain head")
    return count, prev


def main(directory: str) -> int:
    root = Path(directory)
    try:
        manifest = read_manifest(root)
        check_files(root, manifest["files"])
        count, head = check_chain((root / EVENTS).read_bytes(), manifest)
    except Problem as problem:
        print(f"NOT VERIFIED: {problem}")
        return 1
    except (KeyError, TypeError, ValueError) as exc:  # a file of the wrong shape
        print(f"NOT VERIFIED: unreadable export ({type(exc).__name__}: {exc})")
        return 1
    files = ", ".join(sorted(manifest["files"]))
    print(
        f"OK: {count} events of seeker {manifest.get('seeker_id')} verify; chain head {head}; "
        f"files {files} match the manifest; manifest SHA-256 {sha256_file(root / MANIFEST)}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
