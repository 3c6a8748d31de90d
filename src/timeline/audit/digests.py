"""Daily digests: for each day (Europe/Helsinki) a Merkle root over the events recorded that
day, in log order (each leaf binds an event's position to its chain hash), and the access log's
head at the end of the day (the number and hash of its last entry dated that day or before),
signed with HMAC-SHA-256 under ``TIMELINE_DIGEST_KEY``.

An auditor exports the digests (``timeline digest --export``) and keeps them outside the system;
later ``timeline verify --digests FILE`` recomputes every kept day from the store and names the
days that no longer match, in the event log or in the access log. Events and access-log entries
are append-only and recorded once, so a finished day's digest never changes unless a log was
altered (a tail removed, the table emptied, entries edited and the chain recomputed, an entry
forged into a sealed day). Digests of format 1 (before the access log was sealed) still verify
the events they covered; format 2 (before the erasure register was sealed) the events and the
access log."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from timeline.application import TimelineApp
from timeline.audit.access_log import AccessLog, Head, Scan
from timeline.clock import Clock
from timeline.domain.canonical import iso_utc
from timeline.domain.zone import HELSINKI
from timeline.store.side import SideDatabase, Tx

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


#: The format of the digests sealed now. 1: the event log only (Merkle leaves are the chain
#: hashes). 2: leaves bind each chain hash to its position, and the access log's head at the
#: end of the day is sealed too. 3: the erasure register's head at the end of the day as well
#: (docs/erasure.md). Digests of formats 1 and 2 kept from earlier still verify what they
#: covered.
FORMAT = 3
FORMATS = (1, 2, 3)


class SealedLog(Protocol):
    """A hash-chained log whose head a digest seals (the erasure register,
    :mod:`timeline.erasure.register`): a scan of its chain, and its head before a moment."""

    def scan(self) -> Scan: ...

    def all_erased(self) -> set[str]: ...

    @staticmethod
    def head_before(tx: Tx, end: datetime) -> Head: ...


def leaf(position: int | None, chain: str) -> str:
    """A format-2 Merkle leaf value: SHA-256 of ``position|chain hash`` (hex)."""
    return hashlib.sha256(f"{position}|{chain}".encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Digest:
    day: str
    events: int
    first_position: int | None
    last_position: int | None
    merkle_root: str
    signature: str
    format: int = FORMAT
    access_log_seq: int | None = None
    access_log_hash: str | None = None
    erasure_seq: int | None = None
    erasure_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.format <= 2:  # as formats 1 and 2 were exported
            del out["erasure_seq"], out["erasure_hash"]
        if self.format == 1:
            del out["format"], out["access_log_seq"], out["access_log_hash"]
        return out

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> Digest:
        """A digest as exported (any supported format); ValueError naming what is wrong."""
        if not isinstance(item, Mapping):
            raise ValueError("not a JSON object")
        try:
            fmt = int(item.get("format", 1))
            if fmt not in FORMATS:
                raise ValueError(f"unsupported digest format {fmt}")
            date.fromisoformat(str(item["day"]))
            return cls(
                day=str(item["day"]),
                events=int(item["events"]),
                first_position=_opt_int(item["first_position"]),
                last_position=_opt_int(item["last_position"]),
                merkle_root=str(item["merkle_root"]),
                signature=str(item["signature"]),
                format=fmt,
                access_log_seq=int(item["access_log_seq"]) if fmt >= 2 else None,
                access_log_hash=str(item["access_log_hash"]) if fmt >= 2 else None,
                erasure_seq=int(item["erasure_seq"]) if fmt >= 3 else None,
                erasure_hash=str(item["erasure_hash"]) if fmt >= 3 else None,
            )
        except KeyError as exc:
            raise ValueError(f"field {exc.args[0]} is missing") from None
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def message(self) -> bytes:
        """What the signature covers (format 1's message is unchanged)."""
        head = f"{self.day}|{self.events}|{self.first_position}|{self.last_position}"
        if self.format == 1:
            return f"{head}|{self.merkle_root}".encode("ascii")
        sealed = (
            f"{self.format}|{head}|{self.merkle_root}|{self.access_log_seq}|{self.access_log_hash}"
        )
        if self.format == 2:
            return sealed.encode("ascii")
        return f"{sealed}|{self.erasure_seq}|{self.erasure_hash}".encode("ascii")


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=HELSINKI)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=HELSINKI)


