"""`python -m tests.reliability.poison_worker worker ...`: a drippulse worker that dies.

Whenever a pool process starts an attempt of the job named by DP_TEST_POISON_JOB, it kill -9s
itself, as the OOM killer would: a real death, at the one moment that makes every attempt of
that job fail. Celery's main process survives, replaces the pool process and (acks_late,
reject_on_worker_lost) puts the message back on the queue. Test code only.
"""
from __future__ import annotations

import os
import signal

from shared.jobs import lifecycle

_start_attempt = lifecycle.start


def _dying_start_attempt(job_id, max_attempts):
    row = _start_attempt(job_id, max_attempts)
    if row is not None and str(job_id) == os.environ.get("DP_TEST_POISON_JOB"):
        os.kill(os.getpid(), signal.SIGKILL)
    return row


lifecycle.start = _dying_start_attempt

if __name__ == "__main__":
    from drippulse.cli import main

    raise SystemExit(main())
