"""The Celery application, configured from shared.config only."""
from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from shared.config import get_settings
from shared.db import dispose_engines
from shared.jobs.kinds import all_kinds
from shared.logging_setup import configure_logging

QUEUES = ("imports", "exports", "maintenance")


def make_celery() -> Celery:
    settings = get_settings()
    configure_logging(settings)  # our loggers in workers: job ids, JSON when asked
    broker = settings.redis_url or "redis://127.0.0.1:6379/0"
    app = Celery("drippulse", broker=broker, include=["worker.tasks"])
    app.conf.update(
        task_acks_late=True,
        # a task whose worker process died goes back to the queue at once
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # no task holds a worker for ever: the soft limit raises inside the task (the job fails
        # or its sweep resumes it), the hard one ends the process; both under the visibility
        # timeout (checked in shared.config), so a killed task is not also redelivered early
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        task_default_queue="imports",
        # each kind's tasks on its queue (shared.jobs.kinds), so pools scale per kind
        task_routes={
            **{f"drippulse.{kind.name}.*": {"queue": kind.queue}
               for kind in all_kinds().values()},
            "drippulse.maintenance.*": {"queue": "maintenance"},
        },
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_seconds,
            # lets several deployments (or test runs) share one Redis without sharing queues
            **({"global_keyprefix": settings.celery_queue_prefix}
               if settings.celery_queue_prefix else {}),
        },
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep-stale-jobs": {"task": "drippulse.maintenance.sweep_stale_jobs",
                                 "schedule": 30.0},
            "expire-exports": {"task": "drippulse.maintenance.expire_exports",
                               "schedule": 600.0},
            # webhook retries and deliveries a dead process never sent (at least once)
            "resend-webhooks": {"task": "drippulse.maintenance.resend_webhooks",
                                "schedule": 15.0},
            "retention-cleanup": {"task": "drippulse.maintenance.retention_cleanup",
                                  "schedule": 3600.0},
        },
    )
    return app


celery_app = make_celery()

from worker import log_signals  # noqa: E402,F401  (task and job ids on every task log line)


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    dispose_engines()
