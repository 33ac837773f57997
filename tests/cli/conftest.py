"""A real API server process (gunicorn) for the client and CLI tests."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from drippulse.proc import free_port, stop_process_group
from tests.conftest import REPO, settings_env, wait_for


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or workers still booting
        return False


@pytest.fixture(scope="session")
def api_server(settings) -> Iterator[str]:
    """`gunicorn api.wsgi:app` on a free port, on the session's database and broker."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "api.wsgi:app", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--log-level", "warning"],
        env=settings_env(settings), cwd=REPO, start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is not None or _healthy(url), timeout=60,
                 message="the API server to answer /healthz")
        assert proc.poll() is None, "the API server exited at start"
        yield url
    finally:
        stop_process_group(proc, timeout=20)


def run_cli(settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m drippulse ARGS` as a user would run it (not a TTY: plain progress lines)."""
    return subprocess.run([sys.executable, "-m", "drippulse", *args], cwd=REPO,
                          env=settings_env(settings) | env, capture_output=True, text=True,
                          timeout=120)
