"""Browser-facing answers outside the pages themselves: the favicon, HTML error pages for bad
dashboard URLs (the API keeps its JSON errors), and a job's own page."""
from __future__ import annotations

from tests.dashboard.conftest import sign_in


def test_favicon_answers_for_everyone(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200
    assert resp.mimetype == "image/svg+xml"
    assert resp.data.startswith(b"<svg")


def test_a_bad_dashboard_url_is_an_html_page_in_the_app_shell(client, member):
    sign_in(client, member["admin_email"], member["password"])
    for path in ("/app/no-such-page", "/app/crm/widgets", "/app/jobs/x/y"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.mimetype == "text/html", path
        html = resp.get_data(as_text=True)
        assert 'data-testid="error-page"' in html and "Page not found" in html
        # the shell: sidebar and the signed-in user, and the strict CSP of every page
        assert 'id="sidebar"' in html and member["admin_email"] in html
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    html = client.get("/app/crm/widgets").get_data(as_text=True)
    assert '<p class="status-code">404</p>' in html and "<p>No such CRM section: widgets</p>" in html


def test_api_urls_keep_json_errors(client, member):
    sign_in(client, member["admin_email"], member["password"])
    for path in ("/api/v1/crm/widgets", "/api/v1/crm/accounts/acct_missing", "/nowhere"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.is_json and resp.json["error"]["code"], path


def test_a_bad_dashboard_url_signed_out_asks_to_sign_in_first(client):
    resp = client.get("/app/no-such-page")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=/app/no-such-page")


def test_a_job_has_a_page_of_its_own(client, member):
    sign_in(client, member["admin_email"], member["password"])
    resp = client.get("/app/jobs/0190a4b8-0000-7000-8000-000000000000")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '"job_id": "0190a4b8-0000-7000-8000-000000000000"' in html
    assert "job_page.js" in html and "undo.js" in html


def test_change_history_names_the_user_behind_an_actor(client, member):
    from tests.dashboard.conftest import page_csrf

    sign_in(client, member["admin_email"], member["password"])
    resp = client.post("/api/v1/crm/accounts", json={"name": "Initech"},
                       headers={"X-CSRF-Token": page_csrf(client)})
    assert resp.status_code == 201, resp.json
    by_key = client.post("/api/v1/crm/accounts", json={"name": "Globex"},
                         headers=member["headers"])
    assert by_key.status_code == 201
    events = {e["public_id"]: e for e in client.get("/api/v1/crm/change_events").json["items"]}
    mine = events[resp.json["public_id"]]
    assert mine["actor"].startswith("user:") and mine["actor_email"] == member["admin_email"]
    assert events[by_key.json["public_id"]]["actor_email"] is None  # an API key, not a person


def test_a_wrong_method_names_the_allowed_ones_on_the_html_page_and_in_json(client, member):
    sign_in(client, member["admin_email"], member["password"])
    for path in ("/app/jobs", "/app/changes"):
        resp = client.delete(path)
        assert resp.status_code == 405, path
        assert resp.mimetype == "text/html", path
        assert 'data-testid="error-page"' in resp.get_data(as_text=True)
        assert "GET" in resp.headers["Allow"].split(", "), path
    resp = client.put("/api/v1/crm/change_events", headers=member["headers"], json={})
    assert resp.status_code == 405 and resp.is_json
    assert resp.json["error"]["code"] == "method_not_allowed"
    assert "GET" in resp.headers["Allow"].split(", ")
