"""Workers dying or stopping mid-import: the job still lands exactly once.

Each test imports a 20,000-row bundle in batches of 100 with real worker processes, breaks
something at a random point, and then checks the stored rows against the bundle: same rows, no
duplicates, exactly one `imported` event per row and job. The Sweeper fixture stands in for
celery beat's stale-job sweep, which is what re-enqueues a job whose worker vanished.
"""
from __future__ import annotations

import os
import random
import signal
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import wait_for
from tests.reliability import harness as h

# fault injection: real workers killed mid-import, 20,000-row bundles
pytestmark = pytest.mark.slow


def _wait_progress(job_id: uuid.UUID, at_least: int, timeout: float = 120) -> int:
    """Rows processed once at least `at_least` are, or -1 when the job finished first."""
    def reached():
        row = h.job_row(job_id)
        if row.status not in ("queued", "running"):
            return -1
        done = sum(p.get("processed", 0) for p in (row.progress or {}).values())
        return done if done >= at_least and row.status == "running" else None
    found = wait_for(lambda: (v := reached()) is not None and (v,), timeout=timeout,
                     interval=0.05, message=f"{at_least} rows processed")
    return found[0]


def test_kill_9_three_times_in_one_job(client, org, workers, sweeper):
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    bundle = h.make_bundle()
    total = h.total_rows(bundle)
    org_id = uuid.UUID(org["organization_id"])
    job_id = h.submit(client, org, h.encode(bundle))
    # the first kill may land while the bundle is being spooled (0 rows processed yet)
    points = [rng.choice([0.0, rng.uniform(0.05, 0.2)]), rng.uniform(0.3, 0.45),
              rng.uniform(0.5, 0.65)]
    proc = workers.start()
    kills, last = [], -1
    for point in points:
        spare = workers.start()  # boots while `proc` works, so the job never waits for a boot
        done = _wait_progress(job_id, max(int(point * total), last + 1))
        if done == -1:
            break
        h.Workers.kill9(proc)
        kills.append(h.processed(job_id))
        h.assert_batches_whole(org_id, job_id)  # nothing half-written by the dead worker
        last = kills[-1]
        sweeper.resume_now(job_id)  # beat, at once: re-enqueue what the dead worker held
        proc = spare
    print(f"seed={seed} kill points={[round(p, 2) for p in points]} rows at kills={kills}")
    assert len(kills) == 3, "the job finished before three kills; the test proved nothing"
    h.wait_finished(job_id)
    h.assert_imported_exactly(org_id, job_id, bundle)
    assert h.job_row(job_id).attempts >= 1


def test_sigterm_finishes_or_rolls_back_the_batch_and_the_next_worker_resumes(
        client, org, workers, sweeper):
    bundle = h.make_bundle()
    total = h.total_rows(bundle)
    org_id = uuid.UUID(org["organization_id"])
    job_id = h.submit(client, org, h.encode(bundle))
    proc = workers.start()
    # `docker stop`: SIGTERM to the main process only (warm shutdown: running batches finish)
    assert _wait_progress(job_id, total // 4) >= 0
    os.kill(proc.proc.pid, signal.SIGTERM)
    spare = workers.start()  # the next worker boots during the shutdown
    proc.proc.wait(120)
    h.assert_batches_whole(org_id, job_id)
    at_stop = h.processed(job_id)
    sweeper.resume_now(job_id)
    # systemd / `kill -TERM -pgid`: SIGTERM to every process of the worker at once
    assert _wait_progress(job_id, max(total // 2, at_stop + 1)) >= 0
    os.killpg(spare.proc.pid, signal.SIGTERM)
    workers.start()
    spare.proc.wait(120)
    h.assert_batches_whole(org_id, job_id)
    sweeper.resume_now(job_id)
    h.wait_finished(job_id)
    h.assert_imported_exactly(org_id, job_id, bundle)


def _terminate_worker_backends(settings) -> int:
    url = sa.engine.make_url(settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            (h.APP_NAME,)).fetchall())


def test_worker_database_connections_killed_mid_job(client, org, settings, workers, sweeper):
    bundle = h.make_bundle()
    total = h.total_rows(bundle)
    org_id = uuid.UUID(org["organization_id"])
    job_id = h.submit(client, org, h.encode(bundle))
    workers.start()
    terminated = []
    for share in (0.25, 0.6):
        if _wait_progress(job_id, int(total * share)) == -1:
            break
        terminated.append(_terminate_worker_backends(settings))
    print(f"backends terminated: {terminated}")
    assert len(terminated) == 2 and all(terminated)
    h.wait_finished(job_id)
    h.assert_imported_exactly(org_id, job_id, bundle)
