"""Progress display for the client commands: live bars on a terminal, plain lines in logs.

A Reporter receives upload/download byte counts and each polled job; `reporter_for()` picks
bars when both stdout and stderr are terminals, plain lines otherwise, nothing for --json.
Progress goes to stderr so stdout stays clean for the summary (or the JSON document).
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from shared.entities import ENTITIES

ENTITY_ORDER = tuple(e.plural for e in ENTITIES)
BAR_WIDTH = 24
PLAIN_EVERY = 5.0  # seconds between two log lines about one entity (its last line always shows)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def human_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def reading_line(reading: dict) -> str:
    """While an import reads its upload (before any row is applied): how far it got, in the
    dashboard's words."""
    done, total = int(reading.get("bytes") or 0), reading.get("bytes_total")
    of = f" of {human_bytes(total)} ({done * 100 // int(total)}%)" if total else ""
    return (f"Reading the upload… {human_bytes(done)}{of} · "
            f"{int(reading.get('rows') or 0):,} rows")


def ordered_entities(progress: dict) -> list[tuple[str, dict]]:
    known = [(name, progress[name]) for name in ENTITY_ORDER if name in progress]
    return known + [(k, v) for k, v in progress.items() if k not in ENTITY_ORDER]


class Reporter:
    """Silent: the --json mode and library use."""

    def start_upload(self, what: str) -> None: ...
    def upload(self, done: int, total: int | None) -> None: ...
    def download(self, done: int, total: int | None) -> None: ...
    def job(self, job: dict) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class _Rates:
    """Rows per second per entity, measured from the first poll that saw it move."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[float, int]] = {}
        self._final: dict[str, float | None] = {}

    def rate(self, name: str, processed: int, total: int | None = None) -> float | None:
        if name in self._final:  # a finished entity keeps the rate it finished at
            return self._final[name]
        value = self._measure(name, processed)
        if total and processed >= total:  # total 0 means "not counted yet", not "done"
            self._final[name] = value
        return value

    def _measure(self, name: str, processed: int) -> float | None:
        now = time.monotonic()
        first = self._first.get(name)
        if first is None or first[1] == processed == 0:  # the clock starts when rows move
            first = self._first[name] = (now, processed)
        elapsed = now - first[0]
        return (processed - first[1]) / elapsed if elapsed > 0.2 else None


class PlainReporter(Reporter):
    """One line per meaningful change; suited to CI logs and pipes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._status: str | None = None
        self._printed: dict[str, tuple[int, float]] = {}
        self._upload_started: float | None = None
        self._upload_what = "bundle"
        self._upload_done = False
        self._download_done = False
        self._rates = _Rates()
        self._read_at: float | None = None  # when the last reading line was printed

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start_upload(self, what: str) -> None:
        self._upload_what = what

    def upload(self, done: int, total: int | None) -> None:
        finished = bool(total) and done >= (total or 0)
        if self._upload_started is None:
            self._upload_started = time.monotonic()
            size = f"{human_bytes(total)} " if total else ""
            self._line(f"uploading {size}{self._upload_what}")
        if finished and not self._upload_done:
            self._upload_done = True
            took = time.monotonic() - self._upload_started
            self._line(f"uploaded {human_bytes(done)} in {took:.1f}s")

    def download(self, done: int, total: int | None) -> None:
        # the transport reports the end more than once (last chunk, then the close)
        if done and total and done >= total and not self._download_done:
            self._download_done = True
            self._line(f"downloaded {human_bytes(done)}")

    def job(self, job: dict) -> None:
        status = job.get("status")
        terminal = status in ("succeeded", "completed_with_errors", "failed", "cancelled")
        if status != self._status and not terminal:
            self._line(f"job {job.get('id')} {status}")
        self._reading(job.get("reading"))
        self._counts(job)
        if status != self._status and terminal:  # after the last counts, not before them
            self._line(f"job {job.get('id')} {status}")
        self._status = status

    def _reading(self, reading: dict | None) -> None:
        now = time.monotonic()
        if reading and (self._read_at is None or now - self._read_at >= PLAIN_EVERY):
            self._read_at = now
            self._line(f"  {reading_line(reading)}")

    def _counts(self, job: dict) -> None:
        now = time.monotonic()
        for name, counts in ordered_entities(job.get("progress") or {}):
            processed, total = int(counts.get("processed") or 0), counts.get("total")
            last = self._printed.get(name)
            rate = self._rates.rate(name, processed, None if total is None else int(total))
            finished = bool(total) and processed >= int(total)
            if last is None and processed == 0:
                continue
            if last is not None and (last[0] == processed
                                     or (now - last[1] < PLAIN_EVERY and not finished)):
                continue
            self._printed[name] = (processed, now)
            speed = f", {rate:,.0f} rows/s" if rate else ""
            of = f"{int(total):,}" if total is not None else "?"
            self._line(f"  {name}: {processed:,}/{of}{speed}")

    def note(self, text: str) -> None:
        self._line(text)


