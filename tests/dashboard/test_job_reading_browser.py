"""Issue 17 in a real browser: while an import reads its upload, its card says how far it got,
follows the figures live, and drops the line once the reading is over."""
from __future__ import annotations

import uuid

import pytest

from shared import db
from shared.bundle.spool_heartbeat import SpoolHeartbeat
from shared.jobs import lifecycle
from shared.jobs.status import JobStatus
from shared.services.jobs import create_job
from tests.dashboard.conftest import browser_sign_in

pytestmark = pytest.mark.slow

GIB = 1024 ** 3


def test_the_job_card_shows_the_upload_being_read(page, member):
    org = uuid.UUID(member["organization_id"])
    with db.tenant_transaction(org) as conn:
        job = create_job(conn, org, "import", created_by="test")  # never enqueued: no worker
    assert lifecycle.start(job.id, 5) is not None
    beat = SpoolHeartbeat(org, job.id)  # what a spooling worker writes once a second
    beat.reading.bytes, beat.reading.bytes_total = int(1.2 * GIB), int(4.2 * GIB)
    beat.reading.rows = 2_900_000
    assert beat() is False

    browser_sign_in(page, member)
    page.goto(f"/app/jobs/{job.id}")
    line = page.locator("#job-page [data-testid=job-reading]")
    assert line.inner_text() == "Reading the upload… 1.2 GB of 4.2 GB (28%) · 2,900,000 rows"
    assert "0%" in page.locator("#job-page .job-head").inner_text()  # no row applied yet

    beat.reading.bytes, beat.reading.rows = int(2.1 * GIB), 5_100_000
    beat()
    page.locator("#job-page [data-testid=job-reading]",
                 has_text="2.1 GB of 4.2 GB (50%) · 5,100,000 rows").wait_for()

    assert lifecycle.finish(job.id, JobStatus.CANCELLED)
    page.locator("#job-page [data-testid=job-status]").filter(has_text="cancelled").wait_for()
    assert line.count() == 0
