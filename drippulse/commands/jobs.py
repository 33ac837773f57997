"""`drippulse jobs list|show|cancel|errors|retry`: look after import and export jobs."""
from __future__ import annotations

import argparse
import itertools
import json
import sys

from drippulse import render
from drippulse.cliutil import EXIT_OK, client_command, client_options, make_client, print_json
from drippulse.commands.transfer import exit_code, wait
from drippulse.progress import reporter_for


@client_command
def cmd_list(args: argparse.Namespace) -> int:
    client = make_client(args)
    jobs = list(itertools.islice(client.iter_jobs(kind=args.kind, status=args.status,
                                                  limit=min(args.limit, 100)), args.limit))
    if args.json:
        print_json({"items": jobs})
    elif not jobs:
        print("no jobs")
    else:
        render.jobs_table(jobs, sys.stdout)
    return EXIT_OK


@client_command
def cmd_show(args: argparse.Namespace) -> int:
    client = make_client(args)
    return _follow_and_report(client, client.get_job(args.id), args, render.job_details)


@client_command
def cmd_cancel(args: argparse.Namespace) -> int:
    job = make_client(args).cancel_job(args.id)
    if args.json:
        print_json(job)
    else:
        print(f"{render.job_line(job)} (cancel requested; a running job stops after its "
              f"current batch)" if job.get("status") not in ("cancelled",) else
              render.job_line(job))
    return EXIT_OK


@client_command
def cmd_errors(args: argparse.Namespace) -> int:
    errors = make_client(args).iter_job_errors(args.id)
    if args.limit:
        errors = itertools.islice(errors, args.limit)
    if args.json:
        print_json({"items": list(errors)})
        return EXIT_OK
    count = 0
    for err in errors:
        # JSON lines are what --errors-out writes; a table is easier to read by eye
        print(json.dumps(err, default=str) if args.jsonl else render.format_error(err))
        count += 1
    if not count and not args.jsonl:
        print("no errors", file=sys.stderr)
    return EXIT_OK


@client_command
def cmd_retry(args: argparse.Namespace) -> int:
    client = make_client(args)
    return _follow_and_report(client, client.retry_job(args.id), args,
                              lambda job, out: print(render.job_line(job), file=out))


@client_command
def cmd_revert(args: argparse.Namespace) -> int:
    client = make_client(args)
    job = client.revert_job(args.id, dry_run=args.dry_run, force=args.force)
    return _follow_and_report(client, job, args,
                              lambda job, out: print(render.job_line(job), file=out))


def _follow_and_report(client, job: dict, args: argparse.Namespace, show) -> int:
    """With --wait, follow the job like `import` does; then print it (or its JSON)."""
    if args.wait:
        reporter = reporter_for(args.json)
        job = wait(client, job, reporter)
        reporter.close()
    if args.json:
        print_json(job)
    else:
        show(job, sys.stdout)
    return exit_code(job) if args.wait else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    common = client_options()
    jobs = sub.add_parser("jobs", help="list, inspect, cancel, retry and revert jobs")
    cmds = jobs.add_subparsers(dest="jobs_cmd", metavar="ACTION")
    cmds.required = True

    def action(name: str, handler, help_text: str, with_id: bool = True):
        p = cmds.add_parser(name, parents=[common], help=help_text)
        if with_id:
            p.add_argument("id", help="job id")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=handler)
        return p

    p = action("list", cmd_list, "recent jobs, newest first", with_id=False)
    p.add_argument("--kind", choices=("import", "export", "revert"))
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=20)
    p = action("show", cmd_show, "one job's status and counts")
    p.add_argument("--wait", action="store_true",
                   help="follow the job until it ends (exit code as for import)")
    action("cancel", cmd_cancel, "ask a queued or running job to stop")
    p = action("errors", cmd_errors, "the rows a job rejected, and why")
    p.add_argument("--limit", type=int, default=0, help="at most this many (default: all)")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    p = action("retry", cmd_retry, "run a failed or cancelled job again (if the server can)")
    p.add_argument("--wait", action="store_true", help="follow the new run")
    p = action("revert", cmd_revert, "undo a finished import: rows it created are deleted, "
               "rows it updated get their values back")
    p.add_argument("--dry-run", action="store_true",
                   help="preview: what would be reverted and the conflicts, nothing changed")
    p.add_argument("--force", action="store_true",
                   help="also revert rows someone changed after the import")
    p.add_argument("--wait", action="store_true", help="follow the revert to its end")
