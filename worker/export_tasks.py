"""Export maintenance (the export's run task is worker/job_tasks.py's)."""
from __future__ import annotations

from shared.bundle.export_files import expire_exports as expire_export_files
from worker.app import celery_app


@celery_app.task(name="drippulse.maintenance.expire_exports")
def expire_exports() -> None:
    expire_export_files()
