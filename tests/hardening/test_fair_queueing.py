"""Fair queueing across organizations (issue 19, High 2): an organization keeps at most
`org_parallel_batches` import batches queued however many jobs it runs, its waiting jobs get
the freed slots in turn, and the sweeper does not take a job waiting for a slot for a stalled
one."""
from __future__ import annotations

import io
import uuid

import orjson
import sqlalchemy as sa

from shared import db
from shared.bundle import import_job
from shared.bundle.upload import submit_import
from shared.config import get_settings
from shared.jobs import runner as job_runner
from shared.jobs.dispatch import IMPORT_BATCH_TASK, run_task
from shared.services import jobs as job_service
from shared.services.job_sweeper import sweep_stale_jobs
from tests.conftest import replace_settings
from tests.hardening.helpers import LocalQueue


def _bundle(tag: str, rows: int) -> bytes:
    return orjson.dumps({"accounts": [{"public_id": f"acct_{tag}{i:05d}", "name": f"{tag} {i}"}
                                      for i in range(rows)]})


def _submit(org_id: uuid.UUID, data: bytes, queue: LocalQueue) -> uuid.UUID:
    job, _ = submit_import(org_id, "test", io.BytesIO(data), limit=10**8, dry_run=False,
                           idempotency_key=None, expect_gzip=False, enqueue=queue)
    return job.id


def _run_tasks_only(queue: LocalQueue) -> None:
    """Run the jobs' run tasks (spool + first scheduling); leave batch messages queued."""
    runs = [m for m in queue.messages if m[0] == run_task("import")]
    queue.messages = [m for m in queue.messages if m[0] != run_task("import")]
    for _, args in runs:
        job_runner.run_job(uuid.UUID(args[0]), queue)


def _queued(org_id: uuid.UUID) -> dict[str, int]:
    with db.tenant_transaction(org_id) as conn:
        rows = conn.execute(sa.text(
            "SELECT b.job_id::text, count(*) FROM crm.import_batches b JOIN crm.jobs j "
            "ON j.organization_id = b.organization_id AND j.id = b.job_id "
            "WHERE b.organization_id = :org AND b.status = 'pending' "
            "AND b.enqueued_at IS NOT NULL AND j.status = 'running' GROUP BY 1"),
            {"org": org_id}).all()
    return dict(rows)


def test_an_organization_queues_at_most_its_share_of_batches(fresh_settings, org):
    settings = replace_settings(fresh_settings, batch_size=10)
    cap = settings.org_parallel_batches
    org_id = uuid.UUID(org["organization_id"])
    queue = LocalQueue()
    ids = [_submit(org_id, _bundle(f"j{n}x", 200), queue) for n in range(3)]  # 20 batches each
    _run_tasks_only(queue)
    queued = _queued(org_id)
    assert sum(queued.values()) <= cap, queued  # before: 8 per job, 24 in all
    assert len([m for m in queue.messages if m[0] == IMPORT_BATCH_TASK]) <= cap
    # the slots a finishing batch frees go to the jobs in turn: every job is served while
    # all three still have batches to do
    served: set[str] = set()
    for _ in range(cap + 3):
        name, args = queue.messages.pop(0)
        import_job.run_batch(int(args[1]), queue)
        served |= set(_queued(org_id))
        assert sum(_queued(org_id).values()) <= cap
    assert served == {str(i) for i in ids}
    queue.drain()
    for job_id in ids:
        job = job_service.job_json(job_service.get_job(org_id, job_id))
        assert job["status"] == "succeeded", job
        assert job["progress"]["accounts"]["created"] == 200


def test_a_job_waiting_for_a_slot_is_not_swept(fresh_settings, org):
    settings = replace_settings(fresh_settings, batch_size=10)
    org_id = uuid.UUID(org["organization_id"])
    queue = LocalQueue()
    ids = [_submit(org_id, _bundle(f"w{n}x", 10 * settings.org_parallel_batches), queue)
           for n in range(2)]
    _run_tasks_only(queue)
    queued = _queued(org_id)
    waiting = [i for i in ids if str(i) not in queued]
    assert len(waiting) == 1, queued  # the first job holds every slot of the organization
    sent: list = []  # a lease of 0 s: every row older than the sweep looks unmoved
    result = sweep_stale_jobs(lambda name, args: sent.append(args), 0,
                              organization_id=org_id)
    swept = {args[0] for args in sent}
    assert str(waiting[0]) not in swept, result  # it waits for its turn: not stalled
    assert swept == {str(i) for i in ids if i not in waiting}, result  # the holder: stalled
    queue.drain()
    for job_id in ids:
        assert job_service.get_job(org_id, job_id).status == "succeeded"
    assert get_settings().org_parallel_batches == settings.org_parallel_batches
