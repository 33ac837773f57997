"""Fair queueing with real worker processes (issue 19, High 2): one organization's three big
imports keep at most its share of batches queued, and another organization's 1-row import,
submitted while they run, finishes within seconds (the delay goes in docs/hardening.md)."""
from __future__ import annotations

import io
import threading
import time
import uuid

import orjson
import pytest
import sqlalchemy as sa

from bench.generate import write_bundle
from shared import db
from shared.bundle.upload import submit_import
from shared.jobs.status import FINISHED
from shared.services import jobs as job_service
from shared.services.organizations import create_organization
from tests.bundles.test_import_resume import isolated_queue  # noqa: F401  (fixture)
from tests.conftest import WorkerProcess, wait_for

pytestmark = pytest.mark.slow


def _submit(org_id: uuid.UUID, source, enqueue) -> uuid.UUID:
    job, _ = submit_import(org_id, "test", source, limit=10**9, dry_run=False,
                           idempotency_key=None, expect_gzip=False, enqueue=enqueue)
    return job.id


def _status(org_id: uuid.UUID, job_id: uuid.UUID) -> str:
    return job_service.get_job(org_id, job_id).status


def _queued(org_id: uuid.UUID) -> int:
    with db.tenant_transaction(org_id) as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM crm.import_batches b JOIN crm.jobs j "
            "ON j.organization_id = b.organization_id AND j.id = b.job_id "
            "WHERE b.organization_id = :org AND b.status = 'pending' "
            "AND b.enqueued_at IS NOT NULL AND j.status = 'running'"), {"org": org_id}).scalar()


def test_a_tenant_with_three_big_imports_does_not_delay_another_tenants_small_one(
        settings, tmp_path, isolated_queue):  # noqa: F811
    enqueue, env = isolated_queue  # batches of 100 rows
    busy = uuid.UUID(create_organization("Busy tenant")["organization_id"])
    small = uuid.UUID(create_organization("Small tenant")["organization_id"])
    path = tmp_path / "big.json"
    write_bundle(path, 8_000)  # 80 batches per job
    worker = WorkerProcess(settings, extra_env=env, queues="imports", concurrency=2).start()
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _queued(busy))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        big = []
        for _ in range(3):
            with open(path, "rb") as source:
                big.append(_submit(busy, source, enqueue))
        wait_for(lambda: all(_status(busy, j) == "running" for j in big) and _queued(busy),
                 timeout=120, message="the busy tenant's imports to run")
        started = time.monotonic()
        one = _submit(small, io.BytesIO(orjson.dumps(
            {"accounts": [{"public_id": "acct_smalltenant0001", "name": "Small"}]})), enqueue)
        wait_for(lambda: _status(small, one) in FINISHED, timeout=120, interval=0.05,
                 message="the small import to finish")
        delay = time.monotonic() - started
        still_running = [j for j in big if _status(busy, j) == "running"]
        print(f"\nsmall import finished {delay:.2f} s after submission; busy tenant's queued "
              f"batches peaked at {peak[0]}")
        assert _status(small, one) == "succeeded"
        assert still_running, "the big imports ended first: the measure says nothing"
        assert delay < 10, delay
        assert peak[0] <= settings.org_parallel_batches, peak[0]
        for job_id in big:
            wait_for(lambda j=job_id: _status(busy, j) in FINISHED, timeout=300,
                     message="the big imports to finish")
            assert _status(busy, job_id) == "succeeded"
    finally:
        stop.set()
        sampler.join(timeout=5)
        worker.stop()
