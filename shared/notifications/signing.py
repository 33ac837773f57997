"""The DripPulse-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

The timestamp is inside the signed text so a receiver can refuse replays older than a few
minutes; `v1` names the scheme so another can be added beside it without breaking receivers.
"""
from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "DripPulse-Signature"
DELIVERY_HEADER = "DripPulse-Delivery"
EVENT_HEADER = "DripPulse-Event"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does (docs/notifications.md has the same few lines to copy)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))
