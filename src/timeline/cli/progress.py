"""Progress on stderr: bars that carry their total and an honest rate, and phases without a
count (a rebuild swapping its tables in) that show their name and how long they have run.

The rate is the phase's own average (``smoothing=0``): work done in this run divided by the
time the bar has run. Work found already done (events already stored) is the bar's ``initial``
count, so it is shown in the total but never counted as speed; an exponential average over
uneven chunks (nothing for a second, then 5,000 events at once) would show rates like
"45,583,379 event/s"."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator, Sized
from types import TracebackType
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def bar(desc: str, *, total: int | None, unit: str, quiet: bool, initial: int = 0) -> tqdm[Any]:
    """A bar for ``total`` items of ``unit`` (``initial`` of them done before it started)."""
    return tqdm(
        desc=desc,
        total=total,
        initial=initial,
        unit=unit,
        unit_scale=True,
        smoothing=0,
        file=sys.stderr,
        disable=quiet,
        dynamic_ncols=True,
    )


def iterate(items: Iterable[T], desc: str, *, unit: str, quiet: bool) -> Iterator[T]:
    """``items``, with a bar (their count as the total when they know it)."""
    total = len(items) if isinstance(items, Sized) else None
    with bar(desc, total=total, unit=unit, quiet=quiet) as shown:
        for item in items:
            yield item
            shown.update(1)


class Phase:
    """A phase without a count: ``desc`` and the time it has run, refreshed twice a second
    until :meth:`close` (or the end of a ``with`` block)."""

    def __init__(self, desc: str, *, quiet: bool) -> None:
        self._bar: tqdm[Any] = tqdm(
            desc=desc,
            total=None,
            bar_format="{desc}: {elapsed}",
            file=sys.stderr,
            disable=quiet,
        )
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="progress-phase", daemon=True)
        if not quiet:
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._bar.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()
        self._bar.close()

    def __enter__(self) -> Phase:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ThenPhase:
    """A progress callback (``callback(n)``: ``n`` more items done) for a bar of ``total``
    items that, once the bar is full, closes it and shows ``after`` as a phase of its own
    (a rebuild applies every event, then swaps its tables in: the bar does not sit at 100 %
    meanwhile). :meth:`close` ends whichever is showing."""

    def __init__(self, desc: str, *, total: int, unit: str, after: str | None, quiet: bool) -> None:
        self.bar = bar(desc, total=total, unit=unit, quiet=quiet)
        self._after = after
        self._quiet = quiet
        self.phase: Phase | None = None

    def __call__(self, n: int) -> None:
        if self.phase is not None:  # (events appended meanwhile: still the last phase)
            return
        self.bar.update(n)
        total = self.bar.total or 0
        if self._after is not None and self.bar.n >= total:
            self.bar.close()
            self.phase = Phase(self._after, quiet=self._quiet)

    def close(self) -> None:
        self.bar.close()
        if self.phase is not None:
            self.phase.close()

    def __enter__(self) -> ThenPhase:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
