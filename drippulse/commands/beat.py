"""`drippulse beat`: the periodic scheduler (sweeps, export expiry, retention). Run exactly one."""
from __future__ import annotations

import argparse

from drippulse.services import resolved_settings


def cmd_beat(args: argparse.Namespace) -> int:
    settings = resolved_settings()
    settings.check()
    from worker.app import celery_app

    schedule = str(settings.data_dir / "celerybeat-schedule")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", "--loglevel", args.loglevel, "--schedule", schedule])
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("beat", help="run the periodic scheduler (one per deployment)")
    p.add_argument("--loglevel", default="INFO")
    p.set_defaults(handler=cmd_beat)
