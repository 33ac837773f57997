"""`drippulse bench`: the benchmark of issue 6 (COPY anchor, import, export, memory, polling),
a converter against the bundle path (`--source csv|salesforce`, bench/source_run.py) and many
organizations importing at once (`--tenants N --tenant-rows M`, bench/tenants.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.run_settings import add_settings_argument, parse_settings, settings_arguments


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        settings = parse_settings(settings_arguments(args.settings, args.batch_size))
    except ValueError as exc:
        print(f"drippulse bench: {exc}", file=sys.stderr)
        return 2
    if args.tenants is not None:
        if args.source != "bundle":
            print("drippulse bench: --tenants imports bundles; leave out --source",
                  file=sys.stderr)
            return 2
        from bench.tenants import run as run_tenants

        result = run_tenants(args.tenants, args.tenant_rows, args.out, settings=settings)
        return 0 if result["all_succeeded"] else 1
    if args.source != "bundle":
        from bench.source_run import run as run_source

        compared = run_source(args.rows, args.out, args.source, settings)
        ok = compared[args.source]["status"] == compared["bundle"]["status"] == "succeeded"
        return 0 if ok else 1
    from bench.run import run

    result = run(args.rows, args.out, args.profile, args.concurrency, settings)
    return 0 if result["import"]["status"] == "succeeded" else 1


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure import/export against a raw COPY on a fresh database")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--out", type=Path, help="write the JSON result here")
    p.add_argument("--profile", action="store_true",
                   help="run the worker under py-spy (pip install -e '.[bench]')")
    p.add_argument("--concurrency", type=int, default=2, help="worker processes")
    p.add_argument("--batch-size", type=int,
                   help="rows per import batch: --set DRIPPULSE_BATCH_SIZE=N")
    p.add_argument("--source", choices=("bundle", "csv", "salesforce"), default="bundle",
                   help="csv / salesforce: the same rows through that converter against the "
                        "bundle path")
    p.add_argument("--tenants", type=_at_least_one, metavar="N",
                   help="N organizations each import a bundle at the same moment (one API "
                        "server, one worker)")
    p.add_argument("--tenant-rows", type=_at_least_one, default=50_000, metavar="M",
                   help="rows of each organization's bundle with --tenants (default 50000)")
    add_settings_argument(p)
    p.set_defaults(handler=cmd_bench)
