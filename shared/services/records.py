"""Create, read, list, update and soft-delete CRM records, each in one tenant transaction.

Every write appends its change event in the same transaction. Reads go through
`record_query.record_select`, so a row or a page of rows is a single query.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import db
from shared.entities import Entity
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import mint_public_id, uuid7
from shared.keyset import KeyPart, Keyset, uuid_value
from shared.pagination import rows_within
from shared.schemas import load_record, missing_minimum
from shared.serializers import api_row, bundle_row
from shared.services import change_log, record_filters, references, stages
from shared.services.record_query import id_condition, record_select, row_bytes


def _fetch(conn: sa.Connection, entity: Entity, org: uuid.UUID, record_id: Any, *,
           include_deleted: bool = False, for_update: bool = False):
    t = entity.table
    query = record_select(entity, org).where(id_condition(t, record_id))
    if not include_deleted:
        query = query.where(t.c.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update(of=t)
    row = conn.execute(query).one_or_none()
    if row is None:
        raise NotFound(f"No {entity.name} with id {record_id}")
    return row._mapping


def _defaults(entity: Entity, values: dict[str, Any]) -> None:
    for f in entity.fields:
        if f.default is not None and values.get(f.name) is None:
            values[f.name] = f.default


def _check_cycles(conn: sa.Connection, entity: Entity, org: uuid.UUID,
                  record_id: uuid.UUID, values: dict, problems: dict) -> None:
    """A row may not become its own ancestor through an acyclic self reference."""
    t = entity.table
    for ref in entity.references:
        parent = values.get(ref.column)
        if not ref.acyclic or parent is None:
            continue
        link = t.c[ref.column]
        chain = sa.select(t.c.id, link).where(
            t.c.organization_id == org, t.c.id == parent).cte("chain", recursive=True)
        chain = chain.union(sa.select(t.c.id, link).where(
            t.c.organization_id == org, t.c.id == chain.c[ref.column]))
        if conn.execute(sa.select(sa.literal(True)).where(
                sa.exists().where(chain.c.id == record_id))).scalar():
            problems.setdefault(ref.public_field, []).append(
                f"would make the {entity.name} its own ancestor")


def create(entity: Entity, org: uuid.UUID, body: Any, actor: str) -> dict[str, Any]:
    data = load_record(entity, body, partial=False)
    t = entity.table
    with db.tenant_transaction(org) as conn:
        problems: dict[str, list[str]] = {}
        values = references.resolve(conn, org, entity, data, None, problems)
        if entity.stage_placement:
            values |= stages.place(conn, org, data, None, problems)
        if problems:
            raise ValidationFailed("Invalid " + entity.name, problems)
        values |= data
        _defaults(entity, values)
        record_id = uuid7()
        public_id = values.pop("public_id", None) or mint_public_id(entity.name)
        if values.get("custom_fields") is None:
            values["custom_fields"] = {}
        position = values.get("stage_position")
        with _unique_external_pair(entity):
            inserted = conn.execute(
                pg_insert(t).values(id=record_id, organization_id=org, public_id=public_id,
                                    **values)
                .on_conflict_do_nothing(index_elements=[t.c.organization_id, t.c.public_id])
                .returning(t.c.id)
            ).scalar_one_or_none()
        if inserted is None:
            raise Conflict(f"public_id {public_id} is already used by another {entity.name}",
                           {"public_id": [f"{public_id} is taken"]}, code="duplicate_public_id")
        if entity.stage_placement and position is not None:
            stages.lock_board(conn, org)
            stages.renumber(conn, org, values["pipeline_stage_id"], record_id, position)
        row = _fetch(conn, entity, org, record_id)
        change_log.record_event(
            conn, org, record_type=entity.name, record_id=record_id, public_id=public_id,
            event_type="created", changes=change_log.diff(None, bundle_row(entity, row)),
            actor=actor)
        return api_row(entity, row)


@contextmanager
def _unique_external_pair(entity: Entity) -> Iterator[None]:
    """A live row's (external_system, external_id) is unique in its organization (imports
    find rows by it): a second row with the pair is a 409, not a database error."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        if f"{entity.plural}_external_key" not in str(exc.orig):
            raise
        raise Conflict(f"another live {entity.name} has this external_system and external_id",
                       {"external_id": ["is taken for this external_system"]},
                       code="duplicate_external_id") from None


def get(entity: Entity, org: uuid.UUID, record_id: str, include_deleted: bool = False) -> dict:
    with db.tenant_transaction(org) as conn:
        return api_row(entity, _fetch(conn, entity, org, record_id,
                                      include_deleted=include_deleted))


