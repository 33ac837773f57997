"""import/export/jobs through a real API server and a real worker, as a user runs them."""
from __future__ import annotations

import gzip
import json

import pytest
import requests

from drippulse import cli
from drippulse.client import DripPulseClient
from shared.services import demo
from tests.cli.conftest import run_cli

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "sample.json"
    with path.open("w") as out:
        counts = demo.write_sample_bundle(out, scale=2, seed=7)
    return path, counts


def _bundle_without_stamp(bundle: dict) -> dict:
    return {k: v for k, v in bundle.items() if k != "exported_at"}


def test_import_shows_progress_and_exits_0_then_reimport_changes_nothing(
        api_server, settings, org, sample, capsys):
    path, counts = sample
    env = {"DRIPPULSE_URL": api_server, "DRIPPULSE_TOKEN": org["api_key"]}
    first = run_cli(settings, "import", str(path), **env)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "uploading" in first.stderr and "succeeded" in first.stderr
    assert "created" in first.stdout and "total" in first.stdout
    table = {line.split()[0]: line.split()[1:] for line in first.stdout.splitlines()
             if line.split() and line.split()[0] in counts}
    assert {name: int(cells[0].replace(",", "")) for name, cells in table.items()} == counts

    assert cli.main(["import", str(path), "--json", "--url", api_server,
                     "--token", org["api_key"]]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["status"] == "succeeded"
    assert {name: c["unchanged"] for name, c in job["progress"].items() if c.get("total")} \
        == counts


def test_rows_with_errors_exit_2_and_errors_out_lists_them(api_server, org, tmp_path, capsys):
    bundle = {"version": 1, "accounts": [
        {"public_id": "acct_cli_ok_1", "name": "Fine Ltd"},
        {"public_id": "acct_cli_bad_1", "name": None},
        {"public_id": "acct_cli_ok_2", "name": "Also Fine", "employee_count": "many"},
    ], "contacts": [{"public_id": "cnt_cli_bad_1", "email": "not-an-email"}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    errors_out = tmp_path / "errors.jsonl"
    code = cli.main(["import", str(path), "--errors-out", str(errors_out),
                     "--url", api_server, "--token", org["api_key"]])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "completed_with_errors" in out and "first errors" in out
    errors = [json.loads(line) for line in errors_out.read_text().splitlines()]
    assert {e.get("public_id") for e in errors} >= {"acct_cli_bad_1", "cnt_cli_bad_1"}
    assert all(e.get("message") for e in errors)


def test_export_download_matches_get_export(api_server, org, tmp_path, capsys, sample):
    client = DripPulseClient(api_server, org["api_key"])
    client.wait_for_job(client.submit_import(sample[0])["id"])
    plain, packed = tmp_path / "backup.json", tmp_path / "backup.json.gz"
    for dest in (plain, packed):
        assert cli.main(["export", "-o", str(dest), "--json", "--url", api_server,
                         "--token", org["api_key"]]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["status"] == "succeeded" and result["output"]["bytes"] > 0
    direct = requests.get(f"{api_server}/api/v1/crm/export", headers=org["headers"],
                          timeout=30).json()
    for data in (json.loads(plain.read_text()), json.loads(gzip.decompress(packed.read_bytes()))):
        assert _bundle_without_stamp(data) == _bundle_without_stamp(direct)
    assert len(direct["accounts"]) == sample[1]["accounts"]


def test_same_idempotency_key_gives_the_same_job(api_server, org, sample):
    client = DripPulseClient(api_server, org["api_key"])
    first = client.submit_import(sample[0], idempotency_key="cli-idem-1")
    second = client.submit_import(sample[0], idempotency_key="cli-idem-1")
    assert first["id"] == second["id"]
    client.wait_for_job(first["id"])
    assert [j["id"] for j in client.iter_jobs(kind="import")] == [first["id"]]


def test_dry_run_and_jobs_commands(api_server, org, sample, capsys):
    flags = ["--url", api_server, "--token", org["api_key"]]
    assert cli.main(["import", str(sample[0]), "--dry-run", "--json", *flags]) == 0
    job = json.loads(capsys.readouterr().out)
    direct = requests.get(f"{api_server}/api/v1/crm/export", headers=org["headers"],
                          timeout=30).json()
    assert direct.get("accounts", []) == [], "a dry run writes nothing"

    assert cli.main(["jobs", "list", "--json", *flags]) == 0
    listed = json.loads(capsys.readouterr().out)["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert cli.main(["jobs", "show", job["id"], *flags]) == 0
    assert job["id"] in capsys.readouterr().out
    assert cli.main(["jobs", "errors", job["id"], "--json", *flags]) == 0
    assert json.loads(capsys.readouterr().out) == {"items": []}
    assert cli.main(["jobs", "cancel", job["id"], *flags]) == 1, "a finished job stays finished"
    assert "409 conflict" in capsys.readouterr().err
    assert cli.main(["jobs", "show", "00000000-0000-0000-0000-000000000000", *flags]) == 1
    assert "not_found" in capsys.readouterr().err
