"""`?source=csv`: CSV files plus a mapping turned into bundle rows."""
from __future__ import annotations

import json
import tracemalloc
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from shared.interop.csv_mapped import convert
from shared.interop.files import DirectorySourceFiles, ZipSourceFiles
from shared.interop.source import ROW_ERROR, ConversionError, ConvertedRow, Report

LEGACY = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "csv" / "legacy"


def _convert(files, options: dict | None = None) -> tuple[list[ConvertedRow], Report]:
    report = Report()
    if isinstance(files, Path):
        files = DirectorySourceFiles(files)
    return list(convert(files, report, options or {})), report


def _one_file(tmp_path: Path, text: str, entry: dict, **top) -> list[ConvertedRow]:
    (tmp_path / "data.csv").write_text(text, encoding="utf-8")
    mapping = {"version": 1, "files": [{"file": "data.csv", **entry}], **top}
    return _convert(tmp_path, {"mapping": mapping})[0]


@pytest.fixture(scope="module")
def legacy() -> tuple[list[ConvertedRow], Report]:
    return _convert(LEGACY)


def _rows(converted: list[ConvertedRow], file: str) -> list[dict]:
    return [r.row for r in converted if r.origin["file"] == file]


def test_the_mapping_in_the_upload_converts_every_matched_file(legacy):
    rows, report = legacy
    assert Counter(r.entity for r in rows) == {"accounts": 3, "contacts": 3,
                                               "opportunities": 3, "activities": 3}
    assert [r for r in rows if ROW_ERROR in r.row] == []
    assert report.warnings == [{"code": "skipped_file", "file": "notes.txt",
                                "message": "notes.txt: no entry of the mapping matches this "
                                           "file"}]


def test_bom_and_semicolons_columns_custom_fields_and_reference_by_name(legacy):
    accounts = _rows(legacy[0], "accounts.csv")
    assert accounts[0] == {
        "external_system": "legacy", "external_id": "Acme Corp", "name": "Acme Corp",
        "industry": "Manufacturing", "employee_count": 120,
        "custom_fields": {"office_location": "Berlin", "founded": "1999"}}
    assert accounts[1]["parent_account_lookup"] == {"by": "name", "value": "Acme Corp"}
    assert "employee_count" not in accounts[1]
    # empty cells: no parent, no custom field key
    assert "parent_account_lookup" not in accounts[0]
    assert "custom_fields" not in accounts[2]


def test_value_maps_constants_dates_and_references_of_deals(legacy):
    rows, report = legacy
    deals = _rows(rows, "deals.csv")
    assert deals[0] == {
        "external_system": "legacy", "external_id": "D-1", "name": "D-1",
        "pipeline_stage_name": "Won", "status": "won", "close_date": "2023-12-31",
        "amount": "1000.50", "currency": "USD",
        "account_lookup": {"by": "name", "value": "Acme Corp"}, "contact_public_id": "cnt_ann"}
    assert deals[1]["status"] == "open"  # no match: the default
    assert deals[2]["status"] == "lost"  # "LOST": matched ignoring case
    assert "account_lookup" not in deals[2] and "contact_public_id" not in deals[2]
    assert [(s.name, s.kind) for s in report.stages] == [("Won", "won"), ("negotiation", "open"),
                                                         ("LOST", "lost")]


def test_a_glob_entry_reads_every_matching_file_with_domain_references(legacy):
    rows, _ = legacy
    contacts = [r for r in rows if r.entity == "contacts"]
    assert [(r.origin["file"], r.row["external_id"]) for r in contacts] == [
        ("contacts-east.csv", "C-1"), ("contacts-east.csv", "C-2"), ("contacts-west.csv", "C-3")]
    assert contacts[0].row["account_lookup"] == {"by": "domain", "value": "acme.test"}
    assert "account_lookup" not in contacts[1].row


def test_activity_records_by_email_and_by_external_id(legacy):
    rows, _ = legacy
    calls = _rows(rows, "activities.csv")
    assert calls[0]["record_type"] == "contact"
    assert calls[0]["record_lookup"] == {"by": "email", "value": "ann@acme.test"}
    assert calls[0]["occurred_at"] == "2024-01-05T10:00:00+00:00"
    assert calls[1]["type"] == "meeting" and calls[1]["occurred_at"] == "2024-01-06T09:00:00"
    assert "record_type" not in calls[1]  # no record named: none set
    task = _rows(rows, "tasks.csv")[0]
    assert (task["record_type"], task["record_external_id"]) == ("opportunity", "D-1")
    assert task["due_at"] == "2024-02-01T12:00:00" and task["type"] == "task"


