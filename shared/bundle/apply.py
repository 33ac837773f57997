"""Phase 2 of an import: apply one batch in ONE transaction, exactly once.

`SELECT … FOR UPDATE SKIP LOCKED` on the batch row is the batch's lease: a duplicate delivery
finds it locked or done and does nothing; a dead worker's transaction rolls back and frees it.
The rows, their change events, their row errors, the job's counters and the batch's done flag
all commit together, so a batch is applied once or not at all.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg
import sqlalchemy as sa

from shared import db
from shared.bundle import external_refs, references, resolve, stage_placement
from shared.bundle.spool_files import read_batch_rows
from shared.bundle.tables import import_batches, import_refs, import_row_keys
from shared.bundle.validate import Candidate, row_error, validator_for
from shared.bundle.write import write_rows
from shared.entities import BY_PLURAL, Entity
from shared.interop.source import MAX_WARNINGS, ORIGIN
from shared.jobs import progress as job_progress
from shared.jobs.status import JobStatus
from shared.models import jobs
from shared.services.jobs import record_errors
from shared.storage import get_storage

log = logging.getLogger("drippulse.import")


class BatchState(StrEnum):
    APPLIED = "applied"  # this delivery applied it
    DONE = "done"  # an earlier delivery did
    LOCKED = "locked"  # another transaction holds it (a duplicate delivery, a dying worker)
    STOPPED = "stopped"  # the job is no longer running, or its cancel was requested
    MISSING = "missing"


@dataclass
class BatchOutcome:
    state: BatchState
    job_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    counts: dict[str, int] = field(default_factory=dict)
    entity: str | None = None  # plural of the applied batch's entity (metrics)

    @property
    def status(self) -> str:
        return self.state.value


# Called in the batch's transaction once it is marked done (the import job's scheduling).
Schedule = Callable[[sa.Connection, Any], None]


def _claim_keys(conn: sa.Connection, organization_id: uuid.UUID, job_id: uuid.UUID,
                plural: str, public_ids: list[str]) -> set[str]:
    """Take this job's public_ids; returns those not taken by an earlier batch. Sorted so two
    concurrent batches wait on each other in one order (no deadlock)."""
    if not public_ids:
        return set()
    return set(conn.execute(sa.text(
        "INSERT INTO crm.import_row_keys (job_id, entity, public_id, organization_id) "
        "SELECT :job, :entity, p, :org FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS p "
        "ORDER BY p COLLATE \"C\" ON CONFLICT DO NOTHING RETURNING public_id"),
        {"job": job_id, "entity": plural, "org": organization_id,
         "ids": resolve.json_array(public_ids)},
    ).scalars())


def _finish_batch(conn: sa.Connection, batch, job_id: uuid.UUID, counts: dict[str, int],
                  errors: list[dict], stage_fallbacks: set[str]) -> None:
    """Counters, errors and the done flag, under the job row lock (taken last and briefly)."""
    org = batch.organization_id
    # NO KEY UPDATE: the FK of job_errors holds KEY SHARE on the job row in every concurrent
    # batch that reports errors; a plain FOR UPDATE would conflict with those and deadlock
    progress, warnings = conn.execute(sa.select(jobs.c.progress, jobs.c.warnings).where(
        jobs.c.organization_id == org, jobs.c.id == job_id)
        .with_for_update(key_share=True)).one()
    record_errors(conn, org, job_id, errors)
    # the row lock above makes this read-modify-write safe against concurrent batches
    values = {"progress": job_progress.added(progress, batch.entity, counts)}
    added = stage_warnings(warnings, stage_fallbacks, batch.entity)
    if added:
        values["warnings"] = warnings + added
    conn.execute(jobs.update().where(jobs.c.organization_id == org, jobs.c.id == job_id)
                 .values(**values))
    conn.execute(import_batches.update().where(import_batches.c.id == batch.id).values(
        status="done", finished_at=sa.func.now(), created=counts["created"],
        updated=counts["updated"], unchanged=counts["unchanged"], failed=counts["failed"]))


def apply_batch(batch_id: int, schedule: Schedule | None = None) -> BatchOutcome:
    """Apply one batch: validate → identify → claim keys → resolve references → place stages
    → write → finish (counters, errors, done flag) → `schedule`, all in one transaction."""
    with db.transaction() as conn:  # which organization owns the batch (nothing else is read)
        head = conn.execute(sa.select(import_batches.c.organization_id, import_batches.c.job_id)
                            .where(import_batches.c.id == batch_id)).one_or_none()
    if head is None:
        return BatchOutcome(BatchState.MISSING)
    org, job_id = head
    outcome = BatchOutcome(BatchState.APPLIED, job_id, org)
    with db.tenant_transaction(org) as conn:
        batch = conn.execute(
            sa.select(import_batches).where(import_batches.c.organization_id == org,
                                            import_batches.c.id == batch_id,
                                            import_batches.c.status == "pending")
            .with_for_update(skip_locked=True)).one_or_none()
        if batch is None:
            state = conn.execute(sa.select(import_batches.c.status).where(
                import_batches.c.organization_id == org,
                import_batches.c.id == batch_id)).scalar()
            outcome.state = BatchState.DONE if state == "done" else BatchState.LOCKED
            return outcome
        job = conn.execute(sa.select(jobs).where(jobs.c.organization_id == org,
                                                 jobs.c.id == job_id)).one()
        if job.status != JobStatus.RUNNING or job.cancel_requested:
            outcome.state = BatchState.STOPPED
            return outcome
        entity = BY_PLURAL[batch.entity]
        dry_run = bool((job.params or {}).get("dry_run"))
        rows = read_batch_rows(get_storage(), job.checkpoint["spool"][entity.plural],
                               batch.byte_start, batch.byte_end)
        errors: list[dict] = []
        failed: set[int] = set()
        validated: list[Candidate] = []
        validator = validator_for(entity)
        for i, raw in enumerate(rows):
            index = batch.row_start + i
            cand, row_errors = validator.validate(raw, index, org)
            if cand is None:
                errors.extend(row_errors)
                failed.add(index)
            else:
                validated.append(cand)
        no_stored = (job.checkpoint or {}).get("no_stored_pairs") or {}
        external_refs.adopt_stored_identity(conn, entity, org, validated, no_stored)
        candidates: list[Candidate] = []
        seen: set[str] = set()
        for cand in validated:
            if cand.public_id in seen:
                errors.append(_duplicate(entity, cand))
                failed.add(cand.index)
            else:
                seen.add(cand.public_id)
                candidates.append(cand)
        taken = _claim_keys(conn, org, job_id, entity.plural, [c.public_id for c in candidates])
        for cand in [c for c in candidates if c.public_id not in taken]:
            errors.append(_duplicate(entity, cand))
            failed.add(cand.index)
        candidates = [c for c in candidates if c.public_id in taken]
        unresolvable, deferred_lookups = external_refs.resolve_indirect(
            conn, entity, org, job_id, dry_run, candidates, errors, no_stored)
        dropped = [c for c in candidates if c.index in unresolvable]
        candidates = [c for c in candidates if c.index not in unresolvable]
        candidates, rejected, deferred = references.resolve_batch(
            conn, entity, org, job_id, dry_run, candidates, errors)
        stage_fallbacks: set[str] = set()
        if entity.stage_placement:
            misplaced, stage_fallbacks = stage_placement.place_opportunities(
                conn, entity, org, candidates, errors)
            rejected += [c for c in candidates if c.index in misplaced]
            candidates = [c for c in candidates if c.index not in misplaced]
        rejected += dropped
        deferred += deferred_lookups
        if dry_run:
            external_refs.keep_dry_run_lookup_keys(conn, entity, org, job_id, candidates)
        if rejected:  # a rejected row does not hold its public_id: a later duplicate may import
            failed.update(c.index for c in rejected)
            conn.execute(import_row_keys.delete().where(
                import_row_keys.c.organization_id == org, import_row_keys.c.job_id == job_id,
                import_row_keys.c.entity == entity.plural,
                import_row_keys.c.public_id.in_([c.public_id for c in rejected])))
        created = updated = unchanged = 0
        if candidates:
            savepoint = conn.begin_nested() if dry_run else None
            all_new = entity.plural in (job.checkpoint or {}).get("empty_tables", ())
            created, updated, unchanged = _write_guarded(
                conn, entity, org, job_id, candidates, errors, failed, all_new)
            if savepoint is not None:
                savepoint.rollback()  # a dry run checks everything and writes nothing
        if deferred:
            conn.execute(import_refs.insert(), deferred)
        outcome.entity = entity.plural
        outcome.counts = {"processed": len(rows), "created": created, "updated": updated,
                          "unchanged": unchanged, "failed": len(failed)}
        errors.sort(key=lambda e: (e["index"] if e["index"] is not None else -1))
        _attach_origins(errors, rows, batch.row_start)
        _finish_batch(conn, batch, job_id, outcome.counts, errors, stage_fallbacks)
        if schedule is not None:
            schedule(conn, batch)
    return outcome


# What the database may still refuse in a row the validator accepted (a value jsonb or the
# encoding rejects, a referenced row deleted meanwhile): that row is reported, not the batch.
ROW_LEVEL_DB_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError, psycopg.errors.DataError,
                       psycopg.errors.IntegrityError, UnicodeEncodeError)


def _write_guarded(conn: sa.Connection, entity: Entity, org: uuid.UUID, job_id: uuid.UUID,
                   rows: list[Candidate], errors: list[dict], failed: set[int],
                   all_new: bool = False) -> tuple[int, int, int]:
    """Write the rows in a savepoint; when the database refuses the set, bisect it to find
    and report the refused rows (the slow path runs only when something is refused)."""
    savepoint = conn.begin_nested()
    try:
        result = write_rows(conn, entity, org, job_id, f"import:{job_id}", rows, all_new)
    except ROW_LEVEL_DB_ERRORS as exc:
        savepoint.rollback()
        if len(rows) == 1:
            cand = rows[0]
            message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            errors.append(row_error(entity, cand.index, cand.public_id, None,
                                    f"refused by the database: {message}", code="rejected"))
            failed.add(cand.index)
            return 0, 0, 0
        half = len(rows) // 2
        first = _write_guarded(conn, entity, org, job_id, rows[:half], errors, failed, all_new)
        second = _write_guarded(conn, entity, org, job_id, rows[half:], errors, failed, all_new)
        return tuple(a + b for a, b in zip(first, second, strict=True))
    savepoint.commit()
    return result


def stage_warnings(warnings: list[dict], fell_back: set[str], plural: str) -> list[dict]:
    """One warning per source stage name that landed in Unassigned (not yet warned of)."""
    known = {w.get("stage") for w in warnings if w.get("code") == "stage_fallback"}
    room = max(0, MAX_WARNINGS - len(warnings))
    return [{"code": "stage_fallback", "stage": name, "entity": plural,
             "message": f"stage {name!r} is not in the default pipeline: its opportunities are "
                        f"in Unassigned, the name kept in custom_fields.source_stage"}
            for name in sorted(fell_back - known)][:room]


def _attach_origins(errors: list[dict], rows: list, row_start: int) -> None:
    """Row errors of converted rows say where the row is in the source (file and row)."""
    for error in errors:
        index = error.get("index")
        if index is None or "origin" in error:
            continue
        raw = rows[index - row_start] if 0 <= index - row_start < len(rows) else None
        if isinstance(raw, dict) and isinstance(raw.get(ORIGIN), dict):
            error["origin"] = raw[ORIGIN]


def _duplicate(entity: Entity, cand: Candidate) -> dict:
    return row_error(entity, cand.index, cand.public_id, "public_id",
                     "duplicate public_id: an earlier row of this bundle has it; row skipped",
                     code="duplicate")
