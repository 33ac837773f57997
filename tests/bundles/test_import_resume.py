"""kill -9 of the worker in the middle of an import: a new worker plus the sweeper finish it with
exact counts and exactly one change event per row."""
from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import time
import uuid

import pytest
import redis

from bench.generate import write_bundle
from shared import config
from shared.bundle.upload import submit_import
from shared.services import jobs as job_service
from shared.services.job_sweeper import sweep_stale_jobs
from tests.bundles.helpers import scalar
from tests.conftest import WorkerProcess, wait_for

ROWS = 3_000


@pytest.fixture
def isolated_queue(settings):
    """Queues of their own, so the session's shared worker cannot help (or hide a bug)."""
    prefix = f"dptest-kill-{secrets.token_hex(4)}:"
    alt = dataclasses.replace(settings, celery_queue_prefix=prefix, batch_size=100)
    config.set_settings(alt)
    try:
        from worker.app import make_celery
        app = make_celery()
    finally:
        config.set_settings(settings)
    env = {"DRIPPULSE_QUEUE_PREFIX": prefix, "DRIPPULSE_BATCH_SIZE": "100"}
    yield (lambda name, args: app.send_task(name, args=args)), env
    app.close()
    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):  # the dead worker's unacked messages
        client.delete(key)


def _progress(org_id: uuid.UUID, job_id) -> dict:
    return job_service.job_json(job_service.get_job(org_id, job_id))


@pytest.mark.slow
def test_killed_worker_mid_import_resumes_exactly_once(settings, org, tmp_path, isolated_queue):
    enqueue, env = isolated_queue
    org_id = uuid.UUID(org["organization_id"])
    path = tmp_path / "bundle.json"
    sizes = write_bundle(path, ROWS)
    with open(path, "rb") as source:
        job, _ = submit_import(org_id, "test", source, limit=10**9, dry_run=False,
                               idempotency_key=None, expect_gzip=False, enqueue=enqueue)
    first = WorkerProcess(settings, extra_env=env).start()
    try:
        wait_for(lambda: sum(p["processed"] for p in _progress(org_id, job.id)["progress"]
                             .values()) >= 100, timeout=120, interval=0.05,
                 message="the import to be under way")
    finally:
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait(30)
    killed_at = _progress(org_id, job.id)
    assert killed_at["status"] == "running"

    second = WorkerProcess(settings, extra_env=env).start()
    try:
        sweeps = 0
        deadline = time.monotonic() + 180
        last, last_change = None, time.monotonic()
        while True:
            job_now = _progress(org_id, job.id)
            if job_now["status"] not in ("queued", "running"):
                break
            done = sum(p["processed"] for p in job_now["progress"].values())
            if done != last:
                last, last_change = done, time.monotonic()
            # the beat sweeper's job, done here at once: re-enqueue what the dead worker held
            if (sweeps == 0 or time.monotonic() - last_change > 5) and sweeps < 3:
                sweep_stale_jobs(enqueue, 0, organization_id=org_id)
                sweeps += 1
                last_change = time.monotonic()
            assert time.monotonic() < deadline, f"import did not finish: {job_now}"
            time.sleep(0.2)
    finally:
        second.stop()
    final = _progress(org_id, job.id)
    assert final["status"] == "succeeded", final
    for plural, n in sizes.items():
        assert final["progress"][plural] == {"total": n, "processed": n, "created": n,
                                             "updated": 0, "unchanged": 0, "failed": 0}
        assert scalar(org, f"SELECT count(*) FROM crm.{plural} WHERE organization_id = :org") == n
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org "
                       "AND job_id = :job", job=str(job.id)) == ROWS
    assert scalar(org, "SELECT count(DISTINCT record_id) FROM crm.change_events "
                       "WHERE organization_id = :org AND job_id = :job", job=str(job.id)) == ROWS
