"""The import's spool: the accepted events' records between the validation and the write pass,
in a temporary file (:mod:`timeline.bulk.engine`)."""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from typing import IO

from timeline.bulk.rows import Record
from timeline.bulk.validate import Line


class Spool:
    """The accepted rows between the passes, in a temporary file: blocks of ``(the offsets of
    their lines, records)``, each ``marshal``-ed to bytes and written after its length (8 bytes):
    read back whole and decoded from memory (``marshal.load`` of the file itself reads it a few
    bytes at a time: it cost the write pass ~8 µs an event, now ~2)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.offsets: list[int] = []
        self.block: list[Record] = []

    def add(self, line: Line, record: Record) -> None:
        self.offsets.append(line.offset)
        self.block.append(record)
        if len(self.block) >= 5_000:
            self.flush()

    def flush(self) -> None:
        if self.block:
            blob = marshal.dumps((self.offsets, self.block))
            self.file.write(len(blob).to_bytes(8, "little"))
            self.file.write(blob)
            self.offsets, self.block = [], []

    def records(self) -> Iterator[tuple[int, Record]]:
        """``(offset of its line, record)`` of every record, in the order they were added."""
        self.flush()
        self.file.seek(0)
        while head := self.file.read(8):
            blob = self.file.read(int.from_bytes(head, "little"))
            offsets, records = marshal.loads(blob)  # noqa: S302 (our own spool)
            yield from zip(offsets, records, strict=True)
