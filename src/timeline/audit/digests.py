"""Daily digests: for each day (Europe/Helsinki) a Merkle root over the chain hashes of the
events recorded that day, in log order, signed with HMAC-SHA-256 under ``TIMELINE_DIGEST_KEY``.

An auditor exports the digests (``timeline digest --export``) and keeps them outside the system;
later ``timeline verify --digests FILE`` recomputes every kept day from the store and names the
days that no longer match. Events are append-only and recorded once, so a finished day's digest
never changes unless the log was altered."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from timeline.application import TimelineApp
from timeline.clock import Clock
from timeline.db import SideDatabase
from timeline.domain.canonical import iso_utc
from timeline.vocabulary import HELSINKI

TABLE = "timeline_digests"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def merkle_root(leaves: list[str]) -> str:
    """RFC 6962-style tree hash: leaf = SHA-256(0x00 | h), node = SHA-256(0x01 | left | right);
    an odd node is carried up unchanged. The empty tree's root is SHA-256 of nothing."""
    if not leaves:
        return EMPTY_ROOT
    level = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in leaves]
    while len(level) > 1:
        nxt = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


@dataclass(frozen=True)
class Digest:
    day: str
    events: int
    first_position: int | None
    last_position: int | None
    merkle_root: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=HELSINKI)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=HELSINKI)


class Digests:
    def __init__(self, app: TimelineApp, db: SideDatabase, key: bytes, clock: Clock) -> None:
        self.app = app
        self.db = db
        self.key = key
        self.clock = clock
        with db.transaction() as tx:
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (day TEXT PRIMARY KEY, "
                "events INTEGER NOT NULL, first_position BIGINT, last_position BIGINT, "
                "merkle_root TEXT NOT NULL, signature TEXT NOT NULL, "
                "computed_at TEXT NOT NULL)"
            )

    def sign(self, day: str, events: int, first: int | None, last: int | None, root: str) -> str:
        message = f"{day}|{events}|{first}|{last}|{root}".encode("ascii")
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def compute(self, day: date) -> Digest:
        """The digest of a day, computed from the store now."""
        rows = self.app.index.index_recorded_between(*day_bounds(day))
        root = merkle_root([r.hash for r in rows])
        first = rows[0].position if rows else None
        last = rows[-1].position if rows else None
        return Digest(
            day.isoformat(),
            len(rows),
            first,
            last,
            root,
            self.sign(day.isoformat(), len(rows), first, last, root),
        )

    def seal(self, day: date) -> Digest:
        """Compute and keep the digest of a finished day; a kept digest is never replaced."""
        today = self.clock().astimezone(HELSINKI).date()
        if day >= today:
            msg = f"{day} is not over yet (today is {today}); only finished days are sealed"
            raise ValueError(msg)
        digest = self.compute(day)
        with self.db.transaction() as tx:
            kept = tx.execute(f"SELECT merkle_root FROM {TABLE} WHERE day = ?", [digest.day])
            if not kept:
                tx.execute(
                    f"INSERT INTO {TABLE} VALUES (?,?,?,?,?,?,?)",
                    [
                        digest.day,
                        digest.events,
                        digest.first_position,
                        digest.last_position,
                        digest.merkle_root,
                        digest.signature,
                        iso_utc(self.clock()),
                    ],
                )
        return digest

    def kept(self) -> list[Digest]:
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT day, events, first_position, last_position, merkle_root, "
                f"signature FROM {TABLE} ORDER BY day"
            )
        return [Digest(str(r[0]), int(r[1]), r[2], r[3], str(r[4]), str(r[5])) for r in rows]

    def check(self, exported: list[dict[str, Any]]) -> list[str]:
        """Compare digests kept outside with the store now; return one line per mismatch."""
        problems = []
        for item in exported:
            day = date.fromisoformat(str(item["day"]))
            expected_sig = self.sign(
                item["day"],
                int(item["events"]),
                item["first_position"],
                item["last_position"],
                str(item["merkle_root"]),
            )
            if not hmac.compare_digest(expected_sig, str(item["signature"])):
                problems.append(
                    f"{day}: the kept digest's signature does not verify "
                    "(wrong key, or the kept copy was edited)"
                )
                continue
            now = self.compute(day)
            if now.merkle_root != item["merkle_root"] or now.events != item["events"]:
                problems.append(
                    f"{day}: the store no longer matches the kept digest "
                    f"({item['events']} events then, {now.events} now)"
                )
        return problems


def export_lines(digests: list[Digest]) -> str:
    return "".join(json.dumps(d.to_dict(), sort_keys=True) + "\n" for d in digests)
