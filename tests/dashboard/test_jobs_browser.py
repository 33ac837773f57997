"""Jobs in a real browser: a page per job, the failure reason in the list, exports without the
import columns, the same percentage in list and card; the HTML 404 page; no console errors."""
from __future__ import annotations

import uuid

import pytest

from shared import db
from shared.jobs import lifecycle
from shared.jobs.status import JobStatus
from shared.services.jobs import create_job
from tests.bundles.helpers import bundle, import_and_wait, wait_job
from tests.dashboard.conftest import browser_sign_in, screenshot

pytestmark = pytest.mark.slow

REASON = "The export store could not be written"


def _failed_export(organization_id: str) -> str:
    """A job that failed with a reason, made directly (never enqueued, so no worker runs it)."""
    org = uuid.UUID(organization_id)
    with db.tenant_transaction(org) as conn:
        job = create_job(conn, org, "export", created_by="test")
    assert lifecycle.start(job.id, 5) is not None
    assert lifecycle.finish(job.id, JobStatus.FAILED, {"code": "storage_error", "message": REASON})
    return str(job.id)


def test_job_pages_reasons_and_the_404_page(page, member, client, worker):
    imported = import_and_wait(client, member, bundle(
        accounts=[{"public_id": "acct_jobpage0001", "name": "Initech"}],
        contacts=[{"public_id": "cnt_jobpage0001", "first_name": "Bea", "email": "broken"}]))
    assert imported["status"] == "completed_with_errors"
    resp = client.post("/api/v1/crm/exports", headers=member["headers"], json={})
    assert resp.status_code == 202, resp.json
    exported = wait_job(client, member, resp.json["id"])
    failed_id = _failed_export(member["organization_id"])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location}")
            if m.type == "error" else None)

    browser_sign_in(page, member)
    page.goto("/app/jobs")
    failed = page.locator(f'#jobs tr[data-job-id="{failed_id}"]')
    # the reason is in the list, not only once the job is opened
    assert failed.locator("[data-testid=job-reason]").inner_text() == REASON
    export_row = page.locator(f'#jobs tr[data-job-id="{exported["id"]}"] td')
    assert export_row.nth(3).inner_text() == ""  # an export has no row errors to count
    import_row = page.locator(f'#jobs tr[data-job-id="{imported["id"]}"]')
    assert import_row.locator("td").nth(3).inner_text() == "1"
    list_percent = import_row.locator("[data-testid=job-percent]").inner_text()
    screenshot(page, "jobs")

    # the kind links to the job's own page: its card, its row errors, the undo offer
    import_row.locator("a", has_text="import").click()
    page.wait_for_url(f"**/app/jobs/{imported['id']}")
    card = page.locator("#job-page")
    card.locator("[data-testid=job-status]").filter(has_text="completed with errors").wait_for()
    assert f"{list_percent}" in card.locator(".job-head").inner_text()
    card.locator(".job-errors tbody tr", has_text="cnt_jobpage0001").wait_for()
    card.locator("[data-testid=errors-csv]").wait_for()
    page.locator("[data-testid=undo-import]").wait_for()
    # entities in import order: accounts before contacts
    assert card.locator("tr[data-entity]").evaluate_all(
        "rows => rows.map(r => r.dataset.entity)") == ["accounts", "contacts"]
    screenshot(page, "job-page")

    # an export's card has no created/updated/unchanged/failed columns of zeros
    page.goto(f"/app/jobs/{exported['id']}")
    head = page.locator("#job-page table.grid thead")
    head.wait_for()
    assert head.inner_text().split() == ["entity", "progress", "processed", "total"]
    page.locator("#job-page [data-testid=download-link]").wait_for()
    assert page.locator("[data-testid=undo-import]").count() == 0

    page.goto(f"/app/jobs/{failed_id}")
    assert page.locator("#job-page [data-testid=job-error]").inner_text() == REASON
    missing = str(uuid.uuid4())
    page.goto(f"/app/jobs/{missing}")
    page.locator("[data-testid=job-missing]").wait_for()
    # the API's 404 for the missing job is the one console line expected so far
    assert len([e for e in errors if missing in e]) == 1
    errors[:] = [e for e in errors if missing not in e]

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/app/jobs/{imported['id']}")
    page.locator("#job-page .job-errors tbody tr").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "job-page-390px")
    page.goto("/app/jobs")
    page.locator(f'#jobs tr[data-job-id="{failed_id}"]').wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "jobs-390px")
    assert errors == []  # favicon included: every page so far loaded without a console error

    # a mistyped dashboard URL: an HTML page in the shell, with a way back
    resp = page.goto("/app/crm/widgets")
    assert resp.status == 404 and resp.headers["content-type"].startswith("text/html")
    page.locator("[data-testid=error-page]", has_text="No such CRM section").wait_for()
    assert page.locator("main h1").inner_text() == "Page not found"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "not-found-390px")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    page.locator("nav >> text=Contacts").wait_for()
    screenshot(page, "not-found")
    assert page.request.get("/favicon.ico").status == 200
