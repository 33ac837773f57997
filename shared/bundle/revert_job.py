"""The revert job kind: undo an import — created rows soft-deleted, updated rows given back
the values they had just before it (the before-images the import recorded in its change
events), unchanged rows untouched, rows changed since then left alone as conflicts unless
forced.

Units of work: batches of the import's events, entity by entity in reverse import order
(activities → leads → opportunities → contacts → accounts: nothing is left pointing at a
deleted parent), in id order. Each batch — its rows, their `reverted` events, row errors,
progress and the checkpoint (entity + last event id) — commits in one transaction, so a killed
run resumes after the last committed batch and no row is reverted twice. A dry run does the
same work in savepoints it rolls back: counts and conflicts, nothing changed.
"""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.bundle.revert_rows import revert_batch
from shared.config import get_settings
from shared.entities import ENTITIES
from shared.errors import Conflict, NotFound
from shared.ids import parse_uuid
from shared.jobs import progress as job_progress
from shared.jobs.dispatch import Enqueue, dispatch_after_commit
from shared.jobs.kinds import Ending, JobKind
from shared.jobs.status import FINISHED, JobStatus
from shared.models import change_events, jobs
from shared.services.jobs import create_job, record_errors

ORDER = tuple(reversed(ENTITIES))
COUNTERS = ("total", "processed", "deleted", "restored", "unchanged", "failed")
REVERTIBLE = ("created", "updated")


def validate(params: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if parse_uuid(params.get("reverts")) is None:
        problems["reverts"] = ["must be the id of an import job"]
    for name in ("dry_run", "force"):
        if name in params and not isinstance(params[name], bool):
            problems[name] = ["must be true or false"]
    for name in set(params) - {"reverts", "dry_run", "force"}:
        problems[name] = ["is not a parameter of reverts"]
    return problems


def create_revert(organization_id: uuid.UUID, import_job_id: str, *, dry_run: bool,
                  force: bool, actor: str, enqueue: Enqueue) -> Any:
    """The revert job of a finished import (409 when it is not one, or when another revert of
    it already exists — a dry run neither counts nor blocks); dispatched after commit."""
    target_id = parse_uuid(import_job_id)
    with db.tenant_transaction(organization_id) as conn:
        target = conn.execute(sa.select(jobs).where(
            jobs.c.organization_id == organization_id, jobs.c.id == target_id)
            .with_for_update()).one_or_none() if target_id else None
        if target is None:
            raise NotFound("Job not found")
        if target.kind != "import":
            raise Conflict(f"Only imports can be reverted; this job is an {target.kind}",
                           {"kind": target.kind}, code="not_an_import")
        if target.status not in FINISHED:
            raise Conflict(f"The import is {target.status}; revert it once it has ended",
                           {"status": target.status}, code="import_not_finished")
        if (target.params or {}).get("dry_run"):
            raise Conflict("A dry run wrote nothing to revert", code="dry_run_import")
        if not dry_run:
            earlier = conn.execute(sa.select(jobs.c.id, jobs.c.status).where(
                jobs.c.organization_id == organization_id, jobs.c.kind == "revert",
                jobs.c.params["reverts"].astext == str(target.id),
                jobs.c.params["dry_run"].astext != "true",
                jobs.c.status != JobStatus.CANCELLED.value)).first()
            if earlier is not None:
                raise Conflict(f"This import is already reverted by job {earlier.id}",
                               {"revert_job": str(earlier.id), "status": earlier.status},
                               code="already_reverted")
        row = create_job(conn, organization_id, "revert", params={
            "reverts": str(target.id), "dry_run": dry_run, "force": force},
            created_by=actor)
        dispatch_after_commit(conn, enqueue, "revert", row.id)
        return row


def _plan(job) -> dict[str, Any]:
    """Totals per entity (reverse order) and the starting checkpoint, once."""
    import_id = uuid.UUID(job.params["reverts"])
    with db.tenant_transaction(job.organization_id) as conn:
        totals = dict(conn.execute(sa.select(change_events.c.record_type, sa.func.count())
                                   .where(*_events_of(job.organization_id, import_id))
                                   .group_by(change_events.c.record_type)).all())
        progress = {e.plural: {c: (totals.get(e.name, 0) if c == "total" else 0)
                               for c in COUNTERS} for e in ORDER}
        checkpoint = {"planned": True, "entity": ORDER[0].plural, "after": None}
        conn.execute(jobs.update().where(jobs.c.organization_id == job.organization_id,
                                         jobs.c.id == job.id)
                     .values(progress=progress, checkpoint=checkpoint))
    return checkpoint


def _events_of(organization_id: uuid.UUID, import_id: uuid.UUID) -> list:
    return [change_events.c.organization_id == organization_id,
            change_events.c.job_id == import_id, change_events.c.event_type == "imported",
            change_events.c.changes["outcome"].astext.in_(REVERTIBLE)]


def run(job, enqueue: Enqueue) -> Ending:
    checkpoint = job.checkpoint or {}
    if not checkpoint.get("planned"):
        checkpoint = _plan(job)
    while True:
        state = _next_batch(job)
        if state is not None:
            return state


def _next_batch(job) -> Ending | None:
    """Revert the next batch in its own transaction; an Ending once there is none (or the job
    was cancelled)."""
    org, params = job.organization_id, job.params
    import_id = uuid.UUID(params["reverts"])
    with db.tenant_transaction(org) as conn:
        current = conn.execute(sa.select(jobs.c.checkpoint, jobs.c.progress,
                                         jobs.c.cancel_requested, jobs.c.error_count)
                               .where(jobs.c.organization_id == org, jobs.c.id == job.id)
                               .with_for_update(key_share=True)).one()
        if current.cancel_requested:
            return Ending(JobStatus.CANCELLED)
        checkpoint = dict(current.checkpoint)
        plural = checkpoint.get("entity")
        if plural is None:
            return Ending(JobStatus.COMPLETED_WITH_ERRORS if current.error_count
                          else JobStatus.SUCCEEDED)
        entity = next(e for e in ORDER if e.plural == plural)
        query = (sa.select(change_events.c.id, change_events.c.record_id,
                           change_events.c.public_id, change_events.c.changes)
                 .where(*_events_of(org, import_id),
                        change_events.c.record_type == entity.name)
                 .order_by(change_events.c.id).limit(get_settings().batch_size))
        if checkpoint.get("after"):
            query = query.where(change_events.c.id > uuid.UUID(checkpoint["after"]))
        events = conn.execute(query).all()
        if not events:
            following = ORDER.index(entity) + 1
            checkpoint.update(entity=ORDER[following].plural if following < len(ORDER)
                              else None, after=None)
        else:
            savepoint = conn.begin_nested() if params.get("dry_run") else None
            result = revert_batch(conn, entity, org, job.id, import_id, events,
                                  force=bool(params.get("force")),
                                  actor=f"revert:{job.id}")
            if savepoint is not None:
                savepoint.rollback()
            record_errors(conn, org, job.id, result.errors)
            progress = job_progress.added(current.progress, plural, result.counts)
            checkpoint["after"] = str(events[-1].id)
            conn.execute(jobs.update().where(jobs.c.organization_id == org,
                                             jobs.c.id == job.id).values(progress=progress))
        conn.execute(jobs.update().where(jobs.c.organization_id == org, jobs.c.id == job.id)
                     .values(checkpoint=checkpoint))
    return None


KIND = JobKind("revert", "imports", validate=validate, run=run,
               failure_code="revert_failed", failure_message="the revert could not be completed")
