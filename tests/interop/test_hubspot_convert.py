"""The HubSpot converter on real-shaped CRM UI exports (tests/fixtures/interop/hubspot/) and on
small exports written here for the cases the samples do not show."""
from __future__ import annotations

import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from shared.interop.files import DirectorySourceFiles
from shared.interop.hubspot import convert
from shared.interop.source import ROW_ERROR, ConversionError, ConvertedRow, Report

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "hubspot"
CONTACTS_HEADER = ('"Record ID","First Name","Last Name","Email","Associated Company IDs (Primary)",'
                   '"Associated Company IDs","Lifecycle Stage"\n')
DEALS_HEADER = ('"Record ID","Deal Name","Deal Stage","Amount","Close Date","Create Date",'
                '"Associated Company IDs","Associated Contact IDs"\n')


def _convert(root: Path) -> tuple[list[ConvertedRow], Report]:
    report = Report()
    return list(convert(DirectorySourceFiles(root), report, {})), report


def _by_id(rows: list[ConvertedRow], entity: str) -> dict[str, dict]:
    return {r.row["external_id"]: r.row for r in rows if r.entity == entity}


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def samples() -> tuple[list[ConvertedRow], Report]:
    return _convert(SAMPLES)


def test_samples_convert_every_record_without_errors(samples):
    rows, report = samples
    assert Counter(r.entity for r in rows) == {"accounts": 50, "contacts": 150,
                                               "opportunities": 50}
    assert [r.row[ROW_ERROR] for r in rows if ROW_ERROR in r.row] == []
    assert report.warnings == []
    assert {r.row["external_system"] for r in rows} == {"hubspot"}


def test_first_company_becomes_an_account_with_its_columns(samples):
    rows, _ = samples
    first = rows[0]
    assert first.entity == "accounts"
    assert first.origin == {"file": "hubspot-crm-exports-all-companies-2024-05-02.csv", "row": 2}
    account = first.row
    assert account["external_id"] == "8100000001"
    assert account["name"] == "Zoonoodle 37"
    assert account["domain"] == "1688.com"
    assert account["phone"] == "1(302)556-4395"
    assert account["employee_count"] == 28549
    assert account["annual_revenue"] == "5117586"
    assert account["created_at"] == "2024-01-15T09:30:00"
    # associations of a company are no parent: kept as exported
    assert "parent_account_external_id" not in account
    assert account["custom_fields"] == {
        "City": "Newark", "Country/Region": "United States", "Company owner": "Sam Sales",
        "Associated Contact IDs": "7702;7724;7729;7775;7815",
        "Associated Deal IDs": "16000000017;16000000038"}


def test_empty_cells_are_left_out_of_custom_fields(samples):
    rows, _ = samples
    account = _by_id(rows, "accounts")["8100000004"]  # no associated deals
    assert "Associated Deal IDs" not in account["custom_fields"]
    contact = _by_id(rows, "contacts")["7701"]
    assert "Lead Status" not in contact["custom_fields"]
    assert contact["custom_fields"]["Lifecycle Stage"] == "Lead"


def test_contact_takes_its_primary_company_as_account(samples):
    rows, _ = samples
    contact = _by_id(rows, "contacts")["7702"]
    assert contact["account_external_id"] == "8100000001"
    assert (contact["first_name"], contact["last_name"]) == ("Bibby", "Cannan")
    assert contact["email"] == "bcannan1@illinois.edu"
    assert contact["title"] == "Physical Therapy Assistant"
    assert "Associated Company IDs (Primary)" not in contact["custom_fields"]


def test_deals_carry_stage_status_date_and_links(samples):
    rows, report = samples
    deals = _by_id(rows, "opportunities")
    first = deals["16000000001"]
    assert first["name"] == "Cape starling"
    assert first["pipeline_stage_name"] == "Decision Maker Bought-In"
    assert first["status"] == "open"
    assert first["close_date"] == "2020-12-22"
    assert first["amount"] == "119373.34"
    assert first["account_external_id"] == "8100000032"
    assert first["contact_external_id"] == "7701"
    assert "contact_external_id" not in deals["16000000002"]
    assert deals["16000000016"]["status"] == "lost"
    assert deals["16000000020"]["status"] == "won"
    assert [(s.name, s.kind) for s in report.stages] == [
        ("Decision Maker Bought-In", "open"), ("Contract Sent", "open"),
        ("Qualified To Buy", "open"), ("Appointment Scheduled", "open"),
        ("Presentation Scheduled", "open"), ("Closed Lost", "lost"), ("Closed Won", "won")]


def test_several_associated_companies_take_the_primary_else_the_first(tmp_path):
    _write(tmp_path, "hubspot-contacts.csv", CONTACTS_HEADER
           + '"1","Ana","Ruiz","ana@x.test","82","81;82;83","Lead"\n'
           + '"2","Ben","Ode","ben@x.test","","84; 85","Lead"\n'
           + '"3","Cy","Ng","cy@x.test","","",""\n')
    rows, _ = _convert(tmp_path)
    contacts = _by_id(rows, "contacts")
    assert contacts["1"]["account_external_id"] == "82"
    assert contacts["2"]["account_external_id"] == "84"
    assert "account_external_id" not in contacts["3"]
    # the other associations are not lost
    assert contacts["1"]["custom_fields"]["Associated Company IDs"] == "81;82;83"


