"""Fault-injection harness: a 20,000-row bundle, workers to kill, and the checks that matter.

The checks read Postgres directly (the job row is the truth: docs/architecture.md, "Jobs: the
row is the truth"): after any fault the stored rows must equal the bundle, with no duplicates
and exactly one `imported` change event per row and job.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import uuid
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.entities import ENTITIES
from shared.models import change_events, jobs
from tests.conftest import WorkerProcess, wait_for

# 20,000 rows (the issue speaks of 50k; 20k keeps the folder near its CI budget while giving
# dozens of batches to interrupt at the batch size below).
ROWS = {"accounts": 4000, "contacts": 8000, "opportunities": 3000, "leads": 3000,
        "activities": 2000}
BATCH_SIZE = 250  # 80 batches for 20k rows: many points to interrupt, few enough for CI
APP_NAME = "dp-rel-worker"  # PGAPPNAME of the workers: lets a test find their connections
# A field per entity that the checks compare with the bundle, row by row.
FINGERPRINT = {"accounts": "name", "contacts": "email", "opportunities": "name",
               "leads": "company", "activities": "subject"}


def make_bundle(rows: dict[str, int] = ROWS) -> dict[str, Any]:
    """A bundle whose rows reference each other (parents, contacts, records) like real data."""
    tag = secrets.token_hex(3)
    pid = {p: [f"{p[:4]}_{tag}_{i}" for i in range(n)] for p, n in rows.items()}
    accounts = [{"public_id": p, "name": f"Account {i} {tag}", "domain": f"a{i}.example",
                 "employee_count": i % 500, "annual_revenue": f"{i}.50",
                 **({"parent_account_public_id": pid["accounts"][i - 1]} if i % 10 == 9 else {})}
                for i, p in enumerate(pid["accounts"])]
    contacts = [{"public_id": p, "first_name": f"F{i}", "last_name": f"L{i}",
                 "email": f"c{i}.{tag}@example.com",
                 "account_public_id": pid["accounts"][i % rows["accounts"]]}
                for i, p in enumerate(pid["contacts"])]
    opportunities = [{"public_id": p, "name": f"Deal {i} {tag}", "amount": "1200.50",
                      "currency": "EUR", "status": "open", "pipeline_stage_name": "Prospect",
                      "account_public_id": pid["accounts"][i % rows["accounts"]],
                      "contact_public_id": pid["contacts"][i % rows["contacts"]]}
                     for i, p in enumerate(pid["opportunities"])]
    leads = [{"public_id": p, "first_name": f"Lead{i}", "company": f"Co {i} {tag}",
              "email": f"l{i}.{tag}@example.com", "status": "new"}
             for i, p in enumerate(pid["leads"])]
    activities = [{"public_id": p, "type": "call", "subject": f"Call {i} {tag}",
                   "occurred_at": "2026-01-02T03:04:05+00:00", "record_type": "contact",
                   "record_public_id": pid["contacts"][i % rows["contacts"]]}
                  for i, p in enumerate(pid["activities"])]
    return {"version": 1, "accounts": accounts, "contacts": contacts,
            "opportunities": opportunities, "leads": leads, "activities": activities}


def encode(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def total_rows(bundle: dict[str, Any]) -> int:
    return sum(len(bundle.get(e.plural, [])) for e in ENTITIES)


def submit(client, org: dict, body: bytes) -> uuid.UUID:
    resp = client.post("/api/v1/crm/import", data=body, headers=org["headers"],
                       content_type="application/json")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return uuid.UUID(resp.json["id"])


def job_row(job_id: uuid.UUID):
    with db.transaction() as conn:
        return conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()


def processed(job_id: uuid.UUID) -> int:
    return sum(p.get("processed", 0) for p in (job_row(job_id).progress or {}).values())


def wait_finished(job_id: uuid.UUID, timeout: float = 180) -> Any:
    return wait_for(lambda: (r := job_row(job_id)).status in (
        "succeeded", "completed_with_errors", "failed", "cancelled") and r,
        timeout=timeout, interval=0.2, message=f"job {job_id} to finish")


def stored(org_id: uuid.UUID, plural: str) -> dict[str, Any]:
    """public_id -> fingerprint field of every row of the organization."""
    entity = next(e for e in ENTITIES if e.plural == plural)
    t = entity.table
    with db.tenant_transaction(org_id) as conn:
        rows = conn.execute(sa.select(t.c.public_id, t.c[FINGERPRINT[plural]])
                            .where(t.c.organization_id == org_id)).all()
    as_dict = dict(rows)
    assert len(as_dict) == len(rows), f"duplicate public_ids in {plural}"
    return as_dict


def imported_events(org_id: uuid.UUID, job_id: uuid.UUID) -> dict[str, tuple[int, int]]:
    """record_type -> (events, distinct records) of the job's `imported` events."""
    ce = change_events
    with db.tenant_transaction(org_id) as conn:
        rows = conn.execute(
            sa.select(ce.c.record_type, sa.func.count(), sa.func.count(sa.distinct(ce.c.record_id)))
            .where(ce.c.organization_id == org_id, ce.c.job_id == job_id,
                   ce.c.event_type == "imported").group_by(ce.c.record_type)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def assert_imported_exactly(org_id: uuid.UUID, job_id: uuid.UUID, bundle: dict) -> None:
    job = job_row(job_id)
    assert (job.status, job.error_count, job.error) == ("succeeded", 0, None), job._mapping
    for entity in ENTITIES:
        rows = bundle.get(entity.plural, [])
        expected = {r["public_id"]: r[FINGERPRINT[entity.plural]] for r in rows}
        assert stored(org_id, entity.plural) == expected, entity.plural
        assert job.progress[entity.plural]["processed"] == len(rows), job.progress
        assert job.progress[entity.plural]["created"] == len(rows), job.progress
    events = imported_events(org_id, job_id)
    assert events == {e.name: (len(bundle[e.plural]), len(bundle[e.plural]))
                      for e in ENTITIES if bundle.get(e.plural)}
    with db.tenant_transaction(org_id) as conn:  # references survived the faults too
        orphans = conn.execute(sa.text(
            "SELECT count(*) FROM crm.contacts WHERE organization_id = :o AND account_id IS NULL"),
            {"o": org_id}).scalar()
    assert orphans == 0


def assert_batches_whole(org_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Every committed batch is complete: its rows, their events and the job's counters commit
    together, so in one snapshot the stored rows equal the job's own counters. Read in a single
    REPEATABLE READ transaction, this holds even while another worker keeps committing."""
    ce = change_events
    engine = db.get_engine().execution_options(isolation_level="REPEATABLE READ")
    with engine.begin() as conn:
        db.bind_tenant(conn, org_id)
        progress = conn.execute(sa.select(jobs.c.progress).where(
            jobs.c.organization_id == org_id, jobs.c.id == job_id)).scalar() or {}
        events = dict(conn.execute(
            sa.select(ce.c.record_type, sa.func.count()).where(
                ce.c.organization_id == org_id, ce.c.job_id == job_id,
                ce.c.event_type == "imported").group_by(ce.c.record_type)).all())
        for entity in ENTITIES:
            t = entity.table
            n = conn.execute(sa.select(sa.func.count()).select_from(t).where(
                t.c.organization_id == org_id)).scalar()
            created = progress.get(entity.plural, {}).get("created", 0)
            assert n == created == events.get(entity.name, 0), (entity.plural, n, progress,
                                                                events)


class Workers:
    """Real `drippulse worker` processes for one test; all killed at teardown."""

    def __init__(self, settings, **env: str) -> None:
        self.settings = settings
        self.env = {"DRIPPULSE_BATCH_SIZE": str(BATCH_SIZE), "PGAPPNAME": APP_NAME,
                    "DRIPPULSE_MAX_JOB_ATTEMPTS": "50", **env}
        self.started: list[WorkerProcess] = []

    def start(self, concurrency: int = 2, cls=WorkerProcess) -> WorkerProcess:
        proc = cls(self.settings, concurrency=concurrency, extra_env=self.env).start()
        self.started.append(proc)
        return proc

    @staticmethod
    def kill9(proc: WorkerProcess) -> None:
        """kill -9 of the whole process group: the main process and every pool child."""
        os.killpg(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(30)

    def close(self) -> None:
        # kill every group, even one whose main process already exited: a pool process left
        # behind would keep consuming the queues of the next test
        for proc in self.started:
            if proc.proc is None:
                continue
            try:
                os.killpg(proc.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.proc.wait(30)


class Sweeper(threading.Thread):
    """Stands in for celery beat's stale-job sweep (every 30 s in production), run every
    second with a short staleness so a test does not wait out the production timings."""

    def __init__(self, stale_seconds: int = 8, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        from worker.app import make_celery

        self.app = make_celery()  # configured from the test settings (queue prefix)
        self.stale_seconds = stale_seconds
        self.interval = interval
        self.halt = threading.Event()
        self.errors: list[BaseException] = []

    def enqueue(self, name: str, args: list) -> None:
        self.app.send_task(name, args=args)

    def sweep(self, stale_seconds: int) -> int:
        """One sweep; how many jobs it re-enqueued."""
        from shared.services.job_sweeper import sweep_stale_jobs

        return sweep_stale_jobs(self.enqueue, stale_seconds)["requeued"]

    def resume_now(self, job_id: uuid.UUID) -> None:
        """Beat's sweep right after a death, instead of waiting for the job to look stale:
        re-enqueued once Postgres has dropped the dead worker's locks."""
        before = job_row(job_id).updated_at

        def resumed() -> bool:
            self.sweep(0)
            row = job_row(job_id)
            return row.updated_at > before or row.status not in ("queued", "running")
        wait_for(resumed, timeout=60, interval=0.2, message=f"job {job_id} to be re-enqueued")

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            try:
                self.sweep(self.stale_seconds)
            except Exception as exc:  # noqa: BLE001 - reported by stop()
                self.errors.append(exc)

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


class ModuleWorker(WorkerProcess):
    """A worker started from a test module that patches the product before the CLI runs."""

    module = ""

    def start(self) -> ModuleWorker:
        import subprocess
        import sys

        from tests.conftest import REPO, settings_env

        env = settings_env(self.settings) | self.extra_env
        cmd = [sys.executable, "-m", self.module, "worker",
               "--concurrency", str(self.concurrency), "--loglevel", "WARNING"]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
        return self


class PoisonWorker(ModuleWorker):
    """A worker whose pool process kill -9s itself when it starts an attempt of
    DP_TEST_POISON_JOB (see poison_worker.py)."""

    module = "tests.reliability.poison_worker"


class StoppingWorker(ModuleWorker):
    """A worker whose pool process is stopped once while writing a batch of DP_TEST_STOP_JOB,
    its cleanup failing on the way out (see stopping_worker.py)."""

    module = "tests.reliability.stopping_worker"
