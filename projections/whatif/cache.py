"""What the what-if keeps between runs in one process (a server): what was decoded of the log is
immutable, so a second what-if reads only what was appended since.

- **The spell events of every seeker** (start, end, correction, retraction: what decides whether
  a seeker has a spell in a window), up to a log position: caught up from that position on the
  next run, with the log's topic selection (the other events are never sent by the store).
- **The facts of the seekers read last** (by seeker: the facts up to a version of their stream,
  and the log position up to which nothing else of theirs was written), least recently used let
  go first, at most ``max_facts`` facts in all: the memory stays bounded whatever the log's size.

Facts are immutable values, so the same fact objects are handed to every run (and run's two
sides). A log whose last position went backwards (a store restored or rebuilt) empties the cache.
Nothing here is personal beyond what a run reads anyway; :meth:`WhatifCache.clear` lets it go
(an erasure must call it, as it invalidates every cache of decoded events)."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from timeline.domain.facts import Fact

#: the facts kept between runs by default: about 1.8 KB each (a decoded fact with its data;
#: measured with tracemalloc on the demo's), so some 360 MB at most; the 3,000-seeker demo's
#: seekers active in a year have ~125,000 facts read (~165,000 events)
MAX_FACTS = 200_000


@dataclass
class SeekerFacts:
    """A seeker's facts up to ``version`` (readable ones; ``version`` counts the unreadable
    too), known to be all of theirs up to log position ``checked``."""

    version: int
    checked: int
    facts: tuple[Fact, ...]
    #: how many of the seeker's events up to ``version`` could not be decoded (left out)
    unreadable: int = 0
    #: how many were left undecoded as of a type the what-if does not read
    unread: int = 0
    #: the events the seeker's corrections named when these were read (decoded whatever type)
    corrected: frozenset[str] = frozenset()


@dataclass
class WhatifCache:
    """The decoded log kept between runs (see the module's doc). ``lock`` serialises the runs'
    reads of the log into it (their evaluations run in parallel)."""

    max_facts: int = MAX_FACTS
    #: the log position up to which ``spell_facts`` and ``unreadable`` are complete
    position: int = 0
    spell_facts: dict[str, list[Fact]] = field(default_factory=dict)
    #: positions of spell events that could not be decoded
    unreadable: set[int] = field(default_factory=set)
    seekers: OrderedDict[str, SeekerFacts] = field(default_factory=OrderedDict)
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def clear(self) -> None:
        """Forget everything (the next run reads the log from the start)."""
        self.position = 0
        self.spell_facts = {}
        self.unreadable = set()
        self.seekers = OrderedDict()
        self.held = 0

    def get(self, seeker_id: str) -> SeekerFacts | None:
        found = self.seekers.get(seeker_id)
        if found is not None:
            self.seekers.move_to_end(seeker_id)
        return found

    def put(self, seeker_id: str, entry: SeekerFacts) -> None:
        """Keep ``entry`` (the most recently used), letting the least recently used go while
        more than ``max_facts`` facts are held. An entry larger than the bound is not kept."""
        old = self.seekers.pop(seeker_id, None)
        if old is not None:
            self.held -= len(old.facts)
        if len(entry.facts) > self.max_facts:
            return
        self.seekers[seeker_id] = entry
        self.held += len(entry.facts)
        while self.held > self.max_facts:
            _, gone = self.seekers.popitem(last=False)
            self.held -= len(gone.facts)


_CACHES: weakref.WeakKeyDictionary[object, WhatifCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(log: object) -> WhatifCache:
    """The cache of a store's application (one per application object, gone with it; a new
    one each call for an object that cannot be referenced weakly)."""
    try:
        weakref.ref(log)
    except TypeError:
        return WhatifCache()
    with _CACHES_LOCK:
        found = _CACHES.get(log)
        if found is None:
            found = _CACHES[log] = WhatifCache()
        return found
