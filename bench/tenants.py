"""Many organizations importing at once: N organizations each POST a bundle of M rows at the
same moment (one thread each) to one API server and one worker (2 processes) on a fresh
database, and each polls its job until it ends.

    python -m bench.tenants --tenants 20 --tenant-rows 50000 [--out result.json]

Reports the total rows and rows/s from the first POST to the last job's end; each
organization's seconds from its POST to its job's end and to its first progress (min / median
/ max, and slowest ÷ fastest: how evenly the shared worker serves them); the peak RSS of the
API and the worker; and every job's status — all must be `succeeded`, else `all_succeeded` is
false and the run says which were not.

Every organization posts the same file (bench/generate.py write_bundle): public_ids are unique
per organization, so the jobs do not collide.

Limits set for this run, on top of bench_environment's request budget
(DRIPPULSE_RATE_LIMIT_PER_MINUTE, per organization, already 1,000,000):
- DRIPPULSE_MAX_ACTIVE_JOBS (queued + running jobs per organization, default 20; past it a POST
  is refused with 429 too_many_jobs): set to 1,000,000. Each organization has one job here, so
  it would not bite, but the run must never be refused by it.
Left at its default on purpose: DRIPPULSE_ORG_PARALLEL_BATCHES (8 batches one organization
keeps queued over all its jobs). It refuses nothing and does not slow the sum down (two worker
processes drain far fewer than 8 × N queued batches); it is the fair queueing this run
measures, so raising it would measure something else.
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

from bench.generate import write_bundle
from bench.harness import BenchEnv, bench_environment, start_platform
from bench.run_settings import add_settings_argument, settings_or_exit
from shared.services import organizations

# Limits that would refuse or throttle N organizations' imports (see the module docstring).
LIMITS = {"DRIPPULSE_MAX_ACTIVE_JOBS": "1000000"}
# 20 organizations polling every 0.25 s would be 80 requests/s taking API CPU from the two
# cores the imports share; 0.5 s halves that, at the price of that much resolution.
POLL_SECONDS = 0.5
# A bound on the whole run: a job still queued or running then is reported with the status
# it had, and the run is not `all_succeeded`.
DEFAULT_TIMEOUT_S = 3600.0


def _seconds_between(job: dict, start: str, end: str) -> float | None:
    if not job.get(start) or not job.get(end):
        return None
    return round((datetime.fromisoformat(job[end])
                  - datetime.fromisoformat(job[start])).total_seconds(), 2)


class Tenant:
    """One organization's import: submitted when every thread is ready, then polled."""

    def __init__(self, name: str, api_key: str) -> None:
        self.name = name
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.submitted: float | None = None  # perf_counter at the POST
        self.finished: float | None = None  # perf_counter when its end was seen
        self.first_progress: float | None = None
        self.job: dict = {}
        self.refused: dict | None = None  # the POST's answer when it was not 202

    def import_bundle(self, base: str, bundle: Path, start: threading.Barrier,
                      deadline: float) -> None:
        with requests.Session() as http, open(bundle, "rb") as body:
            start.wait()
            self.submitted = time.perf_counter()
            resp = http.post(f"{base}/api/v1/crm/import", data=body, timeout=3600,
                             headers={**self.headers, "Content-Type": "application/json"})
            if resp.status_code != 202:
                self.finished = time.perf_counter()
                self.refused = {"http_status": resp.status_code, "body": resp.text[:500]}
                return
            self.job = resp.json()
            self._follow(http, base + self.job["links"]["self"], deadline)

    def _follow(self, http: requests.Session, job_url: str, deadline: float) -> None:
        while self.job["status"] in ("queued", "running") and time.perf_counter() < deadline:
            time.sleep(POLL_SECONDS)
            resp = http.get(job_url, headers=self.headers, timeout=30)
            if resp.status_code != 200:
                continue  # a refused poll (429, 503) says nothing of the job: ask again
            self.job = resp.json()
            processed = sum(p.get("processed", 0) for p in (self.job.get("progress") or {})
                            .values())
            if self.first_progress is None and processed:
                self.first_progress = time.perf_counter()
        if self.job["status"] not in ("queued", "running"):
            self.finished = time.perf_counter()

    @property
    def status(self) -> str:
        if self.refused is not None:
            return f"refused ({self.refused['http_status']})"
        return self.job.get("status", "not submitted")

    def summary(self) -> dict:
        def since_submit(moment: float | None) -> float | None:
            if moment is None or self.submitted is None:
                return None
            return round(moment - self.submitted, 2)
        progress = self.job.get("progress") or {}
        return {"organization": self.name, "job_id": self.job.get("id"), "status": self.status,
                "error_count": self.job.get("error_count"),
                "rows_created": sum(p.get("created", 0) for p in progress.values()),
                "submit_to_finish_s": since_submit(self.finished),
                "first_progress_s": since_submit(self.first_progress),
                "queued_s": _seconds_between(self.job, "created_at", "started_at"),
                "job_run_s": _seconds_between(self.job, "started_at", "finished_at"),
                **({"refused": self.refused} if self.refused else {})}


