"""End to end with a real worker process: an export job ends in the worker, its delivery is
sent by the worker's task after the commit, a 500 is retried by the worker, and the receiver
gets exactly one signed delivery id. Also the delivery latency figure of docs/notifications.md.

The worker has a queue prefix of its own (and the setting that allows 127.0.0.1), so the
session's shared worker, which does not allow it, never takes these tasks.
"""
from __future__ import annotations

import secrets
import statistics
import time
import uuid
from datetime import datetime

import pytest
from celery import Celery

from shared import db
from shared.jobs.dispatch import run_task
from shared.notifications import signing
from shared.services.jobs import create_job
from tests.conftest import WorkerProcess, wait_for
from tests.notifications.conftest import add_webhook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_worker(settings):
    prefix = f"dpnotify-{secrets.token_hex(4)}:"
    proc = WorkerProcess(settings, extra_env={
        "DRIPPULSE_QUEUE_PREFIX": prefix, "DRIPPULSE_WEBHOOKS_ALLOW_PRIVATE": "1",
        "DRIPPULSE_WEBHOOK_RETRY_BASE_SECONDS": "1"}).start()
    sender = Celery("notify-test", broker=settings.redis_url)
    sender.conf.broker_transport_options = {"global_keyprefix": prefix}
    sender.conf.task_routes = {"drippulse.export.*": {"queue": "exports"}}
    yield sender
    proc.stop()


def _export(sender: Celery, organization_id: str) -> uuid.UUID:
    org = uuid.UUID(organization_id)
    with db.tenant_transaction(org) as conn:
        job = create_job(conn, org, "export", created_by="test")
    sender.send_task(run_task("export"), args=[str(job.id), False])
    return job.id


def test_worker_delivers_after_the_job_ends_and_retries_a_500(
        client, org, allow_private, receiver, own_worker):
    hook = add_webhook(client, org, receiver.url, ["job.succeeded"])
    receiver.script = [500]
    job_id = _export(own_worker, org["organization_id"])
    wait_for(lambda: len(receiver.received) >= 2, timeout=60, message="the retried delivery")
    time.sleep(1.5)  # nothing more may arrive
    first, second = receiver.received
    assert first.headers["DripPulse-Delivery"] == second.headers["DripPulse-Delivery"]
    assert second.json["data"]["id"] == str(job_id)
    assert signing.verify(hook["secret"], second.headers["DripPulse-Signature"], second.body)
    attempts = client.get(f"/api/v1/crm/webhooks/{hook['id']}/deliveries",
                          headers=org["headers"]).json["items"]
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(2, 200), (1, 500)]
    assert len(receiver.received) == 2


def test_delivery_latency_after_the_job_ends(client, org, allow_private, receiver, own_worker,
                                             capsys):
    """The figure: from the job's finished_at to the receiver's arrival, over 20 jobs."""
    add_webhook(client, org, receiver.url, ["job.succeeded"])
    arrivals: dict[str, float] = {}
    jobs = [_export(own_worker, org["organization_id"]) for _ in range(20)]
    wait_for(lambda: len(receiver.received) >= 20, timeout=120, message="20 deliveries")
    for got in receiver.received:
        arrivals.setdefault(got.json["data"]["id"], time.time())
    assert set(arrivals) == {str(j) for j in jobs}
    latencies = []
    for got in receiver.received:
        ended = datetime.fromisoformat(got.json["data"]["finished_at"]).timestamp()
        latencies.append(max(0.0, (got.at - ended) * 1000))
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    with capsys.disabled():
        print(f"\nwebhook latency after job end: median {statistics.median(latencies):.0f} ms, "
              f"p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms over {len(latencies)} jobs")
    assert statistics.median(latencies) < 5000
