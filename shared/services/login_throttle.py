"""Failed dashboard sign-ins, counted per (email, client IP) in Redis.

A password guesser gets MAX_FAILURES tries per WINDOW_SECONDS for one email from one address;
then every attempt is refused before the password is even checked. Counting email and IP
together means an attacker cannot lock a real user out from the user's own network.
"""
from __future__ import annotations

import hashlib
import logging

import redis

from shared.broker import redis_client
from shared.config import get_settings

log = logging.getLogger(__name__)

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _key(email: str, ip: str) -> str:
    # Hashed so the key space holds no email addresses; prefixed so parallel test sessions
    # and several deployments on one Redis never share counters.
    digest = hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()
    return f"{get_settings().celery_queue_prefix}drippulse:login-fail:{digest}"


def retry_after(email: str, ip: str) -> int:
    """Seconds until this email+IP may try again; 0 when it may try now."""
    try:
        client = redis_client()
        count = int(client.get(_key(email, ip)) or 0)
        if count < MAX_FAILURES:
            return 0
        return max(1, int(client.ttl(_key(email, ip))))
    except redis.RedisError:
        # Without Redis nothing else works either (it is the broker); do not also lock
        # everyone out of the dashboard, but leave a trace.
        log.warning("login throttle unavailable: Redis error", exc_info=True)
        return 0


def record_failure(email: str, ip: str) -> None:
    try:
        client = redis_client()
        key = _key(email, ip)
        with client.pipeline() as pipe:
            pipe.incr(key)
            pipe.ttl(key)
            _, ttl = pipe.execute()
        if ttl < 0:  # first failure of a window (EXPIRE NX needs Redis 7; embedded is older)
            client.expire(key, WINDOW_SECONDS)
    except redis.RedisError:
        log.warning("login throttle unavailable: Redis error", exc_info=True)


def clear(email: str, ip: str) -> None:
    try:
        redis_client().delete(_key(email, ip))
    except redis.RedisError:
        log.warning("login throttle unavailable: Redis error", exc_info=True)
