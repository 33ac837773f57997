"""Webhook subscriptions of an organization: create (the secret is returned once), list, show,
change, delete."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.errors import NotFound, ValidationFailed
from shared.ids import id_or_404, parse_uuid, uuid7
from shared.models import webhooks
from shared.notifications import addresses, secret_box
from shared.notifications.events import EVENTS
from shared.pagination import bad_cursor, decode_cursor, page
from shared.urls import CRM_API

MAX_PER_ORGANIZATION = 20
FIELDS = ("url", "events", "active")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def webhook_json(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "url": row.url, "events": list(row.events),
            "active": row.active, "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "links": {"self": f"{CRM_API}/webhooks/{row.id}",
                      "deliveries": f"{CRM_API}/webhooks/{row.id}/deliveries"}}


def _clean(body: Any, *, partial: bool) -> dict[str, Any]:
    """The accepted fields, or a 422 naming every problem."""
    if not isinstance(body, dict):
        raise ValidationFailed("Invalid webhook", {"body": ["must be a JSON object"]})
    problems: dict[str, list[str]] = {}
    unknown = sorted(set(body) - set(FIELDS))
    for name in unknown:
        problems[name] = ["unknown field"]
    values: dict[str, Any] = {}
    if "url" in body or not partial:
        try:
            addresses.check(body.get("url"))
            values["url"] = body["url"]
        except addresses.UnsafeUrl as exc:
            problems["url"] = [str(exc)]
    if "events" in body or not partial:
        events = body.get("events")
        if (not isinstance(events, list) or not events
                or not all(isinstance(e, str) and e in EVENTS for e in events)):
            problems["events"] = ["must be a non-empty list of " + ", ".join(EVENTS)]
        else:
            values["events"] = list(dict.fromkeys(events))
    if "active" in body:
        if not isinstance(body["active"], bool):
            problems["active"] = ["must be true or false"]
        else:
            values["active"] = body["active"]
    if problems:
        raise ValidationFailed("Invalid webhook", problems)
    return values


def create(organization_id: uuid.UUID, body: Any) -> tuple[Any, str]:
    """The new row and its secret (the only time the secret leaves the server)."""
    values = _clean(body, partial=False)
    secret = secret_box.new_secret()
    with db.tenant_transaction(organization_id) as conn:
        count = conn.execute(sa.select(sa.func.count()).where(
            webhooks.c.organization_id == organization_id)).scalar()
        if count >= MAX_PER_ORGANIZATION:
            raise ValidationFailed("Too many webhooks", {"url": [
                f"at most {MAX_PER_ORGANIZATION} webhooks per organization"]})
        row = conn.execute(webhooks.insert().values(
            id=uuid7(), organization_id=organization_id,
            secret_encrypted=secret_box.seal(secret), **values).returning(*webhooks.c)).one()
    return row, secret


def get(organization_id: uuid.UUID, webhook_id: str | uuid.UUID) -> Any:
    wid = id_or_404(webhook_id, "Webhook")
    with db.tenant_transaction(organization_id) as conn:
        row = conn.execute(sa.select(webhooks).where(
            webhooks.c.organization_id == organization_id, webhooks.c.id == wid)).one_or_none()
    if row is None:
        raise NotFound("Webhook not found")
    return row


def list_page(organization_id: uuid.UUID, *, cursor: str | None = None,
              limit: int = 50) -> tuple[list[Any], str | None]:
    query = sa.select(webhooks).where(webhooks.c.organization_id == organization_id)
    after = decode_cursor(cursor, ("id",))
    if after:
        after_id = parse_uuid(str(after["id"]))
        if after_id is None:
            raise bad_cursor()
        query = query.where(webhooks.c.id > after_id)
    with db.tenant_transaction(organization_id) as conn:
        rows = conn.execute(query.order_by(webhooks.c.id).limit(limit + 1)).all()
    return page(rows, limit, lambda r: {"id": str(r.id)})


def update(organization_id: uuid.UUID, webhook_id: str | uuid.UUID, body: Any) -> Any:
    wid = id_or_404(webhook_id, "Webhook")
    get(organization_id, wid)  # 404 before a 422 about the body
    values = _clean(body, partial=True)
    with db.tenant_transaction(organization_id) as conn:
        row = conn.execute(webhooks.update().where(
            webhooks.c.organization_id == organization_id, webhooks.c.id == wid)
            .values(updated_at=sa.func.now(), **values).returning(*webhooks.c)).one_or_none()
    if row is None:
        raise NotFound("Webhook not found")
    return row


def delete(organization_id: uuid.UUID, webhook_id: str | uuid.UUID) -> None:
    """Its deliveries and their attempts go with it (the foreign keys cascade)."""
    wid = id_or_404(webhook_id, "Webhook")
    with db.tenant_transaction(organization_id) as conn:
        gone = conn.execute(webhooks.delete().where(
            webhooks.c.organization_id == organization_id, webhooks.c.id == wid)).rowcount
    if not gone:
        raise NotFound("Webhook not found")
