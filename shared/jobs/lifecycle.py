"""The only functions that change a job's status. Each moves one job along a legal transition
(shared.jobs.status) with a guarded UPDATE, so a racing writer can never move a job twice or
out of a final state.

Workers use start / finish / give_up; the API uses request_cancel / retry. Runs that must
end a job inside a transaction they already hold pass it as `conn`.
"""
from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.errors import Conflict, NotFound
from shared.ids import id_or_404
from shared.jobs.dispatch import Enqueue, dispatch_after_commit
from shared.jobs.status import FINISHED, IllegalTransition, JobStatus, check, sources_of
from shared.models import jobs
from shared.notifications import hook as notifications

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def _move(conn: sa.Connection, job_id: uuid.UUID, wanted: JobStatus, **values: Any) -> Any:
    """UPDATE … WHERE status may move to `wanted`; the row, or None when it may not."""
    row = conn.execute(
        jobs.update().where(jobs.c.id == job_id, jobs.c.status.in_(sources_of(wanted)))
        .values(status=wanted.value, **values).returning(*jobs.c)).one_or_none()
    if row is not None and wanted in FINISHED:
        notifications.job_finished(conn, job_id)  # webhooks, sent after this commit
    return row


def start(job_id: uuid.UUID, max_attempts: int) -> Any | None:
    """queued/running → running, counting the attempt; None when the job must not run: it is
    finished, its cancel was requested (→ cancelled), or its attempts ran out (→ failed,
    worker_lost)."""
    with db.transaction() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)
                           .with_for_update()).one_or_none()
        if row is None or row.status in FINISHED:
            return None
        if row.cancel_requested:
            _move(conn, job_id, JobStatus.CANCELLED, finished_at=sa.func.now())
            return None
        if row.attempts >= max_attempts:
            give_up(conn, job_id, row.attempts)
            return None
        return _move(conn, job_id, JobStatus.RUNNING, attempts=jobs.c.attempts + 1,
                     lease_owner=WORKER_ID,
                     started_at=sa.func.coalesce(jobs.c.started_at, sa.func.now()))


def give_up(conn: sa.Connection, job_id: uuid.UUID, attempts: int) -> None:
    _move(conn, job_id, JobStatus.FAILED, finished_at=sa.func.now(),
          error={"code": "worker_lost",
                 "message": f"the job's worker died {attempts} times; giving up"})


def finish(job_id: uuid.UUID, status: JobStatus, error: dict | None = None, *,
           conn: sa.Connection | None = None, **values: Any) -> bool:
    """running → a final status (with the error, result and progress it ends with); False when
    the job was no longer running (another run or a cancel ended it first)."""
    if status not in FINISHED:
        raise IllegalTransition(JobStatus.RUNNING, status)
    fields = {"error": error, "finished_at": sa.func.now(), "lease_owner": None, **values}
    if conn is not None:
        return _finish_in(conn, job_id, status, fields)
    with db.transaction() as own:
        return _finish_in(own, job_id, status, fields)


def _finish_in(conn: sa.Connection, job_id: uuid.UUID, status: JobStatus,
               fields: dict[str, Any]) -> bool:
    moved = conn.execute(jobs.update().where(jobs.c.id == job_id,
                                             jobs.c.status == JobStatus.RUNNING.value)
                         .values(status=status.value, **fields)).rowcount == 1
    if moved:
        notifications.job_finished(conn, job_id)  # webhooks, sent after this commit
    return moved


def _locked(conn: sa.Connection, organization_id: uuid.UUID, job_id: uuid.UUID) -> Any:
    """The job row, locked until the transaction ends (status changes are decided under it)."""
    row = conn.execute(sa.select(jobs).where(jobs.c.organization_id == organization_id,
                                             jobs.c.id == job_id)
                       .with_for_update()).one_or_none()
    if row is None:
        raise NotFound("Job not found")
    return row


def request_cancel(organization_id: uuid.UUID, job_id: str | uuid.UUID) -> Any:
    """Queued jobs are cancelled at once; running ones stop at their next unit of work."""
    job_id = id_or_404(job_id, "Job")
    with db.tenant_transaction(organization_id) as conn:
        row = _locked(conn, organization_id, job_id)
        if row.status in FINISHED:
            raise Conflict(f"Job already {row.status}", {"status": row.status})
        if row.status == JobStatus.QUEUED:
            return _move(conn, job_id, JobStatus.CANCELLED, cancel_requested=True,
                         finished_at=sa.func.now())
        return conn.execute(jobs.update().where(jobs.c.id == job_id)
                            .values(cancel_requested=True).returning(*jobs.c)).one()


def retry(organization_id: uuid.UUID, job_id: str | uuid.UUID, enqueue: Enqueue) -> Any:
    """failed → queued, dispatched after commit; the run resumes from its checkpoint
    (committed work stays done)."""
    job_id = id_or_404(job_id, "Job")
    with db.tenant_transaction(organization_id) as conn:
        row = _locked(conn, organization_id, job_id)
        try:
            check(row.status, JobStatus.QUEUED)
        except IllegalTransition:
            raise Conflict(f"Only failed jobs can be retried; this one is {row.status}",
                           {"status": row.status}) from None
        row = _move(conn, job_id, JobStatus.QUEUED, error=None, finished_at=None, attempts=0,
                    cancel_requested=False, lease_owner=None)
        dispatch_after_commit(conn, enqueue, row.kind, row.id)
        return row
