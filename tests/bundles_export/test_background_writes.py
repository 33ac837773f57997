"""The export job's file is written by a second thread: every chunk once and in order, synced
as it grows, and a failure on either side ends both without hanging (shared/background_writes.py)."""
from __future__ import annotations

import io
import os
import threading

import pytest

from shared import background_writes
from shared.background_writes import writing_in_background


def test_every_chunk_lands_in_order_and_the_file_is_synced_as_it_grows(tmp_path, monkeypatch):
    synced_at: list[int] = []
    real_fdatasync = os.fdatasync
    path = tmp_path / "bundle.json"

    def fdatasync(fd: int) -> None:
        synced_at.append(os.fstat(fd).st_size)
        real_fdatasync(fd)

    monkeypatch.setattr(background_writes.os, "fdatasync", fdatasync)
    chunks = [(b"%05d," % i) * 200 for i in range(500)]  # 1,200 bytes each
    with open(path, "wb") as handle, writing_in_background(handle, sync_every=100_000) as out:
        for chunk in chunks:
            out.write(chunk)
    assert path.read_bytes() == b"".join(chunks)
    # synced every ~100 kB while writing, each time with everything before it on disk
    assert len(synced_at) == 5 and synced_at == sorted(synced_at)
    assert all(size % 1200 == 0 and size >= 100_000 for size in synced_at)


def test_a_target_without_a_file_descriptor_is_written_without_syncing():
    target = io.BytesIO()
    with writing_in_background(target, sync_every=1) as out:
        out.write(b"abc")
        out.write(b"def")
    assert target.getvalue() == b"abcdef"


class _Failing(io.RawIOBase):
    """A disk that fills up after a few writes (or an S3 part upload that is refused)."""

    def __init__(self, after: int) -> None:
        self.after, self.writes = after, 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.writes += 1
        if self.writes > self.after:
            raise OSError(28, "No space left on device")
        return len(data)


def test_the_writer_threads_error_reaches_the_producer_and_nothing_hangs():
    target = _Failing(after=3)
    with pytest.raises(OSError, match="No space left"):
        with writing_in_background(target) as out:
            for _ in range(10_000):  # far more than the queue holds: a dead thread must not
                out.write(b"x" * 10)  # leave the producer waiting on a full queue
    assert target.writes == 4
    assert not any(t.name == "background-writes" for t in threading.enumerate())


def test_a_failing_producer_drops_what_waits_and_stops_the_thread():
    writing, gate = threading.Event(), threading.Event()

    class Slow(io.BytesIO):
        def write(self, data) -> int:
            writing.set()
            gate.wait(5)  # the first write waits until the producer has failed
            return super().write(data)

    target = Slow()
    with pytest.raises(RuntimeError, match="cancelled"):
        with writing_in_background(target) as out:
            for i in range(50):
                out.write(b"%d;" % i)
            assert writing.wait(5)
            threading.Timer(0.2, gate.set).start()  # the write in progress ends after the failure
            raise RuntimeError("cancelled")
    # the chunk being written finished; the 49 waiting behind it were dropped
    assert target.getvalue() == b"0;"
    assert not any(t.name == "background-writes" for t in threading.enumerate())


def test_a_stop_keeps_its_own_exception_when_the_thread_dies_behind_a_full_queue():
    """A worker being stopped (SystemExit) while the queue is full and the thread's write is
    about to fail (a full disk): the stop is what leaves, not the disk error."""
    writing, release = threading.Event(), threading.Event()

    class FullDisk(io.BytesIO):
        def write(self, data) -> int:
            writing.set()
            release.wait(5)
            raise OSError(28, "No space left on device")

    with pytest.raises(SystemExit):
        with writing_in_background(FullDisk()) as out:
            out.write(b"first")
            assert writing.wait(5)
            for _ in range(background_writes.MAX_CHUNKS):
                out.write(b"x")  # the queue is full now
            threading.Timer(0.2, release.set).start()
            raise SystemExit(1)
    assert not any(t.name == "background-writes" for t in threading.enumerate())


def test_a_thread_that_dies_without_an_error_is_not_a_finished_file():
    class NoDescriptor(io.BytesIO):
        def fileno(self):  # an odd target: the thread ends at its first step
            raise TypeError("not a file")

    with pytest.raises(TypeError):
        with writing_in_background(NoDescriptor()) as out:
            out.write(b"abc")