def _spread(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"min": min(values), "median": round(statistics.median(values), 2),
            "max": max(values)}


def run(tenants: int, tenant_rows: int, out: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S, settings: dict[str, str] | None = None) -> dict:
    """N organizations import M rows each at once; prints the JSON result, writes it to `out`.
    `settings` (harness.parse_settings) come on top of LIMITS: a caller may lower them."""
    if tenants < 1 or tenant_rows < 1:
        raise ValueError("tenants and tenant_rows must be at least 1")
    with bench_environment("dp-bench-tenants-", settings={**LIMITS, **(settings or {})}) as bench:
        result = _measure(bench, tenants, tenant_rows, timeout_s)
    result["settings"] = settings or {}
    print(json.dumps(result, indent=2))
    if not result["all_succeeded"]:
        print("NOT every job succeeded: " + ", ".join(
            f"{j['organization']} {j['status']}" for j in result["jobs"]
            if j["status"] != "succeeded"))
    if out:
        out.write_text(json.dumps(result, indent=2))
    return result


def _measure(bench: BenchEnv, tenants: int, tenant_rows: int, timeout_s: float) -> dict:
    bundle = bench.work / "bundle.json"
    write_bundle(bundle, tenant_rows)
    orgs = [organizations.create_organization(f"tenant {i:02d}") for i in range(tenants)]
    services = start_platform(bench)
    base, api, wrk = services.base, services.api, services.worker

    runs = [Tenant(f"tenant {i:02d}", org["api_key"]) for i, org in enumerate(orgs)]
    start = threading.Barrier(tenants)  # every POST leaves at the same moment
    deadline = time.perf_counter() + timeout_s
    with ThreadPoolExecutor(max_workers=tenants) as pool:
        for future in [pool.submit(t.import_bundle, base, bundle, start, deadline)
                       for t in runs]:
            future.result()
    peak_rss = {"api": api.stop(), "worker": wrk.stop()}
    bench.children.clear()

    submitted = [t.submitted for t in runs if t.submitted is not None]
    finished = [t.finished for t in runs if t.finished is not None]
    jobs = [t.summary() for t in runs]
    per_tenant = [j["submit_to_finish_s"] for j in jobs if j["status"] == "succeeded"]
    first_progress = [j["first_progress_s"] for j in jobs if j["first_progress_s"] is not None]
    wall = (max(finished) - min(submitted)) if finished and submitted else None
    statuses: dict[str, int] = {}
    for job in jobs:
        statuses[job["status"]] = statuses.get(job["status"], 0) + 1
    total_rows = tenants * tenant_rows
    return {
        "tenants": tenants, "rows_per_tenant": tenant_rows, "total_rows": total_rows,
        "bundle_mb": round(bundle.stat().st_size / 1e6, 1),
        "wall_s": round(wall, 2) if wall else None,
        "rows_per_s": round(total_rows / wall) if wall else None,
        "per_tenant_s": _spread(per_tenant),
        "slowest_vs_fastest": round(max(per_tenant) / min(per_tenant), 2)
        if per_tenant and min(per_tenant) > 0 else None,
        "first_progress_s": _spread(first_progress),
        "peak_rss": peak_rss,
        "statuses": statuses,
        "all_succeeded": statuses == {"succeeded": tenants},
        "jobs": jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--tenant-rows", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds the whole run may take before the jobs are given up")
    parser.add_argument("--out", type=Path)
    add_settings_argument(parser)
    args = parser.parse_args()
    result = run(args.tenants, args.tenant_rows, args.out, args.timeout,
                 settings_or_exit(parser, args))
    raise SystemExit(0 if result["all_succeeded"] else 1)


if __name__ == "__main__":
    main()
