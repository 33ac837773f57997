"""Finished export files: who may download which file, and their expiry."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

import sqlalchemy as sa

from shared import db
from shared.errors import AppError, Conflict, NotFound
from shared.jobs.status import ACTIVE, JobStatus
from shared.models import jobs
from shared.services.jobs import get_job
from shared.storage import get_storage

log = logging.getLogger(__name__)


class Gone(AppError):
    """410: the export existed but its file has expired or disappeared."""

    status, code = 410, "gone"


@dataclass
class Download:
    handle: BinaryIO
    size: int
    filename: str
    content_type: str


# The stored file's extension says what it holds (export_jobs.result_key).
FILE_TYPES = {".json.gz": "application/gzip", ".json": "application/json",
              ".zip": "application/zip"}


def file_type(result_key: str) -> tuple[str, str]:
    """(extension, content type) of a stored export file."""
    for extension, content_type in FILE_TYPES.items():
        if result_key.endswith(extension):
            return extension, content_type
    return ".json", "application/json"


def download_name(job_id: uuid.UUID, finished_at: datetime | None, extension: str) -> str:
    day = (finished_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
    return f"drippulse-export-{day}-{str(job_id)[-8:]}{extension}"


def open_download(organization_id: uuid.UUID, job_id: str) -> Download:
    """The file of a succeeded export of this organization (another tenant's job is a 404)."""
    job = get_job(organization_id, job_id)
    if job.kind != "export":
        raise NotFound("Only export jobs have a download")
    if job.status != JobStatus.SUCCEEDED:
        message = ("The export is not finished yet" if job.status in ACTIVE
                   else f"The export ended {job.status} and has no file")
        raise Conflict(message, {"status": job.status})
    expired = {"expires_at": job.expires_at.isoformat() if job.expires_at else None}
    if job.result_key is None or (job.expires_at and job.expires_at <= datetime.now(UTC)):
        raise Gone("The export file has expired; start a new export", expired)
    storage = get_storage()
    try:
        handle = storage.open(job.result_key)
        size = storage.size(job.result_key)
    except FileNotFoundError as exc:
        raise Gone("The export file is no longer available; start a new export", expired) from exc
    extension, content_type = file_type(job.result_key)
    return Download(handle=handle, size=size,
                    filename=download_name(job.id, job.finished_at, extension),
                    content_type=content_type)


def expire_exports(batch: int = 500) -> int:
    """Delete export files past expires_at and forget their key (the job row stays).

    A sweep across organizations, hence the system transaction. The file goes before the key:
    a crash in between leaves a key whose file is missing, which downloads answer with 410 too.
    """
    storage = get_storage()
    expired = 0
    while True:
        with db.transaction() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.result_key)
                .where(jobs.c.kind == "export", jobs.c.result_key.is_not(None),
                       jobs.c.expires_at <= sa.func.now())
                .order_by(jobs.c.expires_at).limit(batch).with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                storage.delete(row.result_key)
            if rows:
                conn.execute(jobs.update().where(jobs.c.id.in_([r.id for r in rows]))
                             .values(result_key=None))
        expired += len(rows)
        if len(rows) < batch:
            if expired:
                log.info("expired %d export files", expired)
            return expired
