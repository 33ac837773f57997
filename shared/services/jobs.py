"""Job rows: the truth about every import and export (docs/architecture.md, "Jobs: the row is
the truth", "Job JSON")."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.config import get_settings
from shared.errors import NotFound, RateLimited, ValidationFailed
from shared.fields import text_problem
from shared.ids import id_or_404, uuid7
from shared.jobs import progress as job_progress
from shared.jobs.kinds import kind_of
from shared.jobs.kinds import names as kind_names
from shared.jobs.status import ACTIVE, STATUSES, JobStatus
from shared.models import job_errors, jobs
from shared.pagination import bad_cursor, decode_cursor, page
from shared.urls import CRM_API as API_BASE


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_json(row: Any) -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    job_id = str(m["id"])
    progress = m["progress"] or {}
    links = {"self": f"{API_BASE}/jobs/{job_id}", "errors": f"{API_BASE}/jobs/{job_id}/errors",
             "download": None}
    if m["kind"] == "export" and m["status"] == JobStatus.SUCCEEDED and m["result_key"]:
        links["download"] = f"{API_BASE}/jobs/{job_id}/download"
    body = {
        "id": job_id,
        "kind": m["kind"],
        "status": m["status"],
        "progress": progress,
        "percent": job_progress.percent(progress, m["status"]),
        "error_count": m["error_count"],
        "rows_per_second": job_progress.rows_per_second(progress, m["started_at"],
                                                        m["finished_at"]),
        "reading": _reading(m),
        "error": m["error"],
        "dry_run": bool((m["params"] or {}).get("dry_run")),
        "attempts": m["attempts"],
        "created_at": _iso(m["created_at"]),
        "started_at": _iso(m["started_at"]),
        "finished_at": _iso(m["finished_at"]),
        "updated_at": _iso(m["updated_at"]),
        "links": links,
    }
    if m["kind"] == "import":
        body["source"] = (m["params"] or {}).get("source", "bundle")
        body["warnings"] = m["warnings"] or []
    if m["kind"] == "revert":
        body["reverts"] = (m["params"] or {}).get("reverts")
        body["force"] = bool((m["params"] or {}).get("force"))
    if m["kind"] == "export":
        body["format"] = (m["params"] or {}).get("format", "json")
        body["result_size"] = m["result_size"]
        body["expires_at"] = _iso(m["expires_at"])
    return body


def _reading(m: Any) -> dict[str, Any] | None:
    """How far a running import's spool phase has read its upload: `{"bytes", "bytes_total",
    "rows"}`, written into the checkpoint by the spool's heartbeat about once a second
    (shared.bundle.spool_heartbeat). Null outside that phase: the spool's last write replaces
    the checkpoint, and a spool that failed or was killed may leave figures that no longer mean
    anything once the job is not running (a resumed one starts again at zero)."""
    checkpoint = m["checkpoint"] or {}
    if (m["kind"] != "import" or m["status"] != JobStatus.RUNNING
            or checkpoint.get("spooled")):
        return None
    return checkpoint.get("reading")


def create_job(conn: sa.Connection, organization_id: uuid.UUID, kind: str, *,
               params: dict | None = None, upload_key: str | None = None,
               upload_size: int | None = None, idempotency_key: str | None = None,
               request_hash: str | None = None, created_by: str | None = None,
               job_id: uuid.UUID | None = None) -> Any:
    """Insert a queued job after its kind validated every parameter (422 listing each
    problem); the caller dispatches it after commit (shared.jobs.dispatch)."""
    problems = kind_of(kind).validate(params or {})
    if problems:
        raise ValidationFailed(f"Invalid {kind} parameters", problems)
    row = conn.execute(
        jobs.insert().values(
            id=job_id or uuid7(), organization_id=organization_id, kind=kind,
            status=JobStatus.QUEUED.value, params=params or {},
            progress=job_progress.empty() if kind == "import" else {},
            checkpoint={}, error_count=0, attempts=0, cancel_requested=False,
            upload_key=upload_key, upload_size=upload_size, idempotency_key=idempotency_key,
            request_hash=request_hash, created_by=created_by,
        ).returning(*jobs.c)
    ).one()
    return row


def ensure_capacity(organization_id: uuid.UUID) -> None:
    """One organization may have only so many queued or running jobs (0 = no limit), so a
    runaway script cannot fill the queues that every tenant shares."""
    limit = get_settings().max_active_jobs_per_org
    if limit <= 0:
        return
    with db.tenant_transaction(organization_id) as conn:
        active = conn.execute(sa.select(sa.func.count()).where(
            jobs.c.organization_id == organization_id,
            jobs.c.status.in_(ACTIVE))).scalar()
    if active >= limit:
        raise RateLimited(f"{active} jobs are queued or running; at most {limit} at a time",
                          retry_after=30, code="too_many_jobs")


def find_idempotent(conn: sa.Connection, organization_id: uuid.UUID, kind: str,
                    idempotency_key: str, request_hash: str) -> Any | None:
    """The job an earlier request with this key made; the same key with another body is a 422."""
    row = conn.execute(
        sa.select(jobs).where(jobs.c.organization_id == organization_id, jobs.c.kind == kind,
                              jobs.c.idempotency_key == idempotency_key)
    ).one_or_none()
    if row is not None and row.request_hash != request_hash:
        raise ValidationFailed(
            "Idempotency-Key was already used with a different request body",
            {"Idempotency-Key": ["reused with a different body"]}, code="idempotency_key_reused")
    return row


def get_job(organization_id: uuid.UUID, job_id: str | uuid.UUID) -> Any:
    jid = id_or_404(job_id, "Job")
    with db.tenant_transaction(organization_id) as conn:
        row = conn.execute(
            sa.select(jobs).where(jobs.c.organization_id == organization_id, jobs.c.id == jid)
        ).one_or_none()
    if row is None:
        raise NotFound("Job not found")
    return row


def list_jobs(organization_id: uuid.UUID, *, kind: str | None = None, status: str | None = None,
              cursor: str | None = None, limit: int = 50) -> tuple[list[Any], str | None]:
    query = sa.select(jobs).where(jobs.c.organization_id == organization_id)
    if kind:
        if kind not in kind_names():
            raise ValidationFailed("Invalid filter", {"kind": [
                "must be " + " or ".join(kind_names())]})
        query = query.where(jobs.c.kind == kind)
    if status:
        if status not in STATUSES:
            raise ValidationFailed("Invalid filter", {"status": ["must be one of " + ", ".join(STATUSES)]})
        query = query.where(jobs.c.status == status)
    after = decode_cursor(cursor, ("created_at", "id"))
    if after:
        try:
            key = (datetime.fromisoformat(after["created_at"]), uuid.UUID(after["id"]))
        except (TypeError, ValueError):
            raise bad_cursor() from None
        query = query.where(sa.tuple_(jobs.c.created_at, jobs.c.id) < sa.tuple_(*key))
    query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1)
    with db.tenant_transaction(organization_id) as conn:
        rows = conn.execute(query).all()
    return page(rows, limit, lambda r: {"created_at": r.created_at.isoformat(), "id": str(r.id)})


def list_errors(organization_id: uuid.UUID, job_id: str, *, cursor: str | None = None,
                limit: int = 100) -> tuple[list[dict], str | None]:
    job = get_job(organization_id, job_id)
    after = decode_cursor(cursor, ("id",))
    query = sa.select(job_errors).where(job_errors.c.organization_id == organization_id,
                                        job_errors.c.job_id == job.id)
    if after:
        if isinstance(after["id"], bool) or not isinstance(after["id"], int):
            raise bad_cursor()
        query = query.where(job_errors.c.id > after["id"])
    query = query.order_by(job_errors.c.id).limit(limit + 1)
    with db.tenant_transaction(organization_id) as conn:
        rows = conn.execute(query).all()
    rows, next_cursor = page(rows, limit, lambda r: {"id": r.id})
    items = [error_json(r) for r in rows]
    return items, next_cursor


def error_json(row: Any) -> dict[str, Any]:
    """A row error; one of a converted row also says where it is in the source (`file` and
    `row`, or `file`, `record` and `referenceId`)."""
    item = {"entity": row.entity, "index": row.row_index, "public_id": row.public_id,
            "field": row.field, "code": row.code, "message": row.message}
    if row.origin:
        item.update({k: v for k, v in row.origin.items() if k not in item})
    return item


def iter_errors(organization_id: uuid.UUID, job_id: str, page_size: int = 1000
                ) -> Iterator[dict]:
    """Every row error of a job, fetched page by page (a download of any size in flat memory)."""
    cursor = None
    while True:
        items, cursor = list_errors(organization_id, job_id, cursor=cursor, limit=page_size)
        yield from items
        if cursor is None:
            return


def _text(value: str | None) -> str | None:
    """Error fields quote the upload (keys, ids); text Postgres cannot store (NUL, unpaired
    surrogates) is replaced, so reporting a bad row can never fail the batch that reports it."""
    if value is None or text_problem(value) is None:
        return value
    return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def record_errors(conn: sa.Connection, organization_id: uuid.UUID, job_id: uuid.UUID,
                  errors: list[dict]) -> None:
    """Append row errors (entity, index, public_id, field, code, message) and count them."""
    if not errors:
        return
    conn.execute(job_errors.insert(), [
        {"organization_id": organization_id, "job_id": job_id, "entity": _text(e.get("entity")),
         "row_index": e.get("index"), "public_id": _text(e.get("public_id")),
         "field": _text(e.get("field")), "code": e.get("code", "invalid"),
         "message": _text(e["message"]), "origin": e.get("origin")}
        for e in errors
    ])
    conn.execute(jobs.update().where(jobs.c.id == job_id)
                 .values(error_count=jobs.c.error_count + len(errors)))
