"""Scheduling an import's batches — the import job's alone: which entity's batches are queued
(entity order: parents first), how many at once, when the deferred parent references are
applied, when statistics are refreshed, and when the job ends.

`advance` moves the job on and is safe to call any number of times, concurrently (the job row
is locked); `schedule_after_batch` runs inside each batch's transaction, hands the slot it
frees to the organization's jobs in turn (`fill_slots`), and moves the job on once the
entity's last batch is done. Batch ids reach the broker only after the transaction that
claimed them commits.

Fairness: an organization keeps at most `Settings.org_parallel_batches` batches queued over
all its jobs (and one job at most PARALLEL_BATCHES), so another organization's small job waits
behind that many batches at most, however many big imports the first one runs. A job that
waits for a slot is not stalled: the sweeper leaves it alone (`waiting_for_slot`).
"""
from __future__ import annotations

import logging
import uuid

import orjson
import sqlalchemy as sa

from shared import db
from shared.bundle.references import apply_deferred_refs
from shared.bundle.tables import import_batches, import_refs, import_row_keys
from shared.config import get_settings
from shared.entities import ENTITIES
from shared.jobs import lifecycle
from shared.jobs import progress as job_progress
from shared.jobs.dispatch import Enqueue, batches_after_commit
from shared.jobs.runner import load
from shared.jobs.status import JobStatus
from shared.models import jobs
from shared.services import table_statistics
from shared.storage import get_storage

log = logging.getLogger("drippulse.import")

# Batches of one job in the queue at once: enough to keep several workers busy on one import,
# few enough that another organization's job waits behind at most this many.
PARALLEL_BATCHES = 8
# Entities whose rows may point at rows of their own kind (an account's parent): those links
# are applied once all of the entity's batches are done.
SELF_REFERENCING = tuple(e for e in ENTITIES if any(r.target == e.name for r in e.references))


def schedule_after_batch(conn: sa.Connection, batch, enqueue: Enqueue) -> None:
    """In the transaction that marks `batch` done: claim the entity's next batch, or, when
    none is pending, move the job on (after the commit)."""
    org, job_id = batch.organization_id, batch.job_id
    fill_slots(conn, org, enqueue)
    remaining = conn.execute(sa.select(sa.func.count()).where(
        import_batches.c.organization_id == org, import_batches.c.job_id == job_id,
        import_batches.c.entity == batch.entity, import_batches.c.status == "pending")).scalar()
    if remaining == 0:
        db.after_commit(conn, lambda: advance(job_id, enqueue))


def fill_slots(conn: sa.Connection, organization_id: uuid.UUID, enqueue: Enqueue) -> int:
    """Queue batches of the organization's importing jobs up to its share of the queue, one at
    a time to the job served least recently (a job never served first); returns how many.
    Callers take turns (a transaction-scoped lock per organization), so each counts what the
    others claimed."""
    # one filler per organization at a time: two transactions counting the queue at once (the
    # first batches of several jobs starting together) each saw the other's claims uncommitted
    # and together queued twice the share
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
        sa.func.hashtextextended("drippulse-slots:" + str(organization_id), 0))))
    free = get_settings().org_parallel_batches
    jobs_now = []
    for row in conn.execute(_SLOTS, {"org": organization_id}).all():
        free -= row.queued
        if row.entity and row.waiting and row.queued < PARALLEL_BATCHES:
            jobs_now.append([row.served is not None, row.served, row.id, row.entity, row.queued])
    turn = 0
    while free > 0 and jobs_now:
        jobs_now.sort(key=lambda j: (j[0], j[1] or 0, j[2]))
        pick = jobs_now[0]
        claimed = claim_batches(conn, organization_id, pick[2], pick[3], 1)
        if not claimed or pick[4] + 1 >= PARALLEL_BATCHES:
            jobs_now.pop(0)
        if claimed:
            batches_after_commit(conn, enqueue, pick[2], claimed)
            turn += 1
            free -= 1
            pick[0], pick[1], pick[4] = True, _LATER + turn, pick[4] + 1
    return turn


# The organization's running imports: batches queued (pending, enqueued), batches of the
# entity the job is importing waiting for a slot, and when it was last given one.
_SLOTS = sa.text(
    "SELECT j.id, j.checkpoint->>'entity' AS entity, "
    "count(b.id) FILTER (WHERE b.status = 'pending' AND b.enqueued_at IS NOT NULL) AS queued, "
    "count(b.id) FILTER (WHERE b.status = 'pending' AND b.enqueued_at IS NULL "
    "AND b.entity = j.checkpoint->>'entity') AS waiting, "
    "extract(epoch FROM max(b.enqueued_at)) AS served "
    "FROM crm.jobs j LEFT JOIN crm.import_batches b "
    "ON b.organization_id = j.organization_id AND b.job_id = j.id "
    "WHERE j.organization_id = :org AND j.kind = 'import' AND j.status = 'running' "
    "GROUP BY j.id")
# sorts after any epoch: a job just given a slot goes to the back of the line
_LATER = 1e12


