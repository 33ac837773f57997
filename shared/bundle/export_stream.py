"""The bundle as a stream of bytes, read from one consistent snapshot.

Memory stays flat: rows come from COPY TO STDOUT one at a time and leave in ~64 KiB chunks.
The whole stream runs in one REPEATABLE READ READ ONLY transaction, so a write committed while
the stream runs is either entirely absent or (committed before) entirely present.
"""
from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from psycopg import sql

from shared import db
from shared.bundle import export_sql
from shared.config import get_settings
from shared.entities import ENTITIES

BUNDLE_VERSION = 1
CHUNK_BYTES = 64 * 1024
GZIP_LEVEL = 3  # measured: 108 MB/s and 1.2x the size of level 6 (73 MB/s); docs/export.md
SORT_MEMORY = "32MB"
# what the planner charges per row a parallel worker hands over (stock: 0.1); bench's anchor reads
# with the same value
PARALLEL_TUPLE_COST = "0.001"

# Called after each chunk with (entity plural, rows of that entity so far); may raise to stop.
RowsCallback = Callable[[str, int], None]


@contextmanager
def snapshot(organization_id: uuid.UUID) -> Iterator[sa.Connection]:
    """A read-only, repeatable-read tenant transaction; timestamps leave in UTC, dates as
    YYYY-MM-DD (CSV cells are Postgres' text form of a value, which DateStyle would change)."""
    with db.get_tenant_engine().connect() as conn, conn.begin():
        # must be the first statement of the transaction; the next one takes the snapshot
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        # the id-order sort of a large table stays in memory rather than spilling to disk;
        # references join by hash: right after a bulk import the statistics still say the
        # tables are tiny, and the planner's per-row index probes made the export ~1.5x slower
        # (an export reads every row of the organization, so hashing is right at any size).
        # Parallel plans: the planner charges every row a worker hands to the leader
        # (parallel_tuple_cost 0.1), and since every row of an export leaves, it never chose one,
        # although building the rows' JSON is most of the work; at a token charge it splits the
        # scan, joins and JSON among the workers (1M rows: 0.68x -> 1.07x the anchor's COPY out).
        # parallel_setup_cost stays, so a small organization's export stays serial.
        conn.execute(sa.text("SELECT set_config('app.current_org', :org, true), "
                             "set_config('TimeZone', 'UTC', true), "
                             "set_config('work_mem', :work_mem, true), "
                             "set_config('enable_nestloop', 'off', true), "
                             "set_config('max_parallel_workers_per_gather', :workers, true), "
                             "set_config('parallel_tuple_cost', :tuple_cost, true), "
                             "set_config('DateStyle', 'ISO', true)"),
                     {"org": str(organization_id), "work_mem": SORT_MEMORY,
                      "workers": str(get_settings().export_parallel_workers),
                      "tuple_cost": PARALLEL_TUPLE_COST})
        yield conn


def count_rows(conn: sa.Connection, organization_id: uuid.UUID,
               include_deleted: bool = True) -> dict[str, int]:
    """Rows per entity in the same snapshot the stream reads (job progress totals)."""
    raw = conn.connection.driver_connection
    counts = {}
    with raw.cursor() as cur:
        for entity in ENTITIES:
            cur.execute(export_sql.count_query(entity, organization_id, include_deleted))
            counts[entity.plural] = cur.fetchone()[0]
    return counts


def bundle_chunks(conn: sa.Connection, organization_id: uuid.UUID, *,
                  include_deleted: bool = True,
                  on_rows: RowsCallback | None = None) -> Iterator[bytes]:
    """Yield the bundle JSON (docs/architecture.md, "Bundle format") in chunks, inside the
    caller's snapshot."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        # transaction start: the snapshot's time
        cur.execute(sql.SQL("SELECT to_json({})::text").format(
            export_sql.iso_timestamp(sql.SQL("now()"))))
        exported_at = cur.fetchone()[0]
        buf = bytearray(b'{"version":%d,"exported_at":%s,"organization_id":"%s"' % (
            BUNDLE_VERSION, exported_at.encode(), str(organization_id).encode()))
        for entity in ENTITIES:
            buf += b',\n"%s":[' % entity.plural.encode()
            count = 0
            statement = export_sql.copy_statement(entity, organization_id, include_deleted)
            with cur.copy(statement) as copy:
                for data in copy:  # one CopyData message per row: the JSON text plus "\n"
                    buf += b"\n" if count == 0 else b",\n"
                    buf += data[:-1]
                    count += 1
                    if len(buf) >= CHUNK_BYTES:
                        yield bytes(buf)
                        buf.clear()
                        if on_rows is not None:
                            on_rows(entity.plural, count)
            buf += b"\n]" if count else b"]"
            if on_rows is not None:
                on_rows(entity.plural, count)
        buf += b"}\n"
        yield bytes(buf)


def stream_bundle(organization_id: uuid.UUID, *, include_deleted: bool = True,
                  gzip: bool = False) -> Iterator[bytes]:
    """Open the snapshot and stream the whole bundle; prime it with next() so that the snapshot
    is taken (and any database error raised) before a response is committed to."""
    with snapshot(organization_id) as conn:
        chunks = bundle_chunks(conn, organization_id, include_deleted=include_deleted)
        yield from (gzip_chunks(chunks) if gzip else chunks)


def gzip_chunks(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """A gzip member (RFC 1952) made on the fly, so compressed output streams too."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()
