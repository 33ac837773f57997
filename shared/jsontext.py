"""JSON text of values that came from a bundle: orjson, with the stdlib as the exact fallback.

orjson refuses integers beyond 64 bits (jsonb numerics export as such) and unpaired surrogates;
the stdlib writes both, so a row that is legal JSON never fails to serialize.
"""
from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":")).encode()
