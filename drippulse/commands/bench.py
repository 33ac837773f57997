"""`drippulse bench`: the benchmark of issue 6 (COPY anchor, import, export, memory, polling)."""
from __future__ import annotations

import argparse
from pathlib import Path


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.run import run

    result = run(args.rows, args.out, args.profile, args.concurrency)
    return 0 if result["import"]["status"] == "succeeded" else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure import/export against a raw COPY on a fresh database")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--out", type=Path, help="write the JSON result here")
    p.add_argument("--profile", action="store_true", help="sample the worker with py-spy")
    p.add_argument("--concurrency", type=int, default=2, help="worker processes")
    p.set_defaults(handler=cmd_bench)
