"""Import over HTTP with a real worker process: counts, rows, events, references, stages."""
from __future__ import annotations

import csv
import gzip
import io

import orjson

from tests.bundles.helpers import (
    bundle,
    counts,
    errors_of,
    import_and_wait,
    post_bundle,
    rows,
    scalar,
    wait_job,
)


def _sample() -> dict:
    return bundle(
        # the child comes before its parent: the parent reference is applied after all accounts
        accounts=[
            {"public_id": "acct_child", "name": "Child Co", "parent_account_public_id": "acct_parent",
             "annual_revenue": "1200.50", "custom_fields": {"tier": "A", "score": 1.5}},
            {"public_id": "acct_parent", "name": "Parent Co", "employee_count": 12,
             "created_at": "2024-05-01T10:00:00+00:00"},
        ],
        contacts=[
            {"public_id": "cnt_1", "first_name": "Ada", "email": "ada@example.com",
             "account_public_id": "acct_child"},
            {"public_id": "cnt_2", "last_name": "Hopper", "account_public_id": "acct_parent"},
        ],
        opportunities=[
            {"public_id": "opp_named", "name": "Named stage", "amount": "99.90",
             "pipeline_stage_name": "proposal", "account_public_id": "acct_child",
             "contact_public_id": "cnt_1"},
            {"public_id": "opp_default", "name": "No stage"},
            {"public_id": "opp_foreign", "name": "Foreign stage",
             "pipeline_id": "0190a000-0000-7000-8000-000000000001",
             "pipeline_stage_id": "0190a000-0000-7000-8000-000000000002",
             "pipeline_stage_name": "Won", "status": "won"},
        ],
        leads=[{"public_id": "lead_1", "first_name": "Lin", "company": "Acme", "source": "web"}],
        activities=[
            {"public_id": "act_1", "type": "call", "subject": "Intro", "record_type": "contact",
             "record_public_id": "cnt_2", "occurred_at": "2025-01-02T03:04:05Z"},
            {"public_id": "act_2", "type": "note", "subject": "Pricing", "record_type": "opportunity",
             "record_public_id": "opp_named"},
        ],
    )


def test_json_import_stores_the_bundle_with_references_stages_and_events(client, org, worker):
    job = import_and_wait(client, org, _sample())
    assert job["status"] == "succeeded", (job, errors_of(client, org, job["id"]))
    assert job["percent"] == 100 and job["error_count"] == 0
    expected = {"accounts": 2, "contacts": 2, "opportunities": 3, "leads": 1, "activities": 2}
    for plural, n in expected.items():
        assert counts(job, plural) == {"total": n, "processed": n, "created": n, "updated": 0,
                                       "unchanged": 0, "failed": 0}
    accounts = {r["public_id"]: r for r in rows(org, "accounts")}
    assert accounts["acct_child"]["parent_account_id"] == accounts["acct_parent"]["id"]
    assert str(accounts["acct_child"]["annual_revenue"]) == "1200.50"
    assert accounts["acct_child"]["custom_fields"] == {"tier": "A", "score": 1.5}
    assert accounts["acct_parent"]["created_at"].isoformat() == "2024-05-01T10:00:00+00:00"
    contacts = {r["public_id"]: r for r in rows(org, "contacts")}
    assert contacts["cnt_1"]["account_id"] == accounts["acct_child"]["id"]
    stage_by_opp = dict(scalar(org, (
        "SELECT json_object_agg(o.public_id, s.name) FROM crm.opportunities o "
        "JOIN crm.opportunity_pipeline_stages s ON s.organization_id = o.organization_id "
        "AND s.id = o.pipeline_stage_id WHERE o.organization_id = :org")))
    assert stage_by_opp == {"opp_named": "Proposal", "opp_default": "Unassigned",
                            "opp_foreign": "Won"}
    acts = {r["public_id"]: r for r in rows(org, "activities")}
    assert acts["act_1"]["record_type"] == "contact"
    assert acts["act_1"]["record_id"] == contacts["cnt_2"]["id"]
    events = scalar(org, "SELECT json_agg(json_build_object('p', public_id, 't', event_type, "
                         "'a', actor, 'j', job_id)) FROM crm.change_events "
                         "WHERE organization_id = :org")
    assert len(events) == 10
    assert {e["p"] for e in events} == {p for plural in _sample() if isinstance(
        _sample()[plural], list) for p in (r["public_id"] for r in _sample()[plural])}
    assert all(e["t"] == "imported" and e["j"] == job["id"] and e["a"] == f"import:{job['id']}"
               for e in events)


def test_reimport_changes_nothing_and_logs_each_row_again(client, org, worker):
    first = import_and_wait(client, org, _sample())
    assert first["status"] == "succeeded"
    before = {t: rows(org, t) for t in ("accounts", "contacts", "opportunities", "leads",
                                        "activities")}
    second = import_and_wait(client, org, _sample())
    assert second["status"] == "succeeded"
    for plural, table_rows in before.items():
        n = len(table_rows)
        assert counts(second, plural) == {"total": n, "processed": n, "created": 0, "updated": 0,
                                          "unchanged": n, "failed": 0}
        assert rows(org, plural) == table_rows  # not even updated_at moved
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org "
                       "AND job_id = :job AND changes->>'outcome' = 'unchanged'",
                  job=second["id"]) == 10


def test_update_and_reference_to_a_stored_row(client, org, worker):
    assert import_and_wait(client, org, bundle(accounts=[
        {"public_id": "acct_old", "name": "Old name"}]))["status"] == "succeeded"
    job = import_and_wait(client, org, bundle(
        accounts=[{"public_id": "acct_old", "name": "New name"}],
        contacts=[{"public_id": "cnt_x", "last_name": "X", "account_public_id": "acct_old"}]))
    assert job["status"] == "succeeded"
    assert counts(job, "accounts")["updated"] == 1
    account = rows(org, "accounts")[0]
    assert account["name"] == "New name"
    assert rows(org, "contacts")[0]["account_id"] == account["id"]


