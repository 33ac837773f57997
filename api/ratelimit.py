"""Request budget per organization: over budget → 429 with Retry-After.

Not a blueprint: `init_app` installs app-wide hooks. It must run after api.context's, because
the budget is the organization's that authentication has put in g.principal.
"""
from __future__ import annotations

from flask import Flask, Response, g

from shared.errors import RateLimited
from shared.ratelimit import get_limiter


def init_app(app: Flask) -> None:
    app.before_request(enforce_budget)
    app.after_request(budget_headers)


def enforce_budget() -> None:
    principal = getattr(g, "principal", None)
    if principal is None:  # health probes, metrics, dashboard pages: not tenant API calls
        return
    decision = get_limiter().hit(principal.organization_id)
    g.rate_limit = decision
    if not decision.allowed:
        raise RateLimited(
            f"Request budget of {decision.limit} per minute exceeded for this organization; "
            f"retry after {decision.retry_after}s", retry_after=decision.retry_after)


def budget_headers(response: Response) -> Response:
    decision = getattr(g, "rate_limit", None)
    if decision is not None and decision.limit:
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    return response
