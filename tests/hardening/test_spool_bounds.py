"""Issue 19, High 2 and 3: a hostile bundle never holds a worker for long (an over-long value or
an inflated size over the cap fails the job at once; a cancel stops the spool) and a batch is
bounded by bytes as well as rows."""
from __future__ import annotations

import gzip
import io
import time
import uuid

import orjson
import sqlalchemy as sa

from shared import db
from shared.bundle import spool, upload
from shared.bundle.tables import import_batches
from shared.jobs import lifecycle
from tests.bundles.helpers import rows
from tests.conftest import replace_settings
from tests.hardening.helpers import run_import

CRM = "/api/v1/crm"
MAX_TOKEN = 16 * 1024 * 1024  # documented in docs/hardening.md


def _job_error(job: dict) -> tuple:
    return job["status"], (job["error"] or {}).get("code")


def test_an_over_long_value_fails_the_job_at_once(org):
    for value in (b"a" * (MAX_TOKEN + 1), b'\\"' * (MAX_TOKEN // 2 + 1)):
        body = gzip.compress(b'{"version": 1, "accounts": [{"name": "' + value + b'"}]}')
        assert len(body) < 100_000
        started = time.monotonic()
        job = run_import(org, body)
        assert _job_error(job) == ("failed", "value_too_long"), job
        assert time.monotonic() - started < 10
    # a long but legal value is still a row (here: refused by its field, as before)
    job = run_import(org, {"version": 1, "leads": [{"public_id": "lead_r", "last_name": "R"}],
                           "activities": [{"type": "note", "subject": "s", "body": "b" * 999_999,
                                           "record_type": "lead", "record_public_id": "lead_r"}]})
    assert job["status"] == "succeeded", job


def _inflating_bundle() -> bytes:
    return gzip.compress(orjson.dumps({"version": 1, "accounts": [
        {"name": f"a{i}", "description": "d" * 5000} for i in range(300)]}))


def test_an_inflated_size_over_the_cap_is_413_at_upload(client, org, fresh_settings):
    replace_settings(fresh_settings, max_inflated_bytes=1_000_000)
    body = _inflating_bundle()
    for headers, kwargs in (({"Content-Encoding": "gzip"}, {"data": body,
                                                            "content_type": "application/json"}),
                            ({}, {"data": {"file": (io.BytesIO(body), "b.json.gz")},
                                  "content_type": "multipart/form-data"})):
        resp = client.post(f"{CRM}/import", headers=org["headers"] | headers, **kwargs)
        assert resp.status_code == 413, resp.json
        assert resp.json["error"]["details"] == {"max_inflated_bytes": 1_000_000}
    assert client.get(f"{CRM}/jobs", headers=org["headers"]).json["items"] == []


def test_an_inflated_size_over_the_cap_fails_the_job(org, fresh_settings, monkeypatch):
    # as when the API could not see it (an upload stored before the cap, another front end)
    monkeypatch.setattr(upload.InflatedSize, "feed", lambda self, data: None)
    replace_settings(fresh_settings, max_inflated_bytes=1_000_000)
    job = run_import(org, _inflating_bundle())
    assert _job_error(job) == ("failed", "upload_too_large"), job
    assert rows(org, "accounts") == []


def test_a_cancel_stops_the_spool(org, monkeypatch):
    monkeypatch.setattr(spool, "CANCEL_CHECK_SECONDS", 0)
    real = spool._cancel_requested

    def cancel_first(organization_id, job_id):
        check = real(organization_id, job_id)

        def cancelled() -> bool:
            lifecycle.request_cancel(organization_id, job_id)  # the job is running by now
            return check()
        return cancelled

    monkeypatch.setattr(spool, "_cancel_requested", cancel_first)
    bundle = {"version": 1, "accounts": [{"name": f"a{i}"} for i in range(20_000)]}
    job = run_import(org, orjson.dumps(bundle))
    assert job["status"] == "cancelled", job
    assert rows(org, "accounts") == []


def test_batches_end_by_bytes_as_well_as_rows(org, fresh_settings):
    replace_settings(fresh_settings, batch_max_bytes=180_000)
    bundle = {"version": 1, "accounts": [{"name": f"a{i}", "description": "d" * 60_000}
                                         for i in range(10)]}
    job = run_import(org, bundle)
    assert job["status"] == "succeeded", job
    with db.transaction() as conn:
        counts = conn.execute(sa.select(import_batches.c.row_count).where(
            import_batches.c.job_id == uuid.UUID(job["id"])).order_by(import_batches.c.seq)
        ).scalars().all()
    assert counts == [3, 3, 3, 1]
