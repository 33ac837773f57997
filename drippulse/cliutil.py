"""What every client command shares: --url/--token resolution, the saved key, error output.

Resolution order, like gh and heroku: the flag, then DRIPPULSE_URL / DRIPPULSE_TOKEN (read by
shared.config), then the key saved by `drippulse demo` or `drippulse login` in
<data dir>/cli-token (./.drippulse/cli-token by default, so it goes with the embedded setup).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from drippulse.client import ApiError, DripPulseClient, DripPulseError
from shared.config import get_settings

EXIT_OK, EXIT_FAILED, EXIT_WITH_ERRORS = 0, 1, 2
DEFAULT_URL = "http://127.0.0.1:8000"


def token_file() -> Path:
    return get_settings().data_dir / "cli-token"


def save_token(token: str, url: str | None = None) -> Path:
    """Write the key readable by its owner only: it is a credential."""
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
        if url:
            handle.write(url + "\n")
    return path


def _saved() -> tuple[str | None, str | None]:
    try:
        lines = token_file().read_text().split()
    except OSError:
        return None, None
    return (lines[0] if lines else None), (lines[1] if len(lines) > 1 else None)


def client_options() -> argparse.ArgumentParser:
    """A parent parser: every client command accepts --url and --token."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", help="API base URL (DRIPPULSE_URL; default "
                        "http://127.0.0.1:8000 or the one saved by `drippulse login`)")
    parent.add_argument("--token", help="API key or JWT (DRIPPULSE_TOKEN; default: the key "
                        "saved by `drippulse demo` / `drippulse login`)")
    return parent


def make_client(args: argparse.Namespace) -> DripPulseClient:
    settings = get_settings()
    saved_token, saved_url = _saved()
    token = args.token or settings.cli_token or saved_token
    url = args.url or settings.cli_url or saved_url or DEFAULT_URL
    if not token:
        raise DripPulseError(
            "no API key: pass --token, set DRIPPULSE_TOKEN, run `drippulse login --token KEY`, "
            "or run `drippulse demo` to create a sample organization and save its key")
    return DripPulseClient(url, token)


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, default=str))


def client_command(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Turn client exceptions into one clear line (or a JSON error document) and exit 1."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ApiError as exc:
            if getattr(args, "json", False):
                print_json({"error": {"status": exc.status, "code": exc.code,
                                      "message": exc.message, "details": exc.details}})
            else:
                print(f"drippulse: {exc.message} ({exc.status} {exc.code})", file=sys.stderr)
                if exc.details:
                    print(f"  details: {json.dumps(exc.details, default=str)}", file=sys.stderr)
            return EXIT_FAILED
        except (DripPulseError, OSError) as exc:
            if getattr(args, "json", False):
                print_json({"error": {"code": type(exc).__name__, "message": str(exc)}})
            else:
                print(f"drippulse: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run
