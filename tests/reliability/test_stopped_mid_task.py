"""A worker stopped in the middle of a task does not fail the job it was working on, and the
task goes back to the queue.

`kill -TERM -pgid` turns into SystemExit inside the running task (the pool process's signal
handler). The cleanup on the way out can itself fail on a connection left mid-statement — a
rollback while a COPY is still open raises ProgrammingError, one while a query still runs raises
OperationalError — and that error replaces the SystemExit. These tests raise exactly that chain
inside the real task functions, run through Celery's own tracer (`Task.apply`): the stop must
come out as a SystemExit (a plain exception would be recorded as the task's failure and the
message acknowledged, never redelivered), the job must stay running, and the next delivery
imports every row once.
"""
from __future__ import annotations

import io
import uuid

import orjson
import psycopg
import pytest
import sqlalchemy as sa

from shared.bundle import apply as bundle_apply
from shared.bundle import import_job
from shared.bundle.upload import submit_import
from shared.jobs import runner as job_runner
from shared.jobs.interrupts import reraise_if_exiting
from shared.jobs.kinds import JobFailed
from shared.services import jobs as job_service
from tests.bundles.helpers import LocalQueue, bundle, rows
from tests.conftest import replace_settings

STOP_CODE = -241  # billiard's SIGTERM handler: sys.exit(-(256 - 15))


def _stopped_during_cleanup(replacement: Exception):
    def raise_it(*_args, **_kwargs):
        try:
            raise SystemExit(STOP_CODE)
        finally:
            raise replacement  # noqa: B012 - the cleanup's error replacing the stop is the point
    return raise_it


ROLLBACK_MID_COPY = sa.exc.ProgrammingError(
    "ROLLBACK TO SAVEPOINT sa_savepoint_1", {},
    psycopg.ProgrammingError("COPY cannot be used with this method"))
ROLLBACK_MID_QUERY = sa.exc.OperationalError(
    "ROLLBACK", {}, psycopg.OperationalError("another command is already in progress"))
UPLOAD_READ_CUT = JobFailed("invalid_gzip", "the gzip upload cannot be read")


@pytest.fixture
def small_batches(fresh_settings):
    return replace_settings(fresh_settings, batch_size=3)


def _submit(org, accounts: int, queue: LocalQueue) -> uuid.UUID:
    body = bundle(accounts=[{"public_id": f"acct_stop{i}", "name": f"Account {i}"}
                            for i in range(accounts)])
    job, _ = submit_import(uuid.UUID(org["organization_id"]), "test",
                           io.BytesIO(orjson.dumps(body)), limit=10**7, dry_run=False,
                           idempotency_key=None, expect_gzip=False, enqueue=queue)
    queue.messages.clear()  # the run message: the test delivers it itself
    return job.id


def _status(org, job_id: uuid.UUID) -> str:
    return job_service.get_job(uuid.UUID(org["organization_id"]), job_id).status


def test_the_stop_is_raised_again_and_anything_else_is_left_alone():
    with pytest.raises(sa.exc.ProgrammingError) as caught:
        _stopped_during_cleanup(ROLLBACK_MID_COPY)()
    with pytest.raises(SystemExit) as stop:
        reraise_if_exiting(caught.value)
    assert stop.value.code == STOP_CODE and stop.value.__cause__ is caught.value
    reraise_if_exiting(sa.exc.ProgrammingError("SELECT", {}, ValueError("a bug")))  # returns


@pytest.mark.parametrize("replacement", [ROLLBACK_MID_COPY, ROLLBACK_MID_QUERY],
                         ids=["mid-copy", "mid-query"])
def test_a_batch_task_stopped_mid_write_goes_back_to_the_queue(org, small_batches, monkeypatch,
                                                               replacement):
    from worker.import_tasks import import_batch

    queue = LocalQueue()
    job_id = _submit(org, 7, queue)
    assert job_runner.run_job(job_id, queue) == "running"
    first, *rest = queue.batches()
    queue.messages.clear()
    with monkeypatch.context() as patched:
        patched.setattr(bundle_apply, "write_rows", _stopped_during_cleanup(replacement))
        with pytest.raises(SystemExit):  # through the tracer to the pool: not a task failure
            import_batch.apply(args=[str(job_id), first])
    assert _status(org, job_id) == "running"
    # the broker redelivers the batch to the next worker
    for batch_id in (first, *rest):
        assert import_batch.apply(args=[str(job_id), batch_id]).get() in ("applied", "done")
    queue.drain()
    assert _status(org, job_id) == "succeeded"
    assert sorted(r["public_id"] for r in rows(org, "accounts")) == sorted(
        f"acct_stop{i}" for i in range(7))


@pytest.mark.parametrize("replacement", [ROLLBACK_MID_COPY, UPLOAD_READ_CUT],
                         ids=["mid-copy", "upload-read-cut"])
def test_a_job_run_stopped_mid_spool_goes_back_to_the_queue(org, small_batches, monkeypatch,
                                                            replacement):
    from worker.job_tasks import RUN_TASKS

    queue = LocalQueue()
    job_id = _submit(org, 4, queue)
    with monkeypatch.context() as patched:
        patched.setattr(import_job, "spool_job", _stopped_during_cleanup(replacement))
        with pytest.raises(SystemExit):
            RUN_TASKS["import"].apply(args=[str(job_id)])
    assert _status(org, job_id) == "running"
    # the next worker (a redelivery, or the stale-job sweep) resumes it
    assert job_runner.run_job(job_id, queue, stalled=True) == "running"
    queue.drain()
    assert _status(org, job_id) == "succeeded"
    assert len(rows(org, "accounts")) == 4


def test_a_real_bug_still_fails_the_job(org, small_batches, monkeypatch):
    from worker.import_tasks import import_batch

    queue = LocalQueue()
    job_id = _submit(org, 4, queue)
    assert job_runner.run_job(job_id, queue) == "running"

    def broken(*_args, **_kwargs):
        raise sa.exc.ProgrammingError("INSERT", {}, psycopg.ProgrammingError("a bug"))

    monkeypatch.setattr(bundle_apply, "write_rows", broken)
    assert import_batch.apply(args=[str(job_id), queue.batches()[0]]).get() == "failed"
    assert _status(org, job_id) == "failed"


# a real worker; no stale-job sweep runs, so only the broker's redelivery can finish the job
@pytest.mark.slow
def test_a_real_worker_stopped_mid_batch_gets_the_batch_redelivered(client, org, workers,
                                                                    tmp_path):
    from tests.reliability import harness as h

    bundle_rows = h.make_bundle({"accounts": 300, "contacts": 300, "opportunities": 100,
                                 "leads": 100, "activities": 100})
    job_id = h.submit(client, org, h.encode(bundle_rows))
    mark = tmp_path / "stopped"
    workers.env.update({"DP_TEST_STOP_JOB": str(job_id), "DP_TEST_STOP_MARK": str(mark)})
    worker = workers.start(concurrency=1, cls=h.StoppingWorker)
    finished = h.wait_finished(job_id, timeout=120)
    assert mark.exists(), "the pool process was never stopped: the test proved nothing"
    assert finished.status == "succeeded", finished.error
    h.assert_imported_exactly(uuid.UUID(org["organization_id"]), job_id, bundle_rows)
    assert worker.proc.poll() is None  # the worker replaced its stopped pool process
