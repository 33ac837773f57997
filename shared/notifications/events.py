"""The webhook events: one per final job status."""
from __future__ import annotations

from shared.jobs.status import JobStatus

EVENT_OF_STATUS: dict[str, str] = {
    JobStatus.SUCCEEDED.value: "job.succeeded",
    JobStatus.COMPLETED_WITH_ERRORS.value: "job.completed_with_errors",
    JobStatus.FAILED.value: "job.failed",
    JobStatus.CANCELLED.value: "job.cancelled",
}
EVENTS: tuple[str, ...] = tuple(EVENT_OF_STATUS.values())


def event_for(status: str) -> str | None:
    return EVENT_OF_STATUS.get(str(status))
