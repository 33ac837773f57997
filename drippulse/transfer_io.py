"""Streaming file plumbing for the client: gzip on the wire going up (a zip as it is),
gzip-or-not coming down.

Nothing here holds a whole bundle in memory: uploads are read (and compressed) in chunks, and
downloads are written chunk by chunk to a `.part` file renamed when complete.
"""
from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"
# Level 1: JSON still shrinks 5-8x, and the client's CPU (not the wire) stays off the
# critical path when the server is on the same machine or LAN.
GZIP_LEVEL = 1

ProgressCallback = Callable[[int, int | None], None]


def _gzip_compressor() -> zlib._Compress:
    return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31 = gzip container


class GzipUpload:
    """A re-readable gzip body for one bundle: each `body()` call starts from the beginning,
    so a retried request sends the same bytes. Progress counts source bytes read."""

    def __init__(self, source: str | Path | IO[bytes],
                 on_progress: ProgressCallback | None = None) -> None:
        self.on_progress = on_progress
        self._path: Path | None = None
        self._file: IO[bytes] | None = None
        if isinstance(source, str | Path):
            self._path = Path(source)
            self.total: int | None = self._path.stat().st_size
        else:
            self._file = source
            try:
                self._start: int | None = source.tell() if source.seekable() else None
            except OSError:  # a pipe: readable once, so no retry either
                self._start = None
            try:
                self.total = os.fstat(source.fileno()).st_size - (self._start or 0)
            except (OSError, AttributeError, ValueError):
                self.total = None
        self._opened: list[IO[bytes]] = []
        self._spool: IO[bytes] | None = None

    def _open(self) -> IO[bytes]:
        if self._path is not None:
            handle = self._path.open("rb")
            self._opened.append(handle)
            return handle
        assert self._file is not None
        if self._start is not None:
            self._file.seek(self._start)
        elif self._opened:
            raise OSError("the upload cannot be retried: its file object is not seekable")
        self._opened.append(self._file)
        return self._file

    def _chunks(self) -> Iterator[bytes]:
        """The wire bytes: the source as-is when it is already gzip, else compressed."""
        handle = self._open()
        first = handle.read(CHUNK)
        done = len(first)
        already_gzip = first[:2] == GZIP_MAGIC
        compressor = None if already_gzip else _gzip_compressor()
        chunk = first
        while chunk:
            if self.on_progress:
                self.on_progress(done, self.total)
            out = chunk if compressor is None else compressor.compress(chunk)
            if out:
                yield out
            chunk = handle.read(CHUNK)
            done += len(chunk)
        if compressor is not None:
            yield compressor.flush()
        if self.on_progress:  # the end is known now even when the size was not
            self.on_progress(done, self.total or done)

    def body(self) -> Iterator[bytes]:
        """A generator body: requests sends it with chunked transfer encoding."""
        return self._chunks()

    def spooled_body(self) -> IO[bytes]:
        """For servers that insist on Content-Length: the gzip bytes in a temporary file."""
        if self._spool is None:
            self._spool = tempfile.TemporaryFile(prefix="drippulse-upload-")
            for part in self._chunks():
                self._spool.write(part)
        self._spool.seek(0)
        return self._spool

    def close(self) -> None:
        for handle in self._opened:
            if handle is not self._file:
                handle.close()
        self._opened.clear()
        if self._spool is not None:
            self._spool.close()
            self._spool = None


class FileUpload:
    """A file sent as it is, with a Content-Length (a zip gains nothing from gzip): each
    `body()` reads it from the start again, so a retried request sends the same bytes.
    Progress counts bytes read."""

    def __init__(self, path: str | Path, on_progress: ProgressCallback | None = None) -> None:
        self.path = Path(path)
        self.total = self.path.stat().st_size
        self.on_progress = on_progress
        self._opened: list[IO[bytes]] = []

    def body(self) -> _CountingReader:
        handle = self.path.open("rb")
        self._opened.append(handle)
        return _CountingReader(handle, self.total, self.on_progress)

    def close(self) -> None:
        for handle in self._opened:
            handle.close()
        self._opened.clear()


class _CountingReader:
    """A file body that reports progress as the HTTP library reads it. `__len__` gives requests
    the Content-Length; `__iter__` makes it treat the object as a stream, not as form data."""

    def __init__(self, handle: IO[bytes], total: int,
                 on_progress: ProgressCallback | None) -> None:
        self._handle = handle
        self._total = total
        self._done = 0
        self._on_progress = on_progress

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._done += len(data)
        if self._on_progress and (data or self._done == self._total):
            self._on_progress(self._done, self._total)
        return data

    def __len__(self) -> int:
        return self._total

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(CHUNK), b"")


def save_stream(raw: IO[bytes], dest: Path, *, want_gzip: bool, total: int | None = None,
                on_progress: ProgressCallback | None = None) -> int:
    """Copy a download to `dest`, converting between gzip and plain JSON as asked.

    The server may send gzip (as a .gz file or Content-Encoding) or plain JSON; the first two
    bytes tell which. Returns the number of bytes written to `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    written = received = 0
    transform: Callable[[bytes], bytes] | None = None
    finish: Callable[[], bytes] = bytes
    try:
        with part.open("wb") as out:
            while True:
                chunk = raw.read(CHUNK)
                if not chunk:
                    break
                if received == 0:
                    is_gzip = chunk[:2] == GZIP_MAGIC
                    if is_gzip and not want_gzip:
                        # wbits 47: accept a gzip or zlib header
                        decompressor = zlib.decompressobj(47)
                        transform, finish = decompressor.decompress, decompressor.flush
                    elif want_gzip and not is_gzip:
                        compressor = _gzip_compressor()
                        transform, finish = compressor.compress, compressor.flush
                received += len(chunk)
                data = transform(chunk) if transform else chunk
                out.write(data)
                written += len(data)
                if on_progress:
                    on_progress(received, total)
            tail = finish()
            out.write(tail)
            written += len(tail)
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return written
