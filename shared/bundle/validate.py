"""Compiled per-entity row validators for bundle rows, driven by shared.entities.

One plain function call per row and one converter call per present value: no schema objects per
row, so validation stays far cheaper than the write.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared import fields as k
from shared import jsontext
from shared.bundle.spool import REJECTED
from shared.entities import COMMON_FIELDS, RECORD_TYPES, TIMESTAMP_FIELDS, Entity
from shared.ids import parse_uuid

MAX_PUBLIC_ID = 255
_CONVERT_TIMESTAMP = k.DATETIME.convert


@dataclass
class Candidate:
    """A row that passed field validation; references still to be resolved."""

    index: int
    public_id: str
    values: dict[str, Any]
    refs: dict[str, str | None] = field(default_factory=dict)
    record_type: str | None = None
    stage: tuple[uuid.UUID | None, uuid.UUID | None, str | None] | None = None


def _bad_public_id(value: Any) -> bool:
    """A public_id (own or referenced) Postgres can compare: a short string it can encode."""
    return (not isinstance(value, str) or len(value) > MAX_PUBLIC_ID
            or k.text_problem(value) is not None)


def row_error(entity: Entity, index: int, public_id: Any, fld: str | None, message: str,
              code: str = "invalid") -> dict:
    return {"entity": entity.plural, "index": index,
            "public_id": public_id if isinstance(public_id, str) else None,
            "field": fld, "code": code, "message": message}


def minted_public_id(entity: Entity, organization_id: uuid.UUID, raw: dict) -> str:
    """A deterministic public_id for a row that came without one, so a re-import of the same
    bundle finds the same row: from (external_system, external_id) when present, else from the
    row's canonical JSON."""
    if isinstance(raw.get("external_id"), str) and raw["external_id"]:
        basis = f"ext\x00{raw.get('external_system') or ''}\x00{raw['external_id']}".encode()
    else:
        basis = b"row\x00" + jsontext.dumps(raw, sort_keys=True)
    digest = hashlib.sha256(f"{organization_id}\x00{entity.name}\x00".encode() + basis)
    return f"{entity.prefix}_imp{digest.hexdigest()[:24]}"


class RowValidator:
    def __init__(self, entity: Entity) -> None:
        self.entity = entity
        self.specs = [(f.name, f.kind.convert, f.required, f.default)
                      for f in (*COMMON_FIELDS, *entity.fields)]

    def validate(self, raw: Any, index: int, organization_id: uuid.UUID
                 ) -> tuple[Candidate | None, list[dict]]:
        entity = self.entity
        if not isinstance(raw, dict):
            return None, [row_error(entity, index, None, None, "row must be a JSON object")]
        if REJECTED in raw:  # the spool could not keep the row (nested too deeply)
            return None, [row_error(entity, index, raw.get("public_id"), None,
                                    str(raw[REJECTED]), code="too_deep")]
        errors: list[dict] = []
        public_id = raw.get("public_id")
        if public_id is None or public_id == "":
            public_id = minted_public_id(entity, organization_id, raw)
        elif _bad_public_id(public_id):
            errors.append(row_error(entity, index, None, "public_id",
                                    f"must be a string of at most {MAX_PUBLIC_ID} characters "
                                    "without NUL or unpaired surrogate characters"))
            public_id = None
        values: dict[str, Any] = {}
        for name, convert, required, default in self.specs:
            value = raw.get(name)
            if value is None:
                if required:
                    errors.append(row_error(entity, index, public_id, name, "is required"))
                values[name] = default
                continue
            try:
                values[name] = convert(value)
            except k.FieldError as exc:
                errors.append(row_error(entity, index, public_id, name, str(exc)))
        if values.get("custom_fields") is None:
            values["custom_fields"] = {}
        for name in TIMESTAMP_FIELDS:
            value = raw.get(name)
            if value is None:
                values[name] = None
                continue
            try:
                values[name] = _CONVERT_TIMESTAMP(value)
            except k.FieldError as exc:
                errors.append(row_error(entity, index, public_id, name, str(exc)))
        candidate = Candidate(index, public_id, values)
        for ref in entity.references:
            target = raw.get(ref.public_field)
            if target is None or target == "":
                candidate.refs[ref.name] = None
            elif _bad_public_id(target):
                # checked here: a NUL in a lookup would fail the whole batch in the database
                errors.append(row_error(entity, index, public_id, ref.public_field,
                                        "must be a public_id string"))
            else:
                candidate.refs[ref.name] = target
        if entity.name == "activity":
            self._record_type(raw, candidate, errors)
        elif entity.name == "opportunity":
            name = raw.get("pipeline_stage_name")
            if name is not None and not isinstance(name, str):
                errors.append(row_error(entity, index, public_id, "pipeline_stage_name",
                                        "must be a string"))
                name = None
            candidate.stage = (parse_uuid(raw.get("pipeline_id")),
                               parse_uuid(raw.get("pipeline_stage_id")), name)
        return (None if errors else candidate), errors

    def _record_type(self, raw: dict, candidate: Candidate, errors: list[dict]) -> None:
        entity, index, public_id = self.entity, candidate.index, candidate.public_id
        record_type = raw.get("record_type")
        has_target = candidate.refs.get("record") is not None
        if record_type is None or record_type == "":
            if has_target:
                errors.append(row_error(entity, index, public_id, "record_type",
                                        "is required with record_public_id"))
            return
        if record_type not in RECORD_TYPES:
            errors.append(row_error(entity, index, public_id, "record_type",
                                    "must be one of: " + ", ".join(RECORD_TYPES)))
            return
        if not has_target:
            errors.append(row_error(entity, index, public_id, "record_public_id",
                                    "is required with record_type"))
            return
        candidate.record_type = record_type


_validators: dict[str, RowValidator] = {}


def validator_for(entity: Entity) -> RowValidator:
    found = _validators.get(entity.name)
    if found is None:
        found = _validators[entity.name] = RowValidator(entity)
    return found
