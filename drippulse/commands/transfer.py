"""`drippulse import FILE` and `drippulse export -o FILE`: move bundles through the HTTP API."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drippulse import render
from drippulse.client import DripPulseClient
from drippulse.cliutil import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_WITH_ERRORS,
    client_command,
    client_options,
    make_client,
    print_json,
)
from drippulse.progress import Reporter, ordered_entities, reporter_for

FIRST_ERRORS = 10


def exit_code(job: dict) -> int:
    """0 succeeded, 2 completed with row errors, 1 anything else (failed, cancelled)."""
    status = job.get("status")
    if status == "succeeded":
        return EXIT_OK
    if status == "completed_with_errors":
        return EXIT_WITH_ERRORS
    return EXIT_FAILED


def wait(client: DripPulseClient, job: dict, reporter: Reporter) -> dict:
    try:
        return client.wait_for_job(job["id"], on_progress=reporter.job)
    except KeyboardInterrupt:
        reporter.close()
        print(f"\nstopped waiting; job {job['id']} goes on on the server.\n"
              f"  follow it:  drippulse jobs show {job['id']} --wait\n"
              f"  cancel it:  drippulse jobs cancel {job['id']}", file=sys.stderr)
        raise


def write_errors(client: DripPulseClient, job_id: str, path: Path) -> int:
    """Every failed row's error as one JSON line: fix the rows, resubmit them."""
    count = 0
    with path.open("w") as out:
        for err in client.iter_job_errors(job_id):
            out.write(json.dumps(err, default=str) + "\n")
            count += 1
    return count


@client_command
def cmd_import(args: argparse.Namespace) -> int:
    client = make_client(args)
    # a cheap authenticated GET first: a wrong key or URL fails in a moment, not after
    # streaming a large file into a closed connection
    client.whoami()
    reporter = reporter_for(args.json)
    source = sys.stdin.buffer if args.file == "-" else args.file
    job = client.submit_import(source, dry_run=args.dry_run,
                               idempotency_key=args.idempotency_key,
                               on_upload_progress=reporter.upload)
    if args.no_wait:
        reporter.close()
        if args.json:
            print_json(job)
        else:
            print(f"job {job['id']} {job.get('status')}")
            print(f"  follow it:  drippulse jobs show {job['id']} --wait")
        return EXIT_OK
    job = wait(client, job, reporter)
    reporter.close()
    written = None
    if args.errors_out:
        written = write_errors(client, job["id"], Path(args.errors_out))
    if args.json:
        print_json(job)
        return exit_code(job)
    out = sys.stdout
    took = render.duration(job)
    print(f"{'dry run ' if args.dry_run else ''}{render.job_line(job)}"
          + (f" in {took}" if took else ""), file=out)
    if job.get("error"):
        print(f"error: {job['error']}", file=out)
    print(file=out)
    render.import_summary(job, out)
    if job.get("error_count"):
        print(f"\nfirst errors ({job['error_count']} in all):", file=out)
        for i, err in enumerate(client.iter_job_errors(job["id"], page_size=FIRST_ERRORS)):
            if i >= FIRST_ERRORS:
                break
            print("  " + render.format_error(err), file=out)
        if written is not None:
            print(f"\nall {written} errors written to {args.errors_out} (JSON lines)", file=out)
        else:
            print(f"\nall errors:  drippulse jobs errors {job['id']}  "
                  f"(or import again with --errors-out FILE)", file=out)
    elif written is not None:
        print(f"\nno errors; {args.errors_out} is empty", file=out)
    if args.dry_run:
        print("\ndry run: nothing was written", file=out)
    return exit_code(job)


@client_command
def cmd_export(args: argparse.Namespace) -> int:
    client = make_client(args)
    reporter = reporter_for(args.json)
    gzip = args.gzip or args.output.endswith(".gz")
    job = client.start_export(gzip=gzip)
    job = wait(client, job, reporter)
    if job.get("status") != "succeeded":
        reporter.close()
        if args.json:
            print_json(job)
        else:
            print(f"{render.job_line(job)}" + (f": {job['error']}" if job.get("error") else ""))
        return exit_code(job)
    size = client.download(job, args.output, gzip=gzip, on_progress=reporter.download)
    reporter.close()
    if args.json:
        print_json({**job, "output": {"path": str(Path(args.output).resolve()), "bytes": size}})
    else:
        counts = ", ".join(f"{name} {int(c.get('processed') or c.get('total') or 0):,}"
                           for name, c in ordered_entities(job.get("progress") or {}))
        print(f"exported to {args.output} ({size:,} bytes{', gzip' if gzip else ''})")
        if counts:
            print(f"  {counts}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    common = client_options()
    p = sub.add_parser("import", parents=[common],
                       help="upload a bundle and follow the import job",
                       description="Upload a JSON bundle (plain or .gz; gzipped on the wire) "
                       "and follow the job. Exit code: 0 succeeded, 2 completed with row "
                       "errors, 1 failed, cancelled or not submitted.")
    p.add_argument("file", help="bundle file (.json or .json.gz), or - for stdin")
    p.add_argument("--dry-run", action="store_true", help="validate everything, write nothing")
    p.add_argument("--no-wait", action="store_true", help="print the job id and return")
    p.add_argument("--errors-out", metavar="FILE",
                   help="write each failed row's error as a JSON line to FILE")
    p.add_argument("--idempotency-key", help="reuse a key to make a resubmission a no-op "
                   "(default: a fresh key per run, reused across its retries)")
    p.add_argument("--json", action="store_true", help="no progress; print the job as JSON")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("export", parents=[common], help="export the organization to a file",
                       description="Run an export job and download its bundle.")
    p.add_argument("-o", "--output", required=True, help="destination file")
    p.add_argument("--gzip", action="store_true", help="write gzip (default when -o ends .gz)")
    p.add_argument("--json", action="store_true", help="no progress; print the job as JSON")
    p.set_defaults(handler=cmd_export)
