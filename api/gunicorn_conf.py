"""gunicorn settings for the API container: `gunicorn -c python:api.gunicorn_conf api.wsgi:app`.

Threads, because imports upload and exports download as long streams that would pin a sync
worker. With PROMETHEUS_MULTIPROC_DIR set, the HTTP metrics of every worker process are summed
on /metrics; the directory is emptied at start and a dead process's live gauges are dropped.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from shared.config import get_settings

bind = "0.0.0.0:8000"
# gthread with JSON answers for the errors gunicorn writes itself (414, 400, 431), whose threads
# slow clients cannot hold (DRIPPULSE_HEADER_TIMEOUT_SECONDS, DRIPPULSE_BODY_*; api/body_timeouts)
worker_class = "api.errors.JsonErrorsWorker"
threads = 8  # processes: --workers N or WEB_CONCURRENCY (gunicorn reads it)
timeout = 120
graceful_timeout = 30
accesslog = None  # the app logs one line per request, with its request id


def on_starting(_server) -> None:
    directory = get_settings().prometheus_multiproc_dir
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(_server, worker) -> None:
    if get_settings().prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
