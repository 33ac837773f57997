"""What undo costs an import, and how fast an undo runs: the same N-row import run in one
process (no Celery: the services the worker runs), first creating every row, then updating
every row, with the before-images an undo needs and — for comparison — with the update
statement as it was before undo existed; then the updating import is reverted (every row
restored). Each variant on a fresh database; prints seconds and the ratios.

    python -m bench.update_cost --rows 100000
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from bench.generate import write_bundle
from bench.harness import create_database, drop_database
from shared import config, migrate
from shared.bundle import import_job, write
from shared.bundle.revert_job import create_revert
from shared.bundle.upload import submit_import
from shared.db import dispose_engines
from shared.jobs import runner as job_runner
from shared.jobs.dispatch import IMPORT_BATCH_TASK
from shared.services import organizations


def _without_before_images(entity_name: str) -> str:
    """The upsert as it was before undo: an updated row's event says only that it was."""
    sql = ORIGINAL_UPSERT(entity_name)
    start = sql.index("ELSE (SELECT jsonb_build_object('outcome', 'updated', 'before', img.b)")
    end = sql.index(") img) END,", start) + len(") img) ")
    return sql[:start] + "ELSE '{\"outcome\": \"updated\"}'::jsonb " + sql[end:]


ORIGINAL_UPSERT = write.upsert_sql


def _import(org_id: uuid.UUID, path: Path) -> tuple[float, uuid.UUID]:
    queue: list[tuple[str, list]] = []
    with open(path, "rb") as body:
        job, _ = submit_import(org_id, "bench", body, limit=1 << 40, dry_run=False,
                               idempotency_key=None, expect_gzip=False,
                               enqueue=lambda n, a: queue.append((n, a)))
    return _drain(queue), job.id


def _drain(queue: list[tuple[str, list]]) -> float:
    started = time.perf_counter()
    while queue:
        name, args = queue.pop(0)
        if name == IMPORT_BATCH_TASK:
            import_job.run_batch(int(args[1]), lambda n, a: queue.append((n, a)))
        else:  # any kind's run task
            job_runner.run_job(uuid.UUID(args[0]), lambda n, a: queue.append((n, a)))
    return time.perf_counter() - started


def _variant(rows: int, before_images: bool, work: Path) -> dict:
    server = os.environ.get("TEST_DATABASE_URL") or os.environ["DATABASE_URL"]
    db_url = create_database(server)
    try:
        migrate.upgrade(db_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRIPPULSE_")}
        env.update(DATABASE_URL=db_url, DRIPPULSE_DATA_DIR=str(work / "data"),
                   SECRET_KEY=secrets.token_hex(32))
        config.set_settings(config.load(env))
        write.upsert_sql = ORIGINAL_UPSERT if before_images else _without_before_images
        org = uuid.UUID(organizations.create_organization("update cost")["organization_id"])
        create_s, _ = _import(org, work / "first.json")
        update_s, update_job = _import(org, work / "changed.json")
        result = {"create_s": round(create_s, 2), "update_s": round(update_s, 2)}
        if before_images:
            queue: list[tuple[str, list]] = []
            create_revert(org, str(update_job), dry_run=False, force=False, actor="bench",
                          enqueue=lambda n, a: queue.append((n, a)))
            revert_s = _drain(queue)
            result.update(revert_s=round(revert_s, 2), revert_rows_per_s=round(rows / revert_s))
        return result
    finally:
        write.upsert_sql = ORIGINAL_UPSERT
        dispose_engines()
        drop_database(db_url)


def run(rows: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="dp-update-cost-"))
    try:
        write_bundle(work / "first.json", rows, seed=7)
        write_bundle(work / "changed.json", rows, seed=8)  # same public_ids, other values
        without = _variant(rows, False, work)
        with_images = _variant(rows, True, work)
        result = {"rows": rows, "without_before_images": without,
                  "with_before_images": with_images,
                  "update_slowdown": round(with_images["update_s"] / without["update_s"] - 1, 3),
                  "create_slowdown": round(with_images["create_s"] / without["create_s"] - 1, 3)}
        print(json.dumps(result, indent=2))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    run(parser.parse_args().rows)


if __name__ == "__main__":
    main()