def test_the_mapping_of_the_options_wins_over_mapping_json(legacy):
    mapping = json.loads((LEGACY / "mapping.json").read_text())
    mapping["external_system"] = "crm2"
    mapping["files"] = mapping["files"][:1]
    rows, report = _convert(LEGACY, {"mapping": mapping})
    assert {r.entity for r in rows} == {"accounts"}
    assert {r.row["external_system"] for r in rows} == {"crm2"}
    assert len(report.warnings) == 6  # every other CSV and notes.txt


def test_files_inside_a_zip_folder_match_by_name(tmp_path):
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for name in ("accounts.csv", "mapping.json"):
            archive.write(LEGACY / name, f"export/{name}")
    mapping = json.loads((LEGACY / "mapping.json").read_text())
    mapping["files"] = mapping["files"][:1]
    files = ZipSourceFiles(upload, 10_000_000)
    rows, _ = _convert(files, {"mapping": mapping})
    assert [r.row["name"] for r in rows] == ["Acme Corp", "Acme Robotics", "Globex"]
    assert rows[0].origin == {"file": "export/accounts.csv", "row": 2}


def test_references_by_external_id_and_public_id_and_empty_cells(tmp_path):
    rows = _one_file(tmp_path, "id,company,owner_contact\n1,A-9,cnt_1\n2,,\n", {
        "entity": "opportunities", "id_column": "id", "columns": {"id": "name"},
        "references": {"account_public_id": {"column": "company"},
                       "contact_public_id": {"column": "owner_contact", "by": "public_id"}}})
    assert rows[0].row["account_external_id"] == "A-9"
    assert rows[0].row["contact_public_id"] == "cnt_1"
    assert rows[0].row["external_system"] == "csv"  # neither the row nor the mapping says
    assert not {"account_external_id", "contact_public_id"} & rows[1].row.keys()


def test_a_row_s_own_external_system_wins_and_a_column_may_set_several_fields(tmp_path):
    rows = _one_file(tmp_path, "sys,ext,email\nhubspot,77,a@b.test\n,78,c@d.test\n", {
        "entity": "contacts", "columns": {"sys": "external_system", "ext": "external_id",
                                          "email": ["email", "custom_fields.login"]}},
        external_system="legacy")
    assert [(r.row["external_system"], r.row["external_id"]) for r in rows] == [
        ("hubspot", "77"), ("legacy", "78")]
    assert rows[0].row["email"] == "a@b.test"
    assert rows[0].row["custom_fields"] == {"login": "a@b.test"}


def test_unmapped_columns_are_dropped_when_ignored(tmp_path):
    rows = _one_file(tmp_path, "name,secret\nAcme,x\n", {
        "entity": "accounts", "columns": {"name": "name"}, "unmapped": "ignore"})
    assert rows[0].row == {"name": "Acme"}  # no external id: no external_system either


def test_a_ragged_row_is_a_row_error_at_its_spreadsheet_row(tmp_path):
    text = 'id,name,note\n1,Acme,"two\nlines"\n2,Globex\n3,Initech,ok\n'
    rows = _one_file(tmp_path, text, {"entity": "accounts", "id_column": "id",
                                      "columns": {"name": "name"}})
    assert [r.origin["row"] for r in rows] == [2, 3, 4]
    error = rows[1].row[ROW_ERROR]
    assert error["code"] == "malformed_row" and "2 cells" in error["message"]
    assert rows[1].row["external_id"] == "2"
    assert ROW_ERROR not in rows[0].row and ROW_ERROR not in rows[2].row
    assert rows[0].row["custom_fields"] == {"note": "two\nlines"}


def test_a_date_that_does_not_parse_is_a_row_error_on_its_field(tmp_path):
    rows = _one_file(tmp_path, "name,closed,made\nA,31.12.2023,2024-01-02\nB,2023-13-45,\n"
                     "C,1.1.2024,yesterday\n", {
                         "entity": "opportunities", "date_format": "%d.%m.%Y",
                         "columns": {"name": "name", "closed": "close_date",
                                     "made": "created_at"}})
    assert (rows[0].row["close_date"], rows[0].row["created_at"]) == ("2023-12-31",
                                                                      "2024-01-02T00:00:00")
    assert rows[1].row[ROW_ERROR]["field"] == "close_date"
    assert rows[1].row[ROW_ERROR]["code"] == "invalid"
    assert rows[2].row["close_date"] == "2024-01-01"
    assert rows[2].row[ROW_ERROR]["field"] == "created_at"


