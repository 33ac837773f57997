"""`python -m tests.reliability.stopping_worker worker ...`: a drippulse worker stopped mid-batch.

The first time a pool process writes a batch of the job named by DP_TEST_STOP_JOB, it goes the
way `kill -TERM -pgid` sometimes takes it: SystemExit raised in the middle of the write (what
the pool's SIGTERM handler raises), and the cleanup on the way out failing on a connection left
mid-COPY, its error replacing the SystemExit. The file DP_TEST_STOP_MARK makes it happen once
across processes. Test code only.
"""
from __future__ import annotations

import os

import psycopg
import sqlalchemy as sa

from shared.bundle import apply

_write_rows = apply.write_rows


def _first_time() -> bool:
    try:
        os.close(os.open(os.environ["DP_TEST_STOP_MARK"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _stopped_once(conn, entity, organization_id, job_id, *args, **kwargs):
    if str(job_id) == os.environ.get("DP_TEST_STOP_JOB") and _first_time():
        try:
            raise SystemExit(-241)
        finally:
            raise sa.exc.ProgrammingError(  # noqa: B012 - the cleanup's error replacing the stop
                "ROLLBACK TO SAVEPOINT sa_savepoint_1", {},
                psycopg.ProgrammingError("COPY cannot be used with this method"))
    return _write_rows(conn, entity, organization_id, job_id, *args, **kwargs)


apply.write_rows = _stopped_once

if __name__ == "__main__":
    from drippulse.cli import main

    raise SystemExit(main())
