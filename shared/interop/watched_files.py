"""An upload's files as a converter reads them, watched: the bytes it reads are counted and,
about once a second, the spool's heartbeat records them with the rows spooled so far (the job
JSON's `reading`) and answers whether a cancel was requested, which stops the conversion.

The bundle parser has this hook under its reader (shared.bundle.spool_guard); a converter
reads through SourceFiles, so the hook sits there: one addition and one clock read per read
call (8 KiB and up), nothing per row.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import BinaryIO

from shared.bundle.spool_guard import SpoolCancelled
from shared.bundle.spool_heartbeat import Reading
from shared.interop.files import ReadOnlyStream
from shared.interop.source import SourceFiles


class WatchedFiles:
    """A SourceFiles whose streams report to `heartbeat` (see the module docstring)."""

    def __init__(self, files: SourceFiles, heartbeat: Callable[[], bool], reading: Reading,
                 rows: Callable[[], int], every: float) -> None:
        self.files, self.heartbeat, self.reading = files, heartbeat, reading
        self.rows, self.every = rows, every
        # the first read beats at once: the job shows it is reading, and a spool resumed after
        # a killed one starts from zero instead of showing the last run's figures
        self._next = 0.0

    def names(self) -> list[str]:
        return self.files.names()

    def open(self, name: str) -> BinaryIO:
        return _WatchedStream(self.files.open(name), self)  # type: ignore[return-value]

    def beat(self) -> None:
        """Record the figures now; SpoolCancelled when the job's cancel was requested."""
        self.reading.rows = self.rows()
        if self.heartbeat():
            raise SpoolCancelled()
        self._next = time.monotonic() + self.every

    def _read(self, count: int) -> None:
        self.reading.bytes += count
        if time.monotonic() >= self._next:
            self.beat()


class _WatchedStream(ReadOnlyStream):
    """One file's stream: each read counted."""

    def __init__(self, raw: BinaryIO, watch: WatchedFiles) -> None:
        self.raw, self.watch = raw, watch

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.watch._read(len(data))
        return data

    def read1(self, size: int = -1) -> bytes:
        read1 = getattr(self.raw, "read1", None)
        data = read1(size) if read1 is not None else self.raw.read(size)
        self.watch._read(len(data))
        return data
