"""Keyset pages: the condition, the order and the next cursor of a list, from one sort key.

A list declares its unique sort key once. The same declaration turns a cursor into "after the
last row served", orders the query, and mints the next cursor from a page's last row, so the
three can never disagree. A cursor whose values are not what the key holds answers 422, like
a cursor that does not decode (shared.pagination).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from shared.ids import parse_uuid
from shared.pagination import bad_cursor, decode_cursor, encode_cursor

Query = TypeVar("Query", bound=sa.Select)


def uuid_value(value: object) -> uuid.UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise ValueError("not a uuid")
    return parsed


def aware_datetime_value(value: object) -> datetime:
    # a naive timestamp would be compared in the server's time zone: another instant
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed


def int_value(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


@dataclass(frozen=True)
class KeyPart:
    """One column of a sort key. `parse` checks a cursor value (ValueError or TypeError when it
    is not one this column holds); `row_name` is where a fetched row holds the value."""

    cursor_name: str
    column: sa.ColumnElement
    parse: Callable[[object], Any]
    row_name: str | None = None

    def row_value(self, row: Any) -> Any:
        mapping = row._mapping if hasattr(row, "_mapping") else row
        return mapping[self.row_name or self.column.key]


class Keyset:
    """A unique sort key: ascending (oldest first) or descending (newest first)."""

    def __init__(self, *parts: KeyPart, descending: bool = False) -> None:
        if not parts:
            raise ValueError("a keyset needs at least one column")
        self.parts = parts
        self.descending = descending

    def decode(self, raw_cursor: str | None) -> tuple[Any, ...] | None:
        """The cursor's values in key order; None without a cursor; 422 for a bad one."""
        key = decode_cursor(raw_cursor, tuple(p.cursor_name for p in self.parts))
        if key is None:
            return None
        try:
            return tuple(p.parse(key[p.cursor_name]) for p in self.parts)
        except (ValueError, TypeError):
            raise bad_cursor() from None

    def where_after(self, query: Query, raw_cursor: str | None) -> Query:
        """`query` restricted to the rows after the cursor's (unchanged without a cursor)."""
        values = self.decode(raw_cursor)
        if values is None:
            return query
        columns = [p.column for p in self.parts]
        if len(columns) == 1:
            column, value = columns[0], values[0]
            return query.where(column < value if self.descending else column > value)
        left = sa.tuple_(*columns)
        right = sa.tuple_(*(sa.literal(v, c.type) for c, v in zip(columns, values, strict=True)))
        return query.where(left < right if self.descending else left > right)

    def order_by(self) -> list[sa.ColumnElement]:
        return [p.column.desc() if self.descending else p.column for p in self.parts]

    def page(self, rows: Sequence[Any], limit: int) -> tuple[list[Any], str | None]:
        """Rows fetched with LIMIT limit+1 -> (the page, the next page's cursor or None)."""
        if len(rows) <= limit:
            return list(rows), None
        served = list(rows[:limit])
        last = served[-1]
        return served, encode_cursor(
            {p.cursor_name: _json_value(p.row_value(last)) for p in self.parts})
