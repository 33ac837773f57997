"""The one call shared.jobs.lifecycle makes when a job reaches a final status.

The delivery rows are written in the transaction that wrote the status (so an event exists
exactly when the status committed, and a process that dies right after the commit leaves them
pending for the periodic re-send); their ids go to the workers only after that commit. The
sender is installed by the process (the API and the worker each install theirs); a process
that installs none leaves the sending to the periodic re-send.
"""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa

from shared import db
from shared.jobs.dispatch import DELIVER_WEBHOOK_TASK, Enqueue, send_quietly
from shared.jobs.interrupts import reraise_if_exiting
from shared.notifications import deliveries

log = logging.getLogger("drippulse.notifications")

_sender: Enqueue | None = None


def set_sender(enqueue: Enqueue | None) -> None:
    global _sender
    _sender = enqueue


def job_finished(conn: sa.Connection, job_id: uuid.UUID) -> None:
    """Never fails the status change: a problem here is logged and the job still ends."""
    try:
        with conn.begin_nested():
            ids = deliveries.create_for_job(conn, job_id)
    except Exception as exc:
        reraise_if_exiting(exc)  # a stopped process: the job's end rolls back and is redone
        log.exception("could not queue webhook deliveries for job %s", job_id)
        return
    if ids:
        db.after_commit(conn, lambda: send_now(ids))


def send_now(delivery_ids: list[uuid.UUID]) -> None:
    sender = _sender
    if sender is None:
        log.debug("no task sender in this process; the periodic re-send will deliver")
        return
    for delivery_id in delivery_ids:
        send_quietly(sender, DELIVER_WEBHOOK_TASK, [str(delivery_id)])
