"""One benchmark run against a fresh database: COPY anchor, import, export, memory, polling.

    python -m bench.run --rows 100000 --out bench-results/100k.json [--profile]

Needs a Postgres server (TEST_DATABASE_URL or DATABASE_URL: the run creates and drops its own
database there) and a Redis (REDIS_URL / TEST_REDIS_URL). Prints one table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import requests

from bench import baseline, harness, processes
from bench.generate import write_bundle
from bench.harness import BenchEnv, bench_environment, start_platform
from bench.run_settings import add_settings_argument, settings_or_exit
from shared import config
from shared.services import organizations


def _follow(base: str, headers: dict, job_path: str) -> dict:
    """Poll a job to its end (called as its 202 arrives); returns the job, poll latencies, the
    time to its first applied rows (`first_progress_s`) and to the first progress a person
    could see (`first_visible_progress_s`: rows read from the upload, or applied)."""
    started = time.perf_counter()
    first_progress = first_visible = None
    latencies = []
    while True:
        t0 = time.perf_counter()
        job = requests.get(base + job_path, headers=headers, timeout=30).json()
        latencies.append((time.perf_counter() - t0) * 1000)
        processed = sum(p.get("processed", 0) for p in (job.get("progress") or {}).values())
        read = (job.get("reading") or {}).get("rows", 0)
        if first_progress is None and processed:
            first_progress = time.perf_counter() - started
        if first_visible is None and (read or processed):
            first_visible = time.perf_counter() - started
        if job["status"] not in ("queued", "running"):
            return {"job": job, "first_progress_s": first_progress,
                    "first_visible_progress_s": first_visible, "latencies_ms": latencies}
        time.sleep(0.25)


def _cpu(api: processes.Child, wrk: processes.Child) -> dict[str, float]:
    return {"api": processes.tree_cpu_seconds(api.proc.pid),
            # under --profile the tree's root is py-spy, whose own CPU is not the worker's
            "worker": processes.tree_cpu_seconds(wrk.proc.pid, include_root=not wrk.profiled),
            "machine": processes.machine_cpu_seconds()}


def _job_run_seconds(job: dict) -> float | None:
    if not job.get("started_at") or not job.get("finished_at"):
        return None
    started = datetime.fromisoformat(job["started_at"])
    return (datetime.fromisoformat(job["finished_at"]) - started).total_seconds()


def _frame(raw: str) -> str:
    """`function (path/to/file.py:123)` → `function (file.py)`: one entry per function."""
    name, _, where = raw.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':', 1)[0]})" if where else name


def _top_frames(collapsed: Path, n: int = 15) -> dict[str, list[dict]]:
    """Shares of the worker's on-CPU samples: by the function running (self) and by the
    project's functions on the stack (inclusive: where the time goes, phase by phase)."""
    self_time: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    grand = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        leaf = _frame(frames[-1])
        self_time[leaf] = self_time.get(leaf, 0) + int(count)
        for name in {_frame(f) for f in frames if " (shared/" in f}:
            inclusive[name] = inclusive.get(name, 0) + int(count)
        grand += int(count)

    def ranked(totals: dict[str, int]) -> list[dict]:
        top = sorted(totals.items(), key=lambda kv: -kv[1])[:n]
        return [{"frame": frame, "share": round(count / max(grand, 1), 3)} for frame, count in top]
    return {"self": ranked(self_time), "inclusive": ranked(inclusive), "samples": grand}


def run(rows: int, out: Path | None, profile: bool, concurrency: int,
        settings: dict[str, str] | None = None) -> dict:
    """`settings`: DRIPPULSE_* values for every process of the run (harness.parse_settings)."""
    with bench_environment("dp-bench-", settings=settings) as bench:
        return _measure(bench, rows, out, profile, concurrency, settings or {})


