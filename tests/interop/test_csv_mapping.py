"""The CSV mapping document: parsing, every problem reported at once, header checks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.interop.files import DirectorySourceFiles
from shared.interop.mapping import (
    MappingInvalid,
    ReferenceSpec,
    ValueSpec,
    check_headers,
    parse_mapping,
)

LEGACY = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "csv" / "legacy"
UPLOADED = ["accounts.csv", "deals.csv", "contacts-east.csv", "contacts-west.csv",
            "activities.csv", "tasks.csv", "notes.txt", "mapping.json"]


def _problems(raw, file_names=None) -> dict[str, str]:
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(raw, file_names)
    return {p["path"]: p["message"] for p in caught.value.problems}


def test_the_legacy_mapping_parses_into_file_entries():
    mapping = parse_mapping((LEGACY / "mapping.json").read_bytes(), UPLOADED)
    assert mapping.external_system == "legacy"
    assert mapping.unescape_formulas is False
    accounts, deals, contacts, activities, tasks = mapping.files
    assert (accounts.entity, accounts.id_column) == ("accounts", "account")
    assert accounts.columns["office_location"] == ("custom_fields.office_location",)
    assert accounts.references == (ReferenceSpec("parent_account", "subsidiary_of", "name"),)
    assert deals.values == (ValueSpec("status", "stage", {"Won": "won", "Lost": "lost"}, "open"),)
    assert deals.constants == {"currency": "USD"}
    assert deals.date_format == "%d.%m.%Y"
    assert deals.ignore_unmapped is True and accounts.ignore_unmapped is False
    assert contacts.references[0].by == "domain"
    assert [f.pattern for f in mapping.entries_for("contacts-west.csv")] == ["contacts-*.csv"]
    assert activities.references == (ReferenceSpec("record", "who", "email", "contact"),)
    # `by` defaults to the referenced file's external ids
    assert tasks.references == (ReferenceSpec("record", "deal", "external_id", "opportunity"),)


def test_a_dict_and_bytes_give_the_same_mapping():
    raw = (LEGACY / "mapping.json").read_bytes()
    assert parse_mapping(json.loads(raw)) == parse_mapping(raw)


def test_a_glob_also_matches_files_inside_a_folder_of_the_zip():
    mapping = parse_mapping({"version": 1, "files": [{"file": "contacts-*.csv",
                                                      "entity": "contacts"}]},
                            ["export/contacts-1.csv"])
    assert mapping.files[0].matches("export/contacts-1.csv")
    assert not mapping.files[0].matches("export/accounts.csv")


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    ("\"text\"", "must be a JSON object"),
])
def test_a_document_that_is_no_json_object_is_one_problem(raw, message):
    problems = _problems(raw)
    assert list(problems) == [""]
    assert message in problems[""]


def test_version_must_be_the_number_one():
    entry = {"file": "a.csv", "entity": "accounts"}
    assert parse_mapping({"version": 1, "files": [entry]}).files[0].entity == "accounts"
    for version in (True, "1", 1.5, None):
        assert list(_problems({"version": version, "files": [entry]})) == ["version"]


def test_every_problem_is_listed_with_its_path():
    raw = {
        "version": 2,
        "external_system": "",
        "colums": {},
        "unescape_formulas": "yes",
        "files": [
            {"file": "widgets.csv", "entity": "widgets"},
            {"file": "accounts.csv", "entity": "accounts", "unmapped": "drop",
             "columns": {"account": "name", "sector": "sectr", "x": "custom_fields.",
                         "y": ["name", 3]},
             "references": {"contact_public_id": {"column": "c"},
                            "parent_account_public_id": {"column": "p", "by": "phone"}},
             "values": {"rating": {"column": "r", "map": {}}},
             "constants": {"currency": "USD"},
             "types": {"meta": "yaml"}},
            {"file": "deals.csv", "entity": "opportunities",
             "references": {"account_public_id": {"column": "a", "by": "email"},
                            "contact_public_id": {"by": "name"}},
             "values": {"status": {"column": "s", "map": ["won"]}}},
            {"file": "notes.csv", "entity": "activities",
             "references": {"record_public_id": {"column": "who"}}},
            "accounts.csv",
        ],
    }
    problems = _problems(raw, ["accounts.csv", "deals.csv"])
    assert set(problems) == {
        "version", "external_system", "colums", "unescape_formulas",
        "files[0].file", "files[0].entity",
        "files[1].unmapped", "files[1].columns.sector", "files[1].columns.x",
        "files[1].columns.y", "files[1].references.contact_public_id",
        "files[1].references.parent_account_public_id.by", "files[1].values.rating",
        "files[1].constants.currency", "files[1].types.meta",
        "files[2].references.account_public_id.by", "files[2].references.contact_public_id.by",
        "files[2].references.contact_public_id.column", "files[2].values.status.map",
        "files[3].file", "files[3].references.record_public_id.entity",
        "files[4]"}
    assert "matches none of the uploaded files" in problems["files[0].file"]
    assert "'sectr'" in problems["files[1].columns.sector"]
    assert "contacts cannot be found by name" in problems[
        "files[2].references.contact_public_id.by"]
    assert "must be 1" in problems["version"]


def test_fields_of_the_entity_and_the_bundle_are_all_mappable():
    mapping = parse_mapping({"version": 1, "files": [
        {"file": "a.csv", "entity": "opportunities", "columns": {
            "id": ["public_id", "custom_fields.old_id"], "sys": "external_system",
            "ext": "external_id", "made": "created_at", "gone": "deleted_at",
            "stage": "pipeline_stage_name", "pos": "stage_position",
            "acct": "account_public_id"}},
        {"file": "b.csv", "entity": "activities", "columns": {"kind": "record_type"}}]})
    assert mapping.files[0].columns["id"] == ("public_id", "custom_fields.old_id")
    assert _problems({"version": 1, "files": [
        {"file": "b.csv", "entity": "accounts", "columns": {"kind": "record_type",
                                                            "cf": "custom_fields"}}]}
                     ).keys() == {"files[0].columns.kind", "files[0].columns.cf"}


def test_check_headers_names_each_missing_column(tmp_path):
    (tmp_path / "deals.csv").write_text("id,stage,value\n1,Won,3\n", encoding="utf-8")
    (tmp_path / "people.csv").write_text("Email,Name\na@b.test,A\n", encoding="utf-8")
    mapping = parse_mapping({"version": 1, "files": [
        {"file": "deals.csv", "entity": "opportunities", "id_column": "deal_id",
         "columns": {"value": "amount", "optional_note": "custom_fields.note"},
         "references": {"account_public_id": {"column": "account", "by": "name"}},
         "values": {"status": {"column": "stage", "map": {"Won": "won"}}},
         "types": {"meta": "json"}},
        {"file": "people.csv", "entity": "contacts", "id_column": "email",
         "values": {"title": {"column": "Role", "map": {}}}}]})
    problems = check_headers(mapping, DirectorySourceFiles(tmp_path))
    assert {p["path"]: p["message"] for p in problems} == {
        "files[0].id_column": "column 'deal_id' is not in the header of deals.csv",
        "files[0].references.account_public_id.column":
            "column 'account' is not in the header of deals.csv",
        "files[0].types.meta": "column 'meta' is not in the header of deals.csv",
        "files[1].values.title.column": "column 'Role' is not in the header of people.csv",
    }


def test_check_headers_reads_only_the_header_line(tmp_path):
    body = "".join(f"{i},x\n" for i in range(100)) + "broken,\"unterminated\n"
    (tmp_path / "a.csv").write_text("id,name\n" + body, encoding="utf-8")
    mapping = parse_mapping({"version": 1, "files": [
        {"file": "a.csv", "entity": "accounts", "id_column": "id"}]})
    assert check_headers(mapping, DirectorySourceFiles(tmp_path)) == []


def test_check_headers_reports_a_matched_file_that_is_not_csv(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"\xff\xfe\x00b\x00i\x00n\x00")
    mapping = parse_mapping({"version": 1, "files": [{"file": "*.csv", "entity": "accounts"}]})
    problems = check_headers(mapping, DirectorySourceFiles(tmp_path))
    assert [p["path"] for p in problems] == ["files[0].file"]
    assert "a.csv" in problems[0]["message"]
