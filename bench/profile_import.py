"""Profile an import in ONE process with cProfile: spool, then every batch, no Celery.

    python -m bench.profile_import --rows 100000 [--top 30] [--batch-size 2000]

py-spy (bench.run --profile) cannot attach to processes in some sandboxes ("Failed to find
python version from target process"); this runs the same service functions the worker runs
(the run and batch tasks' functions) in-process, so the profile shows where Python time goes.
cProfile slows Python code down, so read the shares, not the absolute seconds. Needs
TEST_DATABASE_URL (a database is created and dropped) and TEST_REDIS_URL.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from bench.generate import write_bundle
from bench.harness import create_database, drop_database
from shared import config, migrate
from shared.bundle import import_job
from shared.bundle.upload import submit_import
from shared.db import dispose_engines
from shared.jobs import runner as job_runner
from shared.jobs.dispatch import IMPORT_BATCH_TASK
from shared.services import organizations


def run(rows: int, top: int, batch_size: int | None, profile: bool = True) -> dict:
    server = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if not server or not redis_url:
        raise SystemExit("set TEST_DATABASE_URL and TEST_REDIS_URL")
    work = Path(tempfile.mkdtemp(prefix="dp-prof-"))
    db_url = create_database(server)
    try:
        migrate.upgrade(db_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRIPPULSE_")}
        env.update(DATABASE_URL=db_url, REDIS_URL=redis_url, DRIPPULSE_DATA_DIR=str(work / "data"),
                   SECRET_KEY=secrets.token_hex(32))
        if batch_size:
            env["DRIPPULSE_BATCH_SIZE"] = str(batch_size)
        config.set_settings(config.load(env))
        org = organizations.create_organization("profile import")
        bundle = work / "bundle.json"
        write_bundle(bundle, rows)
        queue: list[tuple[str, list]] = []
        with open(bundle, "rb") as body:
            job, _ = submit_import(uuid.UUID(org["organization_id"]), "bench", body,
                                   limit=1 << 40, dry_run=False, idempotency_key=None,
                                   expect_gzip=False,
                                   enqueue=lambda name, args: queue.append((name, args)))
        profiler = cProfile.Profile() if profile else None
        started, cpu_started = time.perf_counter(), time.process_time()
        timings = {"spool_s": 0.0, "batches_s": 0.0}
        if profiler:
            profiler.enable()
        while queue:
            name, args = queue.pop(0)
            t0 = time.perf_counter()
            if name == IMPORT_BATCH_TASK:
                import_job.run_batch(int(args[1]), lambda n, a: queue.append((n, a)))
                timings["batches_s"] += time.perf_counter() - t0
            else:
                job_runner.run_job(uuid.UUID(args[0]), lambda n, a: queue.append((n, a)))
                timings["spool_s"] += time.perf_counter() - t0
        if profiler:
            profiler.disable()
        total = time.perf_counter() - started
        # CPU seconds of this process: the Python side's cost, far less sensitive than wall
        # time to other load on a shared machine (the database's CPU is not in it)
        result = {"rows": rows, "seconds": round(total, 2), "rows_per_s": round(rows / total),
                  "cpu_s": round(time.process_time() - cpu_started, 2),
                  **{k: round(v, 2) for k, v in timings.items()}}
        print(result)
        if profiler:
            for key in ("cumulative", "tottime"):
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats(key).print_stats(top)
                print(text.getvalue())
        return result
    finally:
        dispose_engines()
        drop_database(db_url)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--no-profile", action="store_true", help="time only")
    args = parser.parse_args()
    run(args.rows, args.top, args.batch_size, profile=not args.no_profile)


if __name__ == "__main__":
    main()
