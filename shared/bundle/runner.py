"""Import job orchestration: phase 1 (spool) under the job lock, then batches entity by entity.

Flow: `run_job` (task drippulse.import.run) spools the upload and calls `advance`, which enqueues
the first PARALLEL_BATCHES batches of the first entity. Each finished batch enqueues one more
(so other jobs' messages interleave: per-organization fairness) and the batch that finishes an
entity calls `advance` again, which moves to the next entity, and after the last one finalizes
the job. A redelivered or swept run resumes with `advance(resume=True)`: nothing committed is
redone, pending batches are enqueued again.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import orjson
import sqlalchemy as sa

from shared import db
from shared.bundle import external_refs
from shared.bundle.apply import apply_batch, claim_batches
from shared.bundle.references import apply_deferred_refs
from shared.bundle.spool import BundleError, spool_bundle
from shared.bundle.tables import import_batches, import_refs, import_row_keys
from shared.config import get_settings
from shared.entities import ENTITIES
from shared.interop.source_stages import add_source_stages
from shared.interop.spool_source import spool_source
from shared.models import jobs
from shared.services import job_runs, table_statistics
from shared.services.jobs import FINISHED, empty_progress, record_errors
from shared.storage import get_storage
from shared.worker_metrics import observe_batch

log = logging.getLogger("drippulse.import")

Enqueue = Callable[[str, list], None]
BATCH_TASK = "drippulse.import.batch"
# Batches of one job in the queue at once: enough to keep several workers busy on one import,
# few enough that another organization's job waits behind at most this many.
PARALLEL_BATCHES = 8


class BatchBusy(Exception):
    """The batch is locked by another transaction (a duplicate delivery, or a dying worker)."""


def _job(job_id: uuid.UUID):
    with db.transaction() as conn:
        return conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one_or_none()


def run_job(job_id: uuid.UUID, enqueue: Enqueue, *, stalled: bool = False) -> str:
    """Start or resume an import job. `stalled`: the sweeper found it without progress."""
    settings = get_settings()
    with job_runs.job_lock(job_id) as got:
        if not got:
            return "skipped"  # another delivery is spooling this job right now
        job = _job(job_id)
        if job is None or job.status in FINISHED:
            return "finished"
        spooled = bool((job.checkpoint or {}).get("spooled"))
        if job.status == "queued" or not spooled or (stalled and not _progressed(job)):
            job = job_runs.start_attempt(job_id, settings.max_job_attempts)
            if job is None:
                return "not_started"
        if not spooled:
            try:
                _spool(job, settings.batch_size)
            except BundleError as exc:
                job_runs.finish(job_id, "failed", exc.as_error())
                return "failed"
            except sa.exc.OperationalError:
                raise  # the database went away: a later delivery (or the sweeper) resumes
            except Exception as exc:  # noqa: BLE001 - a bug must end the job, not leave it running
                log.exception("import %s: spooling failed", job_id)
                fail_job(job_id, "spool_failed",
                         f"the upload could not be processed ({type(exc).__name__})")
                return "failed"
    advance(job_id, enqueue, resume=True)
    return "running"


def _progressed(job) -> bool:
    """Whether batches completed since the last stalled resume. A job that moves, however
    slowly (a long queue of other organizations' batches), is resumed without spending an
    attempt; one stuck on a batch that kills its worker spends one per resume and fails with
    worker_lost after Settings.max_job_attempts."""
    with db.tenant_transaction(job.organization_id) as conn:
        done = conn.execute(sa.select(sa.func.count()).where(
            import_batches.c.organization_id == job.organization_id,
            import_batches.c.job_id == job.id, import_batches.c.status == "done")).scalar()
        if done == (job.checkpoint or {}).get("resume_mark"):
            return False
        conn.execute(jobs.update().where(jobs.c.organization_id == job.organization_id,
                                         jobs.c.id == job.id)
                     .values(checkpoint=jobs.c.checkpoint.op("||")(
                         sa.func.jsonb_build_object(sa.cast("resume_mark", sa.Text), done))))
    return True


def _spool(job, batch_size: int) -> None:
    storage = get_storage()
    if not job.upload_key or not storage.exists(job.upload_key):
        raise BundleError("upload_missing", "the uploaded bundle is no longer in storage")
    params = job.params or {}
    source = params.get("source", "bundle")
    warnings: list[dict] = []
    stages = []
    if source == "bundle":
        result = spool_bundle(storage, job.upload_key, job.organization_id, job.id, batch_size)
    else:
        result, report = spool_source(storage, job.upload_key, source, {},
                                      job.organization_id, job.id, batch_size,
                                      get_settings().max_upload_bytes)
        warnings, stages = report.warnings, report.stages
    progress = empty_progress()
    for plural, total in result.totals.items():
        progress[plural]["total"] = total
    rows = [{"organization_id": job.organization_id, "job_id": job.id, "entity": plural,
             "status": "pending", "created": 0, "updated": 0, "unchanged": 0, "failed": 0, **b}
            for plural, batches in result.batches.items() for b in batches]
    with db.tenant_transaction(job.organization_id) as conn:
        conn.execute(import_batches.delete().where(
            import_batches.c.organization_id == job.organization_id,
            import_batches.c.job_id == job.id))
        if rows:
            conn.execute(import_batches.insert(), rows)
        record_errors(conn, job.organization_id, job.id, result.errors)
        if stages and params.get("create_stages") and not params.get("dry_run"):
            added = add_source_stages(conn, job.organization_id, stages)
            if added:
                warnings.append({"code": "stages_created", "stages": added,
                                 "message": f"added {len(added)} stages to the default "
                                            f"pipeline: {', '.join(added)}"})
        checkpoint = {"spooled": True, "spool": result.spool_keys}
        if result.external_systems is not None:
            checkpoint["no_stored_pairs"] = external_refs.systems_without_stored_rows(
                conn, job.organization_id, result.external_systems)
        conn.execute(jobs.update().where(jobs.c.organization_id == job.organization_id,
                                         jobs.c.id == job.id).values(
            progress=progress, warnings=warnings, checkpoint=checkpoint))
    log.info("import %s spooled: %s", job.id, result.totals)


def run_batch(batch_id: int, enqueue: Enqueue) -> str:
    started = time.perf_counter()
    outcome = apply_batch(batch_id)
    if outcome.status == "applied" and outcome.entity:
        observe_batch("import", outcome.entity, time.perf_counter() - started,
                      {k: v for k, v in outcome.counts.items() if k != "processed"})
    if outcome.status == "locked":
        raise BatchBusy(batch_id)
    if outcome.status == "stopped" and outcome.job_id:
        advance(outcome.job_id, enqueue)  # cancellation is concluded here
    for next_id in outcome.next_batches:
        enqueue(BATCH_TASK, [str(outcome.job_id), next_id])
    if outcome.entity_finished:
        advance(outcome.job_id, enqueue)
    return outcome.status


def advance(job_id: uuid.UUID, enqueue: Enqueue, *, resume: bool = False) -> str:
    """Move the job on: cancel, apply deferred references, enqueue the current entity's batches,
    or finalize. Safe to call any number of times, concurrently (the job row is locked)."""
    job = _job(job_id)
    if job is None:
        return "missing"
    org = job.organization_id
    to_enqueue: list[int] = []
    cleanup = None
    due, final = _statistics_due(job) if job.status == "running" else ([], False)
    # the last entity's table is analyzed before the job is declared done (an export right
    # after it plans with real row counts); an entity finished mid-job after the next entity's
    # batches are queued, so the workers never wait for it; the change log once the job is
    # done (an export does not read it)
    before = [t for t in due if final and t != "change_events"]
    later = [t for t in due if t not in before]
    _record_analyzed(org, job_id, table_statistics.refresh(before))
    with db.tenant_transaction(org) as conn:
        job = conn.execute(sa.select(jobs).where(jobs.c.organization_id == org,
                                                 jobs.c.id == job_id)
                           .with_for_update(key_share=True)).one()
        if job.status != "running":
            return job.status
        checkpoint = dict(job.checkpoint or {})
        dry_run = bool((job.params or {}).get("dry_run"))
        if job.cancel_requested:
            _end(conn, job, "cancelled")
            cleanup, state = job, "cancelled"
        else:
            pending = dict(conn.execute(
                sa.select(import_batches.c.entity, sa.func.count())
                .where(import_batches.c.organization_id == org,
                       import_batches.c.job_id == job_id, import_batches.c.status == "pending")
                .group_by(import_batches.c.entity)).all())
            if "accounts" not in pending and not checkpoint.get("refs_applied"):
                apply_deferred_refs(conn, org, job_id, dry_run)
                checkpoint["refs_applied"] = True
                conn.execute(jobs.update().where(jobs.c.organization_id == org,
                                                 jobs.c.id == job_id)
                             .values(checkpoint=checkpoint))
            current = next((e.plural for e in ENTITIES if e.plural in pending), None)
            if current is None:
                errors = conn.execute(sa.select(jobs.c.error_count).where(
                    jobs.c.organization_id == org, jobs.c.id == job_id)).scalar()
                state = "completed_with_errors" if errors else "succeeded"
                _end(conn, job, state)
                cleanup = job
            else:
                if resume:
                    conn.execute(import_batches.update().where(
                        import_batches.c.organization_id == org,
                        import_batches.c.job_id == job_id,
                        import_batches.c.status == "pending").values(enqueued_at=None))
                to_enqueue = claim_batches(conn, org, job_id, current, PARALLEL_BATCHES)
                state = f"importing {current}"
    for batch_id in to_enqueue:
        enqueue(BATCH_TASK, [str(job_id), batch_id])
    if cleanup is not None:
        _delete_files(cleanup)
    if later:
        _record_analyzed(org, job_id, table_statistics.refresh(later))
    return state


def _statistics_due(job) -> tuple[list[str], bool]:
    """Tables to ANALYZE now: those of entities whose batches are all done and that got many
    rows, once per job (the checkpoint remembers); and whether no batch is left at all. The
    next entity's reference lookups and the first export after the import then plan with real
    row counts."""
    checkpoint = job.checkpoint or {}
    if not checkpoint.get("spooled") or (job.params or {}).get("dry_run"):
        return [], False
    with db.tenant_transaction(job.organization_id) as conn:
        pending = set(conn.execute(
            sa.select(import_batches.c.entity).distinct()
            .where(import_batches.c.organization_id == job.organization_id,
                   import_batches.c.job_id == job.id, import_batches.c.status == "pending")
        ).scalars())
    progress, done = job.progress or {}, set(checkpoint.get("analyzed", []))
    tables = [e.plural for e in ENTITIES if e.plural not in pending and e.plural not in done
              and table_statistics.written_rows(progress, e.plural) >= table_statistics.MIN_ROWS]
    written = sum(table_statistics.written_rows(progress, e.plural) for e in ENTITIES)
    if not pending and "change_events" not in done and written >= table_statistics.MIN_ROWS:
        tables.append("change_events")  # one `imported` event per row: the change log grew too
    return tables, not pending


def _record_analyzed(organization_id: uuid.UUID, job_id: uuid.UUID, tables: list[str]) -> None:
    """Remember analyzed tables (read as a set: a table analyzed twice by racing hand-overs is
    listed twice). Statistics are an optimization: a failure here is logged, not raised."""
    if not tables:
        return
    try:
        with db.tenant_transaction(organization_id) as conn:
            # one atomic update: every other checkpoint writer reads the row under its lock
            conn.execute(sa.text(
                "UPDATE crm.jobs SET checkpoint = checkpoint || jsonb_build_object('analyzed', "
                "coalesce(checkpoint->'analyzed', '[]'::jsonb) || CAST(:tables AS jsonb)) "
                "WHERE organization_id = :org AND id = :job"),
                {"tables": orjson.dumps(tables).decode(), "org": organization_id, "job": job_id})
    except sa.exc.DBAPIError:
        log.warning("import %s: could not record analyzed tables %s", job_id, tables,
                    exc_info=True)


def _end(conn: sa.Connection, job, status: str) -> None:
    conn.execute(jobs.update().where(jobs.c.organization_id == job.organization_id,
                                     jobs.c.id == job.id)
                 .values(status=status, finished_at=sa.func.now(), lease_owner=None))
    for table in (import_row_keys, import_refs):
        conn.execute(table.delete().where(table.c.organization_id == job.organization_id,
                                          table.c.job_id == job.id))


def _delete_files(job) -> None:
    storage = get_storage()
    for key in ((job.checkpoint or {}).get("spool") or {}).values():
        storage.delete(key)
    if job.upload_key:
        storage.delete(job.upload_key)


def fail_job(job_id: uuid.UUID, code: str, message: str) -> None:
    job_runs.finish(job_id, "failed", {"code": code, "message": message})

