"""source=csv end to end: a real worker imports spreadsheets through a mapping, references by
name, email and external id, identity by (external_system, external_id), errors with file and
row, warnings, dry run, and refusals at upload."""
from __future__ import annotations

import csv
import io

import orjson

from tests.bundles.helpers import counts, errors_of, rows, scalar
from tests.interop.e2e_helpers import finished, post_files, post_zip, zip_of

ACCOUNTS = (b"account,sector,employees,subsidiary_of,office\r\n"
            b"Acme,Tools,120,,Berlin\r\n"
            b"Acme Labs,Research,8,Acme,\r\n"
            b"Globex,Energy,4000,,Paris\r\n")
CONTACTS = (b"id;name;mail;company\n"
            b"c1;Ada;ada@acme.test;Acme\n"
            b"c2;Grace;grace@globex.test;Globex\n"
            b"c3;Nobody;no@where.test;Initech\n")
DEALS = (b"id,title,stage,closed,value,account,contact\n"
         b"d1,Anvils,Won,03.02.2025,1200.50,Acme,ada@acme.test\n"
         b"d2,Turbines,Pitching,15.03.2025,99,Globex,\n"
         b"d3,Rockets,Proposal,bad-date,5,Acme,\n")
MAPPING = {
    "version": 1, "external_system": "legacy",
    "files": [
        {"file": "accounts.csv", "entity": "accounts", "id_column": "account",
         "columns": {"account": "name", "sector": "industry", "employees": "employee_count",
                     "office": "custom_fields.office"},
         "references": {"parent_account_public_id": {"column": "subsidiary_of", "by": "name"}}},
        {"file": "contacts*.csv", "entity": "contacts", "id_column": "id",
         "columns": {"name": "first_name", "mail": "email"},
         "references": {"account_public_id": {"column": "company", "by": "name"}}},
        {"file": "deals.csv", "entity": "opportunities", "id_column": "id",
         "columns": {"title": "name", "stage": "pipeline_stage_name", "closed": "close_date",
                     "value": "amount"},
         "references": {"account_public_id": {"column": "account", "by": "name"},
                        "contact_public_id": {"column": "contact", "by": "email"}},
         "values": {"status": {"column": "stage", "map": {"Won": "won", "Lost": "lost"},
                               "default": "open"}},
         "constants": {"currency": "EUR"}, "date_format": "%d.%m.%Y"},
    ]}
FILES = {"accounts.csv": ACCOUNTS, "contacts-2025.csv": CONTACTS, "deals.csv": DEALS}


def _import(client, org, query: str = "", files=None, mapping=None) -> dict:
    return finished(client, org, post_files(client, org, "csv", files or FILES,
                                            orjson.dumps(mapping or MAPPING), query))


def test_csv_import_keeps_references_and_reports_rows_by_file_and_line(client, org, worker):
    job = _import(client, org)
    assert job["source"] == "csv"
    assert job["status"] == "completed_with_errors", job
    assert counts(job, "accounts")["created"] == 3
    assert counts(job, "contacts")["created"] == 2 and counts(job, "contacts")["failed"] == 1
    assert counts(job, "opportunities")["created"] == 2
    accounts = {r["name"]: r for r in rows(org, "accounts")}
    assert accounts["Acme Labs"]["parent_account_id"] == accounts["Acme"]["id"]
    assert accounts["Acme"]["external_system"] == "legacy"
    assert accounts["Acme"]["external_id"] == "Acme"
    assert accounts["Acme"]["custom_fields"] == {"office": "Berlin"}
    assert accounts["Acme Labs"]["custom_fields"] == {}
    contacts = {r["first_name"]: r for r in rows(org, "contacts")}
    assert contacts["Ada"]["account_id"] == accounts["Acme"]["id"]
    deals = {r["name"]: r for r in rows(org, "opportunities")}
    assert deals["Anvils"]["status"] == "won" and str(deals["Anvils"]["close_date"]) == "2025-02-03"
    assert deals["Anvils"]["contact_id"] == contacts["Ada"]["id"]
    assert deals["Anvils"]["currency"] == "EUR"
    stage = scalar(org, "SELECT s.name FROM crm.opportunities o JOIN crm.opportunity_pipeline_stages s "
                        "ON s.id = o.pipeline_stage_id WHERE o.organization_id = :org "
                        "AND o.name = 'Turbines'")
    assert stage == "Unassigned"
    assert deals["Turbines"]["custom_fields"]["source_stage"] == "Pitching"
    errors = {(e["entity"], e["file"], e["row"]): e for e in errors_of(client, org, job["id"])}
    missing = errors[("contacts", "contacts-2025.csv", 4)]
    assert missing["code"] == "unresolved_reference" and "Initech" in missing["message"]
    bad_date = errors[("opportunities", "deals.csv", 4)]
    assert bad_date["field"] == "close_date"
    assert any(w["code"] == "stage_fallback" and w["stage"] == "Pitching"
               for w in job["warnings"])


