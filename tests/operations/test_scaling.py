"""Operators scale workers: queues are routed, one import spreads over several worker
processes with exact counts, and a small import is not starved by a big one."""
from __future__ import annotations

import io
import uuid

import orjson
import pytest
import sqlalchemy as sa

from bench.generate import write_bundle
from shared import db
from shared.bundle.export_jobs import create_export_job
from shared.bundle.tables import import_batches
from shared.bundle.upload import submit_import
from shared.jobs.status import FINISHED
from shared.services import jobs as job_service
from shared.services.organizations import create_organization
from tests.bundles.test_import_resume import isolated_queue  # noqa: F401  (fixture)
from tests.conftest import WorkerProcess, wait_for


def _submit(org_id: uuid.UUID, source, enqueue) -> uuid.UUID:
    job, _ = submit_import(org_id, "test", source, limit=10**9, dry_run=False,
                           idempotency_key=None, expect_gzip=False, enqueue=enqueue)
    return job.id


def _job(org_id: uuid.UUID, job_id: uuid.UUID) -> dict:
    return job_service.job_json(job_service.get_job(org_id, job_id))


def _finished(org_id: uuid.UUID, job_id: uuid.UUID, timeout: float = 240) -> dict:
    return wait_for(lambda: (j := _job(org_id, job_id))["status"] in FINISHED and j,
                    timeout=timeout, interval=0.2, message=f"job {job_id} to finish")


def test_tasks_are_routed_to_their_queues():
    # imported here, not at module level: worker.app builds its Celery app from the settings
    # current at first import, and collection runs before the session's settings exist (the
    # API then published to unprefixed queues no test worker reads)
    from worker.app import celery_app

    router = celery_app.amqp.router
    assert router.route({}, "drippulse.import.run")["queue"].name == "imports"
    assert router.route({}, "drippulse.import.batch")["queue"].name == "imports"
    assert router.route({}, "drippulse.export.run")["queue"].name == "exports"
    assert router.route({}, "drippulse.maintenance.sweep_stale_jobs")["queue"].name == \
        "maintenance"


@pytest.mark.slow
def test_an_export_only_pool_leaves_imports_queued(settings, org, isolated_queue):  # noqa: F811
    enqueue, env = isolated_queue
    org_id = uuid.UUID(org["organization_id"])
    job_id = _submit(org_id, io.BytesIO(orjson.dumps({"accounts": [{"name": "A"}]})), enqueue)
    exporter = WorkerProcess(settings, extra_env=env, queues="exports", concurrency=1).start()
    try:
        export = create_export_job(org_id, {}, lambda name, args: None, created_by="test")
        enqueue("drippulse.export.run", [str(export.id)])
        assert _finished(org_id, export.id, timeout=120)["status"] == "succeeded"
        assert _job(org_id, job_id)["status"] == "queued"  # no import worker: it waits
    finally:
        exporter.stop()
    importer = WorkerProcess(settings, extra_env=env, queues="imports", concurrency=1).start()
    try:
        assert _finished(org_id, job_id, timeout=120)["status"] == "succeeded"
    finally:
        importer.stop()


@pytest.mark.slow
def test_one_import_spread_over_several_workers_is_exact(settings, org, tmp_path,
                                                        isolated_queue):  # noqa: F811
    enqueue, env = isolated_queue  # batch size 100 there
    org_id = uuid.UUID(org["organization_id"])
    path = tmp_path / "bundle.json"
    sizes = write_bundle(path, 4_000)
    with open(path, "rb") as source:
        job_id = _submit(org_id, source, enqueue)
    pool = [WorkerProcess(settings, extra_env=env, queues="imports", concurrency=2).start()
            for _ in range(2)]
    try:
        final = _finished(org_id, job_id)
    finally:
        for proc in pool:
            proc.stop()
    assert final["status"] == "succeeded", final
    for plural, n in sizes.items():
        assert final["progress"][plural]["created"] == n
    with db.tenant_transaction(org_id) as conn:
        events = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT record_id) FROM crm.change_events "
            "WHERE organization_id = :org AND job_id = :job"), {"org": org_id, "job": job_id}).one()
        batches = conn.execute(sa.select(sa.func.count()).select_from(import_batches).where(
            import_batches.c.job_id == job_id, import_batches.c.status == "done")).scalar()
    assert tuple(events) == (4_000, 4_000)
    assert batches >= 40  # many independent batches: what lets several processes share one job


@pytest.mark.slow
def test_a_small_import_is_not_starved_by_a_big_one(settings, tmp_path,
                                                   isolated_queue):  # noqa: F811
    enqueue, env = isolated_queue
    big_org = uuid.UUID(create_organization("Big import")["organization_id"])
    small_org = uuid.UUID(create_organization("Small import")["organization_id"])
    path = tmp_path / "big.json"
    write_bundle(path, 5_000)  # 50 batches of 100 rows
    with open(path, "rb") as source:
        big = _submit(big_org, source, enqueue)
    small = _submit(small_org, io.BytesIO(orjson.dumps(
        {"accounts": [{"public_id": f"acct_small{i}", "name": f"S{i}"} for i in range(20)]})),
        enqueue)
    one = WorkerProcess(settings, extra_env=env, queues="imports", concurrency=1).start()
    try:
        small_done = _finished(small_org, small)
        big_then = _job(big_org, big)
        assert small_done["status"] == "succeeded"
        assert big_then["status"] == "running", "the big import finished first: no fairness"
        assert _finished(big_org, big)["status"] == "succeeded"
    finally:
        one.stop()
