"""GET /api/v1/crm/jobs/{id}/events: the job JSON as server-sent events, one per change.

Under gunicorn's threaded workers a stream holds a thread, so a stream is short and the number
of them per process is capped: the row is read every POLL_SECONDS, the stream ends after
MAX_STREAM_SECONDS (the `retry:` hint tells EventSource to reconnect, and the first event of
a new stream is the job as it is then, so nothing is missed), and beyond MAX_STREAMS open
streams the answer is 503 with Retry-After — clients then poll GET jobs/{id}. The stream ends
after the event carrying a final status.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, jsonify

from api import context
from shared.errors import ServiceUnavailable
from shared.jobs.status import FINISHED
from shared.services import jobs as job_service
from shared.urls import CRM_API

bp = Blueprint("job_events", __name__, url_prefix=f"{CRM_API}/jobs")

POLL_SECONDS = 0.5
MAX_STREAM_SECONDS = 30.0
KEEPALIVE_SECONDS = 10.0
RECONNECT_MS = 1000
# half of api/gunicorn_conf.py's 8 threads: streams never take every thread from the API
MAX_STREAMS = 4

_slots = threading.BoundedSemaphore(MAX_STREAMS)


def _events(org, job_id, *, deadline: float, release: Callable[[], None]) -> Iterator[str]:
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        last, quiet_since = None, time.monotonic()
        while True:
            job = job_service.job_json(job_service.get_job(org, job_id))
            text = json.dumps(job, separators=(",", ":"))
            if text != last:
                yield f"data: {text}\n\n"
                last, quiet_since = text, time.monotonic()
            elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"  # proxies close connections that stay silent
                quiet_since = time.monotonic()
            if job["status"] in FINISHED or time.monotonic() >= deadline:
                return
            time.sleep(POLL_SECONDS)
    finally:
        release()  # at the end of the stream, or when the client went away


@bp.get("/<job_id>/events")
def job_events(job_id: str):
    org = context.org_id()
    job = job_service.get_job(org, job_id)  # a 404 before the stream starts
    if not _slots.acquire(blocking=False):
        busy = ServiceUnavailable("Too many event streams on this server; poll GET jobs/{id}",
                                  code="streams_busy")
        refusal = jsonify(busy.to_dict())
        refusal.status_code, refusal.headers["Retry-After"] = busy.status, "5"
        return refusal
    released = threading.Lock()

    def release() -> None:
        if released.acquire(blocking=False):
            _slots.release()

    try:
        events = _events(org, job.id, deadline=time.monotonic() + MAX_STREAM_SECONDS,
                         release=release)
        response = Response(events, mimetype="text/event-stream")
    except BaseException:
        release()
        raise
    response.call_on_close(release)  # also when the stream never started
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response