def test_reimporting_the_same_export_changes_nothing(client, org, worker):
    _import(client, org)
    again = _import(client, org)
    for plural in ("accounts", "contacts", "opportunities"):
        c = counts(again, plural)
        assert c["created"] == 0 and c["updated"] == 0, (plural, c)
    assert scalar(org, "SELECT count(*) FROM crm.accounts WHERE organization_id = :org") == 3


def test_a_stored_row_with_the_same_external_pair_is_updated_in_place(client, org, worker):
    made = client.post("/api/v1/crm/accounts", headers=org["headers"], json={
        "name": "Globex", "industry": "Old", "external_system": "legacy",
        "external_id": "Globex"})
    assert made.status_code == 201, made.json
    job = _import(client, org)
    assert counts(job, "accounts") | {} == counts(job, "accounts")
    assert counts(job, "accounts")["created"] == 2 and counts(job, "accounts")["updated"] == 1
    globex = [r for r in rows(org, "accounts") if r["name"] == "Globex"]
    assert len(globex) == 1 and globex[0]["public_id"] == made.json["public_id"]
    assert globex[0]["industry"] == "Energy"


def test_an_ambiguous_name_is_a_row_error_never_a_guess(client, org, worker):
    for _ in range(2):
        assert client.post("/api/v1/crm/accounts", headers=org["headers"],
                           json={"name": "Twin"}).status_code == 201
    files = {"contacts.csv": b"id,name,company\nx1,Ann,Twin\n"}
    mapping = {"version": 1, "files": [{
        "file": "contacts.csv", "entity": "contacts", "id_column": "id",
        "columns": {"name": "first_name"},
        "references": {"account_public_id": {"column": "company", "by": "name"}}}]}
    job = _import(client, org, files=files, mapping=mapping)
    [error] = errors_of(client, org, job["id"])
    assert error["code"] == "ambiguous_reference" and error["row"] == 2
    assert scalar(org, "SELECT count(*) FROM crm.contacts WHERE organization_id = :org") == 0


def test_dry_run_checks_references_within_the_upload_and_writes_nothing(client, org, worker):
    job = _import(client, org, "&dry_run=true")
    assert job["dry_run"] and job["status"] == "completed_with_errors"
    codes = sorted((e["entity"], e["code"]) for e in errors_of(client, org, job["id"]))
    assert codes == [("contacts", "unresolved_reference"), ("opportunities", "invalid")]
    assert scalar(org, "SELECT count(*) FROM crm.accounts WHERE organization_id = :org") == 0


def test_create_stages_adds_the_sources_open_stages_before_won(client, org, worker):
    job = _import(client, org, "&create_stages=true")
    assert any(w["code"] == "stages_created" for w in job["warnings"]), job["warnings"]
    names = scalar(org, "SELECT json_agg(s.name ORDER BY s.position) FROM "
                        "crm.opportunity_pipeline_stages s JOIN crm.opportunity_pipelines p "
                        "ON p.id = s.pipeline_id WHERE s.organization_id = :org AND p.is_default")
    assert names.index("Pitching") < names.index("Won")
    assert scalar(org, "SELECT count(*) FROM crm.opportunity_pipeline_stages WHERE "
                       "organization_id = :org AND name = 'Proposal'") == 1


def test_a_mapping_that_does_not_fit_is_refused_before_any_job(client, org):
    bad = {"version": 1, "files": [
        {"file": "accounts.csv", "entity": "acounts", "columns": {"account": "name"}},
        {"file": "deals.csv", "entity": "opportunities", "columns": {"nope": "name",
                                                                      "title": "titel"}}]}
    resp = post_files(client, org, "csv", FILES, orjson.dumps(bad))
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["code"] == "invalid_mapping"
    paths = " ".join(p["path"] for p in resp.json["error"]["details"]["problems"])
    assert "files[0]" in paths and "files[1]" in paths
    listed = client.get("/api/v1/crm/jobs", headers=org["headers"]).json["items"]
    assert listed == []


