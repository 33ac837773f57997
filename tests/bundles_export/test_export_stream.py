"""GET /export: the whole bundle of the caller's organization, streamed from one snapshot."""
from __future__ import annotations

import gzip
import json
import uuid
from datetime import datetime

import psycopg
import sqlalchemy as sa

from shared import db
from shared.entities import ACCOUNT, ENTITIES, LEAD
from shared.serializers import bundle_keys
from tests.bundles_export.seed import TRICKY, insert, seed_bulk, seed_small
from tests.conftest import wait_for

URL = "/api/v1/crm/export"
CONTRACT_KEYS = {
    "accounts": {"name", "domain", "industry", "website", "phone", "employee_count",
                 "annual_revenue", "description", "parent_account_public_id"},
    "contacts": {"first_name", "last_name", "email", "phone", "title", "account_public_id"},
    "opportunities": {"name", "amount", "currency", "close_date", "status", "account_public_id",
                      "contact_public_id", "pipeline_id", "pipeline_stage_id", "stage_position",
                      "pipeline_stage_name"},
    "leads": {"first_name", "last_name", "email", "phone", "company", "title", "status",
              "source"},
    "activities": {"type", "subject", "body", "occurred_at", "due_at", "completed_at",
                   "record_type", "record_public_id"},
}
COMMON = {"public_id", "external_system", "external_id", "custom_fields", "created_at",
          "updated_at", "deleted_at"}


def by_pid(rows: list[dict]) -> dict[str, dict]:
    return {r["public_id"]: r for r in rows}


def test_bundle_shape_order_and_references(client, org):
    s = seed_small(org["organization_id"])
    resp = client.get(URL, headers=org["headers"])
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    bundle = json.loads(resp.get_data())
    assert list(bundle) == ["version", "exported_at", "organization_id", "accounts", "contacts",
                            "opportunities", "leads", "activities"]
    assert bundle["version"] == 1 and bundle["organization_id"] == org["organization_id"]
    assert datetime.fromisoformat(bundle["exported_at"]).utcoffset() is not None
    for entity in ENTITIES:
        for row in bundle[entity.plural]:
            assert set(row) == COMMON | CONTRACT_KEYS[entity.plural]
            assert list(row) == list(bundle_keys(entity))
            assert datetime.fromisoformat(row["created_at"]).utcoffset() is not None
    # rows leave in creation order
    assert [r["public_id"] for r in bundle["accounts"]] == [
        s["parent"]["public_id"], s["child"]["public_id"], s["gone"]["public_id"]]

    accounts = by_pid(bundle["accounts"])
    parent, child = accounts[s["parent"]["public_id"]], accounts[s["child"]["public_id"]]
    assert child["name"] == TRICKY  # backslashes, quotes, control characters survive intact
    assert child["parent_account_public_id"] == s["parent"]["public_id"]
    assert parent["annual_revenue"] == "1000000.00" and parent["employee_count"] == 250
    assert parent["custom_fields"] == {"tier": "gold", "nested": {"a": [1, 2, None]}}
    assert (parent["external_system"], parent["external_id"]) == ("salesforce", "001XYZ")

    contact = by_pid(bundle["contacts"])[s["contact"]["public_id"]]
    assert contact["account_public_id"] == s["child"]["public_id"]
    assert "account_id" not in contact and "id" not in contact

    (opp,) = bundle["opportunities"]
    assert opp["amount"] == "1200.50" and opp["currency"] == "EUR"
    assert opp["close_date"] == "2026-03-31" and opp["stage_position"] == 3
    assert opp["pipeline_stage_name"] == "Proposal"
    assert opp["pipeline_id"] == str(s["opp"]["pipeline_id"])
    assert opp["pipeline_stage_id"] == str(s["opp"]["pipeline_stage_id"])
    assert opp["account_public_id"] == s["child"]["public_id"]
    assert opp["contact_public_id"] == s["contact"]["public_id"]

    activities = by_pid(bundle["activities"])
    targets = {"account": s["child"], "contact": s["contact"], "opportunity": s["opp"],
               "lead": s["lead"]}
    for record_type, act in s["acts"].items():
        row = activities[act["public_id"]]
        assert row["record_type"] == record_type
        assert row["record_public_id"] == targets[record_type]["public_id"]
        assert row["occurred_at"] == "2026-02-01T09:30:00+00:00"
        assert row["due_at"] == "2026-02-03T17:00:00.120000+00:00"  # as datetime.isoformat()


