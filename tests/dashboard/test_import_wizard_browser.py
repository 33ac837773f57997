"""The import wizard in a real browser: two spreadsheets mapped in the UI (contacts pointing at
accounts by company name), the dry-run preview, the import, its results and the stored rows;
HubSpot exports recognised as HubSpot; the mapping saved for the organization and offered
again for the same headers in another browser."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.conftest import browser_sign_in, screenshot, unlabelled_controls

pytestmark = pytest.mark.slow

HUBSPOT = Path(__file__).resolve().parents[1] / "fixtures" / "interop" / "hubspot"
ACCOUNTS = "Company,Sector,Employees,Region,Id\nInitech,Software,120,EMEA,A-1\nGlobex,Energy,900,APAC,A-2\n"
CONTACTS = ("E-mail,First,Last,Phone number,Company\n"
            "ann@initech.test,Ann,Lee,+1 555 0100,Initech\n"
            "bob@globex.test,Bob,Ray,+1 555 0101,Globex\n"
            "cy@nowhere.test,Cy,Ode,,Nowhere Inc\n")


def _shots(page, name: str) -> None:
    """The same step at 1280 and at 390 px (which must not scroll sideways)."""
    screenshot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    screenshot(page, f"{name}-390px")
    page.set_viewport_size({"width": 1280, "height": 720})


def _target(page, file: str, column: str):
    return page.locator(f'fieldset[data-file="{file}"] tr[data-column="{column}"] select')


def _counts(box, entity: str) -> dict[str, str]:
    row = box.locator(f'[data-testid=summary] tr[data-entity="{entity}"]')
    return {c: row.locator(f'td[data-count="{c}"]').inner_text()
            for c in ("created", "updated", "unchanged", "failed")}


def test_map_two_csv_files_preview_and_import(page, member, client, worker, tmp_path, browser,
                                               live_server):
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_sign_in(page, member)
    page.goto("/app/import-export")
    page.click("[data-testid=wizard-link]")
    page.wait_for_url("**/app/import-export/wizard")

    page.set_input_files("#wizard-files", [str(tmp_path / "accounts.csv"),
                                           str(tmp_path / "contacts.csv")])
    page.locator("#step-detected").wait_for()  # detection reads the files asynchronously
    assert page.locator("[data-testid=detected-source]").inner_text() == "Any CSV (with a mapping)"
    assert page.locator("#detected-files [data-testid=object]").all_inner_texts() == [
        "accounts", "contacts"]
    page.click("#detected-next")

    # suggestions: fuzzy headers and aliases, the reference by name, the id column
    assert _target(page, "accounts.csv", "Company").input_value() == "name"
    assert _target(page, "accounts.csv", "Sector").input_value() == "industry"
    assert _target(page, "accounts.csv", "Employees").input_value() == "employee_count"
    assert page.locator("#map-id-0").input_value() == "Id"
    assert _target(page, "contacts.csv", "E-mail").input_value() == "email"
    assert _target(page, "contacts.csv", "Phone number").input_value() == "phone"
    assert _target(page, "contacts.csv", "Company").input_value() == "ref:account_public_id:name"
    # choices made by hand: Region is not imported, First is the first name
    _target(page, "accounts.csv", "Region").select_option("")
    _target(page, "contacts.csv", "First").select_option("first_name")
    _target(page, "contacts.csv", "Last").select_option("last_name")
    assert unlabelled_controls(page) == []
    _shots(page, "wizard-mapping")

    page.click("#mapping-next")
    preview = page.locator("#step-preview")
    preview.locator("[data-testid=summary]").wait_for(timeout=60_000)
    assert preview.locator("[data-testid=job-status]").inner_text() == "completed with errors"
    assert _counts(preview, "accounts") == {"created": "2", "updated": "0", "unchanged": "0",
                                            "failed": "0"}
    assert _counts(preview, "contacts")["created"] == "2"
    assert _counts(preview, "contacts")["failed"] == "1"
    unresolved = preview.locator("[data-testid=unresolved]")
    assert "contacts.csv row 4" in unresolved.inner_text()
    assert "Nowhere Inc" in unresolved.inner_text()
    preview.locator(".job-errors tbody tr").first.wait_for()
    _shots(page, "wizard-preview")
    resp = client.get("/api/v1/crm/accounts", headers=member["headers"])
    assert resp.json["items"] == []  # a dry run writes nothing

    page.click("#run-start")
    run = page.locator("#step-run")
    run.locator("[data-testid=summary]").wait_for(timeout=60_000)
    assert _counts(run, "accounts")["created"] == "2"
    assert _counts(run, "contacts") == {"created": "2", "updated": "0", "unchanged": "0",
                                        "failed": "1"}
    with page.expect_download() as csv_info:
        run.locator("[data-testid=errors-csv]").click()
    failed_rows = open(csv_info.value.path(), encoding="utf-8").read()
    assert "Nowhere Inc" in failed_rows and "Initech" not in failed_rows
    _shots(page, "wizard-done")

    accounts = client.get("/api/v1/crm/accounts", headers=member["headers"]).json["items"]
    by_name = {a["name"]: a for a in accounts}
    assert set(by_name) == {"Initech", "Globex"}
    assert by_name["Initech"]["industry"] == "Software"
    assert by_name["Initech"]["employee_count"] == 120
    assert by_name["Initech"]["external_id"] == "A-1"
    assert "Region" not in by_name["Initech"]["custom_fields"]  # "don't import"
    contacts = client.get("/api/v1/crm/contacts", headers=member["headers"]).json["items"]
    ann = next(c for c in contacts if c["email"] == "ann@initech.test")
    assert (ann["first_name"], ann["last_name"], ann["phone"]) == ("Ann", "Lee", "+1 555 0100")
    assert ann["account_public_id"] == by_name["Initech"]["public_id"]

    # the import saved each file's mapping for the organization, on the server
    assert not page.evaluate("Object.keys(localStorage).filter((k) => k.includes('mapping'))")
    saved = client.get("/api/v1/crm/mappings", headers=member["headers"]).json["items"]
    assert sorted(m["name"] for m in saved) == ["accounts.csv", "contacts.csv"]
    # the first lookups found nothing yet (an empty list, not a 404): no console error at all
    assert errors == []

    # the same headers in a fresh browser (no localStorage, as a colleague's would be): the
    # organization's saved mapping is offered, with the choices made by hand above
    other = browser.new_context(base_url=live_server)
    try:
        fresh = other.new_page()
        fresh.set_default_timeout(15_000)
        fresh.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        browser_sign_in(fresh, member)
        fresh.goto("/app/import-export/wizard")
        fresh.set_input_files("#wizard-files", [str(tmp_path / "accounts.csv"),
                                                str(tmp_path / "contacts.csv")])
        fresh.locator("#step-detected").wait_for()
        fresh.click("#detected-next")
        fresh.locator('fieldset[data-file="contacts.csv"] [data-testid=saved-mapping]').wait_for()
        assert fresh.locator("[data-testid=saved-mapping]").count() == 2
        assert _target(fresh, "accounts.csv", "Region").input_value() == ""
        assert _target(fresh, "accounts.csv", "Sector").input_value() == "industry"
        assert fresh.locator("#map-id-0").input_value() == "Id"
        assert _target(fresh, "contacts.csv", "First").input_value() == "first_name"
        assert _target(fresh, "contacts.csv", "Company").input_value() == \
            "ref:account_public_id:name"
        screenshot(fresh, "wizard-saved-mapping")
    finally:
        other.close()
    assert errors == []


def test_hubspot_exports_are_detected(page, member):
    browser_sign_in(page, member)
    page.goto("/app/import-export/wizard")
    page.set_input_files("#wizard-files", sorted(str(p) for p in HUBSPOT.glob("*.csv")))
    page.locator("#step-detected").wait_for()
    assert page.locator("[data-testid=detected-source]").inner_text() == "HubSpot"
    assert page.locator("#wizard-source").input_value() == "hubspot"
    assert page.locator("#detected-files [data-testid=object]").all_inner_texts() == [
        "companies", "contacts", "deals"]
    assert page.locator("#detected-mixed").is_hidden()


def test_salesforce_exports_are_detected_also_inside_a_zip(page, member, tmp_path):
    import zipfile

    fixtures = HUBSPOT.parent
    browser_sign_in(page, member)
    page.goto("/app/import-export/wizard")
    page.set_input_files("#wizard-files", sorted(
        str(p) for p in (fixtures / "salesforce-tree").glob("*.json")))
    page.locator("#step-detected").wait_for()
    assert page.locator("[data-testid=detected-source]").inner_text() == "Salesforce"
    assert page.locator("#detected-files [data-testid=object]").all_inner_texts() == [
        "Account", "Contact", "Opportunity", "plan"]

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for name in ("Account.csv", "Contact.csv", "Opportunity.csv"):
            out.write(fixtures / "salesforce-bulk" / name, f"export/{name}")
    page.goto("/app/import-export/wizard")
    page.set_input_files("#wizard-files", str(archive))
    page.locator("#step-detected").wait_for()
    assert page.locator("[data-testid=detected-source]").inner_text() == "Salesforce"
    assert page.locator("#detected-files [data-testid=object]").all_inner_texts() == [
        "Account", "Contact", "Opportunity"]
