"""Salesforce record ids: the 15-character form made case-safe (18 characters), and the object an
id's 3-character key prefix names.

A 15-character id is case-sensitive ("001D000000IqhSL" and "001D000000IqhSl" are two records);
the 18-character form appends three characters that encode where the upper-case letters are, so
it stays unique when compared case-insensitively. Exports mix the two forms (the UI and reports
give 15, the APIs 18), so every id is normalized to 18 characters before it becomes an
external_id or a reference: a 15-character reference then matches an 18-character Id.
"""
from __future__ import annotations

import re

_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

# Key prefixes of the objects this import reads.
IMPORTED_PREFIXES = {
    "001": "Account",
    "003": "Contact",
    "006": "Opportunity",
    "00Q": "Lead",
    "00T": "Task",
    "00U": "Event",
    "01J": "OpportunityStage",
}
# Common objects a Task/Event or an export may point at that this import does not read; the
# name only makes warnings and row errors readable.
OTHER_PREFIXES = {
    "005": "User",
    "00G": "Group",
    "00D": "Organization",
    "500": "Case",
    "501": "Solution",
    "701": "Campaign",
    "800": "Contract",
    "801": "Order",
    "01t": "Product2",
    "02i": "Asset",
    "0Q0": "Quote",
}


def is_salesforce_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value))


def to_18(value: str) -> str:
    """The 18-character form of a 15-character id; an 18-character id (or anything that is not
    an id) is returned unchanged."""
    if len(value) != 15 or not _ID_RE.match(value):
        return value
    suffix = ""
    for start in range(0, 15, 5):
        bits = 0
        for position, char in enumerate(value[start:start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return value + suffix


def object_of(value: str) -> str | None:
    """The object an id's key prefix names, or None when `value` is not a Salesforce id."""
    if not is_salesforce_id(value):
        return None
    prefix = value[:3]
    if prefix in IMPORTED_PREFIXES:
        return IMPORTED_PREFIXES[prefix]
    if prefix in OTHER_PREFIXES:
        return OTHER_PREFIXES[prefix]
    # Custom objects get prefixes starting with "a" (a00-a0Z, a10...); others are objects this
    # import has no name for.
    if prefix.startswith("a"):
        return f"custom object (key prefix {prefix})"
    return f"object with key prefix {prefix}"
