"""Where a converted row came from, in words: `Contact.csv row 5`, `Accounts.json record 2
(AccountRef3)`; and the warnings of a conversion. Shared by `import --source` (the job's errors
and warnings) and `convert` (the local converter's)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from drippulse import render

FIRST_WARNINGS = 20


def origin_text(where: dict[str, Any]) -> str | None:
    """The file and row (CSV) or record (JSON) a row or error names; None when it names none."""
    file = where.get("file")
    if not file:
        return None
    if where.get("row") is not None:
        return f"{file} row {where['row']}"
    if where.get("record") is not None:
        ref = where.get("referenceId")
        return f"{file} record {where['record']}" + (f" ({ref})" if ref else "")
    return str(file)


def format_job_error(err: dict[str, Any]) -> str:
    """A job error, led by its source file and row when the row was converted."""
    origin = origin_text(err)
    line = render.format_error(err)
    return f"{origin}: {line}" if origin else line


def format_warning(warning: dict[str, Any]) -> str:
    """`file (object X, column Y): message`; converters often start the message with the
    file's name already, which is then not said twice."""
    message = str(warning.get("message") or warning.get("code") or "warning")
    file = warning.get("file")
    if file and message.startswith(f"{file}:"):
        file = None
    where = file
    detail = ", ".join(f"{key} {warning[key]}" for key in ("object", "column")
                       if warning.get(key) and str(warning[key]) not in message)
    if detail:
        where = f"{where} ({detail})" if where else detail
    return f"{where}: {message}" if where else message


def print_warnings(warnings: Sequence[dict[str, Any]], stream: TextIO, *, prefix: str = "  ",
                   limit: int = FIRST_WARNINGS, more_hint: str = "") -> None:
    """The first `limit` warnings, one per line, then how many were not shown."""
    for warning in warnings[:limit]:
        print(prefix + format_warning(warning), file=stream)
    if len(warnings) > limit:
        print(f"{prefix}… {len(warnings) - limit} more{more_hint}", file=stream)
