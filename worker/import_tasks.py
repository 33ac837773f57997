"""The import's batch task (its run task is worker/job_tasks.py's) and the stale-job sweep;
arguments are ids only."""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa

from shared.bundle import import_job
from shared.config import get_settings
from shared.jobs.dispatch import IMPORT_BATCH_TASK
from shared.jobs.interrupts import reraise_if_exiting
from shared.jobs.runner import RunOutcome
from shared.services.job_sweeper import sweep_stale_jobs
from worker.app import celery_app
from worker.job_tasks import enqueue

log = logging.getLogger("drippulse.import")


@celery_app.task(name=IMPORT_BATCH_TASK, bind=True, max_retries=30)
def import_batch(self, job_id: str, batch_id: int) -> str:
    try:
        return import_job.run_batch(int(batch_id), enqueue)
    except import_job.BatchBusy as exc:
        # another transaction holds the batch: a duplicate delivery (finds it done next time)
        # or a dead worker whose connection Postgres has not dropped yet
        raise self.retry(exc=exc, countdown=2) from exc
    except sa.exc.OperationalError as exc:  # deadlock, lost connection: the batch rolled back
        reraise_if_exiting(exc)  # a stopped process: the batch rolled back, redelivered
        raise self.retry(exc=exc, countdown=2) from exc
    except Exception as exc:  # a bug or data the validator let through: fail loudly, not forever
        reraise_if_exiting(exc)
        log.exception("import batch %s of job %s failed", batch_id, job_id)
        import_job.fail_batch(uuid.UUID(job_id), int(batch_id), exc)
        return RunOutcome.FAILED


@celery_app.task(name="drippulse.maintenance.sweep_stale_jobs")
def sweep_stale() -> dict:
    return sweep_stale_jobs(enqueue, get_settings().job_lease_seconds)