def _measure(bench: BenchEnv, rows: int, out: Path | None, profile: bool,
             concurrency: int, settings: dict[str, str]) -> dict:
    db_url, work, children = bench.db_url, bench.work, bench.children
    anchor_org = organizations.create_organization("bench anchor")
    import_org = organizations.create_organization("bench import")
    tenant_anchor_org = organizations.create_organization("bench tenant anchor")

    bundle = work / "bundle.json"
    t0 = time.perf_counter()
    sizes = write_bundle(bundle, rows)
    gen_s = time.perf_counter() - t0
    conninfo = harness.conninfo(db_url)
    anchor_org_id = uuid.UUID(anchor_org["organization_id"])
    copy_in = baseline.copy_in(conninfo, anchor_org_id, rows)
    tenant_copy_in = baseline.tenant_copy_in(
        conninfo, uuid.UUID(tenant_anchor_org["organization_id"]), rows,
        config.get_settings().batch_size)

    services = start_platform(bench, concurrency,
                              profile_to=work / "profile.txt" if profile else None)
    base, api, wrk = services.base, services.api, services.worker
    headers = {"Authorization": f"Bearer {import_org['api_key']}"}

    disk = processes.PeakDisk(work / "data")  # the upload, spool and export files
    disk.start()
    cpu_before = _cpu(api, wrk)
    started = time.perf_counter()
    with open(bundle, "rb") as body:
        resp = requests.post(base + "/api/v1/crm/import", data=body, timeout=600,
                             headers=headers | {"Content-Type": "application/json"})
    resp.raise_for_status()
    upload_s = time.perf_counter() - started
    followed = _follow(base, headers, resp.json()["links"]["self"])
    import_s = time.perf_counter() - started
    cpu_used = {k: v - cpu_before[k] for k, v in _cpu(api, wrk).items()}

    # the export anchor reads the very rows the export reads (the imported organization's), in
    # the same state, once before and once after the export measurements: the faster of the
    # two is the figure (whichever runs first pays for setting hint bits on fresh rows)
    import_org_id = uuid.UUID(import_org["organization_id"])
    copy_outs = [baseline.copy_out(conninfo, import_org_id, rows)]
    tenant_copy_outs = [baseline.copy_out(conninfo, import_org_id, rows, as_tenant=True)]

    t0 = time.perf_counter()
    size = 0
    with requests.get(base + "/api/v1/crm/export", headers=headers, stream=True,
                      timeout=600) as streamed:
        for chunk in streamed.iter_content(1 << 20):
            size += len(chunk)
    get_export_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    job = requests.post(base + "/api/v1/crm/exports", headers=headers, json={},
                        timeout=60).json()
    export_job = _follow(base, headers, job["links"]["self"])
    download = export_job["job"]["links"].get("download")
    if download:
        with requests.get(base + download, headers=headers, stream=True, timeout=600) as dl:
            for _ in dl.iter_content(1 << 20):
                pass
    export_job_s = time.perf_counter() - t0
    copy_outs.append(baseline.copy_out(conninfo, import_org_id, rows))
    tenant_copy_outs.append(baseline.copy_out(conninfo, import_org_id, rows, as_tenant=True))
    copy_out, tenant_copy_out = (_fastest(runs) for runs in (copy_outs, tenant_copy_outs))
    # the anchor read with the parallel plans the export may use (its ratio says what the export
    # makes of the same workers; with DRIPPULSE_EXPORT_PARALLEL_WORKERS=0 both are serial)
    parallel_copy_out = baseline.copy_out(
        conninfo, import_org_id, rows,
        parallel_workers=config.get_settings().export_parallel_workers)
    job_run_s = _job_run_seconds(export_job["job"])

    memory = {"api": api.stop(), "worker": wrk.stop()}
    children.clear()
    data_peak = disk.stop()
    polls = followed["latencies_ms"]
    result = {
        "rows": rows, "entities": sizes, "bundle_mb": round(bundle.stat().st_size / 1e6, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": settings,
        "generate_s": round(gen_s, 2),
        "anchor_copy_in": copy_in, "anchor_copy_out": copy_out,
        # the same anchors as the tenant role, under row-level security (the import's floor)
        "anchor_tenant_copy_in": tenant_copy_in, "anchor_tenant_copy_out": tenant_copy_out,
        "anchor_copy_out_parallel": parallel_copy_out,
        "import": {"status": followed["job"]["status"], "seconds": import_s,
                   "upload_s": upload_s, "rows_per_s": rows / import_s,
                   "ratio_to_copy": (rows / import_s) / copy_in["rows_per_s"],
                   "ratio_to_tenant_copy": (rows / import_s) / tenant_copy_in["rows_per_s"],
                   "first_progress_s": followed["first_progress_s"],
                   "first_visible_progress_s": followed["first_visible_progress_s"],
                   "poll_median_ms": statistics.median(polls),
                   "poll_p95_ms": sorted(polls)[int(len(polls) * 0.95) - 1] if polls else None,
                   "progress": followed["job"]["progress"],
                   # where the machine's CPU went during the import, per imported row; "other"
                   # is mostly Postgres (plus Redis and this client)
                   "cpu_us_per_row": {
                       "worker": round(cpu_used["worker"] / rows * 1e6, 1),
                       "api": round(cpu_used["api"] / rows * 1e6, 1),
                       "other": round((cpu_used["machine"] - cpu_used["worker"]
                                       - cpu_used["api"]) / rows * 1e6, 1),
                       "machine": round(cpu_used["machine"] / rows * 1e6, 1)}},
        "get_export": {"seconds": get_export_s, "rows_per_s": rows / get_export_s,
                       "bytes": size,
                       "ratio_to_copy_out": (rows / get_export_s) / copy_out["rows_per_s"],
                       "ratio_to_tenant_copy_out":
                           (rows / get_export_s) / tenant_copy_out["rows_per_s"],
                       "ratio_to_parallel_copy_out":
                           (rows / get_export_s) / parallel_copy_out["rows_per_s"]},
        # the job's own run (started_at → finished_at: snapshot, COPY, file written and synced),
        # and the client's whole wait: POST, queue, polling every 0.25 s, then the download
        "export_job": {"status": export_job["job"]["status"], "run_s": job_run_s,
                       "rows_per_s": rows / job_run_s if job_run_s else None,
                       "ratio_to_copy_out": (rows / job_run_s) / copy_out["rows_per_s"]
                       if job_run_s else None,
                       "ratio_to_tenant_copy_out":
                           (rows / job_run_s) / tenant_copy_out["rows_per_s"]
                           if job_run_s else None,
                       "with_download_s": export_job_s,
                       "with_download_rows_per_s": rows / export_job_s,
                       "with_download_ratio": (rows / export_job_s) / copy_out["rows_per_s"]},
        "peak_rss": memory,
        "disk_mb": {"bundle": round(bundle.stat().st_size / 1e6, 1),
                    "data_dir_peak": round(data_peak / 1e6, 1),
                    **_database_mb(conninfo)},
    }
    if profile and (work / "profile.txt").exists():
        result["worker_profile_top"] = _top_frames(work / "profile.txt")
        if out:  # the collapsed stacks, for inclusive analysis (flamegraph tools read them)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(work / "profile.txt", out.with_suffix(".folded"))
    _print(result)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str))
    return result


