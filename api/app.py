"""Flask application factory: configuration, the request pipeline's hooks, then the blueprints.

Nothing here is discovered: every hook and blueprint is named below, in the order it runs.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import context, errors, ratelimit, session_auth
from api.routes import (
    api_docs,
    bundles_export,
    bundles_import,
    change_events,
    dashboard,
    dashboard_auth,
    health,
    job_events,
    jobs,
    mappings,
    me,
    observability,
    openapi,
    pipelines,
    records,
    webhooks,
)
from shared.config import Settings, get_settings, set_settings
from shared.logging_setup import configure_logging


def create_app(settings: Settings | None = None) -> Flask:
    if settings is not None:
        set_settings(settings)
    settings = get_settings()
    settings.check()
    configure_logging(settings)

    app = Flask(__name__)
    app.config.update(
        # sessions sign with a key of their own (JWTs use SECRET_KEY itself: the API contract)
        SECRET_KEY=settings.derived_key("session"),
        MAX_CONTENT_LENGTH=None,  # uploads are streamed and limited by the import route itself
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        SESSION_COOKIE_NAME="drippulse_session",
    )
    app.json.sort_keys = False
    # Behind N reverse proxies, believe the last N hops of X-Forwarded-For/-Proto/-Host, so
    # remote_addr (the sign-in budgets' address) is the client's; with 0 a client's forged
    # header changes nothing.
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    # The request pipeline. Flask runs before_request hooks in the order they are installed
    # (app-wide ones before a blueprint's own) and after_request hooks in the reverse order.
    #
    # Error handlers first, so that a failure in any hook below (401, 403, 429) leaves as JSON.
    errors.init_app(app)
    # After-request only; installed before the others so that it runs last. It fills only
    # headers nobody set, so it never overrides what a route or another hook chose.
    app.after_request(dashboard_auth.security_headers)
    # Request id before anything can refuse the request: a 401 or a 429 carries an id in its
    # log line and its X-Request-ID header, and is counted in the metrics.
    observability.init_app(app)
    # Authentication sets g.principal for /api/v1; the dashboard's session cookie is tried
    # before the bearer token (a request carrying a token never uses the cookie).
    context.init_app(app)
    session_auth.init_app(app)
    # The budget (flask-limiter) is the authenticated organization's, so it is charged after
    # authentication; a request refused with 401 spends none.
    ratelimit.init_app(app)

    # The blueprints. With the hooks above installed here rather than by blueprints, the order
    # no longer matters (werkzeug matches the most specific rule whatever the order); it is
    # the site map: probes, the JSON API, its documentation, the dashboard.
    app.register_blueprint(health.bp)  # /healthz, /readyz
    app.register_blueprint(observability.bp)  # /metrics
    app.register_blueprint(openapi.bp)  # /api/v1/openapi.json (no token needed)
    app.register_blueprint(me.bp)  # /api/v1/me
    app.register_blueprint(records.bp)  # /api/v1/crm/<accounts|contacts|...>
    app.register_blueprint(pipelines.bp)
    app.register_blueprint(change_events.bp)
    app.register_blueprint(bundles_import.bp)
    app.register_blueprint(bundles_export.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(job_events.bp)  # /api/v1/crm/jobs/<id>/events (server-sent events)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(mappings.bp)  # /api/v1/crm/mappings (saved CSV mappings)
    app.register_blueprint(api_docs.bp)  # /api/docs
    app.register_blueprint(dashboard_auth.bp)  # /, /login, /logout
    app.register_blueprint(dashboard.bp)  # /app/...
    return app
