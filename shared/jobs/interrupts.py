"""Telling a job's own failure from its process being stopped under it.

A worker's pool process turns SIGTERM into SystemExit wherever the task happens to be. Cleanup
on the way out (a rollback, the end of a COPY, a savepoint) can then fail on a connection left
mid-statement, and that new error replaces the SystemExit while it unwinds. Counting it as the
job's failure would end a job that nothing was wrong with: it must propagate, so the task is
redelivered (acks_late) and the next worker resumes the job.
"""
from __future__ import annotations

EXITS = (SystemExit, KeyboardInterrupt)


def raised_while_exiting(exc: BaseException) -> bool:
    """Whether `exc` is, or was raised while handling, an exit of the process."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EXITS):
            return True
        seen.add(id(current))
        current = current.__context__
    return False
