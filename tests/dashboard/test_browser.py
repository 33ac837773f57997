"""The dashboard in a real browser against a real server (and the session's real worker).

Few tests, each a whole user journey; every wait is on a selector or a response, never a sleep.
"""
from __future__ import annotations

import json

import pytest

from tests.dashboard.conftest import browser_sign_in, screenshot, unlabelled_controls

# a real browser against a real server: whole user journeys
pytestmark = pytest.mark.slow


def _column(page, stage_name: str):
    return page.locator(f'section.column[data-stage-name="{stage_name}"]')


def test_sign_in_and_create_a_contact_through_the_form(page, member):
    browser_sign_in(page, member)
    assert page.locator("[data-testid=org-name]").inner_text() == member["name"]
    page.click("nav >> text=Contacts")
    page.click("#new-record")
    page.locator("#record-form[data-ready=true]").wait_for()
    assert unlabelled_controls(page) == []
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
    screenshot(page, "kanban")
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
    screenshot(page, "opportunities-table")


def test_move_to_stage_control_on_a_phone_sized_screen(page, member, client):
    resp = client.post("/api/v1/crm/opportunities", headers=member["headers"],
                       json={"name": "Gamma deal", "amount": "75.00", "currency": "EUR"})
    assert resp.status_code == 201, resp.json
    page.set_viewport_size({"width": 390, "height": 844})
    browser_sign_in(page, member)
    page.goto("/app/crm/opportunities")
    page.locator("#board[data-ready=true]").wait_for()
    # At phone width the sidebar folds behind the Menu button.
    assert page.locator("#sidebar").is_hidden()
    page.click("#menu-toggle")
    page.locator("#sidebar >> text=Contacts").wait_for()
    screenshot(page, "kanban-390px-menu-open")
    page.click("#menu-toggle")
    card = _column(page, "Unassigned").locator(".opp-card", has_text="Gamma deal")
    card_id = card.get_attribute("data-id")
    # No select on every card: one menu button, named after its card.
    assert card.locator("select").count() == 0
    # Keyboard only: Enter opens the menu of the other stages (focus on the first), Escape
    # closes it back onto the button; arrows walk it and Enter moves the card.
    menu_button = page.get_by_role("button", name="Move Gamma deal")
    menu_button.focus()
    page.keyboard.press("Enter")
    menu = card.get_by_role("menu", name="Move Gamma deal to")
    menu.wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Prospect"
    page.keyboard.press("Escape")
    menu.wait_for(state="hidden")
    page.wait_for_function("(id) => document.activeElement?.id === `move-${id}`", arg=card_id)
    page.keyboard.press("Enter")
    menu.wait_for()
    for _ in range(3):  # Prospect → Qualification → Proposal → Negotiation
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == "Negotiation"
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 200):
        page.keyboard.press("Enter")
    page.locator("#board[data-ready=true]").wait_for()
    moved = _column(page, "Negotiation").locator(".opp-card", has_text="Gamma deal")
    moved.wait_for()
    # Focus follows the card, so a keyboard user can keep going from where they were.
    page.wait_for_function("(id) => document.activeElement?.id === `move-${id}`", arg=card_id)
    screenshot(page, "kanban-390px")
    page.reload()
    page.locator("#board[data-ready=true]").wait_for()
    moved.wait_for()
    assert _column(page, "Negotiation").locator("[data-testid=column-count]").inner_text() == "1"
    assert _column(page, "Unassigned").locator("[data-testid=column-count]").inner_text() == "0"
    # Nothing makes the page itself wider than the phone: the board and tables scroll inside it.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("#view-table")
    page.locator("#opp-table tbody tr", has_text="Gamma deal").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "opportunities-table-390px")


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
    job.locator("[data-testid=job-status]").wait_for()
    screenshot(page, "import-started")
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
    # At 1280 px the results are whole: no sideways scroll box cuts off "unchanged", "failed"
    # or a message (the import's card takes the page's full width once it shows a job).
    assert page.viewport_size["width"] == 1280
    card = page.locator("section.card", has=page.locator("#import-job"))
    assert card.evaluate("el => el.scrollWidth <= el.clientWidth")
    for table in job.locator("table").all():
        assert table.evaluate("t => t.getBoundingClientRect().right <= "
                              "t.closest('.card').getBoundingClientRect().right")
    assert errors.first.locator("td").last.inner_text() == "must be an email address"
    screenshot(page, "import-finished-with-errors")
    # Every failed row as a file, through a plain link (the session cookie authenticates it).
    with page.expect_download() as csv_info:
        job.locator("[data-testid=errors-csv]").click()
    assert csv_info.value.suggested_filename.endswith("-errors.csv")
    failed_rows = open(csv_info.value.path(), encoding="utf-8").read()
    assert "cnt_dashboardtest0002" in failed_rows and "cnt_dashboardtest0001" not in failed_rows
    assert job.locator("[data-testid=errors-jsonl]").get_attribute("href").endswith(
        "/errors?format=jsonl")
    # Leave and come back: the page shows the same job again, with its outcome.
    job_id = job.get_attribute("data-job-id")
    page.click("nav >> text=Jobs")
    page.locator(f'#jobs tr[data-job-id="{job_id}"]').wait_for()
    page.click("nav >> text=Import & export")
    page.locator(f'#import-job[data-job-id="{job_id}"] [data-testid=job-status]').filter(
        has_text="completed with errors").wait_for()
    page.locator("#import-job [data-testid=errors-csv]").wait_for()

    page.click("#export-start")
    link = page.locator("#export-job [data-testid=download-link]")
    link.wait_for(timeout=60_000)
    with page.expect_download() as download_info:
        link.click()
    exported = json.loads(open(download_info.value.path(), "rb").read())
    assert [a["public_id"] for a in exported["accounts"]] == ["acct_dashboardtest0001"]
    assert {c["public_id"] for c in exported["contacts"]} == {"cnt_dashboardtest0001"}
