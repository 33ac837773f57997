"""Set-based resolution of a batch's references: one query per target table and batch.

References resolve against rows already stored in the organization, which includes every row
written by earlier entities and batches of the same import (they committed before this entity
started). In a dry run nothing was written, so the job's row keys stand in for the bundle's rows.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import cache

import orjson
import sqlalchemy as sa

from shared.bundle.tables import import_row_keys
from shared.entities import BY_NAME, pipelines, stages

# The :ids parameter (a JSON array of strings, see json_array) as a text[] for = ANY(...)
TEXT_ARRAY = "ARRAY(SELECT jsonb_array_elements_text(CAST(:ids AS jsonb)))"


def json_array(values: list[str]) -> str:
    return orjson.dumps(values).decode()


# Marks a target that exists only in the bundle of a dry run (nothing was written).
IN_BUNDLE = uuid.UUID(int=0)


def lookup_ids(conn: sa.Connection, organization_id: uuid.UUID, target: str,
               public_ids: Iterable[str], *, job_id: uuid.UUID | None = None
               ) -> dict[str, uuid.UUID]:
    """public_id → id for rows of `target` (entity name) in this organization; with job_id (dry
    run), public_ids the job has seen for that entity map to IN_BUNDLE when not stored."""
    wanted = sorted(set(public_ids))
    if not wanted:
        return {}
    plural = BY_NAME[target].plural
    # one parameter, not IN (...) with thousands of bound values: an expanding IN costs
    # SQLAlchemy and psycopg milliseconds per batch to render and parse, and Postgres to plan;
    # and a JSON array rather than a text[]: orjson writes it in C, psycopg dumps a list of
    # strings in Python (~3% of a worker's time)
    found = dict(conn.execute(_lookup_sql(plural), {"org": organization_id,
                                                    "ids": json_array(wanted)}).all())
    if job_id is not None:
        missing = [p for p in wanted if p not in found]
        if missing:
            for public_id in conn.execute(_ROW_KEYS_SQL, {
                    "org": organization_id, "job": job_id, "entity": plural,
                    "ids": json_array(missing)}).scalars():
                found[public_id] = IN_BUNDLE
    return found


@cache
def _lookup_sql(plural: str) -> sa.TextClause:
    return sa.text(f"SELECT public_id, id FROM crm.{plural} "
                   f"WHERE organization_id = :org AND public_id = ANY({TEXT_ARRAY})")


_ROW_KEYS_SQL = sa.text(
    f"SELECT public_id FROM crm.{import_row_keys.name} WHERE organization_id = :org "
    f"AND job_id = :job AND entity = :entity AND public_id = ANY({TEXT_ARRAY})")


class StageResolver:
    """The organization's live stages, loaded once per batch (a handful of rows)."""

    def __init__(self, conn: sa.Connection, organization_id: uuid.UUID) -> None:
        rows = conn.execute(
            sa.select(stages.c.id, stages.c.pipeline_id, stages.c.name, stages.c.position,
                      pipelines.c.is_default)
            .join(pipelines, sa.and_(pipelines.c.organization_id == stages.c.organization_id,
                                     pipelines.c.id == stages.c.pipeline_id))
            .where(stages.c.organization_id == organization_id, stages.c.deleted_at.is_(None),
                   pipelines.c.deleted_at.is_(None))
            .order_by(stages.c.position)
        ).all()
        self.pipeline_of = {r.id: r.pipeline_id for r in rows}
        default = [r for r in rows if r.is_default]
        self.default_by_name: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}
        for r in default:
            self.default_by_name.setdefault(r.name.strip().lower(), (r.pipeline_id, r.id))
        self.unassigned = (self.default_by_name.get("unassigned")
                           or ((default[0].pipeline_id, default[0].id) if default else None))

    def resolve(self, pipeline_id: uuid.UUID | None, stage_id: uuid.UUID | None,
                stage_name: str | None) -> tuple[uuid.UUID, uuid.UUID] | None:
        """(pipeline_id, stage_id): a stage of this organization is kept (with its own
        pipeline); a missing or foreign one resolves in the default pipeline by name, else to
        Unassigned. None when the organization has no default pipeline at all."""
        if stage_id is not None and stage_id in self.pipeline_of:
            return self.pipeline_of[stage_id], stage_id
        if stage_name:
            found = self.default_by_name.get(stage_name.strip().lower())
            if found:
                return found
        return self.unassigned
