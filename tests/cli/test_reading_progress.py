"""Issue 17: while an import reads its upload, the CLI says how far it got (the job JSON's
`reading`) instead of sitting at 0% with nothing moving."""
from __future__ import annotations

import io

from drippulse import render
from drippulse.progress import PlainReporter, TtyReporter

GIB = 1024 ** 3
LINE = "Reading the upload… 1.2 GB of 4.2 GB (28%) · 2,900,000 rows"


def _job(reading: dict | None, total: int = 0) -> dict:
    return {"id": "j1", "kind": "import", "status": "running", "percent": 0, "error_count": 0,
            "reading": reading,
            "progress": {"accounts": {"total": total, "processed": 0, "created": 0,
                                      "updated": 0, "unchanged": 0, "failed": 0}}}


READING = {"bytes": int(1.2 * GIB), "bytes_total": int(4.2 * GIB), "rows": 2_900_000}


def test_logs_say_how_far_reading_the_upload_got():
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    reporter.job(_job(READING))
    reporter.job(_job({**READING, "rows": 2_900_100}))  # a second later: not a line per beat
    reporter.job(_job(None, total=10))  # spooled: the counts take over
    lines = stream.getvalue().splitlines()
    assert lines == ["job j1 running", f"  {LINE}"]


def test_an_unknown_upload_size_shows_bytes_and_rows_only():
    stream = io.StringIO()
    PlainReporter(stream).job(_job({"bytes": 2048, "bytes_total": None, "rows": 12}))
    assert "  Reading the upload… 2.0 KB · 12 rows" in stream.getvalue().splitlines()


def test_the_terminal_frame_and_job_details_show_the_reading_line():
    stream = io.StringIO()
    reporter = TtyReporter(stream)
    reporter.job(_job(READING))
    reporter.close()
    assert LINE in stream.getvalue()
    details = io.StringIO()
    render.job_details(_job(READING), details)
    assert f"reading:       {LINE}" in details.getvalue().splitlines()
    finished = io.StringIO()
    render.job_details({**_job(None), "status": "succeeded"}, finished)
    assert "Reading" not in finished.getvalue()
