"""Canonical form, content digest and the per-seeker hash chain.

The chain is over *digests* of the content, not over stored bytes, so a payload can later be
crypto-shredded and the chain still verifies (ARCHITECTURE.md, "tamper evidence that survives
erasure")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_bytes(content: Mapping[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, no insignificant white space, UTF-8."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


def chain_hash(
    prev_hash: str, *, digest: str, seeker_id: str, version: int, recorded_at: str
) -> str:
    """hash(n) = SHA-256(prev_hash | seeker | version | recorded_at | content digest)."""
    link = f"{prev_hash}|{seeker_id}|{version}|{recorded_at}|{digest}".encode("ascii")
    return hashlib.sha256(link).hexdigest()


def iso_utc(moment: datetime) -> str:
    """The one text form of a recorded time: UTC, microseconds always present, sortable."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