def update(entity: Entity, org: uuid.UUID, record_id: str, body: Any, actor: str) -> dict:
    data = load_record(entity, body, partial=True)
    t = entity.table
    with db.tenant_transaction(org) as conn:
        if entity.stage_placement and any(k in data for k in stages.PLACEMENT_KEYS):
            stages.lock_board(conn, org)
        current = _fetch(conn, entity, org, record_id, for_update=True)
        problems: dict[str, list[str]] = {}
        values = references.resolve(conn, org, entity, data, dict(current), problems)
        if entity.stage_placement:
            values |= stages.place(conn, org, data, dict(current), problems)
        _check_cycles(conn, entity, org, current["id"], values, problems)
        if problems:
            raise ValidationFailed("Invalid " + entity.name, problems)
        values |= data
        # the row as it would be: an update may not leave it without what every row needs
        missing = missing_minimum(entity.name, {**dict(current), **values})
        if missing:
            raise ValidationFailed("Invalid " + entity.name,
                                   {name: [message] for name, message in missing})
        if "custom_fields" in values and values["custom_fields"] is None:
            values["custom_fields"] = {}
        moved = _apply_position(conn, entity, org, current, values)
        changed = {k: v for k, v in values.items() if current[k] != v}
        if not changed and not moved:
            return api_row(entity, current)
        if changed:
            with _unique_external_pair(entity):
                conn.execute(t.update().where(t.c.organization_id == org,
                                              t.c.id == current["id"]).values(**changed))
        if moved:
            moved()
        row = _fetch(conn, entity, org, current["id"])
        changes = change_log.diff(bundle_row(entity, current), bundle_row(entity, row))
        if changes:
            change_log.record_event(
                conn, org, record_type=entity.name, record_id=row["id"],
                public_id=row["public_id"], event_type="updated", changes=changes, actor=actor)
        return api_row(entity, row)


def _apply_position(conn, entity: Entity, org: uuid.UUID, current: Mapping, values: dict):
    """For a row on a board that changes column or position: a callable renumbering the
    columns involved after the row itself is written (None when nothing moves)."""
    if not entity.stage_placement:
        return None
    old_stage = current["pipeline_stage_id"]
    new_stage = values.get("pipeline_stage_id", old_stage)
    position_given = "stage_position" in values
    if new_stage == old_stage and not position_given:
        return None
    if new_stage != old_stage and not position_given:
        values["stage_position"] = None  # a card entering a column without a place goes last
    position = values.get("stage_position")
    if new_stage == old_stage and position == current["stage_position"]:
        return None

    def move() -> None:
        stages.renumber(conn, org, new_stage, current["id"], position)
        if new_stage != old_stage and current["stage_position"] is not None:
            stages.renumber(conn, org, old_stage)
    return move


def delete(entity: Entity, org: uuid.UUID, record_id: str, actor: str) -> None:
    t = entity.table
    with db.tenant_transaction(org) as conn:
        if entity.stage_placement:
            stages.lock_board(conn, org)
        row = conn.execute(
            t.update().where(t.c.organization_id == org, id_condition(t, record_id),
                             t.c.deleted_at.is_(None))
            .values(deleted_at=sa.func.now())
            .returning(t.c.id, t.c.public_id, t.c.deleted_at)
        ).one_or_none()
        if row is None:
            raise NotFound(f"No {entity.name} with id {record_id}")
        if entity.stage_placement:
            stage_id = conn.execute(sa.select(t.c.pipeline_stage_id).where(
                t.c.organization_id == org, t.c.id == row.id)).scalar_one()
            stages.renumber(conn, org, stage_id)
        change_log.record_event(
            conn, org, record_type=entity.name, record_id=row.id, public_id=row.public_id,
            event_type="deleted",
            changes={"deleted_at": [None, row.deleted_at.isoformat()]}, actor=actor)


def list_records(entity: Entity, org: uuid.UUID, params: Mapping[str, str], limit: int
                 ) -> tuple[list[dict], str | None]:
    """A page in id order (uuid7: creation order), keyset on id; `next` is None on the last."""
    t = entity.table
    include_deleted = record_filters.parse_bool("include_deleted",
                                                params.get("include_deleted"))
    inner = sa.select(t).where(t.c.organization_id == org,
                               *record_filters.conditions(entity, org, params))
    if not include_deleted:
        inner = inner.where(t.c.deleted_at.is_(None))
    by_id = Keyset(KeyPart("id", t.c.id, uuid_value))
    inner = by_id.where_after(inner, params.get("cursor"))
    # The page's ids and sizes first: it ends at `limit` rows or MAX_PAGE_BYTES, whichever
    # comes first, before any large value leaves the database.
    sized = inner.with_only_columns(t.c.id, row_bytes(t)).order_by(*by_id.order_by())
    with db.tenant_transaction(org) as conn:
        keys = conn.execute(sized.limit(limit + 1)).all()
        served = rows_within([k.row_bytes for k in keys[:limit]])
        keys, next_cursor = by_id.page(keys, served)
        # Join the references to that page only.
        page_rows = inner.where(t.c.id.in_([k.id for k in keys])).subquery("page")
        query = record_select(entity, org, page_rows).order_by(page_rows.c.id)
        rows = [r._mapping for r in conn.execute(query)] if keys else []
    return [api_row(entity, r) for r in rows], next_cursor
