"""What every converter shares: the upload's files, the rows it yields, what it reports.

A converter is a function `convert(files, report, options) -> Iterator[ConvertedRow]`. It reads
the files as streams (one row in memory at a time), yields bundle rows in any entity order (the
spool sorts them into per-entity files) and reports warnings and source stages on `report`.

Rows are bundle rows (docs/import-export.md) plus reference keys a bundle may also use:
- `<ref>_external_id` (+ optional `<ref>_external_system`, default: the row's own
  external_system): the referenced row is the one with that (external_system, external_id)
  pair, in the same upload or already stored.
- `<ref>_lookup`: `{"by": "name" | "email" | "domain", "value": "..."}`: the one row of the
  target entity with that name (accounts, opportunities), email (contacts, leads) or domain
  (accounts); none or several is a row error.
Activities name their record with `record_type` plus `record_public_id`,
`record_external_id` or `record_lookup`.
A row that cannot be converted is still yielded, carrying ROW_ERROR, so it is reported with its
index, file and row like any other bad row and the rest go on.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

# A converted row that could not be made: {"field": str | None, "code": str, "message": str}.
# A NUL cannot be part of a key a JSON upload stores usefully (jsonb refuses it), so this key
# never collides with a real field.
ROW_ERROR = "\x00error"
# Where a converted row came from: {"file": name, "row": n} (CSV, the row number a spreadsheet
# shows, header = 1) or {"file": name, "record": i, "referenceId": r} (JSON records).
ORIGIN = "\x00origin"

MAX_WARNINGS = 200
MAX_STAGES = 500
SOURCES = ("bundle", "salesforce", "hubspot", "csv")


class SourceFiles(Protocol):
    """The files of one upload (a zip's members, or the multipart parts)."""

    def names(self) -> list[str]:
        """Relative names, in upload order (directories excluded)."""
        ...

    def open(self, name: str) -> BinaryIO:
        """The file's bytes as a stream; the caller closes it."""
        ...


@dataclass
class ConvertedRow:
    entity: str  # plural: accounts, contacts, opportunities, leads, activities
    row: dict[str, Any]
    origin: dict[str, Any]


@dataclass
class SourceStage:
    name: str
    kind: str  # open | won | lost


class ConversionError(Exception):
    """The upload cannot be converted at all (no file of the source, a broken zip, a file that
    is not CSV): the job fails with this code and message before any row is written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Report:
    """What a conversion says besides rows: warnings (skipped files, objects, columns; stage
    fall-backs) and the source's stages in its own order (for ?create_stages=true)."""

    warnings: list[dict[str, Any]] = field(default_factory=list)
    stages: list[SourceStage] = field(default_factory=list)
    dropped_warnings: int = 0

    def warn(self, code: str, message: str, **where: Any) -> None:
        if len(self.warnings) >= MAX_WARNINGS:
            self.dropped_warnings += 1
            return
        self.warnings.append({"code": code, "message": message, **where})

    def stage(self, name: str, kind: str) -> None:
        """Record a source stage once (first meaning wins), in the order first seen."""
        key = name.strip().lower()
        if not key or len(self.stages) >= MAX_STAGES:
            return
        if any(s.name.strip().lower() == key for s in self.stages):
            return
        self.stages.append(SourceStage(name.strip(), kind))


Converter = Callable[[SourceFiles, Report, dict[str, Any]], Iterator[ConvertedRow]]


def row_error(row: dict[str, Any], field_name: str | None, code: str, message: str
              ) -> dict[str, Any]:
    """Mark a converted row as refused (it is still yielded, so it is reported)."""
    row[ROW_ERROR] = {"field": field_name, "code": code, "message": message}
    return row
