"""A large bundle end to end: HTTP upload, a real worker, a client polling the job.

Percent must rise monotonically to 100 and the worker's memory stay flat (peak RSS printed,
bounded by 300 MB: a memory ceiling, not a timing). DRIPPULSE_TEST_LARGE_ROWS sets the size.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import time

import pytest
import redis

from bench.generate import write_bundle
from bench.processes import PeakRss
from shared import config
from tests.bundles.helpers import scalar
from tests.conftest import WorkerProcess

ROWS = int(os.environ.get("DRIPPULSE_TEST_LARGE_ROWS", "200000"))


@pytest.fixture
def large_queue(settings):
    """Queues of their own and production-sized batches, served by one worker we measure."""
    prefix = f"dptest-large-{secrets.token_hex(4)}:"
    alt = dataclasses.replace(settings, celery_queue_prefix=prefix, batch_size=2000)
    config.set_settings(alt)
    from worker.app import make_celery

    app = make_celery()
    env = {"DRIPPULSE_QUEUE_PREFIX": prefix, "DRIPPULSE_BATCH_SIZE": "2000"}
    try:
        yield app, env
    finally:
        config.set_settings(settings)
        app.close()
        client = redis.Redis.from_url(settings.redis_url)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)


@pytest.mark.slow
def test_large_bundle_over_http_with_monotonic_progress_and_flat_memory(
        app, settings, org, tmp_path, large_queue, monkeypatch):
    celery, env = large_queue
    monkeypatch.setattr("worker.app.celery_app", celery)  # the API enqueues on our queues
    path = tmp_path / "large.json"
    sizes = write_bundle(path, ROWS)
    worker = WorkerProcess(settings, extra_env=env, queues="imports", concurrency=2).start()
    rss = PeakRss(worker.proc.pid)
    rss.start()
    try:
        with open(path, "rb") as body:
            resp = app.test_client().post("/api/v1/crm/import", data=body,
                                          headers=org["headers"] | {
                                              "Content-Type": "application/json"})
        assert resp.status_code == 202, resp.json
        seen: list[int] = []
        deadline = time.monotonic() + 900
        while True:
            job = app.test_client().get(resp.json["links"]["self"],
                                        headers=org["headers"]).json
            seen.append(job["percent"])
            if job["status"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
    finally:
        peak = rss.stop()
        worker.stop()
    print(f"\n{ROWS} rows: worker peak RSS {peak}")
    assert job["status"] == "succeeded", job
    assert seen == sorted(seen) and seen[-1] == 100
    assert len(set(seen)) > 3  # the client saw it move, not just jump to the end
    for plural, n in sizes.items():
        assert job["progress"][plural]["created"] == n
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org "
                       "AND job_id = :job", job=job["id"]) == ROWS
    assert peak["largest_process_mb"] < 300
