"""POST /exports → a worker writes the bundle file → GET jobs/<id>/download, until it expires."""
from __future__ import annotations

import gzip
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from shared import db
from shared.bundle import export_files, export_jobs
from shared.models import jobs
from shared.services import job_runs
from shared.services.jobs import get_job, job_json
from shared.storage import get_storage
from tests.bundles_export.seed import seed_bulk, seed_small
from tests.conftest import wait_for

API = "/api/v1/crm"


def start_export(client, org, body=None) -> dict:
    resp = client.post(f"{API}/exports", headers=org["headers"], json=body)
    assert resp.status_code == 202, resp.json
    assert resp.headers["Location"] == f"{API}/jobs/{resp.json['id']}"
    assert resp.json["kind"] == "export" and resp.json["status"] == "queued"
    return resp.json


def finished(org, job_id: str) -> dict:
    def done():
        row = get_job(uuid.UUID(org["organization_id"]), job_id)
        return job_json(row) if row.status not in ("queued", "running") else None
    return wait_for(done, timeout=60, message=f"export job {job_id} to finish")


def without_exported_at(bundle: dict) -> dict:
    bundle = dict(bundle)
    bundle.pop("exported_at")
    return bundle


def test_export_job_file_equals_the_streamed_bundle(client, org, worker, settings):
    seed_small(org["organization_id"])
    seed_bulk(org["organization_id"], accounts=700)  # progress is written every 500 rows
    job = finished(org, start_export(client, org)["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"]["accounts"] == {"total": 703, "processed": 703}
    assert job["progress"]["contacts"] == {"total": 702, "processed": 702}
    assert job["percent"] == 100
    assert job["links"]["download"] == f"{API}/jobs/{job['id']}/download"
    expires = datetime.fromisoformat(job["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(seconds=settings.export_ttl_seconds)) \
        < timedelta(minutes=5)

    resp = client.get(job["links"]["download"], headers=org["headers"])
    assert resp.status_code == 200
    body = resp.get_data()
    assert resp.mimetype == "application/json"
    assert int(resp.headers["Content-Length"]) == len(body) == job["result_size"]
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert resp.headers["Content-Disposition"] == \
        f'attachment; filename="drippulse-export-{day}-{job["id"][-8:]}.json"'
    streamed = json.loads(client.get(f"{API}/export", headers=org["headers"]).get_data())
    assert without_exported_at(json.loads(body)) == without_exported_at(streamed)


def test_gzip_job_without_deleted_rows(client, org, worker):
    s = seed_small(org["organization_id"])
    job = finished(org, start_export(client, org, {"gzip": True, "include_deleted": False})["id"])
    assert job["status"] == "succeeded", job
    resp = client.get(job["links"]["download"], headers=org["headers"])
    assert resp.mimetype == "application/gzip"
    assert re.fullmatch(r'attachment; filename="drippulse-export-\d{4}-\d\d-\d\d-[0-9a-f]{8}'
                        r'\.json\.gz"', resp.headers["Content-Disposition"])
    assert int(resp.headers["Content-Length"]) == len(resp.get_data())
    bundle = json.loads(gzip.decompress(resp.get_data()))
    assert s["gone"]["public_id"] not in {r["public_id"] for r in bundle["accounts"]}
    streamed = json.loads(client.get(f"{API}/export?include_deleted=false",
                                     headers=org["headers"]).get_data())
    assert without_exported_at(bundle) == without_exported_at(streamed)


def test_download_rules(client, org, other_org, worker):
    seed_small(org["organization_id"])
    job = finished(org, start_export(client, org)["id"])
    url = job["links"]["download"]
    head = client.head(url, headers=org["headers"])
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == job["result_size"]
    assert client.get(url, headers=other_org["headers"]).status_code == 404
    assert client.get(url).status_code == 401
    missing = client.get(f"{API}/jobs/{uuid.uuid4()}/download", headers=org["headers"])
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"

    # a job no worker has picked up yet
    queued = export_jobs.create_export_job(uuid.UUID(org["organization_id"]),
                                           {"gzip": False, "include_deleted": True},
                                           lambda name, args: None)
    early = client.get(f"{API}/jobs/{queued.id}/download", headers=org["headers"])
    assert early.status_code == 409 and early.json["error"]["details"] == {"status": "queued"}


def test_expired_exports_answer_410_and_lose_their_file(client, org, worker):
    seed_small(org["organization_id"])
    job = finished(org, start_export(client, org)["id"])
    row = get_job(uuid.UUID(org["organization_id"]), job["id"])
    assert get_storage().exists(row.result_key)
    with db.transaction() as conn:
        conn.execute(jobs.update().where(jobs.c.id == row.id)
                     .values(expires_at=sa.func.now() - sa.text("interval '1 second'")))
    url = job["links"]["download"]
    gone = client.get(url, headers=org["headers"])  # past expires_at, even before the sweep
    assert gone.status_code == 410 and gone.json["error"]["code"] == "gone"

    assert export_files.expire_exports() >= 1
    assert not get_storage().exists(row.result_key)
    after = get_job(uuid.UUID(org["organization_id"]), job["id"])
    assert after.result_key is None and after.status == "succeeded"
    assert job_json(after)["links"]["download"] is None
    assert client.get(url, headers=org["headers"]).status_code == 410


def test_export_options_are_validated(client, org):
    bad = client.post(f"{API}/exports", headers=org["headers"],
                      json={"gzip": "yes", "format": "xml"})
    assert bad.status_code == 422
    assert set(bad.json["error"]["details"]) == {"gzip", "format"}
    text = client.post(f"{API}/exports", headers=org["headers"], data="gzip",
                       content_type="text/plain")
    assert text.status_code == 415
    huge = client.post(f"{API}/exports", headers=org["headers"], data=b" " * 100_000,
                       content_type="application/json")
    assert huge.status_code == 413 and huge.json["error"]["code"]
    broken = client.post(f"{API}/exports", headers=org["headers"], data="{",
                         content_type="application/json")
    assert broken.status_code == 400
    assert client.post(f"{API}/exports").status_code == 401


def test_cancel_between_chunks_and_single_runner(org, settings, monkeypatch):
    """In-process: a cancel seen at a progress write stops the run without leaving a file."""
    org_id = uuid.UUID(org["organization_id"])
    seed_small(org["organization_id"])
    job = export_jobs.create_export_job(org_id, {"gzip": False, "include_deleted": True},
                                        lambda name, args: None)

    with job_runs.job_lock(job.id) as got:  # another worker holds the job
        assert got
        assert export_jobs.run_export_job(job.id).startswith("skipped")

    real_start = export_jobs._Progress.start

    def start_then_cancel(self, totals):
        with db.transaction() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job.id).values(cancel_requested=True))
        real_start(self, totals)

    monkeypatch.setattr(export_jobs._Progress, "start", start_then_cancel)
    assert export_jobs.run_export_job(job.id) == "cancelled"
    row = get_job(org_id, job.id)
    assert row.status == "cancelled" and row.result_key is None
    assert not get_storage().exists(export_jobs.result_key(org_id, job.id, False))
    assert export_jobs.run_export_job(job.id) == "finished"  # finished jobs stay finished


def test_a_redelivered_export_runs_again_and_replaces_the_file(org, settings):
    """In-process: a job left `running` by a dead worker is taken over and finished."""
    org_id = uuid.UUID(org["organization_id"])
    seed_small(org["organization_id"])
    job = export_jobs.create_export_job(org_id, {"gzip": False, "include_deleted": True},
                                        lambda name, args: None)
    key = export_jobs.result_key(org_id, job.id, False)
    with get_storage().writer(key) as handle:  # what a dead run could have left: a stale file
        handle.write(b"stale")
    with db.transaction() as conn:
        conn.execute(jobs.update().where(jobs.c.id == job.id)
                     .values(status="running", attempts=1, started_at=sa.func.now()))
    assert export_jobs.run_export_job(job.id) == "succeeded"
    row = get_job(org_id, job.id)
    assert row.status == "succeeded" and row.attempts == 2 and row.result_key == key
    with get_storage().open(key) as handle:
        bundle = json.loads(handle.read())
    assert len(bundle["accounts"]) == 3 and row.result_size == get_storage().size(key)
