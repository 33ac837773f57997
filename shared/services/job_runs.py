"""Running a job exactly once at a time: the lease is a Postgres advisory lock.

The lock lives on a dedicated connection held for the whole run. If the worker dies (kill -9, OOM,
lost host), Postgres drops the connection and with it the lock, so a redelivered or swept task can
take the job over at once, with no lease timeout to wait out and no clock to trust.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from shared import db

log = logging.getLogger("drippulse.jobs")

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
