"""Helpers for the import tests: bundles, submitting, polling, reading rows back."""
from __future__ import annotations

import uuid

import orjson
import sqlalchemy as sa

from shared import db
from shared.bundle import import_job
from shared.jobs.dispatch import IMPORT_BATCH_TASK
from shared.jobs.status import FINISHED
from tests.conftest import wait_for

IMPORT_URL = "/api/v1/crm/import"


def bundle(**arrays) -> dict:
    return {"version": 1, "exported_at": "2026-01-01T00:00:00+00:00", **arrays}


def post_bundle(client, org, body, *, query: str = "", headers: dict | None = None, **kw):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(IMPORT_URL + query, data=data,
                       headers={**org["headers"], **(headers or {})},
                       content_type=kw.pop("content_type", "application/json"), **kw)


def wait_job(client, org, job_id: str, timeout: float = 60) -> dict:
    def finished():
        job = client.get(f"/api/v1/crm/jobs/{job_id}", headers=org["headers"]).json
        return job if job["status"] in FINISHED else None
    return wait_for(finished, timeout=timeout, interval=0.1, message=f"job {job_id} to finish")


def import_and_wait(client, org, body, **kw) -> dict:
    resp = post_bundle(client, org, body, **kw)
    assert resp.status_code == 202, resp.json
    return wait_job(client, org, resp.json["id"])


def errors_of(client, org, job_id: str) -> list[dict]:
    items, url = [], f"/api/v1/crm/jobs/{job_id}/errors?limit=2"
    while url:
        page = client.get(url, headers=org["headers"]).json
        items += page["items"]
        url = (f"/api/v1/crm/jobs/{job_id}/errors?limit=2&cursor={page['next']}"
               if page["next"] else None)
    return items


def rows(org, table: str, order: str = "public_id") -> list[dict]:
    with db.tenant_transaction(uuid.UUID(org["organization_id"])) as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            f"SELECT * FROM crm.{table} WHERE organization_id = :org ORDER BY {order}"),
            {"org": org["organization_id"]})]


def scalar(org, sql: str, **params):
    with db.tenant_transaction(uuid.UUID(org["organization_id"])) as conn:
        return conn.execute(sa.text(sql), {"org": org["organization_id"], **params}).scalar()


def counts(job: dict, plural: str) -> dict:
    return job["progress"][plural]


class LocalQueue:
    """The import's messages kept in a list instead of Celery; `drain` applies the batches in
    this process, in order, with what they enqueue next."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list]] = []

    def __call__(self, name: str, args: list) -> None:
        self.messages.append((name, args))

    def batches(self) -> list[int]:
        return [args[1] for name, args in self.messages if name == IMPORT_BATCH_TASK]

    def drain(self) -> None:
        while self.messages:
            name, args = self.messages.pop(0)
            if name == IMPORT_BATCH_TASK:
                import_job.run_batch(args[1], self)
