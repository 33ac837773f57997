"""The stale-job sweeper (beat every 30 s): re-enqueue jobs nobody is working on.

A job is stale when it is queued or running, no process holds its lock, and its row has not
moved for `stale_seconds` (every import batch touches it). That covers an enqueue lost while
Redis was down, a worker killed with its messages unacknowledged, and a crash between a commit
and the enqueue that should have followed it. The run task then resumes from the checkpoint;
past Settings.max_job_attempts a resumed job fails with `worker_lost`.

An import waiting for one of its organization's batch slots (fair queueing) does not move while
it waits, and is not stale: the jobs holding the slots hand them over as their batches end.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from shared import db
from shared.bundle.import_schedule import waiting_for_slot
from shared.jobs.dispatch import send_run
from shared.jobs.status import ACTIVE, JobStatus
from shared.models import jobs
from shared.services.job_runs import is_locked

log = logging.getLogger("drippulse.jobs")

def sweep_stale_jobs(enqueue: Callable[[str, list], None], stale_seconds: int, *,
                     organization_id: uuid.UUID | None = None) -> dict[str, int]:
    """Re-enqueue stale jobs (of one organization when given: operators, tests)."""
    stale = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, stale_seconds)
    active = jobs.c.status.in_(ACTIVE)
    query = sa.select(jobs.c.id, jobs.c.kind, jobs.c.status).where(
        active, jobs.c.updated_at <= stale, ~waiting_for_slot())
    if organization_id is not None:
        query = query.where(jobs.c.organization_id == organization_id)
    with db.transaction() as conn:
        candidates = conn.execute(query).all()
    swept = 0
    for job in candidates:
        if is_locked(job.id):
            continue
        with db.transaction() as conn:  # touch the row: one re-enqueue per stale period
            touched = conn.execute(jobs.update().where(jobs.c.id == job.id, active,
                                                       jobs.c.updated_at <= stale)
                                   .values(updated_at=sa.func.now())).rowcount
        if not touched:
            continue
        log.warning("re-enqueueing stale %s job %s (%s)", job.kind, job.id, job.status)
        send_run(enqueue, job.kind, job.id, stalled=job.status == JobStatus.RUNNING)
        swept += 1
    return {"checked": len(candidates), "requeued": swept}
