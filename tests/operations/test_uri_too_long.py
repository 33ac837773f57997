"""A request line over gunicorn's limit is answered by gunicorn itself, before the app sees it:
that answer is the API's JSON error too (issue 19, Low: 414 answered HTML)."""
from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time

from drippulse.proc import stop_process_group
from drippulse.runtime import build_children
from tests.conftest import REPO, settings_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def test_a_too_long_uri_answers_json(settings):
    port = _free_port()
    api = next(c for c in build_children(settings, port, workers=1) if c.name == "api")
    proc = subprocess.Popen(api.argv, env=settings_env(settings), cwd=REPO,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        status, ctype, body = _get(port, "/api/v1/crm/accounts?q=" + "x" * 20_000)
        assert status == 414
        assert ctype.startswith("application/json"), (ctype, body[:200])
        error = json.loads(body)["error"]
        assert error["code"] == "uri_too_long"
        assert "xxxx" not in body.decode()  # the request line is not echoed
        status, ctype, body = _get(port, "/healthz")  # the server still answers
        assert status == 200
    finally:
        stop_process_group(proc)
