"""Reading one CSV file of an upload as a stream of records, whatever its dialect.

The stdlib csv module does the parsing (quotes, multi-line cells); this module adds what an
export from another system needs: a UTF-8 byte order mark dropped, the delimiter sniffed from
the first lines, a header, and limits that keep memory bounded (cell size, column count). A row
whose cell count differs from the header's, or that holds a NUL character, comes back as a
record with a problem (reported as a row error by the converter); a file that cannot be read as
CSV at all (not UTF-8, an unterminated quote, too many columns) raises ConversionError.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from shared.interop.source import ConversionError

MAX_COLUMNS = 1000
# Largest cell: an activity body may hold 1,000,000 characters; a cell past this is an
# unterminated quote or garbage, and the reader stops there instead of buffering the file.
MAX_CELL_CHARS = 1_100_000
SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"

csv.field_size_limit(MAX_CELL_CHARS)


@dataclass
class CsvRecord:
    row: int  # the row number a spreadsheet shows: the header is row 1
    cells: dict[str, str]  # header → cell ("" for an empty cell)
    problem: str | None = None


class CsvFile:
    """`header` is read on open; iterate for the records."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.name = name
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
        try:
            sample = self._text.read(SNIFF_BYTES)
        except UnicodeDecodeError as exc:
            raise ConversionError("invalid_csv", f"{name}: not UTF-8 text ({exc.reason} at byte "
                                  f"{exc.start} of the first {SNIFF_BYTES})") from exc
        if "\x00" in sample[:4096] and sample.count("\x00") > len(sample[:4096]) // 8:
            raise ConversionError("invalid_csv", f"{name}: binary data, not a CSV file")
        self.dialect = _sniff(sample)
        self._reader = csv.reader(_Rejoined(sample, self._text, name), self.dialect, strict=True)
        self._record = 0
        try:
            header = next(self._reader, None)
        except csv.Error as exc:
            raise ConversionError("invalid_csv", f"{name}: the header cannot be read: {exc}") \
                from exc
        if not header or not any(h.strip() for h in header):
            raise ConversionError("invalid_csv", f"{name}: the file has no header row")
        if len(header) > MAX_COLUMNS:
            raise ConversionError("too_many_columns",
                                  f"{name}: {len(header)} columns; at most {MAX_COLUMNS}")
        self.header = [h.strip() for h in header]
        self._record = 1

    def __iter__(self) -> Iterator[CsvRecord]:
        width = len(self.header)
        while True:
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ConversionError("invalid_csv", f"{self.name}: row {self._record + 1}: "
                                      f"{exc}") from exc
            except UnicodeDecodeError as exc:
                raise ConversionError("invalid_csv", f"{self.name}: not UTF-8 text after row "
                                      f"{self._record} ({exc.reason})") from exc
            self._record += 1
            if not cells or (len(cells) == 1 and not cells[0].strip() and width > 1):
                continue  # a blank line: spreadsheets write them at the end
            problem = None
            if len(cells) != width:
                problem = f"has {len(cells)} cells; the header has {width}"
            elif any("\x00" in c for c in cells):
                problem = "contains a NUL character"
            yield CsvRecord(self._record, dict(zip(self.header, cells, strict=False)), problem)


class _Rejoined:
    """The sniffed sample followed by the rest of the text stream, read line by line (the csv
    module wants an iterator of lines; a line is bounded by the reader's cell limit)."""

    def __init__(self, sample: str, rest: io.TextIOWrapper, name: str) -> None:
        self._head = io.StringIO(sample)
        self._rest = rest
        self._name = name

    def __iter__(self) -> _Rejoined:
        return self

    def __next__(self) -> str:
        if self._head is not None:
            line = self._head.readline()
            if line.endswith(("\n", "\r")):
                return line
            self._head = None
            more = self._rest.readline(MAX_CELL_CHARS)
            line += more
            if line:
                return line
            raise StopIteration
        line = self._rest.readline(MAX_CELL_CHARS)
        if not line:
            raise StopIteration
        return line


def _sniff(sample: str) -> type[csv.Dialect]:
    lines = sample.splitlines()[:20]
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS)
    except csv.Error:
        dialect = _count_delimiters(lines[0] if lines else "")
    dialect.doublequote = True  # every CSV writer we know doubles quotes inside cells
    dialect.quotechar = '"'
    return dialect


def _count_delimiters(header: str) -> type[csv.Dialect]:
    """The sniffer gives up on one-column or irregular samples: the delimiter that splits the
    header most wins (a comma when none does)."""
    best = max(DELIMITERS, key=header.count) if header else ","
    if header.count(best) == 0:
        best = ","

    class Sniffed(csv.excel):
        delimiter = best

    return Sniffed
