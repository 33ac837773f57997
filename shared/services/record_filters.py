"""Query-string filters of the record lists, derived from each entity's fields and references."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from shared.entities import BY_NAME, RECORD_TYPES, Entity, pipelines, stages
from shared.errors import ValidationFailed
from shared.fields import DATETIME, FieldError
from shared.ids import parse_uuid

PAGING = ("limit", "cursor", "include_deleted")
COMMON = ("external_system", "external_id", "updated_since", "q")
# Text columns `q` searches (ILIKE), when the entity has them.
SEARCHABLE = ("name", "first_name", "last_name", "email", "company", "domain", "subject")
# Plain equality filters, when the entity has the field.
EQUALITY = ("status", "type")

Builder = Callable[[Entity, uuid.UUID, str], sa.ColumnElement[bool]]


def _fail(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid filter {name}", {name: [message]})


def _uuid(name: str, value: str) -> uuid.UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise _fail(name, "must be a uuid")
    return parsed


def _public_ref(target: str, column: str) -> Builder:
    def build(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
        t = BY_NAME[target].table
        return entity.table.c[column] == sa.select(t.c.id).where(
            t.c.organization_id == org, t.c.public_id == value).scalar_subquery()
    return build


def _uuid_ref(name: str, column: str) -> Builder:
    def build(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
        return entity.table.c[column] == _uuid(name, value)
    return build


def _uuid_or_public(name: str, table: sa.Table, column: str) -> Builder:
    def build(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
        parsed = parse_uuid(value)
        if parsed is not None:
            return entity.table.c[column] == parsed
        return entity.table.c[column] == sa.select(table.c.id).where(
            table.c.organization_id == org, table.c.public_id == value).scalar_subquery()
    return build


def _record_public(entity: Entity, org: uuid.UUID, value: str, record_type: str | None):
    if record_type is None:
        raise _fail("record_public_id", "needs record_type")
    t = BY_NAME[record_type].table
    return entity.table.c.record_id == sa.select(t.c.id).where(
        t.c.organization_id == org, t.c.public_id == value).scalar_subquery()


def _equals(field: str) -> Builder:
    return lambda entity, org, value: entity.table.c[field] == value


def _field_equals(field: str) -> Builder:
    """Equality on an entity field, the value checked by the field's own converter
    (`status=bogus` on opportunities is a 422, not an empty page)."""
    def build(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
        kind = next(f.kind for f in entity.fields if f.name == field)
        try:
            converted = kind.convert(value)
        except FieldError as exc:
            raise _fail(field, str(exc)) from None
        return entity.table.c[field] == converted
    return build


def _email(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(entity.table.c.email) == value.strip().lower()


def _updated_since(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
    try:
        since = DATETIME.convert(value)
    except FieldError as exc:
        raise _fail("updated_since", str(exc)) from None
    return entity.table.c.updated_at >= since


def _search(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
    pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cols = [entity.table.c[f] for f in SEARCHABLE if f in entity.field_names]
    return sa.or_(*(c.ilike(pattern, escape="\\") for c in cols))


def builders(entity: Entity) -> dict[str, Builder]:
    """Every filter the entity's list accepts, by query-parameter name."""
    found: dict[str, Builder] = {
        "external_system": _equals("external_system"),
        "external_id": _equals("external_id"),
        "updated_since": _updated_since,
        "q": _search,
    }
    for ref in entity.references:
        if ref.target == "*":
            found["record_type"] = _record_type
            found[ref.column] = _uuid_ref(ref.column, ref.column)
            continue
        found[ref.column] = _uuid_ref(ref.column, ref.column)
        found[ref.public_field] = _public_ref(ref.target, ref.column)
    if "email" in entity.field_names:
        found["email"] = _email
    for field in EQUALITY:
        if field in entity.field_names:
            found[field] = _field_equals(field)
    if entity.name == "opportunity":
        found["pipeline_id"] = _uuid_or_public("pipeline_id", pipelines, "pipeline_id")
        found["pipeline_stage_id"] = _uuid_or_public("pipeline_stage_id", stages,
                                                     "pipeline_stage_id")
    return found


def _record_type(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
    if value not in RECORD_TYPES:
        raise _fail("record_type", "must be one of: " + ", ".join(RECORD_TYPES))
    return entity.table.c.record_type == value


def allowed_params(entity: Entity) -> tuple[str, ...]:
    extra = ("record_public_id",) if entity.name == "activity" else ()
    return (*PAGING, *builders(entity), *extra)


def conditions(entity: Entity, org: uuid.UUID, params: Mapping[str, Any]
               ) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions for the filters present; unknown parameters are a 422 naming them."""
    unknown = sorted(set(params) - set(allowed_params(entity)))
    if unknown:
        raise ValidationFailed("Unknown query parameters",
                               {name: ["is not a filter of this list"] for name in unknown})
    found = builders(entity)
    conds = [found[name](entity, org, value) for name, value in params.items()
             if name in found and value != ""]
    if params.get("record_public_id"):
        conds.append(_record_public(entity, org, params["record_public_id"],
                                    params.get("record_type") or None))
    return conds


def parse_bool(name: str, raw: str | None) -> bool:
    if raw in (None, "", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise _fail(name, "must be true or false")