class Digests:
    def __init__(
        self,
        app: TimelineApp,
        db: SideDatabase,
        key: bytes,
        clock: Clock,
        access_log: AccessLog,
        erasures: SealedLog,
    ) -> None:
        self.app = app
        self.db = db
        self.key = key
        self.clock = clock
        self.access_log = access_log
        self.erasures = erasures
        with db.transaction() as tx:
            tx.execute(tx.sql.DIGESTS_TABLE)
            # Added with formats 2 and 3; digests kept before keep their format.
            have = {str(r[0]) for r in tx.execute(tx.sql.COLUMNS_OF, [TABLE])}
            for column, kind in tx.sql.DIGESTS_ADDED:
                if column not in have:
                    tx.execute(tx.sql.add_column(TABLE, column, kind))

    def sign(self, digest: Digest) -> str:
        return hmac.new(self.key, digest.message(), hashlib.sha256).hexdigest()

    def compute(
        self,
        day: date,
        *,
        format: int = FORMAT,
        access_log: Head | None = None,
        erasures: Head | None = None,
    ) -> Digest:
        """The digest of a day computed from the store now: its events, (format 2) the access
        log's head and (format 3) the erasure register's head at the end of the day, as
        given."""
        rows = self.app.index.index_recorded_between(*day_bounds(day))
        if format == 1:
            root = merkle_root([r.hash for r in rows])
        else:
            root = merkle_root([leaf(r.position, r.hash) for r in rows])
        head = access_log if format >= 2 else None
        erased = erasures if format >= 3 else None
        unsigned = Digest(
            day=day.isoformat(),
            events=len(rows),
            first_position=rows[0].position if rows else None,
            last_position=rows[-1].position if rows else None,
            merkle_root=root,
            signature="",
            format=format,
            access_log_seq=head.seq if head else None,
            access_log_hash=head.hash if head else None,
            erasure_seq=erased.seq if erased else None,
            erasure_hash=erased.hash if erased else None,
        )
        return replace(unsigned, signature=self.sign(unsigned))

    def seal(self, day: date) -> Digest:
        """Compute and keep the digest of a finished day; a kept digest is never replaced."""
        today = self.clock().astimezone(HELSINKI).date()
        if day >= today:
            msg = f"{day} is not over yet (today is {today}); only finished days are sealed"
            raise ValueError(msg)
        with self.db.transaction() as tx:
            kept = _kept(tx, day.isoformat())
            if kept:
                return kept[0]
            end = day_bounds(day)[1]
            head = self.access_log.head_before(tx, end)
            erased = self.erasures.head_before(tx, end)
            digest = self.compute(day, access_log=head, erasures=erased)
            tx.execute(
                tx.sql.DIGEST_INSERT,
                [
                    digest.day,
                    digest.events,
                    digest.first_position,
                    digest.last_position,
                    digest.merkle_root,
                    digest.signature,
                    iso_utc(self.clock()),
                    digest.format,
                    digest.access_log_seq,
                    digest.access_log_hash,
                    digest.erasure_seq,
                    digest.erasure_hash,
                ],
            )
        return digest

    def kept(self) -> list[Digest]:
        with self.db.transaction() as tx:
            return _kept(tx)

    def check(
        self,
        exported: Sequence[Mapping[str, Any]],
        *,
        access_log: Scan | None = None,
        erasures: Scan | None = None,
    ) -> list[str]:
        """Compare digests kept outside with the store now; return one line per mismatch.
        ``access_log`` and ``erasures`` are scans of the access log and the erasure register
        already made (made here if needed)."""
        problems = []
        for number, item in enumerate(exported, start=1):
            try:
                kept = Digest.from_dict(item)
            except ValueError as exc:
                problems.append(f"kept digest {number}: unreadable: {exc}")
                continue
            if not hmac.compare_digest(self.sign(kept), kept.signature):
                problems.append(
                    f"{kept.day}: the kept digest's signature does not verify "
                    "(wrong key, or the kept copy was edited)"
                )
                continue
            day = date.fromisoformat(kept.day)
            try:
                now = self.compute(day, format=kept.format)
            except ValueError as exc:  # a value no append writes (a hash that is not hex)
                problems.append(
                    f"{day}: the event log no longer matches the kept digest "
                    f"(unreadable index values: {exc})"
                )
                continue
            if (now.events, now.first_position, now.last_position, now.merkle_root) != (
                kept.events,
                kept.first_position,
                kept.last_position,
                kept.merkle_root,
            ):
                problems.append(
                    f"{day}: the event log no longer matches the kept digest "
                    f"({kept.events} events then, {now.events} now"
                    + (
                        ", same count: altered, reordered or moved)"
                        if now.events == kept.events
                        else ")"
                    )
                )
            if kept.format >= 2:
                access_log = access_log or self.access_log.scan()
                head = access_log.head_at_end_of(day)
                if (head.seq, head.hash) != (kept.access_log_seq, kept.access_log_hash):
                    problems.append(
                        f"{day}: the access log no longer matches the kept digest (it ended at "
                        f"entry {kept.access_log_seq} then; now at entry {head.seq}"
                        + (
                            ", whose hash differs: entries up to it were altered)"
                            if head.seq == kept.access_log_seq
                            else ")"
                        )
                    )
            if kept.format >= 3:
                erasures = erasures or self.erasures.scan()
                head = erasures.head_at_end_of(day)
                if (head.seq, head.hash) != (kept.erasure_seq, kept.erasure_hash):
                    problems.append(
                        f"{day}: the erasure register no longer matches the kept digest (it "
                        f"ended at entry {kept.erasure_seq} then; now at entry {head.seq}"
                        + (
                            ", whose hash differs: entries up to it were altered)"
                            if head.seq == kept.erasure_seq
                            else ")"
                        )
                    )
        return problems


def _kept(tx: Tx, day: str | None = None) -> list[Digest]:
    """The kept digests (of one day, or all), in day order."""
    rows = tx.execute(tx.sql.DIGEST_OF_DAY, [day]) if day else tx.execute(tx.sql.DIGESTS_KEPT)
    return [
        Digest(
            str(r[0]),
            int(r[1]),
            _opt_int(r[2]),
            _opt_int(r[3]),
            str(r[4]),
            str(r[5]),
            int(r[6]),
            _opt_int(r[7]),
            None if r[8] is None else str(r[8]),
            _opt_int(r[9]),
            None if r[10] is None else str(r[10]),
        )
        for r in rows
    ]


def export_lines(digests: list[Digest]) -> str:
    return "".join(json.dumps(d.to_dict(), sort_keys=True) + "\n" for d in digests)
