"""The mapping document of `?source=csv`: which uploaded CSV file holds which entity, and how
its columns become bundle fields. The dashboard's mapping screen and our own CSV export write
the same document:

    {"version": 1, "external_system": "legacy", "unescape_formulas": false,
     "files": [{"file": "deals*.csv", "entity": "opportunities", "id_column": "id",
                "columns": {"id": "name", "value": "amount", "region": "custom_fields.region"},
                "references": {"account_public_id": {"column": "account", "by": "name"}},
                "values": {"status": {"column": "stage", "map": {"Won": "won"},
                                      "default": "open"}},
                "constants": {"currency": "USD"}, "date_format": "%d.%m.%Y",
                "unmapped": "custom_fields", "types": {"extra": "json"}}]}

`parse_mapping` checks everything it can without the files' contents and raises MappingInvalid
listing every problem at once (each {"path": "files[1].columns.sector", "message": ...}), so a
user fixes a mapping in one round. `check_headers` adds what needs the header lines: a column
named by `id_column`, `references`, `values` or `types` that a matched file does not have.
How a record becomes a row is in shared/interop/csv_rows.py.
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field, replace
from typing import Any

from shared.entities import ANY, BY_NAME, BY_PLURAL
from shared.interop.csv_fields import (
    LOOKUP_TARGETS,
    REFERENCE_BY,
    Problems,
    check_field,
    reference_fields,
)
from shared.interop.csv_headers import MAPPING_FILE, check_headers, is_mapping_file

__all__ = ["MAPPING_FILE", "FileSpec", "Mapping", "MappingInvalid", "ReferenceSpec", "ValueSpec",
           "check_headers", "parse_mapping"]

COLUMN_TYPES = ("json",)
UNMAPPED = ("custom_fields", "ignore")
_TOP_KEYS = {"version", "external_system", "files", "unescape_formulas"}
_FILE_KEYS = {"file", "entity", "id_column", "columns", "references", "values", "constants",
              "date_format", "unmapped", "types"}


class MappingInvalid(Exception):
    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path'] or '(mapping)'}: {p['message']}"
                                   for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ReferenceSpec:
    ref: str  # the reference's name: account, parent_account, contact, record
    column: str
    by: str  # external_id | public_id | name | email | domain
    record_type: str | None = None  # activities: the singular entity of the record
    entity_column: str | None = None  # activities: a column holding each row's record type


@dataclass(frozen=True)
class ValueSpec:
    field: str
    column: str
    map: dict[str, Any]
    default: Any = None


@dataclass(frozen=True)
class FileSpec:
    index: int
    pattern: str
    entity: str  # plural
    id_column: str | None = None
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    references: tuple[ReferenceSpec, ...] = ()
    values: tuple[ValueSpec, ...] = ()
    constants: dict[str, Any] = field(default_factory=dict)
    date_format: str | None = None
    ignore_unmapped: bool = False
    types: dict[str, str] = field(default_factory=dict)

    def matches(self, name: str) -> bool:
        """The pattern against the upload's name, or against its base name when the pattern
        names no folder (a zip often wraps its files in one)."""
        if fnmatch.fnmatchcase(name, self.pattern):
            return True
        return "/" not in self.pattern and fnmatch.fnmatchcase(name.rsplit("/", 1)[-1],
                                                               self.pattern)

    def named_columns(self) -> list[tuple[str, str]]:
        """(path, column) of every column this entry needs in the file's header."""
        named = [(f"files[{self.index}].id_column", self.id_column)] if self.id_column else []
        named += [(f"files[{self.index}].references.{_public(r)}.column", r.column)
                  for r in self.references]
        named += [(f"files[{self.index}].values.{v.field}.column", v.column) for v in self.values]
        named += [(f"files[{self.index}].types.{c}", c) for c in self.types]
        return named


@dataclass(frozen=True)
class Mapping:
    external_system: str | None
    files: tuple[FileSpec, ...]
    unescape_formulas: bool = False

    def entries_for(self, name: str) -> list[FileSpec]:
        return [f for f in self.files if f.matches(name)]


def _public(ref: ReferenceSpec) -> str:
    return f"{ref.ref}_public_id"


