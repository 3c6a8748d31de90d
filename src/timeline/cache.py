"""Timelines kept in memory between appends (and reads), so loading a seeker asks the store
only for the events written after the copy kept (by this process or any other).

A least-recently-used map of seeker id to timeline, safe across threads. What goes in and what
comes out are copies (``Timeline.__deepcopy__`` copies containers only: facts, digests and
hashes are immutable values), so a caller mutating a timeline it was given — deciding events on
it, then being refused — never changes the kept one. See ops/adr/0008-the-house.md for why this
is ours and not the library's aggregate cache."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

from timeline.domain.timeline import Timeline


class TimelineCache:
    """At most ``maxsize`` timelines (0: none kept)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, Timeline] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, seeker_id: str) -> Timeline | None:
        """A copy of the kept timeline of ``seeker_id``, or None."""
        with self._lock:
            kept = self._items.get(seeker_id)
            if kept is None:
                return None
            self._items.move_to_end(seeker_id)
            return copy.deepcopy(kept)

    def put(self, seeker_id: str, timeline: Timeline) -> None:
        """Keep a copy of ``timeline`` (without its pending events); the least recently used
        one goes when full. An older version never replaces a newer one kept meanwhile."""
        if self.maxsize <= 0:
            return
        clone = copy.deepcopy(timeline)
        clone.collect_events()
        with self._lock:
            kept = self._items.get(seeker_id)
            if kept is not None and kept.version > clone.version:
                return
            self._items[seeker_id] = clone
            self._items.move_to_end(seeker_id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def evict(self, seeker_id: str) -> None:
        with self._lock:
            self._items.pop(seeker_id, None)

    def __contains__(self, seeker_id: object) -> bool:
        with self._lock:
            return seeker_id in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
