"""What the import's validation pass keeps per seeker, and of every event id: a few bytes an
event and a few facts a seeker, never the events.

The timeline's rules (:func:`timeline.domain.timeline_rules.check_event`) read a seeker's facts.
Which of them decide the answer depends on the event's type, and :meth:`SeekerState.facts_for`
gives exactly those, so the rules run unchanged on a small list:

- the spell bounds and every correction and retraction (in full): the spells, and the
  amendments' targets, retractions and corrections, are computed from these;
- for ``service_started``/``service_ended``: the seeker's events naming that ``service_id``
  (their type and id: all the service rule reads);
- for a correction or retraction: the event it names, by id and type;
- for ``decision_recorded``: the events its ``basis_event_ids`` name that are this seeker's.

Everything else is kept as 16 bytes of id, one byte of type and the offset of its line in the
file (to re-read it when the same id comes again)."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from timeline.domain.event_types import AMENDMENTS, SPELL_BOUNDS, EventType
from timeline.domain.facts import Fact, Spell
from timeline.domain.timeline_rules import spells_of

TYPES: tuple[EventType, ...] = tuple(EventType)
CODES: dict[EventType, int] = {t: i for i, t in enumerate(TYPES)}
_KEPT_IN_FULL = SPELL_BOUNDS | AMENDMENTS
_SERVICE_RULED = frozenset({EventType.SERVICE_STARTED, EventType.SERVICE_ENDED})
_DECISION = EventType.DECISION_RECORDED
_CORRECTION = EventType.CORRECTION
_NO_DATA: Mapping[str, Any] = {}
_SOME_DAY = date(2000, 1, 1)  # (the day of a fact the rules read only the type and id of)
STORED = -1  # the line offset of an event stored before this import


def id_bytes(event_id: str) -> bytes:
    """The 16 bytes of an event id as :class:`~timeline.vocabulary.ParsedEvent` and the store
    write it (``str(UUID(...))``: 32 hex digits and 4 hyphens), as ``UUID(event_id).bytes``
    gives them, at a fraction of the cost; any other form goes through :class:`UUID`."""
    if len(event_id) == 36 and event_id.count("-") == 4:
        return bytes.fromhex(event_id.replace("-", ""))
    return UUID(event_id).bytes


class SeekerState:
    """One seeker as the validation pass knows it: its version, chain head, events (id, type,
    line) and the facts the rules need (see the module)."""

    __slots__ = (
        "_spells",
        "bounds",
        "head",
        "ids",
        "lines",
        "seeker_id",
        "services",
        "types",
        "uuid",
        "version",
    )

    def __init__(self, seeker_id: str, version: int, head: str) -> None:
        self.seeker_id = seeker_id
        self.uuid = UUID(seeker_id)
        self.version = version
        self.head = head
        self.ids = bytearray()  # 16 bytes an event, in version order
        self.types = bytearray()  # the type's code, in version order
        self.lines = array("q")  # the offset of the event's line in the file, or STORED
        self.bounds: list[Fact] = []  # spell bounds, corrections and retractions, in full
        self.services: dict[str, list[int]] = {}  # service_id -> versions naming it
        self._spells: list[Spell] | None = None  # spells_of(bounds), until bounds change

    def spells(self) -> list[Spell]:
        """The seeker's spells (:func:`~timeline.domain.timeline_rules.spells_of` its facts: of
        the spell bounds and amendments, all in :attr:`bounds`), kept until one is added."""
        if self._spells is None:
            self._spells = spells_of(self.bounds)
        return self._spells

    def index_of(self, event_id: str) -> int:
        """The 0-based place of ``event_id`` among this seeker's events, or -1."""
        key = id_bytes(event_id)
        at = self.ids.find(key)
        while at != -1 and at % 16:
            at = self.ids.find(key, at + 1)
        return -1 if at == -1 else at // 16

    def add(
        self,
        key: bytes,
        type_: EventType,
        data: Mapping[str, Any],
        line: int,
        full: Callable[[], Fact],
    ) -> None:
        """Keep what the rules and the repeats need of the next event (version: this state's
        version + 1); ``full`` makes its whole fact, called only for the kinds kept in full."""
        self.ids += key  # (the id's 16 bytes)
        self.types.append(CODES[type_])
        self.lines.append(line)
        self.version += 1
        if type_ in _KEPT_IN_FULL:
            self.bounds.append(full())
            self._spells = None
        service = data.get("service_id")
        if service is not None:
            self.services.setdefault(str(service), []).append(self.version)

    def _brief(self, at: int) -> Fact:
        """The event at place ``at`` as a fact carrying only its id and type (and version)."""
        return Fact(
            event_id=str(UUID(bytes=bytes(self.ids[at * 16 : at * 16 + 16]))),
            seeker_id=self.seeker_id,
            type=TYPES[self.types[at]],
            occurred_on=_SOME_DAY,
            recorded_at=datetime.min,
            version=at + 1,
            data=_NO_DATA,
        )

    def facts_for(self, type_: EventType, data: Mapping[str, Any]) -> list[Fact]:
        """The facts :func:`~timeline.domain.timeline_rules.check_event` decides an event of
        ``type_`` with ``data`` on, for this seeker (see the module)."""
        facts = list(self.bounds)
        if type_ in AMENDMENTS:
            key = "corrects_event_id" if type_ == _CORRECTION else "retracts_event_id"
            at = self.index_of(str(data[key]))
            if at != -1 and TYPES[self.types[at]] not in _KEPT_IN_FULL:
                facts.append(self._brief(at))
        elif type_ in _SERVICE_RULED:
            service = str(data["service_id"])
            for version in self.services.get(service, ()):
                brief = self._brief(version - 1)
                if brief.type not in _KEPT_IN_FULL:
                    facts.append(_with_service(brief, service))
        elif type_ == _DECISION:
            for basis in data["basis_event_ids"]:
                at = self.index_of(str(basis))
                if at != -1 and TYPES[self.types[at]] not in _KEPT_IN_FULL:
                    facts.append(self._brief(at))
        return facts


