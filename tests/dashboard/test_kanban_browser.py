"""The Kanban board as people read it, in a real browser: cards say who and when, columns scroll
on their own, and every column is reachable at 1280 px."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import browser_sign_in, screenshot, unlabelled_controls

pytestmark = pytest.mark.slow

CRM = "/api/v1/crm"


def _post(client, member, plural: str, body: dict) -> dict:
    resp = client.post(f"{CRM}/{plural}", headers=member["headers"], json=body)
    assert resp.status_code == 201, resp.json
    return resp.json


def test_cards_columns_and_reach_at_1280_and_390(page, member, client):
    acct = _post(client, member, "accounts", {"name": "Initech"})
    ada = _post(client, member, "contacts", {"first_name": "Ada", "last_name": "Lovelace",
                                             "account_public_id": acct["public_id"]})
    _post(client, member, "opportunities", {
        "name": "Named deal", "amount": "1200.00", "currency": "EUR", "close_date": "2027-03-15",
        "account_public_id": acct["public_id"], "contact_public_id": ada["public_id"]})
    for i in range(40):  # enough to overflow a column many times over
        _post(client, member, "opportunities", {"name": f"Filler {i:02d}", "amount": "10.00",
                                                "currency": "USD"})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_sign_in(page, member)
    page.goto("/app/crm/opportunities")
    page.locator("#board[data-ready=true]").wait_for()
    assert unlabelled_controls(page) == []

    card = page.locator(".opp-card", has_text="Named deal")
    assert card.locator("[data-testid=card-amount]").inner_text() == "EUR 1,200.00"
    account = card.locator("[data-testid=card-account]")
    assert account.inner_text() == "Initech"
    assert account.get_attribute("title") == acct["public_id"]  # the id stays on hover
    contact = card.locator("[data-testid=card-contact]")
    assert (contact.inner_text(), contact.get_attribute("title")) == ("Ada Lovelace",
                                                                      ada["public_id"])
    assert "2027" in card.locator("[data-testid=card-close]").inner_text()
    assert page.locator(".opp-card select").count() == 0

    # The column scrolls, not the page: 41 cards and the page is still one screen tall.
    cards = page.locator('section.column[data-stage-name="Unassigned"] .cards')
    assert cards.evaluate("el => el.scrollHeight > el.clientHeight + 100")
    assert page.evaluate("document.documentElement.scrollHeight") <= 800
    # Every column is reachable: the board's own scrollbar is on screen (its bottom is inside
    # the window), and scrolled to the end the last column is fully in view.
    board = page.locator("#board")
    assert board.evaluate("el => el.getBoundingClientRect().bottom") <= 800
    board.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    last = page.locator('section.column[data-stage-name="Lost"]')
    box = last.bounding_box()
    assert box["x"] >= 200 and box["x"] + box["width"] <= 1280
    board.evaluate("el => { el.scrollLeft = 0; }")
    screenshot(page, "kanban-cards")

    # The table view names the account too, with its public_id on hover.
    page.click("#view-table")
    row = page.locator("#opp-table tbody tr", has_text="Named deal")
    cell = row.locator("span[title]")
    assert (cell.inner_text(), cell.get_attribute("title")) == ("Initech", acct["public_id"])
    page.click("#view-kanban")
    page.locator("#board .opp-card").first.wait_for()

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("#board[data-ready=true]").wait_for()
    page.get_by_role("button", name="Move Named deal").click()
    page.get_by_role("menu", name="Move Named deal to").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "kanban-cards-390px-menu-open")
    assert errors == []
