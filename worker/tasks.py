"""Celery tasks: each receives ids, opens its own transactions and calls one service.

The task modules are imported here so that `include=["worker.tasks"]` registers all of them.
"""
from __future__ import annotations

from worker import (  # noqa: F401
    export_tasks,
    import_tasks,
    job_tasks,
    notification_tasks,
    retention,
)
from worker.app import celery_app  # noqa: F401  (tasks register on this app)
