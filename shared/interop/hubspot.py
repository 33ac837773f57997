"""`?source=hubspot`: CRM UI exports of companies, contacts and deals (one CSV per object).

Companies become accounts, contacts contacts, deals opportunities; each row is identified by
("hubspot", Record ID). A contact's or deal's company is its primary associated company, else
the first of its associated companies; a deal's contact is the first associated contact.
Company-to-company associations are not a parent link in HubSpot's export (they carry no
direction), so they stay in custom_fields like every column without a bundle field. Deal stage
labels are reported as source stages; "Closed won" / "Closed lost" (and the API's
`closedwon` / `closedlost`) are won / lost, every other stage is open.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.interop.csv_values import MALFORMED_ROW, field_value
from shared.interop.csvfile import CsvFile, CsvRecord
from shared.interop.hubspot_columns import (
    COMPANIES,
    DEALS,
    ENTITY_OF,
    FIELDS,
    LABELS,
    column_key,
    object_from_header,
    object_from_name,
    stage_kind,
)
from shared.interop.source import ConversionError, ConvertedRow, Report, SourceFiles, row_error

SYSTEM = "hubspot"
# Columns a contact or deal uses up. The ";"-joined association lists also feed a reference
# but stay in custom_fields too: a reference takes one id and the others would be lost.
_CONSUMED = {"record_id", "primary_company"}


def convert(files: SourceFiles, report: Report, options: dict[str, Any]
            ) -> Iterator[ConvertedRow]:
    plan = _classify(files, report)
    if not plan:
        raise ConversionError("no_source_files", "the upload holds no HubSpot export of "
                              "companies, contacts or deals (CSV files with a Record ID column)")
    for name, obj in plan:
        with files.open(name) as stream:
            csv_file = CsvFile(stream, name)
            builder = _RowBuilder(obj, csv_file.header)
            for record in csv_file:
                row = builder.build(record)
                if obj == DEALS and isinstance(row.get("pipeline_stage_name"), str):
                    report.stage(row["pipeline_stage_name"], row.get("status", "open"))
                yield ConvertedRow(ENTITY_OF[obj], row, {"file": name, "row": record.row})


def _classify(files: SourceFiles, report: Report) -> list[tuple[str, str]]:
    """(file, object) of every HubSpot export in the upload, from the header lines only;
    other files are reported as skipped."""
    plan = []
    for name in files.names():
        if not name.lower().endswith(".csv"):
            report.warn("skipped_file", f"{name}: not a CSV file", file=name)
            continue
        with files.open(name) as stream:
            header = CsvFile(stream, name).header
        obj = object_from_name(name) or object_from_header(header)
        if obj is None:
            report.warn("skipped_file", f"{name}: neither its name nor its header says whether "
                        "it holds companies, contacts or deals", file=name)
        elif not any(column_key(h) == "record_id" for h in header):
            report.warn("skipped_file", f"{name}: no {LABELS['record_id'][0]!r} column, so its "
                        "rows cannot be identified", file=name, object=obj)
        else:
            plan.append((name, obj))
    return plan


class _RowBuilder:
    """One export file's header, resolved once: which header feeds which field."""

    def __init__(self, obj: str, header: list[str]) -> None:
        self.obj = obj
        fields = FIELDS[obj]
        keys = {h: column_key(h) for h in header}
        by_key = {k: h for h, k in keys.items() if k is not None}
        self.id_header = by_key["record_id"]  # files without one are skipped
        self.fields = [(h, fields[k]) for h, k in keys.items() if k in fields]
        links_account = obj != COMPANIES
        self.primary = by_key.get("primary_company") if links_account else None
        self.companies = by_key.get("company_ids") if links_account else None
        self.contacts = by_key.get("contact_ids") if obj == DEALS else None
        consumed = _CONSUMED if links_account else {"record_id"}
        self.custom = [h for h, k in keys.items() if k not in fields and k not in consumed]

    def build(self, record: CsvRecord) -> dict[str, Any]:
        cells = record.cells
        row: dict[str, Any] = {"external_system": SYSTEM}
        error: tuple[str, str, str] | None = None
        external_id = cells.get(self.id_header, "").strip()
        if external_id:
            row["external_id"] = external_id
        else:
            error = ("external_id", "required", f"{LABELS['record_id'][0]} is empty")
        for header, field_name in self.fields:
            cell = cells.get(header, "").strip()
            if not cell:
                continue
            try:
                row[field_name] = field_value(field_name, cell)
            except ValueError as exc:
                error = error or (field_name, "invalid", f"{header}: {exc}")
        account = _first_id(cells, self.primary) or _first_id(cells, self.companies)
        if account:
            row["account_external_id"] = account
        contact = _first_id(cells, self.contacts)
        if contact:
            row["contact_external_id"] = contact
        if self.obj == DEALS and isinstance(row.get("pipeline_stage_name"), str):
            row["status"] = stage_kind(row["pipeline_stage_name"])
        custom = {h: cells[h] for h in self.custom if cells.get(h, "") != ""}
        if custom:
            row["custom_fields"] = custom
        if record.problem:
            return row_error(row, None, MALFORMED_ROW, record.problem)
        if error:
            return row_error(row, *error)
        return row


def _first_id(cells: dict[str, str], header: str | None) -> str | None:
    """The first id of a ";"-joined association cell."""
    if header is None:
        return None
    for part in cells.get(header, "").split(";"):
        if part.strip():
            return part.strip()
    return None
