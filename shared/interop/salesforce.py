"""`?source=salesforce`: Salesforce exports turned into bundle rows.

Two export shapes are read, alone or together in one upload:
- sObject tree JSON (`sf data export tree`, salesforce_tree): external_id is the record's
  referenceId, references are "@referenceId" values;
- Bulk API 2.0 / Data Loader CSVs, one per object (salesforce_bulk): external_id is the
  18-character Id, references are ids.
Every row has external_system "salesforce". Stage meanings are read first (salesforce_stages),
then rows are yielded file by file; field mapping is in salesforce_fields.
"""
from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from shared.interop.salesforce_bulk import STAGE_OBJECT, bulk_rows, load_bulk_stages, plan_bulk
from shared.interop.salesforce_stages import StageMeanings
from shared.interop.salesforce_tree import is_stage_file, load_tree_stages, plan_tree, tree_rows
from shared.interop.source import ConversionError, ConvertedRow, Report, SourceFiles

MAX_LISTED_SKIPS = 10


def convert(files: SourceFiles, report: Report, options: dict[str, Any]
            ) -> Iterator[ConvertedRow]:
    """The rows of a Salesforce upload; raises ConversionError("no_source_files") when it holds
    no file of an object this import reads."""
    warned_before = len(report.warnings)
    csv_names: list[str] = []
    json_names: list[str] = []
    for name in files.names():
        extension = posixpath.splitext(name)[1].lower()
        if extension == ".csv":
            csv_names.append(name)
        elif extension == ".json":
            json_names.append(name)
        else:
            report.warn("skipped_file", f"{name}: not a CSV or JSON file, not read", file=name)
    bulk = plan_bulk(files, csv_names, report)
    tree = plan_tree(files, json_names, report)
    if not bulk and not tree:
        raise ConversionError("no_source_files", _nothing_to_read(report, warned_before))

    stages = StageMeanings(report)
    for name, sobject in bulk:
        if sobject == STAGE_OBJECT:
            load_bulk_stages(files, name, stages, report)
    stage_files = [name for name, sobject in tree if is_stage_file(name, sobject)]
    for name in stage_files:
        load_tree_stages(files, name, stages)

    for name, sobject in bulk:
        if sobject != STAGE_OBJECT:
            yield from bulk_rows(files, name, sobject, stages)
    for name, tree_object in tree:
        if name not in stage_files:
            yield from tree_rows(files, name, tree_object, stages, report)


def _nothing_to_read(report: Report, warned_before: int) -> str:
    skipped = [w["message"] for w in report.warnings[warned_before:]][:MAX_LISTED_SKIPS]
    message = ("the upload holds no Salesforce export this import reads: Bulk API / Data Loader "
               "CSVs (Account.csv, Contact.csv, Opportunity.csv, OpportunityStage.csv, Lead.csv, "
               "Task.csv, Event.csv) or sObject tree JSON files")
    if skipped:
        message += "; skipped: " + "; ".join(skipped)
    return message
