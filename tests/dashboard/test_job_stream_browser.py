"""The dashboard follows a running job through its event stream, not by polling."""
from __future__ import annotations

import json

import pytest

from tests.dashboard.conftest import browser_sign_in

pytestmark = pytest.mark.slow


def test_an_import_is_followed_through_its_event_stream(page, member, worker, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"version": 1, "accounts": [
        {"public_id": f"acct_stream{i:04d}", "name": f"Streamed {i}"} for i in range(200)]}))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    browser_sign_in(page, member)
    page.click("nav >> text=Import & export")
    page.set_input_files("#import-file", str(path))
    page.click("#import-submit")
    job = page.locator("#import-job")
    job.locator("[data-testid=job-status]").filter(has_text="succeeded").wait_for(
        timeout=60_000)
    streams = [u for u in requested if u.endswith("/events")]
    polls = [u for u in requested if "/api/v1/crm/jobs/" in u and u.split("/")[-1].count("-") == 4
             and not u.endswith("/events")]
    assert streams, "the page opened the job's event stream"
    assert len(polls) <= 1, f"the page polled while a stream was open: {polls}"
