"""The import job kind: a bundle, or another system's export, into the organization.

Units of work: phase 1 spools the upload under the job's lock (import_spool_phase); phase 2
applies batches entity by entity (accounts → contacts → opportunities → leads → activities),
each in one transaction (apply), scheduled by import_schedule. A redelivered or swept run
resumes: nothing committed is redone, pending batches are queued again.

    upload (API) → job row queued → run task → lock + start → spool → advance → batch tasks …
    → last batch → advance → deferred parent references → succeeded | completed_with_errors
"""
from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.bundle.apply import BatchState, apply_batch
from shared.bundle.import_schedule import advance, schedule_after_batch
from shared.bundle.import_spool_phase import spool_job
from shared.bundle.tables import import_batches
from shared.config import get_settings
from shared.interop.source import SOURCES
from shared.jobs.dispatch import Enqueue
from shared.jobs.kinds import Ending, JobKind
from shared.jobs.runner import fail
from shared.models import jobs
from shared.worker_metrics import observe_batch

FLAGS = ("dry_run", "create_stages")


class BatchBusy(Exception):
    """The batch is locked by another transaction (a duplicate delivery, or a dying worker)."""


def validate(params: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for name in FLAGS:
        if name in params and not isinstance(params[name], bool):
            problems[name] = ["must be true or false"]
    if params.get("source", "bundle") not in SOURCES:
        problems["source"] = ["must be one of " + ", ".join(SOURCES)]
    for name in set(params) - {*FLAGS, "source"}:
        problems[name] = ["is not a parameter of imports"]
    return problems


def needs_start(job, stalled: bool) -> bool:
    """A delivery starts an attempt until the upload is spooled, and when the sweeper finds the
    job stalled with no batch done since its last look."""
    return not (job.checkpoint or {}).get("spooled") or (stalled and not _progressed(job))


def _progressed(job) -> bool:
    """Whether batches completed since the last stalled resume. A job that moves, however
    slowly (a long queue of other organizations' batches), is resumed without spending an
    attempt; one stuck on a batch that kills its worker spends one per resume and fails with
    worker_lost after Settings.max_job_attempts."""
    with db.tenant_transaction(job.organization_id) as conn:
        done = conn.execute(sa.select(sa.func.count()).where(
            import_batches.c.organization_id == job.organization_id,
            import_batches.c.job_id == job.id, import_batches.c.status == "done")).scalar()
        if done == (job.checkpoint or {}).get("resume_mark"):
            return False
        conn.execute(jobs.update().where(jobs.c.organization_id == job.organization_id,
                                         jobs.c.id == job.id)
                     .values(checkpoint=jobs.c.checkpoint.op("||")(
                         sa.func.jsonb_build_object(sa.cast("resume_mark", sa.Text), done))))
    return True


def run(job, enqueue: Enqueue) -> Ending | None:
    """Under the job's lock: spool once; the batches are queued by `after`."""
    if not (job.checkpoint or {}).get("spooled"):
        spool_job(job, get_settings().batch_size)
    return None


def resume(job_id: uuid.UUID, enqueue: Enqueue) -> str:
    return advance(job_id, enqueue, resume=True)


KIND = JobKind("import", "imports", validate=validate, run=run, needs_start=needs_start,
               after=resume, failure_code="spool_failed",
               failure_message="the upload could not be processed")


def run_batch(batch_id: int, enqueue: Enqueue) -> str:
    """One batch task: apply the batch; its transaction also schedules what comes next."""
    started = time.perf_counter()
    outcome = apply_batch(batch_id, lambda conn, batch: schedule_after_batch(conn, batch,
                                                                            enqueue))
    if outcome.state == BatchState.APPLIED and outcome.entity:
        observe_batch("import", outcome.entity, time.perf_counter() - started,
                      {k: v for k, v in outcome.counts.items() if k != "processed"})
    if outcome.state == BatchState.LOCKED:
        raise BatchBusy(batch_id)
    if outcome.state == BatchState.STOPPED and outcome.job_id:
        advance(outcome.job_id, enqueue)  # cancellation is concluded here
    return outcome.state


def fail_batch(job_id: uuid.UUID, batch_id: int, exc: Exception) -> None:
    """A batch that raised something unexpected fails its job (not retried forever); the
    message names the exception type only: its text can quote SQL and row data."""
    fail(job_id, "batch_failed", f"batch {batch_id} failed ({type(exc).__name__}); batches "
         "already applied stay applied")
