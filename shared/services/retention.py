"""Retention: finished jobs older than Settings.retention_days go, with their errors and files.

Runs as a periodic maintenance task across all organizations (a system transaction, like the
other sweeps). Works in small batches so no transaction holds many locks; rows another
transaction holds are skipped and taken on the next run. Change events keep their job_id:
the audit trail outlives the job that wrote it.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from shared import db
from shared.bundle.tables import import_row_keys
from shared.config import get_settings
from shared.jobs.status import FINISHED
from shared.models import job_errors, jobs
from shared.storage import get_storage

log = logging.getLogger("drippulse.retention")
# a `.part` file unmodified this long belongs to a dead writer (a live one writes continuously)
PART_MAX_AGE_SECONDS = 24 * 3600

def cleanup(now: datetime | None = None, *, batch_size: int = 500) -> dict[str, int]:
    """Delete expired finished jobs; return how many jobs, job errors and files went."""
    settings = get_settings()
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.retention_days)
    storage = get_storage()
    deleted = {"jobs": 0, "job_errors": 0, "files": 0}
    # a job finished long ago may lack finished_at (older code paths): fall back to later stamps
    finished_at = sa.func.coalesce(jobs.c.finished_at, jobs.c.updated_at, jobs.c.created_at)
    while True:
        with db.transaction() as conn:
            rows = conn.execute(
                sa.select(jobs.c.organization_id, jobs.c.id, jobs.c.upload_key,
                          jobs.c.result_key, jobs.c.checkpoint)
                .where(jobs.c.status.in_(FINISHED), finished_at < cutoff)
                .order_by(finished_at)
                .limit(batch_size)
                .with_for_update(skip_locked=True)).all()
            if not rows:
                break
            # files first: if deleting the rows fails, the next run finds the rows again and
            # deleting a missing file is a no-op; the reverse order could orphan files forever
            for row in rows:
                for key in _file_keys(row):
                    if storage.exists(key):
                        storage.delete(key)
                        deleted["files"] += 1
            # import_batches / import_refs go with the job (ON DELETE CASCADE); the row keys of
            # a run that did not end cleanly have no foreign key (migration 0005)
            keys = [(row.organization_id, row.id) for row in rows]
            conn.execute(import_row_keys.delete().where(
                sa.tuple_(import_row_keys.c.organization_id, import_row_keys.c.job_id).in_(keys)))
            deleted["job_errors"] += conn.execute(job_errors.delete().where(
                sa.tuple_(job_errors.c.organization_id, job_errors.c.job_id).in_(keys))).rowcount
            deleted["jobs"] += conn.execute(jobs.delete().where(
                sa.tuple_(jobs.c.organization_id, jobs.c.id).in_(keys))).rowcount
        if len(rows) < batch_size:
            break
    # a worker killed while writing leaves its temporary file behind; none is named by a job
    remove_parts = getattr(storage, "remove_stale_parts", None)
    if remove_parts is not None:
        deleted["files"] += remove_parts(PART_MAX_AGE_SECONDS)
    if any(deleted.values()):
        log.info("retention: deleted %(jobs)d jobs, %(job_errors)d job errors, %(files)d files",
                 deleted)
    return deleted


def _file_keys(row: sa.Row) -> list[str]:
    """Every file a job may have left: upload, export result, import spool files."""
    spool = ((row.checkpoint or {}).get("spool") or {}).values()
    return [key for key in (row.upload_key, row.result_key, *spool) if key]
