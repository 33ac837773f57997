"""Running a job exactly once at a time: the lease is a Postgres advisory lock.

The lock lives on a dedicated connection held for the whole run. If the worker dies (kill -9, OOM,
lost host), Postgres drops the connection and with it the lock, so a redelivered or swept task can
take the job over at once, with no lease timeout to wait out and no clock to trust.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.models import jobs

log = logging.getLogger("drippulse.jobs")

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def _lock_key(job_id: uuid.UUID) -> int:
    # 64-bit key from the uuid; collisions between two live jobs are practically impossible
    return int.from_bytes(job_id.bytes[8:], "big", signed=True)


@contextmanager
def job_lock(job_id: uuid.UUID) -> Iterator[bool]:
    """Yield True when this process holds the job's lock, False when another one does."""
    conn = db.get_engine().connect()
    try:
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                           {"k": _lock_key(job_id)}).scalar()
        conn.commit()
        try:
            yield bool(got)
        finally:
            if got:
                try:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(job_id)})
                    conn.commit()
                except sa.exc.DBAPIError:
                    conn.invalidate()  # the lock went with the broken connection
    finally:
        conn.close()


def is_locked(job_id: uuid.UUID) -> bool:
    """True while some process holds the job's lock (used by the stale-job sweeper)."""
    with db.transaction() as conn:
        got = conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"),
                           {"k": _lock_key(job_id)}).scalar()
    return not got


def start_attempt(job_id: uuid.UUID, max_attempts: int) -> Any | None:
    """Mark the job running and count the attempt; None when it must not run (finished,
    cancelled, or out of attempts — then it is failed with reason worker_lost)."""
    with db.transaction() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id).with_for_update()).one_or_none()
        if row is None or row.status not in ("queued", "running"):
            return None
        if row.cancel_requested:
            conn.execute(jobs.update().where(jobs.c.id == job_id)
                         .values(status="cancelled", finished_at=sa.func.now()))
            return None
        if row.attempts >= max_attempts:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(
                status="failed", finished_at=sa.func.now(),
                error={"code": "worker_lost",
                       "message": f"the job's worker died {row.attempts} times; giving up"}))
            return None
        return conn.execute(
            jobs.update().where(jobs.c.id == job_id)
            .values(status="running", attempts=jobs.c.attempts + 1, lease_owner=WORKER_ID,
                    started_at=sa.func.coalesce(jobs.c.started_at, sa.func.now()))
            .returning(*jobs.c)
        ).one()


def finish(job_id: uuid.UUID, status: str, error: dict | None = None, **values: Any) -> None:
    with db.transaction() as conn:
        conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status == "running")
                     .values(status=status, error=error, finished_at=sa.func.now(),
                             lease_owner=None, **values))


def cancel_requested(job_id: uuid.UUID) -> bool:
    with db.transaction() as conn:
        return bool(conn.execute(
            sa.select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar())
