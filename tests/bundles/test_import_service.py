"""The import services in-process, with a local queue instead of Celery: exactly-once batches,
cancellation, retry, duplicates across batches, deferred parents, minted public_ids."""
from __future__ import annotations

import io
import uuid

import orjson
import psycopg
import pytest
import sqlalchemy as sa

from shared import db
from shared.bundle import import_job
from shared.bundle.apply import apply_batch
from shared.bundle.tables import import_batches
from shared.bundle.upload import submit_import
from shared.jobs import runner as job_runner
from shared.services import jobs as job_service
from tests.bundles.helpers import LocalQueue, bundle, rows, scalar
from tests.conftest import replace_settings, wait_for


@pytest.fixture
def small_batches(fresh_settings):
    return replace_settings(fresh_settings, batch_size=2)


def _submit(org, body: dict, queue: LocalQueue, *, dry_run: bool = False) -> uuid.UUID:
    job, created = submit_import(uuid.UUID(org["organization_id"]), "test",
                                 io.BytesIO(orjson.dumps(body)), limit=10**7, dry_run=dry_run,
                                 idempotency_key=None, expect_gzip=False, enqueue=queue)
    assert created
    queue.messages.clear()  # the run message: the test drives the job itself
    return job.id


def _job(org, job_id):
    return job_service.job_json(job_service.get_job(uuid.UUID(org["organization_id"]), job_id))


def _accounts(n: int, prefix: str = "acct_s") -> list[dict]:
    return [{"public_id": f"{prefix}{i}", "name": f"Account {i}"} for i in range(n)]


def test_a_batch_delivered_twice_applies_once(org, small_batches):
    queue = LocalQueue()
    job_id = _submit(org, bundle(accounts=_accounts(5)), queue)
    assert job_runner.run_job(job_id, queue) == "running"
    first = queue.batches()[0]
    assert apply_batch(first).status == "applied"
    assert apply_batch(first).status == "done"  # the second delivery is a no-op
    queue.drain()
    import_job.run_batch(first, queue)  # and once more after the job ended
    job = _job(org, job_id)
    assert job["status"] == "succeeded"
    assert job["progress"]["accounts"] == {"total": 5, "processed": 5, "created": 5,
                                           "updated": 0, "unchanged": 0, "failed": 0}
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org") == 5
    assert len(rows(org, "accounts")) == 5


def test_a_locked_batch_is_busy_not_lost(org, small_batches):
    queue = LocalQueue()
    job_id = _submit(org, bundle(accounts=_accounts(3)), queue)
    job_runner.run_job(job_id, queue)
    batch_id = queue.batches()[0]
    with db.transaction() as conn:  # another worker holds the batch
        conn.execute(sa.select(import_batches).where(import_batches.c.id == batch_id)
                     .with_for_update())
        with pytest.raises(import_job.BatchBusy):
            import_job.run_batch(batch_id, queue)
    queue.drain()
    assert _job(org, job_id)["status"] == "succeeded"


def test_cancel_stops_at_the_next_batch(client, org, small_batches):
    queue = LocalQueue()
    job_id = _submit(org, bundle(accounts=_accounts(6)), queue)
    job_runner.run_job(job_id, queue)
    name, args = queue.messages.pop(0)
    import_job.run_batch(args[1], queue)
    resp = client.post(f"/api/v1/crm/jobs/{job_id}/cancel", headers=org["headers"])
    assert resp.status_code == 202 and resp.json["status"] == "running"
    queue.drain()
    job = _job(org, job_id)
    assert job["status"] == "cancelled" and job["finished_at"]
    assert job["progress"]["accounts"]["processed"] == 2
    assert len(rows(org, "accounts")) == 2
    again = client.post(f"/api/v1/crm/jobs/{job_id}/cancel", headers=org["headers"])
    assert again.status_code == 409


def test_cancel_of_a_queued_job_is_immediate(client, org):
    job_id = _submit(org, bundle(accounts=_accounts(1)), LocalQueue())
    resp = client.post(f"/api/v1/crm/jobs/{job_id}/cancel", headers=org["headers"])
    assert resp.status_code == 200 and resp.json["status"] == "cancelled"
    assert job_runner.run_job(job_id, LocalQueue()) == "finished"


