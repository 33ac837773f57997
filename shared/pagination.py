"""Keyset pagination: `limit` parsing and opaque cursors.

A cursor is the sort key of the last row served, JSON in url-safe base64. Clients must treat it
as opaque; it is validated on the way back in, and a tampered one answers 422.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from shared.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# A page also stops once its rows hold this many bytes (the first row is always served, so a
# page is at most this plus one row): 500 rows of the largest allowed size would otherwise be
# gigabytes in the API process for one request.
MAX_PAGE_BYTES = 4 * 1024 * 1024


def parse_limit(raw: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """An integer >= 1; larger than the maximum is clamped, anything else is a 422."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed("Invalid limit", {"limit": ["must be an integer"]}) from None
    if value < 1:
        raise ValidationFailed("Invalid limit", {"limit": ["must be at least 1"]})
    return min(value, maximum)


def encode_cursor(key: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """The cursor's key, which must hold exactly `fields`; None when no cursor was sent."""
    if raw is None or raw == "":
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        key = None
    if not isinstance(key, dict) or set(key) != set(fields):
        raise ValidationFailed("Invalid cursor", {"cursor": ["is not a cursor this list issued"]})
    return key


def bad_cursor() -> ValidationFailed:
    return ValidationFailed("Invalid cursor", {"cursor": ["is not a cursor this list issued"]})


def page(rows: list, limit: int, key_of) -> tuple[list, str | None]:
    """Rows fetched with LIMIT limit+1 -> (the page, cursor of the next page or None)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(key_of(rows[-1]))


def rows_within(sizes: list[int], budget: int = MAX_PAGE_BYTES) -> int:
    """How many of the leading rows (their sizes in bytes) a page serves: at least one, then
    as many as stay within `budget`."""
    total = 0
    for count, size in enumerate(sizes):
        total += size or 0
        if count and total > budget:
            return count
    return len(sizes)
