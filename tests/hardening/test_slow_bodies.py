"""Slow clients cannot hold the API's threads (issue 19, audit item 6): a real gunicorn with one
process of two threads, short bounds through the settings, and more trickling requests than
threads, over raw sockets. Before the bounds, two tricklers held both threads for as long as
they kept trickling and /healthz never answered."""
from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time

import pytest

from drippulse.proc import stop_process_group
from drippulse.runtime import build_children
from shared.services import organizations
from tests.conftest import REPO, settings_env

pytestmark = pytest.mark.slow

THREADS = 2
LIMITS = {
    "DRIPPULSE_HEADER_TIMEOUT_SECONDS": "2",
    "DRIPPULSE_BODY_IDLE_TIMEOUT_SECONDS": "2",
    "DRIPPULSE_BODY_RATE_GRACE_SECONDS": "3",
    "DRIPPULSE_BODY_MIN_BYTES_PER_SECOND": "1024",
}
TRICKLE_EVERY = 0.3  # seconds between bytes: never idle for 2 s, far under 1024 bytes/s
TRICKLE_FOR = 60.0  # a trickler gives up by itself only after this (today: cut long before)
BOUND = 30.0  # generous: every trickler is cut after a few seconds of thread time, in turn
BOUNDARY = "slowbody"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, timeout: float = 10) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.fixture(scope="module")
def api(settings):
    """gunicorn as `drippulse up` runs it (its worker class), with 2 threads and short bounds."""
    port = _free_port()
    child = next(c for c in build_children(settings, port, workers=1) if c.name == "api")
    proc = subprocess.Popen([*child.argv, "--threads", str(THREADS)],
                            env=settings_env(settings) | LIMITS, cwd=REPO,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        key = organizations.create_organization("Slow bodies")["api_key"]
        yield {"port": port, "key": key}
    finally:
        stop_process_group(proc)


class Trickler:
    """A raw connection that sends `head` at once, then `piece` every TRICKLE_EVERY seconds
    (nothing if `piece` is empty) until the server answers (or, with `keep_sending`, until it
    closes), and records what the server sent back and when it closed."""

    def __init__(self, port: int, head: bytes, piece: bytes, keep_sending: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TRICKLE_FOR + 10)
        self.head, self.piece, self.keep_sending = head, piece, keep_sending
        self.answer = b""
        self.started = time.monotonic()
        self.ended: float | None = None
        self._answered = threading.Event()
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]

    def start(self) -> Trickler:
        self.sock.sendall(self.head)
        for thread in self._threads:
            thread.start()
        return self

    def _send(self) -> None:
        stop = self.started + TRICKLE_FOR
        try:
            done = self._closed if self.keep_sending else self._answered
            while not done.wait(TRICKLE_EVERY) and time.monotonic() < stop:
                if self.piece:
                    self.sock.sendall(self.piece)
        except OSError:  # the server closed the connection
            pass

    def _receive(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.answer += chunk
                self._answered.set()
        except OSError:  # reset after the answer, or timed out
            pass
        self.ended = time.monotonic()
        self._answered.set()
        self._closed.set()

    def wait(self) -> Trickler:
        for thread in self._threads:
            thread.join(BOUND + 10)
        self.sock.close()
        return self

    @property
    def seconds(self) -> float:
        assert self.ended is not None, "the server never ended this request"
        return self.ended - self.started

    def response(self) -> tuple[int, dict[str, str], dict]:
        head, _, body = self.answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, \
            json.loads(body)


def _request(path: str, key: str, content_type: str, framing: str, prefix: bytes = b"") -> bytes:
    length = "Transfer-Encoding: chunked" if framing == "chunked" else "Content-Length: 100000"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {content_type}\r\n{length}\r\n\r\n").encode()
    if prefix:
        head += (b"%x\r\n%s\r\n" % (len(prefix), prefix)) if framing == "chunked" else prefix
    return head


def _piece(framing: str) -> bytes:
    return b"1\r\n \r\n" if framing == "chunked" else b" "


def _multipart_prefix() -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"bundle.json\"\r\nContent-Type: application/json\r\n\r\n").encode()


def test_trickling_bodies_are_cut_with_408_and_healthz_still_answers(api):
    port, key = api["port"], api["key"]
    imports = "/api/v1/crm/import"
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    trickling = {  # name -> (head, piece): every framing, more requests than threads
        "json, Content-Length": (_request(imports, key, "application/json", "length"),
                                 _piece("length")),
        "json, chunked": (_request(imports, key, "application/json", "chunked"),
                          _piece("chunked")),
        "multipart, Content-Length": (
            _request(imports, key, multipart, "length", _multipart_prefix()), _piece("length")),
        "multipart, chunked": (
            _request(imports, key, multipart, "chunked", _multipart_prefix()),
            _piece("chunked")),
        "POST /accounts": (_request("/api/v1/crm/accounts", key, "application/json", "length"),
                           _piece("length")),
    }
    tricklers = {name: Trickler(port, head, piece).start()
                 for name, (head, piece) in trickling.items()}
    silent = Trickler(port, _request(imports, key, "application/json", "length"), b"").start()
    assert len(tricklers) + 1 > THREADS

    time.sleep(1)  # every thread is now reading a trickling body
    assert _get(port, "/healthz", timeout=BOUND) == 200

    for name, trickler in [*tricklers.items(), ("silent", silent)]:
        trickler.wait()
        assert trickler.seconds < BOUND, name
        status, headers, body = trickler.response()
        assert status == 408, (name, trickler.answer[:300])
        assert headers.get("connection") == "close", name
        assert body["error"]["code"] == "request_timeout", name
    # a byte now and then is still cut, by the average rate; a body that stops, by idleness
    for name, trickler in tricklers.items():
        assert trickler.response()[2]["error"]["details"]["min_bytes_per_second"] == 1024, name
    assert silent.response()[2]["error"]["details"]["idle_timeout_seconds"] == 2

    # the server is healthy afterwards: an ordinary upload goes through
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", f"{imports}?dry_run=true", body=b'{"version": 1}',
                     headers={"Authorization": f"Bearer {key}",
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 202, response.read()[:300]
    finally:
        conn.close()


def test_headers_that_never_finish_are_closed(api):
    port = api["port"]
    start = b"POST /api/v1/crm/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    slowloris = [Trickler(port, start, b"X").start() for _ in range(THREADS + 1)]

    time.sleep(1)
    assert _get(port, "/healthz", timeout=BOUND) == 200

    for trickler in slowloris:
        trickler.wait()
        assert trickler.seconds < BOUND
        assert trickler.answer == b""  # closed: there is no request to answer yet


def test_a_trickled_body_the_app_does_not_read_is_let_go(api):
    """No API key: 401 at once, without reading the body. gunicorn then drains the unread body
    for keep-alive, a byte at a time while it trickles: that drain used to hold the thread for
    minutes after the answer."""
    port = api["port"]
    head = (b"POST /api/v1/crm/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    unauthenticated = [Trickler(port, head, b" ", keep_sending=True).start()
                       for _ in range(THREADS + 1)]

    time.sleep(1)
    assert _get(port, "/healthz", timeout=BOUND) == 200

    for trickler in unauthenticated:
        trickler.wait()
        assert trickler.seconds < BOUND  # the connection was closed
        status, _, body = trickler.response()
        assert status == 401
        assert body["error"]["code"] == "unauthorized"
