"""Logging: plain lines for people, JSON lines (DRIPPULSE_LOG_JSON) for log shippers.

`log_context` carries the request id (API) or the job and organization ids (worker); every line
logged inside that context carries them, in both formats.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from shared.config import Settings

log_context: ContextVar[dict | None] = ContextVar("log_context", default=None)

# our code logs under these names (`drippulse.*` or a module's __name__ in one of the packages)
LOGGER_NAMES = ("drippulse", "api", "shared", "worker")


@contextmanager
def bound_log_context(**values: object) -> Iterator[dict]:
    """Add values to the log context for the duration of the block."""
    merged = {**(log_context.get() or {}),
              **{k: str(v) for k, v in values.items() if v is not None}}
    token = log_context.set(merged)
    try:
        yield merged
    finally:
        log_context.reset(token)


def job_log_context(job_id: object, org_id: object = None) -> AbstractContextManager[dict]:
    """Worker tasks: `with job_log_context(job_id, org_id): ...` tags every line with the job."""
    return bound_log_context(job_id=job_id, organization_id=org_id)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = log_context.get() or {}
        for key, value in context.items():
            setattr(record, key, value)
        record.context = " ".join(f"{k}={v}" for k, v in context.items())
        return True


# C0/C1 controls, DEL and the Unicode line separators: any of them in a message (a request path
# with %0A, a value quoted into an error) could start a forged line or repaint a terminal
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x1b`)."""
    return _CONTROLS.sub(lambda m: _NAMED.get(m.group(), m.group().encode(
        "unicode_escape").decode("ascii")), text)


class PlainFormatter(logging.Formatter):
    """One record, one line: the message and context are escaped; a traceback, appended after
    them by logging itself, keeps its lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        context = getattr(record, "context", "")
        line = f"{line} [{context}]" if context else line
        return escape_controls(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(log_context.get() or {})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def make_handler(settings: Settings, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if settings.log_json else PlainFormatter())
    return handler


def configure_logging(settings: Settings) -> None:
    handler = None
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if getattr(logger, "_drippulse_configured", False):
            continue
        handler = handler or make_handler(settings)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # package loggers keep propagating (pytest's caplog listens on the root; the root has no
        # handler in gunicorn or celery, so nothing prints twice)
        logger.propagate = name != "drippulse"
        logger._drippulse_configured = True
