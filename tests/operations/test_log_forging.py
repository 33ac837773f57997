"""The plain-text log cannot be forged through a request (issue 19, Low): CR, LF and other
control characters in a path (`%0A`) are escaped, so one request is one line."""
from __future__ import annotations

import dataclasses
import io
import logging

from shared import logging_setup


def test_a_path_with_newlines_stays_one_access_log_line(client, settings):
    stream = io.StringIO()
    handler = logging_setup.make_handler(dataclasses.replace(settings, log_json=False), stream)
    access = logging.getLogger("drippulse.access")
    access.addHandler(handler)
    old_level = access.level
    access.setLevel(logging.INFO)
    try:
        client.get("/api/v1/x%0A2026-01-01 00:00:00 INFO drippulse.access GET /admin 200%0D%1B[31m")
    finally:
        access.removeHandler(handler)
        access.setLevel(old_level)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "\\n2026-01-01" in lines[0] and "\\r" in lines[0] and "\\x1b[31m" in lines[0]
    assert "\x1b" not in stream.getvalue()


def test_tracebacks_keep_their_lines(settings):
    stream = io.StringIO()
    handler = logging_setup.make_handler(dataclasses.replace(settings, log_json=False), stream)
    log = logging.getLogger("drippulse.test-forging")
    log.addHandler(handler)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed for %s", "a\nb")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "failed for a\\nb" in text
    assert "Traceback (most recent call last):\n" in text
