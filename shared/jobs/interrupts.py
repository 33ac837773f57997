"""Telling a job's own failure from its process being stopped under it.

A worker's pool process turns SIGTERM into SystemExit wherever the task happens to be. Cleanup
on the way out (a rollback, the end of a COPY, a savepoint) can then fail on a connection left
mid-statement, and that new error replaces the SystemExit while it unwinds. Caught as the job's
failure, it would end a job nothing was wrong with; caught by Celery's tracer, it would be
recorded as the task's failure and the message acknowledged. The stop has to be raised again
instead: only a BaseException passes the tracer, reaches the pool, which reports the worker as
lost, and acks_late + reject_on_worker_lost put the message back for the next worker.
"""
from __future__ import annotations

from billiard import common as billiard_common

EXITS = (SystemExit, KeyboardInterrupt)


def _exit_in_chain(exc: BaseException) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EXITS):
            return current
        seen.add(id(current))
        current = current.__context__
    return None


def _terminating() -> bool:
    """The pool's own record that this process's stop handler ran (a stop whose SystemExit
    something swallowed leaves no trace in the chain); older billiard keeps none."""
    fired = getattr(billiard_common, "terminate_handler_fired", None)
    return bool(fired is not None and fired())


def reraise_if_exiting(exc: BaseException) -> None:
    """Raise the stop again (a fresh exception of its kind, chained to `exc`) when `exc` was
    raised while the process was being stopped; return otherwise."""
    found = _exit_in_chain(exc)
    if found is not None:
        raise type(found)(*found.args) from exc
    if _terminating():
        raise SystemExit(1) from exc
