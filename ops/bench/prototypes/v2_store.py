"""The stored form v2 on PostgreSQL, measured against today's store and the issue-12 baselines
in one run (ADR 0009).

    .venv/bin/python ops/bench/prototypes/v2_store.py FILE.jsonl [--large FILE4x.jsonl]
        [--factor 4] [--workers 1,2] [--repeat 2] [--migrate] [--skip-v1]

For each file (the 1× demo and, with --large, the larger one), in throwaway databases on the
server of ops/bench/common.py (dropped afterwards):

1. today's form: ``timeline import`` (wall clock, peak RSS); at 1× also ``timeline rebuild
   obligations`` + ``outcomes`` and the bytes per event of every table and index; the issue's
   baselines on the same store, run by ops/bench/scale.py as its scale figures run them: a raw
   ``COPY`` of the file into ``(doc jsonb)`` with a unique index on ``doc->>'event_id'``, and a
   bare named-cursor read of the events table with ``json.loads``; with --migrate, the v1 → v2
   migration of that store and a full verify of the result;
2. the v2 form: the import prototype (``import-v2``: streaming validation with compact state
   per seeker into a spool of binary COPY rows, then one transaction per chunk under the
   table lock), validating with ``parse_event`` and then with the msgspec fast path
   (``--fast``); at 1× the bytes per event of every table and index; a bare read of the log
   and the log read in position order decoded into facts (what an incremental catch-up
   reads); the rebuild prototype (``rebuild-v2``: N processes, each one REPEATABLE READ range
   scan of its buckets in key order, rows decoded straight into facts, obligations and outcome
   contributions evaluated and written with COPY).

Each timed step is a fresh child process started after a CHECKPOINT (its wall clock includes
its start-up, as the real commands' do); --repeat repeats the timed steps and every rate is
reported as the range seen, every ratio as the ratio of the medians. Needs msgspec, orjson,
zstandard, cryptography, rfc8785 and numpy (the ``bench`` extra). Each subcommand also runs
alone (``v2_store.py SUBCOMMAND --help``)."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast
from uuid import UUID

import numpy as np
import orjson
import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import v2_codec as v2
from common import admin, db_url, scratch_database
from scale import baseline, checkpoint, run_measured
from v2_validate import parse as fast_parse

from projections.obligations.tables import item_row as _item_row
from projections.outcomes.seeker import contributions
from projections.outcomes.settings import OutcomeSettings
from timeline.domain.calendar import MONDAY_TO_FRIDAY
from timeline.domain.errors import FieldError, InvalidEvent
from timeline.domain.facts import Fact, Spell, effective_facts, spells
from timeline.domain.identity import person_ref
from timeline.domain.rules import evaluate
from timeline.domain.timeline import check_event, event_content
from timeline.rulesets import default_rulesets
from timeline.settings import DEV_PERSON_KEY
from timeline.vocabulary import EventValidationError, ParsedEvent, parse_event

MIB = 1024 * 1024
#: the development key of the settings, so digests can be compared with `timeline import`'s
PERSON_KEY = DEV_PERSON_KEY.encode("utf-8")
MASTER_KEY = hashlib.sha256(b"bench master key (never a real one)").digest()
CHUNK = 20_000  # events per write transaction
LOOKUP = 5_000  # lines per store look-up (ids already stored, state of seekers met first)
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PG_EPOCH_DAY = date(2000, 1, 1).toordinal()

# -- the v2 tables -----------------------------------------------------------------------------

LOG = "timeline_log"
LOG_COLUMNS = (
    "recorded_at",
    "originator_id",
    "event_id",
    "originator_version",
    "origin",
    "occurred_on",
    "type",
    "bucket",
    "digest",
    "hash",
    "clear",
    "personal",
)
DDL = (
    "CREATE SEQUENCE timeline_log_position AS bigint",
    # fixed-width columns first, widest first (no alignment padding); bytea last
    "CREATE TABLE timeline_log ("
    "notification_id bigint NOT NULL DEFAULT nextval('timeline_log_position'), "
    "recorded_at timestamptz NOT NULL, "
    "originator_id uuid NOT NULL, "
    "event_id uuid NOT NULL, "
    "originator_version integer NOT NULL, "
    "origin integer NOT NULL, "
    "occurred_on date NOT NULL, "
    "type smallint NOT NULL, "
    "bucket smallint NOT NULL, "
    "digest bytea NOT NULL, "
    "hash bytea NOT NULL, "
    "clear bytea NOT NULL, "
    "personal bytea, "
    "PRIMARY KEY (bucket, originator_id, originator_version))",
    "ALTER SEQUENCE timeline_log_position OWNED BY timeline_log.notification_id",
    "CREATE UNIQUE INDEX timeline_log_position_key ON timeline_log (notification_id)",
    "CREATE UNIQUE INDEX timeline_log_event_key ON timeline_log (event_id)",
    "CREATE INDEX timeline_log_recorded ON timeline_log USING brin (recorded_at)",
    "CREATE TABLE timeline_origins (id integer PRIMARY KEY, actor_id text NOT NULL, "
    "role text NOT NULL, organisation text NOT NULL, source text, "
    "UNIQUE NULLS NOT DISTINCT (actor_id, role, organisation, source))",
    "CREATE TABLE timeline_persons (person_ref bytea NOT NULL, seeker_id uuid NOT NULL, "
    "PRIMARY KEY (person_ref, seeker_id))",
    "CREATE TABLE timeline_seeker_keys (seeker_id uuid PRIMARY KEY, "
    "key_version smallint NOT NULL, wrapped bytea, erased_at timestamptz)",
)
# what the rebuild prototype writes (the shapes of obligations_items and
# outcomes_work_contributions, with their indexes)
OUTPUT_DDL = (
    "DROP TABLE IF EXISTS v2_obligations_items, v2_contributions",
    "CREATE TABLE v2_obligations_items (seeker_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "kind TEXT NOT NULL, ruleset TEXT NOT NULL, rule TEXT NOT NULL, status TEXT NOT NULL, "
    "due_on TEXT, period_start TEXT, period_end TEXT, met_on TEXT, days_late INTEGER, "
    "required INTEGER, counted INTEGER, basis_event_ids TEXT NOT NULL, confidence TEXT NOT NULL, "
    "assumptions TEXT NOT NULL, consequence TEXT, PRIMARY KEY (seeker_id, seq))",
    "CREATE INDEX ON v2_obligations_items (due_on)",
    "CREATE TABLE v2_contributions (seeker_id TEXT NOT NULL, month TEXT NOT NULL, "
    "municipality TEXT NOT NULL, item TEXT NOT NULL, value DOUBLE PRECISION)",
    "CREATE INDEX ON v2_contributions (seeker_id)",
    "CREATE INDEX ON v2_contributions (month)",
)

# -- binary COPY rows -------------------------------------------------------------------------

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_FIXED = struct.Struct(">hiqi16si16siiiiiiihih")  # 12 fields: lengths and the fixed values


def copy_row(
    recorded_us: int,
    seeker: bytes,
    event: bytes,
    version: int,
    origin: int,
    day: int,
    type_: int,
    bucket: int,
    digest: bytes,
    hash_: bytes,
    clear: bytes,
    personal: bytes | None,
) -> bytes:
    """One row of ``timeline_log`` (LOG_COLUMNS) in PostgreSQL's binary COPY format."""
    head = _FIXED.pack(
        12,
        8,
        recorded_us,
        16,
        seeker,
        16,
        event,
        4,
        version,
        4,
        origin,
        4,
        day,
        2,
        type_,
        2,
        bucket,
    )
    tail = [
        struct.pack(">i", 32),
        digest,
        struct.pack(">i", 32),
        hash_,
        struct.pack(">i", len(clear)),
        clear,
    ]
    if personal is None:
        tail.append(struct.pack(">i", -1))
    else:
        tail += [struct.pack(">i", len(personal)), personal]
    return head + b"".join(tail)


