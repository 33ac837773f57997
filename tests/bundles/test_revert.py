"""Undoing an import end to end (real worker): created rows soft-deleted, updated rows given
their before-images back, unchanged rows untouched, rows changed since left as conflicts unless
forced; one revert per import; dry runs preview."""
from __future__ import annotations

from tests.bundles.helpers import bundle, errors_of, import_and_wait, rows, scalar, wait_job

API = "/api/v1/crm"


def _revert(client, org, job_id: str, query: str = "") -> dict:
    resp = client.post(f"{API}/jobs/{job_id}/revert{query}", headers=org["headers"])
    assert resp.status_code == 202, resp.json
    assert resp.json["kind"] == "revert" and resp.json["reverts"] == job_id
    return wait_job(client, org, resp.json["id"])


def _setup(client, org) -> tuple[dict, dict]:
    """An account and a lead made through the API, then an import that updates the account,
    leaves the lead as it is and creates an account, a contact and an activity."""
    acme = client.post(f"{API}/accounts", headers=org["headers"], json={
        "public_id": "acct_acme", "name": "Acme", "industry": "Tools",
        "custom_fields": {"tier": "B"}}).json
    lead = client.post(f"{API}/leads", headers=org["headers"], json={
        "public_id": "lead_keep", "first_name": "Kim", "company": "Keep"}).json
    job = import_and_wait(client, org, bundle(
        accounts=[{"public_id": "acct_acme", "name": "Acme Corp", "industry": "Tools",
                   "custom_fields": {"tier": "A", "vip": True}},
                  {"public_id": "acct_new", "name": "New Co"}],
        contacts=[{"public_id": "cnt_new", "first_name": "Ada", "account_public_id": "acct_new"}],
        leads=[{"public_id": "lead_keep", "first_name": "Kim", "company": "Keep"}],
        activities=[{"public_id": "act_new", "type": "call", "subject": "Hi",
                     "record_type": "contact", "record_public_id": "cnt_new"}]))
    assert job["status"] == "succeeded", errors_of(client, org, job["id"])
    return job, {"acme": acme, "lead": lead}


def test_revert_restores_updates_and_removes_what_the_import_created(client, org, worker):
    job, before = _setup(client, org)
    revert = _revert(client, org, job["id"])
    assert revert["status"] == "succeeded", errors_of(client, org, revert["id"])
    order = scalar(org, "SELECT json_agg(record_type ORDER BY id) FROM crm.change_events "
                        "WHERE organization_id = :org AND event_type = 'reverted'")
    assert order == ["activity", "contact", "account", "account"]  # children first
    assert revert["progress"]["accounts"] == {"total": 2, "processed": 2, "deleted": 1,
                                                   "restored": 1, "unchanged": 0, "failed": 0}
    accounts = {r["public_id"]: r for r in rows(org, "accounts")}
    assert accounts["acct_acme"]["name"] == "Acme"
    assert accounts["acct_acme"]["custom_fields"] == {"tier": "B"}
    assert accounts["acct_acme"]["deleted_at"] is None
    assert accounts["acct_new"]["deleted_at"] is not None
    assert all(r["deleted_at"] is not None for r in rows(org, "contacts"))
    assert all(r["deleted_at"] is not None for r in rows(org, "activities"))
    lead = rows(org, "leads")[0]
    assert lead["deleted_at"] is None and lead["company"] == "Keep"
    events = scalar(org, "SELECT json_agg(public_id ORDER BY public_id) FROM "
                         "crm.change_events WHERE organization_id = :org "
                         "AND event_type = 'reverted'")
    assert events == ["acct_acme", "acct_new", "act_new", "cnt_new"]
    again = client.post(f"{API}/jobs/{job['id']}/revert", headers=org["headers"])
    assert again.status_code == 409 and again.json["error"]["code"] == "already_reverted"
    assert again.json["error"]["details"]["revert_job"] == revert["id"]


def test_rows_changed_after_the_import_are_conflicts_unless_forced(client, org, worker):
    job, _ = _setup(client, org)
    edited = client.patch(f"{API}/contacts/cnt_new", headers=org["headers"],
                          json={"title": "CTO"})
    assert edited.status_code == 200
    preview = _revert(client, org, job["id"], "?dry_run=true")
    assert preview["status"] == "completed_with_errors" and preview["dry_run"]
    assert preview["progress"]["contacts"]["failed"] == 1
    assert rows(org, "accounts")[0]["deleted_at"] is None  # a dry run changes nothing
    assert scalar(org, "SELECT count(*) FROM crm.accounts WHERE organization_id = :org "
                       "AND deleted_at IS NOT NULL") == 0
    revert = _revert(client, org, job["id"])  # the dry run did not block it
    [conflict] = errors_of(client, org, revert["id"])
    assert conflict["code"] == "conflict" and conflict["public_id"] == "cnt_new"
    assert "title" in conflict["message"] and "updated by" in conflict["message"]
    contact = rows(org, "contacts")[0]
    assert contact["deleted_at"] is None and contact["title"] == "CTO"
    # the revert went on around it: the created account is gone, the update undone
    accounts = {r["public_id"]: r for r in rows(org, "accounts")}
    assert accounts["acct_new"]["deleted_at"] is not None
    assert accounts["acct_acme"]["name"] == "Acme"


def test_force_reverts_rows_changed_since(client, org, worker):
    job, _ = _setup(client, org)
    client.patch(f"{API}/contacts/cnt_new", headers=org["headers"], json={"title": "CTO"})
    revert = _revert(client, org, job["id"], "?force=true")
    assert revert["status"] == "succeeded" and revert["force"]
    assert rows(org, "contacts")[0]["deleted_at"] is not None


def test_only_finished_imports_can_be_reverted(client, org, worker):
    export = client.post(f"{API}/exports", headers=org["headers"], json={})
    wait_job(client, org, export.json["id"])
    resp = client.post(f"{API}/jobs/{export.json['id']}/revert", headers=org["headers"])
    assert resp.status_code == 409 and resp.json["error"]["code"] == "not_an_import"
    dry = import_and_wait(client, org, bundle(accounts=[{"name": "X"}]), query="?dry_run=true")
    resp = client.post(f"{API}/jobs/{dry['id']}/revert", headers=org["headers"])
    assert resp.status_code == 409
    resp = client.post(f"{API}/jobs/0190a000-0000-7000-8000-000000000001/revert",
                       headers=org["headers"])
    assert resp.status_code == 404


def test_a_hundred_rows_edited_after_the_import_are_a_hundred_conflicts(client, org, worker):
    job = import_and_wait(client, org, bundle(contacts=[
        {"public_id": f"cnt_{i}", "first_name": f"P{i}"} for i in range(300)]))
    for i in range(100):
        assert client.patch(f"{API}/contacts/cnt_{i}", headers=org["headers"],
                            json={"title": "edited"}).status_code == 200
    revert = _revert(client, org, job["id"])
    assert revert["progress"]["contacts"]["failed"] == 100
    assert revert["progress"]["contacts"]["deleted"] == 200
    assert len(errors_of(client, org, revert["id"])) == 100
    assert scalar(org, "SELECT count(*) FROM crm.contacts WHERE organization_id = :org "
                       "AND deleted_at IS NULL") == 100
