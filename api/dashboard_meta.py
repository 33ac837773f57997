"""What the dashboard's forms and tables need to know about each entity, derived from
shared.entities so a field added there shows up in the dashboard without touching it."""
from __future__ import annotations

from functools import cache
from typing import Any

from shared.entities import ANY, ENTITIES, Entity, Field
from shared.interop.csv_fields import LOOKUP_TARGETS, reference_fields, settable_fields
from shared.schemas import MINIMUM

# Sidebar order of the CRM section (people think accounts first, activities last).
SIDEBAR = ("accounts", "contacts", "leads", "opportunities", "activities")

# Columns a record list shows: the first few fields say enough to recognise a row.
LIST_COLUMNS = 4

_INPUT_TYPES = {"email": "email", "date": "date", "datetime": "datetime-local",
                "integer": "number", "count": "number", "decimal": "text", "object": "json"}


def _field(f: Field) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": f.name, "kind": f.kind.name, "required": f.required,
                            "input": _INPUT_TYPES.get(f.kind.name, "text")}
    if "enum" in f.kind.openapi:
        spec["input"] = "select"
        spec["choices"] = list(f.kind.openapi["enum"])
    if "maxLength" in f.kind.openapi:
        spec["max_length"] = f.kind.openapi["maxLength"]
        if f.kind.openapi["maxLength"] > 2048:
            spec["input"] = "textarea"
    if f.default is not None:
        spec["default"] = f.default
    return spec


def entity_meta(entity: Entity) -> dict[str, Any]:
    refs = [{"name": r.name, "target": r.target, "column": r.column, "public_field": r.public_field}
            for r in entity.references]
    fields = [_field(f) for f in entity.fields]
    record_types = [t for r in entity.polymorphic_references for t in r.record_types]
    shown = [f.name for f in entity.fields if f.name != "stage_position"]
    return {
        "name": entity.name,
        "plural": entity.plural,
        "label": entity.plural.capitalize(),
        "singular_label": entity.name.capitalize(),
        "fields": fields,
        "references": refs,
        "list_columns": shown[:LIST_COLUMNS],
        "record_types": record_types,
        # the least a record must say: the form marks or explains it before the API's 422
        "minimum": [{"field": r.field, "any_of": list(r.any_of), "one_value": r.one_value}
                    for r in MINIMUM.get(entity.name, ())],
    }


@cache
def all_meta() -> dict[str, dict[str, Any]]:
    return {e.plural: entity_meta(e) for e in ENTITIES}


@cache
def import_wizard_targets() -> dict[str, dict]:
    """What a CSV column may become, per entity, from the same rules the mapping is checked
    with (shared.interop.csv_fields), so the wizard never offers a target the API refuses."""
    targets = {}
    for entity in ENTITIES:
        refs = reference_fields(entity)
        targets[entity.plural] = {
            "fields": sorted(f for f in settable_fields(entity) if f not in refs),
            "references": [
                {"field": field, "target": target,
                 "by": ["external_id", "public_id",
                        *(by for by, plurals in LOOKUP_TARGETS.items()
                          if target == ANY or target in plurals)]}
                for field, target in refs.items()],
        }
    return targets
