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
from shared.entities import (
    ANY,
    BY_NAME,
    COMMON_FIELDS,
    ENTITIES,
    PLACEMENT_IDS,
    STAGE_NAME,
    TIMESTAMP_FIELDS,
    Entity,
    Reference,
)
from shared.ids import parse_uuid
from shared.interop.source import ORIGIN, ROW_ERROR
from shared.schemas import MINIMUM, PUBLIC_ID_RE, blank

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
    # the row's own (external_system, external_id) when it came without a public_id: a stored
    # live row with the pair lends its public_id (apply.adopt_stored_identity)
    external_key: tuple[str, str] | None = None
    # references given by external id or looked up by name / email / domain, turned into
    # public_ids before resolution (shared.bundle.external_refs)
    indirect: dict[str, IndirectRef] = field(default_factory=dict)
    origin: dict[str, Any] | None = None  # where a converted row came from (file, row)


@dataclass(frozen=True)
class IndirectRef:
    by: str  # external_id | name | email | domain
    value: str
    system: str | None = None  # for external_id: the target's external_system

    def describe(self) -> str:
        if self.by == "external_id":
            return f"external_id {self.value!r} ({self.system})"
        return f"{self.by} {self.value!r}"


# What a reference may be looked up by, per target entity (each has a live index).
LOOKUPS = {e.name: e.lookup_fields for e in ENTITIES if e.lookup_fields}


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
        # the API's minimal fields (shared.schemas.MINIMUM); a reference rule is checked on
        # the candidate (its target may come by public_id, external id or lookup)
        self.minimum = [(rule.field, rule.any_of, rule.message)
                        for rule in MINIMUM.get(entity.name, ()) if not rule.one_value]
        self.minimum_refs = [(rule.field, rule.any_of[0].removesuffix("_public_id"),
                              rule.message)
                             for rule in MINIMUM.get(entity.name, ()) if rule.one_value]

    def validate(self, raw: Any, index: int, organization_id: uuid.UUID
                 ) -> tuple[Candidate | None, list[dict]]:
        entity = self.entity
        if not isinstance(raw, dict):
            return None, [row_error(entity, index, None, None, "row must be a JSON object")]
        if REJECTED in raw:  # the spool could not keep the row (nested too deeply)
            return None, [row_error(entity, index, raw.get("public_id"), None,
                                    str(raw[REJECTED]), code="too_deep")]
        if ROW_ERROR in raw:  # a converter could not make a row of this record
            problem = raw[ROW_ERROR] if isinstance(raw[ROW_ERROR], dict) else {}
            return None, [row_error(entity, index, raw.get("public_id"), problem.get("field"),
                                    str(problem.get("message") or "cannot be converted"),
                                    code=str(problem.get("code") or "invalid"))]
        origin = None
        if ORIGIN in raw:
            origin = raw[ORIGIN] if isinstance(raw[ORIGIN], dict) else None
            raw = {key: value for key, value in raw.items() if key != ORIGIN}
        errors: list[dict] = []
        public_id = raw.get("public_id")
        external_key = None
        if public_id is None or public_id == "":
            public_id = minted_public_id(entity, organization_id, raw)
            system, external_id = raw.get("external_system"), raw.get("external_id")
            if (isinstance(system, str) and isinstance(external_id, str) and system
                    and external_id and not _bad_public_id(system)
                    and not _bad_public_id(external_id)):
                external_key = (system, external_id)
        elif not isinstance(public_id, str) or not PUBLIC_ID_RE.fullmatch(public_id):
            # the API's rule: a row's own id is as safe in URLs, logs and CSV cells whichever
            # way the row arrived (references are only looked up, so stay lenient)
            errors.append(row_error(entity, index, None, "public_id",
                                    "must be 1 to 64 characters of A-Z a-z 0-9 _ . : -"))
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
        candidate = Candidate(index, public_id, values, external_key=external_key,
                              origin=origin)
        for ref in entity.references:
            target = raw.get(ref.public_field)
            if target is None or target == "":
                candidate.refs[ref.name] = None
                indirect, problem = _indirect(raw, ref.name, values.get("external_system"))
                if problem is not None:
                    errors.append(row_error(entity, index, public_id, problem[0], problem[1]))
                elif indirect is not None:
                    candidate.indirect[ref.name] = indirect
            elif _bad_public_id(target):
                # checked here: a NUL in a lookup would fail the whole batch in the database
                errors.append(row_error(entity, index, public_id, ref.public_field,
                                        "must be a public_id string"))
            else:
                candidate.refs[ref.name] = target
        for ref in entity.polymorphic_references:
            self._record_type(raw, candidate, errors, ref)
        for name, any_of, message in self.minimum:
            if all(blank(values.get(f)) for f in any_of):
                errors.append(row_error(entity, index, public_id, name, message))
        for name, ref_name, message in self.minimum_refs:
            if (candidate.refs.get(ref_name) is None and ref_name not in candidate.indirect
                    and not any(e["field"] == name for e in errors)):
                errors.append(row_error(entity, index, public_id, name, message))
        if entity.stage_placement:
            name = raw.get(STAGE_NAME)
            if name is not None and not isinstance(name, str):
                errors.append(row_error(entity, index, public_id, STAGE_NAME,
                                        "must be a string"))
                name = None
            pipeline_id, stage_id = (parse_uuid(raw.get(k)) for k in PLACEMENT_IDS)
            candidate.stage = (pipeline_id, stage_id, name)
        return (None if errors else candidate), errors

    def _record_type(self, raw: dict, candidate: Candidate, errors: list[dict],
                     ref: Reference) -> None:
        """The entity a polymorphic reference names (its type column) must come with a
        target, and be one of the reference's record types."""
        entity, index, public_id = self.entity, candidate.index, candidate.public_id
        record_type = raw.get(ref.type_column)
        has_target = (candidate.refs.get(ref.name) is not None
                      or candidate.indirect.get(ref.name) is not None)
        if record_type is None or record_type == "":
            if has_target:
                errors.append(row_error(entity, index, public_id, ref.type_column,
                                        f"is required with {ref.public_field}"))
            return
        if record_type not in ref.record_types:
            errors.append(row_error(entity, index, public_id, ref.type_column,
                                    "must be one of: " + ", ".join(ref.record_types)))
            return
        if not has_target:
            errors.append(row_error(entity, index, public_id, ref.public_field,
                                    f"is required with {ref.type_column}"))
            return
        indirect = candidate.indirect.get(ref.name)
        if (indirect is not None and indirect.by != "external_id"
                and indirect.by not in BY_NAME[record_type].lookup_fields):
            errors.append(row_error(entity, index, public_id, f"{ref.name}_lookup",
                                    f"a {record_type} cannot be found by {indirect.by}"))
            return
        candidate.record_type = record_type


