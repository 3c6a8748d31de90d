"""Partitions of the seekers, so several workers (processes, hosts) can keep one projection,
each applying the log to its own seekers from its own tracking position
(ops/adr/0011-partitioned-workers.md; ops/adr/0009-stored-form-v2.md §7).

A seeker's **bucket** is the first 12 bits of SHA-256 of the seeker uuid's 16 bytes (of the
id's UTF-8 bytes when it is not a uuid): 0..4095, the same on every host and release. Partition
*k* of *N* is the contiguous bucket range [*k*·4096//*N*, (*k*+1)·4096//*N*), so going from *N*
to 2*N* splits each range and each half starts from its parent's position. ``0/1`` (every
bucket) is the unpartitioned worker."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["BUCKETS", "WHOLE", "Partition", "bucket"]

BUCKETS = 4096


@lru_cache(maxsize=1 << 16)
def bucket(seeker_id: str) -> int:
    """The seeker's bucket, 0..4095."""
    try:
        raw = uuid.UUID(seeker_id).bytes
    except ValueError:
        raw = seeker_id.encode()
    digest = hashlib.sha256(raw).digest()
    return (digest[0] << 4) | (digest[1] >> 4)


@dataclass(frozen=True)
class Partition:
    """Partition ``k`` of ``n``: the seekers whose bucket is in ``[lo, hi)``."""

    k: int
    n: int

    def __post_init__(self) -> None:
        if not 1 <= self.n <= BUCKETS:
            raise ValueError(f"partition: N must be 1..{BUCKETS}, not {self.n}")
        if not 0 <= self.k < self.n:
            raise ValueError(f"partition: k must be 0..{self.n - 1} for N={self.n}, not {self.k}")

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``"k/N"``, e.g. ``"0/2"``."""
        k, sep, n = text.partition("/")
        if not sep or not k.strip().isdigit() or not n.strip().isdigit():
            raise ValueError(f"partition: expected k/N (e.g. 0/2), not {text!r}")
        return cls(int(k), int(n))

    @property
    def lo(self) -> int:
        return self.k * BUCKETS // self.n

    @property
    def hi(self) -> int:
        return (self.k + 1) * BUCKETS // self.n

    @property
    def whole(self) -> bool:
        return self.n == 1

    def owns(self, seeker_id: str) -> bool:
        return self.whole or self.lo <= bucket(seeker_id) < self.hi

    def overlaps(self, lo: int, hi: int) -> bool:
        return self.lo < hi and lo < self.hi

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


WHOLE = Partition(0, 1)
