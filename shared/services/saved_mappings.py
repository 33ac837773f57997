"""Saved CSV mappings of an organization: one per set of headers, offered again by the import
wizard to anyone of the organization who uploads a file with the same headers.

A saved mapping is a mapping document version 1 (docs/interop.md) with exactly one file entry:
the entry for a file with these headers. It is checked by the same `parse_mapping` the CSV
import runs, plus the columns it names must be among the headers, so what is offered again is
a mapping the import accepts.

Headers are matched as a set, ignoring case and surrounding spaces (the import finds columns
ignoring case too): `["Email", "Name"]` and `[" name", "EMAIL"]` share one saved mapping.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
import uuid
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import db
from shared.errors import NotFound, ValidationFailed
from shared.fields import text_problem
from shared.ids import parse_uuid, uuid7
from shared.interop.csv_headers import HeaderIndex
from shared.interop.csvfile import MAX_COLUMNS
from shared.interop.mapping import MappingInvalid, parse_mapping
from shared.interop.upload import MAX_MAPPING_BYTES
from shared.keyset import KeyPart, Keyset, uuid_value
from shared.models import saved_mappings as sm
from shared.pagination import rows_within

MAX_PER_ORGANIZATION = 1000
MAX_HEADER_LENGTH = 1000
MAX_NAME_LENGTH = 200
# Newest first: ids are uuid7, so id order is creation order.
_NEWEST_FIRST = Keyset(KeyPart("id", sm.c.id, uuid_value), descending=True)

HEADERS_EXAMPLE = ["Company", "Sector", "Id"]
MAPPING_EXAMPLE = {"version": 1, "external_system": "legacy", "files": [
    {"file": "accounts.csv", "entity": "accounts", "id_column": "Id", "unmapped": "ignore",
     "columns": {"Company": "name", "Sector": "industry"}}]}


def _storable(value: str) -> None:
    problem = text_problem(value)  # NUL or an unpaired surrogate: Postgres cannot store it
    if problem:
        raise ma.ValidationError(problem)


class MappingWrite(ma.Schema):
    """The body of PUT /mappings."""

    headers = ma.fields.List(
        ma.fields.String(validate=[ma.validate.Length(max=MAX_HEADER_LENGTH), _storable]),
        required=True, validate=ma.validate.Length(1, MAX_COLUMNS),
        metadata={"description": "the file's header line; matched as a set, ignoring case "
                                 "and surrounding spaces", "example": HEADERS_EXAMPLE})
    name = ma.fields.String(
        validate=[ma.validate.Length(1, MAX_NAME_LENGTH), _storable],
        metadata={"description": "what people see in the list; default: the entry's file "
                                 "name (an update without it keeps the name)"})
    mapping = ma.fields.Dict(
        required=True,
        metadata={"description": "a mapping document version 1 with exactly one file entry "
                                 f"(docs/interop.md), at most {MAX_MAPPING_BYTES} bytes",
                  "example": MAPPING_EXAMPLE})


class SavedMapping(ma.Schema):
    """A saved mapping as the API answers it."""

    id = ma.fields.UUID()
    name = ma.fields.String()
    headers = ma.fields.List(ma.fields.String(), metadata={"example": HEADERS_EXAMPLE})
    mapping = ma.fields.Dict(metadata={"example": MAPPING_EXAMPLE})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    updated_by = ma.fields.String(allow_none=True, metadata={
        "description": "who saved it last: `user:<uuid>`, `api_key:<prefix>` or `jwt:<sub>`"})


_WRITE = MappingWrite()
_OUT = SavedMapping()


def mapping_json(row: Any) -> dict[str, Any]:
    return _OUT.dump(row._mapping if hasattr(row, "_mapping") else row)


def normalised_headers(headers: list[str]) -> list[str]:
    """The header set as it is matched: each trimmed, NFC, case-folded; sorted."""
    return sorted(unicodedata.normalize("NFC", h).strip().casefold() for h in headers)


def headers_key(headers: list[str]) -> str:
    """A stable hash of the normalised header set (the table's unique key with the org)."""
    canonical = json.dumps(normalised_headers(headers), ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _invalid(problems: list[dict[str, str]]) -> ValidationFailed:
    return ValidationFailed("The mapping is not valid", {"problems": problems},
                            code="invalid_mapping")


def _unstorable(value: Any, path: str) -> dict[str, str] | None:
    """The first string (key or value) Postgres jsonb cannot hold, as a problem."""
    if isinstance(value, str):
        problem = text_problem(value)
        return {"path": path, "message": problem} if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable(key, path) or _unstorable(item, f"{path}.{key}" if path else key)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found:
                return found
    return None


def check_mapping(mapping: dict[str, Any], headers: list[str]) -> None:
    """422 `invalid_mapping` listing every problem, with paths inside the mapping document
    (as the import's 422 has them): what `parse_mapping` finds, a document that is not one
    file entry, and columns it names that are not among the headers."""
    unstorable = _unstorable(mapping, "")
    if unstorable:
        raise _invalid([unstorable])
    size = len(json.dumps(mapping, ensure_ascii=False).encode())
    if size > MAX_MAPPING_BYTES:
        raise _invalid([{"path": "", "message": f"at most {MAX_MAPPING_BYTES} bytes, "
                                                f"not {size}"}])
    try:
        parsed = parse_mapping(mapping)
    except MappingInvalid as exc:
        raise _invalid(exc.problems) from None
    if len(parsed.files) != 1:
        raise _invalid([{"path": "files", "message": "a saved mapping has exactly one file "
                                                     "entry: the one for these headers"}])
    spec = parsed.files[0]
    index = HeaderIndex(list(headers))
    named = [(f"files[0].columns.{column}", column) for column in spec.columns]
    named += spec.named_columns()
    problems = [{"path": path, "message": f"column {column!r} is not among the headers"}
                for path, column in named if index.find(column) is None]
    if problems:
        raise _invalid(problems)


def _load(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object",
                               {"_body": ["must be an object"]})
    try:
        return _WRITE.load(body, unknown=ma.RAISE)
    except ma.ValidationError as exc:
        raise ValidationFailed("Invalid saved mapping", exc.normalized_messages()) from None


def save(organization_id: uuid.UUID, body: Any, actor: str | None) -> tuple[Any, bool]:
    """Create or replace the organization's mapping for these headers: (row, created)."""
    values = _load(body)
    headers, mapping = values["headers"], values["mapping"]
    check_mapping(mapping, headers)
    key = headers_key(headers)
    name = values.get("name")
    insert = pg_insert(sm).values(
        id=uuid7(), organization_id=organization_id, headers_key=key, headers=headers,
        name=name or str(mapping["files"][0]["file"])[:MAX_NAME_LENGTH], mapping=mapping,
        updated_by=actor)
    changes = {"headers": insert.excluded.headers, "mapping": insert.excluded.mapping,
               "updated_by": insert.excluded.updated_by, "updated_at": sa.func.now()}
    if name:
        changes["name"] = insert.excluded.name
    upsert = insert.on_conflict_do_update(
        index_elements=[sm.c.organization_id, sm.c.headers_key], set_=changes,
    ).returning(*sm.c, (sa.literal_column("xmax") == 0).label("created"))
    with db.tenant_transaction(organization_id) as conn:
        exists = conn.execute(sa.select(sa.literal(True)).where(
            sm.c.organization_id == organization_id, sm.c.headers_key == key)).first()
        if not exists:
            count = conn.execute(sa.select(sa.func.count()).select_from(sm).where(
                sm.c.organization_id == organization_id)).scalar_one()
            if count >= MAX_PER_ORGANIZATION:
                raise ValidationFailed("Too many saved mappings", {"headers": [
                    f"at most {MAX_PER_ORGANIZATION} saved mappings per organization; "
                    "delete one first"]})
        row = conn.execute(upsert).one()
    return row, bool(row.created)


def for_headers(organization_id: uuid.UUID, headers: list[str]) -> Any:
    """The organization's mapping for this header set, or None."""
    with db.tenant_transaction(organization_id) as conn:
        return conn.execute(sa.select(sm).where(
            sm.c.organization_id == organization_id,
            sm.c.headers_key == headers_key(headers))).one_or_none()


def list_page(organization_id: uuid.UUID, *, cursor: str | None, limit: int
              ) -> tuple[list[Any], str | None]:
    """Newest first; a page also ends at the page byte budget (a mapping may be large)."""
    size = (sa.func.octet_length(sa.cast(sm.c.mapping, sa.Text))
            + sa.func.octet_length(sa.cast(sm.c.headers, sa.Text))).label("row_bytes")
    query = _NEWEST_FIRST.where_after(
        sa.select(sm.c.id, size).where(sm.c.organization_id == organization_id), cursor)
    with db.tenant_transaction(organization_id) as conn:
        keys = conn.execute(query.order_by(*_NEWEST_FIRST.order_by()).limit(limit + 1)).all()
        keys, next_cursor = _NEWEST_FIRST.page(keys, rows_within(
            [k.row_bytes for k in keys[:limit]]))
        rows = conn.execute(sa.select(sm).where(
            sm.c.organization_id == organization_id, sm.c.id.in_([k.id for k in keys]))
            .order_by(*_NEWEST_FIRST.order_by())).all() if keys else []
    return rows, next_cursor


def delete(organization_id: uuid.UUID, mapping_id: str) -> None:
    as_uuid = parse_uuid(mapping_id)
    with db.tenant_transaction(organization_id) as conn:
        gone = as_uuid is not None and conn.execute(sm.delete().where(
            sm.c.organization_id == organization_id, sm.c.id == as_uuid)).rowcount
    if not gone:
        raise NotFound("No saved mapping with this id")
