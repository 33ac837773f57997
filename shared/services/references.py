"""Resolve `<ref>_public_id` / `<ref>_id` in a body to the referenced row's uuid.

A reference to nothing, to a soft-deleted row or to a row of another organization is the same
422 naming the field: the caller cannot tell another tenant's row from a missing one.
"""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.entities import BY_NAME, Entity, Reference
from shared.ids import parse_uuid
from shared.schemas import reference_keys


def lookup(conn: sa.Connection, organization_id: uuid.UUID, target: Entity, value: str,
           by: str) -> uuid.UUID | None:
    """The live row of `target` whose uuid (by="uuid") or public_id (by="public") is `value`."""
    t = target.table
    if by == "uuid":
        as_uuid = parse_uuid(value)
        if as_uuid is None:
            return None
        cond = t.c.id == as_uuid
    else:
        cond = t.c.public_id == value
    return conn.execute(
        sa.select(t.c.id).where(t.c.organization_id == organization_id, cond,
                                t.c.deleted_at.is_(None))
    ).scalar_one_or_none()


def resolve(conn: sa.Connection, organization_id: uuid.UUID, entity: Entity,
            data: dict[str, Any], current: dict[str, Any] | None,
            problems: dict[str, list[str]]) -> dict[str, Any]:
    """Column values for the references present in `data` (popping their wire keys)."""
    given: dict[str, list[tuple[str, str, Any]]] = {}
    for key, (name, by) in reference_keys(entity).items():
        if key in data:
            given.setdefault(name, []).append((key, by, data.pop(key)))
    values: dict[str, Any] = {}
    for ref in entity.references:
        entries = given.get(ref.name)
        if ref.polymorphic:
            record_type = data.pop(ref.type_column, ...)  # ...: not given
            _resolve_polymorphic(conn, organization_id, ref, entries, record_type, current,
                                 values, problems)
            continue
        if not entries:
            continue
        uid = _resolve_one(conn, organization_id, BY_NAME[ref.target], entries, problems)
        if uid is not ...:
            values[ref.column] = uid
    return values


def _resolve_one(conn, organization_id, target: Entity, entries, problems):
    """uuid, None (cleared) or ... (failed; the problem is recorded)."""
    resolved = set()
    for key, by, value in entries:
        if value is None:
            resolved.add(None)
            continue
        uid = lookup(conn, organization_id, target, value, by)
        if uid is None:
            problems.setdefault(key, []).append(f"no {target.name} with this id")
            return ...
        resolved.add(uid)
    if len(resolved) > 1:
        problems.setdefault(entries[0][0], []).append("the _id and _public_id given disagree")
        return ...
    return resolved.pop()


def _resolve_polymorphic(conn, organization_id, ref: Reference, entries, record_type, current,
                         values, problems) -> None:
    type_key = ref.type_column
    if record_type is ... and not entries:
        return
    if record_type is ...:
        record_type = (current or {}).get(type_key)
    ids_null = not entries or all(v is None for _, _, v in entries)
    if record_type is None:
        if not ids_null:
            problems.setdefault(type_key, []).append("is required with a record")
            return
        values[type_key] = None
        values[ref.column] = None
        return
    if not entries:
        problems.setdefault(ref.public_field, []).append(
            f"{ref.public_field} or {ref.column} is required with {type_key}")
        return
    if ids_null:
        problems.setdefault(entries[0][0], []).append(f"may not be null while {type_key} is set")
        return
    uid = _resolve_one(conn, organization_id, BY_NAME[record_type], entries, problems)
    if uid is not ...:
        values[type_key] = record_type
        values[ref.column] = uid
