"""Salesforce values in the shapes a bundle row wants.

Only what Salesforce encodes differently from a bundle is changed (booleans as "true"/"false"
text, numbers as CSV text, dates inside datetimes, `+0000` offsets, 15-character ids, `@ref`
references); anything else is passed through unchanged, so the pipeline's field validation
(shared/fields.py) reports a bad value with its row instead of the converter guessing.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from shared.interop.salesforce_ids import is_salesforce_id, to_18

_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Data Loader and SOQL write offsets without a colon (2024-01-15T09:30:00.000+0000).
_BASIC_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_INTEGER = re.compile(r"^[+-]?\d+(?:\.0*)?$")


def is_empty(value: Any) -> bool:
    """An empty CSV cell or a JSON null: the field is left out of the row."""
    return value is None or (isinstance(value, str) and value == "")


def to_bool(value: Any) -> bool | None:
    """A Salesforce checkbox, as JSON true/false or as text in any case; None when it is
    neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


def custom_value(name: str, value: Any) -> Any:
    """An unmodelled field's value for custom_fields: checkboxes become JSON booleans, the ids of
    lookup fields (OwnerId, ConvertedAccountId) their 18-character form; other text stays text
    (a CSV cannot say whether "0042" is a number)."""
    flag = to_bool(value)
    if flag is not None:
        return flag
    if name.lower().endswith("id") and isinstance(value, str) and is_salesforce_id(value):
        return to_18(value)
    return value


def as_text(value: Any) -> Any:
    """A text field that a JSON export may hold as a number (a phone number, a zip code)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def as_count(value: Any) -> Any:
    """NumberOfEmployees: CSV text ("28549", "28549.0") to an integer."""
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip().split(".")[0])
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def as_decimal_text(value: Any) -> Any:
    """Amount / AnnualRevenue as a decimal string (JSON exports hold numbers or strings)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def as_date(value: Any) -> Any:
    """A date field (CloseDate); tree exports may hold it as a datetime, whose date part is the
    date Salesforce shows (the time is an artefact of the export, not a time zone shift)."""
    if isinstance(value, str):
        match = _DATE_PREFIX.match(value.strip())
        if match:
            return match.group(1)
    return value


def as_datetime(value: Any) -> Any:
    """An ISO 8601 datetime; a bare date (ActivityDate) means midnight UTC."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _DATE_ONLY.match(text):
        return f"{text}T00:00:00Z"
    if "T" in text or " " in text:
        return _BASIC_OFFSET.sub(r"\1:\2", text)
    return text


def reference(value: Any) -> Any:
    """A lookup's value as the target's external_id: a tree export's "@AccountRef3" names the
    record whose referenceId is AccountRef3; a Salesforce id is made 18 characters long."""
    if not isinstance(value, str):
        return as_text(value)
    text = value.strip()
    if text.startswith("@") and len(text) > 1:
        return text[1:]
    return to_18(text)


def domain_of(website: Any) -> str | None:
    """The host of a website URL without its "www." (Salesforce has no domain field on Account,
    so the domain the pipeline matches accounts by is taken from Website)."""
    if not isinstance(website, str) or not website.strip():
        return None
    text = website.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    return host[4:] if host.startswith("www.") else host
