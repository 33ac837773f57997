"""Bulk API 2.0 / Data Loader CSV exports: one file per object.

The object comes from the file name (Account.csv, account_export.csv, Contacts-2024.csv) or,
when the name says nothing (export.csv), from the key prefix of the first Id (001 Account...).
Each file is streamed row by row with CsvFile; ids are normalized to 18 characters.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from shared.interop.csvfile import CsvFile, CsvRecord
from shared.interop.salesforce_fields import ENTITY_OF, EXTERNAL_SYSTEM, build_row
from shared.interop.salesforce_ids import object_of, to_18
from shared.interop.salesforce_stages import StageMeanings
from shared.interop.source import ConvertedRow, Report, SourceFiles, row_error

STAGE_OBJECT = "OpportunityStage"
# File-name words naming an object, longest first so "opportunitystage" wins over "opportunity".
_NAME_WORDS = sorted({
    **{name.lower(): name for name in (*ENTITY_OF, STAGE_OBJECT)},
    "accounts": "Account", "contacts": "Contact", "opportunities": "Opportunity",
    "leads": "Lead", "tasks": "Task", "events": "Event", "opportunitystages": STAGE_OBJECT,
}.items(), key=lambda item: -len(item[0]))
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*")
_SPACED_STAGE = re.compile(r"^opportunity[-_ ]stage")


def object_from_file_name(name: str) -> str | None:
    """The object a file's name gives: a known object when its name is a clear prefix (followed
    by the end or a non-letter: AccountContactRelation.csv is not Account), a custom object
    (Foo__c.csv) by its own name, else None."""
    stem = PurePosixPath(name).stem.strip()
    token = _IDENTIFIER.match(stem)
    if token and "__" in token.group(0):
        return token.group(0)  # Foo__c, Account__c: custom objects, never a standard one
    lowered = _SPACED_STAGE.sub("opportunitystage", stem.lower())
    for word, sobject in _NAME_WORDS:
        if lowered.startswith(word) and not lowered[len(word):len(word) + 1].isalpha():
            return sobject
    return None


def plan_bulk(files: SourceFiles, names: list[str], report: Report) -> list[tuple[str, str]]:
    """(file, object) for every CSV of an object this import reads, OpportunityStage first;
    other files are reported as skipped."""
    planned: list[tuple[str, str]] = []
    for name in names:
        sobject = object_from_file_name(name) or _sniff_object(files, name)
        if sobject is None:
            report.warn("skipped_file", f"{name}: neither its name nor its Id column names a "
                        "Salesforce object", file=name)
        elif sobject != STAGE_OBJECT and sobject not in ENTITY_OF:
            report.warn("skipped_object", f"{name}: {sobject} records are not imported "
                        "(only Account, Contact, Opportunity, OpportunityStage, Lead, Task and "
                        "Event)", file=name, object=sobject)
        else:
            planned.append((name, sobject))
    # Stage meanings must be known before the first opportunity, wherever the file sits.
    return sorted(planned, key=lambda item: item[1] != STAGE_OBJECT)


def _sniff_object(files: SourceFiles, name: str) -> str | None:
    """The object of a file whose name says nothing: OpportunityStage by its columns, anything
    else by the key prefix of the first row's Id."""
    with files.open(name) as stream:
        table = CsvFile(stream, name)
        header = {h.lower() for h in table.header}
        if {"masterlabel", "iswon", "isclosed"} <= header:
            return STAGE_OBJECT
        if "id" not in header:
            return None
        for record in table:
            value = next((v for k, v in record.cells.items() if k.lower() == "id"), "")
            return object_of(to_18(value.strip()))
    return None


def load_bulk_stages(files: SourceFiles, name: str, stages: StageMeanings,
                     report: Report) -> None:
    with files.open(name) as stream:
        table = CsvFile(stream, name)
        stages.load_picklist(_good_cells(table, report), name)


def _good_cells(table: CsvFile, report: Report) -> Iterator[dict[str, str]]:
    for record in table:
        if record.problem:
            report.warn("invalid_stage_row", f"{table.name} row {record.row}: {record.problem}; "
                        "the stage is ignored", file=table.name, object=STAGE_OBJECT)
            continue
        yield record.cells


def bulk_rows(files: SourceFiles, name: str, sobject: str,
              stages: StageMeanings) -> Iterator[ConvertedRow]:
    """One converted row per CSV record of `sobject`, in file order."""
    entity = ENTITY_OF[sobject]
    with files.open(name) as stream:
        table = CsvFile(stream, name)
        id_column = next((h for h in table.header if h.lower() == "id"), None)
        for record in table:
            yield ConvertedRow(entity, _row(record, sobject, id_column, stages, name),
                               {"file": name, "row": record.row})


def _row(record: CsvRecord, sobject: str, id_column: str | None, stages: StageMeanings,
         name: str) -> dict:
    raw_id = record.cells.get(id_column, "").strip() if id_column else ""
    external_id = to_18(raw_id) if raw_id else None
    if record.problem:
        # The cells may be shifted: no field of this row can be trusted (nor its stage reported).
        row = {"external_system": EXTERNAL_SYSTEM, "external_id": external_id,
               "custom_fields": {}}
        return row_error(row, None, "invalid_csv_row", record.problem)
    return build_row(sobject, record.cells.items(), external_id, stages, name)