def test_bad_rows_are_reported_and_the_rest_imported(client, org, worker):
    job = import_and_wait(client, org, bundle(
        accounts=[{"public_id": "acct_ok", "name": "Fine"},
                  {"public_id": "acct_bad", "employee_count": -3},
                  "not an object",
                  {"public_id": "acct_ok", "name": "Duplicate"}],
        contacts=[{"public_id": "cnt_lost", "last_name": "L", "account_public_id": "acct_nowhere"},
                  {"public_id": "cnt_mail", "last_name": "M", "email": "nope"},
                  {"public_id": "cnt_fine", "last_name": "F", "account_public_id": "acct_ok"}],
        pipelines=[]))
    assert job["status"] == "completed_with_errors"
    assert counts(job, "accounts") == {"total": 4, "processed": 4, "created": 1, "updated": 0,
                                       "unchanged": 0, "failed": 3}
    assert counts(job, "contacts")["created"] == 1 and counts(job, "contacts")["failed"] == 2
    errors = errors_of(client, org, job["id"])
    assert job["error_count"] == len(errors)
    found = {(e["entity"], e["index"], e["public_id"], e["field"]) for e in errors}
    assert {("accounts", 1, "acct_bad", "name"), ("accounts", 1, "acct_bad", "employee_count"),
            ("accounts", 2, None, None), ("accounts", 3, "acct_ok", "public_id"),
            ("contacts", 0, "cnt_lost", "account_public_id"),
            ("contacts", 1, "cnt_mail", "email"), (None, None, None, "pipelines")} == found
    by_field = {e["field"]: e for e in errors}
    assert by_field["employee_count"]["message"] == "must not be negative"
    assert by_field["pipelines"]["code"] == "unknown_key"
    assert [r["public_id"] for r in rows(org, "accounts")] == ["acct_ok"]
    assert rows(org, "accounts")[0]["name"] == "Fine"
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org") == 2

    # the same errors as files for fix and resubmit
    as_csv = client.get(f"/api/v1/crm/jobs/{job['id']}/errors?format=csv", headers=org["headers"])
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert {(r["entity"], r["index"], r["public_id"], r["field"]) for r in table} == {
        (a or "", "" if b is None else str(b), c or "", d or "") for a, b, c, d in found}
    as_lines = client.get(f"/api/v1/crm/jobs/{job['id']}/errors?format=jsonl",
                          headers=org["headers"])
    assert [orjson.loads(line) for line in as_lines.data.splitlines()] == [
        {k: e[k] for k in ("entity", "index", "public_id", "field", "code", "message")}
        for e in errors]
    assert client.get(f"/api/v1/crm/jobs/{job['id']}/errors?format=xml",
                      headers=org["headers"]).status_code == 422
    assert job["rows_per_second"] is not None


def test_multipart_and_gzip_uploads(client, org, worker):
    raw = orjson.dumps(bundle(leads=[{"public_id": f"lead_{i}", "last_name": f"L{i}"}
                                     for i in range(5)]))
    resp = client.post("/api/v1/crm/import", headers=org["headers"],
                       data={"file": (io.BytesIO(raw), "bundle.json")},
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.json
    assert wait_job(client, org, resp.json["id"])["progress"]["leads"]["created"] == 5

    gz = gzip.compress(orjson.dumps(bundle(leads=[{"public_id": "lead_gz", "last_name": "G"}])))
    resp = post_bundle(client, org, gz, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 202, resp.json
    assert wait_job(client, org, resp.json["id"])["progress"]["leads"]["created"] == 1

    gz2 = gzip.compress(orjson.dumps(bundle(leads=[{"public_id": "lead_gz2",
                                                     "email": "gz@example.com"}])))
    resp = client.post("/api/v1/crm/import", headers=org["headers"],
                       data={"file": (io.BytesIO(gz2), "bundle.json.gz")},
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.json
    job = wait_job(client, org, resp.json["id"])
    assert job["status"] == "succeeded" and job["progress"]["leads"]["created"] == 1
    assert len(rows(org, "leads")) == 7


def test_dry_run_reports_and_writes_nothing(client, org, worker):
    resp = post_bundle(client, org, _sample(), query="?dry_run=true")
    assert resp.status_code == 202 and resp.json["dry_run"] is True
    job = wait_job(client, org, resp.json["id"])
    assert job["status"] == "succeeded", errors_of(client, org, job["id"])
    assert counts(job, "contacts")["created"] == 2 and counts(job, "activities")["created"] == 2
    for table in ("accounts", "contacts", "opportunities", "leads", "activities"):
        assert rows(org, table) == []
    assert scalar(org, "SELECT count(*) FROM crm.change_events WHERE organization_id = :org") == 0


def test_broken_bundles_fail_with_a_clear_error(client, org, worker):
    for body, code in ((b'{"accounts": [', "invalid_json"),
                       (orjson.dumps({"version": 2, "accounts": []}), "unsupported_version"),
                       (gzip.compress(b"[1, 2]"), "invalid_bundle")):
        job = import_and_wait(client, org, body)
        assert job["status"] == "failed" and job["error"]["code"] == code, job
        if code == "invalid_json":  # where it broke off, for the user to look at
            assert job["error"]["offset"] == len(body)
    empty = import_and_wait(client, org, b"{}")
    assert empty["status"] == "succeeded" and empty["percent"] == 100
