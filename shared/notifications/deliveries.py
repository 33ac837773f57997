"""Delivery rows: made with a job's final status, claimed for each attempt, listed per attempt,
re-sent on request."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.errors import NotFound
from shared.ids import id_or_404, uuid7
from shared.models import jobs, webhook_attempts, webhook_deliveries, webhooks
from shared.notifications.events import event_for
from shared.pagination import bad_cursor, decode_cursor, page

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
# a claimed delivery is not due again for this long: the attempt in flight ends well before
# (connect + read timeouts), and a worker killed mid-attempt is retried after it
CLAIM_SECONDS = 60


def create_for_job(conn: sa.Connection, job_id: uuid.UUID) -> list[uuid.UUID]:
    """In the transaction that gave the job its final status: one pending delivery per active
    webhook of its organization subscribed to the event; their ids."""
    from shared.services.jobs import job_json  # the services import the job machinery

    job = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()
    event = event_for(job.status)
    if event is None:
        return []
    hooks = conn.execute(sa.select(webhooks.c.id).where(
        webhooks.c.organization_id == job.organization_id, webhooks.c.active,
        webhooks.c.events.contains([event]))).scalars().all()
    if not hooks:
        return []
    created_at = datetime.now(UTC).isoformat()
    data = job_json(job)
    rows = []
    for webhook_id in hooks:
        delivery_id = uuid7()
        body = json.dumps({"id": str(delivery_id), "event": event, "created_at": created_at,
                           "data": data}, separators=(",", ":"))
        rows.append({"id": delivery_id, "organization_id": job.organization_id,
                     "webhook_id": webhook_id, "job_id": job.id, "event": event, "body": body})
    conn.execute(webhook_deliveries.insert(), rows)
    return [r["id"] for r in rows]


def claim(delivery_id: uuid.UUID) -> tuple[Any, Any] | None:
    """(delivery, webhook) when the delivery is pending and due, now counted as an attempt and
    not due again for CLAIM_SECONDS; None otherwise (delivered, or another worker has it)."""
    with db.transaction() as conn:
        row = conn.execute(webhook_deliveries.update().where(
            webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.next_attempt_at <= sa.func.now())
            .values(attempts=webhook_deliveries.c.attempts + 1, updated_at=sa.func.now(),
                    next_attempt_at=sa.func.now() + sa.text(f"interval '{CLAIM_SECONDS} s'"))
            .returning(*webhook_deliveries.c)).one_or_none()
        if row is None:
            return None
        hook = conn.execute(sa.select(webhooks).where(webhooks.c.id == row.webhook_id)).one()
    return row, hook


def record(delivery: Any, *, status_code: int | None, latency_ms: int, error: str | None,
           excerpt: str | None, outcome: str, retry_in: float | None) -> None:
    """Log the attempt and move the delivery: delivered, failed for good, or due again later."""
    with db.transaction() as conn:
        conn.execute(webhook_attempts.insert().values(
            organization_id=delivery.organization_id, webhook_id=delivery.webhook_id,
            delivery_id=delivery.id, attempt=delivery.attempts, status_code=status_code,
            latency_ms=latency_ms, error=error, response_excerpt=excerpt))
        values: dict[str, Any] = {"status": outcome, "updated_at": sa.func.now()}
        if outcome == SUCCEEDED:
            values["delivered_at"] = sa.func.now()
        if retry_in is not None:
            values["next_attempt_at"] = sa.func.now() + sa.text(
                f"interval '{float(retry_in)} s'")
        conn.execute(webhook_deliveries.update().where(
            webhook_deliveries.c.id == delivery.id).values(**values))


def due_ids(limit: int = 500) -> list[uuid.UUID]:
    """Pending deliveries whose time has come: retries, and sends a dead process never made."""
    with db.transaction() as conn:
        return list(conn.execute(sa.select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.next_attempt_at <= sa.func.now())
            .order_by(webhook_deliveries.c.next_attempt_at).limit(limit)).scalars())


def resend(organization_id: uuid.UUID, delivery_id: str | uuid.UUID) -> Any:
    """Make a delivery due now, whatever its state (same id and body: a receiver that already
    processed it may skip it by its DripPulse-Delivery id)."""
    did = id_or_404(delivery_id, "Delivery")
    with db.tenant_transaction(organization_id) as conn:
        row = conn.execute(webhook_deliveries.update().where(
            webhook_deliveries.c.organization_id == organization_id,
            webhook_deliveries.c.id == did)
            .values(status=PENDING, next_attempt_at=sa.func.now(), updated_at=sa.func.now())
            .returning(*webhook_deliveries.c)).one_or_none()
    if row is None:
        raise NotFound("Delivery not found")
    return row


def delivery_json(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "webhook_id": str(row.webhook_id), "job_id": str(row.job_id),
            "event": row.event, "status": row.status, "attempts": row.attempts,
            "created_at": row.created_at.isoformat(),
            "next_attempt_at": (row.next_attempt_at.isoformat()
                                if row.status == PENDING else None),
            "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None}


def attempts_page(organization_id: uuid.UUID, webhook_id: uuid.UUID, *,
                  cursor: str | None = None, limit: int = 50) -> tuple[list[dict], str | None]:
    """One item per attempt, newest first."""
    a, d = webhook_attempts, webhook_deliveries
    query = (sa.select(a, d.c.event, d.c.job_id, d.c.status.label("delivery_status"))
             .join(d, d.c.id == a.c.delivery_id)
             .where(a.c.organization_id == organization_id, a.c.webhook_id == webhook_id))
    after = decode_cursor(cursor, ("id",))
    if after:
        if isinstance(after["id"], bool) or not isinstance(after["id"], int):
            raise bad_cursor()
        query = query.where(a.c.id < after["id"])
    with db.tenant_transaction(organization_id) as conn:
        rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit + 1)).all()
    rows, next_cursor = page(rows, limit, lambda r: {"id": r.id})
    return [attempt_json(r) for r in rows], next_cursor


def attempt_json(row: Any) -> dict[str, Any]:
    return {"delivery_id": str(row.delivery_id), "event": row.event, "job_id": str(row.job_id),
            "attempt": row.attempt, "status_code": row.status_code,
            # `latency` is the contract's name (milliseconds); latency_ms says the unit
            "latency": row.latency_ms, "latency_ms": row.latency_ms,
            "delivered_at": row.delivered_at.isoformat(),
            "ok": row.status_code is not None and 200 <= row.status_code < 300,
            "error": row.error, "response_excerpt": row.response_excerpt,
            "delivery_status": row.delivery_status}
