"""Import tasks: thin wrappers around shared.bundle.runner; arguments are ids only."""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa

from shared.bundle import runner
from shared.config import get_settings
from shared.services.job_sweeper import sweep_stale_jobs
from worker.app import celery_app

log = logging.getLogger("drippulse.import")


def enqueue(name: str, args: list) -> None:
    celery_app.send_task(name, args=args)


@celery_app.task(name="drippulse.import.run")
def import_run(job_id: str, stalled: bool = False) -> str:
    return runner.run_job(uuid.UUID(job_id), enqueue, stalled=stalled)


@celery_app.task(name="drippulse.import.batch", bind=True, max_retries=30)
def import_batch(self, job_id: str, batch_id: int) -> str:
    try:
        return runner.run_batch(int(batch_id), enqueue)
    except runner.BatchBusy as exc:
        # another transaction holds the batch: a duplicate delivery (finds it done next time)
        # or a dead worker whose connection Postgres has not dropped yet
        raise self.retry(exc=exc, countdown=2) from exc
    except sa.exc.OperationalError as exc:  # deadlock, lost connection: the batch rolled back
        raise self.retry(exc=exc, countdown=2) from exc
    except Exception as exc:  # a bug or data the validator let through: fail loudly, not forever
        log.exception("import batch %s of job %s failed", batch_id, job_id)
        # the message names the exception type only: its text can quote SQL and row data
        runner.fail_job(uuid.UUID(job_id), "batch_failed",
                        f"batch {batch_id} failed ({type(exc).__name__}); batches already "
                        "applied stay applied")
        return "failed"


@celery_app.task(name="drippulse.maintenance.sweep_stale_jobs")
def sweep_stale() -> dict:
    return sweep_stale_jobs(enqueue, get_settings().job_lease_seconds)
