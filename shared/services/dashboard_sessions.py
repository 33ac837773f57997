"""Server-side limits on dashboard sessions, which are otherwise signed cookies.

A signed cookie stays valid wherever a copy of it exists, even after its owner signed out.
Each session gets a random id; signing out records that id as revoked in Redis until the
session would have expired anyway, and a session older than MAX_AGE_SECONDS is refused.
"""
from __future__ import annotations

import logging
import secrets
import time

import redis

from shared.broker import redis_client
from shared.config import get_settings

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 12 * 3600


def _key(session_id: str) -> str:
    return f"{get_settings().celery_queue_prefix}drippulse:session-revoked:{session_id}"


def new_session() -> dict[str, object]:
    """The values a fresh session stores: its id and when it started."""
    return {"sid": secrets.token_urlsafe(16), "started": int(time.time())}


def expired(started: object) -> bool:
    return not isinstance(started, int) or time.time() - started > MAX_AGE_SECONDS


def revoke(session_id: str | None) -> None:
    if not session_id:
        return
    try:
        redis_client().set(_key(session_id), 1, ex=MAX_AGE_SECONDS)
    except redis.RedisError:
        log.warning("could not record a signed-out session: Redis error", exc_info=True)


def revoked(session_id: str | None) -> bool:
    if not session_id:
        return True
    try:
        return bool(redis_client().exists(_key(session_id)))
    except redis.RedisError:
        # The broker is down, so is most of the product; do not sign everyone out too.
        log.warning("could not check session revocation: Redis error", exc_info=True)
        return False
