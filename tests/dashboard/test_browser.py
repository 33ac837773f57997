"""The dashboard in a real browser against a real server (and the session's real worker).

Few tests, each a whole user journey; every wait is on a selector or a response, never a sleep.
"""
from __future__ import annotations

import json

from tests.dashboard.conftest import browser_sign_in


def _column(page, stage_name: str):
    return page.locator(f'section.column[data-stage-name="{stage_name}"]')


def test_sign_in_and_create_a_contact_through_the_form(page, member):
    browser_sign_in(page, member)
    assert page.locator("[data-testid=org-name]").inner_text() == member["name"]
    page.click("nav >> text=Contacts")
    page.click("#new-record")
    page.fill("#f-first_name", "Ada")
    page.fill("#f-last_name", "Lovelace")
    page.fill("#f-email", "not-an-email")
    page.click("#save")
    # The API's 422 lands next to the field it is about.
    error = page.locator('[data-error-for="email"]')
    error.filter(has_text="email").wait_for()
    page.fill("#f-email", "ada@example.com")
    page.click("#save")
    page.wait_for_url("**/app/crm/contacts/cnt_*")
    page.locator("#record-title", has_text="Ada Lovelace").wait_for()
    page.locator("#history li", has_text="created").wait_for()
    # It is in the list, and search finds it.
    page.click("nav >> text=Contacts")
    page.fill("input[name=q]", "lovelace")
    page.click("#search button[type=submit]")
    page.locator("#records tbody tr", has_text="Ada Lovelace").wait_for()


def test_drag_a_kanban_card_to_another_stage_survives_reload(page, member, client):
    for name, amount in (("Alpha deal", "100.00"), ("Beta deal", "250.50")):
        resp = client.post("/api/v1/crm/opportunities", headers=member["headers"],
                           json={"name": name, "amount": amount, "currency": "USD"})
        assert resp.status_code == 201, resp.json
    browser_sign_in(page, member)
    page.goto("/app/crm/opportunities")
    page.locator("#board[data-ready=true]").wait_for()
    unassigned, prospect = _column(page, "Unassigned"), _column(page, "Prospect")
    assert unassigned.locator("[data-testid=column-count]").inner_text() == "2"
    card = unassigned.locator(".opp-card", has_text="Beta deal")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 200):
        card.drag_to(prospect.locator(".cards"))
    page.reload()
    page.locator("#board[data-ready=true]").wait_for()
    prospect.locator(".opp-card", has_text="Beta deal").wait_for()
    assert prospect.locator("[data-testid=column-count]").inner_text() == "1"
    assert "250.50" in prospect.locator("[data-testid=column-total]").inner_text()
    assert unassigned.locator("[data-testid=column-count]").inner_text() == "1"
    # The table view is remembered across reloads.
    page.click("#view-table")
    page.reload()
    page.locator("#opp-table tbody tr", has_text="Beta deal").wait_for()
    assert page.locator("#board").is_hidden()


def test_upload_a_bundle_then_download_an_export(page, member, worker, tmp_path):
    bundle = {
        "version": 1,
        "accounts": [{"public_id": "acct_dashboardtest0001", "name": "Globex"}],
        "contacts": [{"public_id": "cnt_dashboardtest0001", "first_name": "Hank",
                      "account_public_id": "acct_dashboardtest0001"},
                     {"public_id": "cnt_dashboardtest0002", "email": "broken"}],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    browser_sign_in(page, member)
    page.click("nav >> text=Import & export")
    page.set_input_files("#import-file", str(path))
    page.click("#import-submit")
    job = page.locator("#import-job")
    job.locator("[data-testid=job-status]").filter(has_text="completed with errors").wait_for(
        timeout=60_000)
    accounts = job.locator('tr[data-entity="accounts"] td')
    # columns: entity, bar, processed, total, created, updated, unchanged, failed
    assert [accounts.nth(i).inner_text() for i in (2, 3, 4)] == ["1", "1", "1"]
    contacts = job.locator('tr[data-entity="contacts"] td')
    assert [contacts.nth(i).inner_text() for i in (4, 7)] == ["1", "1"]
    errors = job.locator(".job-errors tbody tr")
    errors.first.wait_for()
    assert "cnt_dashboardtest0002" in errors.first.inner_text()

    page.click("#export-start")
    link = page.locator("#export-job [data-testid=download-link]")
    link.wait_for(timeout=60_000)
    with page.expect_download() as download_info:
        link.click()
    exported = json.loads(open(download_info.value.path(), "rb").read())
    assert [a["public_id"] for a in exported["accounts"]] == ["acct_dashboardtest0001"]
    assert {c["public_id"] for c in exported["contacts"]} == {"cnt_dashboardtest0001"}
