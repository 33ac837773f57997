"""One CSV record → one bundle row, following one entry of a CSV mapping.

A RowBuilder is made once per (file, mapping entry) with the file's header, so the per-record
work is a walk over precomputed (header, target) pairs. Order of precedence when several parts
of an entry set one field: columns, then value maps, then constants, then references.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.csv_safety import restore_cell
from shared.entities import BY_PLURAL
from shared.interop.csv_fields import CUSTOM_PREFIX
from shared.interop.csv_headers import HeaderIndex
from shared.interop.csv_values import MALFORMED_ROW, field_value
from shared.interop.csvfile import CsvRecord
from shared.interop.mapping import FileSpec, Mapping
from shared.interop.source import row_error

DEFAULT_SYSTEM = "csv"
_LOOKUP_BY = ("name", "email", "domain")


class RowBuilder:
    def __init__(self, mapping: Mapping, spec: FileSpec, index: HeaderIndex) -> None:
        self.spec = spec
        self.system = mapping.external_system or DEFAULT_SYSTEM
        self.read: Callable[[str], str] = _plain
        if mapping.unescape_formulas:
            # exactly the inverse of what our CSV export writes, so a round trip keeps cells
            self.read = restore_cell
        json_columns = {index.find(c) for c in spec.types}
        consumed: set[str] = set()
        self.columns: list[tuple[str, tuple[str, ...], bool]] = []
        for column, targets in spec.columns.items():
            header = index.find(column)
            if header is not None:  # an optional column this export left out
                self.columns.append((header, targets, header in json_columns))
                consumed.add(header)
        self.id_header = index.find(spec.id_column) if spec.id_column else None
        self.values = [(index.find(v.column), v.field, v.map,
                        {str(k).casefold(): m for k, m in v.map.items()}, v.default)
                       for v in spec.values]
        self.references = [(index.find(r.column), r,
                             index.find(r.entity_column) if r.entity_column else None)
                            for r in spec.references]
        consumed |= {self.id_header, *(v[0] for v in self.values),
                     *(h for h, _, _ in self.references)}
        self.unmapped = [] if spec.ignore_unmapped else [
            (h, h in json_columns) for h in index.header if h not in consumed]

    def build(self, record: CsvRecord) -> dict[str, Any]:
        cells, read = record.cells, self.read
        row: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for header, targets, is_json in self.columns:
            cell = read(cells.get(header, ""))
            if cell == "":
                continue
            value = self._decode(header, cell, targets[0], is_json, errors)
            for target in targets:
                if target.startswith(CUSTOM_PREFIX):
                    custom[target[len(CUSTOM_PREFIX):]] = value
                elif value is not _INVALID:
                    self._set(row, target, value, errors)
        for header, is_json in self.unmapped:
            cell = read(cells.get(header, ""))
            if cell != "":
                value = self._decode(header, cell, f"{CUSTOM_PREFIX}{header}", is_json, errors)
                custom[header] = value
        for header, field_name, exact, folded, default in self.values:
            cell = read(cells.get(header, "")) if header else ""
            value = exact[cell] if cell in exact else folded.get(cell.casefold(), default)
            if value is not None:
                row[field_name] = value
        for name, value in self.spec.constants.items():
            if name.startswith(CUSTOM_PREFIX):
                custom[name[len(CUSTOM_PREFIX):]] = value
            else:
                row[name] = value
        for header, ref, type_header in self.references:
            cell = read(cells.get(header, "")).strip() if header else ""
            if cell:
                _reference(row, ref.ref, ref.by, cell)
                if ref.record_type:
                    row["record_type"] = ref.record_type
                elif type_header:
                    row["record_type"] = _record_type(read(cells.get(type_header, "")))
        self._identify(row, cells)
        if custom:
            custom = {k: v for k, v in custom.items() if v is not _INVALID}
            row["custom_fields"] = custom
        if record.problem:
            return row_error(row, None, MALFORMED_ROW, record.problem)
        if errors:
            return row_error(row, errors[0][0], "invalid", errors[0][1])
        return row

    def _decode(self, header: str, cell: str, target: str, is_json: bool,
                errors: list[tuple[str, str]]) -> Any:
        if not is_json:
            return cell
        try:
            return json.loads(cell)
        except ValueError as exc:
            errors.append((target, f"column {header!r} is not valid JSON ({exc})"))
            return _INVALID

    def _set(self, row: dict[str, Any], target: str, value: Any,
             errors: list[tuple[str, str]]) -> None:
        if isinstance(value, str):
            try:
                value = field_value(target, value, self.spec.date_format)
            except ValueError as exc:
                errors.append((target, str(exc)))
                return
        row[target] = value

    def _identify(self, row: dict[str, Any], cells: dict[str, str]) -> None:
        """external_id from the id column unless a column set it; external_system: the row's
        own, else the mapping's, else "csv"."""
        if not row.get("external_id") and self.id_header:
            cell = self.read(cells.get(self.id_header, "")).strip()
            if cell:
                row["external_id"] = cell
        # a row without an external id has no identity in the other system to name
        if row.get("external_id") and not row.get("external_system"):
            row["external_system"] = self.system


SINGULAR = {plural: entity.name for plural, entity in BY_PLURAL.items()}


def _reference(row: dict[str, Any], ref: str, by: str, cell: str) -> None:
    if by == "external_id":
        row[f"{ref}_external_id"] = cell
    elif by == "public_id":
        row[f"{ref}_public_id"] = cell
    elif by in _LOOKUP_BY:
        row[f"{ref}_lookup"] = {"by": by, "value": cell}


def _record_type(cell: str) -> str | None:
    """A record type cell: the singular (contact) or the entity (contacts); the validator
    reports anything else."""
    value = cell.strip().lower()
    return SINGULAR.get(value, value) or None


def _plain(cell: str) -> str:
    return cell


class _Invalid:
    """A cell that could not be decoded; the row carries its error instead."""


_INVALID = _Invalid()
