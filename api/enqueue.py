"""Sending a job id to the workers from the API (after the job row committed)."""
from __future__ import annotations

import logging

log = logging.getLogger("drippulse.api")


def enqueue(name: str, args: list) -> None:
    """Publish once, without retrying for long: when Redis is down the job stays queued and
    the stale-job sweeper enqueues it later, so the request still succeeds."""
    from worker.app import celery_app

    celery_app.send_task(name, args=args, retry=False)
