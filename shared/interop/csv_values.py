"""Cell values of CSV exports turned into what a bundle row expects.

Shared by the HubSpot and the mapped-CSV converters. Only what a CSV encodes differently from a
bundle is normalized here (dates, whole numbers); every other value is passed
through as text and validated later by the pipeline, which reports it with its field.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

# The row error code of a record CsvFile could not split into the header's cells.
MALFORMED_ROW = "malformed_row"
# Fields a bundle holds as integers; a CSV cell is text.
WHOLE_NUMBER_FIELDS = frozenset({"employee_count", "stage_position"})
DATE_FIELDS = frozenset({"close_date"})
DATETIME_FIELDS = frozenset({"occurred_at", "due_at", "completed_at",
                             "created_at", "updated_at", "deleted_at"})
_WHOLE_NUMBER = re.compile(r"[+-]?\d{1,18}(\.0*)?")


def iso_date(cell: str, date_format: str | None = None) -> str | None:
    """YYYY-MM-DD from `date_format` (strptime) or ISO 8601 (a date-time keeps its date part,
    as exports write dates at midnight); None when the cell is neither."""
    text = cell.strip()
    if date_format:
        try:
            return datetime.strptime(text, date_format).date().isoformat()
        except ValueError:
            pass
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return _parse_iso_datetime(text).date().isoformat()
    except ValueError:
        return None


def iso_datetime(cell: str, date_format: str | None = None) -> str | None:
    """An ISO 8601 date-time from `date_format` or any ISO 8601 form ("2024-01-15 09:30",
    "2024-01-15T09:30:00Z", a bare date at midnight); None when the cell is neither."""
    text = cell.strip()
    if date_format:
        try:
            return datetime.strptime(text, date_format).isoformat()
        except ValueError:
            pass
    try:
        return _parse_iso_datetime(text).isoformat()
    except ValueError:
        return None


def _parse_iso_datetime(text: str) -> datetime:
    if len(text) > 40:
        raise ValueError(text)
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


def whole_number(cell: str) -> int | str:
    """An integer for an integer cell ("12", "12.0"); anything else stays text, so the
    pipeline reports it as not an integer on its field."""
    text = cell.strip()
    if _WHOLE_NUMBER.fullmatch(text):
        return int(text.split(".", 1)[0])
    return cell


def field_value(field_name: str, cell: str, date_format: str | None = None) -> Any:
    """The bundle value of a non-empty cell for `field_name`, or ValueError naming what the
    cell should have been."""
    if field_name in DATE_FIELDS:
        value = iso_date(cell, date_format)
        if value is None:
            raise ValueError(f"{cell!r} is not a date ({_expected(date_format, 'YYYY-MM-DD')})")
        return value
    if field_name in DATETIME_FIELDS:
        value = iso_datetime(cell, date_format)
        if value is None:
            raise ValueError(f"{cell!r} is not a date-time "
                             f"({_expected(date_format, 'ISO 8601')})")
        return value
    if field_name in WHOLE_NUMBER_FIELDS:
        return whole_number(cell)
    return cell


def _expected(date_format: str | None, iso: str) -> str:
    return f"expected {date_format} or {iso}" if date_format else f"expected {iso}"

