"""What an import may set (issue 19, item 9): times, deletions, and acyclic parents.

- created_at and deleted_at are kept from the bundle (a round trip reproduces rows, deleted
  ones included); updated_at is the database's time of the write, so `updated_since` sees it;
- a row whose deleted_at changes by import is marked in its one `imported` event;
- a parent link that would make a row its own ancestor is refused with a row error.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from shared import db
from tests.bundles.helpers import bundle, rows, scalar
from tests.conftest import replace_settings
from tests.hardening.helpers import job_errors, run_import

OLD = "2001-01-01T00:00:00+00:00"


def _events(org, public_id: str) -> list[tuple]:
    with db.tenant_transaction(uuid.UUID(org["organization_id"])) as conn:
        return [(r.event_type, r.changes) for r in conn.execute(sa.text(
            "SELECT event_type, changes FROM crm.change_events WHERE organization_id = :org "
            "AND public_id = :p ORDER BY occurred_at, id"),
            {"org": org["organization_id"], "p": public_id})]


def _marks(changes: dict) -> dict:
    return {k: v for k, v in changes.items() if k != "before"}


def test_a_backdated_row_is_still_seen_by_updated_since(client, org):
    since = datetime.now(UTC).isoformat()
    job = run_import(org, bundle(accounts=[
        {"public_id": "acct_old", "name": "Old", "created_at": OLD, "updated_at": OLD}]))
    assert job["status"] == "succeeded", job
    (row,) = rows(org, "accounts")
    assert row["created_at"].isoformat() == OLD
    assert row["updated_at"] >= datetime.fromisoformat(since)
    page = client.get("/api/v1/crm/accounts", query_string={"updated_since": since},
                      headers=org["headers"]).json
    assert [a["public_id"] for a in page["items"]] == ["acct_old"]


def test_deletion_and_restoration_by_import_are_marked_in_the_imported_event(org):
    live = {"public_id": "acct_d", "name": "D"}
    assert run_import(org, bundle(accounts=[live, {"public_id": "acct_gone", "name": "G",
                                                   "deleted_at": OLD}]))["status"] == "succeeded"
    assert run_import(org, bundle(accounts=[live | {"deleted_at": OLD}]))["status"] == "succeeded"
    assert run_import(org, bundle(accounts=[live]))["status"] == "succeeded"
    assert run_import(org, bundle(accounts=[live]))["status"] == "succeeded"
    events = _events(org, "acct_d")
    assert [t for t, _ in events] == ["imported"] * 4  # one imported event per row, always
    assert [_marks(c) for _, c in events] == [
        {"outcome": "created"}, {"outcome": "updated", "deleted": True},
        {"outcome": "updated", "restored": True}, {"outcome": "unchanged"}]
    assert [_marks(c) for _, c in _events(org, "acct_gone")] == [
        {"outcome": "created", "deleted": True}]
    assert events[1][1]["before"]["deleted_at"] is None


def _parents(org) -> dict:
    found = rows(org, "accounts")
    by_id = {r["id"]: r["public_id"] for r in found}
    return {r["public_id"]: by_id.get(r["parent_account_id"]) for r in found}


def _cycle_errors(org, job) -> list[tuple]:
    return [(e["public_id"], e["field"], e["code"]) for e in job_errors(org, job["id"])]


def test_a_parent_link_closing_a_loop_with_stored_rows_is_refused(org):
    run_import(org, bundle(accounts=[
        {"public_id": "acct_a", "name": "A"},
        {"public_id": "acct_b", "name": "B", "parent_account_public_id": "acct_a"},
        {"public_id": "acct_c", "name": "C", "parent_account_public_id": "acct_b"}]))
    job = run_import(org, bundle(accounts=[
        {"public_id": "acct_a", "name": "A", "parent_account_public_id": "acct_c"}]))
    assert job["status"] == "completed_with_errors", job
    assert _cycle_errors(org, job) == [("acct_a", "parent_account_public_id", "cycle")]
    assert _parents(org) == {"acct_a": None, "acct_b": "acct_a", "acct_c": "acct_b"}


def test_loops_inside_one_batch_and_self_parents_are_refused(org):
    job = run_import(org, bundle(accounts=[
        {"public_id": "acct_x", "name": "X", "parent_account_public_id": "acct_y"},
        {"public_id": "acct_y", "name": "Y", "parent_account_public_id": "acct_x"},
        {"public_id": "acct_s", "name": "S", "parent_account_public_id": "acct_s"},
        {"public_id": "acct_ok", "name": "OK", "parent_account_public_id": "acct_y"}]))
    assert sorted(_cycle_errors(org, job)) == [
        ("acct_s", "parent_account_public_id", "cycle"),
        ("acct_x", "parent_account_public_id", "cycle")]
    assert _parents(org) == {"acct_x": None, "acct_y": "acct_x", "acct_s": None,
                             "acct_ok": "acct_y"}
    assert job["progress"]["accounts"]["failed"] == 0  # the rows are imported, without the link


def test_a_loop_closed_across_batches_is_refused(fresh_settings, org):
    replace_settings(fresh_settings, batch_size=1)
    job = run_import(org, bundle(accounts=[
        {"public_id": "acct_1", "name": "1", "parent_account_public_id": "acct_2"},
        {"public_id": "acct_2", "name": "2", "parent_account_public_id": "acct_3"},
        {"public_id": "acct_3", "name": "3", "parent_account_public_id": "acct_1"}]))
    assert len(_cycle_errors(org, job)) == 1, job_errors(org, job["id"])
    parents = _parents(org)
    assert sum(p is None for p in parents.values()) == 1
    assert scalar(org, "SELECT count(*) FROM crm.accounts WHERE organization_id = :org") == 3
