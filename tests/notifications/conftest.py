"""A real HTTP receiver on 127.0.0.1 and helpers that end jobs through shared.jobs.lifecycle."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared import db
from shared.jobs import lifecycle
from shared.jobs.status import JobStatus
from shared.notifications import hook
from shared.services.jobs import create_job
from tests.conftest import replace_settings


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next status of `script` (then 200) and keeps what came."""

    port: int = 0
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/drippulse?x=1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.received.append(Received(dict(self.headers.items()), body))
                status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver says no")

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_private(fresh_settings):
    """The operator setting that lets webhooks reach 127.0.0.1; retries after 1 s, 3 s…"""
    return replace_settings(fresh_settings, webhooks_allow_private=True,
                            webhook_retry_base_seconds=1)


@pytest.fixture
def sent() -> Iterator[list]:
    """Installs a task sender that records (name, args) instead of publishing."""
    calls: list = []
    hook.set_sender(lambda name, args: calls.append((name, args)))
    yield calls
    hook.set_sender(None)


def running_job(organization_id: str, kind: str = "export") -> uuid.UUID:
    org = uuid.UUID(str(organization_id))
    with db.tenant_transaction(org) as conn:
        job = create_job(conn, org, kind, created_by="test")
    assert lifecycle.start(job.id, 5) is not None
    return job.id


def finished_job(organization_id: str, status: JobStatus = JobStatus.SUCCEEDED) -> uuid.UUID:
    job_id = running_job(organization_id)
    assert lifecycle.finish(job_id, status)
    return job_id


def add_webhook(client, org: dict, url: str, events: list[str] | None = None) -> dict:
    resp = client.post("/api/v1/crm/webhooks", headers=org["headers"], json={
        "url": url, "events": events or ["job.succeeded", "job.failed", "job.cancelled",
                                         "job.completed_with_errors"]})
    assert resp.status_code == 201, resp.json
    return resp.json
