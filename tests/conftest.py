"""Test fixtures on a real Postgres and Redis.

TEST_DATABASE_URL names a server (any database on it; without it, an embedded Postgres
under .drippulse-test/ is started); each test session creates its own
database there, migrates it with Alembic, and drops it at the end. TEST_REDIS_URL names a Redis;
each session uses its own key prefix, so parallel sessions never share queues.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from drippulse.proc import stop_process_group
from shared import config, db, migrate
from shared.services import organizations

REPO = Path(__file__).resolve().parent.parent


_embedded: config.Settings | None = None


def _embedded_services() -> config.Settings:
    """Without TEST_DATABASE_URL / TEST_REDIS_URL the tests run on embedded servers of their
    own (kept in .drippulse-test/ between runs, like `drippulse up` keeps .drippulse/)."""
    global _embedded
    if _embedded is None:
        from drippulse.embedded import ensure_services

        _embedded = ensure_services(config.load({
            "DRIPPULSE_DATA_DIR": str(REPO / ".drippulse-test")}))
    return _embedded


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or _embedded_services().database_url
    return db.normalize_url(url)


def _redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or _embedded_services().redis_url


def _admin_conninfo(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    server = sa.engine.make_url(_server_url())
    name = f"dp_test_{secrets.token_hex(4)}"
    with psycopg.connect(_admin_conninfo(str(server.set(drivername="postgresql"))),
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    db.dispose_engines(close=True)
    with psycopg.connect(_admin_conninfo(str(server.set(drivername="postgresql"))),
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> config.Settings:
    base = config.load({
        "DATABASE_URL": database_url,
        "REDIS_URL": _redis_url(),
        "SECRET_KEY": "test-secret-" + secrets.token_hex(16),
        "DRIPPULSE_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "DRIPPULSE_QUEUE_PREFIX": f"dptest-{secrets.token_hex(4)}:",
        "DRIPPULSE_BATCH_SIZE": "500",
    })
    config.set_settings(base)
    return base


def settings_env(settings: config.Settings) -> dict[str, str]:
    """The environment a child process (worker, API, CLI) needs to see the same services."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("DRIPPULSE_")}
    env.update({
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "DRIPPULSE_DATA_DIR": str(settings.data_dir),
        "DRIPPULSE_QUEUE_PREFIX": settings.celery_queue_prefix,
        "DRIPPULSE_BATCH_SIZE": str(settings.batch_size),
        "DRIPPULSE_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "PYTHONPATH": str(REPO),
    })
    return env


@pytest.fixture(scope="session")
def app(settings: config.Settings):
    from api.app import create_app

    flask_app = create_app(settings)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def org(settings: config.Settings) -> dict:
    """A fresh organization per test: tests never see each other's rows."""
    created = organizations.create_organization(f"Org {secrets.token_hex(3)}")
    created["headers"] = {"Authorization": f"Bearer {created['api_key']}"}
    return created


@pytest.fixture
def other_org(settings: config.Settings) -> dict:
    created = organizations.create_organization(f"Other {secrets.token_hex(3)}")
    created["headers"] = {"Authorization": f"Bearer {created['api_key']}"}
    return created


class WorkerProcess:
    """A real `drippulse worker` child process on the test database and broker."""

    def __init__(self, settings: config.Settings, *, concurrency: int = 2,
                 extra_env: dict[str, str] | None = None, queues: str | None = None) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.queues = queues
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        env = settings_env(self.settings) | self.extra_env
        cmd = [sys.executable, "-m", "drippulse", "worker", "--concurrency",
               str(self.concurrency), "--loglevel", "WARNING"]
        if self.queues:
            cmd += ["--queues", self.queues]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, sig, timeout)


@pytest.fixture(scope="session")
def worker(settings: config.Settings) -> Iterator[WorkerProcess]:
    """One worker shared by the end-to-end tests of a session."""
    proc = WorkerProcess(settings).start()
    yield proc
    proc.stop()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1, message: str = "condition"):
    """Poll until predicate() returns something truthy; fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def fresh_settings(settings: config.Settings):
    """Settings that a test may replace; restored afterwards."""
    yield settings
    config.set_settings(settings)


def replace_settings(settings: config.Settings, **changes) -> config.Settings:
    new = dataclasses.replace(settings, **changes)
    config.set_settings(new)
    return new
