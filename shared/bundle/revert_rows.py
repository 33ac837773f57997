"""Reverting one batch of an import's rows, set-based, in the caller's transaction.

A batch is up to N of the import's `imported` events of one entity (those whose outcome was
created or updated). Per row: a later change by anyone else (a person, the API, another
import; not an unchanged re-import, not an earlier revert of the same import) is a conflict —
left as it is and reported — unless forced; a created row is soft-deleted; an updated row gets
its before-image back; each reverted row appends one `reverted` change event.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa

from shared.bundle.write import FIXED_COLUMNS, columns
from shared.entities import Entity
from shared.ids import uuid7_texts

MAX_LISTED_CHANGES = 5


@dataclass
class BatchResult:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("processed", "deleted", "restored", "unchanged", "failed"), 0))
    errors: list[dict] = field(default_factory=list)


def later_changes(conn: sa.Connection, organization_id: uuid.UUID, import_job_id: uuid.UUID,
                  events: list[Any]) -> dict[uuid.UUID, list[dict]]:
    """record id → the changes made to it after the import's event (newest last), leaving out
    re-imports that changed nothing and reverts of this same import."""
    rows = conn.execute(sa.text(
        "SELECT b.record_id, ce.event_type, ce.actor, ce.occurred_at, ce.changes "
        "FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS b(record_id uuid, event_id uuid) "
        "JOIN crm.change_events ce ON ce.organization_id = :org AND ce.record_id = b.record_id "
        "AND ce.id > b.event_id "
        "WHERE NOT (ce.event_type = 'imported' AND ce.changes->>'outcome' = 'unchanged') "
        "AND NOT (ce.event_type = 'reverted' AND ce.changes->>'reverts' = :import) "
        "ORDER BY b.record_id, ce.id"),
        {"org": organization_id, "import": str(import_job_id),
         "batch": orjson.dumps([{"record_id": str(e.record_id), "event_id": str(e.id)}
                                for e in events]).decode()}).all()
    found: dict[uuid.UUID, list[dict]] = {}
    for r in rows:
        found.setdefault(r.record_id, []).append(
            {"event": r.event_type, "actor": r.actor, "at": r.occurred_at.isoformat(),
             "fields": sorted(k for k in (r.changes or {}) if k not in ("outcome", "before"))})
    return found


def already_reverted(conn: sa.Connection, organization_id: uuid.UUID,
                     import_job_id: uuid.UUID, record_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Rows an earlier (cancelled or failed) revert of the same import already put back."""
    return set(conn.execute(sa.text(
        "SELECT record_id FROM crm.change_events WHERE organization_id = :org "
        "AND event_type = 'reverted' AND changes->>'reverts' = :import "
        "AND record_id = ANY(CAST(:ids AS uuid[]))"),
        {"org": organization_id, "import": str(import_job_id),
         "ids": [str(i) for i in record_ids]}).scalars())


def _conflict_message(changes: list[dict]) -> str:
    described = [f"{c['event']} by {c['actor'] or 'unknown'} at {c['at']}"
                 + (f" ({', '.join(c['fields'])})" if c["fields"] else "")
                 for c in changes[-MAX_LISTED_CHANGES:]]
    return ("changed after the import: " + "; ".join(described)
            + "; left as it is (force=true reverts it anyway)")


def revert_batch(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                 revert_job_id: uuid.UUID, import_job_id: uuid.UUID, events: list[Any],
                 *, force: bool, actor: str) -> BatchResult:
    result = BatchResult()
    result.counts["processed"] = len(events)
    conflicts = {} if force else later_changes(conn, organization_id, import_job_id, events)
    done_before = already_reverted(conn, organization_id, import_job_id,
                                   [e.record_id for e in events])
    deletes, restores = [], []
    for event in events:
        if event.record_id in done_before:
            result.counts["unchanged"] += 1
        elif event.record_id in conflicts:
            result.counts["failed"] += 1
            result.errors.append({"entity": entity.plural, "index": None,
                                  "public_id": event.public_id, "field": None,
                                  "code": "conflict",
                                  "message": _conflict_message(conflicts[event.record_id])})
        elif event.changes.get("outcome") == "created":
            deletes.append(event)
        elif isinstance(event.changes.get("before"), dict):
            restores.append(event)
        else:
            result.counts["failed"] += 1
            result.errors.append({"entity": entity.plural, "index": None,
                                  "public_id": event.public_id, "field": None,
                                  "code": "cannot_revert", "message": (
                                      "the import recorded no before-image of this row "
                                      "(imported before undo existed)")})
    table = f"crm.{entity.plural}"
    deleted = set(conn.execute(sa.text(
        f"UPDATE {table} SET deleted_at = now() WHERE organization_id = :org "
        f"AND id = ANY(CAST(:ids AS uuid[])) AND deleted_at IS NULL RETURNING id"),
        {"org": organization_id, "ids": [str(e.record_id) for e in deletes]}).scalars()
    ) if deletes else set()
    result.counts["deleted"] = len(deleted)
    result.counts["unchanged"] += len(deletes) - len(deleted)
    restored = _restore(conn, entity, organization_id, restores)
    result.counts["restored"] = len(restored)
    result.counts["unchanged"] += len(restores) - len(restored)
    reverted = [(e, "deleted") for e in deletes if e.record_id in deleted] + \
               [(e, "restored") for e in restores if e.record_id in restored]
    if reverted:
        conn.execute(sa.text(
            "INSERT INTO crm.change_events (id, organization_id, record_type, record_id, "
            "public_id, event_type, changes, actor, job_id, occurred_at) "
            "SELECT r.id, :org, :record_type, r.record_id, r.public_id, 'reverted', "
            "jsonb_build_object('outcome', r.outcome, 'reverts', CAST(:import AS text)), "
            "CAST(:actor AS text), :job, now() "
            "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
            "AS r(id uuid, record_id uuid, public_id text, outcome text)"),
            {"org": organization_id, "record_type": entity.name, "import": str(import_job_id),
             "actor": actor, "job": revert_job_id, "rows": orjson.dumps([
                 {"id": new_id, "record_id": str(e.record_id), "public_id": e.public_id,
                  "outcome": outcome}
                 for (e, outcome), new_id in zip(reverted, uuid7_texts(len(reverted)),
                                                 strict=True)]).decode()})
    return result


def _restore(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
             events: list[Any]) -> set[uuid.UUID]:
    """Put the before-images back (one statement); returns the rows that changed."""
    if not events:
        return set()
    changing = [c for c in columns(entity) if c not in FIXED_COLUMNS]
    table = f"crm.{entity.plural}"
    sets = ", ".join(f'"{c}" = r."{c}"' for c in changing)
    differs = " OR ".join(f't."{c}" IS DISTINCT FROM r."{c}"' for c in changing)
    return set(conn.execute(sa.text(
        f"UPDATE {table} AS t SET {sets} FROM ("
        # not `record_id`: activities have a column of that name
        f"  SELECT b.revert_row_id, (jsonb_populate_record(NULL::{table}, b.before)).* "
        f"  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS b(revert_row_id uuid, before jsonb)"
        f") r WHERE t.organization_id = :org AND t.id = r.revert_row_id AND ({differs}) "
        f"RETURNING t.id"),
        {"org": organization_id, "rows": orjson.dumps(
            [{"revert_row_id": str(e.record_id), "before": e.changes["before"]}
             for e in events]
        ).decode()}).scalars())
