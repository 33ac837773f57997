"""Human-readable output of the client commands: summary tables, errors, job lists."""
from __future__ import annotations

from typing import TextIO

from drippulse.progress import ordered_entities, reading_line

COUNTS = ("created", "updated", "unchanged", "failed")


def table(rows: list[list[str]], stream: TextIO, right: set[int] | None = None) -> None:
    """A plain aligned table; the first row is the header."""
    if not rows:
        return
    right = right or set()
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip(), file=stream)


def import_summary(job: dict, stream: TextIO) -> None:
    rows = [["entity", *COUNTS]]
    totals = dict.fromkeys(COUNTS, 0)
    for name, counts in ordered_entities(job.get("progress") or {}):
        rows.append([name, *(f"{int(counts.get(c) or 0):,}" for c in COUNTS)])
        for c in COUNTS:
            totals[c] += int(counts.get(c) or 0)
    rows.append(["total", *(f"{totals[c]:,}" for c in COUNTS)])
    table(rows, stream, right={1, 2, 3, 4})


def format_error(err: dict) -> str:
    """`contacts[3] cnt_x email: must be an email address`."""
    where = f"{err.get('entity', '?')}[{err.get('index', '?')}]"
    public_id = err.get("public_id")
    field = err.get("field")
    parts = [where] + ([public_id] if public_id else [])
    message = err.get("message") or err.get("code") or "invalid"
    return " ".join(parts) + (f" {field}: " if field else ": ") + str(message)


def job_error(job: dict) -> str | None:
    """The job's failure as a sentence: the server stores {"code", "message", "details"}."""
    error = job.get("error")
    if not error:
        return None
    if not isinstance(error, dict):
        return str(error)
    message = str(error.get("message") or error.get("code") or "failed")
    code = error.get("code")
    return f"{message} ({code})" if code and code != message else message


def has_counts(job: dict) -> bool:
    """Whether any row was counted: a job that failed before its first row has no table."""
    return any(int(counts.get(c) or 0) or int(counts.get("processed") or 0)
               for _, counts in ordered_entities(job.get("progress") or {}) for c in COUNTS)


def job_line(job: dict) -> str:
    return f"job {job.get('id')} {job.get('status')}"


def duration(job: dict) -> str | None:
    from datetime import datetime

    try:
        start = datetime.fromisoformat(job.get("started_at") or job["created_at"])
        end = datetime.fromisoformat(job["finished_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return f"{(end - start).total_seconds():.1f}s"


def jobs_table(jobs: list[dict], stream: TextIO) -> None:
    rows = [["id", "kind", "status", "percent", "errors", "created_at"]]
    for job in jobs:
        rows.append([job.get("id", ""), job.get("kind", ""), job.get("status", ""),
                     f"{job.get('percent', 0)}%", str(job.get("error_count", 0)),
                     job.get("created_at", "")])
    table(rows, stream, right={3, 4})


def job_details(job: dict, stream: TextIO) -> None:
    print(f"id:            {job.get('id')}", file=stream)
    print(f"kind:          {job.get('kind')}", file=stream)
    print(f"status:        {job.get('status')}  ({job.get('percent', 0)}%)", file=stream)
    if job.get("reading"):
        print(f"reading:       {reading_line(job['reading'])}", file=stream)
    for key in ("created_at", "started_at", "finished_at"):
        if job.get(key):
            print(f"{key + ':':<15}{job[key]}", file=stream)
    error = job_error(job)
    if error:
        print(f"error:         {error}", file=stream)
    print(f"errors:        {job.get('error_count', 0)}", file=stream)
    for name, link in (job.get("links") or {}).items():
        if link:
            print(f"{'link ' + name + ':':<15}{link}", file=stream)
    if job.get("kind") == "import" and has_counts(job):
        print(file=stream)
        import_summary(job, stream)
