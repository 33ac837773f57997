"""Following a job to its end: the server-sent event stream when the server has one, else
polling with back-off."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import requests

from drippulse.client_transport import ApiError, JobTimeout, TransportError

API = "/api/v1/crm"
TERMINAL_STATUSES = frozenset({"succeeded", "completed_with_errors", "failed", "cancelled"})


class JobFollowing:
    """Mixed into DripPulseClient (which provides request, get_job and _sleep)."""

    _no_events = False  # the server has no event streams: poll

    def job_events(self, job_id: str) -> Iterator[dict]:
        """The job JSON on every change, from the server-sent event stream
        (GET jobs/{id}/events), until the stream ends (the final status, or the server's
        stream lifetime). ApiError 503 when the server holds too many streams."""
        # no retries: a busy server (503) is answered by polling instead
        response = self.request("GET", f"{API}/jobs/{job_id}/events", stream=True,
                                headers={"Accept": "text/event-stream"}, retry=False)
        with response:
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                raise ApiError(406, "not_an_event_stream", "the server sent no event stream")
            data: list[str] = []
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []

    def wait_for_job(self, job_id: str, *, on_progress: Callable[[dict], None] | None = None,
                     timeout: float | None = None, initial_interval: float = 0.3,
                     max_interval: float = 5.0, events: bool = True) -> dict:
        """Follow the job until it is terminal: its event stream when the server has one (each
        change arrives at once), else polling, whose interval backs off while nothing changes
        and snaps back when progress moves, so a busy job stays lively and an idle one is
        cheap."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if events and not self._no_events:
            job = self._follow_events(job_id, on_progress, deadline)
            if job is not None:
                return job
        interval, last = initial_interval, None
        while True:
            job = self.get_job(job_id)
            if on_progress:
                on_progress(job)
            if job.get("status") in TERMINAL_STATUSES:
                return job
            # reading figures count as movement: a job reading its upload is polled briskly
            marker = (job.get("status"), job.get("percent"), repr(job.get("progress")),
                      repr(job.get("reading")))
            interval = initial_interval if marker != last else min(max_interval, interval * 1.5)
            last = marker
            if deadline is not None and time.monotonic() + interval > deadline:
                raise JobTimeout(f"job {job_id} still {job.get('status')} after {timeout}s")
            self._sleep(interval)

    def _follow_events(self, job_id: str, on_progress: Callable[[dict], None] | None,
                       deadline: float | None) -> dict | None:
        """The final job via event streams (reconnecting when one ends early); None when the
        server has no streams or none free right now: the caller polls instead."""
        while deadline is None or time.monotonic() < deadline:
            seen = False
            try:
                for job in self.job_events(job_id):
                    seen = True
                    if on_progress:
                        on_progress(job)
                    if job.get("status") in TERMINAL_STATUSES:
                        return job
            except ApiError as exc:
                if exc.status in (404, 405, 406):  # a server without streams: never again
                    self._no_events = exc.status != 404 or self._route_missing(job_id)
                return None
            except (TransportError, requests.RequestException, ValueError):
                return None
            if not seen:  # a stream that ends before its first event: poll instead
                return None
        return None

    def _route_missing(self, job_id: str) -> bool:
        """A 404 from the stream is the job's own 404 unless the job exists."""
        self.get_job(job_id)  # raises the job's 404
        return True

