"""Which partition of the seekers a line of an import file belongs to (``timeline import
--workers N``, :mod:`timeline.bulk.parallel`): partition *k* of *N* as the projections' workers
split the seekers (:class:`projections.runtime.partition.Partition`, ADR 0011), by the
``seeker_id`` the line's text names.

:func:`route` reads the first ``"seeker_id": "…"`` of the raw line without parsing it, so each
worker skips the others' lines for the cost of a search. It may be wrong for a line the
vocabulary would not take as it is written (a key or value with escapes, an id in capitals, a
line that is not JSON): every line still goes to exactly one worker, which parses it, and a
worker that finds an event of another partition's seeker says so (the import then validates the
file in one process)."""

from __future__ import annotations

import re
from bisect import bisect_right

from projections.runtime.partition import BUCKETS, Partition, bucket

_SEEKER = re.compile(rb'"seeker_id"\s*:\s*"([^"\\]*)"')


class Parts:
    """The ``n`` partitions of the seekers."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._his = [Partition(k, n).hi for k in range(n)]

    def of(self, seeker_id: str) -> int:
        """The partition of a seeker (by its id as the vocabulary writes it)."""
        return bisect_right(self._his, bucket(seeker_id))

    def route(self, line: bytes) -> int:
        """The partition a raw line goes to (0 when it names no seeker this way)."""
        found = _SEEKER.search(line)
        if found is None:
            return 0
        try:
            return self.of(found.group(1).decode("ascii").lower())
        except UnicodeDecodeError:
            return 0


assert Partition(0, 1).hi == BUCKETS
