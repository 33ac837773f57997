"""The set-based write of one batch: COPY into a temp staging table, then one upsert statement
that also appends the `imported` change events (one per row, created/updated/unchanged alike)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache

import psycopg
import sqlalchemy as sa

from shared import jsontext
from shared.bundle.validate import Candidate
from shared.entities import BY_NAME, Entity
from shared.ids import uuid7, uuid7_texts

STAGE = "import_stage"
# Never compared nor overwritten on update: the row keeps its identity and creation time, and
# updated_at belongs to the database (trigger), so re-importing a bundle changes nothing.
FIXED_COLUMNS = ("id", "organization_id", "public_id", "created_at", "updated_at")
# What an import may set (issue 19, item 9): created_at and deleted_at are kept from the bundle
# (a round trip must reproduce rows, deleted ones included); updated_at is always the
# database's time of the write, on insert too, so a backdated row cannot hide from a client
# syncing with `updated_since`.
DATABASE_TIME = frozenset({"updated_at"})
# Marks added to an `imported` event when the row's deleted_at changes (the event type stays
# `imported`: one per row is the contract), read from the before-image and the stored row.
_DELETION_MARK = """CASE WHEN {new} IS NOT NULL AND {old} IS NULL THEN '{{"deleted": true}}'::jsonb
     WHEN {new} IS NULL AND {old} IS NOT NULL THEN '{{"restored": true}}'::jsonb
     ELSE '{{}}'::jsonb END"""


def _q(name: str) -> str:
    return '"' + name + '"'


def columns(entity: Entity) -> list[str]:
    return [c.name for c in entity.table.columns]


@cache
def upsert_sql(entity_name: str) -> str:
    entity = BY_NAME[entity_name]
    cols = columns(entity)
    col_list = ", ".join(_q(c) for c in cols)
    changing = [c for c in cols if c not in FIXED_COLUMNS]
    table = f"crm.{entity.plural}"
    select_list = ", ".join("now()" if c in DATABASE_TIME else _q(c) for c in cols)
    deleted = "deleted_at" in cols
    returned_deleted = "t.deleted_at" if deleted else "NULL::timestamptz AS deleted_at"
    created_mark = _DELETION_MARK.format(new="x.deleted_at", old="NULL") if deleted else "'{}'"
    updated_mark = (_DELETION_MARK.format(new="x.deleted_at", old="img.b->>'deleted_at'")
                    if deleted else "'{}'")
    # the image holds the columns an import may change, built in one pass (building the whole
    # row's JSON and then removing the fixed keys walked it twice)
    image = "jsonb_build_object(" + ", ".join(f"'{c}', cur.{_q(c)}" for c in changing) + ")"
    return f"""
