"""A converter path against the bundle path: the same rows imported once through a converter —
CSV files with a mapping (`?source=csv`) or a Salesforce Bulk/Data Loader export
(`?source=salesforce`) — and once as a JSON bundle, each on a fresh database with its own API
server and worker (2 processes); prints rows/s of both, their ratio and the worker's peak
memory.

    python -m bench.source_run --rows 1000000 [--source salesforce] [--out result.json]

The rows and how each form is written: bench/source_files.py.
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import requests

from bench.harness import bench_environment, start_platform
from bench.run_settings import add_settings_argument, settings_or_exit
from bench.source_files import write_bundle, write_csv_zip, write_salesforce_zip
from shared.services import organizations

# kind → (writer, upload file, query string, content type)
UPLOADS: dict[str, tuple[Callable[[Path, int], None], str, str, str]] = {
    "csv": (write_csv_zip, "upload.zip", "?source=csv", "application/zip"),
    "salesforce": (write_salesforce_zip, "salesforce.zip", "?source=salesforce",
                   "application/zip"),
    "bundle": (write_bundle, "bundle.json", "", "application/json"),
}
SOURCES = tuple(kind for kind in UPLOADS if kind != "bundle")


def _import(kind: str, rows: int, settings: dict[str, str]) -> dict:
    writer, file_name, query, ctype = UPLOADS[kind]
    with bench_environment(f"dp-bench-{kind}-", settings=settings) as bench:
        org = organizations.create_organization(f"{kind} bench")
        upload = bench.work / file_name
        t0 = time.perf_counter()
        writer(upload, rows)
        generated_s = time.perf_counter() - t0
        services = start_platform(bench)
        base, api, wrk = services.base, services.api, services.worker
        headers = {"Authorization": f"Bearer {org['api_key']}"}
        started = time.perf_counter()
        with open(upload, "rb") as body:
            resp = requests.post(f"{base}/api/v1/crm/import{query}", data=body, timeout=3600,
                                 headers={**headers, "Content-Type": ctype})
        resp.raise_for_status()
        job_url = base + resp.json()["links"]["self"]
        while (job := requests.get(job_url, headers=headers, timeout=30).json())["status"] in (
                "queued", "running"):
            time.sleep(0.25)
        wall = time.perf_counter() - started
        run_s = (datetime.fromisoformat(job["finished_at"])
                 - datetime.fromisoformat(job["started_at"])).total_seconds()
        worker_rss = wrk.stop()
        api.stop()
        bench.children.clear()
        return {"status": job["status"], "error_count": job["error_count"],
                "warning_count": len(job.get("warnings") or []),
                "created": {entity: counts["created"]
                            for entity, counts in (job.get("progress") or {}).items()
                            if counts.get("created")},
                "upload_mb": round(upload.stat().st_size / 1e6, 1),
                "generated_s": round(generated_s, 1), "wall_s": round(wall, 2),
                "job_run_s": round(run_s, 2), "rows_per_s": round(rows / wall),
                "worker_peak_rss_mb": worker_rss}


def run(rows: int, out: Path | None = None, source: str = "csv",
        settings: dict[str, str] | None = None) -> dict:
    """Import `rows` rows through `source` ("csv" or "salesforce"), then as a bundle; both
    runs with `settings` (harness.parse_settings)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    settings = settings or {}
    source_result = _import(source, rows, settings)
    bundle_result = _import("bundle", rows, settings)
    result = {"rows": rows, "settings": settings, source: source_result, "bundle": bundle_result,
              f"{source}_vs_bundle": round(source_result["rows_per_s"]
                                           / bundle_result["rows_per_s"], 2)}
    print(json.dumps(result, indent=2))
    if out:
        out.write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="a converter path against the bundle path")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--source", choices=SOURCES, default="csv")
    parser.add_argument("--out", type=Path)
    add_settings_argument(parser)
    args = parser.parse_args()
    run(args.rows, args.out, args.source, settings_or_exit(parser, args))


if __name__ == "__main__":
    main()
