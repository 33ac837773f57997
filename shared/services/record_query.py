"""One SELECT per entity that returns its rows with their references' public_ids (and names, for
people reading them) joined in.

List, get, the Kanban board and the bundle export all read through `record_select`, so a page of
rows is one query (no lookup per reference) and every consumer sees the same keys.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared.entities import BY_NAME, STAGE_NAME, Entity, Reference, stages


def name_field(ref: Reference) -> str:
    """The read-only key naming a referenced row for people (`account_name`, `record_name`)."""
    return f"{ref.name}_name"


def display_name(table: sa.FromClause) -> sa.ColumnElement[str]:
    """What a person calls a row: its name, else the person's full name, email or company, else
    (nothing else filled in) its public_id — the same order as the dashboard's record titles."""
    c = table.c
    blank = lambda col: sa.func.nullif(sa.func.btrim(col), "")  # noqa: E731
    candidates = []
    if "name" in c:
        candidates.append(blank(c.name))
    if "first_name" in c:
        candidates.append(blank(sa.func.concat_ws(" ", c.first_name, c.last_name)))
    candidates += [blank(c[k]) for k in ("subject", "email", "company") if k in c]
    return sa.func.coalesce(*candidates, c.public_id)


def record_select(entity: Entity, organization_id: uuid.UUID,
                  base: sa.FromClause | None = None) -> sa.Select:
    """SELECT the entity's columns + `<ref>_public_id` and `<ref>_name` (+ the stage's name),
    scoped to one org.

    `base` is the entity's table or a subquery of its rows (e.g. one page: filter, order and
    LIMIT first, join the references after, so the joins only ever touch that page even when
    the planner's statistics are stale right after a bulk import)."""
    base = entity.table if base is None else base
    from_, columns = record_from(entity, base)
    return sa.select(*columns).select_from(from_).where(base.c.organization_id == organization_id)


def record_from(entity: Entity, base: sa.FromClause, start: sa.FromClause | None = None
                ) -> tuple[sa.FromClause, list]:
    """The FROM clause (`start`, default `base`, outer-joined to each reference) and columns."""
    t = base
    columns: list = list(t.c)
    from_ = base if start is None else start
    for ref in entity.references:
        if ref.polymorphic:
            # One outer join per record type, the one the row's type names wins.
            public_ids, names = [], []
            for record_type in ref.record_types:
                target = BY_NAME[record_type].table.alias(f"ref_{ref.name}_{record_type}")
                from_ = from_.outerjoin(target, sa.and_(
                    t.c[ref.type_column] == record_type,
                    target.c.organization_id == t.c.organization_id,
                    target.c.id == t.c[ref.column],
                ))
                public_ids.append(target.c.public_id)
                # a type's name only when that join matched, so coalesce picks the right one
                names.append(sa.case((target.c.id.isnot(None), display_name(target))))
            columns.append(sa.func.coalesce(*public_ids).label(ref.public_field))
            columns.append(sa.func.coalesce(*names).label(name_field(ref)))
            continue
        target = BY_NAME[ref.target].table.alias(f"ref_{ref.name}")
        from_ = from_.outerjoin(target, sa.and_(
            target.c.organization_id == t.c.organization_id,
            target.c.id == t.c[ref.column],
        ))
        columns.append(target.c.public_id.label(ref.public_field))
        columns.append(sa.case((target.c.id.isnot(None), display_name(target)))
                       .label(name_field(ref)))
    if entity.stage_placement:
        stage = stages.alias("ref_stage")
        from_ = from_.outerjoin(stage, sa.and_(
            stage.c.organization_id == t.c.organization_id, stage.c.id == t.c.pipeline_stage_id))
        columns.append(stage.c.name.label(STAGE_NAME))
    return from_, columns


def row_bytes(table: sa.FromClause) -> sa.ColumnElement[int]:
    """About the bytes a row takes in a response (its columns as text), computed by Postgres
    so a page can be cut by size before any large value is fetched."""
    return sum((sa.func.coalesce(sa.func.octet_length(sa.cast(c, sa.Text)), 0) for c in table.c),
               sa.literal(0)).label("row_bytes")


def id_condition(table: sa.Table, record_id: str | uuid.UUID) -> sa.ColumnElement[bool]:
    """`{id}` in a URL is the uuid or the public_id."""
    from shared.ids import parse_uuid

    as_uuid = parse_uuid(record_id)
    if as_uuid is not None:
        return table.c.id == as_uuid
    return table.c.public_id == str(record_id)
