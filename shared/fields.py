"""Field kinds: one converter per kind, used by the API schemas and the bundle validator alike.

A converter takes the raw JSON value and returns the database value or raises FieldError.
`None` means "no value" and is handled before the converter is called.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg


class FieldError(ValueError):
    """A value that does not fit its field; the message is shown to the user."""


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_DECIMAL = Decimal("1e18")
MAX_INT = 2**31 - 1
# Nesting levels a custom_fields object may have (the object itself is level 1). Real CRM custom
# data is flat or nearly so; the cap keeps every serializer on the way (orjson: 255 levels) and
# Postgres jsonb well inside their limits, so what is accepted can also be exported and re-imported.
MAX_JSON_DEPTH = 32
# jsonb numbers are numerics: a JSON number this long still fits but no client can read it back.
MAX_JSON_INT_DIGITS = 64
# Size of a custom_fields object, counted as the characters of its JSON text (keys, strings, a few
# per number and punctuation). Unbounded, twenty 15 MB rows made one list page cost the API
# gigabytes; this still holds a long-text field of a source system (Salesforce: 131 072
# characters) with room to spare.
MAX_JSON_CHARS = 256 * 1024
_SCALAR_CHARS = 8  # a number, true/false/null and its separator, as counted against the cap
_SURROGATES = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why Postgres text cannot hold `value` (None when it can)."""
    if "\x00" in value:
        return "must not contain NUL characters"
    # isascii() reads a flag CPython keeps on every string: most text skips the regex
    if not value.isascii() and _SURROGATES.search(value):
        # a lone UTF-16 surrogate ("\ud800" in JSON) is not encodable as UTF-8
        return "must not contain unpaired surrogate characters"
    return None


def _string(max_length: int) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError("must be a string")
        if len(value) > max_length:
            raise FieldError(f"must be at most {max_length} characters")
        problem = text_problem(value)
        if problem:
            raise FieldError(problem)
        return value
    return convert


def _email(value: Any) -> str:
    value = _string(320)(value).strip()
    if not EMAIL_RE.match(value):
        raise FieldError("must be an email address")
    return value


def _currency(value: Any) -> str:
    value = _string(3)(value).upper()
    if not CURRENCY_RE.match(value):
        raise FieldError("must be a 3-letter ISO 4217 currency code")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise FieldError("must be an integer")
    if not -MAX_INT <= value <= MAX_INT:
        raise FieldError("is out of range")
    return value


def _non_negative_integer(value: Any) -> int:
    value = _integer(value)
    if value < 0:
        raise FieldError("must not be negative")
    return value


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise FieldError("must be a decimal number or a decimal string")
    if isinstance(value, str) and len(value) > 40:
        raise FieldError("must be a decimal number of at most 40 characters")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise FieldError("must be a decimal number") from exc
    if not number.is_finite() or abs(number) >= MAX_DECIMAL:
        raise FieldError("is out of range")
    return number.quantize(Decimal("0.01"))


def _date(value: Any) -> date:
    if not isinstance(value, str):
        raise FieldError("must be a date (YYYY-MM-DD)")
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FieldError("must be a date (YYYY-MM-DD)") from exc


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise FieldError("must be an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as exc:
        raise FieldError("must be an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        # An offset can push a year-1 or year-9999 value out of range once in UTC, where
        # serializers put it.
        parsed.astimezone(UTC)
    except OverflowError as exc:
        raise FieldError("is out of range") from exc
    if not 1 <= parsed.year <= 9999:
        raise FieldError("is out of range")
    return parsed


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices or not isinstance(value, str):
            raise FieldError("must be one of: " + ", ".join(choices))
        return value
    return convert


def _json_object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise FieldError("must be a JSON object")
    problem = _json_problem(value)
    if problem:
        # say so instead of failing in the database or in a serializer later
        raise FieldError(problem)
    return value


def _json_problem(value: Any) -> str | None:
    """What jsonb (or a later export/import) cannot hold in a JSON value: NUL or lone surrogates
    in strings, infinite numbers, absurd integers, nesting beyond MAX_JSON_DEPTH, more than
    MAX_JSON_CHARS of text. Iterative, so depth itself cannot crash the check; scalar members
    are checked where they are met, so a flat object (the usual custom_fields) costs one loop
    over its items; the size is counted as it goes, so a huge value stops the walk early."""
    too_big = f"must not be larger than {MAX_JSON_CHARS} characters of JSON"
    size = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"must not be nested deeper than {MAX_JSON_DEPTH} levels"
            size += 2
            if isinstance(item, dict):
                for key in item:
                    problem = text_problem(key) if isinstance(key, str) else None
                    if problem:
                        return problem
                    size += len(key) + 4 if isinstance(key, str) else _SCALAR_CHARS
                members = item.values()
            else:
                members = item
            for member in members:
                if isinstance(member, dict | list):
                    stack.append((member, depth + 1))
                    continue
                problem = _scalar_problem(member)
                if problem:
                    return problem
                size += len(member) + 3 if isinstance(member, str) else _SCALAR_CHARS
            if size > MAX_JSON_CHARS:
                return too_big
        else:
            problem = _scalar_problem(item)
            if problem:
                return problem
            size += len(item) if isinstance(item, str) else _SCALAR_CHARS
    return too_big if size > MAX_JSON_CHARS else None


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return text_problem(item)
    if isinstance(item, float) and not math.isfinite(item):
        return "must not contain infinite or NaN numbers"
    if isinstance(item, int) and abs(item) >= 10**MAX_JSON_INT_DIGITS:
        return f"must not contain integers of more than {MAX_JSON_INT_DIGITS} digits"
    return None


@dataclass(frozen=True)
class Kind:
    name: str
    convert: Callable[[Any], Any]
    column_type: Any
    openapi: dict


def string(max_length: int = 255) -> Kind:
    return Kind("string", _string(max_length), sa.Text(), {"type": "string", "maxLength": max_length})


def choice(*choices: str) -> Kind:
    return Kind("choice", _choice(choices), sa.Text(), {"type": "string", "enum": list(choices)})


EMAIL = Kind("email", _email, sa.Text(), {"type": "string", "format": "email"})
CURRENCY = Kind("currency", _currency, sa.CHAR(3), {"type": "string", "pattern": "^[A-Z]{3}$"})
INTEGER = Kind("integer", _integer, sa.Integer(), {"type": "integer"})
COUNT = Kind("count", _non_negative_integer, sa.Integer(), {"type": "integer", "minimum": 0})
DECIMAL = Kind("decimal", _decimal, sa.Numeric(20, 2), {"type": "string", "format": "decimal",
                                                        "pattern": r"^-?[0-9]{1,18}(\.[0-9]+)?$"})
DATE = Kind("date", _date, sa.Date(), {"type": "string", "format": "date"})
DATETIME = Kind("datetime", _datetime, sa.DateTime(timezone=True),
                {"type": "string", "format": "date-time"})
JSON_OBJECT = Kind("object", _json_object, pg.JSONB(), {"type": "object"})
