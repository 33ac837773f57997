"""Record forms in a real browser: references picked by name from a search (keyboard only), an
activity's record by type then name, custom fields as key/value rows, and the minimal fields
refused with the reason next to the field."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import (
    browser_sign_in,
    page_csrf,
    screenshot,
    sign_in,
    unlabelled_controls,
)

pytestmark = pytest.mark.slow

CRM = "/api/v1/crm"


@pytest.fixture
def seeded(member, client) -> dict:
    sign_in(client, member["admin_email"], member["password"])
    headers = {"X-CSRF-Token": page_csrf(client)}

    def post(plural: str, body: dict) -> dict:
        resp = client.post(f"{CRM}/{plural}", json=body, headers=headers)
        assert resp.status_code == 201, resp.json
        return resp.json

    return {"initech": post("accounts", {"name": "Initech", "domain": "initech.example"}),
            "initrode": post("accounts", {"name": "Initrode"}),
            "globex": post("accounts", {"name": "Globex"}),
            "ada": post("contacts", {"first_name": "Ada", "last_name": "Lovelace",
                                     "email": "ada@example.com"})}


def _api(page, path: str) -> dict:
    return page.evaluate("(p) => fetch(p).then((r) => r.json())", path)


def test_pickers_and_custom_fields_in_a_contact_form(page, member, seeded):
    errors: list[str] = []
    # the refused saves are 422s the form shows; anything else is a fault
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "422" not in m.text else None)
    browser_sign_in(page, member)
    page.goto("/app/crm/contacts/new")
    page.locator("#record-form[data-ready=true]").wait_for()
    assert "at least one of: first name, last name, email" in page.inner_text("#fields")

    # an empty form is refused, with the reason next to the email field
    page.click("#save")
    page.locator('[data-error-for="email"]', has_text="a contact needs a name or an email"
                 ).wait_for()

    page.fill("#f-first_name", "Grace")
    box = page.locator("#f-account_public_id")
    assert box.get_attribute("role") == "combobox"
    box.fill("init")
    options = page.locator("#f-account_public_id-options [role=option]")
    expect(options).to_have_count(2)
    assert sorted(options.all_inner_texts()) == ["Initech initech.example", "Initrode"]
    assert box.get_attribute("aria-expanded") == "true"
    first = options.nth(0).inner_text()
    box.press("ArrowDown")  # the second option
    active = box.get_attribute("aria-activedescendant")
    assert page.locator(f"#{active}").get_attribute("aria-selected") == "true"
    chosen = page.locator(f"#{active}").inner_text()
    assert chosen != first
    box.press("Enter")
    assert box.get_attribute("aria-expanded") == "false"
    assert box.input_value() == chosen.split(" ")[0]

    # Escape closes the list and keeps the choice
    box.press("ArrowDown")
    page.locator("#f-account_public_id-options").wait_for()
    box.press("Escape")
    assert box.get_attribute("aria-expanded") == "false"
    assert box.input_value() == chosen.split(" ")[0]

    page.click("#f-custom_fields")  # "+ Add field"
    rows = page.locator(".kv-row")
    rows.nth(0).locator(".kv-key").fill("score")
    rows.nth(0).locator(".kv-value").fill("42")
    assert rows.nth(0).locator(".kv-kind").inner_text() == "→ number"
    page.click("#f-custom_fields")
    rows.nth(1).locator(".kv-key").fill("zip")
    rows.nth(1).locator(".kv-value").fill("12345")
    rows.nth(1).locator(".kv-mode").select_option("text")
    assert rows.nth(1).locator(".kv-kind").inner_text() == "→ text"
    page.click("#f-custom_fields")
    rows.nth(2).locator(".kv-key").fill("vip")
    rows.nth(2).locator(".kv-value").fill("true")
    page.click("#f-custom_fields")
    rows.nth(3).locator(".kv-key").fill("dropped")
    rows.nth(3).locator(".kv-remove").click()
    assert rows.count() == 3
    assert unlabelled_controls(page) == []
    screenshot(page, "contact-form-picker")

    page.click("#save")
    page.wait_for_url(lambda url: not url.endswith("/new"))
    public_id = page.url.rsplit("/", 1)[1]
    saved = _api(page, f"{CRM}/contacts/{public_id}")
    expected = seeded["initech" if chosen.startswith("Initech") else "initrode"]
    assert saved["account_public_id"] == expected["public_id"]
    assert saved["custom_fields"] == {"score": 42, "zip": "12345", "vip": True}

    # editing shows the name, keeps a JSON-looking string a string, and sends only changes
    page.goto(f"/app/crm/contacts/{public_id}/edit")
    page.locator("#record-form[data-ready=true]").wait_for()
    assert box.input_value() == expected["name"]
    assert rows.nth(1).locator(".kv-mode").input_value() == "text"
    box.fill("")
    page.click("#save")
    page.wait_for_url(f"**/app/crm/contacts/{public_id}")
    saved = _api(page, f"{CRM}/contacts/{public_id}")
    assert saved["account_public_id"] is None
    assert saved["custom_fields"] == {"score": 42, "zip": "12345", "vip": True}

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/app/crm/contacts/{public_id}/edit")
    page.locator("#record-form[data-ready=true]").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "contact-form-picker-390px")
    assert errors == []


def test_an_activity_picks_its_record_by_type_then_name(page, member, seeded):
    errors: list[str] = []
    # the refused saves are 422s the form shows; anything else is a fault
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "422" not in m.text else None)
    browser_sign_in(page, member)
    page.goto("/app/crm/activities/new")
    page.locator("#record-form[data-ready=true]").wait_for()
    page.click("#save")
    page.locator('[data-error-for="subject"]', has_text="needs a subject").wait_for()
    assert "needs a record" in page.inner_text('[data-error-for="record_public_id"]')

    page.fill("#f-subject", "Kick-off")
    page.select_option("#f-record_type", "contact")
    box = page.locator("#f-record_public_id")
    box.fill("love")
    page.locator("#f-record_public_id-options [role=option]", has_text="Lovelace").wait_for()
    assert page.locator("#f-record_public_id-options [role=option]").all_inner_texts() == [
        "Ada Lovelace ada@example.com"]
    box.press("Enter")
    assert box.input_value() == "Ada Lovelace"
    # a typed name that was not picked is not sent as an id
    page.select_option("#f-record_type", "account")
    assert box.input_value() == ""
    box.fill("Glob")
    page.locator("#f-record_public_id-options [role=option]", has_text="Globex").wait_for()
    box.press("Tab")
    page.click("#save")
    page.locator('[data-error-for="record_public_id"]', has_text="choose one from the list"
                 ).wait_for()
    box.fill("Glob")
    page.locator("#f-record_public_id-options [role=option]", has_text="Globex").wait_for()
    box.press("Enter")
    screenshot(page, "activity-form-record-picker")
    page.click("#save")
    page.wait_for_url(lambda url: not url.endswith("/new"))
    saved = _api(page, f"{CRM}/activities/{page.url.rsplit('/', 1)[1]}")
    assert (saved["record_type"], saved["record_public_id"]) == (
        "account", seeded["globex"]["public_id"])
    assert errors == []
