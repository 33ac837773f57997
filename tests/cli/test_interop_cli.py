"""`import --source`, `export --format csv` and `convert`: the zip the CLI packs, the request
it sends, what it prints about converted rows, and the bundle a local conversion writes.
Server answers come from the scripted server in fakeserver.py."""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from drippulse import cli, interop_inputs
from drippulse.client import DripPulseClient
from shared.interop import registry
from shared.interop.source import (
    ORIGIN,
    ROW_ERROR,
    ConversionError,
    ConvertedRow,
    Report,
    row_error,
)
from tests.cli.fakeserver import FakeServer, Received, job

FLAGS = ["--url", "http://unused", "--token", "dp_test_token"]
MAPPING = {"version": 1, "external_system": "legacy", "files": [
    {"file": "companies.csv", "entity": "accounts", "id_column": "Id",
     "columns": {"Company": "name"}}]}


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    (root / "sub").mkdir(parents=True)
    (root / "Account.csv").write_text("Id,Name\n001,Acme\n")
    (root / "sub" / "Contact.csv").write_text("Id,Email\n003,ann@example.com\n")
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "mapping.json").write_text('{"stale": true}')
    return root


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "my-mapping.json"
    path.write_text(json.dumps(MAPPING))
    return path


def zip_contents(data: bytes | Path) -> dict[str, bytes]:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with zipfile.ZipFile(source) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# ---- packing ------------------------------------------------------------------------------
def test_directory_is_packed_with_relative_names_and_the_mapping_as_mapping_json(
        export_dir, mapping_file):
    with interop_inputs.pack([export_dir], mapping_file) as packed:
        assert packed.temporary
        contents = zip_contents(packed.path)
        zip_path = packed.path
    assert list(contents) == ["mapping.json", "Account.csv", "sub/Contact.csv"], \
        "hidden files are left out and --mapping replaces the directory's mapping.json"
    assert json.loads(contents["mapping.json"]) == MAPPING
    assert contents["sub/Contact.csv"] == (export_dir / "sub" / "Contact.csv").read_bytes()
    assert not zip_path.exists(), "the temporary zip is deleted after the upload"


def test_files_and_zip_members_are_packed_by_name_and_clashes_refused(tmp_path, export_dir):
    extra = tmp_path / "more.zip"
    with zipfile.ZipFile(extra, "w") as archive:
        archive.writestr("Lead.csv", "Id\n00Q1\n")
        archive.writestr("__MACOSX/._Lead.csv", "junk")
    paths = [export_dir / "Account.csv", export_dir / "sub" / "Contact.csv", extra]
    with interop_inputs.pack(paths) as packed:
        assert zip_contents(packed.path) == {"Account.csv": b"Id,Name\n001,Acme\n",
                                             "Contact.csv": b"Id,Email\n003,ann@example.com\n",
                                             "Lead.csv": b"Id\n00Q1\n"}
    (tmp_path / "Account.csv").write_text("Id\n")
    with pytest.raises(interop_inputs.InputError, match="Account.csv"):
        interop_inputs.pack([export_dir / "Account.csv", tmp_path / "Account.csv"])
    with pytest.raises(FileNotFoundError):
        interop_inputs.pack([tmp_path / "missing.csv"])


def test_a_lone_zip_is_uploaded_as_it_is_and_a_mapping_that_is_not_json_is_refused(
        tmp_path, export_dir):
    original = tmp_path / "export.zip"
    with zipfile.ZipFile(original, "w") as archive:
        archive.writestr("Account.csv", "Id,Name\n")
    with interop_inputs.pack([original]) as packed:
        assert packed.path == original and not packed.temporary
    assert original.exists(), "the user's own zip is never deleted"
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1,')
    with pytest.raises(interop_inputs.InputError, match="not valid JSON"):
        interop_inputs.pack([export_dir], broken)


