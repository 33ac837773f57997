"""A job's states and which moves between them are legal.

    queued ──start──▶ running ──finish──▶ succeeded | completed_with_errors | failed | cancelled
      │                  └──resume──▶ running (a redelivered or swept run; counts an attempt)
      ├──cancel──▶ cancelled (at once)        running ──cancel──▶ (flag; the run ends cancelled)
      └──give up──▶ failed (worker_lost)      failed ──retry──▶ queued
"""
from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"


STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED = tuple(s for s in JobStatus if s not in ACTIVE)
DONE_WELL = (JobStatus.SUCCEEDED, JobStatus.COMPLETED_WITH_ERRORS)

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.RUNNING, *FINISHED}),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.COMPLETED_WITH_ERRORS: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"a {current} job cannot become {wanted}")
        self.current, self.wanted = current, wanted


def check(current: str, wanted: JobStatus) -> None:
    if wanted not in ALLOWED[JobStatus(current)]:
        raise IllegalTransition(current, wanted)


def sources_of(wanted: JobStatus) -> tuple[str, ...]:
    """The states from which `wanted` may be reached (for guarded UPDATEs)."""
    return tuple(s.value for s, targets in ALLOWED.items() if wanted in targets)
