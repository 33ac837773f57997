"""API1 through the bundle: importing another organization's public_ids never touches its rows.

Public ids are unique per organization, not secret: a bundle may carry ids that also exist in
another tenant (an export shared between companies, or a guess). The import must create the
rows in the caller's organization, resolve references only there, and leave the other
organization exactly as it was.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared import db
from shared.entities import ACCOUNT, CONTACT, OPPORTUNITY, pipelines
from shared.ids import mint_public_id, uuid7
from tests.conftest import wait_for
from tests.security import routes
from tests.security.seed import seed_organization, snapshot


def test_import_with_another_tenants_public_ids_stays_in_the_callers_org(
        app, client, org, other_org, worker):
    routes.require(app, "/api/v1/crm/import", "/api/v1/crm/jobs/<job_id>")
    victim = seed_organization(other_org["organization_id"])
    # an account that exists only in the other organization, referenced but not in the bundle
    theirs_only = mint_public_id("account")
    with db.tenant_transaction(victim.organization_id) as conn:
        conn.execute(ACCOUNT.table.insert().values(
            id=uuid7(), organization_id=victim.organization_id, public_id=theirs_only,
            name="Theirs only", custom_fields={}))
    before = snapshot(victim.organization_id)
    pid = victim.public_id
    bundle = {
        "version": 1,
        "accounts": [{"public_id": pid("account"), "name": "Mine now?"}],
        "contacts": [
            {"public_id": pid("contact"), "first_name": "Mine", "account_public_id": pid("account")},
            {"public_id": "cnt_probe", "first_name": "Probe", "account_public_id": theirs_only},
        ],
        "opportunities": [{"public_id": pid("opportunity"), "name": "Mine", "amount": "1.00",
                           "account_public_id": pid("account"),
                           "pipeline_id": str(victim.id("pipeline")),
                           "pipeline_stage_id": str(victim.id("stage"))}],
        "leads": [{"public_id": pid("lead"), "first_name": "Mine"}],
        "activities": [{"public_id": pid("activity"), "subject": "Mine", "record_type": "contact",
                        "record_public_id": pid("contact")}],
    }
    resp = client.post("/api/v1/crm/import", json=bundle, headers=org["headers"])
    assert resp.status_code == 202, resp.get_json()
    job_url = resp.headers["Location"]
    job = wait_for(lambda: (j := client.get(job_url, headers=org["headers"]).json)["status"]
                   not in ("queued", "running") and j, timeout=120, message="the import")
    assert job["status"] in ("succeeded", "completed_with_errors"), job
    # the other organization: not one row changed, added or removed
    assert snapshot(victim.organization_id) == before
    # the caller: every row created in its own organization, references resolved there
    me = uuid.UUID(org["organization_id"])
    with db.tenant_transaction(me) as conn:
        def row(entity, public_id):
            t = entity.table
            return conn.execute(sa.select(t).where(t.c.organization_id == me,
                                                   t.c.public_id == public_id)).one()
        acct, contact, opp = (row(ACCOUNT, pid("account")), row(CONTACT, pid("contact")),
                              row(OPPORTUNITY, pid("opportunity")))
        probe = conn.execute(sa.select(CONTACT.table.c.account_id).where(
            CONTACT.table.c.organization_id == me, CONTACT.table.c.public_id == "cnt_probe")
        ).one_or_none()
        my_pipeline = conn.execute(sa.select(pipelines.c.id).where(
            pipelines.c.organization_id == me, pipelines.c.is_default)).scalar()
    assert acct.name == "Mine now?" and acct.id != victim.id("account")
    assert contact.account_id == acct.id
    assert opp.account_id == acct.id and opp.pipeline_id == my_pipeline
    # the reference that resolves only in the other organization resolves to nothing here
    assert probe is None or probe.account_id is None
    errors = client.get(f"{job_url}/errors", headers=org["headers"]).json["items"]
    assert [e["field"] for e in errors if e["public_id"] == "cnt_probe"] == ["account_public_id"]
    assert "Theirs only" not in str(errors)
    for plural in ("accounts", "opportunities", "leads", "activities"):
        assert job["progress"][plural]["created"] == 1, job["progress"]
