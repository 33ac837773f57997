"""Hostile bundles: each gives per-row errors or a clear job error, never a stuck or half-applied
job, and never touches another organization's rows."""
from __future__ import annotations

import gzip
import uuid

import orjson
import pytest

from shared import db
from shared.bundle import import_spool_phase
from tests.bundles.helpers import bundle, rows, scalar
from tests.hardening.helpers import job_errors, run_import

CRM = "/api/v1/crm"


def _codes(org, job) -> list[tuple]:
    return [(e["entity"], e["index"], e["field"], e["code"]) for e in job_errors(org, job["id"])]


def test_not_a_bundle_is_refused_or_fails_clearly(client, org):
    resp = client.post(f"{CRM}/import", data=b"[1, 2]", headers=org["headers"],
                       content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_bundle"
    for body, code in ((gzip.compress(b'"just a string"'), "invalid_bundle"),
                       (orjson.dumps({"version": 2, "accounts": [{"name": "x"}]}),
                        "unsupported_version"),
                       (b'{"version": "1", "accounts": []}', "unsupported_version"),
                       (b'{"accounts": [{"name": "x", "custom_fields": {"n": 1e400}}]}',
                        "number_out_of_range")):
        job = run_import(org, body)
        assert (job["status"], job["error"]["code"]) == ("failed", code), job
    assert scalar(org, "SELECT count(*) FROM crm.accounts WHERE organization_id = :org") == 0


def test_rows_that_are_not_objects_or_too_big_are_row_errors(org):
    job = run_import(org, bundle(accounts=[1, "a", None, [1, 2], True, {"name": "x" * 256},
                                           {"public_id": "acct_ok", "name": "Fine"}],
                                 contacts={"not": "an array"}))
    assert job["status"] == "completed_with_errors"
    assert job["progress"]["accounts"] | {} == {"total": 7, "processed": 7, "created": 1,
                                                "updated": 0, "unchanged": 0, "failed": 6}
    codes = _codes(org, job)
    assert [c[1] for c in codes if c[0] == "accounts"] == [0, 1, 2, 3, 4, 5]
    assert ("accounts", 5, "name", "invalid") in codes
    assert ("contacts", None, None, "invalid_bundle") in codes
    assert [r["public_id"] for r in rows(org, "accounts")] == ["acct_ok"]


def test_deep_nesting_is_a_row_error_and_parses_in_linear_time(org):
    def nested(depth: int) -> bytes:
        return b'{"n": ' * depth + b"1" + b"}" * depth

    # 32 levels of custom_fields are fine, 33 are not; 200 000 levels (1.2 MB) used to keep a
    # worker busy for hours (quadratic prefix building) and then crash the spool
    body = (b'{"accounts": [{"public_id": "acct_32", "name": "ok", "custom_fields": '
            + nested(32) + b'}, {"public_id": "acct_33", "name": "no", "custom_fields": '
            + nested(33) + b'}, {"public_id": "acct_deep", "name": "no", "custom_fields": '
            + b"[" * 200_000 + b"]" * 200_000 + b'}, {"public_id": "acct_after", "name": "ok"}]}')
    job = run_import(org, body)
    assert job["status"] == "completed_with_errors", job
    errors = job_errors(org, job["id"])
    assert [(e["index"], e["public_id"], e["field"], e["code"]) for e in errors] == [
        (1, "acct_33", None, "too_deep"), (2, "acct_deep", None, "too_deep")]
    assert [r["public_id"] for r in rows(org, "accounts")] == ["acct_32", "acct_after"]


def test_nul_surrogates_and_unicode(org):
    body = (b'{"accounts": ['
            b'{"public_id": "acct_nul", "name": "a\\u0000b"},'
            b'{"public_id": "acct_ok", "name": "\\u6771\\u4eac \\ud83d\\ude80 \\u00e9",'
            b' "custom_fields": {"big": 123456789012345678901234567890}},'
            b'{"public_id": "acct_keynul", "name": "k", "custom_fields": {"k\\u0000": 1}},'
            b'{"public_id": "acct_surrogate", "name": "x\\ud800y"}],'
            b' "contacts": [{"public_id": "cnt_refnul", "last_name": "N",'
            b' "account_public_id": "acct\\u0000"},'
            b' {"public_id": "cnt_ok", "last_name": "K", "account_public_id": "acct_ok"}],'
            b' "unknown\\u0000key": 1}')
    # the big integer sends the bundle through the exact (pure-Python) parser, which keeps the
    # unpaired surrogate for the validator to refuse
    job = run_import(org, body)
    assert job["status"] == "completed_with_errors", job
    codes = _codes(org, job)
    assert ("accounts", 0, "name", "invalid") in codes
    assert ("accounts", 2, "custom_fields", "invalid") in codes
    assert ("accounts", 3, "name", "invalid") in codes
    assert ("contacts", 0, "account_public_id", "invalid") in codes
    assert any(c[3] == "unknown_key" for c in codes)  # stored although the key holds a NUL
    stored = {r["public_id"]: r for r in rows(org, "accounts")}
    assert set(stored) == {"acct_ok"}
    assert stored["acct_ok"]["name"] == "東京 🚀 é"
    assert stored["acct_ok"]["custom_fields"]["big"] == 123456789012345678901234567890
    assert [r["public_id"] for r in rows(org, "contacts")] == ["cnt_ok"]


def test_a_byte_order_mark_is_accepted(org):
    job = run_import(org, b"\xef\xbb\xbf" + orjson.dumps(bundle(accounts=[{"name": "Bom"}])))
    assert job["status"] == "succeeded", job


def test_references_order_deleted_rows_and_activity_targets(client, org):
    stored = client.post(f"{CRM}/accounts", json={"public_id": "acct_deleted", "name": "Old"},
                         headers=org["headers"]).json
    assert client.delete(f"{CRM}/accounts/{stored['id']}", headers=org["headers"]).status_code == 204
    body = (b'{"contacts": [{"public_id": "cnt_later", "last_name": "L",'
            b' "account_public_id": "acct_later"},'
            b' {"public_id": "cnt_deleted", "last_name": "D", "account_public_id": "acct_deleted"}],'
            b' "activities": [{"public_id": "act_no_id", "subject": "s", "record_type": "account"},'
            b' {"public_id": "act_no_type", "subject": "s", "record_public_id": "acct_later"},'
            b' {"public_id": "act_ok", "subject": "s", "record_type": "account",'
            b' "record_public_id": "acct_later"}],'
            b' "accounts": [{"public_id": "acct_later", "name": "Comes last in the file"}]}')
    job = run_import(org, body)
    assert job["status"] == "completed_with_errors"
    assert _codes(org, job) == [("activities", 0, "record_public_id", "invalid"),
                                ("activities", 1, "record_type", "invalid")]
    ids = {r["public_id"]: r["id"] for r in rows(org, "accounts")}
    contacts = {r["public_id"]: r for r in rows(org, "contacts")}
    # accounts are applied before contacts whatever the key order; a soft-deleted row is still
    # a row of the organization (exports carry them), so it is linked, not refused
    assert contacts["cnt_later"]["account_id"] == ids["acct_later"]
    assert contacts["cnt_deleted"]["account_id"] == ids["acct_deleted"]
    assert [(r["public_id"], r["record_id"]) for r in rows(org, "activities")] == [
        ("act_ok", ids["acct_later"])]


def test_foreign_stage_ids_resolve_in_the_callers_default_pipeline(client, org, other_org):
    theirs = client.get(f"{CRM}/pipelines", headers=other_org["headers"]).json["items"][0]
    their_won = next(s for s in theirs["stages"] if s["name"] == "Won")
    ours = client.get(f"{CRM}/pipelines", headers=org["headers"]).json["items"][0]
    by_name = {s["name"]: s["id"] for s in ours["stages"]}
    job = run_import(org, bundle(opportunities=[
        {"public_id": "opp_foreign", "name": "A", "pipeline_id": theirs["id"],
         "pipeline_stage_id": their_won["id"]},
        {"public_id": "opp_named", "name": "B", "pipeline_id": theirs["id"],
         "pipeline_stage_id": their_won["id"], "pipeline_stage_name": "won"},
        {"public_id": "opp_garbage", "name": "C", "pipeline_stage_id": 5, "pipeline_id": [1]}]))
    assert job["status"] == "succeeded", job
    placed = {r["public_id"]: (str(r["pipeline_id"]), str(r["pipeline_stage_id"]))
              for r in rows(org, "opportunities")}
    assert placed == {"opp_foreign": (ours["id"], by_name["Unassigned"]),
                      "opp_named": (ours["id"], by_name["Won"]),
                      "opp_garbage": (ours["id"], by_name["Unassigned"])}


def test_duplicate_public_ids_in_one_bundle(org):
    job = run_import(org, bundle(leads=[{"public_id": "lead_1", "first_name": "First"},
                                        {"public_id": "lead_1", "first_name": "Second"}]))
    assert job["status"] == "completed_with_errors"
    assert _codes(org, job) == [("leads", 1, "public_id", "duplicate")]
    assert [r["first_name"] for r in rows(org, "leads")] == ["First"]


def test_public_ids_of_another_organization_make_new_rows_here(client, org, other_org):
    theirs = client.post(f"{CRM}/accounts", json={"name": "Theirs", "custom_fields": {"s": 1}},
                         headers=other_org["headers"]).json
    job = run_import(org, bundle(
        accounts=[{"public_id": theirs["public_id"], "name": "Mine"}],
        contacts=[{"public_id": "cnt_x", "last_name": "X",
                   "account_public_id": theirs["public_id"]}]))
    assert job["status"] == "succeeded", job
    mine = rows(org, "accounts")
    assert [(r["public_id"], r["name"]) for r in mine] == [(theirs["public_id"], "Mine")]
    assert str(mine[0]["id"]) != theirs["id"]
    assert rows(org, "contacts")[0]["account_id"] == mine[0]["id"]
    still = client.get(f"{CRM}/accounts/{theirs['id']}", headers=other_org["headers"]).json
    assert (still["name"], still["custom_fields"]) == ("Theirs", {"s": 1})


def test_an_unexpected_spool_error_fails_the_job_instead_of_leaving_it_running(
        org, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(import_spool_phase, "spool_bundle", broken)
    job = run_import(org, bundle(accounts=[{"name": "x"}]))
    assert job["status"] == "failed"
    assert job["error"]["code"] == "spool_failed" and "RuntimeError" in job["error"]["message"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_parent_in_the_same_batch_is_linked_in_the_insert(org, dry_run):
    stamp = "2024-01-02T03:04:05+00:00"
    job = run_import(org, bundle(accounts=[
        {"public_id": "acct_c", "name": "Child", "parent_account_public_id": "acct_p",
         "created_at": stamp, "updated_at": stamp},
        {"public_id": "acct_p", "name": "Parent", "created_at": stamp, "updated_at": stamp}]),
        dry_run=dry_run)
    assert job["status"] == "succeeded" and job["error_count"] == 0, job
    found = {r["public_id"]: r for r in rows(org, "accounts")}
    if dry_run:
        assert found == {}
        return
    assert found["acct_c"]["parent_account_id"] == found["acct_p"]["id"]
    # created_at is kept from the bundle; updated_at is the database's time of the one write
    assert {r["created_at"].isoformat() for r in found.values()} == {stamp}
    assert len({r["updated_at"] for r in found.values()}) == 1
    assert found["acct_c"]["updated_at"].isoformat() != stamp


def test_other_org_rows_never_change(client, org, other_org):
    """A bundle naming every id of another organization leaves that organization as it was."""
    theirs = client.post(f"{CRM}/accounts", json={"name": "Theirs"},
                         headers=other_org["headers"]).json
    before = scalar(other_org, "SELECT count(*) FROM crm.change_events "
                               "WHERE organization_id = :org")
    run_import(org, bundle(accounts=[{"public_id": theirs["public_id"], "name": "X",
                                      "parent_account_public_id": theirs["public_id"]}],
                           activities=[{"record_type": "account",
                                        "record_public_id": theirs["public_id"]}]))
    with db.tenant_transaction(uuid.UUID(other_org["organization_id"])) as conn:
        assert conn.exec_driver_sql("SELECT name FROM crm.accounts WHERE id = %s",
                                    (theirs["id"],)).scalar() == "Theirs"
    assert scalar(other_org, "SELECT count(*) FROM crm.change_events "
                             "WHERE organization_id = :org") == before
