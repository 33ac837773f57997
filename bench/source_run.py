"""The converter path against the bundle path: the same rows imported once as CSV files with a
mapping (`?source=csv`) and once as a JSON bundle, each on a fresh database with its own API
server and worker; prints rows/s of both, their ratio and the worker's peak memory.

    python -m bench.source_run --rows 1000000 [--out result.json]

Rows: 10% accounts, 90% contacts, each contact pointing at an account — by the account's
external id in the CSV (the converter's reference path), by public_id in the bundle.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import time
import zipfile
from datetime import datetime
from pathlib import Path

import orjson
import requests

from bench import processes
from bench.harness import bench_environment
from bench.run import _wait_http
from drippulse.proc import free_port
from shared.services import organizations

MAPPING = {"version": 1, "external_system": "legacy", "files": [
    {"file": "accounts.csv", "entity": "accounts", "id_column": "id",
     "columns": {"name": "name", "domain": "domain", "industry": "industry", "phone": "phone",
                 "employees": "employee_count", "tier": "custom_fields.tier"},
     "unmapped": "ignore"},
    {"file": "contacts.csv", "entity": "contacts", "id_column": "id",
     "columns": {"first": "first_name", "last": "last_name", "email": "email",
                 "phone": "phone", "title": "title", "tier": "custom_fields.tier"},
     "references": {"account_public_id": {"column": "account", "by": "external_id"}},
     "unmapped": "ignore"}]}
ACCOUNT_COLUMNS = ("id", "name", "domain", "industry", "phone", "employees", "tier")
CONTACT_COLUMNS = ("id", "first", "last", "email", "phone", "title", "account", "tier")


def _rows(rows: int):
    rng = random.Random(11)
    accounts = max(1, rows // 10)
    for i in range(accounts):
        yield "accounts", {"id": f"A{i}", "name": f"Account {i}", "domain": f"a{i}.example.com",
                           "industry": rng.choice(["Software", "Retail", "Energy"]),
                           "phone": f"+1-555-{i % 10000:04d}",
                           "employees": str(rng.randint(1, 5000)), "tier": rng.choice("ABC")}
    for i in range(rows - accounts):
        yield "contacts", {"id": f"C{i}", "first": rng.choice(["Ada", "Grace", "Alan"]),
                           "last": rng.choice(["Lovelace", "Hopper", "Turing"]),
                           "email": f"c{i}@example.com", "phone": f"+1-555-{i % 10000:04d}",
                           "title": rng.choice(["CTO", "Buyer", "Engineer"]),
                           "account": f"A{rng.randrange(accounts)}", "tier": rng.choice("ABC")}


def write_csv_zip(path: Path, rows: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        handles = {"accounts": archive.open("accounts.csv", "w", force_zip64=True)}
        writers = {"accounts": csv.writer(_Text(handles["accounts"]))}
        writers["accounts"].writerow(ACCOUNT_COLUMNS)
        for entity, row in _rows(rows):
            if entity not in writers:
                handles["accounts"].close()
                handles[entity] = archive.open("contacts.csv", "w", force_zip64=True)
                writers[entity] = csv.writer(_Text(handles[entity]))
                writers[entity].writerow(CONTACT_COLUMNS)
            columns = ACCOUNT_COLUMNS if entity == "accounts" else CONTACT_COLUMNS
            writers[entity].writerow([row[c] for c in columns])
        handles["contacts"].close()
        archive.writestr("mapping.json", orjson.dumps(MAPPING))


class _Text:
    def __init__(self, handle) -> None:
        self.handle = handle

    def write(self, text: str) -> None:
        self.handle.write(text.encode())


def write_bundle(path: Path, rows: int) -> None:
    """The same rows as a bundle: public_ids, references by public_id."""
    with open(path, "wb") as out:
        out.write(b'{"version":1')
        current = None
        for entity, row in _rows(rows):
            if entity != current:
                out.write((']' if current else '') .encode() + f',"{entity}":['.encode())
                current, first = entity, True
            bundle_row = {"public_id": f"x_{row['id']}", "external_system": "legacy",
                          "external_id": row["id"], "phone": row["phone"],
                          "custom_fields": {"tier": row["tier"]}}
            if entity == "accounts":
                bundle_row.update(name=row["name"], domain=row["domain"],
                                  industry=row["industry"], employee_count=int(row["employees"]))
            else:
                bundle_row.update(first_name=row["first"], last_name=row["last"],
                                  email=row["email"], title=row["title"],
                                  account_public_id=f"x_{row['account']}")
            out.write((b"" if first else b",") + orjson.dumps(bundle_row))
            first = False
        out.write(b"]}")


def _import(kind: str, rows: int) -> dict:
    with bench_environment(f"dp-bench-{kind}-") as bench:
        org = organizations.create_organization(f"{kind} bench")
        upload = bench.work / ("upload.zip" if kind == "csv" else "bundle.json")
        t0 = time.perf_counter()
        (write_csv_zip if kind == "csv" else write_bundle)(upload, rows)
        generated_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = processes.api_server(bench.env, port, bench.work / "api.log")
        wrk = processes.worker(bench.env, 2, bench.work / "worker.log")
        bench.children += [api, wrk]
        _wait_http(base + "/healthz")
        headers = {"Authorization": f"Bearer {org['api_key']}"}
        query, ctype = (("?source=csv", "application/zip") if kind == "csv"
                        else ("", "application/json"))
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
                "upload_mb": round(upload.stat().st_size / 1e6, 1),
                "generated_s": round(generated_s, 1), "wall_s": round(wall, 2),
                "job_run_s": round(run_s, 2), "rows_per_s": round(rows / wall),
                "worker_peak_rss_mb": worker_rss}


def run(rows: int, out: Path | None = None) -> dict:
    csv_result = _import("csv", rows)
    bundle_result = _import("bundle", rows)
    result = {"rows": rows, "csv": csv_result, "bundle": bundle_result,
              "csv_vs_bundle": round(csv_result["rows_per_s"] / bundle_result["rows_per_s"], 2)}
    print(json.dumps(result, indent=2))
    if out:
        out.write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="CSV converter path against the bundle path")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run(args.rows, args.out)


if __name__ == "__main__":
    main()
