"""The anchor: raw COPY of the same rows into the same crm tables, and COPY TO STDOUT out of them.

Ids are derived from the bench public_ids (row i of an entity → a fixed uuid), so references are
computed without lookups: this measures Postgres itself, the limit an import can approach.
"""
from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator

import orjson
import psycopg

from bench.generate import MIX, counts, public_id, rows_for
from shared.bundle.export_stream import PARALLEL_TUPLE_COST
from shared.entities import BY_PLURAL
from shared.ids import uuid7

_KIND = {"accounts": 1, "contacts": 2, "opportunities": 3, "leads": 4, "activities": 5}
_PLURAL_OF = {"acct": "accounts", "cnt": "contacts", "opp": "opportunities", "lead": "leads",
              "act": "activities"}
_SINGULAR = {"account": "accounts", "contact": "contacts", "opportunity": "opportunities",
             "lead": "leads"}


def bench_uuid(org: uuid.UUID, entity: str, index: int) -> uuid.UUID:
    return uuid.UUID(int=(org.int & ~((1 << 64) - 1)) | (_KIND[entity] << 48) | index)


def _ref(org: uuid.UUID, public: str | None) -> uuid.UUID | None:
    if not public:
        return None
    prefix, rest = public.split("_", 1)
    return bench_uuid(org, _PLURAL_OF[prefix], int(rest[len("bench"):]))


def _copy_rows(org: uuid.UUID, entity: str, rows: Iterator[dict], stage: dict[str, tuple],
               pipeline_id: uuid.UUID) -> tuple[list[str], Iterator[tuple]]:
    spec = BY_PLURAL[entity]
    fields = list(spec.field_names)
    refs = [r for r in spec.references]
    columns = ["id", "organization_id", "public_id", "external_system", "external_id",
               "custom_fields", "created_at", *fields, *[r.column for r in refs]]
    if entity == "opportunities":
        columns += ["pipeline_id", "pipeline_stage_id"]
    if entity == "activities":
        columns.append("record_type")

    def tuples() -> Iterator[tuple]:
        for i, row in enumerate(rows):
            values = [bench_uuid(org, entity, i), org, row["public_id"], row.get("external_system"),
                      row.get("external_id"), orjson.dumps(row.get("custom_fields") or {}).decode(),
                      row.get("created_at")]
            values += [row.get(f) for f in fields]
            values += [_ref(org, row.get(r.public_field)) for r in refs]
            if entity == "opportunities":
                values += [pipeline_id, stage[row.get("pipeline_stage_name", "Unassigned")]]
            if entity == "activities":
                values.append(row.get("record_type"))
            yield tuple(values)
    return columns, tuples()


def _pipeline(conn: psycopg.Connection, org: uuid.UUID) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    pipeline_id, = conn.execute(
        "SELECT id FROM crm.opportunity_pipelines WHERE organization_id = %s AND is_default",
        (org,)).fetchone()
    stage = dict(conn.execute(
        "SELECT name, id FROM crm.opportunity_pipeline_stages WHERE pipeline_id = %s",
        (pipeline_id,)).fetchall())
    return pipeline_id, stage


EVENT_COLUMNS = ("id", "organization_id", "record_type", "record_id", "public_id", "event_type",
                 "changes", "actor", "job_id")


def _events(org: uuid.UUID, entity: str, first: int, count: int, job_id: uuid.UUID
            ) -> Iterator[tuple]:
    record_type, created = BY_PLURAL[entity].name, orjson.dumps({"outcome": "created"}).decode()
    for i in range(first, first + count):
        yield (uuid7(), org, record_type, bench_uuid(org, entity, i), public_id(entity, i),
               "imported", created, "bench", job_id)


