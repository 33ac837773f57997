"""How slowly a client may send a request, enforced where gunicorn reads the socket (issue 19,
audit item 6: six uploads trickling a few bytes every few seconds held every API thread).

gunicorn's gthread worker parks a connection in its poller only until the first byte and
between kept-alive requests; from the first byte of a request to the end of its body, a thread
blocks in `recv()` with no timeout. `ReadGuard` stands in for the socket under gunicorn's
request parser and gives each `recv()` a timeout from the request's phase:

- headers: the request line and headers must be complete within `header_seconds` of their first
  byte (a slowloris); past it the connection is closed without an answer (there is no request
  to answer yet);
- body: no wait for the next byte longer than `idle_seconds`, and once the client has kept the
  server waiting `grace_seconds` in all, at least `min_bytes_per_second` on average over that
  waiting (so one byte every idle-1 seconds is cut too). Past either, `BodyTooSlow` (408) is
  raised to whatever is reading the body, for every framing: Content-Length, chunked, multipart;
- drain: what the app left unread (it answered 401 before reading, say) is drained within
  DRAIN_SECONDS in all, else the connection is closed.

Only time spent waiting in `recv()` counts against the client: time the app spends storing what
it already read is the server's, not the client's.
"""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from gunicorn.http.errors import NoMoreData

from shared.config import Settings
from shared.errors import AppError

log = logging.getLogger("drippulse.api")

# after a cut, how long the worker thread lingers for the client to read the 408 before the
# connection is shut; short, since the client is known to be slow or hostile
CUT_LINGER_SECONDS = 0.5
CUT_LINGER_BYTES = 64 * 1024
# what the app left unread of a body is drained (for keep-alive) within this many seconds in
# all: gunicorn means to bound its drain so (5 s), but renews the timeout at every recv and
# asks for 1 KiB at a time, so a client sending a byte every few seconds held the thread for
# many minutes after its answer (a 401 to an unauthenticated upload, say)
DRAIN_SECONDS = 5.0


class BodyTooSlow(AppError):
    """The request body stopped or crawled; the API's JSON error, 408. Not an OSError on
    purpose: werkzeug and the upload code turn OSErrors from the body into "client went away"
    answers, and this one must reach the error handler as itself."""

    status, code = 408, "request_timeout"


@dataclass(frozen=True)
class ReadLimits:
    """The bounds, in seconds and bytes per second; 0 turns one off."""

    header_seconds: float
    idle_seconds: float
    min_bytes_per_second: float
    grace_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        return cls(header_seconds=settings.header_timeout_seconds,
                   idle_seconds=settings.body_idle_timeout_seconds,
                   min_bytes_per_second=settings.body_min_bytes_per_second,
                   grace_seconds=settings.body_rate_grace_seconds)


_HEADERS, _BODY, _DRAIN = "headers", "body", "drain"