def test_stage_labels_and_internal_ids_give_won_and_lost(tmp_path):
    _write(tmp_path, "deals.csv", DEALS_HEADER
           + '"11","Big one","Closed won","10","2021-03-04 00:00","2024-01-15 09:30","5",""\n'
           + '"12","Gone","closedlost","","","","",""\n'
           + '"13","Maybe","Appointment Scheduled","","","","","7;8"\n'
           + '"14","Also won","closedwon","","","","",""\n')
    rows, report = _convert(tmp_path)
    deals = _by_id(rows, "opportunities")
    assert {k: d["status"] for k, d in deals.items()} == {"11": "won", "12": "lost", "13": "open",
                                                          "14": "won"}
    assert deals["11"]["close_date"] == "2021-03-04"
    assert deals["11"]["account_external_id"] == "5"
    assert deals["13"]["contact_external_id"] == "7"
    assert [(s.name, s.kind) for s in report.stages] == [
        ("Closed won", "won"), ("closedlost", "lost"), ("Appointment Scheduled", "open"),
        ("closedwon", "won")]


def test_object_comes_from_headers_in_any_case_or_language(tmp_path):
    _write(tmp_path, "export-1.csv", '"record id","DEAL NAME","deal stage"\n"9","X","Closed Won"\n')
    _write(tmp_path, "export-2.csv", '"ID de registro","Nombre de la empresa"\n"8","Acme"\n')
    _write(tmp_path, "export-3.csv", '"Record ID","Email","Company Name"\n"7","a@b.test","Acme"\n')
    rows, report = _convert(tmp_path)
    assert [(r.entity, r.row["external_id"]) for r in rows] == [
        ("opportunities", "9"), ("accounts", "8"), ("contacts", "7")]
    assert rows[1].row["name"] == "Acme"
    # a contact's own "Company Name" property is not a company
    assert rows[2].row["custom_fields"] == {"Company Name": "Acme"}
    assert report.warnings == []


def test_files_that_are_not_hubspot_exports_are_skipped_with_a_warning(tmp_path):
    _write(tmp_path, "companies.csv", '"Record ID","Company name"\n"1","Acme"\n')
    _write(tmp_path, "readme.txt", "hello")
    _write(tmp_path, "products.csv", '"SKU","Price"\n"A-1","3"\n')
    _write(tmp_path, "deal-notes.csv", '"Deal Name","Note"\n"Big one","call back"\n')
    rows, report = _convert(tmp_path)
    assert [r.row["name"] for r in rows] == ["Acme"]
    assert sorted((w["code"], w["file"]) for w in report.warnings) == [
        ("skipped_file", "deal-notes.csv"), ("skipped_file", "products.csv"),
        ("skipped_file", "readme.txt")]
    assert "Record ID" in next(w["message"] for w in report.warnings
                               if w["file"] == "deal-notes.csv")


def test_an_upload_without_any_hubspot_export_fails(tmp_path):
    _write(tmp_path, "products.csv", '"SKU","Price"\n"A-1","3"\n')
    _write(tmp_path, "deal-notes.csv", '"Deal Name","Note"\n"Big one","call back"\n')
    with pytest.raises(ConversionError) as caught:
        _convert(tmp_path)
    assert caught.value.code == "no_source_files"


def test_ragged_row_and_missing_record_id_are_row_errors(tmp_path):
    _write(tmp_path, "hubspot-contacts.csv", CONTACTS_HEADER
           + '"1","Ana","Ruiz","ana@x.test","82","82","Lead"\n'
           + '"2","Ben","Ode"\n'
           + '"","Cy","Ng","cy@x.test","","",""\n'
           + '"4","Di","Bo","di@x.test","","",""\n')
    rows, _ = _convert(tmp_path)
    assert [r.origin["row"] for r in rows] == [2, 3, 4, 5]
    errors = {r.origin["row"]: r.row[ROW_ERROR] for r in rows if ROW_ERROR in r.row}
    assert errors[3]["code"] == "malformed_row"
    assert "3 cells" in errors[3]["message"]
    assert errors[4]["field"] == "external_id"
    assert set(errors) == {3, 4}


def test_an_unparseable_date_is_a_row_error_on_its_field(tmp_path):
    _write(tmp_path, "deals.csv", DEALS_HEADER + '"1","X","Open","","someday","","",""\n')
    rows, _ = _convert(tmp_path)
    assert rows[0].row[ROW_ERROR]["field"] == "close_date"
    assert rows[0].row[ROW_ERROR]["code"] == "invalid"


def test_a_large_export_converts_in_bounded_memory(tmp_path):
    rows = 20_000  # a 3 MB file: holding it, or its rows, would pass the bound many times
    with open(tmp_path / "hubspot-contacts.csv", "w", encoding="utf-8") as out:
        out.write(CONTACTS_HEADER)
        for i in range(rows):
            out.write(f'"{i}","First {i}","Last {i}","person{i}@example.test","{i % 50}",'
                      f'"{i % 50};{i % 7}","Lead {"x" * 60}"\n')
    report = Report()
    tracemalloc.start()
    try:
        count = sum(1 for _ in convert(DirectorySourceFiles(tmp_path), report, {}))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == rows
    assert peak < 1_500_000
