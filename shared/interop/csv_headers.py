"""Matching the columns a mapping names against a CSV file's header.

A column is found by its exact header, else by the one header equal to it ignoring case
(spreadsheets and hand-written mappings disagree on capitals more than on anything else).
`check_headers` reads only the header line of each matched file, so the API can refuse a
mapping naming a missing column before a job exists.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from shared.interop.csvfile import CsvFile
from shared.interop.source import ConversionError, SourceFiles

if TYPE_CHECKING:
    from shared.interop.mapping import FileSpec, Mapping

MAPPING_FILE = "mapping.json"


class HeaderIndex:
    def __init__(self, header: list[str]) -> None:
        self.header = header
        self._exact = set(header)
        folded: dict[str, list[str]] = {}
        for name in header:
            folded.setdefault(name.casefold(), []).append(name)
        self._folded = {k: v[0] for k, v in folded.items() if len(v) == 1}

    def find(self, column: str) -> str | None:
        """The header `column` names, or None."""
        if column in self._exact:
            return column
        return self._folded.get(column.strip().casefold())


def is_mapping_file(name: str) -> bool:
    return name.rsplit("/", 1)[-1].lower() == MAPPING_FILE


def missing_columns(spec: FileSpec, index: HeaderIndex, file_name: str
                    ) -> list[dict[str, str]]:
    return [{"path": path, "message": f"column {column!r} is not in the header of {file_name}"}
            for path, column in spec.named_columns() if index.find(column) is None]


def check_headers(mapping: Mapping, files: SourceFiles) -> list[dict[str, str]]:
    """Problems ({"path", "message"}) of columns named by `id_column`, `references`, `values`
    or `types` that a file matched by the entry does not have, and of matched files that are
    not readable CSV."""
    problems: list[dict[str, str]] = []
    for name in files.names():
        entries = [] if is_mapping_file(name) else mapping.entries_for(name)
        if not entries:
            continue
        try:
            with files.open(name) as stream:
                index = HeaderIndex(CsvFile(stream, name).header)
        except ConversionError as exc:
            problems += [{"path": f"files[{spec.index}].file", "message": exc.message}
                         for spec in entries]
            continue
        for spec in entries:
            problems += missing_columns(spec, index, name)
    return problems
