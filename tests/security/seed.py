"""One row of every tenant table for an organization, written straight to the database.

The security tests need a victim tenant that owns something of every kind (records, pipeline,
stages, change events, jobs, job errors, an export file) without depending on the routes under
test to create it.
"""
from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from shared import db
from shared.entities import ACCOUNT, ACTIVITY, CONTACT, LEAD, OPPORTUNITY, pipelines, stages
from shared.ids import mint_public_id, uuid7
from shared.models import (
    change_events,
    job_errors,
    jobs,
    saved_mappings,
    webhook_deliveries,
    webhooks,
)
from shared.services import organizations
from shared.services.jobs import create_job
from shared.storage import get_storage


@dataclass
class Owned:
    """What a seeded organization owns: kind -> {"id": uuid, "public_id": str | None}."""

    organization_id: uuid.UUID
    rows: dict[str, dict] = field(default_factory=dict)
    marker: str = ""  # a string in every seeded text value: must never leak to another tenant

    def id(self, kind: str) -> uuid.UUID:
        return self.rows[kind]["id"]

    def public_id(self, kind: str) -> str:
        return self.rows[kind]["public_id"]


def _record(conn: sa.Connection, entity, org: uuid.UUID, **values) -> dict:
    row = {"id": uuid7(), "organization_id": org, "public_id": mint_public_id(entity.name),
           "custom_fields": {}, **values}
    conn.execute(entity.table.insert().values(**row))
    conn.execute(change_events.insert().values(
        id=uuid7(), organization_id=org, record_type=entity.name, record_id=row["id"],
        public_id=row["public_id"], event_type="created", changes={}, actor="seed"))
    return {"id": row["id"], "public_id": row["public_id"]}


def seed_organization(organization_id: str | uuid.UUID) -> Owned:
    org = uuid.UUID(str(organization_id))
    marker = "secret" + secrets.token_hex(6)
    owned = Owned(org, marker=marker)
    with db.tenant_transaction(org) as conn:
        pipe = conn.execute(sa.select(pipelines.c.id, pipelines.c.public_id).where(
            pipelines.c.organization_id == org, pipelines.c.is_default)).one()
        stage = conn.execute(sa.select(stages.c.id, stages.c.public_id).where(
            stages.c.organization_id == org, stages.c.pipeline_id == pipe.id)
            .order_by(stages.c.position)).first()
        owned.rows["pipeline"] = {"id": pipe.id, "public_id": pipe.public_id}
        owned.rows["stage"] = {"id": stage.id, "public_id": stage.public_id}
        acct = _record(conn, ACCOUNT, org, name=f"Account {marker}", domain=f"{marker}.example")
        owned.rows["account"] = acct
        owned.rows["contact"] = _record(conn, CONTACT, org, first_name=marker,
                                        email=f"{marker}@example.com", account_id=acct["id"])
        owned.rows["opportunity"] = _record(
            conn, OPPORTUNITY, org, name=f"Deal {marker}", account_id=acct["id"],
            contact_id=owned.id("contact"), pipeline_id=pipe.id, pipeline_stage_id=stage.id)
        owned.rows["lead"] = _record(conn, LEAD, org, first_name=marker, company=marker)
        owned.rows["activity"] = _record(conn, ACTIVITY, org, subject=marker,
                                         record_type="contact", record_id=owned.id("contact"))
        # an import job (with a row error) and a finished export whose file exists
        imp = create_job(conn, org, "import", created_by="seed")
        conn.execute(job_errors.insert().values(
            organization_id=org, job_id=imp.id, entity="accounts", row_index=0,
            public_id=acct["public_id"], field="name", code="invalid", message=marker))
        conn.execute(jobs.update().where(jobs.c.id == imp.id).values(error_count=1))
        owned.rows["job"] = {"id": imp.id, "public_id": None}
        exp = create_job(conn, org, "export", created_by="seed")
        key = f"exports/{org}/{exp.id}.json"
        with get_storage().writer(key) as handle:
            handle.write(f'{{"version": 1, "accounts": [{{"name": "{marker}"}}]}}'.encode())
        conn.execute(jobs.update().where(jobs.c.id == exp.id).values(
            status="succeeded", result_key=key, result_size=get_storage().size(key),
            finished_at=sa.func.now(), expires_at=sa.func.now() + sa.text("interval '1 day'")))
        owned.rows["export_job"] = {"id": exp.id, "public_id": None}
        owned.rows["user"] = {"id": organizations.create_user(
            conn, org, f"{marker}@users.example", "long-password-1"), "public_id": None}
        hook_id = uuid7()
        conn.execute(webhooks.insert().values(
            id=hook_id, organization_id=org, url=f"https://{marker}.example/hook",
            events=["job.succeeded"], secret_encrypted=marker))
        owned.rows["webhook"] = {"id": hook_id, "public_id": None}
        delivery_id = uuid7()
        conn.execute(webhook_deliveries.insert().values(
            id=delivery_id, organization_id=org, webhook_id=hook_id, job_id=exp.id,
            event="job.succeeded", body=marker, status="succeeded"))
        owned.rows["webhook_delivery"] = {"id": delivery_id, "public_id": None}
        mapping_id = uuid7()
        conn.execute(saved_mappings.insert().values(
            id=mapping_id, organization_id=org, headers_key=marker, headers=[marker],
            name=marker, mapping={"version": 1, "files": [
                {"file": f"{marker}.csv", "entity": "accounts", "columns": {marker: "name"}}]}))
        owned.rows["saved_mapping"] = {"id": mapping_id, "public_id": None}
    return owned


def snapshot(organization_id: uuid.UUID) -> dict[str, list]:
    """Every row the organization owns, in every tenant table (the system view)."""
    with db.transaction() as conn:
        tables = conn.execute(sa.text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'crm' "
            "AND column_name = 'organization_id' AND table_name <> 'api_keys'")).scalars().all()
        return {t: sorted(json.dumps(dict(r._mapping), default=str, sort_keys=True)
                          for r in conn.execute(sa.text(
                              f"SELECT * FROM crm.{t} WHERE organization_id = :o"),
                              {"o": organization_id}))
                for t in tables}