# -- per-seeker keys -----------------------------------------------------------------------------


def wrap(key: bytes, seeker: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(MASTER_KEY).encrypt(nonce, key, seeker)


# -- the import prototype --------------------------------------------------------------------

_BOUND_INPUTS = frozenset({"job_search_started", "job_search_ended", "correction", "retraction"})
#: what check_event reads of a kept fact (the rest of its data is not kept)
_KEPT_FIELDS = frozenset(
    {"reason", "service_id", "corrects_event_id", "retracts_event_id", "replacement"}
)
_SPELL_OR_SERVICE = frozenset(
    {
        "job_search_started",
        "job_search_ended",
        "service_referred",
        "service_started",
        "service_ended",
        "correction",
        "retraction",
    }
)


@dataclass(slots=True)
class SeekerState:
    """What validating a seeker's next event needs: never its events. ``kept``: its spell
    bounds, service events and amendments as facts (a handful); ``ids``: its event ids, 16
    bytes each (for the references of corrections, retractions and decisions)."""

    seeker: bytes
    version: int
    head: bytes
    key: bytes
    new: bool
    bucket: int = 0
    kept: list[Fact] = field(default_factory=list)
    ids: bytearray = field(default_factory=bytearray)
    spells: list[Spell] | None = None  # of the kept facts, until they change
    aead: AESGCM | None = None

    def __post_init__(self) -> None:
        self.bucket = v2.bucket(UUID(bytes=self.seeker))

    def open_spells(self) -> list[Spell]:
        if self.spells is None:
            self.spells = spells(effective_facts(f for f in self.kept if f.type in _BOUND_INPUTS))
        return self.spells

    def seal(self, plain: bytes, event: bytes, version: int) -> bytes:
        """``0x01`` key_version nonce AES-256-GCM(plain)+tag, bound to the row by its AAD."""
        if self.aead is None:
            self.aead = AESGCM(self.key)
        nonce = os.urandom(12)
        aad = self.seeker + event + struct.pack(">i", version)
        return b"\x01\x01" + nonce + self.aead.encrypt(nonce, plain, aad)

    def has(self, event: bytes) -> bool:
        at = self.ids.find(event)
        while at != -1 and at % 16:
            at = self.ids.find(event, at + 1)
        return at != -1


@dataclass
class ImportResult:
    events: int
    seekers: int
    parse_s: float
    decide_s: float
    encode_s: float
    write_s: float
    state_bytes: int


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from enumerate(f, start=1)


def _blocks(path: Path, size: int) -> Iterator[list[tuple[int, bytes]]]:
    block: list[tuple[int, bytes]] = []
    for item in _lines(path):
        block.append(item)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def import_v2(url: str, path: Path, *, chunk: int = CHUNK, fast: bool = False) -> ImportResult:  # noqa: PLR0912, PLR0915
    """Validate the whole file (nothing written but origins), then write it chunk by chunk."""
    now = datetime.now(UTC)
    recorded = now.isoformat(timespec="microseconds")
    recorded_us = (now - PG_EPOCH) // timedelta(microseconds=1)
    limit_day = now.date()
    states: dict[str, SeekerState] = {}
    origins: dict[tuple[str, str, str, str | None], int] = {}
    all_ids = bytearray()
    persons: set[tuple[bytes, bytes]] = set()
    problems: list[str] = []
    parse_s = decide_s = encode_s = 0.0
    n = 0
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed at the end of the write pass
    bounds: list[int] = []  # spool offsets of the chunk starts
    with psycopg.connect(url, autocommit=True) as conn:
        for r in conn.execute(
            "SELECT id, actor_id, role, organisation, source FROM timeline_origins"
        ):
            origins[(r[1], r[2], r[3], r[4])] = int(r[0])
        for block in _blocks(path, LOOKUP):
            t0 = time.perf_counter()
            parsed: list[tuple[int, ParsedEvent]] = []
            for number, line in block:
                try:
                    if fast:  # msgspec, parse_event for what it does not vouch for
                        parsed.append((number, fast_parse(line)))
                    else:
                        raw = orjson.loads(line)
                        parsed.append((number, parse_event(raw, allow_test_identity_codes=True)))
                except EventValidationError as exc:
                    problems += [f"line {number}: {e.loc}: {e.msg}" for e in exc.errors]
                except orjson.JSONDecodeError as exc:
                    problems.append(f"line {number}: not JSON: {exc}")
            t1 = time.perf_counter()
            parse_s += t1 - t0
            _load_states(conn, states, [p for _, p in parsed])
            stored = _stored_ids(conn, [p.event_id for _, p in parsed])
            _add_origins(conn, origins, [p for _, p in parsed])
            t2 = time.perf_counter()
            decide_s += t2 - t1
            for number, p in parsed:
                if p.event_id in stored:
                    continue  # a rerun: already written (the same content is checked in prod)
                ta = time.perf_counter()
                event = UUID(p.event_id).bytes
                state = states.get(p.seeker_id)
                data = dict(p.data)
                ref = None
                if p.personal_identity_code is not None:
                    ref = person_ref(p.personal_identity_code, PERSON_KEY)
                    data["person_ref"] = ref
                try:
                    state = _decide(state, p, data, limit_day, states)
                except InvalidEvent as exc:
                    problems += [f"line {number}: {e.loc}: {e.msg}" for e in exc.errors]
                    continue
                tb = time.perf_counter()
                decide_s += tb - ta
                content = event_content(
                    p.event_id,
                    p.seeker_id,
                    p.type,
                    p.occurred_at,
                    p.occurred_on,
                    p.actor,
                    p.source,
                    data,
                )
                digest = v2.digest(content)
                state.version += 1
                state.head = v2.chain(state.head, digest, p.seeker_id, state.version, recorded)
                state.ids += event
                all_ids.extend(event)
                parts = v2.encode(content, alg=v2.ALG_JCS, interned=True)
                personal = parts.personal
                if personal is not None:
                    personal = state.seal(personal[1:], event, state.version)
                if ref is not None:
                    persons.add((bytes.fromhex(ref), state.seeker))
                if n % chunk == 0:
                    bounds.append(spool.tell())
                a = p.actor
                spool.write(
                    copy_row(
                        recorded_us,
                        state.seeker,
                        event,
                        state.version,
                        origins[(a["id"], a["role"], a["organisation"], p.source)],
                        date.fromisoformat(p.occurred_on).toordinal() - PG_EPOCH_DAY,
                        v2.TYPE_CODES[p.type],
                        state.bucket,
                        digest,
                        state.head,
                        parts.clear,
                        personal,
                    )
                )
                n += 1
                encode_s += time.perf_counter() - tb
        duplicates = _duplicates(all_ids)
        if duplicates:
            problems.append(f"{duplicates} event ids repeated in the file (prototype: refused)")
        if problems:
            for p_ in problems[:20]:
                print(p_, file=sys.stderr)
            sys.exit(f"refused: {len(problems)} problem(s); nothing was written")
        state_bytes = sum(
            sys.getsizeof(s) + sys.getsizeof(s.ids) + sys.getsizeof(s.kept) for s in states.values()
        )
        t_write = time.perf_counter()
        _write(conn, spool, bounds, states, persons)
        write_s = time.perf_counter() - t_write
    spool.close()
    return ImportResult(n, len(states), parse_s, decide_s, encode_s, write_s, state_bytes)


def _decide(  # noqa: PLR0912 - the rules, one branch each
    state: SeekerState | None,
    p: ParsedEvent,
    data: dict[str, Any],
    limit_day: date,
    states: dict[str, SeekerState],
) -> SeekerState:
    """The timeline rules of check_event on the compact state (raises InvalidEvent)."""
    if (p.occurred_at is not None and datetime.fromisoformat(p.occurred_at).date() > limit_day) or (
        p.occurred_at is None and date.fromisoformat(p.occurred_on) > limit_day
    ):
        raise InvalidEvent([_error("occurred_on", "is in the future")])
    if state is None:
        if p.type != "job_search_started":
            raise InvalidEvent(
                [
                    _error(
                        "type",
                        "this seeker has no timeline yet: the first event must be "
                        "job_search_started",
                    )
                ]
            )
        state = SeekerState(UUID(p.seeker_id).bytes, 0, bytes(32), os.urandom(32), new=True)
        states[p.seeker_id] = state
    day = date.fromisoformat(p.occurred_on)
    if p.type not in _SPELL_OR_SERVICE and p.type != "decision_recorded":
        # check_event's only rule for every other type: a spell is open on that day
        if not any(sp.covers(day) for sp in state.open_spells()):
            raise InvalidEvent(
                [
                    _error(
                        "occurred_on",
                        "no job-search spell is open on that day; only "
                        "job_search_started may open one",
                    )
                ]
            )
        return state
    refs: list[str] = []
    if p.type == "decision_recorded":
        refs = [str(i) for i in data["basis_event_ids"]]
    elif p.type == "correction":
        refs = [str(data["corrects_event_id"])]
    elif p.type == "retraction":
        refs = [str(data["retracts_event_id"])]
    kept_ids = {f.event_id for f in state.kept}
    if all(r in kept_ids for r in refs):
        check_event(state.kept, p.type, day, data)
    else:
        # A reference outside the kept facts names an event that is neither a spell bound, a
        # service event nor an amendment (those are all kept): it must be this seeker's; the
        # rest of check_event's rules only need the kept facts.
        loc = "data.basis_event_ids" if p.type == "decision_recorded" else "data"
        for r in refs:
            if r not in kept_ids and not state.has(UUID(r).bytes):
                raise InvalidEvent([_error(loc, f"names no event of this seeker: {r}")])
        if p.type == "decision_recorded":
            check_event(state.kept, "contact_made", day, {})  # a spell is open that day
        else:
            target = refs[0]
            if any(
                f.type == "retraction" and f.data["retracts_event_id"] == target for f in state.kept
            ):
                raise InvalidEvent([_error(loc, "that event is already retracted")])
            rep = data.get("replacement")
            if rep is not None and rep["type"] in ("job_search_started", "job_search_ended"):
                raise InvalidEvent(
                    [_error("data.replacement.type", "only a spell bound is corrected by one")]
                )
    if p.type in _SPELL_OR_SERVICE:
        state.spells = None
        state.kept.append(
            Fact(
                event_id=p.event_id,
                seeker_id=p.seeker_id,
                type=p.type,
                occurred_on=day,
                recorded_at=PG_EPOCH,
                version=state.version + 1,
                data={k: v for k, v in data.items() if k in _KEPT_FIELDS},
            )
        )
    return state


def _error(loc: str, msg: str) -> FieldError:
    return FieldError(loc, msg, "timeline_rule")


def _load_states(
    conn: psycopg.Connection[Any], states: dict[str, SeekerState], parsed: Sequence[ParsedEvent]
) -> None:
    """The compact state of the seekers of a block met for the first time, from the store:
    version and chain head, kept facts (decoded from the clear part), ids, key."""
    first = [UUID(t) for t in dict.fromkeys(p.seeker_id for p in parsed) if t not in states]
    if not first:
        return
    rows = conn.execute(
        "SELECT originator_id, originator_version, event_id, type, occurred_on, hash, clear "
        "FROM timeline_log WHERE bucket = ANY(%s) AND originator_id = ANY(%s) "
        "ORDER BY originator_id, originator_version",
        [sorted({v2.bucket(s) for s in first}), first],
    ).fetchall()
    for r in rows:
        seeker = str(r[0])
        state = states.get(seeker)
        if state is None:
            state = states[seeker] = SeekerState(r[0].bytes, 0, bytes(32), b"", new=False)
        state.version = r[1]
        state.head = bytes(r[5])
        state.ids += r[2].bytes
        type_ = v2.TYPE_NAMES[r[3]]
        if type_ in _SPELL_OR_SERVICE:  # the clear part is all the rules need
            _, data = v2.clear_facts_data(type_, bytes(r[6]))
            state.kept.append(Fact(str(r[2]), seeker, type_, r[4], PG_EPOCH, r[1], data))
    missing = [UUID(t) for t in (str(u) for u in first) if t in states and not states[t].key]
    for seeker_id, wrapped in conn.execute(
        "SELECT seeker_id, wrapped FROM timeline_seeker_keys WHERE seeker_id = ANY(%s)",
        [missing],
    ):
        w = bytes(wrapped)
        key = AESGCM(MASTER_KEY).decrypt(w[:12], w[12:], seeker_id.bytes)
        states[str(seeker_id)].key = key


def _stored_ids(conn: psycopg.Connection[Any], ids: Sequence[str]) -> set[str]:
    rows = conn.execute(
        "SELECT event_id::text FROM timeline_log WHERE event_id = ANY(%s::uuid[])", [list(ids)]
    ).fetchall()
    return {r[0] for r in rows}


def _add_origins(
    conn: psycopg.Connection[Any],
    origins: dict[tuple[str, str, str, str | None], int],
    parsed: Sequence[ParsedEvent],
) -> None:
    """Origins are a dictionary, not events: new ones are added as they are met (idempotent)."""
    new = {
        (p.actor["id"], p.actor["role"], p.actor["organisation"], p.source)
        for p in parsed
        if (p.actor["id"], p.actor["role"], p.actor["organisation"], p.source) not in origins
    }
    for key in sorted(new, key=str):
        origins[key] = _add_origin(conn, key)


def _duplicates(ids: bytearray) -> int:
    if not ids:
        return 0
    # sorted in place (16 bytes an event, no copy), then neighbours compared
    a = np.frombuffer(ids, dtype=np.dtype([("hi", ">u8"), ("lo", ">u8")]))
    a.sort(kind="stable")
    found = int(np.count_nonzero(a[1:] == a[:-1]))
    del a
    return found


def _write(
    conn: psycopg.Connection[Any],
    spool: IO[bytes],
    bounds: list[int],
    states: dict[str, SeekerState],
    persons: set[tuple[bytes, bytes]],
) -> None:
    """Keys and persons first, then each chunk in its own transaction under the table lock
    (as the library's insert: lock_timeout, EXCLUSIVE lock, NOTIFY), COPY in binary."""
    end = spool.seek(0, os.SEEK_END)
    starts = [*bounds, end]
    columns = sql.SQL(",").join(sql.Identifier(c) for c in LOG_COLUMNS)
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(
            "COPY timeline_seeker_keys (seeker_id, key_version, wrapped) FROM STDIN"
        ) as copy:
            for s in states.values():
                if s.new:
                    copy.write_row((UUID(bytes=s.seeker), 1, wrap(s.key, s.seeker)))
        cur.executemany(  # (a new spell of a known person: already there)
            "INSERT INTO timeline_persons (person_ref, seeker_id) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING",
            [(ref, UUID(bytes=seeker)) for ref, seeker in persons],
        )
    for lo, hi in itertools.pairwise(starts):
        spool.seek(lo)
        body = spool.read(hi - lo)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = '5s'")
            cur.execute("LOCK TABLE timeline_log IN EXCLUSIVE MODE")
            cur.execute("NOTIFY timeline_log")
            with cur.copy(
                sql.SQL("COPY timeline_log ({}) FROM STDIN (FORMAT BINARY)").format(columns)
            ) as copy:
                copy.write(COPY_HEADER)
                copy.write(body)
                copy.write(COPY_TRAILER)


# -- the rebuild prototype ---------------------------------------------------------------------


@dataclass
class RebuildResult:
    events: int
    seekers: int
    read_s: float
    eval_obligations_s: float
    eval_outcomes_s: float
    write_s: float


def rebuild_partition(url: str, k: int, n: int, *, evaluate_rules: bool = True) -> RebuildResult:  # noqa: PLR0915
    """Partition k of n: one REPEATABLE READ snapshot (a prefix of the log: inserts commit in
    position order under the table lock), one range scan of its buckets in key order, each
    seeker's clear facts evaluated once, the rows written with COPY (another connection)."""
    rulesets = default_rulesets()
    settings = OutcomeSettings()
    lo, hi = k * 4096 // n, (k + 1) * 4096 // n
    ob_s = oc_s = write_s = 0.0
    events = seekers = 0
    items: list[tuple[Any, ...]] = []
    contribs: list[tuple[Any, ...]] = []

    def evaluate_one(facts: list[Fact]) -> None:
        nonlocal ob_s, oc_s, seekers
        seekers += 1
        if not evaluate_rules:
            return
        t0 = time.perf_counter()
        sid = facts[0].seeker_id
        for i, o in enumerate(evaluate(facts, on, rulesets, MONDAY_TO_FRIDAY)):
            items.append(_item_row(sid, i, o))
        t1 = time.perf_counter()
        for c in contributions(facts, horizon, settings, rulesets, MONDAY_TO_FRIDAY):
            contribs.append((sid, c.month, c.municipality, c.item, c.value))
        t2 = time.perf_counter()
        ob_s += t1 - t0
        oc_s += t2 - t1

    def flush(out: psycopg.Connection[Any]) -> None:
        nonlocal write_s
        t0 = time.perf_counter()
        with out.cursor() as cur:
            with cur.copy("COPY v2_obligations_items FROM STDIN") as copy:
                for item in items:
                    copy.write_row(item)
            with cur.copy("COPY v2_contributions FROM STDIN") as copy:
                for c in contribs:
                    copy.write_row(c)
        items.clear()
        contribs.clear()
        write_s += time.perf_counter() - t0

    start = time.perf_counter()
    with psycopg.connect(url) as conn, psycopg.connect(url) as out:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cur:
            row = cur.execute("SELECT max(recorded_at) FROM timeline_log").fetchone()
            assert row is not None
            assert row[0] is not None
            on = row[0].date()  # the evaluation day: the log's last recorded day
            horizon = on.isoformat()[:7]
        with conn.cursor(name=f"rebuild_{k}") as cur:
            cur.itersize = 10_000
            cur.execute(
                "SELECT originator_id, originator_version, notification_id, event_id, type, "
                "occurred_on, recorded_at, clear FROM timeline_log "
                "WHERE bucket >= %s AND bucket < %s "
                "ORDER BY bucket, originator_id, originator_version",
                [lo, hi],
                binary=True,
            )
            current: UUID | None = None
            seeker_text = ""
            facts: list[Fact] = []
            for r in cur:
                if r[0] != current:
                    if facts:
                        evaluate_one(facts)
                        if len(items) + len(contribs) > 50_000:
                            flush(out)
                    current = r[0]
                    seeker_text = str(current)
                    facts = []
                type_ = v2.TYPE_NAMES[r[4]]
                occurred_at, data = v2.clear_facts_data(type_, r[7])
                facts.append(
                    Fact(
                        event_id=str(r[3]),
                        seeker_id=seeker_text,
                        type=type_,
                        occurred_on=r[5],
                        recorded_at=r[6],
                        version=r[1],
                        data=data,
                        occurred_at=v2.occurred_at_value(occurred_at),
                        position=r[2],
                    )
                )
                events += 1
            if facts:
                evaluate_one(facts)
        conn.commit()
        flush(out)
        out.commit()
    total = time.perf_counter() - start
    return RebuildResult(events, seekers, total - ob_s - oc_s - write_s, ob_s, oc_s, write_s)


def read_log_facts(url: str) -> int:
    """The whole log in position order through a named cursor, decoded into facts (what an
    incremental catch-up reads: notifications straight into facts, no domain events)."""
    n = 0
    with psycopg.connect(url) as conn, conn.cursor(name="log_facts") as cur:
        cur.itersize = 10_000
        cur.execute(
            "SELECT originator_id, originator_version, notification_id, event_id, type, "
            "occurred_on, recorded_at, clear FROM timeline_log ORDER BY notification_id"
        )
        for r in cur:
            type_ = v2.TYPE_NAMES[r[4]]
            occurred_at, data = v2.clear_facts_data(type_, r[7])
            Fact(
                event_id=str(r[3]),
                seeker_id=str(r[0]),
                type=type_,
                occurred_on=r[5],
                recorded_at=r[6],
                version=r[1],
                data=data,
                occurred_at=v2.occurred_at_value(occurred_at),
                position=r[2],
            )
            n += 1
    return n


def migrate_v1(url_v1: str, url_v2: str, *, chunk: int = CHUNK) -> dict[str, float]:  # noqa: PLR0915
    """The v1 → v2 migration's inner loop: today's events with their index rows in position
    order, re-encoded into v2 rows that keep the position, version, recorded time, digest
    (algorithm 1) and chain hash exactly, personal parts sealed with a new key per seeker,
    written chunk by chunk (explicit positions; the sequence is set at the end). Resumable:
    it starts after the highest position already in the v2 log."""
    columns = sql.SQL(",").join(sql.Identifier(c) for c in ("notification_id", *LOG_COLUMNS))
    keys: dict[str, SeekerState] = {}
    origins: dict[tuple[str, str, str, str | None], int] = {}
    read_s = encode_s = write_s = 0.0
    n = 0
    with psycopg.connect(url_v1) as src, psycopg.connect(url_v2, autocommit=True) as dst:
        row = dst.execute("SELECT coalesce(max(notification_id), 0) FROM timeline_log").fetchone()
        assert row is not None
        after = int(row[0])
        for r in dst.execute("SELECT seeker_id, wrapped FROM timeline_seeker_keys"):
            w = bytes(r[1])
            key = AESGCM(MASTER_KEY).decrypt(w[:12], w[12:], r[0].bytes)
            keys[str(r[0])] = SeekerState(r[0].bytes, 0, b"", key, new=False)
        for r in dst.execute(
            "SELECT id, actor_id, role, organisation, source FROM timeline_origins"
        ):
            origins[(r[1], r[2], r[3], r[4])] = int(r[0])
        with src.cursor(name="migrate") as cur:
            cur.itersize = chunk
            cur.execute(
                "SELECT i.position, i.recorded_at, i.seeker_id, i.event_id, i.version, i.type, "
                "i.occurred_on, i.digest, i.hash, i.person_ref, e.state "
                "FROM timeline_event_index i JOIN timeline_events e "
                "ON e.originator_id = i.seeker_id AND e.originator_version = i.version "
                "WHERE i.position > %s ORDER BY i.position",
                [after],
                binary=True,
            )
            t = time.perf_counter()
            while rows := cur.fetchmany(chunk):
                t1 = time.perf_counter()
                read_s += t1 - t
                body: list[bytes] = []
                new_keys: list[SeekerState] = []
                persons: list[tuple[bytes, UUID]] = []
                for pos, recorded, seeker, event, version, type_, day, dig, hsh, ref, state in rows:
                    s = orjson.loads(state)
                    seeker_text = str(seeker)
                    content = event_content(
                        str(event),
                        seeker_text,
                        type_,
                        s["occurred_at"],
                        s["occurred_on"],
                        s["actor"],
                        s["source"],
                        s["data"],
                    )
                    k = keys.get(seeker_text)
                    if k is None:
                        k = keys[seeker_text] = SeekerState(
                            seeker.bytes, 0, b"", os.urandom(32), new=True
                        )
                        new_keys.append(k)
                    a = s["actor"]
                    origin = (a["id"], a["role"], a["organisation"], s["source"])
                    if origin not in origins:
                        origins[origin] = _add_origin(dst, origin)
                    parts = v2.encode(content, alg=v2.ALG_CANONICAL, interned=True)
                    personal = parts.personal
                    if personal is not None:
                        personal = k.seal(personal[1:], event.bytes, version)
                    if ref is not None:
                        persons.append((bytes.fromhex(ref), seeker))
                    body.append(
                        struct.pack(">hiq", 13, 8, pos)
                        + copy_row(
                            (recorded - PG_EPOCH) // timedelta(microseconds=1),
                            seeker.bytes,
                            event.bytes,
                            version,
                            origins[origin],
                            day.toordinal() - PG_EPOCH_DAY,
                            v2.TYPE_CODES[type_],
                            k.bucket,
                            bytes.fromhex(dig),
                            bytes.fromhex(hsh),
                            parts.clear,
                            personal,
                        )[2:]  # (the field count is 13 here)
                    )
                    n += 1
                t2 = time.perf_counter()
                encode_s += t2 - t1
                with dst.transaction(), dst.cursor() as out:
                    out.execute("LOCK TABLE timeline_log IN EXCLUSIVE MODE")
                    with out.copy(
                        "COPY timeline_seeker_keys (seeker_id, key_version, wrapped) FROM STDIN"
                    ) as copy:
                        for k in new_keys:
                            copy.write_row((UUID(bytes=k.seeker), 1, wrap(k.key, k.seeker)))
                    out.executemany(
                        "INSERT INTO timeline_persons VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        persons,
                    )
                    with out.copy(
                        sql.SQL("COPY timeline_log ({}) FROM STDIN (FORMAT BINARY)").format(columns)
                    ) as copy:
                        copy.write(COPY_HEADER)
                        copy.write(b"".join(body))
                        copy.write(COPY_TRAILER)
                    out.execute(
                        "SELECT setval('timeline_log_position', "
                        "(SELECT max(notification_id) FROM timeline_log))"
                    )
                t = time.perf_counter()
                write_s += t - t2
    return {"events": n, "read_s": read_s, "encode_s": encode_s, "write_s": write_s}


def _add_origin(conn: psycopg.Connection[Any], key: tuple[str, str, str, str | None]) -> int:
    conn.execute(
        "INSERT INTO timeline_origins (id, actor_id, role, organisation, source) "
        "SELECT coalesce(max(id), 0) + 1, %s, %s, %s, %s FROM timeline_origins "
        "ON CONFLICT DO NOTHING",
        list(key),
    )
    row = conn.execute(
        "SELECT id FROM timeline_origins WHERE actor_id = %s AND role = %s AND "
        "organisation = %s AND source IS NOT DISTINCT FROM %s",
        list(key),
    ).fetchone()
    assert row is not None
    return int(row[0])


def verify_v2(url: str) -> dict[str, int]:
    """What ``timeline verify`` does over v2: per seeker in key order, unwrap its key, decrypt
    and decode every event back to its content, recompute the digest (JCS) and the chain, and
    compare both with the stored columns. Also counts the events whose personal part the
    AAD binds to another row (there must be none)."""
    origins: dict[int, tuple[str, str, str, str | None]] = {}
    checked = bad_digest = bad_chain = 0
    with psycopg.connect(url) as conn:
        for r in conn.execute(
            "SELECT id, actor_id, role, organisation, source FROM timeline_origins"
        ):
            origins[int(r[0])] = (r[1], r[2], r[3], r[4])
        keys = {
            s.bytes: AESGCM(MASTER_KEY).decrypt(bytes(w)[:12], bytes(w)[12:], s.bytes)
            for s, w in conn.execute("SELECT seeker_id, wrapped FROM timeline_seeker_keys")
        }
        with conn.cursor(name="verify") as cur:
            cur.itersize = 10_000
            cur.execute(
                "SELECT originator_id, originator_version, event_id, type, occurred_on, "
                "recorded_at, origin, digest, hash, clear, personal FROM timeline_log "
                "ORDER BY bucket, originator_id, originator_version",
                binary=True,
            )
            current = None
            head = bytes(32)
            aead: AESGCM | None = None
            for r in cur:
                seeker = r[0].bytes
                if r[0] != current:
                    current, head, aead = r[0], bytes(32), AESGCM(keys[seeker])
                personal = r[10]
                if personal is not None:
                    assert aead is not None
                    aad = seeker + r[2].bytes + struct.pack(">i", r[1])
                    personal = b"\x00" + aead.decrypt(personal[2:14], personal[14:], aad)
                content = v2.decode(
                    event_id=str(r[2]),
                    seeker_id=str(r[0]),
                    type_=v2.TYPE_NAMES[r[3]],
                    occurred_on=r[4].isoformat(),
                    clear=r[9],
                    personal=personal,
                    origin=origins[r[6]],
                )
                digest = v2.digest(content)
                bad_digest += digest != r[7]
                recorded = r[5].astimezone(UTC).isoformat(timespec="microseconds")
                head = v2.chain(head, r[7], str(r[0]), r[1], recorded)
                bad_chain += head != r[8]
                checked += 1
    return {"checked": checked, "bad_digest": bad_digest, "bad_chain": bad_chain}


def bare_read_v2(url: str) -> int:
    """Every row of the v2 log through a named cursor, nothing decoded."""
    n = 0
    with psycopg.connect(url) as conn, conn.cursor(name="bare_v2") as cur:
        cur.itersize = 10_000
        cur.execute("SELECT * FROM timeline_log ORDER BY notification_id")
        for _ in cur:
            n += 1
    return n


# -- sizes ----------------------------------------------------------------------------------------


def sizes(dbname: str, events: int) -> list[tuple[str, float, float, float]]:
    """(relation, total, heap+TOAST, indexes) in bytes per event; after VACUUM ANALYZE."""
    with admin(dbname) as conn:
        conn.execute("VACUUM ANALYZE")
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_table_size(c.oid), "
            "pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 2 DESC"
        ).fetchall()
        idx = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' ORDER BY 2 DESC"
        ).fetchall()
    print(f"    {'relation':<40} {'total':>8} {'heap+toast':>11} {'indexes':>8}  (B/event)")
    out = []
    for row in rows:
        name, total, table, indexes = cast(tuple[str, int, int, int], row)
        out.append((name, total / events, table / events, indexes / events))
        print(
            f"    {name:<40} {total / events:8.1f} {table / events:11.1f} {indexes / events:8.1f}"
        )
    for row in idx:
        index, size = cast(tuple[str, int], row)
        if size / events >= 0.5:
            print(f"      index {index:<36} {size / events:8.1f}")
    return out