def parse_mapping(raw: bytes | str | dict, file_names: list[str] | None = None) -> Mapping:
    """The mapping, or MappingInvalid with every problem found. With `file_names`, a `file`
    pattern matching none of them is a problem too."""
    problems = Problems()
    doc = raw
    if isinstance(raw, bytes | str):
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise MappingInvalid([{"path": "", "message": f"not valid JSON: {exc}"}]) from exc
    if not isinstance(doc, dict):
        raise MappingInvalid([{"path": "", "message": "must be a JSON object"}])
    problems.unknown_keys(doc, _TOP_KEYS, "")
    if type(doc.get("version")) is not int or doc["version"] != 1:  # true == 1 in Python
        problems.add("version", f"must be 1, not {doc.get('version')!r}")
    system = doc.get("external_system")
    if system is not None and (not isinstance(system, str) or not system.strip()
                               or len(system) > 255):
        problems.add("external_system", "must be a non-empty string of at most 255 characters")
        system = None
    unescape = doc.get("unescape_formulas", False)
    if not isinstance(unescape, bool):
        problems.add("unescape_formulas", "must be true or false")
    entries = doc.get("files")
    specs: list[FileSpec] = []
    if not isinstance(entries, list) or not entries:
        problems.add("files", "must be a non-empty list of file entries")
    else:
        for index, entry in enumerate(entries):
            spec = _file_spec(entry, index, file_names, problems)
            if spec is not None:
                specs.append(spec)
    if problems:
        raise MappingInvalid(problems.items)
    return Mapping(system, tuple(specs), unescape is True)


def _file_spec(entry: Any, index: int, file_names: list[str] | None, problems: Problems
               ) -> FileSpec | None:
    at = f"files[{index}]"
    if not isinstance(entry, dict):
        problems.add(at, "must be an object")
        return None
    problems.unknown_keys(entry, _FILE_KEYS, at)
    pattern = entry.get("file")
    if not isinstance(pattern, str) or not pattern.strip():
        problems.add(f"{at}.file", "must be a file name or a glob pattern")
        pattern = None
    entity = BY_PLURAL.get(entry.get("entity")) if isinstance(entry.get("entity"), str) else None
    if entity is None:
        problems.add(f"{at}.entity", f"unknown entity {entry.get('entity')!r}; one of: "
                     + ", ".join(BY_PLURAL))
    spec = FileSpec(index, pattern or "", entity.plural if entity else "",
                    id_column=_optional_text(entry, "id_column", at, problems),
                    date_format=_optional_text(entry, "date_format", at, problems),
                    ignore_unmapped=_unmapped(entry, at, problems),
                    types=_types(entry.get("types"), f"{at}.types", problems))
    if pattern and file_names is not None and not any(
            spec.matches(n) for n in file_names if not is_mapping_file(n)):
        problems.add(f"{at}.file", f"{pattern!r} matches none of the uploaded files")
    if entity is None:
        return None
    return replace(spec, columns=_columns(entry.get("columns"), entity, at, problems),
                   references=_references(entry.get("references"), entity, at, problems),
                   values=_values(entry.get("values"), entity, at, problems),
                   constants=_constants(entry.get("constants"), entity, at, problems))


def _optional_text(entry: dict, key: str, at: str, problems: Problems) -> str | None:
    value = entry.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        problems.add(f"{at}.{key}", "must be a non-empty string")
        return None
    return value


def _unmapped(entry: dict, at: str, problems: Problems) -> bool:
    value = entry.get("unmapped", "custom_fields")
    if value not in UNMAPPED:
        problems.add(f"{at}.unmapped", "must be one of: " + ", ".join(UNMAPPED))
    return value == "ignore"


def _object(value: Any, path: str, problems: Problems) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "must be an object")
        return {}
    return value


def _types(raw: Any, path: str, problems: Problems) -> dict[str, str]:
    types = _object(raw, path, problems)
    for column, kind in types.items():
        if kind not in COLUMN_TYPES:
            problems.add(f"{path}.{column}", f"unknown type {kind!r}; one of: "
                         + ", ".join(COLUMN_TYPES))
    return {c: t for c, t in types.items() if t in COLUMN_TYPES}


