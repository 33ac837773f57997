"""Sending job work to the workers: the one place that knows the task names.

Task arguments are ids, never payloads. A job's run task is `drippulse.<kind>.run` with
(job_id, stalled); a job is dispatched after the transaction that made it runnable commits
(`dispatch_after_commit`), so a worker never receives the id of a row it cannot see yet. When
the broker is down the job stays queued and the stale-job sweeper sends it later.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from shared import db
from shared.jobs.interrupts import reraise_if_exiting

log = logging.getLogger("drippulse.jobs")

Enqueue = Callable[[str, list], None]
TASK_PREFIX = "drippulse"
IMPORT_BATCH_TASK = "drippulse.import.batch"
MAINTENANCE_PREFIX = "drippulse.maintenance."
# webhook deliveries (shared.notifications): one delivery id per task; the periodic re-send
DELIVER_WEBHOOK_TASK = "drippulse.maintenance.deliver_webhook"
RESEND_WEBHOOKS_TASK = "drippulse.maintenance.resend_webhooks"


def run_task(kind: str) -> str:
    return f"{TASK_PREFIX}.{kind}.run"


def send_run(enqueue: Enqueue, kind: str, job_id: uuid.UUID | str, *,
             stalled: bool = False) -> None:
    """Send a job's run task now. `stalled`: the sweeper found it running without progress."""
    enqueue(run_task(kind), [str(job_id), stalled])


def send_quietly(enqueue: Enqueue, name: str, args: list) -> None:
    try:
        enqueue(name, args)
    except Exception as exc:  # the broker is down: the sweeper re-sends what stays unprocessed
        reraise_if_exiting(exc)
        log.warning("could not enqueue %s %s; the sweeper will", name, args, exc_info=True)


def dispatch_after_commit(conn: sa.Connection, enqueue: Enqueue, kind: str,
                          job_id: uuid.UUID | str) -> None:
    """Send the job's run task once `conn`'s transaction has committed."""
    db.after_commit(conn, lambda: send_quietly(enqueue, run_task(kind), [str(job_id), False]))


def batches_after_commit(conn: sa.Connection, enqueue: Enqueue, job_id: uuid.UUID,
                         batch_ids: list[int]) -> None:
    """Send import batches once the transaction that claimed them has committed."""
    if batch_ids:
        db.after_commit(conn, lambda: [enqueue(IMPORT_BATCH_TASK, [str(job_id), b])
                                       for b in batch_ids])