# -- the driver --------------------------------------------------------------------------------


def _me(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def _timeline(*args: str) -> list[str]:
    return [sys.executable, "-m", "timeline.cli", *args]


def _count(path: Path) -> tuple[int, float]:
    n = size = 0
    with path.open("rb") as f:
        for line in f:
            n += 1
            size += len(line.rstrip(b"\n"))
    return n, size / n


@dataclass
class Figures:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, what: str, ours: str, base: str, ratio: float | None) -> None:
        r = "" if ratio is None else f"{ratio:.2f}"
        self.rows.append((what, ours, base, r))
        print(f"  {what:<58} {ours:<24} {base:<28} {r}")
        sys.stdout.flush()


def _range(values: Sequence[float], fmt: str = ",.0f") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def _fresh(dbname: str, *statements: str) -> None:
    with admin(dbname) as c:
        c.execute("DROP SCHEMA public CASCADE")
        c.execute("CREATE SCHEMA public")
        for statement in statements:
            c.execute(statement)


@dataclass
class Size:
    """The figures of one demo size."""

    events: int
    line: float
    copy: list[float] = field(default_factory=list)  # raw COPY ev/s
    read: list[float] = field(default_factory=list)  # bare cursor read of today's store ev/s
    v1_import: list[float] = field(default_factory=list)
    v1_rss: list[float] = field(default_factory=list)
    v1_rebuild: list[float] = field(default_factory=list)
    v2_import: list[float] = field(default_factory=list)
    v2_rss: list[float] = field(default_factory=list)
    v2_fast: list[float] = field(default_factory=list)
    v2_fast_rss: list[float] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    rebuild: dict[int, list[float]] = field(default_factory=dict)
    rebuild_detail: dict[int, list[str]] = field(default_factory=dict)
    bare2: list[float] = field(default_factory=list)
    facts2: list[float] = field(default_factory=list)
    v1_sizes: list[tuple[str, float, float, float]] = field(default_factory=list)
    v2_sizes: list[tuple[str, float, float, float]] = field(default_factory=list)
    out_sizes: list[tuple[str, float, float, float]] = field(default_factory=list)


