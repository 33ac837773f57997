"""Per-organization request budget in Redis: a sliding window over two fixed minute counters.

The estimate is `previous_minute * (1 - elapsed_fraction) + current_minute`, the usual
"sliding window counter": two keys per organization, one INCR per request, no sorted sets.
Redis trouble never blocks CRUD (Postgres is the system of record): the limiter fails open,
logs once, and leaves Redis alone for a few seconds so a dead broker costs no latency.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import redis

from shared.broker import redis_client
from shared.config import Settings, get_settings

log = logging.getLogger("drippulse.ratelimit")

WINDOW_SECONDS = 60
BACKOFF_SECONDS = 5.0  # how long to skip Redis after it failed


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until a request would be allowed again (0 when allowed)


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limit = settings.rate_limit_per_minute
        self.prefix = f"{settings.celery_queue_prefix}drippulse:ratelimit:"
        # a short timeout: a slow Redis must not slow every API request
        self._client = redis_client(timeout=0.5)
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def hit(self, organization_id: object, now: float | None = None) -> Decision:
        """Count one request for the organization and say whether it is within budget."""
        if self.limit <= 0:
            return Decision(True, 0, 0, 0)
        if time.monotonic() < self._skip_until:
            return Decision(True, self.limit, self.limit, 0)
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        elapsed = (now % WINDOW_SECONDS) / WINDOW_SECONDS
        current_key = f"{self.prefix}{organization_id}:{window}"
        previous_key = f"{self.prefix}{organization_id}:{window - 1}"
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.incr(current_key)
            pipe.expire(current_key, 2 * WINDOW_SECONDS)
            pipe.get(previous_key)
            current, _, previous = pipe.execute()
        except redis.RedisError as exc:
            self._fail_open(exc)
            return Decision(True, self.limit, self.limit, 0)
        previous = int(previous or 0)
        estimate = previous * (1 - elapsed) + int(current)
        if estimate <= self.limit:
            return Decision(True, self.limit, int(self.limit - estimate), 0)
        return Decision(False, self.limit, 0, _retry_after(previous, int(current), elapsed,
                                                           self.limit))

    def _fail_open(self, exc: Exception) -> None:
        with self._lock:
            if time.monotonic() >= self._skip_until:
                log.warning("rate limiter cannot reach Redis (%s); allowing requests for %.0fs",
                            type(exc).__name__, BACKOFF_SECONDS)
            self._skip_until = time.monotonic() + BACKOFF_SECONDS


def _retry_after(previous: int, current: int, elapsed: float, limit: int) -> int:
    """Seconds until the sliding estimate falls back under the limit (at least 1)."""
    if current > limit:
        # the current minute alone is over budget: wait for the next one, then for the
        # carried-over share of this one to decay below the limit
        wait_fraction = (1 - elapsed) + max(0.0, 1 - limit / current)
    else:
        # previous * (1 - t) + current <= limit  →  t >= 1 - (limit - current) / previous
        wait_fraction = max(0.0, (1 - (limit - current) / previous) - elapsed) if previous else 0
    return max(1, math.ceil(wait_fraction * WINDOW_SECONDS))


_limiter: RateLimiter | None = None


def get_limiter() -> RateLimiter:
    """The process's limiter, rebuilt when settings are replaced (tests, reconfiguration)."""
    global _limiter
    settings = get_settings()
    if _limiter is None or _limiter.settings is not settings:
        _limiter = RateLimiter(settings)
    return _limiter