def copy_in(conninfo: str, org: uuid.UUID, rows: int, seed: int = 7) -> dict:
    """COPY every entity plus one change event per row; returns seconds and rows/s.

    The events are the rows an import writes: a time-ordered id, the record's public_id, the
    job id and the outcome (so the same indexes are maintained, with the same key order)."""
    sizes = counts(rows)
    with psycopg.connect(conninfo) as conn:
        pipeline_id, stage = _pipeline(conn, org)
        conn.commit()
        job_id = uuid7()
        started = time.perf_counter()
        for entity, _ in MIX:
            columns, tuples = _copy_rows(org, entity, rows_for(entity, sizes[entity], sizes, seed),
                                         stage, pipeline_id)
            with conn.cursor() as cur, cur.copy(
                    f"COPY crm.{entity} ({', '.join(columns)}) FROM STDIN") as copy:
                for values in tuples:
                    copy.write_row(values)
            with conn.cursor() as cur, cur.copy(
                    f"COPY crm.change_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for values in _events(org, entity, 0, sizes[entity], job_id):
                    copy.write_row(values)
        conn.commit()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_per_s": rows / seconds}


def tenant_copy_in(conninfo: str, org: uuid.UUID, rows: int, batch_size: int,
                   seed: int = 7) -> dict:
    """The same rows and events written the only bulk way the tenant role has: Postgres refuses
    COPY FROM into a table under row-level security, so each batch is copied into temporary
    tables and inserted from there (one transaction per batch, as the import's batches).

    The floor of any import that keeps row-level security on its writes: what is left between
    the import and this figure is the import's own work (validation, keys, lookups, events)."""
    sizes = counts(rows)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        pipeline_id, stage = _pipeline(conn, org)
        job_id = uuid7()
        started = time.perf_counter()
        for entity, _ in MIX:
            columns, tuples = _copy_rows(org, entity, rows_for(entity, sizes[entity], sizes, seed),
                                         stage, pipeline_id)
            done = 0
            while chunk := list(itertools.islice(tuples, batch_size)):
                _tenant_batch(conn, org, entity, columns, chunk,
                              _events(org, entity, done, len(chunk), job_id))
                done += len(chunk)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_per_s": rows / seconds, "batch_size": batch_size}


def _tenant_batch(conn: psycopg.Connection, org: uuid.UUID, entity: str, columns: list[str],
                  rows: list[tuple], events: Iterator[tuple]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL ROLE drippulse_app")
        cur.execute("SELECT set_config('app.current_org', %s, true)", (str(org),))
        for table, cols, values in ((entity, columns, rows),
                                    ("change_events", EVENT_COLUMNS, events)):
            names = ", ".join(cols)
            cur.execute(f"CREATE TEMP TABLE stage_{table} (LIKE crm.{table} INCLUDING DEFAULTS)"
                        " ON COMMIT DROP")
            with cur.copy(f"COPY stage_{table} ({names}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            cur.execute(f"INSERT INTO crm.{table} ({names}) SELECT {names} FROM stage_{table}")


def copy_out(conninfo: str, org: uuid.UUID, rows: int, as_tenant: bool = False,
             parallel_workers: int | None = None) -> dict:
    """COPY (SELECT row_to_json(t) ...) TO STDOUT of every entity: the export anchor. As the
    tenant role, the row-level security policy filters every row too (as in the export).

    With parallel_workers (0 included), the planner may split the query as the export's may
    (the same max_parallel_workers_per_gather and parallel_tuple_cost as the export's
    transaction); without, the anchor's plan is what stock settings give, which for a whole
    table is serial."""
    started = time.perf_counter()
    size = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        if parallel_workers is not None:
            cur.execute(f"SET max_parallel_workers_per_gather = {int(parallel_workers)}")
            cur.execute(f"SET parallel_tuple_cost = {PARALLEL_TUPLE_COST}")
        if as_tenant:
            cur.execute("SET ROLE drippulse_app")
            cur.execute("SELECT set_config('app.current_org', %s, false)", (str(org),))
        for entity, _ in MIX:
            with cur.copy(f"COPY (SELECT row_to_json(t) FROM crm.{entity} t "
                          f"WHERE organization_id = '{org}') TO STDOUT") as copy:
                for chunk in copy:
                    size += len(chunk)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_per_s": rows / seconds, "bytes": size}
