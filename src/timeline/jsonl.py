"""JSON Lines as users hand them in (``timeline import``, the bulk import): every bad line named
by its number and reason, never a traceback. Shared by the command line and the bulk import, so it
lives outside both."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
#: A UTF-8 byte-order mark, accepted at the start of a file.
BOM = b"\xef\xbb\xbf"


def read_jsonl(
    source: Iterable[bytes], parse: Callable[[Any], T], *, problems: list[str]
) -> Iterator[tuple[int, T]]:
    """``(line number, parse(value))`` for every non-blank line of ``source``; each line that is
    not UTF-8, not JSON, nested too deeply or refused by ``parse`` adds ``line N: reason`` to
    ``problems`` instead (``parse`` raises :class:`LineError` with the reasons). A UTF-8
    byte-order mark at the start is skipped; a last line cut short is said to be."""
    for number, read in enumerate(source, start=1):
        raw = read[len(BOM) :] if number == 1 and read.startswith(BOM) else read
        if not raw.strip():
            continue
        cut = "" if raw.endswith(b"\n") else " (the file ends in the middle of this line)"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                f"line {number}: (line): not valid UTF-8 at byte {exc.start + 1}: {exc.reason}{cut}"
            )
            continue
        try:
            value = json.loads(text)
        except RecursionError:
            problems.append(f"line {number}: (line): nested too deeply to read{cut}")
            continue
        except ValueError as exc:
            problems.append(f"line {number}: (line): not valid JSON: {exc}{cut}")
            continue
        try:
            yield number, parse(value)
        except LineError as exc:
            problems.extend(f"line {number}: {reason}" for reason in exc.reasons)
        except RecursionError:
            problems.append(f"line {number}: (line): nested too deeply to read")


class LineError(Exception):
    """A line's value refused by a parser: ``reasons`` are ``field: reason`` texts."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