# ---- the upload request -------------------------------------------------------------------
def test_import_source_sends_one_zip_with_source_flags_and_one_idempotency_key(export_dir):
    answers = iter([(503, {"Retry-After": "1"}, {"error": {"code": "busy", "message": "busy"}}),
                    (202, {}, job(source="salesforce", warnings=[]))])
    with FakeServer(lambda req: next(answers)) as server:
        client = DripPulseClient(server.url, "dp_test_token", sleep=lambda _s: None)
        result = client.import_source("salesforce", [export_dir], dry_run=True,
                                      create_stages=True, idempotency_key="idem-7")
    assert result["source"] == "salesforce"
    first, second = server.received
    url = urlsplit(first.path)
    assert url.path == "/api/v1/crm/import"
    assert parse_qs(url.query) == {"source": ["salesforce"], "dry_run": ["true"],
                                   "create_stages": ["true"]}
    for req in (first, second):
        assert req.headers["Content-Type"] == "application/zip"
        assert req.headers["Idempotency-Key"] == "idem-7"
        assert int(req.headers["Content-Length"]) == len(req.body)
        assert "Content-Encoding" not in req.headers, "a zip is not gzipped again"
    assert first.body == second.body, "the retry sends the same zip"
    assert set(zip_contents(first.body)) == {"Account.csv", "sub/Contact.csv", "mapping.json"}


def _job_server(final: dict, errors: list[dict], submitted: dict | None = None):
    def respond(req: Received) -> tuple[int, dict, object]:
        path = urlsplit(req.path).path
        if path == "/api/v1/me":
            return 200, {}, {"organization": {"id": "org-1"}}
        if req.method == "POST" and path == "/api/v1/crm/import":
            return 202, {}, submitted or job(source="csv", warnings=[])
        if path.endswith("/errors"):
            return 200, {}, {"items": errors, "next": None}
        return 200, {}, final
    return respond


def test_cli_import_prints_warnings_and_errors_with_their_file_and_row(
        export_dir, mapping_file, capsys):
    progress = {"accounts": {"total": 2, "processed": 2, "created": 1, "updated": 0,
                             "unchanged": 0, "failed": 1},
                "contacts": {"total": 2, "processed": 2, "created": 1, "updated": 0,
                             "unchanged": 0, "failed": 1}}
    warnings = [{"code": "skipped_file", "message": "not an object this source holds",
                 "file": "Task.csv"},
                {"code": "skipped_column", "message": "kept in custom_fields",
                 "file": "Account.csv", "column": "Rating__c"}]
    errors = [{"entity": "accounts", "index": 1, "field": "name", "code": "invalid",
               "message": "is required", "file": "Accounts.json", "record": 2,
               "referenceId": "AccountRef3"},
              {"entity": "contacts", "index": 0, "field": "email", "code": "invalid",
               "message": "must be an email address", "file": "sub/Contact.csv", "row": 5}]
    final = job(status="completed_with_errors", progress=progress, error_count=2,
                source="csv", warnings=warnings)
    with FakeServer(_job_server(final, errors)) as server:
        code = cli.main(["import", "--source", "csv", str(export_dir), "--mapping",
                         str(mapping_file), "--url", server.url, "--token", "dp_test_token"])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "Task.csv: not an object this source holds" in out
    assert "Account.csv (column Rating__c): kept in custom_fields" in out
    assert "Accounts.json record 2 (AccountRef3): accounts[1] name: is required" in out
    assert "sub/Contact.csv row 5: contacts[0] email: must be an email address" in out
    (upload,) = [r for r in server.received if r.method == "POST"]
    assert "source=csv" in upload.path
    assert json.loads(zip_contents(upload.body)["mapping.json"]) == MAPPING


def test_a_refused_mapping_lists_each_problem_and_exits_1(export_dir, mapping_file, capsys):
    refusal = {"error": {"code": "invalid_mapping", "message": "The mapping is invalid",
                         "details": {"problems": [
                             {"path": "files[0].columns.Company", "message": "unknown field"},
                             {"path": "files[1].file", "message": "matches no file"}]}}}

    def respond(req: Received):
        if req.method == "POST":
            return 422, {}, refusal
        return 200, {}, {}

    with FakeServer(respond) as server:
        code = cli.main(["import", "--source", "csv", str(export_dir), "--mapping",
                         str(mapping_file), "--url", server.url, "--token", "dp_test_token"])
    err = capsys.readouterr().err
    assert code == 1
    assert "files[0].columns.Company: unknown field" in err
    assert "files[1].file: matches no file" in err


