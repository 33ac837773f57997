"""Celery tasks: each receives ids, opens its own transactions and calls one service."""
from __future__ import annotations

from worker import import_tasks  # noqa: F401
from worker.app import celery_app  # noqa: F401  (tasks register on this app)
