"""Marshmallow schemas for record bodies, derived from shared/entities.py.

Each value goes through its Kind's converter (shared/fields.py), so the API and the bundle
validator accept and reject exactly the same values. References are accepted as
`<ref>_public_id` or `<ref>_id` (uuid); resolving them against the database is the services' job.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import marshmallow as ma

from shared.entities import COMMON_FIELDS, PLACEMENT_IDS, STAGE_NAME, Entity
from shared.errors import ValidationFailed
from shared.fields import FieldError, Kind, text_problem

# Client-supplied public_ids come from other systems too (an imported row keeps its id), so the
# entity prefix is not required; the charset keeps them safe in URLs and logs.
PUBLIC_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

READ_ONLY = ("id", "organization_id", "created_at", "updated_at", "deleted_at")
# Derived on output, never written by a client.
DERIVED = (STAGE_NAME,)


def convert_public_id(value: Any) -> str:
    if not isinstance(value, str) or not PUBLIC_ID_RE.fullmatch(value):
        raise FieldError("must be 1 to 64 characters of A-Z a-z 0-9 _ . : -")
    return value


def _convert_ref(value: Any) -> str:
    """A reference value: a uuid or a public_id (both are strings on the wire)."""
    if (not isinstance(value, str) or not 1 <= len(value) <= 64
            or text_problem(value) is not None):  # looked up in Postgres: must be encodable
        raise FieldError("must be a uuid or a public_id")
    return value


class KindField(ma.fields.Field):
    """A marshmallow field whose validation is the Kind's converter."""

    def __init__(self, convert, **kwargs) -> None:
        super().__init__(**kwargs)
        self.convert = convert

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.convert(value)
        except FieldError as exc:
            raise ma.ValidationError(str(exc)) from exc


def _field(kind: Kind, *, required: bool, nullable: bool) -> KindField:
    return KindField(kind.convert, required=required, allow_none=nullable)


def reference_keys(entity: Entity) -> dict[str, tuple[str, str]]:
    """Wire key -> (reference name, "public" | "uuid")."""
    keys: dict[str, tuple[str, str]] = {}
    for ref in entity.references:
        keys[ref.public_field] = (ref.name, "public")
        keys[ref.column] = (ref.name, "uuid")
    return keys


def record_schema(entity: Entity, partial: bool) -> ma.Schema:
    """The body schema of POST (partial=False) or PATCH (partial=True) for one entity."""
    key = (entity.name, partial)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _build_schema(entity, partial)
    return _SCHEMAS[key]


_SCHEMAS: dict[tuple[str, bool], ma.Schema] = {}


def _build_schema(entity: Entity, partial: bool) -> ma.Schema:
    declared: dict[str, ma.fields.Field] = {}
    for f in (*COMMON_FIELDS, *entity.fields):
        # A field with a default is NOT NULL in the table: null is refused, missing means default.
        # (custom_fields: null means {}, see records.py)
        nullable = not f.required and f.default is None
        declared[f.name] = _field(f.kind, required=f.required and not partial, nullable=nullable)
    for key in reference_keys(entity):
        declared[key] = KindField(_convert_ref, allow_none=True)
    for ref in entity.polymorphic_references:
        declared[ref.type_column] = KindField(_one_of(ref.record_types), allow_none=True)
    if entity.stage_placement:
        for key in PLACEMENT_IDS:
            declared[key] = KindField(_convert_ref, allow_none=False)
    if not partial:
        declared["public_id"] = KindField(convert_public_id, allow_none=True)
    schema_cls = ma.Schema.from_dict(declared, name=f"{entity.name}_{'patch' if partial else 'post'}")
    return schema_cls(unknown=ma.RAISE)


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices or not isinstance(value, str):
            raise FieldError("must be one of: " + ", ".join(choices))
        return value
    return convert


def load_record(entity: Entity, body: Any, *, partial: bool) -> dict[str, Any]:
    """Validate a POST/PATCH body; 422 naming every offending field (all of them at once)."""
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object", {"_body": ["must be an object"]})
    problems: dict[str, list[str]] = {}
    read_only = set(READ_ONLY) | set(DERIVED) | ({"public_id"} if partial else set())
    for key in body:
        if key in read_only:
            problems[key] = ["is read-only"]
    clean = {k: v for k, v in body.items() if k not in read_only}
    try:
        data = record_schema(entity, partial).load(clean, partial=partial)
    except ma.ValidationError as exc:
        for key, messages in exc.normalized_messages().items():
            if isinstance(messages, dict):  # pragma: no cover - schemas are flat
                messages = [str(messages)]
            problems[key] = [_friendly(m) for m in messages]
        data = {}
    if not problems:
        problems = _minimum_problems(entity, data, clean, partial)
    if problems:
        raise ValidationFailed("Invalid " + entity.name, problems)
    return data


# The least a record must say to be worth keeping, the same for the API and an import
# (shared/bundle/validate.py). Declared here rather than as `required` columns because a rule
# spans fields and the columns stay nullable for rows stored before it.
@dataclass(frozen=True)
class Minimum:
    field: str  # named in the error
    any_of: tuple[str, ...]  # at least one must be non-blank
    message: str
    # the fields are ways to give one value (a reference by public_id, uuid, external id or
    # lookup) rather than alternatives: blanking one that a body gives blanks the value
    one_value: bool = False


_NAME_OR_EMAIL = ("first_name", "last_name", "email")
MINIMUM: dict[str, tuple[Minimum, ...]] = {
    "contact": (Minimum("email", _NAME_OR_EMAIL, "is required when first_name and last_name "
                        "are empty (a contact needs a name or an email)"),),
    "lead": (Minimum("email", _NAME_OR_EMAIL, "is required when first_name and last_name "
                     "are empty (a lead needs a name or an email)"),),
    "activity": (
        Minimum("subject", ("subject",), "is required (an activity needs a subject)"),
        Minimum("record_public_id",
                ("record_public_id", "record_id", "record_external_id", "record_lookup"),
                "is required (an activity needs a record)", one_value=True)),
}


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def missing_minimum(entity_name: str, row: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for each rule of MINIMUM the row breaks; `row` holds the record's
    values (for an update: the stored row merged with the change)."""
    return [(rule.field, rule.message) for rule in MINIMUM.get(entity_name, ())
            if all(blank(row.get(f)) for f in rule.any_of)]


def _minimum_problems(entity: Entity, data: dict[str, Any], body: dict[str, Any],
                      partial: bool) -> dict[str, list[str]]:
    if not partial:
        return {name: [message] for name, message in missing_minimum(entity.name, data)}
    # An update sees only its body: refused when the body blanks what a rule needs (every
    # alternative, or the one value); anything less is for the stored row to tell.
    problems: dict[str, list[str]] = {}
    for rule in MINIMUM.get(entity.name, ()):
        given = [f for f in rule.any_of if f in body]
        if not given or not all(blank(data.get(f)) for f in given):
            continue
        if rule.one_value or len(given) == len(rule.any_of):
            problems[rule.field] = [rule.message]
    return problems


def _friendly(message: str) -> str:
    return {"Unknown field.": "is not a field of this resource",
            "Missing data for required field.": "is required",
            "Field may not be null.": "may not be null"}.get(message, message)
