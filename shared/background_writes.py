"""Writing a stream to a file from a second thread, so that the disk (or an S3 part upload)
works while the producer keeps reading from Postgres.

Without it the export job stops reading rows for every write, for every S3 part upload (one
blocking PUT per part) and, at the end, for the whole fsync of the file. The thread also calls
fdatasync every `sync_every` bytes of a real file: the final fsync of the storage writer then
waits for the last stretch only. Memory stays bounded: at most `max_chunks` chunks wait.
"""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

SYNC_EVERY = 64 * 1024**2
MAX_CHUNKS = 128  # of ~64 KiB each: ~8 MiB waiting at most
_END = None


class BackgroundWriter:
    def __init__(self, target: BinaryIO, sync_every: int = SYNC_EVERY,
                 max_chunks: int = MAX_CHUNKS) -> None:
        self._target = target
        self._sync_every = sync_every
        self._queue: queue.Queue[bytes | None] = queue.Queue(max_chunks)
        self._error: BaseException | None = None
        self._finished = False  # the thread wrote everything up to the end marker
        self._abandoned = False
        self._thread = threading.Thread(target=self._drain, name="background-writes", daemon=True)
        self._thread.start()

    def write(self, chunk: bytes) -> None:
        self._raise_if_failed()
        self._put(chunk)

    def close(self) -> None:
        """Wait for every chunk to be written; raises the writer thread's error, if any."""
        self._put(_END)
        self._thread.join()
        self._raise_if_failed()  # the thread has ended: finished, or an error to raise

    def abandon(self, wait_seconds: float = 5) -> None:
        """Stop without writing what still waits (the caller is failing anyway). Never raises:
        the caller's own error is the one that matters. A write in progress (an S3 part upload
        cannot be interrupted) gets `wait_seconds`; the daemon thread is left behind after that."""
        self._abandoned = True
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        try:
            self._queue.put_nowait(_END)
        except queue.Full:  # refilled meanwhile? the thread drops items once abandoned
            pass
        self._thread.join(wait_seconds)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive() and not self._finished:
            raise RuntimeError("the background writer stopped before writing everything")

    def _put(self, item: bytes | None) -> None:
        # a thread that died no longer empties the queue: never wait for it forever
        while True:
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                self._raise_if_failed()

    def _drain(self) -> None:
        try:
            fileno = _fileno(self._target)
            unsynced = 0
            while (chunk := self._queue.get()) is not _END:
                if self._abandoned:
                    continue
                self._target.write(chunk)
                unsynced += len(chunk)
                if fileno is not None and unsynced >= self._sync_every:
                    self._target.flush()
                    os.fdatasync(fileno)
                    unsynced = 0
            self._finished = not self._abandoned
        except BaseException as exc:  # noqa: BLE001 - handed to the producer, raised there
            self._error = exc


def _fileno(target: BinaryIO) -> int | None:
    try:
        return target.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


@contextmanager
def writing_in_background(target: BinaryIO, sync_every: int = SYNC_EVERY) -> Iterator[
        BackgroundWriter]:
    """Yield a writer whose write() hands chunks to a thread; leaving the block waits for them
    all (and raises the thread's error); an error in the block drops what still waits."""
    writer = BackgroundWriter(target, sync_every)
    try:
        yield writer
        writer.close()
    except BaseException:
        # also a stop that lands while close() waits: the thread must not go on writing
        # while the storage writer aborts or deletes its target
        writer.abandon()
        raise
