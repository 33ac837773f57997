"""GET /api/v1/crm/jobs/{id}/events: the job JSON as server-sent events, closed after the final
status."""
from __future__ import annotations

import json
import threading
import time
import uuid

from shared.jobs import lifecycle
from shared.jobs.status import JobStatus
from tests.notifications.conftest import finished_job, running_job


def _events(text: str) -> list[dict]:
    return [json.loads(line[len("data: "):]) for line in text.splitlines()
            if line.startswith("data: ")]


def test_a_finished_job_streams_once_and_closes(client, org):
    job_id = finished_job(org["organization_id"])
    resp = client.get(f"/api/v1/crm/jobs/{job_id}/events", headers=org["headers"])
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache"
    text = resp.get_data(as_text=True)
    assert text.startswith("retry: ")
    [event] = _events(text)
    assert event == client.get(f"/api/v1/crm/jobs/{job_id}", headers=org["headers"]).json


def test_each_change_is_an_event_until_the_final_status(client, org):
    job_id = running_job(org["organization_id"])

    def end_later() -> None:
        time.sleep(0.8)
        lifecycle.finish(job_id, JobStatus.COMPLETED_WITH_ERRORS)

    threading.Thread(target=end_later).start()
    started = time.monotonic()
    resp = client.get(f"/api/v1/crm/jobs/{job_id}/events", headers=org["headers"])
    statuses = [e["status"] for e in _events(resp.get_data(as_text=True))]
    assert statuses == ["running", "completed_with_errors"]
    assert time.monotonic() - started < 5


def test_unknown_or_foreign_job_is_a_404_before_any_stream(client, org, other_org):
    theirs = finished_job(other_org["organization_id"])
    for job_id in (theirs, uuid.uuid4()):
        resp = client.get(f"/api/v1/crm/jobs/{job_id}/events", headers=org["headers"])
        assert resp.status_code == 404 and resp.is_json


def test_streams_beyond_the_cap_are_refused_with_retry_after(client, org):
    from api.routes import job_events

    job_id = finished_job(org["organization_id"])
    taken = 0
    while job_events._slots.acquire(blocking=False):
        taken += 1
    try:
        resp = client.get(f"/api/v1/crm/jobs/{job_id}/events", headers=org["headers"])
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
        assert resp.json["error"]["code"] == "streams_busy"
    finally:
        for _ in range(taken):
            job_events._slots.release()
    assert taken == job_events.MAX_STREAMS
    ok = client.get(f"/api/v1/crm/jobs/{job_id}/events", headers=org["headers"])
    assert ok.status_code == 200 and len(_events(ok.get_data(as_text=True))) == 1
