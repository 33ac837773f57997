"""Request ids in headers and logs, job ids in worker logs, Prometheus metrics."""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import uuid

import sqlalchemy as sa

from shared import db, logging_setup, worker_metrics
from shared.models import jobs
from tests.conftest import replace_settings


def test_request_id_is_echoed_or_generated(client, org):
    mine = client.get("/api/v1/me", headers={**org["headers"], "X-Request-ID": "abc-123"})
    assert mine.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/api/v1/me")  # even a 401 gets one
    assert generated.status_code == 401
    assert len(generated.headers["X-Request-ID"]) == 32
    hostile = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert hostile.headers["X-Request-ID"] != "bad id with spaces"


def test_json_log_lines_carry_request_and_job_ids(client, org, settings):
    stream = io.StringIO()
    handler = logging_setup.make_handler(dataclasses.replace(settings, log_json=True), stream)
    access = logging.getLogger("drippulse.access")
    access.addHandler(handler)
    try:
        client.get("/api/v1/me", headers={**org["headers"], "X-Request-ID": "req-42"})
        with logging_setup.job_log_context("job-7", org["organization_id"]):
            access.info("batch done")
        access.info("outside")
    finally:
        access.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_line = next(line for line in lines if "/api/v1/me" in line["message"])
    assert request_line["request_id"] == "req-42"
    job_line = next(line for line in lines if line["message"] == "batch done")
    assert job_line["job_id"] == "job-7"
    assert job_line["organization_id"] == org["organization_id"]
    assert "job_id" not in lines[-1]


def _sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {prefix!r} in metrics")


def test_metrics_expose_http_jobs_queues_and_worker_families(client, org, settings):
    job_id = uuid.uuid4()
    with db.tenant_transaction(org["organization_id"]) as conn:
        conn.execute(jobs.insert().values(
            id=job_id, organization_id=org["organization_id"], kind="import",
            status="queued", params={}, progress={}, checkpoint={}, error_count=0, attempts=0,
            cancel_requested=False,
            created_at=sa.func.now() - sa.text("interval '90 seconds'"),
            updated_at=sa.func.now()))
    worker_metrics.observe_batch("import", "contacts", 0.3, {"created": 40, "failed": 2})
    client.get("/api/v1/me", headers=org["headers"])

    try:
        resp = client.get("/metrics")
    finally:  # a queued job left behind would be picked up by other tests' sweeps
        with db.tenant_transaction(org["organization_id"]) as conn:
            conn.execute(jobs.delete().where(jobs.c.organization_id == org["organization_id"],
                                             jobs.c.id == job_id))
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert _sample(text, 'drippulse_http_requests_total{method="GET",route="/api/v1/me",'
                         'status="200"}') >= 1
    assert "drippulse_http_request_duration_seconds_bucket" in text
    assert _sample(text, 'drippulse_jobs{kind="import",status="queued"}') >= 1
    assert _sample(text, "drippulse_job_queue_lag_seconds") >= 90
    assert 'drippulse_queue_depth{queue="imports"}' in text
    assert _sample(text, 'drippulse_rows_processed_total{entity="contacts",kind="import",'
                         'outcome="created"}') >= 40
    assert _sample(text, 'drippulse_batch_duration_seconds_bucket{entity="contacts",'
                         'kind="import",le="0.5"}') >= 1
    assert _sample(text, 'drippulse_metrics_source_up{source="database"}') == 1


def test_queue_depth_counts_celery_messages_under_the_deployment_prefix(client, fresh_settings):
    from shared.broker import redis_client
    from worker.app import make_celery

    # a prefix of its own: no worker of this test session consumes these queues
    prefix = f"{fresh_settings.celery_queue_prefix}depth-{uuid.uuid4().hex[:6]}:"
    replace_settings(fresh_settings, celery_queue_prefix=prefix)
    sender = make_celery()
    sender.send_task("drippulse.export.probe", args=["job"])
    sender.send_task("drippulse.export.probe", args=["job"], priority=5)
    try:
        text = client.get("/metrics").get_data(as_text=True)
        assert _sample(text, 'drippulse_queue_depth{queue="exports"}') == 2
        assert _sample(text, 'drippulse_queue_depth{queue="imports"}') == 0
    finally:
        client_ = redis_client()
        for key in client_.scan_iter(match=f"{prefix}*"):
            client_.delete(key)


def test_metrics_still_answer_when_redis_is_down(client, fresh_settings):
    replace_settings(fresh_settings, redis_url="redis://127.0.0.1:1/0")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert _sample(text, 'drippulse_metrics_source_up{source="redis"}') == 0


def test_job_tasks_log_with_their_job_id(settings):
    from worker.app import celery_app

    stream = io.StringIO()
    handler = logging_setup.make_handler(dataclasses.replace(settings, log_json=True), stream)
    log = logging.getLogger("drippulse.test_task")
    log.addHandler(handler)

    @celery_app.task(name="drippulse.import.log_probe_for_test")
    def probe(job_id):
        log.info("inside the task")

    try:
        probe.apply(args=["job-99"])
    finally:
        log.removeHandler(handler)
        celery_app.tasks.pop("drippulse.import.log_probe_for_test", None)
    line = json.loads(stream.getvalue().splitlines()[0])
    assert line["job_id"] == "job-99" and line["task_id"]
    assert (logging_setup.log_context.get() or {}).get("job_id") is None


def test_metrics_token_when_configured(client, fresh_settings):
    replace_settings(fresh_settings, metrics_token="s3cret-scrape")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert ok.status_code == 200 and b"drippulse_jobs" in ok.data
