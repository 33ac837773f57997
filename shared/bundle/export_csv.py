"""The export as a zip of CSV files (one per entity) plus the mapping.json that imports it back.

Postgres writes the CSV rows itself (COPY … WITH (FORMAT csv): RFC 4180 quoting, "\\n" line ends,
a null is an empty cell), with every cell made formula-safe in SQL (shared.csv_safety). Python
only adds the header line and feeds the rows through zipfile into ~64 KiB chunks. The zip goes to
a write-only sink, so zipfile writes data descriptors after each member instead of seeking back:
the bytes can leave (HTTP response, storage) as they are made, and memory stays flat.

A first cheap pass over the same snapshot finds each entity's custom_fields keys, which become
`custom_fields.<key>` columns; a key with any value that is not a non-empty string is a JSON
column (every cell JSON text), declared in mapping.json's `types`.
"""
from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from shared.bundle import export_sql
from shared.bundle.export_stream import CHUNK_BYTES, GZIP_LEVEL, RowsCallback, snapshot
from shared.entities import ENTITIES, Entity
from shared.errors import ValidationFailed

MAPPING_FILE = "mapping.json"
MAPPING_VERSION = 1
CUSTOM_PREFIX = "custom_fields."
# Postgres allows 1664 columns in a select list; the fixed columns take fewer than 64 of them.
MAX_CUSTOM_COLUMNS = 1600


@dataclass(frozen=True)
class CustomColumn:
    key: str
    as_json: bool  # some value is not a non-empty string: every cell is JSON text

    @property
    def name(self) -> str:
        return CUSTOM_PREFIX + self.key


def file_name(entity: Entity) -> str:
    return f"{entity.plural}.csv"


def custom_columns(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                   include_deleted: bool) -> list[CustomColumn]:
    """The entity's custom_fields keys in the snapshot, sorted by code point (not by the
    database's collation, so the column order never depends on the server's locale)."""
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(export_sql.custom_keys_query(entity, organization_id, include_deleted))
        found = sorted(cur.fetchall())
    if len(found) > MAX_CUSTOM_COLUMNS:
        raise ValidationFailed(
            f"{entity.plural} have {len(found)} different custom field keys; a CSV export holds "
            f"at most {MAX_CUSTOM_COLUMNS} per entity: use format=json",
            {"format": [f"csv holds at most {MAX_CUSTOM_COLUMNS} custom field keys per entity"]})
    return [CustomColumn(key, bool(as_json)) for key, as_json in found]


def file_mapping(entity: Entity, custom: list[CustomColumn]) -> dict[str, Any]:
    """The mapping entry that reads the entity's file back into the same bundle rows."""
    reference_columns = {ref.public_field: ref for ref in entity.references}
    columns: dict[str, str] = {}
    references: dict[str, dict[str, str]] = {}
    for name in export_sql.csv_columns(entity):
        ref = reference_columns.get(name)
        if ref is None:
            columns[name] = name
            continue
        references[name] = {"column": name, "by": "public_id"}
        if ref.polymorphic:
            # the target entity varies per row: the row's own type column names it
            references[name]["entity_column"] = ref.type_column
    columns.update({c.name: c.name for c in custom})
    return {"file": file_name(entity), "entity": entity.plural, "columns": columns,
            "references": references, "types": {c.name: "json" for c in custom if c.as_json},
            "unmapped": "ignore"}


def mapping_document(custom: dict[str, list[CustomColumn]]) -> dict[str, Any]:
    """mapping.json: `POST /import?source=csv` with this zip imports the same rows again."""
    return {"version": MAPPING_VERSION, "external_system": None, "unescape_formulas": True,
            "files": [file_mapping(e, custom[e.plural]) for e in ENTITIES]}


def header_line(entity: Entity, custom: list[CustomColumn]) -> bytes:
    # Not formula-escaped: every name starts with a field name or "custom_fields.", so a
    # spreadsheet never runs one, and the mapping names the columns exactly as written here.
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [*export_sql.csv_columns(entity), *(c.name for c in custom)])
    return out.getvalue().encode()


class _Sink:
    """Write-only and without tell(): zipfile then streams (data descriptors, no seeking)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = bytes(self.buffer)
        self.buffer.clear()
        return out


def csv_zip_chunks(conn: sa.Connection, organization_id: uuid.UUID, *,
                   include_deleted: bool = True,
                   on_rows: RowsCallback | None = None) -> Iterator[bytes]:
    """Yield the zip in chunks, inside the caller's snapshot. The first chunk (mapping.json)
    comes once the snapshot is taken and the custom columns are known."""
    custom = {e.plural: custom_columns(conn, e, organization_id, include_deleted)
              for e in ENTITIES}
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=GZIP_LEVEL) as archive:
        archive.writestr(MAPPING_FILE, orjson.dumps(mapping_document(custom),
                                                    option=orjson.OPT_INDENT_2))
        yield sink.take()
        for entity in ENTITIES:
            yield from _entity_member(archive, sink, conn, entity, organization_id,
                                      include_deleted, custom[entity.plural], on_rows)
    yield sink.take()  # the rest of the last member and the central directory


def _entity_member(archive: zipfile.ZipFile, sink: _Sink, conn: sa.Connection, entity: Entity,
                   organization_id: uuid.UUID, include_deleted: bool,
                   custom: list[CustomColumn], on_rows: RowsCallback | None) -> Iterator[bytes]:
    statement = export_sql.csv_copy_statement(
        entity, organization_id, include_deleted, [(c.key, c.as_json) for c in custom])
    count = 0
    batch = bytearray(header_line(entity, custom))
    # zip64 from the start: the size is unknown until the end, and a member may pass 4 GiB
    with archive.open(file_name(entity), "w", force_zip64=True) as member, \
            conn.connection.driver_connection.cursor() as cur, cur.copy(statement) as copy:
        for data in copy:  # one CopyData message per row
            batch += data
            count += 1
            if len(batch) >= CHUNK_BYTES:
                member.write(batch)  # compressed into the sink; one zlib call per batch
                batch.clear()
                if on_rows is not None:
                    on_rows(entity.plural, count)
                if len(sink.buffer) >= CHUNK_BYTES:
                    yield sink.take()
        member.write(batch)
    if on_rows is not None:
        on_rows(entity.plural, count)


def stream_csv_zip(organization_id: uuid.UUID, *, include_deleted: bool = True
                   ) -> Iterator[bytes]:
    """Open the snapshot and stream the whole zip; prime it with next() (as stream_bundle)."""
    with snapshot(organization_id) as conn:
        yield from csv_zip_chunks(conn, organization_id, include_deleted=include_deleted)
