"""`?source=csv`: any CSV files plus a mapping document saying what they hold.

The mapping comes from options["mapping"] (already parsed, what the API stored with the job)
or else from a `mapping.json` inside the upload. Before any row is yielded the mapping is
checked against the upload's file names and headers, so a broken mapping fails the job at once
instead of after half the rows. Each file matched by an entry is then streamed record by record
(once per matching entry); files no entry matches are reported as skipped.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.entities import BY_PLURAL
from shared.interop.csv_headers import HeaderIndex, check_headers, is_mapping_file
from shared.interop.csv_rows import RowBuilder
from shared.interop.csvfile import CsvFile
from shared.interop.mapping import Mapping, MappingInvalid, parse_mapping
from shared.interop.source import ConversionError, ConvertedRow, Report, SourceFiles

MAX_MAPPING_BYTES = 1024 * 1024
STATUS_KINDS = ("open", "won", "lost")


def convert(files: SourceFiles, report: Report, options: dict[str, Any]
            ) -> Iterator[ConvertedRow]:
    names = files.names()
    data_files = [n for n in names if not is_mapping_file(n)]
    if not data_files:
        raise ConversionError("no_source_files", "the upload holds no CSV file besides the "
                              "mapping")
    mapping = load_mapping(files, options, data_files)
    problems = check_headers(mapping, files)
    if problems:
        raise ConversionError("invalid_mapping", str(MappingInvalid(problems)))
    for name in data_files:
        entries = mapping.entries_for(name)
        if not entries:
            report.warn("skipped_file", f"{name}: no entry of the mapping matches this file",
                        file=name)
            continue
        for spec in entries:
            with files.open(name) as stream:
                csv_file = CsvFile(stream, name)
                builder = RowBuilder(mapping, spec, HeaderIndex(csv_file.header))
                placed = BY_PLURAL[spec.entity].stage_placement  # stages to report
                for record in csv_file:
                    row = builder.build(record)
                    if placed:
                        _report_stage(row, report)
                    yield ConvertedRow(spec.entity, row, {"file": name, "row": record.row})


def load_mapping(files: SourceFiles, options: dict[str, Any], data_files: list[str]
                 ) -> Mapping:
    """options["mapping"] (a document, or a Mapping already parsed) wins over a mapping.json of
    the upload; ConversionError when there is neither or it is invalid."""
    raw = options.get("mapping")
    if isinstance(raw, Mapping):
        return raw
    if raw is None:
        found = [n for n in files.names() if is_mapping_file(n)]
        if not found:
            raise ConversionError("mapping_required", "source=csv needs a mapping: pass one "
                                  "with the upload or put mapping.json in the zip")
        with files.open(found[0]) as stream:
            raw = stream.read(MAX_MAPPING_BYTES + 1)
        if len(raw) > MAX_MAPPING_BYTES:
            raise ConversionError("invalid_mapping", f"{found[0]} is larger than "
                                  f"{MAX_MAPPING_BYTES} bytes")
    try:
        return parse_mapping(raw, data_files)
    except MappingInvalid as exc:
        raise ConversionError("invalid_mapping", str(exc)) from exc


def _report_stage(row: dict[str, Any], report: Report) -> None:
    name = row.get("pipeline_stage_name")
    if isinstance(name, str) and name.strip():
        status = row.get("status")
        report.stage(name, status if status in STATUS_KINDS else "open")
