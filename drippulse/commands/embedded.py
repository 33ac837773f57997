"""`drippulse down`: stop the embedded Postgres and Redis of this directory's data dir."""
from __future__ import annotations

import argparse

from shared.config import get_settings


def cmd_down(_args: argparse.Namespace) -> int:
    from drippulse.embedded import stop_services

    settings = get_settings()
    stopped = stop_services(settings.data_dir)
    print(f"stopped embedded {', '.join(stopped)} ({settings.data_dir})" if stopped
          else f"no embedded server was running ({settings.data_dir})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("down", help="stop the embedded Postgres and Redis (data is kept)")
    p.set_defaults(handler=cmd_down)
