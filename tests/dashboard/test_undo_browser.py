"""Undo an import from the Jobs page in a real browser: preview first, then the undo."""
from __future__ import annotations

import pytest

from tests.bundles.helpers import bundle, import_and_wait, rows
from tests.dashboard.conftest import browser_sign_in, screenshot

pytestmark = pytest.mark.slow


def test_undo_an_import_with_its_preview(page, member, client, worker):
    org = member
    assert client.post("/api/v1/crm/accounts", headers=org["headers"], json={
        "public_id": "acct_old", "name": "Old name"}).status_code == 201
    job = import_and_wait(client, org, bundle(accounts=[
        {"public_id": "acct_old", "name": "New name"},
        {"public_id": "acct_made", "name": "Made by the import"}]))
    browser_sign_in(page, member)
    page.goto("/app/jobs")
    page.locator(f'tr[data-job-id="{job["id"]}"] a').click()
    page.locator("[data-testid=undo-import]").click()
    preview = page.locator("[data-testid=undo-preview]")
    preview.wait_for(timeout=30_000)
    assert "1 row(s) the import created would be deleted" in preview.inner_text()
    assert "1 row(s) it updated get their earlier values back" in preview.inner_text()
    assert {r["name"] for r in rows(org, "accounts")} == {"New name", "Made by the import"}
    screenshot(page, "undo-preview")
    page.locator("[data-testid=undo-confirm]").click()
    result = page.locator("[data-testid=undo-result]")
    result.wait_for(timeout=30_000)
    assert "1 deleted, 1 restored" in result.inner_text()
    screenshot(page, "undo-done")
    accounts = {r["public_id"]: r for r in rows(org, "accounts")}
    assert accounts["acct_old"]["name"] == "Old name"
    assert accounts["acct_made"]["deleted_at"] is not None
