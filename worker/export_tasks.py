"""Export tasks: they receive a job id and call the export service."""
from __future__ import annotations

import logging
import uuid

from shared.bundle.export_files import expire_exports as expire_export_files
from shared.bundle.export_jobs import run_export_job
from worker.app import celery_app

log = logging.getLogger(__name__)


@celery_app.task(name="drippulse.export.run")
def run(job_id: str) -> None:
    outcome = run_export_job(uuid.UUID(job_id))
    log.info("export job %s: %s", job_id, outcome)


@celery_app.task(name="drippulse.maintenance.expire_exports")
def expire_exports() -> None:
    expire_export_files()
