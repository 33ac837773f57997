"""Run the platform: `up` (everything), `worker` (one Celery worker), `beat` (schedules)."""
from __future__ import annotations

import argparse
import sys

from drippulse.services import resolved_settings


def cmd_worker(args: argparse.Namespace) -> int:
    # refuse an unsafe configuration before taking any task (e.g. a visibility timeout short
    # enough for the broker to redeliver running jobs); the CLI turns ConfigError into exit 2
    resolved_settings().check()
    from worker.app import celery_app

    argv = ["worker", "--loglevel", args.loglevel, "-Q", args.queues]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    if args.beat:
        argv.append("--beat")
    celery_app.worker_main(argv)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from drippulse.runtime import up
    from shared.config import get_settings

    settings = get_settings()
    settings.check()  # production with an unfit SECRET_KEY: refuse before starting anything
    warn_secret_key(settings)
    # Unresolved settings: `up` starts the embedded services itself, so that it knows
    # which ones it started and stops exactly those on Ctrl-C.
    return up(settings, port=args.port, workers=args.workers)


def warn_secret_key(settings) -> None:
    """Outside production an unfit SECRET_KEY is allowed (local use) but never silent."""
    problem = settings.secret_key_problem()
    if problem:
        print(f"drippulse: warning: {problem}; sessions and API tokens are forgeable by anyone "
              "who knows it. Set SECRET_KEY (32+ random bytes) before exposing this server.",
              file=sys.stderr)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run a Celery worker against the configured broker")
    p.add_argument("--queues", "-Q", default="imports,exports,maintenance")
    p.add_argument("--concurrency", "-c", type=int, default=0)
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--beat", action="store_true", help="also run the periodic scheduler")
    p.set_defaults(handler=cmd_worker)

    p = sub.add_parser("up", help="run API, dashboard and a worker (embedded services if unset)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(handler=cmd_up)