def measure_v1(path: Path, size: Size, args: argparse.Namespace, *, rebuild: bool) -> None:
    """Today's store: `timeline import`, the rebuilds, the two baselines, the sizes."""
    with scratch_database("i12v1") as db:
        url = db_url(db)
        for i in range(args.repeat):
            if i:
                _fresh(db)
            checkpoint()
            done = run_measured(_timeline("import", str(path), "--db", url, "--quiet"))
            size.v1_import.append(size.events / done.seconds)
            size.v1_rss.append(done.peak_rss_mib)
            print(f"    `timeline import`: {done.seconds:.1f} s, {done.peak_rss_mib:,.0f} MiB")
        for i in range(args.repeat if rebuild else 0):
            total = 0.0
            for projection in ("obligations", "outcomes"):
                checkpoint()
                cmd = _timeline("rebuild", projection, "--db", url, "--quiet")
                total += run_measured(cmd).seconds
            size.v1_rebuild.append(size.events / total)
            print(f"    `timeline rebuild obligations` + `outcomes`: {total:.1f} s")
            if i == 0:
                # sizes after one import and one rebuild of each (as the issue took them): a
                # later online rebuild replaces the rows and leaves the old ones dead
                print("  today's store, bytes per event:")
                size.v1_sizes = sizes(db, size.events)
        for _ in range(args.repeat):
            checkpoint()
            copied, _ = baseline("copy", "--url", url, "--file", str(path))
            size.copy.append(size.events / copied.seconds)
            with admin(db) as c:
                c.execute("DROP TABLE scale_baseline_copy")
            checkpoint()
            read, _ = baseline("read", "--url", url, "--events-table", "timeline_events")
            size.read.append(size.events / read.seconds)
        if args.migrate and rebuild:
            with scratch_database("i12mig") as mig:
                _fresh(mig, *DDL)
                checkpoint()
                migrated = run_measured(_me("migrate-v1", url, db_url(mig)))
                verified = run_measured(_me("verify-v2", db_url(mig)))
                rate = size.events / migrated.seconds
                print(
                    f"    migrate-v1: {migrated.seconds:.1f} s ({rate:,.0f} ev/s) "
                    f"{migrated.stdout.strip()}; verify-v2: {verified.seconds:.1f} s "
                    f"({size.events / verified.seconds:,.0f} ev/s) {verified.stdout.strip()}"
                )