class TtyReporter(Reporter):
    """Redrawn bars: upload (bytes, %), then one bar per entity with rows/s and ETA."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._drawn = 0
        self._last_draw = 0.0
        self._lines: list[str] = []
        self._rates = _Rates()
        self._started = time.monotonic()
        self._block: str | None = None  # what the drawn lines show: upload, job or download
        self._finished: set[str] = set()  # transfers whose last frame is committed

    @staticmethod
    def _bar(fraction: float) -> str:
        filled = int(BAR_WIDTH * max(0.0, min(1.0, fraction)))
        return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"

    def _draw(self, lines: list[str], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1 and len(lines) == len(self._lines):
            self._lines = lines
            return
        self._last_draw, self._lines = now, lines
        out = ""
        if self._drawn:
            out += f"\x1b[{self._drawn}A"  # back to the first bar line
        for line in lines:
            out += "\r\x1b[2K" + line + "\n"
        if len(lines) < self._drawn:  # a shorter frame: clear what the longer one left below
            out += "\x1b[J"
        self.stream.write(out)
        self.stream.flush()
        self._drawn = len(lines)

    def _commit(self) -> None:
        """Keep what is drawn on screen; the next bars start below it."""
        self._draw(self._lines, force=True)
        self._drawn = 0

    def _enter(self, block: str) -> None:
        """A new kind of block starts below the last one instead of over it (the download
        after an export's job block, the job after the upload)."""
        if self._block != block:
            if self._lines:
                self._commit()
            self._lines = []
            self._block = block
            if block != "job":
                self._started = time.monotonic()

    def upload(self, done: int, total: int | None) -> None:
        self._transfer("upload", done, total)

    def download(self, done: int, total: int | None) -> None:
        self._transfer("download", done, total)

    def _transfer(self, label: str, done: int, total: int | None) -> None:
        if label in self._finished:  # the end is reported more than once: drawn already
            return
        self._enter(label)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        speed = f"{human_bytes(done / elapsed)}/s"
        if total:
            line = (f"{label:<13} {self._bar(done / total)} {done * 100 // max(total, 1):3d}%"
                    f"  {human_bytes(done)}/{human_bytes(total)}  {speed}")
        else:
            line = f"{label:<13} {human_bytes(done)}  {speed}"
        finished = bool(total) and done >= (total or 0)
        self._draw([line], force=finished)
        if finished:
            self._finished.add(label)
            self._drawn, self._lines, self._block = 0, [], None  # the last frame stays

    def job(self, job: dict) -> None:
        self._enter("job")
        lines = [f"job {job.get('id')}  {job.get('status')}  {job.get('percent', 0)}%"]
        if job.get("reading"):
            lines.append(reading_line(job["reading"]))
        for name, counts in ordered_entities(job.get("progress") or {}):
            processed = int(counts.get("processed") or 0)
            total = counts.get("total")
            rate = self._rates.rate(name, processed, None if total is None else int(total))
            if total:
                frac = processed / int(total)
                eta = (f"ETA {human_duration((int(total) - processed) / rate)}"
                       if rate and processed < int(total) else "")
                bar = f"{self._bar(frac)} {processed:>9,}/{int(total):,}"
            else:
                bar, eta = f"{self._bar(0)} {processed:>9,}", ""
            speed = f"{rate:>8,.0f} rows/s" if rate else ""
            lines.append(f"{name:<13} {bar}  {speed}  {eta}".rstrip())
        self._draw(lines, force=job.get("status") != "running")

    def note(self, text: str) -> None:
        self._commit()
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._lines:
            self._commit()


def reporter_for(json_mode: bool, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> Reporter:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if json_mode:
        return Reporter()
    if stdout.isatty() and stderr.isatty():
        return TtyReporter(stderr)
    return PlainReporter(stderr)
