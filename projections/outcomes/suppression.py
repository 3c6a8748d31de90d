"""Small-cell suppression (pienten solujen suojaus), as a pure function of counts.

Primary: a cell counting at least one but fewer than ``minimum`` persons is suppressed.
Complementary: for every additive relation ``total = sum(parts)`` that is published (the status
classes of one area-month and their total; an area and its municipalities; the country and its
areas), a relation with exactly one suppressed member would let a reader compute it back, so a
second member is suppressed too: the smallest non-zero part not yet suppressed (ties by key), or
the total when no part is left. This repeats until no relation has exactly one suppressed member.

Known limit (documented): this protects each relation on its own; it is not a full linear-
programming audit against a reader combining many overlapping relations at once. Zero cells are
published (a zero is not primary-suppressed) but may be chosen as complements.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def suppress(
    counts: Mapping[K, int],
    relations: Iterable[tuple[K, Sequence[K]]] = (),
    minimum: int = 5,
) -> set[K]:
    """The keys of ``counts`` to publish as suppressed. ``relations`` are ``(total, parts)``;
    keys not in ``counts`` are ignored (an absent cell is published as nothing)."""
    hidden = {k for k, n in counts.items() if 0 < n < minimum}
    rels = [
        (total, [p for p in parts if p in counts]) for total, parts in relations if total in counts
    ]
    changed = bool(hidden)
    while changed:
        changed = False
        for total, parts in rels:
            members = [total, *parts]
            if sum(1 for m in members if m in hidden) != 1:
                continue
            candidates = [p for p in parts if p not in hidden]
            if not candidates:
                pick = total
            else:
                nonzero = [p for p in candidates if counts[p] > 0]
                pool = nonzero or candidates
                pick = min(pool, key=lambda p: (counts[p], repr(p)))
            if pick in hidden:  # the total is the only one hidden and no part is left
                continue
            hidden.add(pick)
            changed = True
    return hidden


def suppress_derived(
    depends_on: Mapping[K, Sequence[K]],
    bases: Mapping[K, int],
    hidden: set[K],
    minimum: int = 5,
) -> set[K]:
    """Derived figures (shares, rates, medians) to suppress: those whose base counts fewer than
    ``minimum`` (but at least one) persons, or that depend on a suppressed count (a rate beside
    its published denominator would reveal a suppressed numerator)."""
    out: set[K] = set()
    for key, deps in depends_on.items():
        base = bases.get(key, 0)
        if 0 < base < minimum or any(d in hidden for d in deps):
            out.add(key)
    return out
