"""DripPulseClient: a typed Python client for the bundle and job API (docs/api.md, docs/cli.md).

Bundle uploads are streamed and gzipped on the wire; other systems' exports (Salesforce,
HubSpot, mapped CSV) go up as one zip; every submission carries an Idempotency-Key so a retried
upload never creates a second job; connection errors, 429 and 503 are retried with bounded
back-off that honours Retry-After.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from drippulse import interop_inputs, transfer_io
from drippulse.client_transport import (  # noqa: F401  (part of the client's API)
    RETRYABLE_STATUSES,
    ApiError,
    ApiTransport,
    DripPulseError,
    JobTimeout,
    TransportError,
)
from drippulse.job_following import JobFollowing

log = logging.getLogger(__name__)

API = "/api/v1/crm"
IMPORT_SOURCES = ("salesforce", "hubspot", "csv")
EXPORT_FORMATS = ("json", "csv")

ProgressCallback = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


class DripPulseClient(JobFollowing, ApiTransport):
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
