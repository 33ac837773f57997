"""sObject tree exports (`sf data export tree`): JSON files `{"records": [...]}` whose records
carry `attributes.type` and `attributes.referenceId`, refer to each other with "@referenceId"
values, and may nest child records (`"Contacts": {"records": [...]}`).

A plan file (data-plan.json, Account-Contact-plan.json) names the files and their order; files it
does not name are skipped with a warning. Without a plan, every JSON file is read in name order.
Files are streamed record by record with ijson; a top-level record (with its nested children) is
the most held in memory.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

import ijson

from shared.interop.salesforce_bulk import STAGE_OBJECT
from shared.interop.salesforce_fields import ENTITY_OF, Parent, build_row
from shared.interop.salesforce_ids import to_18
from shared.interop.salesforce_stages import StageMeanings
from shared.interop.source import ConversionError, ConvertedRow, Report, SourceFiles

_PLAN_NAME = re.compile(r"(?:^|[-_])plan\.json$", re.IGNORECASE)
_KNOWN = {name.lower(): name for name in (*ENTITY_OF, STAGE_OBJECT)}
# The lookup a nested child gets from its enclosing record (Account > Contacts: AccountId).
PARENT_FIELD = {
    ("Account", "Account"): "ParentId", ("Account", "Contact"): "AccountId",
    ("Account", "Opportunity"): "AccountId", ("Contact", "Opportunity"): "ContactId",
    **{(parent, child): "WhatId" for parent in ("Account", "Opportunity")
       for child in ("Task", "Event")},
    **{(parent, child): "WhoId" for parent in ("Contact", "Lead") for child in ("Task", "Event")},
}
MAX_NESTING = 5
MAX_WARNED = 100  # distinct warnings per file: a hostile file may name a new type per record


def is_plan(name: str) -> bool:
    return bool(_PLAN_NAME.search(posixpath.basename(name)))


def canonical_object(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _KNOWN.get(value.strip().lower(), value.strip())


def plan_tree(files: SourceFiles, names: list[str], report: Report
              ) -> list[tuple[str, str | None]]:
    """(file, object named by the plan or None) for every tree file to read, OpportunityStage
    files first."""
    plans = [name for name in names if is_plan(name)]
    if not plans:
        planned: list[tuple[str, str | None]] = [(name, None) for name in sorted(names)]
    else:
        planned = []
        by_lower = {name.lower(): name for name in names}
        for plan in plans:
            for sobject, file in _plan_entries(files, plan, report):
                name = by_lower.get(posixpath.normpath(
                    posixpath.join(posixpath.dirname(plan), file)).lower())
                if name is None:
                    report.warn("missing_file", f"{plan} names {file}, which is not in the upload",
                                file=file)
                elif sobject not in ENTITY_OF and sobject != STAGE_OBJECT:
                    report.warn("skipped_object", f"{name}: {sobject} records are not imported",
                                file=name, object=sobject)
                elif all(name != seen for seen, _ in planned):
                    planned.append((name, sobject))
        named = {name for name, _ in planned}
        for name in names:
            if name not in named and not is_plan(name):
                report.warn("skipped_file", f"{name}: not named by the plan file, not read",
                            file=name)
    return sorted(planned, key=lambda item: not is_stage_file(*item))


def is_stage_file(name: str, sobject: str | None) -> bool:
    return sobject == STAGE_OBJECT or (
        sobject is None and posixpath.basename(name).lower().startswith("opportunitystage"))


def _plan_entries(files: SourceFiles, plan: str, report: Report) -> Iterator[tuple[str, str]]:
    with files.open(plan) as stream:
        for entry in _items(stream, plan, "item"):
            sobject = canonical_object(entry.get("sobject")) if isinstance(entry, dict) else None
            names = entry.get("files") if isinstance(entry, dict) else None
            if sobject is None or not isinstance(names, list):
                report.warn("invalid_plan_entry", f"{plan}: an entry without sobject and files "
                            "is ignored", file=plan)
                continue
            for file in names:
                if isinstance(file, str) and file.strip():
                    yield sobject, file.strip()


def _items(stream: Any, name: str, prefix: str) -> Iterator[Any]:
    try:
        yield from ijson.items(stream, prefix, use_float=True)
    except ijson.JSONError as exc:
        raise ConversionError("invalid_json", f"{name}: not valid JSON ({exc})") from exc


def load_tree_stages(files: SourceFiles, name: str, stages: StageMeanings) -> None:
    with files.open(name) as stream:
        stages.load_picklist((r for r in _items(stream, name, "records.item")
                              if isinstance(r, dict)), name)


def tree_rows(files: SourceFiles, name: str, sobject: str | None, stages: StageMeanings,
              report: Report) -> Iterator[ConvertedRow]:
    """One converted row per record of the file and per nested child record."""
    reader = _TreeReader(name, stages, report)
    count = 0
    with files.open(name) as stream:
        for index, record in enumerate(_items(stream, name, "records.item")):
            count += 1
            yield from reader.rows(record, index, sobject, None, 0)
    if count == 0:
        report.warn("no_records", f"{name}: holds no records (not an sObject tree file?)",
                    file=name)


class _TreeReader:
    def __init__(self, file: str, stages: StageMeanings, report: Report) -> None:
        self.file, self.stages, self.report = file, stages, report
        self._warned: set[str] = set()  # one warning per skipped object, not per record

    def rows(self, record: Any, index: int, hint: str | None, parent: Parent | None,
             depth: int) -> Iterator[ConvertedRow]:
        attributes = record.get("attributes") if isinstance(record, dict) else None
        attributes = attributes if isinstance(attributes, dict) else {}
        sobject = canonical_object(attributes.get("type")) or hint
        if not isinstance(record, dict) or sobject is None:
            self._warn_once("", "skipped_record", f"{self.file}: record {index} is not an object "
                            "with attributes.type; skipped")
            return
        if sobject == STAGE_OBJECT:
            self.stages.load_picklist([record], self.file)  # a stage met after opportunities
            return
        if sobject not in ENTITY_OF:
            self._warn_once(sobject, "skipped_object",
                            f"{self.file}: {sobject} records are not imported", object=sobject)
            return
        reference_id = attributes.get("referenceId")
        reference_id = str(reference_id) if reference_id not in (None, "") else None
        fields, children = _split(record)
        lookup = PARENT_FIELD.get((parent.sobject, sobject)) if parent else None
        if lookup and parent and all(key.lower() != lookup.lower() for key, _ in fields):
            fields.append((lookup, "@" + parent.reference_id))
        external_id = reference_id or _record_id(fields)
        row = build_row(sobject, fields, external_id, self.stages, self.file, parent)
        yield ConvertedRow(ENTITY_OF[sobject], row,
                           {"file": self.file, "record": index, "referenceId": reference_id})
        if not children:
            return
        if depth >= MAX_NESTING:
            self._warn_once("\x00nesting", "nesting_too_deep", f"{self.file}: records nested "
                            f"more than {MAX_NESTING} levels deep are not read")
            return
        child_parent = Parent(sobject, reference_id) if reference_id else None
        for child_records in children:
            for child in child_records:
                yield from self.rows(child, index, None, child_parent, depth + 1)

    def _warn_once(self, key: str, code: str, message: str, **where: Any) -> None:
        if key not in self._warned and len(self._warned) < MAX_WARNED:
            self._warned.add(key)
            self.report.warn(code, message, file=self.file, **where)


def _split(record: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[list[Any]]]:
    """The record's own fields, and its nested child record lists."""
    fields: list[tuple[str, Any]] = []
    children: list[list[Any]] = []
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict) and isinstance(value.get("records"), list):
            children.append(value["records"])
        else:
            fields.append((key, value))
    return fields, children


def _record_id(fields: list[tuple[str, Any]]) -> str | None:
    """A record without a referenceId may still carry its Salesforce Id."""
    value = next((v for k, v in fields if k.lower() == "id"), None)
    return to_18(value.strip()) if isinstance(value, str) and value.strip() else None