def measure_v2(path: Path, size: Size, args: argparse.Namespace, *, sized: bool) -> None:
    """The v2 prototypes: import (pydantic, then the fast path), sizes, reads, rebuilds."""
    with scratch_database("i12v2") as db:
        url = db_url(db)
        for _ in range(args.repeat):
            for fast in (False, True):
                _fresh(db, *DDL)
                checkpoint()
                done = run_measured(_me("import-v2", url, str(path), *(["--fast"] if fast else [])))
                (size.v2_fast if fast else size.v2_import).append(size.events / done.seconds)
                (size.v2_fast_rss if fast else size.v2_rss).append(done.peak_rss_mib)
                r = ImportResult(**json.loads(done.stdout.strip().splitlines()[-1]))
                stages = (
                    f"{'fast' if fast else 'pydantic'}: parse {r.parse_s:.1f} / decide "
                    f"{r.decide_s:.1f} / digest+encode+seal {r.encode_s:.1f} / COPY "
                    f"{r.write_s:.1f} s; state {r.state_bytes / r.seekers:,.0f} B a seeker"
                )
                size.stages.append(stages)
                print(
                    f"    import-v2 {done.seconds:.1f} s, {done.peak_rss_mib:,.0f} MiB ({stages})"
                )
        if sized:
            print("  v2 store, bytes per event:")
            size.v2_sizes = sizes(db, size.events)
        for _ in range(args.repeat):
            checkpoint()
            size.bare2.append(size.events / run_measured(_me("read-v2", url, "--bare")).seconds)
            checkpoint()
            size.facts2.append(size.events / run_measured(_me("read-v2", url)).seconds)
        for workers in args.workers:
            for _ in range(args.repeat):
                with admin(db) as c:
                    for statement in OUTPUT_DDL:
                        c.execute(statement)
                checkpoint()
                done = run_measured(_me("rebuild-v2", url, "--workers", str(workers)))
                size.rebuild.setdefault(workers, []).append(size.events / done.seconds)
                parts = json.loads(done.stdout.splitlines()[-1])["partitions"]
                size.rebuild_detail.setdefault(workers, []).append(
                    " | ".join(
                        f"read+decode {p['read_s']:.1f}, obligations {p['eval_obligations_s']:.1f}"
                        f", outcomes {p['eval_outcomes_s']:.1f}, write {p['write_s']:.1f} s"
                        for p in parts
                    )
                )
                print(f"    rebuild-v2 --workers {workers}: {done.seconds:.1f} s")
        if sized:
            print("  the rebuild prototype's outputs, bytes per event:")
            size.out_sizes = sizes(db, size.events)


