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
from shared.entities import BY_NAME

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
