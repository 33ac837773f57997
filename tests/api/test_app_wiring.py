"""The app factory's wiring: which blueprints, which app-wide hooks, and in what order they run.

The order is load-bearing (a 401 or 429 must already carry a request id; the budget charged is
the authenticated organization's), so it is pinned here and changes only on purpose.
"""
from __future__ import annotations

import re
import secrets

from api import context, ratelimit, session_auth
from api.routes import dashboard_auth, observability
from shared.services import organizations
from tests.conftest import replace_settings

EXPECTED_BLUEPRINTS = [
    "health", "observability", "openapi", "me", "records", "pipelines", "change_events",
    "bundles_import", "bundles_export", "jobs", "job_events", "webhooks", "mappings", "api_docs",
    "dashboard_auth", "dashboard",
]


def test_blueprints_are_exactly_the_expected_ones_in_order(app):
    assert list(app.blueprints) == EXPECTED_BLUEPRINTS


def _installed_by(limiter, hook) -> bool:
    """The hook is one flask-limiter installed for this Limiter (a bound method or a partial)."""
    owner = getattr(hook, "__self__", None) or (getattr(hook, "args", None) or (None,))[0]
    return owner is limiter


def test_app_wide_hooks_are_installed_in_pipeline_order(app):
    limiter = ratelimit.limiter_of(app)
    before = app.before_request_funcs[None]
    # request id, authentication, then flask-limiter's check of the organization's budget
    assert before[:2] == [observability._start_request, context.authenticate]
    assert len(before) == 3 and _installed_by(limiter, before[2])
    # after_request hooks run in reverse: rate-limit headers, flask-limiter's own (it writes no
    # headers here), access log, security headers
    after = app.after_request_funcs[None]
    assert after[:2] == [dashboard_auth.security_headers, observability._finish_request]
    assert len(after) == 4 and _installed_by(limiter, after[2])
    assert after[3] is ratelimit.budget_headers
    teardown = app.teardown_request_funcs[None]
    assert teardown[0] is observability._reset_context
    assert len(teardown) == 2 and _installed_by(limiter, teardown[1])


def test_the_session_principal_is_an_authentication_source_not_an_app_attribute(app):
    assert context.authentication(app).sources == [session_auth.session_principal]
    assert not hasattr(app, "session_principal")


def test_unauthenticated_crm_call_is_a_json_401_with_a_request_id(client):
    resp = client.get("/api/v1/crm/accounts", headers={"X-Request-ID": "wiring-401"})
    assert resp.status_code == 401
    assert resp.is_json and resp.json["error"]["code"] == "unauthorized"
    assert resp.headers["X-Request-ID"] == "wiring-401"
    assert "X-RateLimit-Limit" not in resp.headers  # refused before the budget is charged
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_over_budget_is_a_json_429_with_a_request_id(client, org, fresh_settings):
    replace_settings(fresh_settings, rate_limit_per_minute=1)
    assert client.get("/api/v1/crm/accounts", headers=org["headers"]).status_code == 200
    resp = client.get("/api/v1/crm/accounts",
                      headers={**org["headers"], "X-Request-ID": "wiring-429"})
    assert resp.status_code == 429
    assert resp.json["error"]["code"] == "rate_limited"
    assert resp.headers["X-Request-ID"] == "wiring-429"
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.headers["X-RateLimit-Limit"] == "1"
    assert resp.headers["X-RateLimit-Remaining"] == "0"


def test_session_write_without_csrf_is_refused_by_authentication_before_the_budget(
        client, settings):
    email = f"wiring-{secrets.token_hex(4)}@example.com"
    organizations.create_organization(f"Wiring {secrets.token_hex(3)}", admin_email=email,
                                      admin_password="correct horse battery")
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed_in = client.post("/login", data={"email": email, "password": "correct horse battery",
                                            "csrf_token": token})
    assert signed_in.status_code == 302

    me = client.get("/api/v1/me")  # the cookie authenticates the JSON API
    assert me.status_code == 200 and me.json["actor"].startswith("user:")
    refused = client.post("/api/v1/crm/accounts", json={"name": "Initech"},
                          headers={"X-Request-ID": "wiring-403"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "csrf_failed"
    assert refused.headers["X-Request-ID"] == "wiring-403"
    assert "X-RateLimit-Limit" not in refused.headers


def test_dashboard_pages_and_probes_spend_no_budget_and_get_security_headers(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert len(page.headers["X-Request-ID"]) == 32
    probe = client.get("/healthz")
    assert probe.status_code == 200 and "X-RateLimit-Limit" not in probe.headers