def run(args: argparse.Namespace) -> None:
    """Every figure, at 1× and (with --large) at the larger size, then the table."""
    sizes_: dict[str, Size] = {}
    for label, path in (("1×", args.file), (f"{args.factor}×", args.large)):
        if path is None:
            continue
        events, line = _count(path)
        size = sizes_[label] = Size(events, line)
        first = label == "1×"
        print(f"\n== {label}: {path}, {events:,} events, JSON line {line:,.1f} B ==")
        if not args.skip_v1:
            measure_v1(path, size, args, rebuild=first)
        measure_v2(path, size, args, sized=first)
    report_figures(sizes_, args)


def report_figures(sizes_: dict[str, Size], args: argparse.Namespace) -> None:
    fig = Figures()
    print("\nfigures (ours; same-run baseline; ratio of the medians — rates are min–max):")
    for label, s in sizes_.items():
        copy = f"raw COPY {_range(s.copy)}"
        read = f"bare read {_range(s.read)}" if s.read else ""
        if s.v1_import:
            fig.add(
                f"{label} import, today ev/s",
                _range(s.v1_import),
                copy,
                _median(s.v1_import) / _median(s.copy),
            )
        fig.add(
            f"{label} import, v2 prototype (pydantic) ev/s",
            _range(s.v2_import),
            copy,
            _median(s.v2_import) / _median(s.copy),
        )
        fig.add(
            f"{label} import, v2 prototype (fast path) ev/s",
            _range(s.v2_fast),
            copy,
            _median(s.v2_fast) / _median(s.copy),
        )
        for stage in s.stages[-2:]:
            print(f"      {stage}")
        if s.v1_rebuild:
            fig.add(
                f"{label} rebuild, today (obligations + outcomes) ev/s",
                _range(s.v1_rebuild),
                read,
                _median(s.v1_rebuild) / _median(s.read),
            )
        for workers, rates in s.rebuild.items():
            fig.add(
                f"{label} rebuild, v2 prototype, {workers} process(es) ev/s",
                _range(rates),
                read,
                _median(rates) / _median(s.read) if s.read else None,
            )
            print(f"      {s.rebuild_detail[workers][-1]}")
        fig.add(
            f"{label} bare read of the v2 log ev/s",
            _range(s.bare2),
            read,
            _median(s.bare2) / _median(s.read) if s.read else None,
        )
        fig.add(
            f"{label} v2 log in position order → facts ev/s",
            _range(s.facts2),
            read,
            _median(s.facts2) / _median(s.read) if s.read else None,
        )
    small = sizes_["1×"]
    large = sizes_.get(f"{args.factor}×")
    if large is not None:
        if small.v1_rss and large.v1_rss:
            fig.add(
                f"import peak RSS today, {args.factor}× / 1×",
                f"{_range(large.v1_rss)} / {_range(small.v1_rss)} MiB",
                "",
                min(large.v1_rss) / min(small.v1_rss),
            )
        fig.add(
            f"import peak RSS v2 (pydantic), {args.factor}× / 1×",
            f"{_range(large.v2_rss)} / {_range(small.v2_rss)} MiB",
            "",
            min(large.v2_rss) / min(small.v2_rss),
        )
        fig.add(
            f"import peak RSS v2 (fast path), {args.factor}× / 1×",
            f"{_range(large.v2_fast_rss)} / {_range(small.v2_fast_rss)} MiB",
            "",
            min(large.v2_fast_rss) / min(small.v2_fast_rss),
        )
    line = small.line
    if small.v1_sizes:
        event_tables = sum(
            x[1] for x in small.v1_sizes if x[0] in ("timeline_events", "timeline_event_index")
        )
        every = sum(x[1] for x in small.v1_sizes)
        fig.add(
            "bytes/event, event tables, today",
            f"{event_tables:,.0f} B",
            f"JSON line {line:,.0f} B",
            event_tables / line,
        )
        fig.add(
            "bytes/event, every table, today",
            f"{every:,.0f} B",
            f"JSON line {line:,.0f} B",
            every / line,
        )
    v2_log = sum(x[1] for x in small.v2_sizes if x[0] == LOG)
    v2_every = sum(x[1] for x in small.v2_sizes)
    outputs = sum(x[1] for x in small.out_sizes if x[0].startswith("v2_"))
    fig.add(
        "bytes/event, v2 log (events and index in one)",
        f"{v2_log:,.0f} B",
        f"JSON line {line:,.0f} B",
        v2_log / line,
    )
    fig.add(
        "bytes/event, v2 tables (log, origins, persons, keys)",
        f"{v2_every:,.0f} B",
        f"JSON line {line:,.0f} B",
        v2_every / line,
    )
    fig.add(
        "bytes/event, rebuild prototype outputs (items, contributions)",
        f"{outputs:,.0f} B",
        f"JSON line {line:,.0f} B",
        outputs / line,
    )
    if small.v1_sizes:
        # every table with v2: the v2 tables and today's projection tables but the fact copies
        kept = sum(
            x[1]
            for x in small.v1_sizes
            if x[0] not in ("timeline_events", "timeline_event_index")
            and not x[0].endswith("_facts")
        )
        fig.add(
            "bytes/event, every table with v2 (projections, no fact copies)",
            f"{v2_every + kept:,.0f} B",
            f"JSON line {line:,.0f} B",
            (v2_every + kept) / line,
        )
    print(json.dumps({"figures": fig.rows}))


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command")
    r = sub.add_parser("run", help="every figure, in throwaway databases (the default)")
    r.add_argument("file", type=Path)
    r.add_argument("--large", type=Path, help="a larger demo: the import's peak RSS on it")
    r.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    r.add_argument("--repeat", type=int, default=2)
    r.add_argument("--skip-v1", action="store_true")
    r.add_argument("--migrate", action="store_true", help="also time migrate-v1 + verify-v2")
    r.add_argument("--factor", type=int, default=4, help="(the label of --large)")
    i = sub.add_parser("import-v2", help="the import prototype into a v2 store (DDL made)")
    i.add_argument("url")
    i.add_argument("file", type=Path)
    i.add_argument("--fast", action="store_true", help="validate with the msgspec fast path")
    b = sub.add_parser("rebuild-v2", help="the rebuild prototype (output tables made)")
    b.add_argument("url")
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--no-rules", action="store_true", help="read and decode only")
    rv = sub.add_parser("read-v2", help="the v2 log in position order into facts")
    rv.add_argument("url")
    rv.add_argument("--bare", action="store_true", help="rows only, nothing decoded")
    mg = sub.add_parser("migrate-v1", help="today's store into a v2 store (DDL made), resumable")
    mg.add_argument("url_v1")
    mg.add_argument("url_v2")
    vv = sub.add_parser("verify-v2", help="decrypt, decode, recompute every digest and link")
    vv.add_argument("url")
    args = ap.parse_args()
    if args.command == "import-v2":
        res = import_v2(args.url, args.file, fast=args.fast)
        print(json.dumps(res.__dict__))
    elif args.command == "rebuild-v2":
        print(json.dumps(_rebuild(args.url, args.workers, not args.no_rules)))
    elif args.command == "read-v2":
        print(
            json.dumps({"rows": bare_read_v2(args.url) if args.bare else read_log_facts(args.url)})
        )
    elif args.command == "migrate-v1":
        print(json.dumps(migrate_v1(args.url_v1, args.url_v2)))
    elif args.command == "verify-v2":
        print(json.dumps(verify_v2(args.url)))
    elif args.command == "run":
        run(args)
    else:
        ap.print_help()


def _rebuild(url: str, workers: int, rules: bool) -> dict[str, Any]:
    """``workers`` processes, one partition each; what each spent where."""
    if workers == 1:
        return {"partitions": [rebuild_partition(url, 0, 1, evaluate_rules=rules).__dict__]}
    procs = [
        subprocess.Popen(  # noqa: S603 - this script, fixed arguments
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "partition",
                url,
                str(k),
                str(workers),
                "1" if rules else "0",
            ],
            stdout=subprocess.PIPE,
        )
        for k in range(workers)
    ]
    out = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode:
            sys.exit(f"partition failed ({p.returncode})")
        out.append(json.loads(stdout))
    return {"partitions": out}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "partition":
        _, _, url_, k_, n_, rules_ = sys.argv
        print(
            json.dumps(
                rebuild_partition(url_, int(k_), int(n_), evaluate_rules=rules_ == "1").__dict__
            )
        )
    else:
        if len(sys.argv) > 1 and sys.argv[1] not in (
            "run",
            "import-v2",
            "rebuild-v2",
            "read-v2",
            "verify-v2",
            "migrate-v1",
            "-h",
            "--help",
        ):
            sys.argv.insert(1, "run")
        main()
