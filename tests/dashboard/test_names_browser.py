"""Names where a person reads, in a real browser: the account of a contact, the record of an
activity, the user behind a change and the record it changed — each with its id on hover
(title)."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import browser_sign_in, page_csrf, screenshot, sign_in

pytestmark = pytest.mark.slow

CRM = "/api/v1/crm"


def test_names_not_ids_in_lists_detail_and_history(page, member, client):
    # written through a signed-in session, so history records the user (not an API key)
    sign_in(client, member["admin_email"], member["password"])
    headers = {"X-CSRF-Token": page_csrf(client)}

    def post(plural: str, body: dict) -> dict:
        resp = client.post(f"{CRM}/{plural}", json=body, headers=headers)
        assert resp.status_code == 201, resp.json
        return resp.json

    acct = post("accounts", {"name": "Initech"})
    ada = post("contacts", {"first_name": "Ada", "last_name": "Lovelace",
                            "account_public_id": acct["public_id"]})
    post("activities", {"type": "call", "subject": "Intro call", "record_type": "contact",
                        "record_public_id": ada["public_id"]})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_sign_in(page, member)

    page.goto("/app/crm/contacts")
    account = page.locator("#records tbody tr", has_text="Ada Lovelace").locator(
        "td[data-ref=account] a")
    assert account.inner_text() == "Initech"
    assert account.get_attribute("title") == acct["public_id"]
    screenshot(page, "contacts-names")

    page.goto("/app/crm/activities")
    record = page.locator("#records tbody tr", has_text="Intro call").locator(
        "td[data-ref=record] a")
    assert record.inner_text() == "Ada Lovelace"
    assert record.get_attribute("title") == ada["public_id"]
    assert record.get_attribute("href") == f"/app/crm/contacts/{ada['public_id']}"

    page.goto(f"/app/crm/contacts/{ada['public_id']}")
    link = page.locator('dd[data-field="account_public_id"] a')
    assert (link.inner_text(), link.get_attribute("title")) == ("Initech", acct["public_id"])
    by = page.locator("#history li", has_text="created").locator(".actor")
    assert by.inner_text() == member["admin_email"]
    assert by.get_attribute("title").startswith("user:")

    page.goto("/app/changes")
    actors = page.locator("#changes tbody [data-testid=actor]")
    actors.first.wait_for()
    assert set(actors.all_inner_texts()) == {member["admin_email"]}
    assert actors.first.locator("span").get_attribute("title").startswith("user:")
    # the record column names the record (`record_name`), its public_id on hover
    records = page.locator("#changes tbody [data-testid=record] a")
    assert set(records.all_inner_texts()) == {"Initech", "Ada Lovelace", "Intro call"}
    initech = page.locator("#changes tbody [data-testid=record] a", has_text="Initech")
    assert initech.get_attribute("title") == acct["public_id"]
    assert initech.get_attribute("href") == f"/app/crm/accounts/{acct['public_id']}"
    screenshot(page, "changes-names")

    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in (("/app/crm/contacts", "contacts-names-390px"),
                       ("/app/changes", "changes-names-390px")):
        page.goto(path)
        page.locator("tbody tr a, tbody [data-testid=actor] span").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        screenshot(page, name)
    assert errors == []