WITH up AS (
    INSERT INTO {table} AS t ({col_list})
    SELECT {select_list} FROM {STAGE} ORDER BY public_id
    ON CONFLICT (organization_id, public_id) DO UPDATE
    SET {", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in changing)}
    WHERE ({", ".join(f"t.{_q(c)}" for c in changing)})
          IS DISTINCT FROM ({", ".join(f"EXCLUDED.{_q(c)}" for c in changing)})
    RETURNING t.id, t.public_id, (t.xmax = 0) AS inserted, {returned_deleted}
), ev AS (
    INSERT INTO crm.change_events
        (id, organization_id, record_type, record_id, public_id, event_type, changes, actor,
         job_id, occurred_at)
    SELECT x.event_id, :org, :record_type, x.record_id, x.public_id, 'imported',
           CASE WHEN x.inserted IS NULL THEN '{{"outcome": "unchanged"}}'::jsonb
                WHEN x.inserted THEN '{{"outcome": "created"}}'::jsonb || {created_mark}
                -- the before-image an undo restores: this subquery reads the statement's
                -- snapshot, i.e. the row as it was before the upsert above changed it; only
                -- updated rows pay for it (a creating import writes no before-image)
                ELSE (SELECT jsonb_build_object('outcome', 'updated', 'before', img.b)
                             || {updated_mark}
                      FROM (SELECT {image} AS b FROM {table} cur
                            WHERE cur.organization_id = :org AND cur.public_id = x.public_id
                           ) img) END,
           :actor, :job, now()
    FROM (
        -- the stored id is looked up only for unchanged rows (COALESCE stops at the first
        -- non-null): a join to the table made the planner read all of the organization's rows
        -- per batch when its statistics were stale (cost grew with the table: quadratic)
        SELECT s.event_id, s.public_id, up.inserted, up.deleted_at,
               coalesce(up.id, (SELECT cur.id FROM {table} cur
                                WHERE cur.organization_id = :org
                                  AND cur.public_id = s.public_id)) AS record_id
        FROM {STAGE} s LEFT JOIN up ON up.public_id = s.public_id
        OFFSET 0  -- keeps the subquery whole, so the WHERE below does not probe a second time
    ) x
    WHERE x.record_id IS NOT NULL
)
SELECT count(*) FILTER (WHERE inserted) AS created,
       count(*) FILTER (WHERE NOT inserted) AS updated
FROM up
"""


@cache
def insert_sql(entity_name: str) -> str:
    """The write of a batch whose keys are all new (the common first migration): a plain
    insert and its `created` events, without the upsert's conflict arbitration, its RETURNING
    and the join that matches events to written rows. A key that exists after all raises a
    unique violation and the caller takes the upsert instead."""
    entity = BY_NAME[entity_name]
    cols = columns(entity)
    table = f"crm.{entity.plural}"
    select_list = ", ".join("now()" if c in DATABASE_TIME else _q(c) for c in cols)
    created_mark = (_DELETION_MARK.format(new="s.deleted_at", old="NULL")
                    if "deleted_at" in cols else "'{}'")
    return f"""
WITH up AS (
    INSERT INTO {table} ({", ".join(_q(c) for c in cols)})
    SELECT {select_list} FROM {STAGE} ORDER BY public_id
)
INSERT INTO crm.change_events
    (id, organization_id, record_type, record_id, public_id, event_type, changes, actor, job_id,
     occurred_at)
SELECT s.event_id, :org, :record_type, s.id, s.public_id, 'imported',
       '{{"outcome": "created"}}'::jsonb || {created_mark}, :actor, :job, now()
FROM {STAGE} s
"""


def _tuples(entity: Entity, organization_id: uuid.UUID, rows: list[Candidate]):
    """One COPY row per candidate: the table's columns, then the id of its change event.

    The event ids are minted here, time-ordered like every other id: random ones (the
    database's gen_random_uuid) land all over the events' primary-key index, which at millions
    of events no longer fits the buffer cache."""
    cols = columns(entity)
    at = {c: cols.index(c) for c in ("id", "organization_id", "public_id", "custom_fields",
                                     "created_at", "updated_at")}
    now = datetime.now(UTC)
    for cand, event_id in zip(rows, uuid7_texts(len(rows)), strict=True):
        get = cand.values.get
        row = [get(c) for c in cols]  # a new list: the candidate stays as validated (bisection)
        row[at["id"]] = row[at["id"]] or uuid7()  # apply may have minted it already
        row[at["organization_id"]] = organization_id
        row[at["public_id"]] = cand.public_id
        row[at["custom_fields"]] = jsontext.dumps(row[at["custom_fields"]]).decode()
        row[at["created_at"]] = row[at["created_at"]] or now
        row[at["updated_at"]] = row[at["updated_at"]] or now
        row.append(event_id)
        yield row


def write_rows(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
               job_id: uuid.UUID, actor: str, rows: list[Candidate], all_new: bool = False
               ) -> tuple[int, int, int]:
    """Upsert the rows and append their events; returns (created, updated, unchanged).

    Each candidate's `values` must already hold the resolved reference columns. `all_new`: the
    organization had no row of this entity when the import was spooled, so the batch is first
    tried as a plain insert (see `insert_sql`)."""
    raw = conn.connection.driver_connection
    cols = columns(entity)
    with raw.cursor() as cur:
        # jit off: the planner prices the per-row id probe high enough to start JIT compiling
        # (~35 ms a batch) for a statement that runs in ~100 ms
        cur.execute(f"SET LOCAL jit = off; "
                    f"CREATE TEMP TABLE {STAGE} (LIKE crm.{entity.plural}, event_id uuid) "
                    f"ON COMMIT DROP")
        with cur.copy(f"COPY {STAGE} ({', '.join(_q(c) for c in cols)}, event_id) "
                      f"FROM STDIN") as copy:
            for values in _tuples(entity, organization_id, rows):
                copy.write_row(values)
    params = {"org": organization_id, "record_type": entity.name, "actor": actor, "job": job_id}
    if all_new and _inserted(conn, entity, params):
        created, updated = len(rows), 0
    else:
        created, updated = conn.execute(sa.text(upsert_sql(entity.name)), params).one()
    conn.execute(sa.text(f"DROP TABLE {STAGE}"))
    return created, updated, len(rows) - created - updated


def _inserted(conn: sa.Connection, entity: Entity, params: dict) -> bool:
    """The plain insert, in a savepoint; False when a key exists after all (a row created by
    the API or another import since the spool) — the stage stays for the upsert."""
    try:
        with conn.begin_nested():
            conn.execute(sa.text(insert_sql(entity.name)), params)
    except sa.exc.IntegrityError as exc:
        if not isinstance(exc.orig, psycopg.errors.UniqueViolation):
            raise  # a foreign key refused: the upsert would refuse it too (bisection finds it)
        return False
    return True
