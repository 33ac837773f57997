"""`drippulse import` and `drippulse export -o FILE`: move data through the HTTP API.

`import FILE` uploads a bundle; `import --source salesforce|hubspot|csv PATH…` uploads another
system's export as one zip for the server to convert. `export --format csv` downloads a zip of
CSV files instead of a bundle.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drippulse import interop_inputs, interop_render, render
from drippulse.client import EXPORT_FORMATS, IMPORT_SOURCES, ApiError, DripPulseClient
from drippulse.cliutil import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_WITH_ERRORS,
    client_command,
    client_options,
    make_client,
    print_json,
)
from drippulse.progress import Reporter, human_bytes, ordered_entities, reporter_for

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


def _usage_problem(args: argparse.Namespace) -> str | None:
    if args.source is None:
        if args.mapping or args.create_stages:
            return "--mapping and --create-stages need --source"
        if len(args.paths) != 1:
            return "a bundle import takes one FILE (other systems' exports need --source)"
        return None
    if args.mapping and args.source != "csv":
        return "--mapping applies to --source csv only"
    if "-" in args.paths:
        return "--source imports read files, not stdin"
    return None


def _submit(args: argparse.Namespace, client: DripPulseClient, reporter: Reporter) -> dict:
    if args.source is None:
        source = sys.stdin.buffer if args.paths[0] == "-" else args.paths[0]
        reporter.start_upload("bundle (gzip)")
        return client.submit_import(source, dry_run=args.dry_run,
                                    idempotency_key=args.idempotency_key,
                                    on_upload_progress=reporter.upload)
    with interop_inputs.pack(args.paths, args.mapping) as packed:
        if packed.temporary:
            reporter.note(f"packed {len(packed.names)} file(s) into a "
                          f"{human_bytes(packed.path.stat().st_size)} zip")
        reporter.start_upload("zip")
        return client.submit_source_zip(args.source, packed.path, dry_run=args.dry_run,
                                        create_stages=args.create_stages,
                                        idempotency_key=args.idempotency_key,
                                        on_upload_progress=reporter.upload)


def _print_mapping_problems(exc: ApiError) -> None:
    """A refused mapping: one line per problem, named by its place in the mapping file."""
    print(f"drippulse: the mapping was refused: {exc.message}", file=sys.stderr)
    details = exc.details if isinstance(exc.details, dict) else {}
    for problem in details.get("problems") or []:
        print(f"  {problem.get('path') or '(mapping)'}: {problem.get('message')}",
              file=sys.stderr)


def _warnings(job: dict, submitted: dict) -> list[dict]:
    # the finished job holds the conversion's warnings; the 202 answer those of the upload
    return list(job.get("warnings") or submitted.get("warnings") or [])


@client_command
def cmd_import(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        args.usage_error(problem)
    client = make_client(args)
    # a cheap authenticated GET first: a wrong key or URL fails in a moment, not after
    # streaming a large file into a closed connection
    client.whoami()
    reporter = reporter_for(args.json)
    try:
        submitted = _submit(args, client, reporter)
    except interop_inputs.InputError as exc:
        reporter.close()
        print(f"drippulse: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ApiError as exc:
        reporter.close()
        if exc.code != "invalid_mapping" or args.json:
            raise
        _print_mapping_problems(exc)
        return EXIT_FAILED
    if args.no_wait:
        reporter.close()
        if args.json:
            print_json(submitted)
        else:
            print(f"job {submitted['id']} {submitted.get('status')}")
            if submitted.get("warnings"):
                print("warnings:")
                interop_render.print_warnings(submitted["warnings"], sys.stdout)
            print(f"  follow it:  drippulse jobs show {submitted['id']} --wait")
        return EXIT_OK
    job = wait(client, submitted, reporter)
    reporter.close()
    written = None
    if args.errors_out:
        written = write_errors(client, job["id"], Path(args.errors_out))
    if args.json:
        print_json(job)
        return exit_code(job)
    _print_summary(args, client, job, _warnings(job, submitted), written)
    return exit_code(job)


def _print_summary(args: argparse.Namespace, client: DripPulseClient, job: dict,
                   warnings: list[dict], written: int | None) -> None:
    out = sys.stdout
    took = render.duration(job)
    print(f"{'dry run ' if args.dry_run else ''}{render.job_line(job)}"
          + (f" in {took}" if took else ""), file=out)
    error = render.job_error(job)
    if error:
        print(f"error: {error}", file=out)
    if render.has_counts(job) or not error:  # a job that failed at once: no table of zeros
        print(file=out)
        render.import_summary(job, out)
    if warnings:
        print(f"\nwarnings ({len(warnings)}):", file=out)
        interop_render.print_warnings(
            warnings, out, more_hint=f" (drippulse jobs show {job['id']} --json)")
    if job.get("error_count"):
        print(f"\nfirst errors ({job['error_count']} in all):", file=out)
        for i, err in enumerate(client.iter_job_errors(job["id"], page_size=FIRST_ERRORS)):
            if i >= FIRST_ERRORS:
                break
            print("  " + interop_render.format_job_error(err), file=out)
        if written is not None:
            print(f"\nall {written} errors written to {args.errors_out} (JSON lines)", file=out)
        else:
            print(f"\nall errors:  drippulse jobs errors {job['id']}  "
                  f"(or import again with --errors-out FILE)", file=out)
    elif written is not None:
        print(f"\nno errors; {args.errors_out} is empty", file=out)
    if args.dry_run:
        print("\ndry run: nothing was written", file=out)


@client_command
def cmd_export(args: argparse.Namespace) -> int:
    csv = args.format == "csv"
    if csv and (args.gzip or args.output.endswith(".gz")):
        args.usage_error("a CSV export is a zip file: no --gzip, and no .gz output name")
    client = make_client(args)
    reporter = reporter_for(args.json)
    gzip = not csv and (args.gzip or args.output.endswith(".gz"))
    job = client.start_export(gzip=gzip, format=args.format)
    job = wait(client, job, reporter)
    if job.get("status") != "succeeded":
        reporter.close()
        if args.json:
            print_json(job)
        else:
            error = render.job_error(job)
            print(f"{render.job_line(job)}" + (f": {error}" if error else ""))
        return exit_code(job)
    size = client.download(job, args.output, gzip=gzip, on_progress=reporter.download)
    reporter.close()
    if args.json:
        print_json({**job, "output": {"path": str(Path(args.output).resolve()), "bytes": size}})
    else:
        counts = ", ".join(f"{name} {int(c.get('processed') or c.get('total') or 0):,}"
                           for name, c in ordered_entities(job.get("progress") or {}))
        kind = ", zip of CSV files" if csv else ", gzip" if gzip else ""
        print(f"exported to {args.output} ({size:,} bytes{kind})")
        if counts:
            print(f"  {counts}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    common = client_options()
    p = sub.add_parser("import", parents=[common],
                       help="upload a bundle (or another system's export) and follow the job",
                       description="Upload a JSON bundle (plain or .gz; gzipped on the wire), "
                       "or with --source a Salesforce, HubSpot or CSV export (directories, "
                       "files or a .zip, sent as one zip), and follow the job. Exit code: 0 "
                       "succeeded, 2 completed with row errors, 1 failed, cancelled or not "
                       "submitted.")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="bundle file (.json or .json.gz) or - for stdin; with --source: "
                   "directories, files or .zip files")
    p.add_argument("--source", choices=IMPORT_SOURCES,
                   help="the system the files come from; the server converts them")
    p.add_argument("--mapping", metavar="FILE",
                   help="with --source csv: the JSON mapping of columns to fields "
                   "(uploaded as mapping.json)")
    p.add_argument("--create-stages", action="store_true",
                   help="with --source: add the export's opportunity stages missing from the "
                   "pipeline")
    p.add_argument("--dry-run", action="store_true", help="validate everything, write nothing")
    p.add_argument("--no-wait", action="store_true", help="print the job id and return")
    p.add_argument("--errors-out", metavar="FILE",
                   help="write each failed row's error as a JSON line to FILE")
    p.add_argument("--idempotency-key", help="reuse a key to make a resubmission a no-op "
                   "(default: a fresh key per run, reused across its retries)")
    p.add_argument("--json", action="store_true", help="no progress; print the job as JSON")
    p.set_defaults(handler=cmd_import, usage_error=p.error)

    p = sub.add_parser("export", parents=[common], help="export the organization to a file",
                       description="Run an export job and download its bundle (or, with "
                       "--format csv, a zip of one CSV file per entity).")
    p.add_argument("-o", "--output", required=True, help="destination file")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="json",
                   help="json: a bundle (default); csv: a zip of CSV files")
    p.add_argument("--gzip", action="store_true",
                   help="write gzip (default when -o ends .gz; json format only)")
    p.add_argument("--json", action="store_true", help="no progress; print the job as JSON")
    p.set_defaults(handler=cmd_export, usage_error=p.error)
