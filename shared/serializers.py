"""Row mapping -> JSON-ready dict, for the API and the bundle export alike.

The mapping is a row of `record_query.record_select(entity)` (or anything with the same keys):
the table's columns plus `<ref>_public_id` for each reference (and the stage's name for an
entity with a stage placement). The key plan is computed once per entity, so serializing is a loop over tuples.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.entities import ENTITIES, PLACEMENT_IDS, STAGE_NAME, Entity


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool, dict, list)):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def bundle_keys(entity: Entity) -> tuple[str, ...]:
    """The keys of a bundle row, in output order (docs/architecture.md, "Bundle format")."""
    keys = ["public_id", *entity.field_names]
    for ref in entity.references:
        if ref.polymorphic:
            keys.append(ref.type_column)
        keys.append(ref.public_field)
    if entity.stage_placement:
        keys += [*PLACEMENT_IDS, STAGE_NAME]
    keys += ["external_system", "external_id", "custom_fields",
             "created_at", "updated_at", "deleted_at"]
    return tuple(keys)


def api_keys(entity: Entity) -> tuple[str, ...]:
    """API row = `id` + bundle row + the references' uuids and names (`<ref>_name`, read-only:
    what a person reads; the bundle keeps only ids, so imports never depend on names)."""
    keys = list(bundle_keys(entity))
    for ref in entity.references:
        at = keys.index(ref.public_field) + 1
        keys[at:at] = [ref.column, f"{ref.name}_name"]
    return ("id", *keys)


def _serializer(keys: tuple[str, ...]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def serialize(row: Mapping[str, Any]) -> dict[str, Any]:
        return {key: _json_value(row[key]) for key in keys}
    return serialize


# Entities hold dicts (unhashable), so the plans are keyed by entity name.
_BUNDLE = {e.name: _serializer(bundle_keys(e)) for e in ENTITIES}
_API = {e.name: _serializer(api_keys(e)) for e in ENTITIES}


def bundle_serializer(entity: Entity) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return _BUNDLE[entity.name]


def api_serializer(entity: Entity) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return _API[entity.name]


def bundle_row(entity: Entity, row: Mapping[str, Any]) -> dict[str, Any]:
    return bundle_serializer(entity)(row)


def api_row(entity: Entity, row: Mapping[str, Any]) -> dict[str, Any]:
    return api_serializer(entity)(row)


def json_value(value: Any) -> Any:
    """One value in its JSON form (used by the change log and other serializers)."""
    return _json_value(value)
