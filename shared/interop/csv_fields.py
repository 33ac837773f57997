"""Which bundle fields a CSV mapping may set for an entity, derived from shared.entities so a
new field is mappable as soon as it is declared there."""
from __future__ import annotations

from typing import Any

from shared.entities import (
    ANY,
    BY_NAME,
    COMMON_FIELDS,
    ENTITIES,
    PLACEMENT_IDS,
    STAGE_NAME,
    TIMESTAMP_FIELDS,
    Entity,
)

CUSTOM_PREFIX = "custom_fields."
REFERENCE_BY = ("external_id", "public_id", "name", "email", "domain")
# The entities a `<ref>_lookup` can search by each key (see shared/interop/source.py).
LOOKUP_TARGETS = {by: tuple(e.plural for e in ENTITIES if by in e.lookup_fields)
                  for by in ("name", "email", "domain")}


class Problems:
    """Collects mapping problems as {"path", "message"}."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append({"path": path, "message": message})

    def unknown_keys(self, obj: dict[str, Any], known: set[str], at: str) -> None:
        for key in obj:
            if key not in known:
                self.add(f"{at}.{key}" if at else key,
                         "unknown key; known: " + ", ".join(sorted(known)))

    def __bool__(self) -> bool:
        return bool(self.items)


def settable_fields(entity: Entity) -> frozenset[str]:
    """Fields a column, value map or constant may set (custom_fields.<key> aside)."""
    names = {"public_id", *TIMESTAMP_FIELDS, *entity.field_names,
             *(f.name for f in COMMON_FIELDS if f.name != "custom_fields"),
             *(r.public_field for r in entity.references)}
    names |= {r.type_column for r in entity.polymorphic_references}
    if entity.stage_placement:
        names |= {*PLACEMENT_IDS, STAGE_NAME}
    return frozenset(names)


def reference_fields(entity: Entity) -> dict[str, str]:
    """`<ref>_public_id` → the plural it points at (ANY for a polymorphic reference)."""
    return {r.public_field: ANY if r.polymorphic else BY_NAME[r.target].plural
            for r in entity.references}


def check_field(entity: Entity, target: str, path: str, problems: Problems) -> bool:
    if target.startswith(CUSTOM_PREFIX):
        if target == CUSTOM_PREFIX:
            problems.add(path, "custom_fields.<key> needs a key")
            return False
        return True
    if target not in settable_fields(entity):
        hint = " (use custom_fields.<key> for a custom field)" if target == "custom_fields" \
            else ""
        problems.add(path, f"{entity.plural} have no field {target!r}{hint}")
        return False
    return True
