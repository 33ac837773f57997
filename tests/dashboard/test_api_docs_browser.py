"""/api/docs in a real browser: Swagger UI runs from the app's own files under its strict CSP
(no console error, no request to another host) and shows the operations with their schemas."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import screenshot

pytestmark = pytest.mark.slow


def test_reference_page_renders_offline_within_the_csp(page, live_server):
    errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: None if r.url.startswith((live_server, "data:"))
            else foreign.append(r.url))

    resp = page.goto("/api/docs")
    assert resp is not None and "script-src 'self'" in resp.headers["content-security-policy"]
    page.wait_for_selector(".opblock-tag-section")
    assert page.locator(".opblock").count() >= 40
    for path in ("/api/v1/crm/accounts", "/api/v1/crm/import", "/api/v1/crm/jobs/{job_id}"):
        assert page.locator(f".opblock-summary-path[data-path='{path}']").count() >= 1, path

    # Swagger UI's own stylesheet applies (the CSP would have blocked an inline one)
    color = page.locator(".opblock-get").first.evaluate(
        "el => getComputedStyle(el).backgroundColor")
    assert color not in ("rgba(0, 0, 0, 0)", "transparent"), color

    # an operation opens on its request body and its response schema, with an example
    post = page.locator("#operations-accounts-post_api_v1_crm_accounts")
    post.locator(".opblock-summary").click()
    post.locator(".opblock-body").wait_for()
    body = post.locator(".opblock-body").inner_text()
    assert "Request body" in body and "Responses" in body and "Acme" in body
    screenshot(page, "api-docs")
    assert errors == [] and foreign == [], (errors, foreign)