@pytest.mark.parametrize("argv", [
    ["import", "--source", "salesforce", "DIR", "--mapping", "MAP"],
    ["import", "DIR", "--mapping", "MAP"],
    ["import", "a.json", "b.json"],
    ["convert", "--source", "hubspot", "DIR", "--mapping", "MAP", "-o", "out.json"],
    ["export", "-o", "out.zip", "--format", "csv", "--gzip"],
])
def test_options_that_do_not_go_together_are_usage_errors(argv, export_dir, mapping_file,
                                                          capsys):
    argv = [str(export_dir) if a == "DIR" else str(mapping_file) if a == "MAP" else a
            for a in argv]
    with pytest.raises(SystemExit) as stopped:
        cli.main([*argv, *FLAGS])
    assert stopped.value.code == 2
    assert "usage:" in capsys.readouterr().err


# ---- CSV export ---------------------------------------------------------------------------
def test_export_format_csv_writes_the_zip_the_server_sent(tmp_path, capsys):
    served = io.BytesIO()
    with zipfile.ZipFile(served, "w") as archive:
        archive.writestr("accounts.csv", "public_id,name\nacct_1,Acme\n")
        archive.writestr("mapping.json", json.dumps(MAPPING))
    done = job(kind="export", status="succeeded",
               links={"download": "/api/v1/crm/jobs/job-1/download"})

    def respond(req: Received):
        if req.method == "POST":
            return 202, {}, job(kind="export")
        if req.path.endswith("/download"):
            return 200, {"Content-Type": "application/zip"}, served.getvalue()
        return 200, {}, done

    dest = tmp_path / "crm.zip"
    with FakeServer(respond) as server:
        code = cli.main(["export", "-o", str(dest), "--format", "csv", "--url", server.url,
                         "--token", "dp_test_token"])
    assert code == 0
    assert dest.read_bytes() == served.getvalue()
    (post,) = [r for r in server.received if r.method == "POST"]
    assert json.loads(post.body) == {"format": "csv"}
    assert "zip of CSV files" in capsys.readouterr().out


# ---- local convert ------------------------------------------------------------------------
CALLS: list[dict] = []


def fake_convert(files, report: Report, options: dict) -> Iterator[ConvertedRow]:
    """Reads the named files for real, like a converter: one account per line of Account.csv
    (a line without a name is refused) and one contact per line of sub/Contact.csv."""
    CALLS.append({"names": files.names(), "options": options})
    with files.open("Account.csv") as stream:
        lines = stream.read().decode().splitlines()[1:]
    for number, line in enumerate(lines, start=2):
        external_id, name = line.split(",")
        row = {"external_system": "sf", "external_id": external_id, "name": name or None,
               ORIGIN: {"file": "Account.csv", "row": number}}
        if not name:
            row_error(row, "name", "required", "the account has no name")
        yield ConvertedRow("accounts", row, {"file": "Account.csv", "row": number})
    yield ConvertedRow("contacts", {"external_system": "sf", "external_id": "003",
                                    "account_external_id": "001"},
                       {"file": "Contacts.json", "record": 0, "referenceId": "ContactRef1"})
    report.warn("skipped_file", "not a file this source holds", file="notes.txt")
    report.stage("Closed Won", "won")


@pytest.fixture
def fake_converter(monkeypatch):
    CALLS.clear()
    for source in ("salesforce", "csv"):
        monkeypatch.setitem(registry.CONVERTERS, source, f"{__name__}:fake_convert")
    return CALLS


def test_convert_writes_a_valid_bundle_without_the_refused_rows(
        export_dir, tmp_path, fake_converter, capsys):
    (export_dir / "Account.csv").write_text("Id,Name\n001,Acme\n002,\n004,Globex\n")
    out, errors_out = tmp_path / "bundle.json", tmp_path / "errors.jsonl"
    code = cli.main(["convert", "--source", "salesforce", str(export_dir), "-o", str(out),
                     "--errors-out", str(errors_out)])
    captured = capsys.readouterr()
    assert code == 2, "rows were left out"
    bundle = json.loads(out.read_text())
    assert bundle["version"] == 1
    assert [a["external_id"] for a in bundle["accounts"]] == ["001", "004"]
    assert bundle["contacts"] == [{"external_system": "sf", "external_id": "003",
                                   "account_external_id": "001"}]
    assert bundle["opportunities"] == bundle["leads"] == bundle["activities"] == []
    assert "\\u0000" not in out.read_text() and "\x00" not in out.read_text()
    assert "Account.csv row 3: accounts name: the account has no name" in captured.err
    assert "notes.txt: not a file this source holds" in captured.err
    assert "accounts 2, contacts 1" in captured.out and "1 row with errors" in captured.out
    (refused,) = [json.loads(line) for line in errors_out.read_text().splitlines()]
    assert refused["file"] == "Account.csv" and refused["row"] == 3
    assert refused["code"] == "required"
    assert fake_converter[0]["names"] == ["Account.csv", "mapping.json", "sub/Contact.csv"]


