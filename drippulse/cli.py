"""The `drippulse` command: run the platform, administer tenants, move bundles.

Subcommands register themselves from modules in drippulse.commands (each has `register(sub)`).
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence

from drippulse import commands
from shared.config import ConfigError, get_settings
from shared.errors import AppError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drippulse", description="DripPulse: CRM data portability platform")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # every command refuses to start in production with an unfit SECRET_KEY (not only
        # the servers): a migrate or org create must not run against production that way
        get_settings().check()
        return int(args.handler(args) or 0)
    except AppError as exc:
        print(json.dumps(exc.to_dict()), file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"drippulse: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
