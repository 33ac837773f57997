"""What a person reads: the summary table, error lines, and progress in logs and terminals."""
from __future__ import annotations

import io

from drippulse import render
from drippulse.progress import PlainReporter, TtyReporter, reporter_for


def _job(status: str, processed: int) -> dict:
    return {"id": "j1", "status": status, "percent": processed,
            "progress": {"contacts": {"total": 100, "processed": processed, "created": processed,
                                      "updated": 0, "unchanged": 0, "failed": 0},
                         "accounts": {"total": 10, "processed": 10, "created": 9,
                                      "updated": 1, "unchanged": 0, "failed": 0}}}


def test_summary_table_lists_entities_in_import_order_with_totals():
    out = io.StringIO()
    render.import_summary(_job("succeeded", 100), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["entity", "created", "updated", "unchanged", "failed"]
    assert [line.split()[0] for line in lines[1:]] == ["accounts", "contacts", "total"]
    assert lines[-1].split() == ["total", "109", "1", "0", "0"]


def test_error_line_names_row_field_and_message():
    err = {"entity": "contacts", "index": 3, "public_id": "cnt_x", "field": "email",
           "code": "invalid", "message": "must be an email address"}
    assert render.format_error(err) == "contacts[3] cnt_x email: must be an email address"


def test_plain_progress_prints_status_changes_and_counts_once():
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    reporter.upload(0, 1000)
    reporter.upload(1000, 1000)
    reporter.upload(1000, 1000)
    for job in (_job("queued", 0), _job("running", 50), _job("running", 50),
                _job("succeeded", 100)):
        reporter.job(job)
    text = stream.getvalue()
    assert text.count("uploaded") == 1
    assert "job j1 queued" in text and "job j1 running" in text and "job j1 succeeded" in text
    assert "contacts: 100/100" in text
    assert "\x1b[" not in text, "no terminal escapes in logs"


def test_terminal_bars_redraw_in_place_and_json_mode_is_silent():
    stream = io.StringIO()
    reporter = TtyReporter(stream)
    reporter.job(_job("running", 40))
    reporter.job(_job("succeeded", 100))
    reporter.close()
    text = stream.getvalue()
    assert "\x1b[3A" in text, "the second frame moves back over the three drawn lines"
    assert "[########################]" in text
    silent_out, silent_err = io.StringIO(), io.StringIO()
    quiet = reporter_for(True, silent_out, silent_err)
    quiet.job(_job("running", 40))
    assert silent_out.getvalue() == silent_err.getvalue() == ""
