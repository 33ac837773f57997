"""One organization's user never sees another organization's data on any dashboard page.

Org B's rows all carry the distinctive word "Zanzibar"; org A's user visits every page (and
org B's record and job ids directly) and waits for A's own rows first, so "not shown" is
checked after the page has loaded, not before.
"""
from __future__ import annotations

import pytest

from shared import db
from shared.services import jobs as job_service
from shared.services import organizations
from tests.dashboard.conftest import browser_sign_in, unlabelled_controls

# a real browser against a real server
pytestmark = pytest.mark.slow

MARK = "Zanzibar"


def _seed(client, headers: dict, word: str) -> dict:
    """An account, contact, opportunity and activity named after `word`; returns the account."""
    def post(plural: str, body: dict) -> dict:
        resp = client.post(f"/api/v1/crm/{plural}", headers=headers, json=body)
        assert resp.status_code == 201, resp.json
        return resp.json

    account = post("accounts", {"name": f"{word} Works"})
    contact = post("contacts", {"first_name": word, "last_name": "Person",
                                "account_public_id": account["public_id"]})
    post("opportunities", {"name": f"{word} Deal", "amount": "10.00", "currency": "USD"})
    post("activities", {"subject": f"{word} call", "record_type": "account",
                        "record_public_id": account["public_id"]})
    return {"account": account, "contact": contact}


def _job(org_id) -> str:
    # A job row without a queued task: no worker needs to be running for this test.
    with db.transaction() as conn:
        return str(job_service.create_job(conn, org_id, "export").id)


@pytest.fixture
def zanzibar(client, settings) -> dict:
    created = organizations.create_organization(f"{MARK} Quokka Holdings")
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    seeded = _seed(client, headers, MARK)
    lead = client.post("/api/v1/crm/leads", headers=headers,
                       json={"first_name": MARK, "last_name": "Lead", "company": f"{MARK} Co"})
    assert lead.status_code == 201, lead.json
    return {**created, **seeded, "job_id": _job(created["organization_id"])}


def _no_leak(page, zanzibar: dict) -> None:
    # (while every page is open anyway: each of its form controls has a label)
    assert unlabelled_controls(page) == []
    html = page.content()
    assert MARK not in html and zanzibar["name"] not in html
    text = page.inner_text("main")
    for value in (zanzibar["account"]["id"], zanzibar["account"]["public_id"],
                  zanzibar["contact"]["public_id"], zanzibar["job_id"]):
        assert value not in text


def test_a_user_sees_only_their_own_organization(page, member, client, zanzibar):
    _seed(client, member["headers"], "Alder")
    own_job = _job(member["organization_id"])
    browser_sign_in(page, member)

    for plural, own in (("accounts", "Alder Works"), ("contacts", "Alder Person"),
                        ("activities", "Alder call")):
        page.goto(f"/app/crm/{plural}")
        page.locator("#records tbody tr", has_text=own).wait_for()
        _no_leak(page, zanzibar)
    page.goto("/app/crm/leads")  # org A has none: the page settles on "No records."
    page.locator("#empty").wait_for()
    _no_leak(page, zanzibar)

    page.goto("/app/crm/opportunities")
    page.locator("#board[data-ready=true] .opp-card", has_text="Alder Deal").wait_for()
    _no_leak(page, zanzibar)
    page.click("#view-table")
    page.locator("#opp-table tbody tr", has_text="Alder Deal").wait_for()
    _no_leak(page, zanzibar)

    page.goto("/app/jobs")
    page.locator(f'#jobs tr[data-job-id="{own_job}"]').wait_for()
    assert page.locator("#jobs tbody tr").count() == 1
    _no_leak(page, zanzibar)
    page.goto("/app/import-export")
    page.locator(f'#recent-jobs tr[data-job-id="{own_job}"]').wait_for()
    assert page.locator("#recent-jobs tbody tr").count() == 1
    # Both organizations have a queued export; the page picks up A's (started "elsewhere": no
    # localStorage entry in this browser) and never B's.
    page.locator(f'#export-job[data-job-id="{own_job}"] [data-testid=job-status]').wait_for()
    _no_leak(page, zanzibar)

    page.goto("/app/changes")
    page.locator("#changes tbody tr").first.wait_for()
    _no_leak(page, zanzibar)

    # Org B's records by uuid and by public_id: the page says "not found", nothing of B shows.
    for path in (f"/app/crm/accounts/{zanzibar['account']['id']}",
                 f"/app/crm/accounts/{zanzibar['account']['public_id']}",
                 f"/app/crm/contacts/{zanzibar['contact']['public_id']}",
                 f"/app/crm/accounts/{zanzibar['account']['public_id']}/edit"):
        page.goto(path)
        page.locator("[data-testid=not-found]").wait_for()
        _no_leak(page, zanzibar)

    # Org B's job through the API the pages use (same session cookie): 404, file included.
    for suffix in ("", "/errors", "/errors?format=csv"):
        resp = page.request.get(f"/api/v1/crm/jobs/{zanzibar['job_id']}{suffix}")
        assert resp.status == 404, suffix
        assert MARK not in resp.text()
