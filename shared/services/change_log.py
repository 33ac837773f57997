"""Change history: append one event per create/update/delete, list them newest first.

Events are written with the caller's connection, so an event commits or rolls back together
with the change it describes. (Bundle import writes its `imported` events in bulk by itself.)
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.entities import BY_NAME, ENTITIES, pipelines, stages
from shared.errors import ValidationFailed
from shared.ids import parse_uuid, uuid7
from shared.keyset import KeyPart, Keyset, aware_datetime_value, uuid_value
from shared.logging_setup import log_context
from shared.models import change_events as ce
from shared.models import users
from shared.serializers import json_value
from shared.services.record_query import display_name

EVENT_TYPES = ("created", "updated", "deleted", "imported")
# Events of the pipeline admin (PATCH/DELETE pipelines, stages) besides the records' own.
SETTING_TABLES = {"pipeline": pipelines, "pipeline_stage": stages}
RECORD_TYPES = (*BY_NAME, *SETTING_TABLES)
# Not part of a diff: set by the database, never by the change itself.
_NOT_DIFFED = {"created_at", "updated_at"}
# Newest first; events of one instant in id order (uuid7).
_NEWEST_FIRST = Keyset(KeyPart("t", ce.c.occurred_at, aware_datetime_value),
                       KeyPart("id", ce.c.id, uuid_value), descending=True)


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, list]:
    """{key: [old, new]} over two serialized rows (before=None: every set value of a new row)."""
    changes = {}
    for key, new in after.items():
        if key in _NOT_DIFFED:
            continue
        old = None if before is None else before.get(key)
        if old != new and not (before is None and new in (None, {}, "")):
            changes[key] = [old, new]
    return changes


def record_event(conn: sa.Connection, organization_id: uuid.UUID, *, record_type: str,
                 record_id: uuid.UUID, public_id: str | None, event_type: str,
                 changes: dict, actor: str | None, job_id: uuid.UUID | None = None) -> None:
    conn.execute(ce.insert().values(
        id=uuid7(), organization_id=organization_id, record_type=record_type,
        record_id=record_id, public_id=public_id, event_type=event_type, changes=changes,
        actor=actor, job_id=job_id, occurred_at=sa.func.clock_timestamp(),
        request_id=(log_context.get() or {}).get("request_id"),
    ))


def record_events(conn: sa.Connection, organization_id: uuid.UUID, record_type: str,
                  events: list[dict[str, Any]], actor: str | None) -> None:
    """Many events of one record type in one executemany (a stage deletion moving thousands
    of cards): each dict holds record_id, public_id, event_type and changes."""
    if not events:
        return
    conn.execute(ce.insert().values(
        organization_id=organization_id, record_type=record_type, actor=actor,
        occurred_at=sa.func.clock_timestamp(),
        request_id=(log_context.get() or {}).get("request_id"),
    ), [{"id": uuid7(), "job_id": None, **e} for e in events])


USER_ACTOR = "user:"


def event_json(row: Mapping[str, Any], emails: Mapping[str, str] | None = None,
               names: Mapping[tuple[str, uuid.UUID], str] | None = None) -> dict[str, Any]:
    """`actor_email`: the signed-in user's email behind a `user:<uuid>` actor, for people to
    read (null for API keys, imports by the CLI, or a user since removed). `record_name`: what
    people call the record today (null when the row no longer exists)."""
    return {
        "id": str(row["id"]),
        "record_type": row["record_type"],
        "record_id": str(row["record_id"]),
        "public_id": row["public_id"],
        "record_name": (names or {}).get((row["record_type"], row["record_id"])),
        "event_type": row["event_type"],
        "changes": row["changes"],
        "actor": row["actor"],
        "actor_email": (emails or {}).get(row["actor"] or ""),
        "job_id": json_value(row["job_id"]),
        "request_id": row["request_id"],
        "occurred_at": json_value(row["occurred_at"]),
    }


LIST_PARAMS = ("record_type", "record_id", "event_type", "since", "cursor", "limit")


def list_events(organization_id: uuid.UUID, params: Mapping[str, str], limit: int
                ) -> tuple[list[dict], str | None]:
    """Newest first; `record_id` is a uuid or a public_id; keyset on (occurred_at, id)."""
    unknown = sorted(set(params) - set(LIST_PARAMS))
    if unknown:
        raise ValidationFailed("Unknown query parameters",
                               {name: ["is not a filter of this list"] for name in unknown})
    query = sa.select(ce).where(ce.c.organization_id == organization_id)
    record_type = params.get("record_type")
    if record_type:
        if record_type not in RECORD_TYPES:
            raise ValidationFailed("Invalid record_type", {"record_type": [
                "must be one of: " + ", ".join(RECORD_TYPES)]})
        query = query.where(ce.c.record_type == record_type)
    event_type = params.get("event_type")
    if event_type:
        if event_type not in EVENT_TYPES:
            raise ValidationFailed("Invalid event_type", {"event_type": [
                "must be one of: " + ", ".join(EVENT_TYPES)]})
        query = query.where(ce.c.event_type == event_type)
    since = params.get("since")
    if since:
        try:
            since_at = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed("Invalid since", {"since": [
                "must be an ISO 8601 date-time"]}) from None
        if since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=UTC)
        query = query.where(ce.c.occurred_at >= since_at)
    record_id = params.get("record_id")
    if record_id:
        as_uuid = parse_uuid(record_id)
        if as_uuid is not None:
            query = query.where(ce.c.record_id == as_uuid)
        else:
            # public_id -> uuid through the records' unique (organization_id, public_id) indexes,
            # so the events are found through their (organization_id, record_id) index.
            every = {e.name: e.table for e in ENTITIES} | SETTING_TABLES
            tables = [every[record_type]] if record_type else list(every.values())
            ids = sa.union_all(*(sa.select(t.c.id).where(
                t.c.organization_id == organization_id, t.c.public_id == record_id)
                for t in tables))
            query = query.where(ce.c.record_id.in_(ids))
    query = _NEWEST_FIRST.where_after(query, params.get("cursor"))
    query = query.order_by(*_NEWEST_FIRST.order_by()).limit(limit + 1)
    with db.tenant_transaction(organization_id) as conn:
        rows = [r._mapping for r in conn.execute(query)]
        rows, next_cursor = _NEWEST_FIRST.page(rows, limit)
        emails = actor_emails(conn, organization_id, [r["actor"] for r in rows])
        names = record_names(conn, organization_id, rows)
    return [event_json(r, emails, names) for r in rows], next_cursor


def record_names(conn: sa.Connection, organization_id: uuid.UUID,
                 rows: list[Mapping[str, Any]]) -> dict[tuple[str, uuid.UUID], str]:
    """{(record_type, record_id): display name} for the page's records: one query per record
    type present, own org only. Soft-deleted rows keep their name; a row that is gone (an
    undone import's purge, a deleted stage) has none."""
    wanted: dict[str, set[uuid.UUID]] = {}
    for row in rows:
        wanted.setdefault(row["record_type"], set()).add(row["record_id"])
    tables = {e.name: e.table for e in ENTITIES} | SETTING_TABLES
    names: dict[tuple[str, uuid.UUID], str] = {}
    for record_type, ids in wanted.items():
        table = tables.get(record_type)
        if table is None:
            continue
        found = conn.execute(sa.select(table.c.id, display_name(table)).where(
            table.c.organization_id == organization_id, table.c.id.in_(ids)))
        names |= {(record_type, record_id): name for record_id, name in found}
    return names


def actor_emails(conn: sa.Connection, organization_id: uuid.UUID, actors: list[str | None]
                 ) -> dict[str, str]:
    """{"user:<uuid>": email} for the page's user actors: one query per page, own org only."""
    ids = {a: parse_uuid(a[len(USER_ACTOR):]) for a in set(actors)
           if a and a.startswith(USER_ACTOR)}
    wanted = {i for i in ids.values() if i is not None}
    if not wanted:
        return {}
    found = dict(conn.execute(sa.select(users.c.id, users.c.email).where(
        users.c.organization_id == organization_id, users.c.id.in_(wanted))).all())
    return {actor: found[i] for actor, i in ids.items() if i in found}
