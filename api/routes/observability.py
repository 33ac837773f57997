"""Request ids, access log lines, HTTP metrics and the Prometheus `/metrics` endpoint.

`init_app` must run before any other before_request hook is installed (api/app.py calls it
ahead of authentication), so even a 401 or a 429 carries an id in its logs and in its
X-Request-ID header.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, g, request

from shared.config import get_settings
from shared.errors import Forbidden, NotFound, Unauthorized
from shared.logging_setup import log_context
from shared.metrics import observe_request, render

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("drippulse.access")

REQUEST_ID_HEADER = "X-Request-ID"
# an id from a proxy or client is kept only if it is short and harmless in a log line
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET_PATHS = ("/metrics", "/healthz", "/readyz")


def _start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    g.log_token = log_context.set({**(log_context.get() or {}), "request_id": g.request_id})


def _finish_request(response: Response) -> Response:
    request_id = getattr(g, "request_id", None)
    if request_id is None:
        return response
    response.headers[REQUEST_ID_HEADER] = request_id
    seconds = time.perf_counter() - g.request_started
    # the route template, never the raw path: ids in paths would explode label cardinality
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    observe_request(request.method, route, response.status_code, seconds)
    level = logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO
    access_log.log(level, "%s %s %s %.1fms", request.method, request.path,
                   response.status_code, seconds * 1000)
    return response


def _reset_context(_exc: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        try:
            log_context.reset(token)
        except ValueError:  # set in another context (should not happen); nothing to undo
            pass


def init_app(app: Flask) -> None:
    """Install the request-id, access-log and metrics hooks (the /metrics route is `bp`)."""
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_reset_context)


# headers a reverse proxy adds: a request carrying one was relayed, so the loopback peer is the
# proxy, not the client, and must not count as "local"
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:  # a unix socket peer or no address at all: not provably local
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack listener
    return (mapped or ip).is_loopback


def _check_metrics_access() -> None:
    """Closed by default. With DRIPPULSE_METRICS_TOKEN: that bearer token, from anywhere.
    Without it: refused in production or behind a declared proxy (404, as if absent), else only
    a direct loopback peer."""
    settings = get_settings()
    token = settings.metrics_token
    if token:
        # constant-time compare: the token must not leak through response timing
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                   f"Bearer {token}".encode()):
            raise Unauthorized("GET /metrics needs the DRIPPULSE_METRICS_TOKEN bearer token")
        return
    # behind a proxy (DRIPPULSE_TRUSTED_PROXIES > 0) loopback proves nothing: one on this host
    # that adds no X-Forwarded-For makes every internet client's peer 127.0.0.1
    if settings.production or settings.trusted_proxies > 0:
        raise NotFound("GET /metrics is not configured: set DRIPPULSE_METRICS_TOKEN",
                       code="not_configured")
    if not _is_loopback(request.remote_addr) or any(h in request.headers for h in _PROXY_HEADERS):
        raise Forbidden("Without DRIPPULSE_METRICS_TOKEN, GET /metrics answers only requests "
                        "from this host's loopback interface")


@bp.get("/metrics")
def metrics() -> Response:
    _check_metrics_access()
    body, content_type = render()
    return Response(body, content_type=content_type)
