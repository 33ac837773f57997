"""A tiny scripted HTTP server for the client's transport behaviour (retries, Retry-After).

The real API cannot be told to answer 429 or drop a connection on cue; this can. Each test
gives a `respond(request) -> (status, headers, body)` function and reads what was received.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class FakeServer:
    respond: Callable[[Received], tuple[int, dict, object]]
    received: list[Received] = field(default_factory=list)

    def __enter__(self) -> FakeServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:  # keep test output quiet
                pass

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                req = Received(self.command, self.path, dict(self.headers), self._read_body())
                outer.received.append(req)
                status, headers, body = outer.respond(req)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def job(job_id: str = "job-1", status: str = "queued", **extra) -> dict:
    return {"id": job_id, "kind": "import", "status": status, "progress": {}, "percent": 0,
            "error_count": 0, "error": None, "created_at": "2026-01-01T00:00:00+00:00",
            "started_at": None, "finished_at": None,
            "links": {"self": f"/api/v1/crm/jobs/{job_id}"}, **extra}
