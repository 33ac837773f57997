"""Accepting an import: stream the request body to storage, then create the job row.

The body is never parsed nor held in memory here: it is copied in chunks to storage while its
size is counted (over the limit → 413, partial file deleted, no job row) and its SHA-256 is
computed (the Idempotency-Key compares it). Only two cheap checks run: an empty body and a body
whose first byte cannot start a JSON object answer 400 at once; everything else is the worker's.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import sqlalchemy as sa

from shared import db
from shared.bundle.spool import GZIP_MAGIC
from shared.config import get_settings
from shared.errors import BadRequest, PayloadTooLarge
from shared.ids import uuid7
from shared.jobs.dispatch import Enqueue, dispatch_after_commit
from shared.models import jobs
from shared.services.jobs import create_job, find_idempotent
from shared.storage import CHUNK, get_storage
from shared.storage_keys import upload_key

log = logging.getLogger("drippulse.import")

WHITESPACE = b" \t\r\n"


@dataclass
class StoredUpload:
    key: str
    size: int
    sha256: str
    gzip: bool


class InflatedSize:
    """Counts what a gzip body inflates to as it streams by, so a small gzip of a huge bundle is
    refused (413) at upload instead of holding a worker. Output is never kept: at most `step`
    bytes exist at a time. Data that is not valid gzip stops the count; the worker reports it."""

    def __init__(self, limit: int, step: int = CHUNK) -> None:
        self.limit, self.step = limit, step
        self.total = 0
        self._inflater: zlib._Decompress | None = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def feed(self, data: bytes) -> None:
        while data and self._inflater is not None:
            try:
                self.total += len(self._inflater.decompress(data, self.step))
            except zlib.error:
                self._inflater = None
                return
            if self.total > self.limit:
                raise PayloadTooLarge(f"the bundle inflates to more than {self.limit} bytes",
                                      {"max_inflated_bytes": self.limit})
            if self._inflater.eof:  # another gzip member may follow
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            else:
                data = self._inflater.unconsumed_tail


def store_upload(source: BinaryIO, organization_id: uuid.UUID, job_id: uuid.UUID,
                 limit: int, *, expect_gzip: bool = False,
                 expected_size: int | None = None) -> StoredUpload:
    key = upload_key(organization_id, job_id, "bundle")
    digest = hashlib.sha256()
    total = 0
    head = b""
    inflated: InflatedSize | None = None
    storage = get_storage()
    try:
        with storage.writer(key) as out:
            while chunk := _read(source):
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLarge(f"the upload exceeds {limit} bytes",
                                          {"max_upload_bytes": limit})
                if len(head) < 64:
                    head += chunk[:64]
                    if inflated is None and head.startswith(GZIP_MAGIC):
                        inflated = InflatedSize(get_settings().max_inflated_bytes)
                if inflated is not None:
                    inflated.feed(chunk)
                digest.update(chunk)
                out.write(chunk)
            # Behind gunicorn the body stream just ends when the client hangs up mid-upload
            # (wsgi.input_terminated): a short body must not become a job.
            if expected_size is not None and total != expected_size:
                raise BadRequest(f"the upload ended after {total} of the {expected_size} bytes "
                                 "its Content-Length announced", code="incomplete_upload")
            _cheap_checks(head, total, expect_gzip)
    except BaseException:
        storage.delete(key)
        raise
    return StoredUpload(key, total, digest.hexdigest(), head.startswith(GZIP_MAGIC))


def _read(source: BinaryIO) -> bytes:
    try:
        return source.read(CHUNK)
    except OSError as exc:  # the client went away mid-body (gunicorn: NoMoreData and kin)
        raise BadRequest("the upload was interrupted before its end",
                         code="incomplete_upload") from exc


def _cheap_checks(head: bytes, size: int, expect_gzip: bool) -> None:
    if size == 0:
        raise BadRequest("the request body is empty; send a bundle", code="empty_bundle")
    if head.startswith(GZIP_MAGIC):
        return
    if expect_gzip:
        raise BadRequest("Content-Encoding is gzip but the body is not gzip data",
                         code="invalid_gzip")
    first = head.lstrip(WHITESPACE + b"\xef\xbb\xbf")[:1]
    if first and first != b"{":
        raise BadRequest("the bundle must be a JSON object", code="invalid_bundle")


def known_idempotency_key(organization_id: uuid.UUID, kind: str, key: str | None) -> bool:
    """Whether a job of `kind` was already made with this Idempotency-Key: only such a replay
    may pass the active-jobs cap (a fresh key is a new job like any other)."""
    if key is None:
        return False
    with db.tenant_transaction(organization_id) as conn:
        return conn.execute(sa.select(jobs.c.id).where(
            jobs.c.organization_id == organization_id, jobs.c.kind == kind,
            jobs.c.idempotency_key == key)).first() is not None


def submit_import(organization_id: uuid.UUID, actor: str, source: BinaryIO, *, limit: int,
                  dry_run: bool, idempotency_key: str | None, expect_gzip: bool,
                  enqueue: Callable[[str, list], None],
                  expected_size: int | None = None) -> tuple[Any, bool]:
    """Store the upload and create + enqueue its job; returns (job row, created?). With an
    Idempotency-Key seen before with the same body, the earlier job comes back (created=False)."""
    job_id = uuid7()
    upload = store_upload(source, organization_id, job_id, limit, expect_gzip=expect_gzip,
                          expected_size=expected_size)
    request_hash = f"sha256:{upload.sha256}:{'dry_run' if dry_run else 'apply'}"
    try:
        row = create_import_job(organization_id, actor, job_id, upload, request_hash,
                                {"dry_run": dry_run}, idempotency_key, enqueue)
    except BaseException:
        get_storage().delete(upload.key)
        raise
    return enqueue_created(row, job_id, upload)


def enqueue_created(row: Any, job_id: uuid.UUID, upload: StoredUpload) -> tuple[Any, bool]:
    """(job, created?): an idempotent replay drops the upload just stored (a new job was
    dispatched when its row committed)."""
    if row.id != job_id:  # an idempotent replay: the upload we just stored is not needed
        get_storage().delete(upload.key)
        return row, False
    return row, True


def create_import_job(organization_id: uuid.UUID, actor: str, job_id: uuid.UUID,
                      upload: StoredUpload, request_hash: str, params: dict[str, Any],
                      idempotency_key: str | None, enqueue: Enqueue) -> Any:
    """The import job of a stored upload (or the earlier job of the same Idempotency-Key and
    body), dispatched to the workers once its row has committed."""
    for attempt in range(2):
        try:
            with db.tenant_transaction(organization_id) as conn:
                if idempotency_key:
                    existing = find_idempotent(conn, organization_id, "import", idempotency_key,
                                               request_hash)
                    if existing is not None:
                        return existing
                row = create_job(conn, organization_id, "import",
                                 params=params, upload_key=upload.key,
                                 upload_size=upload.size, idempotency_key=idempotency_key,
                                 request_hash=request_hash, created_by=actor, job_id=job_id)
                dispatch_after_commit(conn, enqueue, "import", job_id)
                return row
        except sa.exc.IntegrityError:
            # a concurrent request with the same key won the insert: answer with its job
            if attempt or not idempotency_key:
                raise
    raise AssertionError("unreachable")
