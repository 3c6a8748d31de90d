"""The import's first pass: every line of the file validated and decided, in order, as
``timeline import`` always decided it (:meth:`timeline.decisions.Appender.decide_each`: each
event on its own against the store and the file's earlier events), keeping only a compact
state per seeker (:mod:`timeline.bulk.state`).

Per line: the same reading and parsing (the msgspec fast path of
:mod:`timeline.vocabulary.fast`, which gives what pydantic's :func:`parse_event` gives or leaves
the line to it: the same events, the same messages), the same
recorded-time limits and person refs (:meth:`Appender.prepare`), the same repeat rule (a
stored or earlier id is a duplicate if the content is the same, else a conflict), the same
``expected_version`` check and the domain's own timeline rules
(:mod:`timeline.domain.timeline_rules`). An accepted event gets its version, digest and chain
hash here and goes, encoded by a :class:`~timeline.bulk.rows.RowEncoder`, to the spool.

The store is asked once per block of lines: which of its event ids are stored, and the state
of the seekers met first."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import IO, Any, cast

from timeline.bulk.parts import Parts
from timeline.bulk.rows import Accepted, Record, RowEncoder
from timeline.bulk.state import STORED, IdTable, SeekerState, id_bytes
from timeline.decisions import Appender, Decisions, TimelineStore, event_digest, version_conflict
from timeline.domain.canonical import GENESIS_HASH, chain_hash, iso_utc
from timeline.domain.errors import Conflict, InvalidEvent, SeekerGone
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact
from timeline.domain.timeline import Timeline
from timeline.domain.timeline_rules import check_event, check_first
from timeline.jsonl import BOM, LineError, read_jsonl
from timeline.store.index import IndexRow
from timeline.vocabulary import EventValidationError, ParsedEvent, parse_event
from timeline.vocabulary.fast import parse_line

BLOCK = 5_000
_STARTED, _ENDED = EventType.JOB_SEARCH_STARTED, EventType.JOB_SEARCH_ENDED
_NOTHING: Mapping[str, Any] = {}  # lines read, parsed and looked up in the store at a time


@dataclass
class Line:
    number: int
    offset: int  # of the line in the file
    event: ParsedEvent


@dataclass
class Outcome:
    """What the pass found: ``problems`` as ``line N: field: reason`` (reading and parsing
    problems only, if there were any: rules are judged on a readable file), the events read,
    and how many were accepted (new)."""

    events: int = 0
    accepted: int = 0
    parse_problems: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.parse_problems or self.refusals


def refusal_lines(number: int, exc: InvalidEvent | Conflict) -> list[str]:
    """A refused event as ``line N: field: reason`` texts."""
    errors = exc.errors if isinstance(exc, InvalidEvent) else []
    if errors:
        return [f"line {number}: {e.loc}: {e.msg}" for e in errors]
    loc = "(event)"
    if isinstance(exc, Conflict):
        loc = "expected_version" if exc.current_version is not None else "event_id"
    return [f"line {number}: {loc}: {exc}"]


class Validator:
    """Pass 1 over a file (a path: the file is read again to look at an earlier line)."""

    def __init__(
        self,
        store: TimelineStore,
        appender: Appender,
        encoder: RowEncoder,
        now: datetime,
        *,
        allow_test_codes: bool,
        fast: bool = True,
        part: tuple[Parts, int] | None = None,
    ) -> None:
        self.store = store
        # (the partitions and this one: only the lines routed to it, see timeline.bulk.parts)
        self.part = part
        self.misrouted = False  # an event of another partition's seeker was routed here
        self.decided = bytearray()  # with ``part``: the 16-byte ids of the lines decided
        self.fast = fast  # False: every line through json.loads and parse_event
        self.appender = appender
        self.encoder = encoder
        self.now = now
        self.recorded_at = iso_utc(now)
        self.allow_test_codes = allow_test_codes
        self.seekers: dict[str, SeekerState | None] = {}  # None: no timeline yet
        self.erased: set[str] = set()  # of the seekers loaded: every line of theirs refused
        self.ids = IdTable()
        self.outcome = Outcome()

    # -- reading ---------------------------------------------------------------------------

    def _parse(self, raw: Any) -> ParsedEvent:
        try:
            return parse_event(raw, allow_test_identity_codes=self.allow_test_codes)
        except EventValidationError as exc:
            raise LineError([f"{e.loc}: {e.msg}" for e in exc.errors]) from None

    def read(self, number: int, raw: bytes) -> ParsedEvent | None:
        """The event of one line (without its BOM), or None with its problems noted: the fast
        path first (:func:`~timeline.vocabulary.fast.parse_line`), then ``json.loads`` and
        :func:`parse_event` for a line it does not vouch for; a line these refuse is read again
        by :func:`read_jsonl` for the message."""
        if self.fast:
            event = parse_line(raw, allow_test_identity_codes=self.allow_test_codes)
            if event is not None:
                return event
        try:
            return self._parse(json.loads(raw.decode("utf-8")))
        except (ValueError, LineError, RecursionError):
            problems: list[str] = []
            found = list(read_jsonl(cast(IO[bytes], [raw]), self._parse, problems=problems))
            self.outcome.parse_problems += [f"line {number}:{p.split(':', 1)[1]}" for p in problems]
            return found[0][1] if found else None

    def lines(self, source: Iterable[bytes]) -> Iterator[list[Line]]:
        """Blocks of parsed lines (blank lines skipped)."""
        block: list[Line] = []
        offset = 0
        for number, raw in enumerate(source, start=1):
            at = offset
            offset += len(raw)
            text = raw[len(BOM) :] if number == 1 and raw.startswith(BOM) else raw
            if not text.strip():
                continue
            if self.part is not None and self.part[0].route(text) != self.part[1]:
                continue
            self.outcome.events += 1
            event = self.read(number, text)
            if event is not None:
                if self.part is not None and self.part[0].of(event.seeker_id) != self.part[1]:
                    self.misrouted = True
                block.append(Line(number, at, event))
            if len(block) >= BLOCK:
                yield block
                block = []
        if block:
            yield block

    # -- deciding --------------------------------------------------------------------------

    def run(
        self, source: Iterable[bytes], reread: IO[bytes], emit: Callable[[Line, Record], None]
    ) -> Outcome:
        """Validate every line of ``source``; ``emit`` each accepted event's record while the
        file has no problem. ``reread``: the same file, for looking at earlier lines."""
        self._reread = reread
        for block in self.lines(source):
            if self.outcome.parse_problems:
                continue  # the rules are judged on a readable file only (as always)
            known = self.store.index_by_event_ids([x.event.event_id for x in block])
            self._load([x.event.seeker_id for x in block])
            self.encoder.prepare([x.event.seeker_id for x in block])
            for line in block:
                if self.part is not None:
                    self.decided += id_bytes(line.event.event_id)
                try:
                    record = self.decide(line, known)
                except (InvalidEvent, Conflict) as exc:
                    self.outcome.refusals += refusal_lines(line.number, exc)
                    continue
                if record is not None:
                    self.outcome.accepted += 1
                    if not self.outcome.problems:
                        emit(line, record)
        return self.outcome

    def _load(self, seeker_ids: list[str]) -> None:
        todo = [s for s in dict.fromkeys(seeker_ids) if s not in self.seekers]
        if not todo:
            return
        self.erased.update(self.store.erased(todo))
        for seeker_id, timeline in self.store.load_many(todo).items():
            self.seekers[seeker_id] = None if timeline is None else _state_of(timeline)

    def decide(self, line: Line, known: dict[str, IndexRow]) -> Record | None:
        """The record of an accepted new event; None for a duplicate; raises if refused."""
        [(event, ref)] = self.appender.prepare([line.event], self.now)
        if event.seeker_id in self.erased:
            raise SeekerGone(event.seeker_id, event_id=event.event_id)
        data = dict(event.data)
        if ref is not None:
            data["person_ref"] = ref
        stored = known.get(event.event_id)
        key = id_bytes(event.event_id)
        earlier = None if stored is not None else self._earlier(event, key)
        if stored is not None or earlier is not None:
            Decisions._repeat(event, data, stored, earlier, 1, None)  # raises if not the same
            return None
        state = self.seekers.get(event.seeker_id)
        current = state.version if state is not None else 0
        conflict = version_conflict(event, current, None)
        if conflict is not None:
            raise conflict
        if state is None:
            check_first(event.type)
            state = SeekerState(event.seeker_id, 0, GENESIS_HASH)
            self.seekers[event.seeker_id] = state
        else:
            check_event(
                state.facts_for(event.type, data),
                event.type,
                date.fromisoformat(event.occurred_on),
                data,
                known_spells=state.spells(),
            )
        version = current + 1
        digest = event_digest(event, data, self.appender.digest_algorithm)
        state.head = chain_hash(
            state.head,
            digest=digest,
            seeker_id=event.seeker_id,
            version=version,
            recorded_at=self.recorded_at,
        )
        state.add(
            key,
            event.type,
            data,
            line.offset,
            lambda: self._fact(event, data, version),
        )
        self.ids.add(key)
        return self.encoder.encode(
            Accepted(event, state.uuid, data, ref, version, digest, state.head)
        )

    def _fact(self, event: ParsedEvent, data: dict[str, Any], version: int) -> Fact:
        """A spell bound's or an amendment's fact as the rules read it: an amendment's data in
        full, a spell bound's only as far as :func:`~timeline.domain.facts.spells` reads it
        (no actor or source: no rule reads them)."""
        kept: Mapping[str, Any] = data
        if event.type == _STARTED:
            kept = _NOTHING
        elif event.type == _ENDED:
            kept = {"reason": data.get("reason")}
        return Fact(
            event_id=event.event_id,
            seeker_id=event.seeker_id,
            type=event.type,
            occurred_on=date.fromisoformat(event.occurred_on),
            recorded_at=self.now,
            version=version,
            data=kept,
            occurred_at=datetime.fromisoformat(event.occurred_at) if event.occurred_at else None,
        )

    def _earlier(self, event: ParsedEvent, key: bytes) -> tuple[str, int] | None:
        """(digest, 0) of the accepted line of this file with the same event id, if any: a
        repeat is looked for under its own seeker first (the same content names the same
        seeker), then, exactly, under every other (rare: only then is the id another's)."""
        if not self.ids.maybe(key):
            return None
        own = self.seekers.get(event.seeker_id)
        for state in (own, *self.seekers.values()):
            at = state.index_of(event.event_id) if state is not None else -1
            if at != -1 and state is not None and state.lines[at] != STORED:
                return self._digest_at(state.lines[at]), 0
        return None

    def _digest_at(self, offset: int) -> str:
        self._reread.seek(offset)
        event = read_event(self._reread.readline(), allow_test_codes=self.allow_test_codes)
        [(event, ref)] = self.appender.prepare([event], self.now)
        data = dict(event.data)
        if ref is not None:
            data["person_ref"] = ref
        return event_digest(event, data, self.appender.digest_algorithm)


def read_event(raw: bytes, *, allow_test_codes: bool) -> ParsedEvent:
    """The event of a line the validation pass read without a problem."""
    raw = raw.removeprefix(BOM)
    event = parse_line(raw, allow_test_identity_codes=allow_test_codes)
    if event is not None:
        return event
    value = json.loads(raw.removeprefix(BOM).decode("utf-8"))
    return parse_event(value, allow_test_identity_codes=allow_test_codes)


def _same(fact: Fact) -> Fact:
    return fact


def _state_of(timeline: Timeline) -> SeekerState:
    state = SeekerState(str(timeline.id), 0, timeline.chain_head)
    for fact in timeline.facts:
        key = id_bytes(fact.event_id)
        state.add(key, fact.type, fact.data, STORED, partial(_same, fact))
    return state
