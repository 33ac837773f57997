"""One run task per job kind, `drippulse.<kind>.run(job_id, stalled=False)`: the job's lock,
start, run and end are shared.jobs.runner's; a new kind needs no task code here."""
from __future__ import annotations

import logging
import uuid

from shared.jobs import runner
from shared.jobs.dispatch import run_task
from shared.jobs.kinds import names
from worker.app import celery_app

log = logging.getLogger("drippulse.jobs")


def enqueue(name: str, args: list) -> None:
    celery_app.send_task(name, args=args)


def _run_task(kind: str):
    @celery_app.task(name=run_task(kind))
    def run(job_id: str, stalled: bool = False) -> str:
        outcome = runner.run_job(uuid.UUID(job_id), enqueue, stalled=stalled)
        log.info("%s job %s: %s", kind, job_id, outcome)
        return outcome

    return run


RUN_TASKS = {kind: _run_task(kind) for kind in names()}
