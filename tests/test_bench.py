"""The benchmark's inputs: a deterministic bundle and an anchor COPY that the schema accepts."""
from __future__ import annotations

import hashlib
import uuid

import orjson
import pytest
import sqlalchemy as sa

from bench import baseline
from bench.generate import counts, write_bundle
from shared import db


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
        result = run(1000, out, profile=False, concurrency=1)
    finally:
        config.set_settings(settings)
    saved = json.loads(out.read_text())
    assert saved["rows"] == 1000 and saved["import"]["status"] == "succeeded"
    assert saved["export_job"]["status"] == "succeeded"
    for key in ("anchor_copy_in", "anchor_copy_out", "get_export"):
        assert saved[key]["rows_per_s"] > 0
    assert saved["import"]["ratio_to_copy"] > 0 and saved["import"]["poll_median_ms"] > 0
    assert saved["peak_rss"]["worker"]["largest_process_mb"] > 0
    assert result["import"]["progress"]["contacts"]["created"] == 400
    # the export job's own run, the export anchor on the imported rows, CPU per imported row
    assert 0 < saved["export_job"]["run_s"] <= saved["export_job"]["with_download_s"]
    assert len(saved["anchor_copy_out"]["runs_rows_per_s"]) == 2
    cpu = saved["import"]["cpu_us_per_row"]
    assert cpu["worker"] > 0 and cpu["machine"] > 0


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
