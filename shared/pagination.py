"""Keyset pagination: opaque cursors that encode the last row's sort key."""
from __future__ import annotations

import base64
import json
from typing import Any

from shared.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def parse_limit(raw: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationFailed("Invalid limit", {"limit": ["must be an integer"]}) from exc
    if value < 1:
        raise ValidationFailed("Invalid limit", {"limit": ["must be at least 1"]})
    return min(value, maximum)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("Invalid cursor", {"cursor": ["is not a valid cursor"]}) from exc
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationFailed("Invalid cursor", {"cursor": ["is not a valid cursor"]})
    return values