def test_retry_resumes_a_failed_job_from_its_checkpoint(client, org, small_batches):
    queue = LocalQueue()
    job_id = _submit(org, bundle(accounts=_accounts(6)), queue)
    job_runner.run_job(job_id, queue)
    import_job.run_batch(queue.messages.pop(0)[1][1], queue)
    job_runner.fail(job_id, "batch_failed", "simulated")
    queue.messages.clear()
    assert client.post(f"/api/v1/crm/jobs/{job_id}/retry",
                       headers=org["headers"]).status_code == 202
    # the route enqueued the job on the real broker too: a session worker may win the job's
    # lock, and then this in-process run skips and that worker finishes it
    assert job_runner.run_job(job_id, queue) in ("running", "skipped")
    queue.drain()
    job = wait_for(lambda: (j := _job(org, job_id))["status"] not in ("queued", "running") and j,
                   timeout=120, message="the retried job to finish")
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert job["progress"]["accounts"]["created"] == 6
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org") == 6
    resp = client.post(f"/api/v1/crm/jobs/{job_id}/retry", headers=org["headers"])
    assert resp.status_code == 409


def test_duplicates_across_batches_and_parents_in_later_batches(org, small_batches):
    accounts = [
        {"public_id": "acct_kid", "name": "Kid", "parent_account_public_id": "acct_mom"},
        {"public_id": "acct_orphan", "name": "Orphan", "parent_account_public_id": "acct_none"},
        {"public_id": "acct_dup", "name": "First"},
        {"public_id": "acct_mom", "name": "Mom"},
        {"public_id": "acct_dup", "name": "Second"},
    ]
    queue = LocalQueue()
    job_id = _submit(org, bundle(accounts=accounts), queue)
    job_runner.run_job(job_id, queue)
    # apply the batches in reverse order, as parallel workers may
    for batch_id in sorted(queue.batches(), reverse=True):
        import_job.run_batch(batch_id, queue)
    queue.drain()
    job = _job(org, job_id)
    assert job["status"] == "completed_with_errors"
    stored = {r["public_id"]: r for r in rows(org, "accounts")}
    assert set(stored) == {"acct_kid", "acct_orphan", "acct_dup", "acct_mom"}
    assert stored["acct_kid"]["parent_account_id"] == stored["acct_mom"]["id"]
    assert stored["acct_orphan"]["parent_account_id"] is None
    errors = job_service.list_errors(uuid.UUID(org["organization_id"]), str(job_id))[0]
    assert {(e["index"], e["code"]) for e in errors} == {(1, "unresolved_reference"),
                                                         (2, "duplicate")}
    assert job["progress"]["accounts"]["failed"] == 1


def test_rows_without_public_id_get_a_stable_one(org, small_batches):
    body = bundle(leads=[{"external_system": "hub", "external_id": "7", "last_name": "A"},
                         {"last_name": "No ids"}])
    for expected in ("created", "unchanged"):
        queue = LocalQueue()
        job_id = _submit(org, body, queue)
        job_runner.run_job(job_id, queue)
        queue.drain()
        assert _job(org, job_id)["progress"]["leads"][expected] == 2
    public_ids = [r["public_id"] for r in rows(org, "leads")]
    assert len(public_ids) == 2 and all(p.startswith("lead_imp") for p in public_ids)


def test_stalled_resumes_spend_attempts_only_without_progress(org, small_batches):
    queue = LocalQueue()
    job_id = _submit(org, bundle(accounts=_accounts(4)), queue)
    job_runner.run_job(job_id, queue)
    assert _job(org, job_id)["attempts"] == 1
    import_job.run_batch(queue.messages.pop(0)[1][1], queue)
    queue.messages.clear()  # the worker "died" with its messages
    job_runner.run_job(job_id, queue, stalled=True)  # progress since: no attempt spent
    assert _job(org, job_id)["attempts"] == 1
    queue.messages.clear()
    job_runner.run_job(job_id, queue, stalled=True)  # no progress since: one attempt
    assert _job(org, job_id)["attempts"] == 2
    queue.drain()  # the resume re-enqueued the pending batch
    job = _job(org, job_id)
    assert job["status"] == "succeeded" and job["progress"]["accounts"]["created"] == 4


@pytest.fixture
def leads_refuse_a_name(settings):
    """A constraint the validator does not know about: the database refuses one row."""
    url = sa.engine.make_url(settings.database_url).set(drivername="postgresql")
    ddl = ("ALTER TABLE crm.leads ADD CONSTRAINT test_refuse_name "
           "CHECK (last_name IS DISTINCT FROM 'refuse-me') NOT VALID")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(ddl)
        try:
            yield
        finally:
            conn.execute("ALTER TABLE crm.leads DROP CONSTRAINT test_refuse_name")


