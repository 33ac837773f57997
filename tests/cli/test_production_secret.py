"""In production (any letter case) every command — not only the servers — refuses to start with
an unfit SECRET_KEY, and says why."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["migrate"], ["org", "create", "Prod"], ["whoami"]])
@pytest.mark.parametrize("secret", [None, "x", "drippulse-dev-secret-change-me"])
def test_every_command_refuses_an_unfit_secret_key_in_production(command, secret):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIPPULSE_")
           and k != "SECRET_KEY"}
    env.update(DRIPPULSE_ENV="Production", DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
               REDIS_URL="redis://127.0.0.1:9/0")
    if secret is not None:
        env["SECRET_KEY"] = secret
    done = subprocess.run([sys.executable, "-m", "drippulse", *command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "SECRET_KEY" in done.stderr and "production" in done.stderr
