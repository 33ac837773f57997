"""Phase 2 of an import: apply one batch in ONE transaction, exactly once.

`SELECT … FOR UPDATE SKIP LOCKED` on the batch row is the batch's lease: a duplicate delivery
finds it locked or done and does nothing; a dead worker's transaction rolls back and frees it.
The rows, their change events, their row errors, the job's counters and the batch's done flag
all commit together, so a batch is applied once or not at all.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa

from shared import db
from shared.bundle import resolve
from shared.bundle.spool import read_batch_rows
from shared.bundle.tables import import_batches, import_refs, import_row_keys
from shared.bundle.validate import Candidate, row_error, validator_for
from shared.bundle.write import write_rows
from shared.entities import BY_NAME, BY_PLURAL, Entity, Reference
from shared.ids import uuid7_texts
from shared.models import jobs
from shared.services.jobs import COUNTERS, record_errors
from shared.storage import get_storage

log = logging.getLogger("drippulse.import")


@dataclass
class BatchOutcome:
    status: str  # applied | done | locked | stopped | missing
    job_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    entity_finished: bool = False
    next_batches: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    entity: str | None = None  # plural of the applied batch's entity (metrics)


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


def _resolve(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID, job_id: uuid.UUID,
             dry_run: bool, rows: list[Candidate], errors: list[dict]
             ) -> tuple[list[Candidate], list[Candidate], list[dict]]:
    """Fill reference columns; returns (good rows, rejected rows, deferred self references)."""
    rejected: dict[int, Candidate] = {}
    deferred: list[dict] = []
    # (row, reference) pairs whose parent is a row of this very batch, not stored yet
    in_batch: list[tuple[Candidate, Reference]] = []
    lookup_job = job_id if dry_run else None
    by_public_id = {c.public_id for c in rows}
    for cand, new_id in zip(rows, uuid7_texts(len(rows)), strict=True):
        cand.values["id"] = new_id  # a new row's id, known before the write (see below)
    for ref in entity.references:
        if ref.target == "*":
            by_type: dict[str, list[Candidate]] = {}
            for cand in rows:
                if cand.record_type:
                    by_type.setdefault(cand.record_type, []).append(cand)
            for cand in rows:
                cand.values[ref.column] = None
                cand.values["record_type"] = cand.record_type
            groups = [(target, group) for target, group in by_type.items()]
        else:
            groups = [(ref.target, [c for c in rows if c.refs.get(ref.name)])]
            for cand in rows:
                cand.values[ref.column] = None
        for target, group in groups:
            found = resolve.lookup_ids(conn, organization_id, target,
                                       (c.refs[ref.name] for c in group), job_id=lookup_job)
            for cand in group:
                target_id = found.get(cand.refs[ref.name])
                if target_id == resolve.IN_BUNDLE:  # dry run: exists, but only in the bundle
                    cand.values[ref.column] = None
                    if ref.target == "*":
                        cand.values["record_type"] = None
                elif target_id is not None:
                    cand.values[ref.column] = target_id
                elif target == entity.name and cand.refs[ref.name] in by_public_id:
                    in_batch.append((cand, ref))
                elif target == entity.name:
                    # may be a row of a later or concurrent batch: applied when the entity is done
                    deferred.append({"organization_id": organization_id, "job_id": job_id,
                                     "entity": entity.plural, "row_index": cand.index,
                                     "public_id": cand.public_id,
                                     "target_public_id": cand.refs[ref.name]})
                else:
                    rejected[cand.index] = cand
                    errors.append(row_error(
                        entity, cand.index, cand.public_id, ref.public_field,
                        f"no {target} with public_id {cand.refs[ref.name]!r} in the bundle "
                        f"or the organization", code="unresolved_reference"))
    if entity.name == "opportunity":
        stages = resolve.StageResolver(conn, organization_id)
        for cand in rows:
            found = stages.resolve(*cand.stage)
            if found is None:
                rejected[cand.index] = cand
                errors.append(row_error(entity, cand.index, cand.public_id, "pipeline_stage_id",
                                        "the organization has no default pipeline"))
                continue
            cand.values["pipeline_id"], cand.values["pipeline_stage_id"] = found
    good = [c for c in rows if c.index not in rejected]
    _link_in_batch(in_batch, {c.public_id: c for c in good}, organization_id, job_id, deferred)
    return good, list(rejected.values()), deferred


def _link_in_batch(pairs: list[tuple[Candidate, Reference]], good: dict[str, Candidate],
                   organization_id: uuid.UUID, job_id: uuid.UUID, deferred: list[dict]) -> None:
    """Point a row at a parent written by the same statement: the parent is new (it was not
    found stored), so the id minted for it now is the id it gets. This keeps the row as the
    bundle has it; a later UPDATE (the deferred path) would also move its updated_at."""
    for cand, ref in pairs:
        parent = good.get(cand.refs[ref.name])
        if parent is not None:
            cand.values[ref.column] = parent.values["id"]
        else:  # the parent row was rejected: reported once the entity is done, as before
            deferred.append({"organization_id": organization_id, "job_id": job_id,
                             "entity": BY_NAME[ref.target].plural, "row_index": cand.index,
                             "public_id": cand.public_id,
                             "target_public_id": cand.refs[ref.name]})


def _finish_batch(conn: sa.Connection, batch, job_id: uuid.UUID, counts: dict[str, int],
                  errors: list[dict], claim: int) -> tuple[bool, list[int]]:
    """Counters, errors and the done flag, under the job row lock (taken last and briefly)."""
    org = batch.organization_id
    # NO KEY UPDATE: the FK of job_errors holds KEY SHARE on the job row in every concurrent
    # batch that reports errors; a plain FOR UPDATE would conflict with those and deadlock
    progress = conn.execute(sa.select(jobs.c.progress).where(
        jobs.c.organization_id == org, jobs.c.id == job_id)
        .with_for_update(key_share=True)).scalar_one()
    record_errors(conn, org, job_id, errors)
    entry = {c: int((progress.get(batch.entity) or {}).get(c, 0)) for c in COUNTERS}
    for name, value in counts.items():
        entry[name] += value
    # the row lock above makes this read-modify-write safe against concurrent batches
    conn.execute(jobs.update().where(jobs.c.organization_id == org, jobs.c.id == job_id)
                 .values(progress={**progress, batch.entity: entry}))
    conn.execute(import_batches.update().where(import_batches.c.id == batch.id).values(
        status="done", finished_at=sa.func.now(), created=counts["created"],
        updated=counts["updated"], unchanged=counts["unchanged"], failed=counts["failed"]))
    next_ids = claim_batches(conn, org, job_id, batch.entity, claim)
    remaining = conn.execute(sa.select(sa.func.count()).where(
        import_batches.c.organization_id == org, import_batches.c.job_id == job_id,
        import_batches.c.entity == batch.entity, import_batches.c.status == "pending")).scalar()
    return remaining == 0, next_ids


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


def apply_batch(batch_id: int, *, claim: int = 1) -> BatchOutcome:
    """Apply one batch; `claim` more pending batches of the entity are marked for enqueueing."""
    with db.transaction() as conn:  # which organization owns the batch (nothing else is read)
        head = conn.execute(sa.select(import_batches.c.organization_id, import_batches.c.job_id)
                            .where(import_batches.c.id == batch_id)).one_or_none()
    if head is None:
        return BatchOutcome("missing")
    org, job_id = head
    outcome = BatchOutcome("applied", job_id, org)
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
            outcome.status = "done" if state == "done" else "locked"
            return outcome
        job = conn.execute(sa.select(jobs).where(jobs.c.organization_id == org,
                                                 jobs.c.id == job_id)).one()
        if job.status != "running" or job.cancel_requested:
            outcome.status = "stopped"
            return outcome
        entity = BY_PLURAL[batch.entity]
        dry_run = bool((job.params or {}).get("dry_run"))
        rows = read_batch_rows(get_storage(), job.checkpoint["spool"][entity.plural],
                               batch.byte_start, batch.byte_end)
        errors: list[dict] = []
        failed: set[int] = set()
        candidates: list[Candidate] = []
        seen: set[str] = set()
        validator = validator_for(entity)
        for i, raw in enumerate(rows):
            index = batch.row_start + i
            cand, row_errors = validator.validate(raw, index, org)
            if cand is None:
                errors.extend(row_errors)
                failed.add(index)
            elif cand.public_id in seen:
                errors.append(_duplicate(entity, cand))
                failed.add(index)
            else:
                seen.add(cand.public_id)
                candidates.append(cand)
        taken = _claim_keys(conn, org, job_id, entity.plural, [c.public_id for c in candidates])
        for cand in [c for c in candidates if c.public_id not in taken]:
            errors.append(_duplicate(entity, cand))
            failed.add(cand.index)
        candidates = [c for c in candidates if c.public_id in taken]
        candidates, rejected, deferred = _resolve(conn, entity, org, job_id, dry_run,
                                                  candidates, errors)
        if rejected:  # a rejected row does not hold its public_id: a later duplicate may import
            failed.update(c.index for c in rejected)
            conn.execute(import_row_keys.delete().where(
                import_row_keys.c.organization_id == org, import_row_keys.c.job_id == job_id,
                import_row_keys.c.entity == entity.plural,
                import_row_keys.c.public_id.in_([c.public_id for c in rejected])))
        created = updated = unchanged = 0
        if candidates:
            savepoint = conn.begin_nested() if dry_run else None
            created, updated, unchanged = _write_guarded(
                conn, entity, org, job_id, candidates, errors, failed)
            if savepoint is not None:
                savepoint.rollback()  # a dry run checks everything and writes nothing
        if deferred:
            conn.execute(import_refs.insert(), deferred)
        outcome.entity = entity.plural
        outcome.counts = {"processed": len(rows), "created": created, "updated": updated,
                          "unchanged": unchanged, "failed": len(failed)}
        errors.sort(key=lambda e: (e["index"] if e["index"] is not None else -1))
        outcome.entity_finished, outcome.next_batches = _finish_batch(
            conn, batch, job_id, outcome.counts, errors, claim)
    return outcome


# What the database may still refuse in a row the validator accepted (a value jsonb or the
# encoding rejects, a referenced row deleted meanwhile): that row is reported, not the batch.
ROW_LEVEL_DB_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError, psycopg.errors.DataError,
                       psycopg.errors.IntegrityError, UnicodeEncodeError)


def _write_guarded(conn: sa.Connection, entity: Entity, org: uuid.UUID, job_id: uuid.UUID,
                   rows: list[Candidate], errors: list[dict], failed: set[int]
                   ) -> tuple[int, int, int]:
    """Write the rows in a savepoint; when the database refuses the set, bisect it to find
    and report the refused rows (the slow path runs only when something is refused)."""
    savepoint = conn.begin_nested()
    try:
        result = write_rows(conn, entity, org, job_id, f"import:{job_id}", rows)
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
        first = _write_guarded(conn, entity, org, job_id, rows[:half], errors, failed)
        second = _write_guarded(conn, entity, org, job_id, rows[half:], errors, failed)
        return tuple(a + b for a, b in zip(first, second, strict=True))
    savepoint.commit()
    return result


def _duplicate(entity: Entity, cand: Candidate) -> dict:
    return row_error(entity, cand.index, cand.public_id, "public_id",
                     "duplicate public_id: an earlier row of this bundle has it; row skipped",
                     code="duplicate")