def test_hostile_zips_are_refused_at_upload(client, org):
    assert post_zip(client, org, "csv", b"PK\x03\x04 not really").status_code == 400
    escaping = zip_of({"../../etc/cron.d/x.csv": b"a\n1\n", "mapping.json": b"{}"})
    resp = post_zip(client, org, "salesforce", escaping)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "unsafe_zip_entry"
    many = zip_of({f"f{i}.csv": b"" for i in range(1001)})
    resp = post_zip(client, org, "hubspot", many)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "too_many_entries"
    resp = client.post("/api/v1/crm/import?source=excel", data=b"x", headers=org["headers"],
                       content_type="application/zip")
    assert resp.status_code == 422


def test_a_zip_inflating_past_the_limit_is_413(client, org, fresh_settings):
    from tests.conftest import replace_settings
    replace_settings(fresh_settings, max_upload_bytes=64 * 1024)
    bomb = zip_of({"Account.csv": b"Id,Name\n" + b"0" * (1024 * 1024)})
    assert len(bomb) < 64 * 1024
    resp = post_zip(client, org, "salesforce", bomb)
    assert resp.status_code == 413, resp.json


def test_two_live_rows_cannot_share_an_external_pair(client, org):
    body = {"name": "One", "external_system": "legacy", "external_id": "X-1"}
    first = client.post("/api/v1/crm/accounts", headers=org["headers"], json=body)
    assert first.status_code == 201
    second = client.post("/api/v1/crm/accounts", headers=org["headers"], json=body)
    assert second.status_code == 409 and second.json["error"]["code"] == "duplicate_external_id"
    other = client.post("/api/v1/crm/accounts", headers=org["headers"],
                        json={"name": "Two", "external_system": "legacy", "external_id": "X-2"})
    resp = client.patch(f"/api/v1/crm/accounts/{other.json['public_id']}",
                        headers=org["headers"], json={"external_id": "X-1"})
    assert resp.status_code == 409
    assert client.delete(f"/api/v1/crm/accounts/{first.json['public_id']}",
                         headers=org["headers"]).status_code == 204
    again = client.post("/api/v1/crm/accounts", headers=org["headers"], json=body)
    assert again.status_code == 201  # only live rows hold the pair


def test_unreadable_files_fail_the_job_before_any_row_is_written(client, org, worker):
    mapping = orjson.dumps({"version": 1, "files": [
        {"file": "accounts.csv", "entity": "accounts", "columns": {"name": "name"}}]})
    cases = {
        "invalid_csv": b'name\nGood\n"never closed\n' + b"x" * 5000,
        "too_many_columns": b"name," + b",".join(b"c%d" % i for i in range(100_000)) + b"\n",
    }
    cases["invalid_csv "] = bytes(range(256)) * 64  # binary garbage
    for code, data in cases.items():
        # refused at upload when the header already shows it, else the job fails at once
        resp = post_files(client, org, "csv", {"accounts.csv": data}, mapping)
        if resp.status_code == 422:
            assert code != "invalid_csv", "an unterminated quote shows only while reading"
            assert resp.json["error"]["code"] == "invalid_mapping", resp.json
            continue
        job = finished(client, org, resp)
        assert job["status"] == "failed", (code, job)
        assert job["error"]["code"] == code.strip(), (code, job["error"])
    assert scalar(org, "SELECT count(*) FROM crm.accounts WHERE organization_id = :org") == 0


def test_ragged_and_nul_rows_are_row_errors_and_the_rest_go_on(client, org, worker):
    mapping = orjson.dumps({"version": 1, "files": [
        {"file": "accounts.csv", "entity": "accounts", "columns": {"name": "name",
                                                                    "web": "website"}}]})
    data = b"name,web\nFine,a.test\nRagged\nNul\x00Co,b.test\nAlso fine,c.test\n"
    job = finished(client, org, post_files(client, org, "csv", {"accounts.csv": data}, mapping))
    assert counts(job, "accounts")["created"] == 2
    rows_with_errors = sorted(e["row"] for e in errors_of(client, org, job["id"]))
    assert rows_with_errors == [3, 4]


def test_error_downloads_say_which_file_and_row(client, org, worker):
    job = _import(client, org)
    resp = client.get(f"/api/v1/crm/jobs/{job['id']}/errors?format=csv", headers=org["headers"])
    table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert {(r["file"], r["row"]) for r in table} == {("contacts-2025.csv", "4"),
                                                       ("deals.csv", "4")}
    lines = client.get(f"/api/v1/crm/jobs/{job['id']}/errors?format=jsonl",
                       headers=org["headers"]).data.splitlines()
    assert sorted(orjson.loads(line)["row"] for line in lines) == [4, 4]