class ReadGuard:
    """The connection's socket as gunicorn's request parser sees it (its unreader's `sock`):
    `recv` is bounded by the current phase, everything else is the socket's own. The worker
    moves it through the phases: `expect_headers` when a thread picks the connection up,
    `expect_body` once the headers are parsed, `answered` when the app has answered (gunicorn
    then drains what the app left unread) and `stop` when the thread lets the connection go."""

    def __init__(self, sock: socket.socket, limits: ReadLimits) -> None:
        self._sock = sock
        self._limits = limits
        self._phase: str | None = None
        self._deadline: float | None = None  # headers, drain: set at their first recv
        self._waited = 0.0  # body: seconds spent blocked in recv
        self._received = 0  # body: bytes received
        self._rate_bound = False  # body: the current wait is bounded by the rate, not idleness
        self._on_cut: Callable[[], None] | None = None
        self.cut = False  # this guard ended a request: the connection must close

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def expect_headers(self) -> None:
        self._phase, self._deadline, self.cut = _HEADERS, None, False

    def expect_body(self, on_cut: Callable[[], None] | None = None) -> None:
        self._phase, self._waited, self._received, self._on_cut = _BODY, 0.0, 0, on_cut

    def answered(self) -> None:
        self._phase, self._deadline = _DRAIN, None

    def stop(self) -> None:
        self._phase = None

    def recv(self, size: int, flags: int = 0) -> bytes:
        timeout = self._timeout()
        if timeout is None:
            return self._sock.recv(size, flags)
        prior = self._sock.gettimeout()
        if prior is not None and prior <= timeout:  # the caller's own deadline comes first
            return self._sock.recv(size, flags)
        started = time.monotonic()
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(size, flags)
        except TimeoutError:
            self._account(started, 0)
            self._expired()
            raise  # _expired always raises; for the type checker
        finally:
            self._sock.settimeout(prior)
        self._account(started, len(data))
        return data

    def _account(self, started: float, received: int) -> None:
        if self._phase == _BODY:
            self._waited += time.monotonic() - started
            self._received += received

    def _timeout(self) -> float | None:
        """Seconds the next recv may block, None for no bound; raises when none is left."""
        if self._phase == _BODY:
            idle, rate = self._idle_left(), self._rate_left()
            self._rate_bound = rate < idle  # which bound a timeout of this wait would break
            remaining = min(idle, rate)
        elif self._phase in (_HEADERS, _DRAIN):
            remaining = self._deadline_left()
        else:
            return None
        if remaining == float("inf"):
            return None
        if remaining <= 0:
            self._expired()
        return remaining

    def _deadline_left(self) -> float:
        seconds = self._limits.header_seconds if self._phase == _HEADERS else DRAIN_SECONDS
        if not seconds:
            return float("inf")
        if self._deadline is None:
            self._deadline = time.monotonic() + seconds
        return self._deadline - time.monotonic()

    def _idle_left(self) -> float:
        return self._limits.idle_seconds or float("inf")

    def _rate_left(self) -> float:
        """Waiting the client may still cause before its average falls under the minimum."""
        rate = self._limits.min_bytes_per_second
        if not rate:
            return float("inf")
        return max(self._limits.grace_seconds, self._received / rate) - self._waited

    def _expired(self) -> None:
        self.cut = True
        if self._phase == _HEADERS:
            log.info("request headers incomplete after %ss; connection closed",
                     self._limits.header_seconds)
            # what gunicorn raises when a client hangs up mid-headers: it closes quietly
            raise NoMoreData(b"")
        if self._phase == _DRAIN:
            # gunicorn's drain gives up on a timeout and closes the connection
            raise TimeoutError("the unread request body did not end in time")
        if self._on_cut is not None:
            self._on_cut()
        if self._rate_bound:
            message = (f"The request body arrived slower than "
                       f"{self._limits.min_bytes_per_second:g} bytes per second")
            details = {"min_bytes_per_second": self._limits.min_bytes_per_second,
                       "grace_seconds": self._limits.grace_seconds}
        else:
            message = f"No request body bytes arrived for {self._limits.idle_seconds:g} seconds"
            details = {"idle_timeout_seconds": self._limits.idle_seconds}
        log.warning("slow request body cut: %d bytes in %.1fs of waiting; %s",
                    self._received, self._waited, message)
        raise BodyTooSlow(message, {**details, "received_bytes": self._received})


def end_cut_connection(sock: socket.socket) -> None:
    """Close the write side after the 408 and give the client a moment to read it, here in the
    request's own thread; then shut the read side so gunicorn's close on its main loop (which
    would linger up to 2 s per connection reading what a trickler still sends, holding up every
    other connection of the process) finds nothing left to wait for."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + CUT_LINGER_SECONDS
        drained = 0
        while drained < CUT_LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            data = sock.recv(4096)
            if not data:
                break
            drained += len(data)
    except OSError:  # timed out, reset or already closed: shut it all the same
        pass
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
