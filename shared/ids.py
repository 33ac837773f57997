"""Identifiers: time-ordered UUIDs for keys, prefixed public_ids for people and integrations."""
from __future__ import annotations

import os
import secrets
import time
import uuid

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

PREFIXES = {
    "account": "acct",
    "contact": "cnt",
    "opportunity": "opp",
    "lead": "lead",
    "activity": "act",
    "pipeline": "pipe",
    "stage": "stg",
}


def uuid7() -> uuid.UUID:
    """UUIDv7: time-ordered, so new rows land at the right edge of the primary-key index."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def mint_public_id(kind: str) -> str:
    """A prefix naming the entity plus 20 random base-36 characters (~103 bits)."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(20))
    return f"{PREFIXES[kind]}_{suffix}"


def parse_uuid(value: object) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
