"""Drives a job of any kind: one delivery of its run task takes the job's lock, starts an
attempt when the kind says so, runs it, and ends it through shared.jobs.lifecycle.

Two deliveries of one job never run at once (the lock); a delivery for a finished job does
nothing; a kind's bug ends its job as failed instead of leaving it running forever, while a
lost database connection leaves it to a later delivery (or the sweeper) to resume.
"""
from __future__ import annotations

import logging
import uuid
from enum import StrEnum

import sqlalchemy as sa

from shared import db
from shared.config import get_settings
from shared.jobs import lifecycle
from shared.jobs.dispatch import Enqueue
from shared.jobs.interrupts import reraise_if_exiting
from shared.jobs.kinds import Ending, JobFailed, kind_of
from shared.jobs.status import FINISHED, JobStatus
from shared.models import jobs
from shared.services.job_runs import job_lock

log = logging.getLogger("drippulse.jobs")


class RunOutcome(StrEnum):
    SKIPPED = "skipped"  # another delivery holds the job's lock
    FINISHED = "finished"  # the job had already ended
    NOT_STARTED = "not_started"  # cancelled, or out of attempts
    RUNNING = "running"  # units of work were queued; the job goes on
    SUCCEEDED = "succeeded"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"


def load(job_id: uuid.UUID):
    with db.transaction() as conn:
        return conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one_or_none()


def run_job(job_id: uuid.UUID, enqueue: Enqueue, *, stalled: bool = False) -> str:
    with job_lock(job_id) as got:
        if not got:
            return RunOutcome.SKIPPED
        job = load(job_id)
        if job is None or job.status in FINISHED:
            return RunOutcome.FINISHED
        kind = kind_of(job.kind)
        if job.status == JobStatus.QUEUED or kind.needs_start(job, stalled):
            job = lifecycle.start(job_id, get_settings().max_job_attempts)
            if job is None:
                return RunOutcome.NOT_STARTED
        ending = _run(kind, job, enqueue)
        if ending is not None:
            lifecycle.finish(job_id, ending.status, ending.error, **ending.values)
            return RunOutcome(ending.status.value)
    if kind.after is not None:
        kind.after(job_id, enqueue)
    return RunOutcome.RUNNING


def _run(kind, job, enqueue: Enqueue) -> Ending | None:
    try:
        return kind.run(job, enqueue)
    except JobFailed as exc:
        reraise_if_exiting(exc)  # an unreadable upload, or a read cut short by a stop?
        return Ending(JobStatus.FAILED, exc.error)
    except sa.exc.OperationalError as exc:
        reraise_if_exiting(exc)
        raise  # the database went away: a later delivery (or the sweeper) resumes
    except Exception as exc:  # noqa: BLE001 - a bug must end the job, not leave it running
        reraise_if_exiting(exc)  # the worker is being stopped: the next one resumes
        log.exception("%s job %s failed", kind.name, job.id)
        # the message names the exception type only: its text can quote SQL and row data
        return Ending(JobStatus.FAILED, {"code": kind.failure_code, "message": (
            f"{kind.failure_message} ({type(exc).__name__})")})


def fail(job_id: uuid.UUID, code: str, message: str) -> None:
    """End a running job as failed from outside its run (a unit of work that cannot succeed)."""
    lifecycle.finish(job_id, JobStatus.FAILED, {"code": code, "message": message})