def test_unescape_formulas_strips_the_quote_an_export_added(tmp_path):
    text = "name,note\n'=HYPERLINK(1),'+1\n'hello,'@me\n'-5,''=x\n"
    entry = {"entity": "accounts", "columns": {"name": "name"}}
    rows = _one_file(tmp_path, text, entry, unescape_formulas=True)
    # the export quoted "'=x" once more, so it comes back as it was stored
    assert [(r.row["name"], r.row["custom_fields"]["note"]) for r in rows] == [
        ("=HYPERLINK(1)", "+1"), ("'hello", "@me"), ("-5", "'=x")]
    plain = _one_file(tmp_path, text, entry)
    assert plain[0].row["name"] == "'=HYPERLINK(1)"


def test_json_typed_columns_keep_numbers_objects_and_lists(tmp_path):
    text = ('name,score,tags,extra\nA,42,"[""x"",1]","{""vip"": true}"\nB,,,\n'
            "C,4 2,,\n")
    rows = _one_file(tmp_path, text, {
        "entity": "accounts", "columns": {"name": "name", "extra": "custom_fields.extra"},
        "types": {"score": "json", "tags": "json", "extra": "json"}})
    assert rows[0].row["custom_fields"] == {"score": 42, "tags": ["x", 1], "extra": {"vip": True}}
    assert "custom_fields" not in rows[1].row
    error = rows[2].row[ROW_ERROR]
    assert error["code"] == "invalid" and "'score'" in error["message"]


def test_mapping_problems_fail_before_any_row(tmp_path):
    (tmp_path / "a.csv").write_text("id,name\n1,A\n", encoding="utf-8")
    bad = {"version": 1, "files": [{"file": "a.csv", "entity": "accounts",
                                    "id_column": "account_id"}]}
    with pytest.raises(ConversionError) as caught:
        _convert(tmp_path, {"mapping": bad})
    assert caught.value.code == "invalid_mapping"
    assert "account_id" in caught.value.message
    with pytest.raises(ConversionError) as caught:
        _convert(tmp_path, {"mapping": {"version": 1, "files": [{"file": "b.csv",
                                                                  "entity": "accounts"}]}})
    assert caught.value.code == "invalid_mapping" and "b.csv" in caught.value.message


def test_an_upload_without_mapping_or_without_csv_fails(tmp_path):
    (tmp_path / "a.csv").write_text("id,name\n1,A\n", encoding="utf-8")
    with pytest.raises(ConversionError) as caught:
        _convert(tmp_path)
    assert caught.value.code == "mapping_required"
    only_mapping = tmp_path / "m"
    only_mapping.mkdir()
    (only_mapping / "mapping.json").write_text('{"version": 1, "files": []}', encoding="utf-8")
    with pytest.raises(ConversionError) as caught:
        _convert(only_mapping)
    assert caught.value.code == "no_source_files"


def test_a_large_file_converts_in_bounded_memory(tmp_path):
    rows = 20_000  # a 3 MB file: holding it, or its rows, would pass the bound many times
    with open(tmp_path / "big.csv", "w", encoding="utf-8") as out:
        out.write("id;name;email;note\n")
        for i in range(rows):
            out.write(f"{i};Name {i};person{i}@example.test;{'x' * 100}\n")
    mapping = {"version": 1, "files": [{"file": "*.csv", "entity": "contacts", "id_column": "id",
                                        "columns": {"name": "last_name", "email": "email"}}]}
    tracemalloc.start()
    try:
        count = sum(1 for _ in convert(DirectorySourceFiles(tmp_path), Report(),
                                       {"mapping": mapping}))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == rows
    assert peak < 1_500_000


def test_activities_take_each_rows_record_type_from_an_entity_column(tmp_path):
    rows = _one_file(tmp_path, "subject,kind,target\nCall,contact,cnt_1\nNote,accounts,acct_9\n"
                     "Loose,,\n", {
                         "entity": "activities", "columns": {"subject": "subject"},
                         "unmapped": "ignore",
                         "references": {"record_public_id": {
                             "column": "target", "by": "public_id", "entity_column": "kind"}}})
    assert [(r.row.get("record_type"), r.row.get("record_public_id")) for r in rows] == [
        ("contact", "cnt_1"), ("account", "acct_9"), (None, None)]
