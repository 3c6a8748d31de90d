"""Erasing a seeker (docs/erasure.md), in steps that a rerun completes after a crash:

1. in one transaction of the store: the register's entry (who, when, why, on whose authority,
   which events) and the seeker's keyed ``person_ref`` cleared from the event index (so a
   look-up by identity code no longer finds the person);
2. the seeker's data key destroyed in the key ring (``app.keys``, kept outside the data
   backup): every sealed personal field of its events becomes unreadable, for good;
3. the caches holding decoded events forgotten (this process's timeline cache; other
   processes drop theirs when they next meet the seeker: every load asks the register).

What stays: every event's type, times, position, clear fields (what obligations and
statistics read), digest and chain hash — so ``timeline verify`` and the daily digests still
prove the log unchanged, and statistics do not move."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from timeline.application import TimelineApp
from timeline.clock import Clock
from timeline.domain.errors import NotFound, TimelineError
from timeline.erasure.register import Erasure, ErasureRegister
from timeline.store import form2
from timeline.store.memory import TimelineMemoryRecorder

#: the longest reason or authority text kept in the register
MAX_TEXT = 500


class NotErasable(TimelineError):
    """The seeker has events stored before form 2, their personal fields in clear: destroying
    a key would not erase them. Nothing was done (``timeline migrate-store`` first)."""


@dataclass(frozen=True)
class Outcome:
    """What one run did. ``already``: the register held the seeker before this run (the run
    completed the steps, if a crash had left any undone)."""

    entry: Erasure
    already: bool
    key_destroyed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.entry.to_dict(),
            "already_erased": self.already,
            "key_destroyed_now": self.key_destroyed,
        }


def checked_text(name: str, value: str) -> str:
    """A reason or an authority: not blank, at most :data:`MAX_TEXT` characters."""
    text = value.strip()
    if not text:
        raise ValueError(f"{name} must not be empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"{name} is longer than {MAX_TEXT} characters")
    return text


class Eraser:
    def __init__(self, app: TimelineApp, register: ErasureRegister, clock: Clock) -> None:
        self.app = app
        self.register = register
        self.clock = clock

    def erase(self, seeker_id: str, *, reason: str, authority: str, actor: str) -> Outcome:
        """Erase ``seeker_id`` (see the module docstring); :class:`NotFound` for a seeker
        without events; ValueError for a blank or overlong reason or authority. Erasing an
        erased seeker again completes what a crash left undone and changes nothing else."""
        seeker = str(UUID(str(seeker_id)))
        reason = checked_text("reason", reason)
        authority = checked_text("authority", authority)
        self._check_sealed(seeker)
        now = self.clock()
        recorder = self.app.index
        memory = isinstance(recorder, TimelineMemoryRecorder)
        db = self.register.db
        with db.transaction() as tx:
            if tx.sql.ERASURES_LOCK_APPEND:  # (taken first: two erasures of one seeker queue)
                tx.execute(tx.sql.ERASURES_LOCK_APPEND)
            found = tx.execute(tx.sql.ERASURE_OF, [seeker])
            already = bool(found)
            if already:
                entry = Erasure.of(found[0])
            else:
                events, last_version, last_position = self._covered(tx, seeker, memory)
                if not events:
                    raise NotFound(f"no timeline for seeker {seeker}")
                entry = self.register.append(
                    tx,
                    now=now,
                    seeker_id=seeker,
                    reason=reason,
                    authority=authority,
                    actor=actor,
                    events=events,
                    last_version=last_version,
                    last_position=last_position,
                )
            if not memory:
                tx.execute(tx.sql.ERASURE_CLEAR_PERSON_REF, [seeker])
        if isinstance(recorder, TimelineMemoryRecorder):  # (not in the register's database)
            recorder.clear_person_refs(seeker)
        key_destroyed = self._destroy_key(seeker, now)
        self.app.cache.evict(seeker)
        return Outcome(entry, already, key_destroyed)

    def _check_sealed(self, seeker: str) -> None:
        """Refuse (nothing done) a seeker with events in the library's JSON (stored form 1,
        before form 2): their personal fields are in clear, and no key seals them."""
        clear = sum(
            1
            for n in self.app.index.seeker_notifications(seeker)
            if n.state and n.state[0] != form2.FORM
        )
        if clear:
            msg = (
                f"seeker {seeker} has {clear} event(s) stored before form 2, with their "
                "personal fields in clear: destroying its key would not erase them. Migrate "
                "the store first (timeline migrate-store); nothing was erased"
            )
            raise NotErasable(msg)

    def reapply(self, actor: str) -> list[Outcome]:
        """After a data backup was restored: erase again every seeker whose key the key ring
        (backed up on its own, so newer than the data) says was destroyed but the restored
        register does not hold — its entry, its person_ref, the caches. The register's new
        entries say so in their reason, and the daily digests kept outside show the register
        changed since the backup (which is true)."""
        done: list[Outcome] = []
        after: UUID | None = None
        while True:
            rows = self.app.keys.table.scan(after, 1000)
            if not rows:
                return done
            after = rows[-1].seeker_id
            gone = [r for r in rows if r.wrapped is None]
            known = self.register.erased([str(r.seeker_id) for r in gone])
            for row in gone:
                seeker = str(row.seeker_id)
                if seeker in known or not self.app.index.index_for_seeker(seeker, limit=1):
                    continue
                when = row.erased_at.isoformat() if row.erased_at else "an unknown time"
                done.append(
                    self.erase(
                        seeker,
                        reason=f"re-applied after a restore: the key was destroyed at {when}",
                        authority="key ring",
                        actor=actor,
                    )
                )

    def _covered(self, tx: Any, seeker: str, memory: bool) -> tuple[int, int, int | None]:
        """(events, last version, last position) of the seeker's events stored now."""
        if memory:
            rows = self.app.index.index_for_seeker(seeker)
            if not rows:
                return 0, 0, None
            return len(rows), rows[-1].version, rows[-1].position
        count, version, position = tx.execute(tx.sql.ERASURE_COVERED, [seeker])[0]
        return (
            int(count),
            int(version or 0),
            None if position is None else int(position),
        )

    def _destroy_key(self, seeker: str, now: datetime) -> bool:
        """Destroy the seeker's data key (kept outside the data backup): True when it had one
        (False when an earlier run destroyed it, or it never had a sealed field)."""
        return bool(self.app.keys.destroy([UUID(seeker)], now))