def waiting_for_slot() -> sa.ColumnElement[bool]:
    """Running imports (rows of `jobs`) that have batches to do, none queued, while other
    running jobs of their organization hold queued batches: they wait for a slot, which those
    jobs' batches hand over as they end."""
    mine, theirs, holder = (import_batches.alias("mine"), import_batches.alias("theirs"),
                            jobs.alias("holder"))
    own = (mine.c.organization_id == jobs.c.organization_id, mine.c.job_id == jobs.c.id,
           mine.c.status == "pending")
    return sa.and_(
        jobs.c.kind == "import", jobs.c.status == JobStatus.RUNNING,
        jobs.c.checkpoint.has_key("entity"),
        sa.exists().where(*own, mine.c.enqueued_at.is_(None)),
        ~sa.exists().where(*own, mine.c.enqueued_at.is_not(None)),
        sa.exists().where(theirs.c.organization_id == jobs.c.organization_id,
                          theirs.c.status == "pending", theirs.c.enqueued_at.is_not(None),
                          holder.c.organization_id == theirs.c.organization_id,
                          holder.c.id == theirs.c.job_id, holder.c.id != jobs.c.id,
                          holder.c.status == JobStatus.RUNNING))


def claim_batches(conn: sa.Connection, organization_id: uuid.UUID, job_id: uuid.UUID,
                  plural: str, limit: int) -> list[int]:
    """Mark up to `limit` pending, not yet enqueued batches of an entity as enqueued."""
    if limit <= 0:
        return []
    pick = (sa.select(import_batches.c.id)
            .where(import_batches.c.organization_id == organization_id,
                   import_batches.c.job_id == job_id, import_batches.c.entity == plural,
                   import_batches.c.status == "pending", import_batches.c.enqueued_at.is_(None))
            .order_by(import_batches.c.seq).limit(limit).with_for_update(skip_locked=True))
    return list(conn.execute(import_batches.update()
                             .where(import_batches.c.id.in_(pick.scalar_subquery()))
                             .values(enqueued_at=sa.func.now())
                             .returning(import_batches.c.id)).scalars())


def advance(job_id: uuid.UUID, enqueue: Enqueue, *, resume: bool = False) -> str:
    """Move the job on: cancel, apply deferred references, enqueue the current entity's batches,
    or finalize. Safe to call any number of times, concurrently (the job row is locked)."""
    job = load(job_id)
    if job is None:
        return "missing"
    org = job.organization_id
    cleanup = None
    due, final = _statistics_due(job) if job.status == JobStatus.RUNNING else ([], False)
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
        if job.status != JobStatus.RUNNING:
            return job.status
        checkpoint = dict(job.checkpoint or {})
        dry_run = bool((job.params or {}).get("dry_run"))
        if job.cancel_requested:
            _end(conn, job, JobStatus.CANCELLED)
            cleanup, state = job, JobStatus.CANCELLED.value
        else:
            pending = dict(conn.execute(
                sa.select(import_batches.c.entity, sa.func.count())
                .where(import_batches.c.organization_id == org,
                       import_batches.c.job_id == job_id, import_batches.c.status == "pending")
                .group_by(import_batches.c.entity)).all())
            if not checkpoint.get("refs_applied") and not any(
                    e.plural in pending for e in SELF_REFERENCING):
                apply_deferred_refs(conn, org, job_id, dry_run)
                checkpoint["refs_applied"] = True
                conn.execute(jobs.update().where(jobs.c.organization_id == org,
                                                 jobs.c.id == job_id)
                             .values(checkpoint=checkpoint))
            current = next((e.plural for e in ENTITIES if e.plural in pending), None)
            if current is None:
                errors = conn.execute(sa.select(jobs.c.error_count).where(
                    jobs.c.organization_id == org, jobs.c.id == job_id)).scalar()
                ending = (JobStatus.COMPLETED_WITH_ERRORS if errors else JobStatus.SUCCEEDED)
                _end(conn, job, ending)
                state = ending.value
                cleanup = job
            else:
                if resume:
                    # pending batches are queued again, except those a batch transaction holds
                    # right now (it is applying them): waiting for their lock while holding the
                    # job row, which that transaction wants next, was a deadlock
                    free = (sa.select(import_batches.c.id)
                            .where(import_batches.c.organization_id == org,
                                   import_batches.c.job_id == job_id,
                                   import_batches.c.status == "pending")
                            .with_for_update(skip_locked=True))
                    conn.execute(import_batches.update()
                                 .where(import_batches.c.id.in_(free.scalar_subquery()))
                                 .values(enqueued_at=None))
                # the entity whose batches the organization's freed slots may now be given
                conn.execute(jobs.update().where(jobs.c.organization_id == org,
                                                 jobs.c.id == job_id)
                             .values(checkpoint=jobs.c.checkpoint.op("||")(
                                 sa.func.jsonb_build_object(sa.cast("entity", sa.Text),
                                                            current))))
                state = f"importing {current}"
        # a job that ended (a cancelled one with batches queued) frees its slots here
        fill_slots(conn, org, enqueue)
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
              and job_progress.written(progress, e.plural) >= table_statistics.MIN_ROWS]
    written = sum(job_progress.written(progress, e.plural) for e in ENTITIES)
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


def _end(conn: sa.Connection, job, status: JobStatus) -> None:
    lifecycle.finish(job.id, status, conn=conn)
    for table in (import_row_keys, import_refs):
        conn.execute(table.delete().where(table.c.organization_id == job.organization_id,
                                          table.c.job_id == job.id))


def _delete_files(job) -> None:
    storage = get_storage()
    for key in ((job.checkpoint or {}).get("spool") or {}).values():
        storage.delete(key)
    if job.upload_key:
        storage.delete(job.upload_key)
