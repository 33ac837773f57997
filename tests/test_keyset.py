"""Keyset pages: the cursor of one page leads to exactly the rows after it; bad cursors are 422."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.errors import ValidationFailed
from shared.keyset import KeyPart, Keyset, aware_datetime_value, int_value, uuid_value
from shared.pagination import encode_cursor

items = sa.table("items", sa.column("id", sa.Integer()), sa.column("at", sa.DateTime(True)))
NEWEST_FIRST = Keyset(KeyPart("t", items.c.at, aware_datetime_value),
                      KeyPart("id", items.c.id, int_value), descending=True)
BY_ID = Keyset(KeyPart("id", items.c.id, int_value))


def _walk(keyset: Keyset, rows: list[dict], limit: int, sort_key, after) -> list[list[dict]]:
    """Pages as a client sees them: apply each cursor in Python the way the SQL would."""
    ordered = sorted(rows, key=sort_key, reverse=keyset.descending)
    pages, cursor = [], None
    while True:
        values = keyset.decode(cursor)
        remaining = [r for r in ordered if values is None or after(r, values)]
        page, cursor = keyset.page(remaining[:limit + 1], limit)
        pages.append(page)
        if cursor is None:
            return pages


def test_paging_newest_first_serves_every_row_once_in_order():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # two rows share each instant: the id breaks the tie
    rows = [{"id": i, "at": start + timedelta(seconds=i // 2)} for i in range(7)]
    pages = _walk(NEWEST_FIRST, rows, 3, lambda r: (r["at"], r["id"]),
                  lambda r, v: (r["at"], r["id"]) < v)
    assert [[r["id"] for r in p] for p in pages] == [[6, 5, 4], [3, 2, 1], [0]]


def test_the_last_page_has_no_cursor_and_a_short_list_is_one_page():
    assert BY_ID.page([{"id": 1}, {"id": 2}], 2) == ([{"id": 1}, {"id": 2}], None)
    page, cursor = BY_ID.page([{"id": 1}, {"id": 2}, {"id": 3}], 2)
    assert [r["id"] for r in page] == [1, 2]
    assert BY_ID.decode(cursor) == (2,)


def test_the_condition_and_order_follow_the_direction():
    dialect = postgresql.dialect()
    cursor = encode_cursor({"t": "2026-01-01T00:00:00+00:00", "id": 5})
    newest = NEWEST_FIRST.where_after(sa.select(items.c.id), cursor)
    newest = newest.order_by(*NEWEST_FIRST.order_by())
    sql = str(newest.compile(dialect=dialect))
    assert "(items.at, items.id) < (" in sql
    assert sql.endswith("ORDER BY items.at DESC, items.id DESC")
    oldest = BY_ID.where_after(sa.select(items.c.id), encode_cursor({"id": 5}))
    assert "items.id > " in str(oldest.compile(dialect=dialect))
    unchanged = sa.select(items.c.id)
    assert BY_ID.where_after(unchanged, None) is unchanged


@pytest.mark.parametrize("key", [
    {"t": "2026-01-01T00:00:00", "id": 5},  # no time zone: another instant on the server
    {"t": "yesterday", "id": 5},
    {"t": "2026-01-01T00:00:00+00:00", "id": True},
    {"t": "2026-01-01T00:00:00+00:00", "id": "5"},
    {"id": 5},
])
def test_a_cursor_with_values_the_key_cannot_hold_is_a_422(key):
    with pytest.raises(ValidationFailed) as raised:
        NEWEST_FIRST.where_after(sa.select(items.c.id), encode_cursor(key))
    assert raised.value.details == {"cursor": ["is not a cursor this list issued"]}


def test_uuid_keys_accept_only_canonical_uuids():
    value = uuid.uuid4()
    assert uuid_value(str(value)) == value
    for bad in (value.hex, 5, None, "x" * 36):
        with pytest.raises(ValueError):
            uuid_value(bad)
