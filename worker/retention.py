"""Periodic retention task (scheduled by beat in worker/app.py)."""
from __future__ import annotations

from shared.services import retention
from worker.app import celery_app


@celery_app.task(name="drippulse.maintenance.retention_cleanup")
def retention_cleanup() -> dict[str, int]:
    return retention.cleanup()
