"""Duplicate deliveries never apply a row twice; a job that kills its worker every time fails.

The duplicates are real: the job's own task functions called in this process and the same
messages sent again to two worker processes, while those workers run the job.
"""
from __future__ import annotations

import uuid
from collections import Counter

import pytest
import sqlalchemy as sa

from shared import db
from tests.conftest import wait_for
from tests.reliability import harness as h

# fault injection: duplicate deliveries to real workers, a job that kills its worker
pytestmark = pytest.mark.slow


def _delivered_batches(org_id: uuid.UUID, job_id: uuid.UUID) -> list[int]:
    """Batches a worker has been handed already (the ones the broker could redeliver)."""
    from shared.bundle.tables import import_batches as b

    with db.tenant_transaction(org_id) as conn:
        return list(conn.execute(sa.select(b.c.id).where(
            b.c.organization_id == org_id, b.c.job_id == job_id,
            sa.or_(b.c.status == "done", b.c.enqueued_at.is_not(None))).order_by(b.c.id)
        ).scalars())


def test_a_second_delivery_skips_while_the_first_holds_the_job(client, org, workers, sweeper):
    from shared.bundle import import_job
    from shared.jobs import runner as job_runner
    from shared.services.job_runs import job_lock

    bundle = h.make_bundle()
    total = h.total_rows(bundle)
    org_id = uuid.UUID(org["organization_id"])
    job_id = h.submit(client, org, h.encode(bundle))
    # 1. the job lock: while one delivery holds the job, another returns at once, changing nothing
    with job_lock(job_id) as held:
        assert held
        assert job_runner.run_job(job_id, sweeper.enqueue) == "skipped"
        row = h.job_row(job_id)
        assert (row.status, row.attempts) == ("queued", 0)
    # 2. the batches: two workers run the job while every delivered batch is delivered again,
    # to this process and through the broker
    workers.start()
    workers.start()
    wait_for(lambda: h.processed(job_id) >= total // 10, timeout=180, interval=0.05,
             message="the job under way")
    outcomes: Counter[str] = Counter()
    resent = False
    while h.job_row(job_id).status == "running":
        delivered = _delivered_batches(org_id, job_id)
        if not resent:
            for batch_id in delivered:
                sweeper.enqueue("drippulse.import.batch", [str(job_id), batch_id])
            resent = True
        for batch_id in delivered:
            try:
                outcomes[import_job.run_batch(batch_id, sweeper.enqueue)] += 1
            except import_job.BatchBusy:
                outcomes["locked"] += 1
            except sa.exc.OperationalError:  # a deadlock victim: the task retries these too
                outcomes["retry"] += 1
    print(f"in-process duplicate deliveries: {dict(outcomes)}")
    assert outcomes["done"] > 0  # deliveries of finished batches did nothing
    h.wait_finished(job_id)
    h.assert_imported_exactly(org_id, job_id, bundle)


SMALL = {"accounts": 100, "contacts": 100, "opportunities": 50, "leads": 50, "activities": 50}


def test_poison_job_fails_with_worker_lost_and_other_jobs_still_run(client, org, other_org,
                                                                   workers):
    attempts = 3
    poison_bundle, other_bundle = h.make_bundle(SMALL), h.make_bundle(SMALL)
    poison = h.submit(client, org, h.encode(poison_bundle))
    other = h.submit(client, other_org, h.encode(other_bundle))
    workers.env.update({"DRIPPULSE_MAX_JOB_ATTEMPTS": str(attempts),
                        "DP_TEST_POISON_JOB": str(poison)})
    # one pool process: the poison job's death never takes the other job's batch with it
    worker = workers.start(concurrency=1, cls=h.PoisonWorker)
    # a redelivery that found the dead process's job lock still held is picked up by the sweep
    beat = h.Sweeper()
    beat.start()
    try:
        failed = h.wait_finished(poison)
        h.wait_finished(other)
    finally:
        beat.stop()
    assert failed.status == "failed" and failed.error["code"] == "worker_lost", failed.error
    assert failed.attempts == attempts
    h.assert_batches_whole(uuid.UUID(org["organization_id"]), poison)
    h.assert_imported_exactly(uuid.UUID(other_org["organization_id"]), other, other_bundle)
    assert worker.proc.poll() is None  # the worker itself survived its pool process's deaths
