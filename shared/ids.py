"""Identifiers: time-ordered UUIDs for keys, prefixed public_ids for people and integrations."""
from __future__ import annotations

import os
import secrets
import threading
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


_RAND_BITS = 74  # rand_a (12 bits) + rand_b (62 bits)
_last = (0, 0)  # (milliseconds, random bits) of the last id made by this process
_lock = threading.Lock()


def uuid7() -> uuid.UUID:
    """UUIDv7: time-ordered, so new rows land at the right edge of the primary-key index.

    Monotonic within a process (RFC 9562, 6.2 method 2): ids made in the same millisecond
    count up from the first one's random bits instead of being random among themselves, so
    "ordered by id" is creation order (exports and lists rely on it)."""
    global _last
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big") & ((1 << _RAND_BITS) - 1)
    with _lock:
        last_ms, last_rand = _last
        if ms <= last_ms:  # same millisecond, or the clock stepped back
            ms, rand = last_ms, last_rand + 1
            if rand >> _RAND_BITS:  # 2**74 ids in one millisecond: borrow the next one
                ms, rand = ms + 1, 0
        _last = (ms, rand)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 62) << 64
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
