"""Dashboard sign-in, sessions and CSRF through the Flask test client."""
from __future__ import annotations

import gzip
import io
import json

from flask import url_for

from shared import db
from shared.models import users
from shared.services import dashboard_sessions
from tests.dashboard.conftest import login_form_token, page_csrf, sign_in

GENERIC = "Invalid email or password."


def test_sign_in_shows_the_app_shell_with_org_and_email(client, member):
    resp = sign_in(client, member["admin_email"], member["password"])
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/app")
    page = client.get("/app/crm/accounts")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert member["name"] in html and member["admin_email"] in html
    for label in ("Accounts", "Contacts", "Leads", "Opportunities", "Activities",
                  "Import &amp; export", "Jobs", "Change history"):
        assert label in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # The dashboard's scripts reach the JSON API with the session cookie alone.
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json["organization_id"] == member["organization_id"]
    assert me.json["actor"].startswith("user:")


def test_bad_password_and_unknown_email_get_the_same_generic_message(client, member):
    wrong = sign_in(client, member["admin_email"], "not the password")
    unknown = sign_in(client, "nobody@example.com", member["password"])
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert GENERIC in resp.get_data(as_text=True)
    assert client.get("/app/jobs").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_pages_redirect_to_sign_in_and_back(client, member):
    resp = client.get("/app/jobs")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=/app/jobs")
    token = login_form_token(client)
    back = client.post("/login", data={"email": member["admin_email"],
                                       "password": member["password"],
                                       "csrf_token": token, "next": "/app/jobs"})
    assert back.headers["Location"] == "/app/jobs"
    # Only our own pages: an absolute URL in `next` is ignored.
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    token = login_form_token(client)
    away = client.post("/login", data={"email": member["admin_email"],
                                       "password": member["password"],
                                       "csrf_token": token, "next": "//evil.example/app"})
    assert away.headers["Location"] == "/app/"


def test_login_form_without_csrf_token_is_refused(client, member):
    client.get("/login")
    resp = client.post("/login", data={"email": member["admin_email"],
                                       "password": member["password"]})
    assert resp.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


def test_session_api_writes_need_the_csrf_header_but_bearer_calls_do_not(client, member):
    sign_in(client, member["admin_email"], member["password"])
    token = page_csrf(client)
    refused = client.post("/api/v1/crm/accounts", json={"name": "Initech"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "csrf_failed"
    forged = client.post("/api/v1/crm/accounts", json={"name": "Initech"},
                         headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    created = client.post("/api/v1/crm/accounts", json={"name": "Initech"},
                          headers={"X-CSRF-Token": token})
    assert created.status_code == 201
    assert client.get("/api/v1/crm/accounts").json["items"][0]["name"] == "Initech"
    # A bearer token is not ambient authority: no CSRF header needed, and it wins over the cookie.
    by_token = client.post("/api/v1/crm/accounts", json={"name": "Hooli"},
                           headers=member["headers"])
    assert by_token.status_code == 201
    history = client.get("/api/v1/crm/change_events", query_string={"record_type": "account"})
    assert {e["actor"].split(":")[0] for e in history.json["items"]} == {"user", "api_key"}


def test_the_upload_form_path_accepts_a_gzipped_bundle_with_the_session(client, member):
    sign_in(client, member["admin_email"], member["password"])
    bundle = gzip.compress(json.dumps({"version": 1, "accounts": [{"name": "Globex"}]}).encode())
    resp = client.post("/api/v1/crm/import?dry_run=true",
                       headers={"X-CSRF-Token": page_csrf(client)},
                       data={"file": (io.BytesIO(bundle), "bundle.json.gz")},
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.json
    assert resp.json["kind"] == "import" and resp.json["dry_run"] is True


def test_logout_ends_the_session(client, member):
    sign_in(client, member["admin_email"], member["password"])
    token = page_csrf(client)
    assert client.post("/logout", data={}).status_code == 403  # logout needs the token too
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert client.get("/app/jobs").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_a_copied_session_cookie_dies_with_sign_out_and_with_age(client, app, member):
    sign_in(client, member["admin_email"], member["password"])
    copy = app.test_client()
    copy.set_cookie("drippulse_session", client.get_cookie("drippulse_session").value)
    assert copy.get("/api/v1/me").status_code == 200
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert copy.get("/api/v1/me").status_code == 401
    # A session that is older than its maximum age is refused even if never signed out.
    sign_in(client, member["admin_email"], member["password"])
    with client.session_transaction() as stored:
        stored["started"] -= dashboard_sessions.MAX_AGE_SECONDS + 60
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/app/jobs").status_code == 302


def test_failed_sign_ins_are_rate_limited_per_email_and_address(client, app, member):
    for _ in range(5):
        assert sign_in(client, member["admin_email"], "wrong password").status_code == 401
    blocked = sign_in(client, member["admin_email"], member["password"])
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) > 0
    assert client.get("/api/v1/me").status_code == 401
    # The same user from another address is not locked out by someone else's guessing.
    elsewhere = app.test_client()
    ok = sign_in(elsewhere, member["admin_email"], member["password"],
                 environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert ok.status_code == 302


def test_every_sidebar_page_renders_for_a_signed_in_user(client, member):
    sign_in(client, member["admin_email"], member["password"])
    for path in ("/app/crm/accounts", "/app/crm/contacts", "/app/crm/leads",
                 "/app/crm/opportunities", "/app/crm/activities", "/app/import-export",
                 "/app/jobs", "/app/changes", "/app/crm/contacts/new",
                 "/app/crm/accounts/acct_x/edit", "/app/crm/leads/lead_x"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert 'id="page-data"' in resp.get_data(as_text=True)
    assert client.get("/app/crm/widgets").status_code == 404


def test_a_deactivated_user_is_signed_out_at_once(client, member):
    sign_in(client, member["admin_email"], member["password"])
    assert client.get("/api/v1/me").status_code == 200
    with db.transaction() as conn:
        conn.execute(users.update().where(users.c.email == member["admin_email"])
                     .values(is_active=False))
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/app/jobs").status_code == 302


def test_every_dashboard_page_redirects_to_sign_in_when_signed_out(client, app, member):
    # Taken from the URL map, so a page added later is covered without touching this test.
    values = {"plural": "accounts", "record_id": "acct_x", "job_id": "x"}
    with app.test_request_context():
        paths = [url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
                 for rule in app.url_map.iter_rules()
                 if rule.endpoint.startswith("dashboard.") and "GET" in rule.methods]
    assert len(paths) >= 8
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert resp.headers["Location"].startswith("/login?next=/app"), path
    # Also after signing out, not just before ever signing in.
    sign_in(client, member["admin_email"], member["password"])
    assert client.get("/app/jobs").status_code == 200
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    for path in paths:
        assert client.get(path).status_code == 302, path
