"""Query-string filters of the record lists, derived from each entity's fields and references."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from shared.entities import BY_NAME, Entity, Reference, pipelines, stages
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


def _typed_public(entity: Entity, org: uuid.UUID, ref: Reference, value: str,
                  record_type: str | None) -> sa.ColumnElement[bool]:
    """A polymorphic reference by public_id: the type filter says which entity to look in."""
    if record_type is None:
        raise _fail(ref.public_field, f"needs {ref.type_column}")
    t = BY_NAME[record_type].table
    return entity.table.c[ref.column] == sa.select(t.c.id).where(
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
        if ref.polymorphic:
            found[ref.type_column] = _one_of(ref.type_column, ref.record_types)
            found[ref.column] = _uuid_ref(ref.column, ref.column)
            continue
        found[ref.column] = _uuid_ref(ref.column, ref.column)
        found[ref.public_field] = _public_ref(ref.target, ref.column)
    if "email" in entity.field_names:
        found["email"] = _email
    for field in EQUALITY:
        if field in entity.field_names:
            found[field] = _field_equals(field)
    if entity.stage_placement:
        found["pipeline_id"] = _uuid_or_public("pipeline_id", pipelines, "pipeline_id")
        found["pipeline_stage_id"] = _uuid_or_public("pipeline_stage_id", stages,
                                                     "pipeline_stage_id")
    return found


def _one_of(column: str, choices: tuple[str, ...]) -> Builder:
    def build(entity: Entity, org: uuid.UUID, value: str) -> sa.ColumnElement[bool]:
        if value not in choices:
            raise _fail(column, "must be one of: " + ", ".join(choices))
        return entity.table.c[column] == value
    return build


def allowed_params(entity: Entity) -> tuple[str, ...]:
    # a polymorphic reference's public_id is no builder: it needs the type filter's value too
    typed = tuple(ref.public_field for ref in entity.polymorphic_references)
    return (*PAGING, *builders(entity), *typed)


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
    for ref in entity.polymorphic_references:
        if params.get(ref.public_field):
            conds.append(_typed_public(entity, org, ref, params[ref.public_field],
                                       params.get(ref.type_column) or None))
    return conds


def parse_bool(name: str, raw: str | None) -> bool:
    if raw in (None, "", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise _fail(name, "must be true or false")
