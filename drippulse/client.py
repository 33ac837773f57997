"""DripPulseClient: a typed Python client for the bundle and job API (docs/api.md, docs/cli.md).

Bundle uploads are streamed and gzipped on the wire; other systems' exports (Salesforce,
HubSpot, mapped CSV) go up as one zip; every submission carries an Idempotency-Key so a retried
upload never creates a second job; connection errors, 429 and 503 are retried with bounded
back-off that honours Retry-After.
"""
from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests

from drippulse import interop_inputs, transfer_io

log = logging.getLogger(__name__)

API = "/api/v1/crm"
TERMINAL_STATUSES = frozenset({"succeeded", "completed_with_errors", "failed", "cancelled"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IMPORT_SOURCES = ("salesforce", "hubspot", "csv")
EXPORT_FORMATS = ("json", "csv")

ProgressCallback = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


class DripPulseError(Exception):
    """Base of every error this client raises."""


class ApiError(DripPulseError):
    """The server answered with an error body `{"error": {"code", "message", "details"}}`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()["error"]
            return cls(response.status_code, str(body.get("code") or "error"),
                       str(body.get("message") or response.reason), body.get("details"))
        except (ValueError, KeyError, TypeError, AttributeError):
            text = response.text[:200].strip() or response.reason or "no message"
            return cls(response.status_code, "http_error", text)


class TransportError(DripPulseError):
    """The server could not be reached (after the retries)."""


class JobTimeout(DripPulseError):
    """wait_for_job gave up before the job finished (the job itself goes on)."""


class DripPulseClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 max_retries: int = 5, max_retry_wait: float = 30.0,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout
        self.max_retries = max_retries
        self._no_events = False  # the server has no event streams: poll
        self.max_retry_wait = max_retry_wait
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "drippulse-cli/0.1"
        self._sleep = sleep

    # ---- plumbing -------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/")) if not path.startswith("http") else path

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _retry_delay(self, attempt: int, response: requests.Response | None) -> float:
        if response is not None:
            header = response.headers.get("Retry-After", "")
            if header.strip().isdigit():
                return min(float(header), self.max_retry_wait)
        # exponential with jitter, so many clients hitting one busy server spread out
        return min(self.max_retry_wait, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)

    def request(self, method: str, path: str, *, body_factory: Callable[[], Any] | None = None,
                json: Any = None, params: dict | None = None, headers: dict | None = None,
                stream: bool = False, expect: tuple[int, ...] = (200,),
                retry: bool = True) -> requests.Response:
        """One API call with bounded retries; `body_factory` rebuilds a streamed body per try.

        POSTs are only retried when they carry an Idempotency-Key (or are naturally idempotent,
        which the caller signals by passing one): the server then answers a repeat with the
        job it already made.
        """
        url = self._url(path)
        send_headers = dict(headers or {})
        if self._same_origin(url):  # never hand the key to a storage host (signed URLs)
            send_headers["Authorization"] = f"Bearer {self.token}"
        retry_safe = retry and (method in ("GET", "HEAD") or "Idempotency-Key" in send_headers)
        attempt = 0
        while True:
            response = None
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=send_headers,
                    data=body_factory() if body_factory else None, stream=stream,
                    timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not retry_safe or attempt >= self.max_retries:
                    raise TransportError(f"cannot reach {self.base_url}: {exc}") from exc
                log.debug("connection problem on %s %s: %s", method, url, exc)
            else:
                if response.status_code in expect:
                    return response
                if (response.status_code not in RETRYABLE_STATUSES or not retry_safe
                        or attempt >= self.max_retries):
                    error = ApiError.from_response(response)
                    response.close()
                    raise error
                response.close()
            delay = self._retry_delay(attempt, response)
            log.info("retrying %s %s in %.1fs", method, url, delay)
            self._sleep(delay)
            attempt += 1

    def _json(self, method: str, path: str, **kwargs) -> Any:
        return self.request(method, path, **kwargs).json()

    # ---- identity --------------------------------------------------------------------------
    def whoami(self) -> dict:
        return self._json("GET", "/api/v1/me")

    # ---- import ----------------------------------------------------------------------------
    def submit_import(self, source: str | Path | IO[bytes], *, dry_run: bool = False,
                      idempotency_key: str | None = None,
                      on_upload_progress: ProgressCallback | None = None) -> dict:
        """Upload a bundle (path or binary file object) and return the queued job.

        The file is streamed in chunks, gzipped on the fly unless it already is gzip; the same
        Idempotency-Key is sent on every retry, so at most one job results.
        """
        key = idempotency_key or str(uuid.uuid4())
        upload = transfer_io.GzipUpload(source, on_progress=on_upload_progress)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
                   "Idempotency-Key": key}
        params = {"dry_run": "true"} if dry_run else None
        try:
            try:
                response = self.request("POST", f"{API}/import", body_factory=upload.body,
                                        headers=headers, params=params, expect=(200, 201, 202))
            except ApiError as exc:
                if exc.status != 411:
                    raise
                # the server wants Content-Length: compress to a temporary file, send that
                response = self.request("POST", f"{API}/import", body_factory=upload.spooled_body,
                                        headers=headers, params=params, expect=(200, 201, 202))
        finally:
            upload.close()
        return response.json()

    def import_source(self, source: str, paths: Sequence[str | Path],
                      mapping: str | Path | None = None, dry_run: bool = False,
                      create_stages: bool = False, idempotency_key: str | None = None,
                      on_upload_progress: ProgressCallback | None = None) -> dict:
        """Convert and import another system's export: `paths` (directories, files, zips) go up
        as one zip, with the CSV mapping file as mapping.json. Returns the queued job, whose
        JSON also holds the upload's "warnings"."""
        with interop_inputs.pack(paths, mapping) as packed:
            return self.submit_source_zip(source, packed.path, dry_run=dry_run,
                                          create_stages=create_stages,
                                          idempotency_key=idempotency_key,
                                          on_upload_progress=on_upload_progress)

    def submit_source_zip(self, source: str, zip_path: str | Path, *, dry_run: bool = False,
                          create_stages: bool = False, idempotency_key: str | None = None,
                          on_upload_progress: ProgressCallback | None = None) -> dict:
        """Upload a zip already made (see import_source) as `source`'s export."""
        if source not in IMPORT_SOURCES:
            raise ValueError(f"source must be one of {', '.join(IMPORT_SOURCES)}")
        params = {"source": source}
        if dry_run:
            params["dry_run"] = "true"
        if create_stages:
            params["create_stages"] = "true"
        headers = {"Content-Type": "application/zip",
                   "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        upload = transfer_io.FileUpload(zip_path, on_progress=on_upload_progress)
        try:
            response = self.request("POST", f"{API}/import", body_factory=upload.body,
                                    headers=headers, params=params, expect=(200, 201, 202))
        finally:
            upload.close()
        return response.json()

    # ---- jobs ------------------------------------------------------------------------------
    def get_job(self, job_id: str) -> dict:
        return self._json("GET", f"{API}/jobs/{job_id}")

    def list_jobs(self, *, kind: str | None = None, status: str | None = None,
                  limit: int | None = None, cursor: str | None = None) -> dict:
        params = {k: v for k, v in
                  {"kind": kind, "status": status, "limit": limit, "cursor": cursor}.items()
                  if v is not None}
        return self._json("GET", f"{API}/jobs", params=params)

    def iter_jobs(self, **filters) -> Iterator[dict]:
        yield from self._paginate(f"{API}/jobs", {k: v for k, v in filters.items()
                                                  if v is not None})

    def iter_job_errors(self, job_id: str, *, page_size: int | None = None) -> Iterator[dict]:
        params = {"limit": page_size} if page_size else {}
        yield from self._paginate(f"{API}/jobs/{job_id}/errors", params)

    def _paginate(self, path: str, params: dict) -> Iterator[dict]:
        """Follow `next` cursors until the server says there is no next page."""
        while True:
            page = self._json("GET", path, params=params)
            yield from page.get("items", [])
            nxt = page.get("next")
            if not nxt:
                return
            if str(nxt).startswith(("http://", "https://", "/")):
                path, params = nxt, {}
            else:
                params = {**params, "cursor": nxt}

    def cancel_job(self, job_id: str) -> dict:
        # cancelling twice is harmless, so a retried cancel is safe
        return self._json("POST", f"{API}/jobs/{job_id}/cancel", expect=(200, 202),
                          headers={"Idempotency-Key": f"cancel-{job_id}"})

    def retry_job(self, job_id: str) -> dict:
        try:
            return self._json("POST", f"{API}/jobs/{job_id}/retry", expect=(200, 201, 202))
        except ApiError as exc:
            if exc.status in (404, 405):
                self.get_job(job_id)  # raises 404 if it is the job that does not exist
                raise ApiError(exc.status, "not_supported",
                               "this server cannot retry jobs; submit the file again") from exc
            raise

    def revert_job(self, job_id: str, *, dry_run: bool = False, force: bool = False) -> dict:
        """Undo a finished import; returns the revert job (202). 409 when it is not a finished
        import or is already reverted."""
        query = "&".join(name for name, on in (("dry_run=true", dry_run), ("force=true", force))
                         if on)
        return self._json("POST", f"{API}/jobs/{job_id}/revert" + (f"?{query}" if query else ""),
                          expect=(202,))

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
            marker = (job.get("status"), job.get("percent"), repr(job.get("progress")))
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

    # ---- export ----------------------------------------------------------------------------
    def start_export(self, *, gzip: bool = False, format: str = "json",
                     idempotency_key: str | None = None) -> dict:
        """Queue an export job: a JSON bundle (gzip optional) or, with format="csv", a zip of
        one CSV file per entity."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        if format == "csv" and gzip:
            raise ValueError("a CSV export is a zip; gzip applies to the JSON format only")
        # the key makes a retry after a dropped connection acceptable: at worst the server
        # makes a second (harmless) export job if it does not deduplicate exports
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        options = {"format": "csv"} if format == "csv" else {"gzip": gzip}
        return self._json("POST", f"{API}/exports", json=options,
                          headers=headers, expect=(200, 201, 202))

    def download(self, job: dict | str, dest: str | Path, *, gzip: bool | None = None,
                 on_progress: ProgressCallback | None = None) -> int:
        """Stream an export job's file to `dest` (via a .part file, renamed when complete).

        gzip=True writes gzip, False plain JSON, None whatever the server sends (as gzip when
        `dest` ends in .gz). A CSV export's zip is written as it comes (gzip=False).
        Returns the bytes written.
        """
        if isinstance(job, str):
            job = self.get_job(job)
        link = (job.get("links") or {}).get("download")
        if not link:
            raise ApiError(409, "not_ready", f"job {job.get('id')} has no download link "
                           f"(status {job.get('status')})")
        if gzip is None:
            gzip = str(dest).endswith(".gz")
        response = self.request("GET", link, stream=True)
        with response:
            total = response.headers.get("Content-Length")
            return transfer_io.save_stream(
                response.raw, Path(dest), want_gzip=gzip,
                total=int(total) if total and total.isdigit() else None,
                on_progress=on_progress)

    def get_export(self) -> dict:
        """GET /export: the whole bundle in one response (small organizations, comparisons)."""
        return self._json("GET", f"{API}/export")

    # ---- webhooks --------------------------------------------------------------------------
    def list_webhooks(self) -> list[dict]:
        return list(self._paginate(f"{API}/webhooks", {}))

    def create_webhook(self, url: str, events: Sequence[str]) -> dict:
        """The answer carries `secret`, shown this once."""
        return self._json("POST", f"{API}/webhooks", json={"url": url, "events": list(events)},
                          expect=(201,))

    def update_webhook(self, webhook_id: str, **fields: Any) -> dict:
        return self._json("PATCH", f"{API}/webhooks/{webhook_id}", json=fields)

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"{API}/webhooks/{webhook_id}", expect=(204,)).close()

    def iter_webhook_deliveries(self, webhook_id: str) -> Iterator[dict]:
        """One item per attempt, newest first."""
        yield from self._paginate(f"{API}/webhooks/{webhook_id}/deliveries", {})

    def resend_delivery(self, delivery_id: str) -> dict:
        return self._json("POST", f"{API}/webhooks/deliveries/{delivery_id}/resend",
                          expect=(202,))
