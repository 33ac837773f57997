"""Phase 1 of an import, under the job's lock: spool the upload (a bundle, or another system's
export through its converter) and record its batches, totals, structural errors, warnings and
the stages a source brings, all in one transaction."""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa

from shared import db
from shared.bundle import external_refs
from shared.bundle.spool import BundleError, spool_bundle
from shared.bundle.tables import import_batches
from shared.config import get_settings
from shared.entities import BY_PLURAL
from shared.interop.source_stages import add_source_stages
from shared.interop.spool_source import spool_source
from shared.jobs import progress as job_progress
from shared.jobs.kinds import JobFailed
from shared.models import jobs
from shared.services.jobs import record_errors
from shared.storage import get_storage

log = logging.getLogger("drippulse.import")


def spool_job(job, batch_size: int) -> None:
    storage = get_storage()
    if not job.upload_key or not storage.exists(job.upload_key):
        raise JobFailed("upload_missing", "the uploaded bundle is no longer in storage")
    params = job.params or {}
    source = params.get("source", "bundle")
    warnings: list[dict] = []
    stages = []
    try:
        if source == "bundle":
            result = spool_bundle(storage, job.upload_key, job.organization_id, job.id,
                                  batch_size)
        else:
            result, report = spool_source(storage, job.upload_key, source, {},
                                          job.organization_id, job.id, batch_size,
                                          get_settings().max_upload_bytes)
            warnings, stages = report.warnings, report.stages
    except BundleError as exc:
        raise JobFailed(**exc.as_error()) from exc
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
        checkpoint["empty_tables"] = empty_tables(conn, job.organization_id,
                                                  [p for p, n in result.totals.items() if n])
        conn.execute(jobs.update().where(jobs.c.organization_id == job.organization_id,
                                         jobs.c.id == job.id).values(
            progress=job_progress.with_totals(result.totals), warnings=warnings,
            checkpoint=checkpoint))
    log.info("import %s spooled: %s", job.id, result.totals)


def empty_tables(conn: sa.Connection, organization_id: uuid.UUID, plurals: list[str]
                 ) -> list[str]:
    """The entities of which the organization has no row at all (deleted ones included) when
    the upload is spooled: their batches are tried as plain inserts (`write.insert_sql`).
    Kept in the checkpoint, so a resumed job decides the same; a row created meanwhile by
    someone else only sends a batch to the upsert."""
    return [plural for plural in plurals if not conn.execute(sa.text(
        f"SELECT EXISTS (SELECT 1 FROM crm.{BY_PLURAL[plural].plural} "
        f"WHERE organization_id = :org)"), {"org": organization_id}).scalar()]