def test_a_row_the_database_refuses_is_reported_not_the_batch(org, small_batches,
                                                              leads_refuse_a_name):
    queue = LocalQueue()
    rows_in = [{"public_id": "lead_ok1", "last_name": "A"},
               {"public_id": "lead_nul", "last_name": "refuse-me"},
               {"public_id": "lead_ok2", "last_name": "B"}]
    job_id = _submit(org, bundle(leads=rows_in), queue)
    job_runner.run_job(job_id, queue)
    queue.drain()
    job = _job(org, job_id)
    assert job["status"] == "completed_with_errors"
    assert job["progress"]["leads"] == {"total": 3, "processed": 3, "created": 2, "updated": 0,
                                        "unchanged": 0, "failed": 1}
    errors = job_service.list_errors(uuid.UUID(org["organization_id"]), str(job_id))[0]
    assert [(e["index"], e["public_id"], e["code"]) for e in errors] == [
        (1, "lead_nul", "rejected")]
    assert "test_refuse_name" in errors[0]["message"]
    assert sorted(r["public_id"] for r in rows(org, "leads")) == ["lead_ok1", "lead_ok2"]
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org") == 2


def test_a_row_with_a_nul_byte_is_reported_not_the_batch(org, small_batches):
    # jsonb refuses NUL; the shared field kinds now catch it before the database does
    queue = LocalQueue()
    rows_in = [{"public_id": "lead_ok1", "last_name": "A"},
               {"public_id": "lead_nul", "last_name": "N",
                "custom_fields": {"x": "bad\u0000byte"}},
               {"public_id": "lead_ok2", "last_name": "B"}]
    job_id = _submit(org, bundle(leads=rows_in), queue)
    job_runner.run_job(job_id, queue)
    queue.drain()
    job = _job(org, job_id)
    assert job["status"] == "completed_with_errors"
    assert job["progress"]["leads"] == {"total": 3, "processed": 3, "created": 2, "updated": 0,
                                        "unchanged": 0, "failed": 1}
    errors = job_service.list_errors(uuid.UUID(org["organization_id"]), str(job_id))[0]
    assert [(e["index"], e["public_id"], e["code"]) for e in errors] == [
        (1, "lead_nul", "invalid")]
    assert sorted(r["public_id"] for r in rows(org, "leads")) == ["lead_ok1", "lead_ok2"]
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org") == 2


def _last_analyzed(table: str):
    with db.transaction() as conn:
        return conn.execute(sa.text(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = 'crm' "
            "AND relname = :table"), {"table": table}).scalar()


def test_an_import_refreshes_the_statistics_of_the_tables_it_filled(org, small_batches,
                                                                   monkeypatch):
    from shared.services import table_statistics
    monkeypatch.setattr(table_statistics, "MIN_ROWS", 4)
    with db.transaction() as conn:
        started = conn.execute(sa.text("SELECT now()")).scalar()
    queue = LocalQueue()
    contacts = [{"public_id": "cnt_stat", "first_name": "Only", "last_name": "One"}]
    job_id = _submit(org, bundle(accounts=_accounts(5, "acct_stat"), contacts=contacts), queue)
    job_runner.run_job(job_id, queue)
    queue.drain()
    assert _job(org, job_id)["status"] == "succeeded"
    checkpoint = job_service.get_job(uuid.UUID(org["organization_id"]), str(job_id)).checkpoint
    # accounts got 5 rows (analyzed), contacts 1 (left to autovacuum), the change log 6
    assert checkpoint["analyzed"] == ["accounts", "change_events"]
    assert _last_analyzed("accounts") >= started
    assert _last_analyzed("change_events") >= started


def test_a_dry_run_refreshes_no_statistics(org, small_batches, monkeypatch):
    from shared.services import table_statistics
    monkeypatch.setattr(table_statistics, "MIN_ROWS", 1)
    queue = LocalQueue()
    job_id = _submit(org, bundle(accounts=_accounts(3, "acct_dry")), queue, dry_run=True)
    job_runner.run_job(job_id, queue)
    queue.drain()
    assert _job(org, job_id)["status"] == "succeeded"
    checkpoint = job_service.get_job(uuid.UUID(org["organization_id"]), str(job_id)).checkpoint
    assert "analyzed" not in checkpoint


def test_the_application_role_may_analyze_record_tables_only(org):
    with db.tenant_transaction(uuid.UUID(org["organization_id"])) as conn:
        conn.execute(sa.text("SELECT crm.refresh_statistics('contacts')"))
    with pytest.raises(sa.exc.ProgrammingError, match="record tables"):
        with db.tenant_transaction(uuid.UUID(org["organization_id"])) as conn:
            conn.execute(sa.text("SELECT crm.refresh_statistics('jobs')"))
    with db.transaction() as conn:  # runs with its owner's rights: granted to the app role only
        grantees = set(conn.execute(sa.text(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END "
            "FROM pg_proc p, aclexplode(p.proacl) a "
            "WHERE p.oid = 'crm.refresh_statistics(text)'::regprocedure "
            "AND a.privilege_type = 'EXECUTE'")).scalars())
    assert "drippulse_app" in grantees and "PUBLIC" not in grantees
