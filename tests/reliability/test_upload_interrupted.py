"""A client that hangs up mid-upload leaves nothing behind: no job row, no partial file.

Runs a real API server process (gunicorn, one sync worker) and talks to it over a raw socket, so
the connection really closes half-way through the body, as a crashed or cancelled client's does.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from drippulse.proc import free_port, stop_process_group
from shared import db
from shared.models import jobs
from tests.conftest import REPO, settings_env, wait_for

# fault injection against a gunicorn process of its own
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(settings, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("api") / "server.log"
    log = open(log_path, "wb")
    # one sync worker: requests are served one after another, so an answer to the next request
    # means the interrupted one has been dealt with completely
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "api.wsgi:app"],
        env=settings_env(settings), cwd=REPO, start_new_session=True, stdout=log,
        stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return proc.poll() is not None and pytest.fail("the API server exited")
    wait_for(up, timeout=60, interval=0.2, message="the API server to answer")
    yield base, port, log_path
    stop_process_group(proc)
    log.close()


def _send_and_hang_up(port: int, head: str, body: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_RDWR)


def _leftovers(settings, org_id: str) -> tuple[int, list[str]]:
    with db.transaction() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.organization_id == uuid.UUID(org_id))).scalar()
    root = Path(settings.storage_dir)
    files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and org_id in str(p)]
    return rows, files


def _partial_bundle(size: int) -> bytes:
    row = b'{"public_id": "acct_cut_%d", "name": "Cut off"},'
    out = bytearray(b'{"version": 1, "accounts": [')
    i = 0
    while len(out) < size:
        out += row % i
        i += 1
    return bytes(out[:size])


@pytest.mark.parametrize("framing", ["content-length", "chunked", "multipart"])
def test_client_hanging_up_mid_upload_leaves_no_job_and_no_file(settings, server, org, framing):
    base, port, log_path = server
    body = _partial_bundle(512 * 1024)
    auth = f"Authorization: Bearer {org['api_key']}\r\n"
    if framing == "content-length":
        head = (f"POST /api/v1/crm/import HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                f"Content-Type: application/json\r\nContent-Length: {4 * len(body)}\r\n\r\n")
        payload = body
    elif framing == "multipart":
        part = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="b.json"\r\n'
                b"Content-Type: application/json\r\n\r\n")
        head = (f"POST /api/v1/crm/import HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                f"Content-Type: multipart/form-data; boundary=XyZ\r\n"
                f"Content-Length: {4 * len(body)}\r\n\r\n")
        payload = part + body  # neither the rest of the file nor the closing boundary
    else:
        head = (f"POST /api/v1/crm/import HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                           for i in range(0, len(body), 65536))  # no terminating 0-chunk
    log_start = log_path.stat().st_size
    _send_and_hang_up(port, head, payload)
    # the next request is served after the interrupted one has finished (one sync worker)
    assert requests.get(f"{base}/api/v1/me", headers=org["headers"], timeout=60).status_code == 200
    assert _leftovers(settings, org["organization_id"]) == (0, [])
    # and the server saw a client error, not a crash of its own (no 500, no traceback)
    with open(log_path, "rb") as log:
        log.seek(log_start)
        assert b"unhandled error" not in log.read()


def test_a_complete_upload_through_the_same_server_is_accepted(settings, server, org):
    # the control: the same path, not interrupted, makes a job and stores the upload
    base, _, _ = server
    resp = requests.post(f"{base}/api/v1/crm/import",
                         data=b'{"version": 1, "accounts": [{"name": "Whole"}]}',
                         params={"dry_run": "true"}, timeout=60,
                         headers=org["headers"] | {"Content-Type": "application/json"})
    assert resp.status_code == 202, resp.text
    rows, files = _leftovers(settings, org["organization_id"])
    assert rows == 1
    requests.post(f"{base}{resp.json()['links']['self']}/cancel", headers=org["headers"],
                  timeout=60)