def test_convert_csv_passes_the_mapping_as_an_option_not_as_a_file(
        export_dir, mapping_file, tmp_path, fake_converter):
    out = tmp_path / "bundle.json"
    assert cli.main(["convert", "--source", "csv", str(export_dir), "--mapping",
                     str(mapping_file), "-o", str(out)]) == 0
    (call,) = fake_converter
    assert call["options"] == {"mapping": MAPPING}
    assert call["names"] == ["Account.csv", "sub/Contact.csv"]


def test_an_export_that_cannot_be_converted_exits_1_and_writes_no_bundle(
        monkeypatch, export_dir, tmp_path, capsys):
    def refuse(files, report, options):
        raise ConversionError("no_source_files", "no file of a Salesforce export")
        yield  # a generator, like every converter

    monkeypatch.setattr(registry, "converter_for", lambda source: refuse)
    out = tmp_path / "bundle.json"
    assert cli.main(["convert", "--source", "salesforce", str(export_dir), "-o", str(out)]) == 1
    assert "no file of a Salesforce export (no_source_files)" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_convert_with_the_real_csv_converter(tmp_path, capsys):
    source = tmp_path / "legacy"
    source.mkdir()
    (source / "companies.csv").write_text("Id,Company\nA1,Acme\nA2,Globex,extra\nA3,Initech\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    out = tmp_path / "bundle.json"
    code = cli.main(["convert", "--source", "csv", str(source), "--mapping", str(mapping),
                     "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    accounts = json.loads(out.read_text())["accounts"]
    assert [(a["external_id"], a["name"]) for a in accounts] == [("A1", "Acme"),
                                                                 ("A3", "Initech")]
    assert all(a["external_system"] == "legacy" for a in accounts)
    assert "companies.csv row 3" in captured.err
    assert ROW_ERROR not in out.read_text()


# ---- against a real server and worker ------------------------------------------------------
@pytest.mark.usefixtures("worker")
def test_csv_export_imports_through_the_cli_and_exports_as_csv(api_server, org, tmp_path,
                                                               capsys):
    source = tmp_path / "legacy"
    source.mkdir()
    (source / "companies.csv").write_text("Id,Company\nA1,Acme\nA2,Globex,extra\nA3,Initech\n")
    (source / "notes.txt").write_text("not data")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    flags = ["--url", api_server, "--token", org["api_key"]]
    code = cli.main(["import", "--source", "csv", str(source), "--mapping", str(mapping),
                     *flags])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "companies.csv row 3: accounts" in out, "the refused row names its file and row"
    assert "notes.txt" in out, "the skipped file is a warning"
    assert [line.split()[:2] for line in out.splitlines()
            if line.startswith("accounts")] == [["accounts", "2"]]

    dest = tmp_path / "crm.zip"
    assert cli.main(["export", "-o", str(dest), "--format", "csv", *flags]) == 0
    capsys.readouterr()
    exported = {name.rsplit("/", 1)[-1]: data for name, data in zip_contents(dest).items()}
    accounts_csv = exported["accounts.csv"].decode()
    assert "Acme" in accounts_csv and "Initech" in accounts_csv
    assert "Globex" not in accounts_csv


def test_convert_a_salesforce_tree_export_with_the_real_converter(tmp_path, capsys):
    fixture = Path(__file__).parents[1] / "fixtures" / "interop" / "salesforce-tree"
    out = tmp_path / "bundle.json"
    assert cli.main(["convert", "--source", "salesforce", str(fixture), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    bundle = json.loads(out.read_text())
    assert {k: len(v) for k, v in bundle.items() if k != "version"} == {
        "accounts": 50, "contacts": 150, "opportunities": 50, "leads": 0, "activities": 0}
    account_ids = {a["external_id"] for a in bundle["accounts"]}
    assert {c["account_external_id"] for c in bundle["contacts"]} <= account_ids
    assert "accounts 50, contacts 150, opportunities 50" in captured.out
    assert "LICENSE.md" in captured.err, "a file the converter does not read is a warning"
