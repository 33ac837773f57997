"""Issue 19's hostile inputs against a real API and worker on 127.0.0.1: peak memory, delay
caused to another tenant, 5xx answers and cross-tenant leaks.

    TEST_DATABASE_URL=… TEST_REDIS_URL=… .venv/bin/python -m bench.adversarial [--budget 300]

A fresh database, queues and data dir (bench.harness), gunicorn (2 processes × 4 threads) and a
worker (concurrency 2). A hostile organization H sends: 20 leads with 15 MB custom_fields and
`GET /leads?limit=500`, 20 leads just under the custom_fields bound and the same list, two
gzip bundles holding one 512 MiB string each, one gzip bundle of 300 rows × 2 MiB. While H's
jobs run, a victim organization V submits 1-row imports; the longest submit→done time is the
delay H caused. H also tries V's rows, jobs and events by id. Everything is bounded by
--budget seconds; the run prints one JSON document (the figures of docs/hardening.md).
"""
from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime

import orjson
import requests

from bench.harness import bench_environment, start_platform
from shared.services import organizations

MIB = 1024 * 1024
TERMINAL = {"succeeded", "failed", "cancelled", "completed_with_errors"}


class Client:
    """requests with a count of requests and 5xx answers (every call of the run goes here)."""

    def __init__(self, base: str, deadline: float) -> None:
        self.base, self.deadline = base, deadline
        self.sent = self.server_errors = 0
        self._lock = threading.Lock()

    def call(self, method: str, path: str, key: str | None = None, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if key:
            headers["Authorization"] = f"Bearer {key}"
        resp = requests.request(method, self.base + path, headers=headers,
                                timeout=kw.pop("timeout", 120), **kw)
        with self._lock:
            self.sent += 1
            self.server_errors += resp.status_code >= 500
        return resp

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _gzip(parts: Iterator[bytes]) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    return b"".join(z.compress(p) for p in parts) + z.flush()


def _huge_string_bundle() -> bytes:
    def parts() -> Iterator[bytes]:
        yield b'{"version": 1, "accounts": [{"public_id": "acct_huge", "name": "'
        chunk = b"a" * MIB
        for _ in range(512):
            yield chunk
        yield b'"}]}'
    return _gzip(parts())


def _wide_rows_bundle(rows: int = 300, size: int = 2 * MIB) -> bytes:
    def parts() -> Iterator[bytes]:
        yield b'{"version": 1, "accounts": ['
        for i in range(rows):
            sep = b"," if i else b""
            yield sep + orjson.dumps({"public_id": f"acct_w{i}", "name": f"w{i}",
                                      "description": "d" * size})
        yield b"]}"
    return _gzip(parts())


def _import(c: Client, key: str, body: bytes, gz: bool) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if gz:
        headers["Content-Encoding"] = "gzip"
    return c.call("POST", "/api/v1/crm/import", key, data=body, headers=headers)


def _wait_job(c: Client, key: str, job_id: str, limit: float) -> dict:
    end = time.monotonic() + min(limit, max(c.left(), 1))
    while True:
        job = c.call("GET", f"/api/v1/crm/jobs/{job_id}", key).json()
        if job.get("status") in TERMINAL or time.monotonic() > end:
            return job
        time.sleep(0.1)


def _custom_fields_lists(c: Client, key: str) -> dict:
    huge = {"blob": "x" * (15 * 1000 * 1000)}
    statuses = [c.call("POST", "/api/v1/crm/leads", key,
                       json={"first_name": "h", "last_name": "h", "custom_fields": huge}
                       ).status_code for _ in range(20)]
    near = {"blob": "y" * 250_000}  # just under MAX_JSON_CHARS: stored, then listed
    stored = [c.call("POST", "/api/v1/crm/leads", key,
                     json={"first_name": "n", "last_name": "n", "custom_fields": near}
                     ).status_code for _ in range(20)]
    page = c.call("GET", "/api/v1/crm/leads?limit=500", key)
    return {"huge_create_statuses": sorted(set(statuses)), "near_create_statuses":
            sorted(set(stored)), "list_status": page.status_code,
            "list_items": len(page.json().get("items", [])), "list_bytes": len(page.content)}


def _victim_delays(c: Client, key: str, stop: threading.Event, out: list[dict]) -> None:
    """Each 1-row import: submit → done, split into the upload's answer, the wait in the queue
    (created → started, the job's own times) and the rest (its run and the polling)."""
    n = 0
    while not stop.is_set() and c.left() > 10:
        n += 1
        body = orjson.dumps({"version": 1, "accounts": [{"public_id": f"acct_v{n}",
                                                          "name": "victim"}]})
        started = time.monotonic()
        resp = _import(c, key, body, gz=False)
        post_s = time.monotonic() - started
        if resp.status_code == 202:
            job = _wait_job(c, key, resp.json()["id"], 120)
            if job.get("status") in TERMINAL:
                queued = None
                if job.get("started_at") and job.get("created_at"):
                    queued = (datetime.fromisoformat(job["started_at"])
                              - datetime.fromisoformat(job["created_at"])).total_seconds()
                out.append({"total_s": round(time.monotonic() - started, 2),
                            "post_s": round(post_s, 2),
                            "queued_s": round(queued, 2) if queued is not None else None})
        stop.wait(1.0)


def _cross_tenant(c: Client, h_key: str, v_key: str, v_job: str) -> dict:
    marker = f"victim-{secrets.token_hex(4)}"
    acct = c.call("POST", "/api/v1/crm/accounts", v_key, json={"name": marker}).json()
    attempts = [
        ("GET", f"/api/v1/crm/accounts/{acct['id']}", None),
        ("PATCH", f"/api/v1/crm/accounts/{acct['id']}", {"name": "taken"}),
        ("DELETE", f"/api/v1/crm/accounts/{acct['id']}", None),
        ("GET", f"/api/v1/crm/accounts?public_id={acct['public_id']}", None),
        ("GET", "/api/v1/crm/accounts?include_deleted=true&limit=500", None),
        ("GET", f"/api/v1/crm/jobs/{v_job}", None),
        ("GET", f"/api/v1/crm/jobs/{v_job}/errors", None),
        ("POST", f"/api/v1/crm/jobs/{v_job}/cancel", None),
        ("POST", f"/api/v1/crm/jobs/{v_job}/revert", {"dry_run": True}),
        ("GET", f"/api/v1/crm/change_events?record_id={acct['id']}", None),
        ("POST", "/api/v1/crm/contacts", {"first_name": "x", "last_name": "y",
                                          "account_id": acct["id"]}),
        ("GET", "/api/v1/crm/export", None),
    ]
    leaks = []
    for method, path, body in attempts:
        resp = c.call(method, path, h_key, json=body)
        direct = "/accounts/" in path or "/jobs/" in path
        if marker.encode() in resp.content or (direct and resp.status_code < 400):
            leaks.append(f"{method} {path} {resp.status_code}")
    after = c.call("GET", f"/api/v1/crm/accounts/{acct['id']}", v_key).json()
    if after.get("name") != marker or after.get("deleted_at"):
        leaks.append("victim row changed")
    return {"attempts": len(attempts), "leaks": leaks}


def run(budget: float) -> dict:
    with bench_environment(prefix="dp-adversarial-") as bench:
        hostile = organizations.create_organization("hostile")
        victim = organizations.create_organization("victim")
        h_key, v_key = hostile["api_key"], victim["api_key"]
        services = start_platform(bench)
        api, wrk = services.api, services.worker
        c = Client(services.base, time.monotonic() + budget)

        first = _import(c, v_key, orjson.dumps({"version": 1, "accounts": [
            {"public_id": "acct_v0", "name": "victim"}]}), gz=False).json()
        _wait_job(c, v_key, first["id"], 60)
        report: dict = {"custom_fields": _custom_fields_lists(c, h_key)}

        delays: list[dict] = []
        stop = threading.Event()
        follower = threading.Thread(target=_victim_delays, args=(c, v_key, stop, delays),
                                    daemon=True)
        follower.start()
        huge, wide = _huge_string_bundle(), _wide_rows_bundle()
        report["bundles"] = {"huge_string_gzip_bytes": len(huge), "wide_rows_gzip_bytes":
                             len(wide)}
        jobs = []
        for body in (huge, huge, wide):
            resp = _import(c, h_key, body, gz=True)
            jobs.append(resp.json().get("id") if resp.status_code == 202 else resp.status_code)
        ends = []
        for job_id in jobs:
            if isinstance(job_id, str):
                job = _wait_job(c, h_key, job_id, 240)
                ends.append({"status": job.get("status"),
                             "error": (job.get("error") or {}).get("code"),
                             "failed_rows": sum(p.get("failed", 0) for p in
                                                (job.get("progress") or {}).values())})
            else:
                ends.append({"upload_status": job_id})
        report["hostile_jobs"] = ends
        time.sleep(2)  # one more victim import after H's jobs ended
        stop.set()
        follower.join(150)
        health = [c.call("GET", "/healthz").status_code for _ in range(5)]
        report["healthz"] = sorted(set(health))
        report["cross_tenant"] = _cross_tenant(c, h_key, v_key, first["id"])
        report["victim_imports"] = len(delays)
        slowest = max(delays, key=lambda d: d["total_s"]) if delays else None
        report["victim_max_delay_s"] = slowest["total_s"] if slowest else None
        report["victim_slowest"] = slowest
        report["victim_delays_s"] = [d["total_s"] for d in delays]
        report["peak_rss"] = {"api": api.stop(), "worker": wrk.stop()}
        report["requests"] = c.sent
        report["server_errors_5xx"] = c.server_errors
        report["budget_s"] = budget
        report["time_left_s"] = round(c.left(), 1)
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300,
                        help="seconds the whole run may take (waits stop there)")
    args = parser.parse_args()
    print(json.dumps(run(args.budget), indent=2))


if __name__ == "__main__":
    main()
