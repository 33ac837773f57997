"""Test rows written straight into the tables (the CRUD services are built in parallel)."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

from shared import db
from shared.entities import ACCOUNT, ACTIVITY, CONTACT, LEAD, OPPORTUNITY, Entity, pipelines, stages
from shared.ids import mint_public_id, uuid7

TRICKY = 'back\\slash "quoted" line\nbreak\ttab \x01ctl é 😀 </script> \\u0041'


def insert(conn: sa.Connection, entity: Entity, org_id: str, **values) -> dict:
    row = {"id": uuid7(), "organization_id": uuid.UUID(org_id),
           "public_id": mint_public_id(entity.name), "custom_fields": {}, **values}
    conn.execute(entity.table.insert().values(**row))
    return row


def default_stages(conn: sa.Connection, org_id: str) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    pipeline_id = conn.execute(sa.select(pipelines.c.id).where(
        pipelines.c.organization_id == org_id, pipelines.c.is_default)).scalar_one()
    by_name = dict(conn.execute(sa.select(stages.c.name, stages.c.id).where(
        stages.c.organization_id == org_id, stages.c.pipeline_id == pipeline_id)).all())
    return pipeline_id, by_name


def seed_small(org_id: str) -> dict[str, dict]:
    """One of everything, with references, a soft-deleted account and awkward values."""
    with db.tenant_transaction(uuid.UUID(org_id)) as conn:
        pipeline_id, stage_ids = default_stages(conn, org_id)
        parent = insert(conn, ACCOUNT, org_id, name="Parent Co", annual_revenue=Decimal("1000000"),
                        employee_count=250, external_system="salesforce", external_id="001XYZ",
                        custom_fields={"tier": "gold", "nested": {"a": [1, 2, None]}})
        child = insert(conn, ACCOUNT, org_id, name=TRICKY, parent_account_id=parent["id"],
                       domain="child.example")
        gone = insert(conn, ACCOUNT, org_id, name="Gone Ltd",
                      deleted_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        contact = insert(conn, CONTACT, org_id, first_name="Ada", last_name="Lovelace",
                         email="ada@example.com", account_id=child["id"])
        orphan = insert(conn, CONTACT, org_id, first_name="Orphan", account_id=gone["id"])
        opp = insert(conn, OPPORTUNITY, org_id, name="Big deal", amount=Decimal("1200.5"),
                     currency="EUR", close_date=date(2026, 3, 31), status="open",
                     account_id=child["id"], contact_id=contact["id"], pipeline_id=pipeline_id,
                     pipeline_stage_id=stage_ids["Proposal"], stage_position=3)
        lead = insert(conn, LEAD, org_id, first_name="Lea", company="Prospects Inc",
                      status="new", source="web")
        acts = {rt: insert(conn, ACTIVITY, org_id, type="call", subject=f"on {rt}",
                           record_type=rt, record_id=target["id"],
                           occurred_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
                           due_at=datetime(2026, 2, 3, 17, 0, 0, 120000, tzinfo=UTC))
                for rt, target in (("account", child), ("contact", contact),
                                   ("opportunity", opp), ("lead", lead))}
        on_gone = insert(conn, ACTIVITY, org_id, type="note", subject="on a deleted account",
                         record_type="account",
                         record_id=gone["id"])
    return {"parent": parent, "child": child, "gone": gone, "contact": contact,
            "orphan": orphan, "opp": opp, "lead": lead, "acts": acts, "on_gone": on_gone}


def seed_bulk(org_id: str, accounts: int, contacts_per_account: int = 1) -> None:
    """Many plain rows in one statement per table (snapshot and progress tests)."""
    with db.tenant_transaction(uuid.UUID(org_id)) as conn:
        account_rows = [{"id": uuid7(), "organization_id": uuid.UUID(org_id),
                         "public_id": mint_public_id("account"), "custom_fields": {},
                         "name": f"Bulk account {i}", "description": "x" * 200}
                        for i in range(accounts)]
        conn.execute(ACCOUNT.table.insert(), account_rows)
        conn.execute(CONTACT.table.insert(), [
            {"id": uuid7(), "organization_id": uuid.UUID(org_id),
             "public_id": mint_public_id("contact"), "custom_fields": {},
             "first_name": f"C{i}", "account_id": a["id"]}
            for a in account_rows for i in range(contacts_per_account)])
