"""Bounds on the bytes the spool parser reads, enforced as they pass (before the parser sees them).

The parser (yajl) hands a string over only once it has read all of it, and its cost grows
faster than the string: one 512 MiB account name in a 0.5 MB gzip kept a worker parsing for
minutes. So the reader under the parser refuses, as soon as the bytes show it:
- more than `max_inflated` bytes in all (the inflated size of a gzip upload);
- more than `max_token` bytes between two string delimiters: inside a JSON string every `"` is
  escaped (preceded by a backslash), so a quote without one always delimits, and no string
  value can be longer than the longest run between such quotes;
and every `check_every` seconds it asks whether the job was cancelled.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import BinaryIO

# The largest value a row may hold is an activity body of 1 M characters; written with \u
# escapes (astral characters as surrogate pairs) that is up to 12 MB of JSON text.
MAX_TOKEN_BYTES = 16 * 1024 * 1024
QUOTE = ord('"')
BACKSLASH = ord("\\")


class SpoolLimit(Exception):
    """The upload passed a bound: the job fails at once with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class SpoolCancelled(Exception):
    """A cancel was requested while the upload was being spooled."""


class GuardedReader:
    """Counts the bytes the parser has consumed (so a broken bundle is reported with where it
    broke) and enforces the bounds above."""

    def __init__(self, stream: BinaryIO, *, max_inflated: int | None = None,
                 max_token: int = MAX_TOKEN_BYTES,
                 cancelled: Callable[[], bool] | None = None,
                 check_every: float = 1.0) -> None:
        self.stream = stream
        self.consumed = 0
        self.max_inflated = max_inflated
        self.max_token = max_token
        self.cancelled = cancelled
        self.check_every = check_every
        self._next_check = time.monotonic() + check_every
        self._gap = 0  # bytes since the last unescaped quote
        self._last = 0  # the previous chunk's last byte (a backslash escapes a leading quote)

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.consumed += len(chunk)
        if self.max_inflated is not None and self.consumed > self.max_inflated:
            raise SpoolLimit("upload_too_large", f"the bundle inflates to more than "
                             f"{self.max_inflated} bytes (DRIPPULSE_MAX_INFLATED_BYTES)")
        for start in range(0, len(chunk), self.max_token):
            self._scan(chunk[start:start + self.max_token])
        if self.cancelled is not None and time.monotonic() >= self._next_check:
            if self.cancelled():
                raise SpoolCancelled()
            self._next_check = time.monotonic() + self.check_every
        return chunk

    def _scan(self, piece: bytes) -> None:
        """Update the run since the last delimiting quote; `piece` is at most max_token long,
        so only a run crossing pieces can pass the bound."""
        if not piece:
            return
        first = _delimiter(piece, self._last, last=False)
        if first is None:
            self._gap += len(piece)
        else:
            self._gap += first
            if self._gap <= self.max_token:
                self._gap = len(piece) - 1 - _delimiter(piece, self._last, last=True)
        self._last = piece[-1]
        if self._gap > self.max_token:
            raise SpoolLimit("value_too_long", f"a value in the bundle is longer than "
                             f"{self.max_token} bytes")


# A quote with no backslash before it (the piece's first byte: see `before`), searched from the
# start, and in the reversed piece from its end: both scans run in the regex engine, so a value
# made of escaped quotes costs no more per byte than plain text.
_FIRST = re.compile(rb'(?<!\\)"')
_LAST_REVERSED = re.compile(rb'"(?!\\)')


def _delimiter(piece: bytes, before: int, *, last: bool) -> int | None:
    """Index of the first (or last) quote of `piece` not escaped by a backslash before it."""
    if last:
        match = _LAST_REVERSED.search(piece[::-1])
        if match is None:
            return None
        index = len(piece) - 1 - match.start()
        return None if index == 0 and before == BACKSLASH else index
    match = _FIRST.search(piece)
    if match is not None and match.start() == 0 and before == BACKSLASH:
        match = _FIRST.search(piece, 1)
    return None if match is None else match.start()
