"""The benchmark's inputs (a deterministic bundle, an anchor COPY the schema accepts, a
Salesforce export the converter reads) and tiny runs of each benchmark, whose results — never
their speed — are checked."""
from __future__ import annotations

import hashlib
import uuid

import orjson
import pytest
import sqlalchemy as sa

from bench import baseline
from bench.generate import counts, write_bundle
from drippulse.cli import main as drippulse
from shared import config, db


def test_bundle_is_deterministic_and_mixed_as_specified(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    sizes = write_bundle(a, 1000)
    write_bundle(b, 1000)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert sizes == {"accounts": 100, "contacts": 400, "opportunities": 200, "leads": 100,
                     "activities": 200}
    bundle = orjson.loads(a.read_bytes())
    assert {k: len(bundle[k]) for k in sizes} == sizes
    assert bundle["contacts"][0]["account_public_id"].startswith("acct_")


def test_anchor_copy_loads_every_row_with_valid_references(database_url, org):
    conninfo = sa.engine.make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    org_id = uuid.UUID(org["organization_id"])
    baseline.copy_in(conninfo, org_id, 500)
    with db.tenant_transaction(org_id) as conn:
        stored = {t: conn.execute(sa.text(f"SELECT count(*) FROM crm.{t}")).scalar()
                  for t in counts(500)}
        events = conn.execute(sa.text("SELECT count(*) FROM crm.change_events")).scalar()
    assert stored == counts(500)
    assert events == 500
    out = baseline.copy_out(conninfo, org_id, 500)
    assert out["bytes"] > 0


def test_tenant_anchor_writes_through_row_level_security_in_batches(database_url, org):
    conninfo = sa.engine.make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    org_id = uuid.UUID(org["organization_id"])
    result = baseline.tenant_copy_in(conninfo, org_id, 500, batch_size=64)
    assert result["rows_per_s"] > 0 and result["batch_size"] == 64
    with db.tenant_transaction(org_id) as conn:
        stored = {t: conn.execute(sa.text(f"SELECT count(*) FROM crm.{t}")).scalar()
                  for t in counts(500)}
        # one event per record, each naming its own record (batches continue the numbering)
        matched = conn.execute(sa.text(
            "SELECT count(DISTINCT e.record_id) FROM crm.change_events e WHERE EXISTS ("
            " SELECT 1 FROM crm.accounts r WHERE r.id = e.record_id AND r.public_id = e.public_id"
            " UNION ALL SELECT 1 FROM crm.contacts r WHERE r.id = e.record_id"
            "  AND r.public_id = e.public_id"
            " UNION ALL SELECT 1 FROM crm.opportunities r WHERE r.id = e.record_id"
            "  AND r.public_id = e.public_id"
            " UNION ALL SELECT 1 FROM crm.leads r WHERE r.id = e.record_id"
            "  AND r.public_id = e.public_id"
            " UNION ALL SELECT 1 FROM crm.activities r WHERE r.id = e.record_id"
            "  AND r.public_id = e.public_id)")).scalar()
        events = conn.execute(sa.text("SELECT count(*) FROM crm.change_events")).scalar()
        orphans = conn.execute(sa.text(
            "SELECT count(*) FROM crm.contacts c LEFT JOIN crm.accounts a ON a.id = c.account_id "
            "WHERE c.account_id IS NOT NULL AND a.id IS NULL")).scalar()
    assert stored == counts(500) and events == matched == 500 and orphans == 0
    # the tenant role reads the same rows back through the policy
    assert baseline.copy_out(conninfo, org_id, 500, as_tenant=True)["bytes"] == \
        baseline.copy_out(conninfo, org_id, 500)["bytes"] == \
        baseline.copy_out(conninfo, org_id, 500, parallel_workers=2)["bytes"] > 0


@pytest.mark.slow  # a whole benchmark run: gunicorn, a worker, import and export
def test_benchmark_smoke_run_produces_a_well_formed_result(database_url, settings, tmp_path,
                                                           monkeypatch):
    """A tiny end-to-end run of `drippulse bench`: its result, not its speed, is checked."""
    import json

    from bench.run import run
    from shared import config

    server = sa.engine.make_url(database_url).set(database="postgres").render_as_string(
        hide_password=False)
    monkeypatch.setenv("TEST_DATABASE_URL", server)
    monkeypatch.setenv("TEST_REDIS_URL", settings.redis_url)
    out = tmp_path / "bench.json"
    try:
        result = run(1000, out, profile=False, concurrency=1,
                     settings={"DRIPPULSE_BATCH_SIZE": "250"})
    finally:
        config.set_settings(settings)
    saved = json.loads(out.read_text())
    assert saved["rows"] == 1000 and saved["import"]["status"] == "succeeded"
    # what it ran with, and with it: the tenant anchor writes in the import's batch size
    assert saved["settings"] == {"DRIPPULSE_BATCH_SIZE": "250"}
    assert saved["anchor_tenant_copy_in"]["batch_size"] == 250
    assert saved["export_job"]["status"] == "succeeded"
    for key in ("anchor_copy_in", "anchor_copy_out", "anchor_tenant_copy_in",
                "anchor_tenant_copy_out", "anchor_copy_out_parallel", "get_export"):
        assert saved[key]["rows_per_s"] > 0
    assert saved["import"]["ratio_to_copy"] > 0 and saved["import"]["poll_median_ms"] > 0
    assert saved["peak_rss"]["worker"]["largest_process_mb"] > 0
    assert result["import"]["progress"]["contacts"]["created"] == 400
    # the export job's own run, the export anchor on the imported rows, CPU per imported row
    assert 0 < saved["export_job"]["run_s"] <= saved["export_job"]["with_download_s"]
    assert len(saved["anchor_copy_out"]["runs_rows_per_s"]) == 2
    assert saved["import"]["ratio_to_tenant_copy"] > 0
    assert saved["get_export"]["ratio_to_tenant_copy_out"] > 0
    assert saved["get_export"]["ratio_to_parallel_copy_out"] > 0
    cpu = saved["import"]["cpu_us_per_row"]
    assert cpu["worker"] > 0 and cpu["machine"] > 0


def test_bench_settings_are_checked_before_anything_starts(capsys):
    """`--set NAME=VALUE`: a misspelt name would measure the defaults without a word, so it is
    refused, as are a value the settings refuse and the names the harness sets per run."""
    from bench.run_settings import parse_settings, settings_arguments
    assert parse_settings(["DRIPPULSE_EXPORT_PARALLEL_WORKERS=0", "DRIPPULSE_BATCH_SIZE=500"]
                          ) == {"DRIPPULSE_EXPORT_PARALLEL_WORKERS": "0",
                                "DRIPPULSE_BATCH_SIZE": "500"}
    for bad, message in (("DRIPPULSE_BACH_SIZE=500", "not a setting"),
                         ("DRIPPULSE_BATCH_SIZE", "expected NAME=VALUE"),
                         ("DRIPPULSE_BATCH_SIZE=five", "must be an integer"),
                         ("DRIPPULSE_QUEUE_PREFIX=x:", "the benchmark sets it"),
                         ("DRIPPULSE_APP_DATABASE_URL=postgresql://elsewhere/crm",
                          "the database the benchmark creates"),
                         ("DRIPPULSE_WORKER_CONCURRENCY=4", "use --concurrency"),
                         ("DRIPPULSE_TASK_TIME_LIMIT=10", "must hold")):
        with pytest.raises(ValueError, match=message):
            parse_settings([bad])
    # --batch-size is one of the settings: recorded, and never silently overridden
    assert parse_settings(settings_arguments([], 500)) == {"DRIPPULSE_BATCH_SIZE": "500"}
    with pytest.raises(ValueError, match="given twice"):
        parse_settings(settings_arguments(["DRIPPULSE_BATCH_SIZE=600"], 500))
    assert drippulse(["bench", "--rows", "10", "--set", "DRIPPULSE_BACH_SIZE=500"]) == 2
    assert "--set DRIPPULSE_BACH_SIZE: not a setting" in capsys.readouterr().err
    assert drippulse(["bench", "--rows", "10", "--batch-size", "0"]) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err


def test_the_tenants_run_keeps_its_limits_and_takes_set_values_on_top(monkeypatch):
    """`--tenants` raises the per-organization job limit for its run; --set values come on top
    (a caller may lower it on purpose) and are recorded."""
    from contextlib import contextmanager

    import bench.tenants as tenants
    received = {}

    class Started(Exception):
        pass

    @contextmanager
    def environment(prefix, settings=None):
        received.update(settings)
        raise Started
        yield

    monkeypatch.setattr(tenants, "bench_environment", environment)
    with pytest.raises(Started):
        tenants.run(2, 10, settings={"DRIPPULSE_ORG_PARALLEL_BATCHES": "2"})
    assert received == {"DRIPPULSE_MAX_ACTIVE_JOBS": "1000000",
                        "DRIPPULSE_ORG_PARALLEL_BATCHES": "2"}
    received.clear()
    with pytest.raises(Started):
        tenants.run(2, 10, settings={"DRIPPULSE_MAX_ACTIVE_JOBS": "5"})
    assert received == {"DRIPPULSE_MAX_ACTIVE_JOBS": "5"}


def test_bench_settings_reach_the_run_and_the_shells_do_not(bench_services, monkeypatch):
    """The processes a run starts get the --set values and none of this shell's DRIPPULSE_*
    variables (a run measures what it says it measures)."""
    from bench.harness import bench_environment
    monkeypatch.setenv("DRIPPULSE_BATCH_SIZE", "7")
    with bench_environment(settings={"DRIPPULSE_EXPORT_PARALLEL_WORKERS": "0"}) as bench:
        assert bench.env["DRIPPULSE_EXPORT_PARALLEL_WORKERS"] == "0"  # the API's and worker's
        assert "DRIPPULSE_BATCH_SIZE" not in bench.env
        assert config.get_settings().export_parallel_workers == 0  # the anchors' side
        assert config.get_settings().batch_size == 2000


def test_the_worker_profile_is_summarized_by_self_and_inclusive_share(tmp_path):
    from bench.run import _top_frames
    folded = tmp_path / "profile.folded"
    folded.write_text(
        "process 1:\"worker\";main (drippulse/cli.py:3);apply_batch (shared/bundle/apply.py:9);"
        "write_rows (shared/bundle/write.py:90) 6\n"
        "process 1:\"worker\";main (drippulse/cli.py:3);apply_batch (shared/bundle/apply.py:12);"
        "validate (shared/bundle/validate.py:70) 3\n"
        "process 1:\"worker\";main (drippulse/cli.py:3);_spool (shared/bundle/spool.py:5) 1\n")
    top = _top_frames(folded)
    assert top["samples"] == 10
    assert top["inclusive"][0] == {"frame": "apply_batch (apply.py)", "share": 0.9}
    assert {"frame": "write_rows (write.py)", "share": 0.6} in top["self"]
    assert all(not e["frame"].startswith("main") for e in top["inclusive"])


def test_the_salesforce_export_is_read_with_every_row_id_and_reference(tmp_path):
    """The benchmark's Salesforce zip is what the converter expects of a Bulk export: every
    row converted with no warning and no row error, ids in their 18-character form, each
    contact on an account of the same export."""
    import zipfile

    from bench.source_files import source_rows, write_salesforce_zip
    from shared.interop.files import ZipSourceFiles
    from shared.interop.salesforce import convert
    from shared.interop.salesforce_ids import object_of, to_18
    from shared.interop.source import ROW_ERROR, Report

    path = tmp_path / "salesforce.zip"
    write_salesforce_zip(path, 1000)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["Account.csv", "Contact.csv"]
        assert archive.read("Contact.csv").startswith(
            b'"Id","AccountId","FirstName","LastName","Email"')
    report = Report()
    rows = list(convert(ZipSourceFiles(path, 10**9), report, {}))
    assert report.warnings == []
    assert [r for r in rows if ROW_ERROR in r.row] == []
    accounts = [r.row for r in rows if r.entity == "accounts"]
    contacts = [r.row for r in rows if r.entity == "contacts"]
    assert (len(accounts), len(contacts)) == (100, 900)
    for row, sobject in [(a, "Account") for a in accounts] + [(c, "Contact") for c in contacts]:
        assert row["external_id"] == to_18(row["external_id"][:15])
        assert object_of(row["external_id"]) == sobject
    account_ids = {a["external_id"] for a in accounts}
    assert all(c["account_external_id"] in account_ids for c in contacts)
    # the rows the csv and bundle forms hold too: same accounts, same people
    source = list(source_rows(1000))
    assert [a["domain"] for a in accounts] == [r["domain"] for e, r in source if e == "accounts"]
    assert [c["email"] for c in contacts] == [r["email"] for e, r in source if e == "contacts"]


@pytest.fixture
def bench_services(database_url, settings, monkeypatch):
    """The test's Postgres server and Redis for a benchmark run, which makes its own database
    and settings; the test's settings come back afterwards."""
    server = sa.engine.make_url(database_url).set(database="postgres").render_as_string(
        hide_password=False)
    monkeypatch.setenv("TEST_DATABASE_URL", server)
    monkeypatch.setenv("TEST_REDIS_URL", settings.redis_url)
    yield
    config.set_settings(settings)


@pytest.mark.slow  # two imports, each with its own gunicorn and worker
def test_salesforce_source_run_imports_every_row_and_compares_with_the_bundle(bench_services,
                                                                              tmp_path):
    """`drippulse bench --source salesforce`: the same rows as a Salesforce export and as a
    bundle, both imported whole, and the ratio of the two."""
    import json

    out = tmp_path / "salesforce.json"
    assert drippulse(["bench", "--source", "salesforce", "--rows", "1000", "--out",
                      str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["rows"] == 1000 and "csv" not in saved
    for kind in ("salesforce", "bundle"):
        result = saved[kind]
        assert result["status"] == "succeeded", (kind, result)
        assert result["error_count"] == 0 and result["warning_count"] == 0
        assert result["created"] == {"accounts": 100, "contacts": 900}
        assert result["rows_per_s"] > 0 and result["worker_peak_rss_mb"]["largest_process_mb"] > 0
    assert saved["salesforce_vs_bundle"] > 0


@pytest.mark.slow  # one gunicorn and worker serving three organizations' imports
def test_tenants_run_imports_every_organizations_bundle_and_reports_each(bench_services,
                                                                         tmp_path):
    """`drippulse bench --tenants 3 --tenant-rows 500`: each organization's job succeeds with
    all its rows, and the result holds the totals, the spreads and every job."""
    import json

    out = tmp_path / "tenants.json"
    assert drippulse(["bench", "--tenants", "3", "--tenant-rows", "500", "--out",
                      str(out)]) == 0
    saved = json.loads(out.read_text())
    assert (saved["tenants"], saved["rows_per_tenant"], saved["total_rows"]) == (3, 500, 1500)
    assert saved["all_succeeded"] is True and saved["statuses"] == {"succeeded": 3}
    jobs = saved["jobs"]
    assert len({j["organization"] for j in jobs}) == len({j["job_id"] for j in jobs}) == 3
    for job in jobs:
        assert job["status"] == "succeeded" and job["error_count"] == 0
        assert job["rows_created"] == 500
        assert 0 < job["first_progress_s"] <= job["submit_to_finish_s"] <= saved["wall_s"]
        assert job["job_run_s"] > 0
    for spread in (saved["per_tenant_s"], saved["first_progress_s"]):
        assert 0 < spread["min"] <= spread["median"] <= spread["max"]
    assert saved["slowest_vs_fastest"] >= 1 and saved["rows_per_s"] > 0
    for process in ("api", "worker"):
        assert saved["peak_rss"][process]["largest_process_mb"] > 0
