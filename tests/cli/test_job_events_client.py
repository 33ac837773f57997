"""The client follows a job through its event stream when the server has one, and polls when
it has none or is busy."""
from __future__ import annotations

import io

import orjson
import pytest

from drippulse.client import DripPulseClient
from tests.bundles.helpers import bundle
from tests.cli.fakeserver import FakeServer, job


@pytest.mark.usefixtures("worker")
def test_wait_for_job_follows_the_event_stream_without_polling(api_server, org):
    client = DripPulseClient(api_server, org["api_key"])
    queued = client.submit_import(io.BytesIO(orjson.dumps(bundle(
        accounts=[{"name": f"A{i}"} for i in range(50)]))))
    seen = []
    original_get = client.get_job
    client.get_job = lambda *_a, **_k: pytest.fail("polled although the server streams")
    final = client.wait_for_job(queued["id"], on_progress=seen.append, timeout=60)
    client.get_job = original_get
    assert final["status"] == "succeeded"
    assert seen and seen[-1] == final


def test_a_busy_or_old_server_is_polled(capsys):
    calls = []

    def respond(req):
        calls.append(req.path)
        if req.path.endswith("/events"):
            return 503, {"Retry-After": "5"}, {"error": {"code": "streams_busy",
                                                         "message": "busy", "details": None}}
        return 200, {}, job(status="succeeded")

    with FakeServer(respond) as server:
        client = DripPulseClient(server.url, "dp_test_token")
        assert client.wait_for_job("job-1", timeout=10)["status"] == "succeeded"
    assert [p.rsplit("/", 1)[-1] for p in calls] == ["events", "job-1"]  # one try, no retries
