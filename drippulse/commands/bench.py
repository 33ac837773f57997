"""`drippulse bench`: the benchmark of issue 6 (COPY anchor, import, export, memory, polling)."""
from __future__ import annotations

import argparse
from pathlib import Path


def cmd_bench(args: argparse.Namespace) -> int:
    if args.source == "csv":
        from bench.source_run import run as run_source

        compared = run_source(args.rows, args.out)
        ok = compared["csv"]["status"] == compared["bundle"]["status"] == "succeeded"
        return 0 if ok else 1
    from bench.run import run

    result = run(args.rows, args.out, args.profile, args.concurrency, args.batch_size)
    return 0 if result["import"]["status"] == "succeeded" else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure import/export against a raw COPY on a fresh database")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--out", type=Path, help="write the JSON result here")
    p.add_argument("--profile", action="store_true",
                   help="run the worker under py-spy (pip install -e '.[bench]')")
    p.add_argument("--concurrency", type=int, default=2, help="worker processes")
    p.add_argument("--batch-size", type=int, help="rows per import batch (default: settings)")
    p.add_argument("--source", choices=("bundle", "csv"), default="bundle",
                   help="csv: the same rows through the CSV converter against the bundle path")
    p.set_defaults(handler=cmd_bench)