def _fastest(runs: list[dict]) -> dict:
    best = dict(max(runs, key=lambda a: a["rows_per_s"]))
    best["runs_rows_per_s"] = [round(a["rows_per_s"]) for a in runs]
    return best


def _database_mb(conninfo: str) -> dict[str, float]:
    """What Postgres holds at the end (three organizations: both anchors' rows and the
    import's)."""
    with psycopg.connect(conninfo) as conn:
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = conn.execute(
            "SELECT sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'crm' AND c.relkind = 'r'").fetchone()
    return {"postgres_database": round(database / 1e6, 1),
            "crm_tables": round(int(tables[0] or 0) / 1e6, 1),
            "crm_indexes": round(int(tables[1] or 0) / 1e6, 1)}


def _print(r: dict) -> None:
    rows = [
        ("rows", f"{r['rows']:,} ({r['bundle_mb']} MB bundle)"),
        ("settings (--set)", " ".join(f"{k}={v}" for k, v in r["settings"].items()) or "none"),
        ("anchor COPY in (records + events)", f"{r['anchor_copy_in']['rows_per_s']:,.0f} rows/s"),
        ("  as the tenant role (stage + INSERT, RLS)",
         f"{r['anchor_tenant_copy_in']['rows_per_s']:,.0f} rows/s"),
        ("import end to end (HTTP → succeeded)",
         f"{r['import']['rows_per_s']:,.0f} rows/s = {r['import']['ratio_to_copy']:.2f}× COPY "
         f"= {r['import']['ratio_to_tenant_copy']:.2f}× tenant anchor [{r['import']['status']}]"),
        ("  time to first progress (rows applied)",
         f"{r['import']['first_progress_s'] or 0:.2f} s"),
        ("  time to first visible progress (rows read)",
         f"{r['import'].get('first_visible_progress_s') or 0:.2f} s"),
        ("  poll GET jobs/{id} median / p95",
         f"{r['import']['poll_median_ms']:.1f} / {r['import']['poll_p95_ms'] or 0:.1f} ms"),
        ("  CPU per row: worker / API / other",
         "{worker} / {api} / {other} µs (machine {machine} µs)".format(
             **r["import"]["cpu_us_per_row"])),
        ("anchor COPY out (row_to_json, same rows)",
         f"{r['anchor_copy_out']['rows_per_s']:,.0f} rows/s"),
        ("  as the tenant role (RLS)", f"{r['anchor_tenant_copy_out']['rows_per_s']:,.0f} rows/s"),
        ("  with the export's parallel plans",
         f"{r['anchor_copy_out_parallel']['rows_per_s']:,.0f} rows/s"),
        ("GET /export streamed", f"{r['get_export']['rows_per_s']:,.0f} rows/s = "
                                 f"{r['get_export']['ratio_to_copy_out']:.2f}× COPY out = "
                                 f"{r['get_export']['ratio_to_tenant_copy_out']:.2f}× tenant = "
                                 f"{r['get_export']['ratio_to_parallel_copy_out']:.2f}× "
                                 f"parallel"),
        ("export job (its run)", f"{r['export_job']['rows_per_s'] or 0:,.0f} rows/s = "
                                 f"{r['export_job']['ratio_to_copy_out'] or 0:.2f}× COPY out = "
                                 f"{r['export_job']['ratio_to_tenant_copy_out'] or 0:.2f}× "
                                 f"tenant [{r['export_job']['status']}]"),
        ("  + queue, polling, download", f"{r['export_job']['with_download_rows_per_s']:,.0f} "
                                         f"rows/s = {r['export_job']['with_download_ratio']:.2f}× "
                                         f"COPY out"),
        ("peak RSS API (largest process / tree)",
         f"{r['peak_rss']['api']['largest_process_mb']} / {r['peak_rss']['api']['tree_mb']} MB"),
        ("peak RSS worker (largest process / tree)",
         f"{r['peak_rss']['worker']['largest_process_mb']} / "
         f"{r['peak_rss']['worker']['tree_mb']} MB"),
        ("disk: bundle / data dir peak / Postgres",
         "{bundle} / {data_dir_peak} / {postgres_database} MB "
         "(crm tables {crm_tables}, indexes {crm_indexes})".format(**r["disk_mb"])),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    top = r.get("worker_profile_top")
    if top:
        print(f"worker profile ({top['samples']} on-CPU samples), inclusive:")
        for entry in top["inclusive"]:
            print(f"  {entry['share']:6.1%}  {entry['frame']}")
        print("worker profile, self:")
        for entry in top["self"]:
            print(f"  {entry['share']:6.1%}  {entry['frame']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", action="store_true",
                        help="run the worker under py-spy (pip install -e '.[bench]')")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--batch-size", type=int,
                        help="rows per import batch: --set DRIPPULSE_BATCH_SIZE=N")
    add_settings_argument(parser)
    args = parser.parse_args()
    settings = settings_or_exit(parser, args, args.batch_size)
    run(args.rows, args.out, args.profile, args.concurrency, settings)


if __name__ == "__main__":
    main()