def _columns(raw: Any, entity, at: str, problems: Problems) -> dict[str, tuple[str, ...]]:
    columns: dict[str, tuple[str, ...]] = {}
    for column, target in _object(raw, f"{at}.columns", problems).items():
        path = f"{at}.columns.{column}"
        targets = target if isinstance(target, list) else [target]
        if not targets or not all(isinstance(t, str) for t in targets):
            problems.add(path, "must be a field name, a list of field names or "
                         "custom_fields.<key>")
            continue
        if all(check_field(entity, t, path, problems) for t in targets):
            columns[column] = tuple(targets)
    return columns


def _references(raw: Any, entity, at: str, problems: Problems) -> tuple[ReferenceSpec, ...]:
    known = reference_fields(entity)
    specs: list[ReferenceSpec] = []
    for public_field, spec in _object(raw, f"{at}.references", problems).items():
        path = f"{at}.references.{public_field}"
        if public_field not in known:
            problems.add(path, f"{entity.plural} have no reference {public_field!r}; "
                         + ("one of: " + ", ".join(known) if known else "they have none"))
            continue
        if not isinstance(spec, dict):
            problems.add(path, "must be an object with a column")
            continue
        problems.unknown_keys(spec, {"column", "by", "entity", "entity_column"}, path)
        column, by = spec.get("column"), spec.get("by", "external_id")
        if not isinstance(column, str) or not column:
            problems.add(f"{path}.column", "must name a column")
        target = known[public_field]
        record_type = None
        entity_column = spec.get("entity_column")
        ref = next(r for r in entity.references if r.public_field == public_field)
        if ref.polymorphic and "entity" not in spec and isinstance(entity_column, str) \
                and entity_column:
            pass  # each row names its record's entity in entity_column
        elif ref.polymorphic:
            entity_column = None
            named = spec.get("entity")
            target_entity = BY_PLURAL.get(named) if isinstance(named, str) else None
            if target_entity is None or target_entity.name not in ref.record_types:
                problems.add(f"{path}.entity", "must name the record's entity: "
                             + ", ".join(BY_NAME[t].plural for t in ref.record_types))
            else:
                target, record_type = target_entity.plural, target_entity.name
        elif "entity" in spec and spec["entity"] != target:
            problems.add(f"{path}.entity", f"{public_field} always names {target}")
        if by not in REFERENCE_BY:
            problems.add(f"{path}.by", f"unknown {by!r}; one of: " + ", ".join(REFERENCE_BY))
        elif target != ANY and by in LOOKUP_TARGETS and target not in LOOKUP_TARGETS[by]:
            problems.add(f"{path}.by", f"{target} cannot be found by {by}; "
                         f"{by} finds " + " or ".join(LOOKUP_TARGETS[by]))
        if isinstance(column, str) and column:
            specs.append(ReferenceSpec(public_field.removesuffix("_public_id"), column,
                                       by if by in REFERENCE_BY else "external_id",
                                       record_type, entity_column or None))
    return tuple(specs)


def _values(raw: Any, entity, at: str, problems: Problems) -> tuple[ValueSpec, ...]:
    specs: list[ValueSpec] = []
    for field_name, spec in _object(raw, f"{at}.values", problems).items():
        path = f"{at}.values.{field_name}"
        if not check_field(entity, field_name, path, problems):
            continue
        if not isinstance(spec, dict):
            problems.add(path, "must be an object with a column and a map")
            continue
        problems.unknown_keys(spec, {"column", "map", "default"}, path)
        column, value_map = spec.get("column"), spec.get("map", {})
        if not isinstance(column, str) or not column:
            problems.add(f"{path}.column", "must name a column")
        if not isinstance(value_map, dict):
            problems.add(f"{path}.map", "must be an object of cell → value")
        elif isinstance(column, str) and column:
            specs.append(ValueSpec(field_name, column, value_map, spec.get("default")))
    return tuple(specs)


def _constants(raw: Any, entity, at: str, problems: Problems) -> dict[str, Any]:
    constants = _object(raw, f"{at}.constants", problems)
    return {name: value for name, value in constants.items()
            if check_field(entity, name, f"{at}.constants.{name}", problems)}
