"""The client's transport: gzip streaming, retries with one Idempotency-Key, Retry-After,
cursor pagination, error bodies, download conversion. Driven against a scripted local server."""
from __future__ import annotations

import gzip
import json
import socket

import pytest

from drippulse import cli
from drippulse.client import ApiError, DripPulseClient, TransportError
from tests.cli.fakeserver import FakeServer, job

BUNDLE = {"version": 1, "accounts": [{"public_id": f"acct_{i:04d}", "name": f"A {i}"}
                                     for i in range(3000)]}


def make_client(url: str, sleeps: list[float], **kwargs) -> DripPulseClient:
    return DripPulseClient(url, "dp_test_token", sleep=sleeps.append, **kwargs)


@pytest.fixture
def bundle_file(tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(BUNDLE))
    return path


def test_upload_streams_gzip_and_a_retry_reuses_the_idempotency_key(bundle_file):
    answers = iter([(503, {"Retry-After": "2"}, {"error": {"code": "service_unavailable",
                                                            "message": "busy"}}),
                    (202, {"Location": "/api/v1/crm/jobs/job-1"}, job())])
    sleeps: list[float] = []
    progress: list[tuple[int, int | None]] = []
    with FakeServer(lambda req: next(answers)) as server:
        result = make_client(server.url, sleeps).submit_import(
            bundle_file, on_upload_progress=lambda d, t: progress.append((d, t)))
    assert result["id"] == "job-1"
    posts = server.received
    assert [r.method for r in posts] == ["POST", "POST"]
    assert posts[0].path == posts[1].path == "/api/v1/crm/import"
    keys = {r.headers["Idempotency-Key"] for r in posts}
    assert len(keys) == 1, "a retried upload must carry the same Idempotency-Key"
    for r in posts:
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Authorization"] == "Bearer dp_test_token"
        assert json.loads(gzip.decompress(r.body)) == BUNDLE
        assert len(r.body) < bundle_file.stat().st_size
    assert sleeps == [2.0]
    assert progress[-1] == (bundle_file.stat().st_size, bundle_file.stat().st_size)


def test_already_gzipped_file_is_sent_as_is_with_dry_run(tmp_path):
    path = tmp_path / "bundle.json.gz"
    path.write_bytes(gzip.compress(json.dumps(BUNDLE).encode()))
    with FakeServer(lambda req: (202, {}, job())) as server:
        make_client(server.url, []).submit_import(path, dry_run=True, idempotency_key="k1")
    (req,) = server.received
    assert req.body == path.read_bytes()
    assert req.path == "/api/v1/crm/import?dry_run=true"
    assert req.headers["Idempotency-Key"] == "k1"


def test_429_retry_after_is_honoured_within_bounds():
    answers = iter([(429, {"Retry-After": "7"}, {"error": {"code": "rate_limited",
                                                            "message": "slow down"}})] * 2
                   + [(200, {}, job(status="running"))])
    sleeps: list[float] = []
    with FakeServer(lambda req: next(answers)) as server:
        assert make_client(server.url, sleeps).get_job("job-1")["status"] == "running"
    assert sleeps == [7.0, 7.0]

    sleeps.clear()
    always_busy = (429, {"Retry-After": "120"}, {"error": {"code": "rate_limited",
                                                            "message": "slow down"}})
    with FakeServer(lambda req: always_busy) as server:
        client = make_client(server.url, sleeps, max_retries=2, max_retry_wait=10)
        with pytest.raises(ApiError) as caught:
            client.get_job("job-1")
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
    assert sleeps == [10.0, 10.0], "Retry-After is capped and retries are bounded"


def test_cli_waits_out_a_429_and_succeeds(capsys):
    answers = iter([(429, {"Retry-After": "1"}, {"error": {"code": "rate_limited",
                                                            "message": "slow down"}}),
                    (200, {}, job(status="succeeded"))])
    with FakeServer(lambda req: next(answers)) as server:
        code = cli.main(["jobs", "show", "job-1", "--json", "--url", server.url,
                         "--token", "dp_x_y"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["status"] == "succeeded"
    assert len(server.received) == 2


def test_errors_follow_next_cursors_and_api_errors_are_typed():
    pages = {None: {"items": [{"entity": "accounts", "index": 0}], "next": "c2"},
             "c2": {"items": [{"entity": "accounts", "index": 5}], "next": None}}

    def respond(req):
        if req.path.startswith("/api/v1/crm/jobs/missing"):
            return 404, {}, {"error": {"code": "not_found", "message": "Job not found",
                                       "details": {"id": "missing"}}}
        cursor = req.path.split("cursor=")[1] if "cursor=" in req.path else None
        return 200, {}, pages[cursor]

    with FakeServer(respond) as server:
        client = make_client(server.url, [])
        assert [e["index"] for e in client.iter_job_errors("job-1")] == [0, 5]
        with pytest.raises(ApiError) as caught:
            client.get_job("missing")
    err = caught.value
    assert (err.status, err.code, err.message, err.details) == (
        404, "not_found", "Job not found", {"id": "missing"})


def test_unreachable_server_is_a_transport_error_after_bounded_retries():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    client = make_client(f"http://127.0.0.1:{port}", sleeps, max_retries=3)
    with pytest.raises(TransportError):
        client.get_job("job-1")
    assert len(sleeps) == 3


@pytest.mark.parametrize("served_gzip", [False, True])
@pytest.mark.parametrize("want_gzip", [False, True])
def test_download_writes_what_was_asked_for(tmp_path, served_gzip, want_gzip):
    payload = json.dumps(BUNDLE).encode()
    body = gzip.compress(payload) if served_gzip else payload
    done = job(status="succeeded", links={"download": "/api/v1/crm/jobs/job-1/download"})
    with FakeServer(lambda req: (200, {"Content-Type": "application/octet-stream"}, body)) as srv:
        dest = tmp_path / ("out.json.gz" if want_gzip else "out.json")
        size = make_client(srv.url, []).download(done, dest, gzip=want_gzip)
    raw = dest.read_bytes()
    assert size == len(raw)
    assert (gzip.decompress(raw) if want_gzip else raw) == payload
    assert not list(tmp_path.glob("*.part"))
