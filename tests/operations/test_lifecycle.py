"""Start-up refusals, readiness probes and retention of old jobs."""
from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shared import db
from shared.bundle.tables import import_row_keys
from shared.models import job_errors, jobs
from shared.services import retention
from shared.storage import get_storage
from tests.conftest import REPO, replace_settings, settings_env


def test_worker_refuses_a_visibility_timeout_that_would_redeliver_running_jobs(settings):
    env = settings_env(settings) | {"DRIPPULSE_VISIBILITY_TIMEOUT": "100",
                                    "DRIPPULSE_JOB_LEASE_SECONDS": "60"}
    proc = subprocess.run([sys.executable, "-m", "drippulse", "worker"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "DRIPPULSE_VISIBILITY_TIMEOUT" in proc.stderr


def test_readyz_is_503_when_the_broker_is_down(client, fresh_settings):
    replace_settings(fresh_settings, redis_url="redis://127.0.0.1:1/0")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["checks"] == {"database": "ok", "broker": "error"}


def test_readyz_is_503_when_the_database_is_down(client, fresh_settings):
    replace_settings(fresh_settings,
                     database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["checks"]["database"].startswith("error")
    assert resp.json["checks"]["broker"] == "ok"


def _job(org_id, status: str, finished_days_ago: float | None, *, files: bool = False):
    job_id = uuid.uuid4()
    now = datetime.now(UTC)
    finished = now - timedelta(days=finished_days_ago) if finished_days_ago is not None else None
    upload_key = result_key = None
    checkpoint = {}
    if files:
        upload_key, result_key = f"uploads/{org_id}/{job_id}.json", f"exports/{org_id}/{job_id}"
        spool_key = f"spool/{org_id}/{job_id}/contacts.jsonl"
        checkpoint = {"spooled": True, "spool": {"contacts": spool_key}}
        for key in (upload_key, result_key, spool_key):
            with get_storage().writer(key) as handle:
                handle.write(b"{}")
    with db.tenant_transaction(org_id) as conn:
        conn.execute(jobs.insert().values(
            id=job_id, organization_id=org_id, kind="import", status=status, params={},
            progress={}, checkpoint=checkpoint, error_count=1, attempts=1, cancel_requested=False,
            upload_key=upload_key, result_key=result_key,
            created_at=(finished or now) - timedelta(minutes=5), updated_at=finished or now,
            finished_at=finished))
        conn.execute(job_errors.insert().values(
            organization_id=org_id, job_id=job_id, code="invalid", message="bad row"))
    return job_id, (upload_key, result_key, *checkpoint.get("spool", {}).values())


@pytest.fixture
def fake_jobs_removed(org, other_org):
    """Queued and running fake jobs left behind would confuse other tests' sweeps."""
    yield
    with db.transaction() as conn:
        conn.execute(jobs.delete().where(jobs.c.organization_id.in_(
            [org["organization_id"], other_org["organization_id"]])))


def test_retention_deletes_only_old_finished_jobs_with_their_errors_and_files(
        org, other_org, fresh_settings, fake_jobs_removed):
    replace_settings(fresh_settings, retention_days=30)
    old_done, old_files = _job(org["organization_id"], "succeeded", 31, files=True)
    old_failed, _ = _job(other_org["organization_id"], "failed", 45)
    recent, recent_files = _job(org["organization_id"], "completed_with_errors", 29, files=True)
    still_running, _ = _job(org["organization_id"], "running", None)
    old_queued, _ = _job(org["organization_id"], "queued", None)
    with db.transaction() as conn:  # a job queued long ago and never picked up stays
        conn.execute(jobs.update().where(jobs.c.id == old_queued).values(
            created_at=sa.func.now() - sa.text("interval '90 days'")))

    counts = retention.cleanup()
    assert counts["jobs"] >= 2 and counts["job_errors"] >= 2 and counts["files"] >= 3

    with db.transaction() as conn:
        left = set(conn.execute(sa.select(jobs.c.id).where(jobs.c.id.in_(
            [old_done, old_failed, recent, still_running, old_queued]))).scalars())
        errors_left = set(conn.execute(sa.select(job_errors.c.job_id).where(
            job_errors.c.job_id.in_([old_done, old_failed, recent]))).scalars())
    assert left == {recent, still_running, old_queued}
    assert errors_left == {recent}
    storage = get_storage()
    assert not any(storage.exists(key) for key in old_files)
    assert all(storage.exists(key) for key in recent_files)

    # two days later the recent one has aged out too
    later = retention.cleanup(now=datetime.now(UTC) + timedelta(days=2))
    assert later["jobs"] >= 1 and later["files"] >= 3
    with db.transaction() as conn:
        assert conn.execute(sa.select(jobs.c.id).where(jobs.c.id == recent)).first() is None


def test_beat_schedules_the_registered_retention_task(settings):
    import worker.tasks  # noqa: F401  (registers the tasks)
    from worker.app import celery_app

    entry = celery_app.conf.beat_schedule["retention-cleanup"]
    assert entry["task"] in celery_app.tasks
    result = celery_app.tasks[entry["task"]].apply().get()
    assert set(result) == {"jobs", "job_errors", "files"}


def test_retention_deletes_the_row_keys_a_failed_import_left(org, fresh_settings,
                                                            fake_jobs_removed):
    """Row keys have no foreign key to their job (migration 0005): a run that failed before
    its end left them, and they go with the job."""
    replace_settings(fresh_settings, retention_days=30)
    old_failed, _ = _job(org["organization_id"], "failed", 31)
    recent_failed, _ = _job(org["organization_id"], "failed", 1)
    with db.tenant_transaction(org["organization_id"]) as conn:
        for job_id in (old_failed, recent_failed):
            conn.execute(import_row_keys.insert(), [
                {"job_id": job_id, "entity": "contacts", "public_id": f"cnt_{i}",
                 "organization_id": org["organization_id"]} for i in range(3)])

    retention.cleanup()

    with db.transaction() as conn:
        left = conn.execute(sa.select(import_row_keys.c.job_id, sa.func.count())
                            .where(import_row_keys.c.job_id.in_([old_failed, recent_failed]))
                            .group_by(import_row_keys.c.job_id)).all()
    assert dict(left) == {recent_failed: 3}
