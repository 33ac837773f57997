"""What a person sees from import and export: bars labelled for what they measure, one upload
line, a job's failure as a sentence, a stopped server named as such."""
from __future__ import annotations

import io
import json
import re

from drippulse import cli
from drippulse.progress import PlainReporter, TtyReporter
from drippulse.render import job_details
from tests.cli.fakeserver import FakeServer, job

FAILED_JOB = job(status="failed", error={"code": "bad_bundle",
                                         "message": "the bundle is not valid JSON"},
                 progress={"accounts": {"total": 0, "processed": 0}})


def _screen(text: str) -> list[str]:
    """Replay the reporter's output on a tiny terminal (cursor up, erase line/below)."""
    rows: list[str] = [""]
    row = 0
    for token in re.findall(r"\x1b\[\d*[AJK]|\x1b\[2K|\r|\n|[^\x1b\r\n]+", text):
        if token == "\n":
            row += 1
            if row == len(rows):
                rows.append("")
        elif token == "\r":
            continue
        elif token == "\x1b[2K":
            rows[row] = ""
        elif token == "\x1b[J":
            del rows[row + 1:]
            rows[row] = ""
        elif token.endswith("A"):
            row -= int(token[2:-1] or 1)
        else:
            rows[row] += token
    return [r for r in rows if r]


def _running(processed: int) -> dict:
    return {"id": "j1", "status": "running", "percent": processed,
            "progress": {"accounts": {"total": 10, "processed": processed},
                         "contacts": {"total": 10, "processed": processed}}}


def test_export_download_bar_is_labelled_download_and_starts_below_the_job_block():
    stream = io.StringIO()
    reporter = TtyReporter(stream)
    reporter.job(_running(5))
    reporter.job({**_running(10), "status": "succeeded", "percent": 100})
    reporter.download(500, 1000)
    reporter.download(1000, 1000)
    reporter.download(1000, 1000)  # the transport reports the end twice
    reporter.close()
    screen = _screen(stream.getvalue())
    assert [line.split()[0] for line in screen] == ["job", "accounts", "contacts", "download"]
    assert "succeeded" in screen[0]
    assert "100%" in screen[-1] and "upload" not in stream.getvalue()


def test_a_shorter_frame_clears_the_lines_a_longer_one_left():
    stream = io.StringIO()
    reporter = TtyReporter(stream)
    reporter.job(_running(5))
    reporter.job({"id": "j1", "status": "succeeded", "percent": 100, "progress": {}})
    reporter.close()
    assert _screen(stream.getvalue()) == ["job j1  succeeded  100%"]


def test_upload_is_drawn_once_on_a_terminal_and_in_logs():
    stream = io.StringIO()
    reporter = TtyReporter(stream)
    reporter.upload(1000, 1000)
    reporter.upload(1000, 1000)
    reporter.job(_running(5))
    reporter.close()
    screen = _screen(stream.getvalue())
    assert [line.split()[0] for line in screen] == ["upload", "job", "accounts", "contacts"]
    plain = io.StringIO()
    reporter = PlainReporter(plain)
    reporter.start_upload("zip")
    reporter.upload(1000, 1000)
    reporter.upload(1000, 1000)
    lines = plain.getvalue().splitlines()
    assert len(lines) == 2 and lines[0] == "uploading 1000 B zip"
    assert lines[1].startswith("uploaded 1000 B")
    plain = io.StringIO()
    reporter = PlainReporter(plain)
    reporter.start_upload("zip")
    reporter.upload(0, 4096)
    reporter.upload(4096, 4096)
    assert plain.getvalue().splitlines()[0] == "uploading 4.0 KB zip"
    assert "gzip" not in plain.getvalue()


def test_a_failed_job_prints_its_reason_not_a_dict_or_a_table_of_zeros(tmp_path, capsys):
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"version": 1, "accounts": []}))

    def respond(req):
        if req.path == "/api/v1/me":
            return 200, {}, {"organization": {}}
        if req.method == "POST":
            return 202, {}, job()
        return 200, {}, FAILED_JOB

    with FakeServer(respond) as server:
        code = cli.main(["import", str(bundle), "--url", server.url, "--token", "t"])
    out = capsys.readouterr().out
    assert code == 1
    assert "error: the bundle is not valid JSON (bad_bundle)" in out
    assert "{" not in out and "unchanged" not in out
    details = io.StringIO()
    job_details(FAILED_JOB, details)
    assert "error:         the bundle is not valid JSON (bad_bundle)" in details.getvalue()
    assert "unchanged" not in details.getvalue()


def test_a_stopped_server_is_named_not_urllib3(capsys):
    with FakeServer(lambda req: (200, {}, {})) as server:
        url = server.url
    code = cli.main(["jobs", "show", "job-1", "--url", url, "--token", "t"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (f"drippulse: cannot reach {url} (connection refused): "
                           "is the server running?")
