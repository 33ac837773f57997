"""In-process import for the hardening tests: the real services, a local queue instead of Celery
(deterministic, no worker process), and readers for jobs, errors and the exported bundle."""
from __future__ import annotations

import io
import json
import uuid

import orjson

from shared.bundle import import_job
from shared.bundle.upload import submit_import
from shared.jobs import runner as job_runner
from shared.jobs.dispatch import IMPORT_BATCH_TASK, run_task
from shared.services import jobs as job_service


class LocalQueue:
    """Runs the messages the import sends, in order, until none is left."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list]] = []

    def __call__(self, name: str, args: list) -> None:
        self.messages.append((name, args))

    def drain(self) -> None:
        while self.messages:
            name, args = self.messages.pop(0)
            if name == run_task("import"):
                job_runner.run_job(uuid.UUID(args[0]), self)
            elif name == IMPORT_BATCH_TASK:
                import_job.run_batch(int(args[1]), self)


def run_import(org: dict, body, *, dry_run: bool = False) -> dict:
    """Submit a bundle (dict or raw bytes) as `org` and run the job to its end; the job JSON."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    queue = LocalQueue()
    org_id = uuid.UUID(org["organization_id"])
    job, _ = submit_import(org_id, "test", io.BytesIO(data), limit=10**8, dry_run=dry_run,
                           idempotency_key=None, expect_gzip=False, enqueue=queue)
    queue.drain()
    return job_service.job_json(job_service.get_job(org_id, job.id))


def job_errors(org: dict, job_id: str) -> list[dict]:
    items, _ = job_service.list_errors(uuid.UUID(org["organization_id"]), job_id, limit=1000)
    return items


def export_bytes(client, org: dict) -> bytes:
    resp = client.get("/api/v1/crm/export", headers=org["headers"])
    assert resp.status_code == 200, resp.data[:500]
    return resp.data


def export(client, org: dict) -> dict:
    # the stdlib keeps integers beyond 64 bits exact (orjson would turn them into floats)
    return json.loads(export_bytes(client, org))
