"""`--set NAME=VALUE` for the benchmarks: which settings a run's processes get besides the
defaults. Light on imports (only the settings module), so the CLI can register the option
without loading the harness."""
from __future__ import annotations

import argparse
import inspect
import re
import secrets
from collections.abc import Iterable

from shared import config

# settings a run cannot take from --set, and why
REFUSED_SETTINGS = {
    "DRIPPULSE_DATA_DIR": "the benchmark sets it for each run",
    "DRIPPULSE_QUEUE_PREFIX": "the benchmark sets it for each run",
    # tenant connections would leave the run's own fresh database for another one
    "DRIPPULSE_APP_DATABASE_URL": "the run's processes use the database the benchmark creates",
    "DRIPPULSE_WORKER_CONCURRENCY": "use --concurrency",
    "DRIPPULSE_URL": "read by the command-line client only",
    "DRIPPULSE_TOKEN": "read by the command-line client only",
}


def parse_settings(pairs: Iterable[str]) -> dict[str, str]:
    """`--set NAME=VALUE` arguments as settings for every process of a run. Refuses a name the
    settings never read (a typo would silently measure the defaults), one of REFUSED_SETTINGS, a
    name given twice with different values, and a value the settings refuse — before anything
    is started."""
    # the names shared/config.py reads: the benchmark's processes get no DRIPPULSE_* variable of
    # the caller's environment, so these are the only settings that differ from the defaults
    known = set(re.findall(r'"(DRIPPULSE_[A-Z0-9_]+)"', inspect.getsource(config)))
    settings: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set {pair}: expected NAME=VALUE")
        if name in REFUSED_SETTINGS:
            raise ValueError(f"--set {name}: {REFUSED_SETTINGS[name]}")
        if name not in known:
            raise ValueError(f"--set {name}: not a setting (docs/operations.md lists them)")
        if settings.get(name, value) != value:
            raise ValueError(f"--set {name}: given twice ({settings[name]}, {value})")
        settings[name] = value
    try:
        # the run's processes get a random SECRET_KEY too
        config.load({"SECRET_KEY": secrets.token_hex(32), **settings}).check()
    except config.ConfigError as exc:
        raise ValueError(f"--set: {exc}") from exc
    return settings


def settings_arguments(pairs: Iterable[str], batch_size: int | None) -> list[str]:
    """The --set arguments with `--batch-size N` as one of them (so the result records it, and
    a different --set DRIPPULSE_BATCH_SIZE is refused rather than silently winning)."""
    if batch_size is None:
        return list(pairs)
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, not {batch_size}")
    return [f"DRIPPULSE_BATCH_SIZE={batch_size}", *pairs]


def add_settings_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="a setting for every process of the run, e.g. "
                             "DRIPPULSE_EXPORT_PARALLEL_WORKERS=0 (repeatable); this shell's "
                             "DRIPPULSE_* variables never reach a run")


def settings_or_exit(parser: argparse.ArgumentParser, args: argparse.Namespace,
                     batch_size: int | None = None) -> dict[str, str]:
    """A runner's parsed --set (and --batch-size) values; a refused one ends the program with
    the parser's usage and exit status 2."""
    try:
        return parse_settings(settings_arguments(args.settings, batch_size))
    except ValueError as exc:
        parser.error(str(exc))
