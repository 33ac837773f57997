"""The kinds of job. A kind is one module that defines `KIND = JobKind(...)` and is listed in
KIND_MODULES; the worker registers a `drippulse.<name>.run` task for each (worker/tasks.py), and
shared.jobs.runner drives it: lock, start, run, finish.

What a kind declares:
- validate(params) → {param: [problems]}: every problem of a new job's parameters at once;
- needs_start(job, stalled) → whether this delivery starts (counts) an attempt; a kind that
  resumes work across deliveries (import) says no for a running job that is moving;
- run(job, enqueue) → the final Ending, or None while units of work remain (they were queued),
  called under the job's lock; raising JobFailed fails the job with its code and message;
- after(job_id, enqueue) → moves the job on once the lock is released (import: batches).
"""
from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from shared.jobs.dispatch import Enqueue
from shared.jobs.status import JobStatus

KIND_MODULES = ("shared.bundle.import_job", "shared.bundle.export_jobs",
                "shared.bundle.revert_job")


@dataclass(frozen=True)
class Ending:
    """How a run ends a job: its final status, error and the columns it sets (result, …)."""

    status: JobStatus
    error: dict | None = None
    values: dict[str, Any] = field(default_factory=dict)


class JobFailed(Exception):
    """The job cannot go on (its input is unusable): it fails with this code and message."""

    def __init__(self, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.error = {"code": code, "message": message, **detail}


@dataclass(frozen=True)
class JobKind:
    name: str
    queue: str
    validate: Callable[[dict[str, Any]], dict[str, list[str]]]
    run: Callable[[Any, Enqueue], Ending | None]
    needs_start: Callable[[Any, bool], bool] = lambda job, stalled: True
    after: Callable[[uuid.UUID, Enqueue], str] | None = None
    # what a failed job says when its run raised something unexpected (a bug, bad storage)
    failure_code: str = "job_failed"
    failure_message: str = "the job could not be completed"


@cache
def all_kinds() -> dict[str, JobKind]:
    found = {}
    for module in KIND_MODULES:
        kind = importlib.import_module(module).KIND
        found[kind.name] = kind
    return found


def kind_of(name: str) -> JobKind:
    return all_kinds()[name]


def names() -> tuple[str, ...]:
    return tuple(all_kinds())
