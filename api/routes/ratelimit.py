"""Request budget per organization: over budget → 429 with Retry-After.

Installed as an app-wide before_request hook from this blueprint; blueprints register after
api.context, so authentication has already resolved the organization when this runs.
"""
from __future__ import annotations

from flask import Blueprint, Response, g

from shared.errors import RateLimited
from shared.ratelimit import get_limiter

bp = Blueprint("ratelimit", __name__)


@bp.before_app_request
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


@bp.after_app_request
def budget_headers(response: Response) -> Response:
    decision = getattr(g, "rate_limit", None)
    if decision is not None and decision.limit:
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    return response