def test_soft_deleted_rows_included_by_default_and_left_out_on_request(client, org):
    s = seed_small(org["organization_id"])
    full = json.loads(client.get(URL, headers=org["headers"]).get_data())
    gone = by_pid(full["accounts"])[s["gone"]["public_id"]]
    assert gone["deleted_at"] == "2026-01-02T03:04:05+00:00"
    assert by_pid(full["contacts"])[s["orphan"]["public_id"]]["account_public_id"] == \
        s["gone"]["public_id"]

    live = json.loads(client.get(URL + "?include_deleted=false", headers=org["headers"]).get_data())
    assert s["gone"]["public_id"] not in by_pid(live["accounts"])
    assert len(live["accounts"]) == 2
    # references to a left-out row leave as null: the bundle stays self-contained
    assert by_pid(live["contacts"])[s["orphan"]["public_id"]]["account_public_id"] is None
    on_gone = by_pid(live["activities"])[s["on_gone"]["public_id"]]
    assert on_gone["record_type"] is None and on_gone["record_public_id"] is None

    bad = client.get(URL + "?include_deleted=perhaps", headers=org["headers"])
    assert bad.status_code == 422
    assert bad.json["error"]["details"] == {"include_deleted": ["must be true or false"]}


def test_only_the_callers_rows(client, org, other_org):
    mine = seed_small(org["organization_id"])
    theirs = seed_small(other_org["organization_id"])
    for who, own, foreign in ((org, mine, theirs), (other_org, theirs, mine)):
        bundle = json.loads(client.get(URL, headers=who["headers"]).get_data())
        assert bundle["organization_id"] == who["organization_id"]
        pids = {r["public_id"] for e in ENTITIES for r in bundle[e.plural]}
        assert own["child"]["public_id"] in pids
        assert not pids & {foreign[k]["public_id"] for k in ("parent", "child", "contact", "opp")}
    assert client.get(URL).status_code == 401


def test_gzip_variant_holds_the_same_bundle(client, org):
    seed_small(org["organization_id"])
    plain = json.loads(client.get(URL, headers=org["headers"]).get_data())
    resp = client.get(URL + "?gzip=true", headers=org["headers"])
    assert resp.mimetype == "application/gzip"
    assert "attachment" in resp.headers["Content-Disposition"]
    packed = json.loads(gzip.decompress(resp.get_data()))
    plain.pop("exported_at"), packed.pop("exported_at")
    assert packed == plain


def test_writes_during_a_stream_are_not_half_seen(client, org):
    org_id = org["organization_id"]
    seed_bulk(org_id, accounts=600)  # well over one chunk: the stream is still open below
    resp = client.get(URL, headers=org["headers"], buffered=False)
    assert resp.status_code == 200
    first_account = None
    with db.tenant_transaction(uuid.UUID(org_id)) as conn:
        late_account = insert(conn, ACCOUNT, org_id, name="Late account")
        late_lead = insert(conn, LEAD, org_id, first_name="Late lead")
        first_account = conn.execute(ACCOUNT.table.update()
                                     .where(ACCOUNT.table.c.organization_id == org_id,
                                            ACCOUNT.table.c.name == "Bulk account 599")
                                     .values(name="Renamed meanwhile")
                                     .returning(ACCOUNT.table.c.public_id)).scalar_one()
    bundle = json.loads(resp.get_data())
    names = {r["name"] for r in bundle["accounts"]}
    assert len(bundle["accounts"]) == 600 and len(bundle["contacts"]) == 600
    assert "Bulk account 599" in names and "Renamed meanwhile" not in names
    assert late_account["public_id"] not in by_pid(bundle["accounts"])
    assert bundle["leads"] == [] and late_lead["public_id"]
    # a new request sees everything committed since
    again = json.loads(client.get(URL, headers=org["headers"]).get_data())
    assert by_pid(again["accounts"])[first_account]["name"] == "Renamed meanwhile"
    assert len(again["accounts"]) == 601 and len(again["leads"]) == 1


def _open_snapshots(settings) -> int:
    """Backends of the test database sitting inside a transaction (an unfinished stream)."""
    url = sa.engine.make_url(settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'").fetchone()[0]


def test_a_client_that_hangs_up_ends_the_snapshot(client, org, settings):
    seed_bulk(org["organization_id"], accounts=600)
    resp = client.get(URL, headers=org["headers"], buffered=False)
    assert next(resp.response).startswith(b'{"version":1,')
    assert _open_snapshots(settings) == 1
    resp.close()
    wait_for(lambda: _open_snapshots(settings) == 0, timeout=10,
             message="the export transaction to end")


def test_bundle_rows_read_exactly_like_api_rows(client, org):
    """The API row is the bundle row plus uuids: the same instant or amount reads the same."""
    seed_small(org["organization_id"])
    bundle = json.loads(client.get(URL, headers=org["headers"]).get_data())
    compared = 0
    for entity in ENTITIES:
        for row in bundle[entity.plural]:
            api = client.get(f"/api/v1/crm/{entity.plural}/{row['public_id']}?include_deleted=true",
                             headers=org["headers"])
            assert api.status_code == 200, api.json
            assert {key: api.json[key] for key in row} == row
            compared += 1
    assert compared == 12
