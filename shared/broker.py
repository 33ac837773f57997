"""The Redis broker as seen from outside Celery: reachability and queue depth."""
from __future__ import annotations

import redis

from shared.config import get_settings


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url or "redis://127.0.0.1:6379/0",
                                socket_timeout=2, socket_connect_timeout=2)


def ping_broker() -> bool:
    try:
        return bool(redis_client().ping())
    except redis.RedisError:
        return False
