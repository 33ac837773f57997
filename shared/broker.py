"""The Redis broker as seen from outside Celery: reachability and queue depth."""
from __future__ import annotations

from functools import lru_cache

import redis

from shared.config import get_settings

DEFAULT_URL = "redis://127.0.0.1:6379/0"


@lru_cache(maxsize=16)
def _client(url: str, timeout: float) -> redis.Redis:
    # one connection pool per URL and timeout, reused across calls (redis-py resets a pool
    # inherited through fork, so worker processes get their own connections)
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def redis_client(timeout: float = 2) -> redis.Redis:
    return _client(get_settings().redis_url or DEFAULT_URL, timeout)


def ping_broker() -> bool:
    try:
        return bool(redis_client().ping())
    except redis.RedisError:
        return False