def _with_service(fact: Fact, service: str) -> Fact:
    return Fact(
        event_id=fact.event_id,
        seeker_id=fact.seeker_id,
        type=fact.type,
        occurred_on=fact.occurred_on,
        recorded_at=fact.recorded_at,
        version=fact.version,
        data={"service_id": service},
    )


class IdTable:
    """Every event id of the file, as a set of 64-bit keys (an open-addressing table in an
    ``array``: 8 bytes a slot, at most half full). A key is a hash of the id: equal keys are
    only a *maybe* (the caller confirms an id by the seekers' own ids)."""

    __slots__ = ("_count", "_mask", "_slots")

    def __init__(self, capacity: int = 1 << 16) -> None:
        size = 1 << max(4, (capacity * 2 - 1).bit_length())
        self._slots = array("q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0

    @staticmethod
    def key(event_id: bytes) -> int:
        return hash(event_id) or 1  # (0 marks a free slot)

    def maybe(self, event_id: bytes) -> bool:
        """Whether the id may have been added (False: it surely was not)."""
        key = self.key(event_id)
        slots, mask = self._slots, self._mask
        at = key & mask
        while True:
            found = slots[at]
            if found == key:
                return True
            if found == 0:
                return False
            at = (at + 1) & mask

    def add(self, event_id: bytes) -> bool:
        """Add the id; False if its key was there already (the id may have come before)."""
        key = self.key(event_id)
        slots, mask = self._slots, self._mask
        at = key & mask
        while True:
            found = slots[at]
            if found == key:
                return False
            if found == 0:
                break
            at = (at + 1) & mask
        slots[at] = key
        self._count += 1
        if self._count * 2 > len(slots):
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        size = len(old) * 2
        self._slots = slots = array("q", bytes(8 * size))
        self._mask = mask = size - 1
        for key in old:
            if key:
                at = key & mask
                while slots[at]:
                    at = (at + 1) & mask
                slots[at] = key
