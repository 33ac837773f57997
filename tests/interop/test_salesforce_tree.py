"""Salesforce sObject tree exports (`sf data export tree`) converted to bundle rows."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.interop.files import DirectorySourceFiles
from shared.interop.salesforce import convert
from shared.interop.source import ROW_ERROR, ConversionError, ConvertedRow, Report

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "salesforce-tree"


def _convert(root: Path) -> tuple[list[ConvertedRow], Report]:
    report = Report()
    return list(convert(DirectorySourceFiles(root), report, {})), report


def _by_ref(rows: list[ConvertedRow]) -> dict[str, ConvertedRow]:
    return {r.row["external_id"]: r for r in rows}


def _write(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content), encoding="utf-8")


def _record(sobject: str, ref: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": sobject, "referenceId": ref}, **fields}


def test_the_sample_converts_every_record() -> None:
    rows, report = _convert(SAMPLES)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.entity] = counts.get(r.entity, 0) + 1
        assert r.row["external_system"] == "salesforce"
        assert r.row["external_id"] == r.origin["referenceId"]
        assert ROW_ERROR not in r.row
    assert counts == {"accounts": 50, "contacts": 150, "opportunities": 50}
    assert {"code": "skipped_file", "file": "LICENSE.md"}.items() <= report.warnings[0].items()


def test_account_fields_are_mapped_and_the_rest_kept_as_custom_fields() -> None:
    rows, _ = _convert(SAMPLES)
    first = _by_ref(rows)["AccountRef1"]
    assert first.origin == {"file": "Accounts.json", "record": 0, "referenceId": "AccountRef1"}
    row = first.row
    assert row["name"] == "Zoonoodle 37"
    assert row["phone"] == "1(302)556-4395"
    assert row["employee_count"] == 28549
    assert row["annual_revenue"] == "5117586"
    assert row["domain"] == "1688.com"  # from the website's host
    assert row["industry"] == "n/a"
    assert row["custom_fields"]["fax"] == "1(256)771-8962"
    assert row["custom_fields"]["billingcity"] == "Newark"
    assert row["custom_fields"]["type"] == "Customer"
    assert "attributes" not in row["custom_fields"]


def test_at_references_become_external_ids_of_the_named_records() -> None:
    rows, _ = _convert(SAMPLES)
    by_ref = _by_ref(rows)
    assert by_ref["ContactRef1"].row["account_external_id"] == "AccountRef10"
    assert by_ref["ContactRef2"].row["account_external_id"] == "AccountRef1"
    opportunity = by_ref["OpportunityRef1"].row
    assert opportunity["account_external_id"] == "AccountRef32"
    assert opportunity["close_date"] == "2020-12-22"  # the date of 2020-12-22T21:16:01Z
    assert opportunity["amount"] == "119373.34"
    accounts = {r.row["external_id"] for r in rows if r.entity == "accounts"}
    for r in rows:
        if r.entity != "accounts":
            assert r.row["account_external_id"] in accounts


def test_hostile_strings_pass_through_unchanged() -> None:
    source = json.loads((SAMPLES / "Opportunities.json").read_text(encoding="utf-8"))["records"]
    rows, _ = _convert(SAMPLES)
    by_ref = _by_ref(rows)
    for record in source:
        row = by_ref[record["attributes"]["referenceId"]].row
        assert row["custom_fields"]["description"] == record["description"]
        assert row["name"] == record["name"]


def test_stages_come_from_the_standard_picklist_in_order_of_appearance() -> None:
    source = json.loads((SAMPLES / "Opportunities.json").read_text(encoding="utf-8"))["records"]
    first_seen = list(dict.fromkeys(r["StageName"] for r in source))
    rows, report = _convert(SAMPLES)
    assert [s.name for s in report.stages] == first_seen
    kinds = {s.name: s.kind for s in report.stages}
    assert kinds["Closed Lost"] == "lost"
    assert kinds["Closed/Won"] == "open"  # not the standard "Closed Won": taken as open...
    assumed = {w["message"] for w in report.warnings if w["code"] == "stage_meaning_assumed"}
    assert any("'Closed/Won'" in m for m in assumed)  # ...and the user is told
    assert any("'Assigned dynamically'" in m for m in assumed)
    statuses = {r.row["pipeline_stage_name"]: r.row["status"] for r in rows
                if r.entity == "opportunities"}
    assert statuses["Closed Lost"] == "lost"
    assert statuses["Value Proposition"] == "open"


@pytest.fixture
def nested_tree(tmp_path: Path) -> Path:
    """A plan naming two Account files (in the opposite of name order), Contacts and an
    Opportunity (with a Task) nested under accounts, a ParentId pointing forward into the second
    file, and a JSON file the plan does not name."""
    _write(tmp_path / "export-plan.json", [
        {"sobject": "Account", "saveRefs": True, "resolveRefs": True,
         "files": ["b-accounts.json", "a-accounts.json"]},
        {"sobject": "Lead", "files": ["missing-leads.json"]},
    ])
    _write(tmp_path / "b-accounts.json", {"records": [
        _record("Account", "AcmeRef", Name="Acme", ParentId="@HoldingRef", Website="www.acme.io",
                Contacts={"records": [
                    _record("Contact", "AdaRef", FirstName="Ada", LastName="Lovelace"),
                    _record("Contact", "BobRef", LastName="Bob", Email="bob@acme.io"),
                ]},
                Opportunities={"records": [
                    _record("Opportunity", "DealRef", Name="Big deal", StageName="Closed Won",
                            CloseDate="2024-05-01", Amount=1250.5,
                            Tasks={"records": [_record("Task", "CallRef", Subject="Call",
                                                       TaskSubtype="Call")]}),
                ]}),
    ]})
    _write(tmp_path / "a-accounts.json", {"records": [
        _record("Account", "HoldingRef", Name="Acme Holding", Rating__c="Hot"),
    ]})
    _write(tmp_path / "stray.json", {"records": [_record("Account", "StrayRef", Name="Stray")]})
    return tmp_path


def test_a_plan_gives_the_files_and_their_order(nested_tree: Path) -> None:
    rows, report = _convert(nested_tree)
    files = [r.origin["file"] for r in rows]
    assert files.index("a-accounts.json") > files.index("b-accounts.json")
    assert "stray.json" not in files
    skipped = [w for w in report.warnings if w["code"] == "skipped_file"]
    assert [w["file"] for w in skipped] == ["stray.json"]
    assert [w["file"] for w in report.warnings if w["code"] == "missing_file"] == \
        ["missing-leads.json"]


def test_nested_children_refer_to_their_parent(nested_tree: Path) -> None:
    rows, _ = _convert(nested_tree)
    by_ref = _by_ref(rows)
    assert by_ref["AcmeRef"].row["parent_account_external_id"] == "HoldingRef"  # forward
    assert by_ref["AcmeRef"].row["domain"] == "acme.io"
    for ref in ("AdaRef", "BobRef"):
        assert by_ref[ref].entity == "contacts"
        assert by_ref[ref].row["account_external_id"] == "AcmeRef"
        assert "Contacts" not in by_ref["AcmeRef"].row["custom_fields"]
    assert by_ref["BobRef"].origin == {"file": "b-accounts.json", "record": 0,
                                       "referenceId": "BobRef"}
    deal = by_ref["DealRef"].row
    assert (deal["account_external_id"], deal["status"], deal["amount"]) == \
        ("AcmeRef", "won", "1250.5")
    call = by_ref["CallRef"].row
    assert (call["type"], call["record_type"], call["record_external_id"]) == \
        ("call", "opportunity", "DealRef")
    assert by_ref["HoldingRef"].row["custom_fields"] == {"Rating__c": "Hot"}


def test_without_a_plan_every_json_file_is_read_by_record_type(tmp_path: Path) -> None:
    _write(tmp_path / "2-people.json", {"records": [
        _record("Contact", "C1", LastName="Lee", AccountId="@A1"),
        _record("Case", "Case1", Subject="Broken"),
        _record("Case", "Case2", Subject="Still broken"),
        _record("Lead", "L1", LastName="Kim", Company="Kim Co", Status="Open", IsConverted=False),
    ]})
    _write(tmp_path / "1-companies.json", {"records": [_record("account", "A1", name="Acme")]})
    (tmp_path / "notes.txt").write_text("exported by hand", encoding="utf-8")
    rows, report = _convert(tmp_path)
    assert [(r.entity, r.row["external_id"]) for r in rows] == \
        [("accounts", "A1"), ("contacts", "C1"), ("leads", "L1")]
    assert rows[2].row["custom_fields"] == {"IsConverted": False}
    assert [(w["code"], w.get("object")) for w in report.warnings] == \
        [("skipped_file", None), ("skipped_object", "Case")]


def test_a_task_on_an_object_we_do_not_import_is_a_row_error(tmp_path: Path) -> None:
    _write(tmp_path / "tasks.json", {"records": [
        _record("Task", "T1", Subject="About a case", WhatId="@CaseRef1"),
        _record("Task", "T2", Subject="Floating"),
    ]})
    rows, _ = _convert(tmp_path)
    error = rows[0].row[ROW_ERROR]
    assert error["code"] == "unsupported_reference" and "Case" in error["message"]
    assert ROW_ERROR not in rows[1].row and "record_type" not in rows[1].row


def test_a_record_without_reference_id_is_reported(tmp_path: Path) -> None:
    _write(tmp_path / "accounts.json", {"records": [{"attributes": {"type": "Account"},
                                                     "Name": "No ref"}]})
    rows, _ = _convert(tmp_path)
    assert rows[0].row[ROW_ERROR]["code"] == "missing_id"


def test_broken_json_fails_the_conversion(tmp_path: Path) -> None:
    (tmp_path / "Accounts.json").write_text('{"records": [{"attributes": ', encoding="utf-8")
    with pytest.raises(ConversionError) as caught:
        _convert(tmp_path)
    assert caught.value.code == "invalid_json"


def test_an_upload_without_salesforce_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hello", encoding="utf-8")
    with pytest.raises(ConversionError) as caught:
        _convert(tmp_path)
    assert caught.value.code == "no_source_files"
    assert "README.md" in caught.value.message