def _indirect(raw: dict, name: str, own_system: str | None
              ) -> tuple[IndirectRef | None, tuple[str, str] | None]:
    """A reference given as `<name>_external_id` (+ `<name>_external_system`) or
    `<name>_lookup` {"by", "value"}; returns (reference, None) or (None, (field, problem))."""
    external_id = raw.get(f"{name}_external_id")
    if external_id is not None and external_id != "":
        system = raw.get(f"{name}_external_system") or own_system
        if _bad_public_id(external_id):
            return None, (f"{name}_external_id", "must be a string of at most "
                          f"{MAX_PUBLIC_ID} characters")
        if not isinstance(system, str) or _bad_public_id(system):
            return None, (f"{name}_external_system", "is required with "
                          f"{name}_external_id when the row has no external_system")
        return IndirectRef("external_id", external_id, system), None
    lookup = raw.get(f"{name}_lookup")
    if lookup is None:
        return None, None
    field_name = f"{name}_lookup"
    if not isinstance(lookup, dict) or set(lookup) - {"by", "value"}:
        return None, (field_name, 'must be an object {"by": ..., "value": ...}')
    by, value = lookup.get("by"), lookup.get("value")
    if by not in ("name", "email", "domain"):
        return None, (field_name, "by must be name, email or domain")
    if value is None or value == "":
        return None, None
    if _bad_public_id(value):
        return None, (field_name, f"value must be a string of at most {MAX_PUBLIC_ID} "
                      "characters")
    target = next((r.target for e in BY_NAME.values() for r in e.references if r.name == name),
                  None)
    if target is not None and target != ANY and by not in BY_NAME[target].lookup_fields:
        return None, (field_name, f"a {target} cannot be found by {by}")
    return IndirectRef(by, value.strip()), None


_validators: dict[str, RowValidator] = {}


def validator_for(entity: Entity) -> RowValidator:
    found = _validators.get(entity.name)
    if found is None:
        found = _validators[entity.name] = RowValidator(entity)
    return found
