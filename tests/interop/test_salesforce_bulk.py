"""Salesforce Bulk API 2.0 / Data Loader CSV exports converted to bundle rows."""
from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import pytest

from shared.interop.files import DirectorySourceFiles, ZipSourceFiles
from shared.interop.salesforce import convert
from shared.interop.source import ROW_ERROR, ConversionError, ConvertedRow, Report

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "salesforce-bulk"
ENTITY_OF_FILE = {"Account.csv": "accounts", "Contact.csv": "contacts",
                  "Opportunity.csv": "opportunities", "Lead.csv": "leads",
                  "Task.csv": "activities", "Event.csv": "activities"}


def _convert(root: Path, files: list[Path] | None = None) -> tuple[list[ConvertedRow], Report]:
    report = Report()
    return list(convert(DirectorySourceFiles(root, files), report, {})), report


def _by_id(rows: list[ConvertedRow]) -> dict[str, dict]:
    return {r.row["external_id"]: r.row for r in rows}


def _sample_rows(name: str) -> list[dict[str, str]]:
    with open(SAMPLES / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write_csv(path: Path, header: list[str], *rows: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(rows)


def test_every_row_of_every_file_is_converted() -> None:
    rows, report = _convert(SAMPLES)
    for name, entity in ENTITY_OF_FILE.items():
        from_file = [r for r in rows if r.origin["file"] == name]
        assert len(from_file) == len(_sample_rows(name)) > 0
        assert {r.entity for r in from_file} == {entity}
        # the row number a spreadsheet shows: the header is row 1 (Task.csv has a 2-line cell,
        # so its rows are counted as records, not lines)
        assert from_file[0].origin["row"] == 2
    for r in rows:
        assert r.row["external_system"] == "salesforce"
        assert len(r.row["external_id"]) == 18
        assert ROW_ERROR not in r.row
    assert not any(r.origin["file"] == "OpportunityStage.csv" for r in rows)
    assert {w["code"] for w in report.warnings} == {"stage_not_in_picklist"}


def test_account_fields_custom_fields_and_parent() -> None:
    rows, _ = _convert(SAMPLES)
    accounts = _by_id(r for r in rows if r.entity == "accounts")
    first = accounts["0018d0000000001AAA"]
    assert first["name"] == "Zoonoodle 37"
    assert first["employee_count"] == 28549
    assert first["annual_revenue"] == "5117586"
    assert first["domain"] == "1688.com"
    assert first["created_at"] == "2024-01-15T09:30:00.000Z"
    assert first["custom_fields"] == {"Type": "Customer", "BillingCity": "Newark",
                                      "BillingCountry": "United States",
                                      "OwnerId": "0058d0000000002AAA"}
    assert "parent_account_external_id" not in first  # an empty cell is no value
    assert accounts["0018d0000000007AAA"]["parent_account_external_id"] == "0018d0000000006AAA"


def test_opportunity_status_follows_is_won_and_is_closed() -> None:
    rows, _ = _convert(SAMPLES)
    status = {r.row["name"]: (r.row["status"], r.row["pipeline_stage_name"]) for r in rows
              if r.entity == "opportunities"}
    assert status["Cape starling"] == ("open", "Id. Decision Makers")
    assert status["Lizard, mexican beaded"] == ("lost", "Closed Lost")
    assert status["Paradoxure"] == ("won", "Closed/Won")  # not in the picklist: IsWon says
    opportunity = next(r.row for r in rows if r.row.get("name") == "Lizard, mexican beaded")
    assert opportunity["contact_external_id"] == "0038d0000000016AAA"
    assert opportunity["currency"] == "USD" and opportunity["close_date"] == "2021-01-21"
    assert opportunity["custom_fields"]["Probability"] == "0"
    assert "IsWon" not in opportunity["custom_fields"]


def test_stages_are_reported_in_sort_order_wherever_the_stage_file_sits(tmp_path: Path) -> None:
    # the picklist comes last, under a name that says nothing, with its rows shuffled
    stage_rows = _sample_rows("OpportunityStage.csv")
    _write_csv(tmp_path / "zz-picklist.csv", list(stage_rows[0]),
               *[list(r.values()) for r in reversed(stage_rows)])
    shutil.copy(SAMPLES / "Opportunity.csv", tmp_path / "Opportunity.csv")
    rows, report = _convert(tmp_path, [tmp_path / "Opportunity.csv",
                                       tmp_path / "zz-picklist.csv"])
    by_sort_order = [r["MasterLabel"] for r in sorted(stage_rows, key=lambda r: int(r["SortOrder"]))]
    outside = list(dict.fromkeys(r["StageName"] for r in _sample_rows("Opportunity.csv")
                                 if r["StageName"] not in by_sort_order))
    assert outside == ["Assigned dynamically", "Closed/Won"]
    assert [s.name for s in report.stages] == by_sort_order + outside
    assert [s.kind for s in report.stages][-4:] == ["won", "lost", "open", "won"]
    assert len(rows) == 50


def test_the_picklist_decides_over_the_row_flags(tmp_path: Path) -> None:
    _write_csv(tmp_path / "OpportunityStage.csv", ["MasterLabel", "SortOrder", "IsClosed", "IsWon"],
               ["Signed", "1", "true", "true"], ["Talking", "2", "false", "false"])
    _write_csv(tmp_path / "Opportunity.csv", ["Id", "Name", "StageName"],
               ["0068d0000000001AAA", "A", "Signed"], ["0068d0000000002AAA", "B", "Talking"])
    rows, report = _convert(tmp_path)
    assert [r.row["status"] for r in rows] == ["won", "open"]
    assert [(s.name, s.kind) for s in report.stages] == [("Signed", "won"), ("Talking", "open")]


def test_fifteen_character_ids_match_their_eighteen_character_form(tmp_path: Path) -> None:
    _write_csv(tmp_path / "Account.csv", ["Id", "Name"], ["001D000000IqhSL", "Acme"])
    _write_csv(tmp_path / "Contact.csv", ["Id", "LastName", "AccountId"],
               ["003D000000QaBcD", "Lee", "001D000000IqhSLIAZ"],
               ["003D000000QaBcE", "Kim", "001D000000IqhSL"])
    rows, _ = _convert(tmp_path)
    account, *contacts = rows
    assert account.row["external_id"] == "001D000000IqhSLIAZ"
    assert [c.row["account_external_id"] for c in contacts] == ["001D000000IqhSLIAZ"] * 2
    # upper-case letters per 5-character chunk: D at 3 (8: I), none (A), Q B D at 0 2 4 (21: V)
    assert contacts[0].row["external_id"] == "003D000000QaBcDIAV"


def test_tasks_and_events_belong_to_what_or_who() -> None:
    rows, _ = _convert(SAMPLES)
    activities = _by_id(r for r in rows if r.entity == "activities")
    first = activities["00T8d0000000001EAA"]
    assert (first["record_type"], first["record_external_id"]) == \
        ("opportunity", "0068d0000000001AAA")
    assert first["custom_fields"]["WhoId"] == "0038d0000000001AAA"
    assert (first["type"], first["due_at"], first["completed_at"]) == \
        ("email", "2024-03-01T00:00:00Z", "2024-03-01T15:04:05.000Z")
    assert activities["00T8d0000000003EAA"]["record_type"] == "account"
    assert activities["00T8d0000000003EAA"]["type"] == "task"
    assert activities["00T8d0000000004EAA"]["type"] == "call"
    assert "completed_at" not in activities["00T8d0000000004EAA"]
    assert (activities["00T8d0000000005EAA"]["record_type"],
            activities["00T8d0000000005EAA"]["record_external_id"]) == \
        ("contact", "0038d0000000005AAA")
    assert activities["00T8d0000000010EAA"]["record_type"] == "lead"
    assert activities["00T8d0000000007EAA"]["body"] == "Line 1\nLine 2"
    event = activities["00U8d0000000001EAA"]
    assert (event["type"], event["occurred_at"], event["record_type"]) == \
        ("meeting", "2024-04-01T14:00:00.000Z", "opportunity")
    assert event["custom_fields"]["EndDateTime"] == "2024-04-01T15:00:00.000Z"
    assert event["custom_fields"]["IsAllDayEvent"] is False


def test_a_task_pointing_only_at_a_case_is_a_row_error(tmp_path: Path) -> None:
    _write_csv(tmp_path / "Task.csv", ["Id", "WhatId", "WhoId", "Subject"],
               ["00T8d0000000001EAA", "5008d000000AbCd", "", "Case follow-up"],
               ["00T8d0000000002EAA", "5008d000000AbCd", "0038d0000000001AAA", "Call Lee"],
               ["00T8d0000000003EAA", "", "", "Just a note"])
    rows, _ = _convert(tmp_path)
    error = rows[0].row[ROW_ERROR]
    assert (error["code"], error["field"]) == ("unsupported_reference", "WhatId")
    assert "Case" in error["message"]
    assert rows[0].origin == {"file": "Task.csv", "row": 2}
    assert rows[1].row["record_type"] == "contact"
    assert rows[1].row["custom_fields"]["WhatId"] == "5008d000000AbCdAAK"
    assert ROW_ERROR not in rows[2].row and "record_type" not in rows[2].row


def test_custom_fields_keep_their_names_and_booleans(tmp_path: Path) -> None:
    _write_csv(tmp_path / "account_export.csv",
               ["ID", "NAME", "Tier__c", "Is_Partner__c", "Fax", "Id__c"],
               ["0018d0000000001AAA", "Acme", "Gold", "TRUE", "", "0042"])
    rows, _ = _convert(tmp_path)
    row = rows[0].row
    assert (row["external_id"], row["name"]) == ("0018d0000000001AAA", "Acme")
    assert row["custom_fields"] == {"Tier__c": "Gold", "Is_Partner__c": True, "Id__c": "0042"}


def test_converted_leads_are_leads_with_their_conversion_in_custom_fields() -> None:
    rows, _ = _convert(SAMPLES)
    leads = _by_id(r for r in rows if r.entity == "leads")
    converted = [lead for lead in leads.values() if lead["custom_fields"]["IsConverted"]]
    assert len(converted) == 2
    lead = leads["00Q8d0000000003EAA"]
    assert lead["status"] == "Closed - Converted"
    assert lead["custom_fields"] == {"IsConverted": True,
                                     "ConvertedAccountId": "0018d0000000003AAA",
                                     "ConvertedContactId": "0038d0000000003AAA"}
    assert leads["00Q8d0000000004EAA"]["source"] == "Phone Inquiry"


def test_objects_we_do_not_import_are_skipped_with_a_warning(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "Lead.csv", tmp_path / "Lead.csv")
    _write_csv(tmp_path / "Case.csv", ["Id", "Subject"], ["5008d000000AbCdAAK", "Broken"])
    _write_csv(tmp_path / "export.csv", ["Id", "Name"], ["0058d0000000002AAA", "A user"])
    _write_csv(tmp_path / "Invoice__c.csv", ["Id", "Name"], ["a018d000000AbCdAAD", "INV-1"])
    _write_csv(tmp_path / "notes.csv", ["What", "When"], ["call", "today"])
    (tmp_path / "README.md").write_text("export of 2024-05-02", encoding="utf-8")
    rows, report = _convert(tmp_path)
    assert {r.entity for r in rows} == {"leads"} and len(rows) == 12
    skipped = {(w["code"], w["file"], w.get("object")) for w in report.warnings}
    assert skipped == {("skipped_object", "Case.csv", "Case"),
                       ("skipped_object", "export.csv", "User"),
                       ("skipped_object", "Invoice__c.csv", "Invoice__c"),
                       ("skipped_file", "notes.csv", None),
                       ("skipped_file", "README.md", None)}


def test_an_object_named_only_by_its_ids_is_read(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "Contact.csv", tmp_path / "export-1.csv")
    rows, _ = _convert(tmp_path)
    assert len(rows) == 150 and {r.entity for r in rows} == {"contacts"}


def test_a_ragged_row_is_a_row_error_and_the_rest_go_on(tmp_path: Path) -> None:
    (tmp_path / "Contact.csv").write_text(
        '"Id","LastName","Email"\n"0038d0000000001AAA","Lee","lee@example.com"\n'
        '"0038d0000000002AAA","Kim"\n"0038d0000000003AAA","Park","park@example.com"\n',
        encoding="utf-8")
    rows, _ = _convert(tmp_path)
    assert [ROW_ERROR in r.row for r in rows] == [False, True, False]
    assert rows[1].row[ROW_ERROR]["code"] == "invalid_csv_row"
    assert rows[1].origin == {"file": "Contact.csv", "row": 3}
    assert rows[2].row["email"] == "park@example.com"


def test_only_unreadable_objects_is_no_salesforce_upload(tmp_path: Path) -> None:
    _write_csv(tmp_path / "Case.csv", ["Id", "Subject"], ["5008d000000AbCdAAK", "Broken"])
    with pytest.raises(ConversionError) as caught:
        _convert(tmp_path)
    assert caught.value.code == "no_source_files"
    assert "Case" in caught.value.message


def test_a_zip_holding_both_export_shapes_converts_both(tmp_path: Path) -> None:
    tree = SAMPLES.parent / "salesforce-tree"
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for path in [*SAMPLES.iterdir(), *tree.iterdir()]:
            archive.write(path, f"{path.parent.name}/{path.name}")
    files = ZipSourceFiles(upload, max_inflated=10 * 1024 * 1024)
    try:
        rows = list(convert(files, Report(), {}))
    finally:
        files.close()
    systems = {r.row["external_id"][:3] if r.origin["file"].endswith(".csv") else "tree"
               for r in rows}
    assert len(rows) == (50 + 150 + 50 + 12 + 20 + 5) + (50 + 150 + 50)
    assert systems == {"001", "003", "006", "00Q", "00T", "00U", "tree"}


def test_an_all_day_event_happens_at_midnight_of_its_date(tmp_path: Path) -> None:
    _write_csv(tmp_path / "Event.csv", ["Id", "WhoId", "Subject", "ActivityDate", "IsAllDayEvent"],
               ["00U8d0000000001EAA", "00Q8d0000000001EAA", "Offsite", "2024-06-03", "true"])
    [event] = _convert(tmp_path)[0]
    assert (event.row["type"], event.row["occurred_at"]) == ("meeting", "2024-06-03T00:00:00Z")
    assert (event.row["record_type"], event.row["record_external_id"]) == \
        ("lead", "00Q8d0000000001EAA")
