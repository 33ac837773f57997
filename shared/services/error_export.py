"""A job's row errors as a file (CSV or JSON lines) for fix and resubmit.

Errors quote the upload (public ids, messages with the offending value), so a CSV cell may hold
anything a user sent: every cell is made inert before a spreadsheet sees it.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import orjson

from shared.csv_safety import inert_cell

FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
COLUMNS = ("entity", "index", "public_id", "field", "code", "message")
# Where a converted row is in the source (imports from other systems): file and row, or file,
# record and referenceId. Empty for bundle rows.
ORIGIN_COLUMNS = ("file", "row", "record", "referenceId")


def render(errors: Iterable[dict], fmt: str) -> Iterator[bytes]:
    if fmt == "jsonl":
        for error in errors:
            yield orjson.dumps(error) + b"\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = COLUMNS + ORIGIN_COLUMNS
    writer.writerow(columns)
    for error in errors:
        writer.writerow(["" if error.get(k) is None else inert_cell(str(error.get(k)))
                         for k in columns])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
