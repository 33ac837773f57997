"""Embedded Postgres and Redis for a configuration that names none (docs/architecture.md,
"Command line").

Every `drippulse` command run without DATABASE_URL / REDIS_URL calls `ensure_services`:
it reuses the servers already running for the data directory or starts them detached, and
migrates the embedded database, so `drippulse org create` and a later `drippulse up` share
one database and one broker, in either order.

Files under settings.data_dir:
    services.lock          fcntl lock: two commands starting at once start one server
    postgres/data          PGDATA;  postgres/port, postgres/postgres.log
    redis/                 AOF, redis/port, redis/redis.pid, redis/redis.log
"""
from __future__ import annotations

import dataclasses
import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from drippulse import embedded_pg, embedded_redis
from drippulse.embedded_pg import EmbeddedError, EmbeddedPostgres
from drippulse.embedded_redis import EmbeddedRedis
from shared.config import Settings

__all__ = ["EmbeddedError", "Started", "ensure_services", "start_services", "stop_services"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    """Resolved settings plus which servers this call started (vs. found running)."""

    settings: Settings
    postgres: bool = False
    redis: bool = False


@contextmanager
def services_lock(data_dir: Path) -> Iterator[None]:
    """Exclusive lock on data_dir/services.lock; released by the kernel if we die."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "services.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def start_services(settings: Settings) -> Started:
    """Resolve missing database_url / redis_url to embedded servers, starting them if needed."""
    if settings.database_url and settings.redis_url:
        return Started(settings)
    try:
        return _start(settings)
    except OSError as exc:  # unwritable data dir, chown refused (root-squashed mount), ...
        raise EmbeddedError(
            f"cannot run embedded services in {settings.data_dir}: {exc}. "
            "Set DATABASE_URL and REDIS_URL to use servers of your own."
        ) from exc


def _start(settings: Settings) -> Started:
    started_pg = started_redis = False
    database_url, redis_url = settings.database_url, settings.redis_url
    with services_lock(settings.data_dir):
        if not database_url:
            server = EmbeddedPostgres(settings.data_dir)
            port = server.running_port()
            if port is None:
                port, started_pg = server.start(), True
            database_url = embedded_pg.url(port)
            # The embedded database belongs to us, so we keep its schema current: then
            # `drippulse org create` works before any `up`. Under the lock, so two commands
            # never migrate at once; a no-op upgrade costs ~50 ms.
            from shared import migrate

            migrate.upgrade(database_url)
        if not redis_url:
            broker = EmbeddedRedis(settings.data_dir)
            port = broker.running_port()
            if port is None:
                port, started_redis = broker.start(), True
            redis_url = embedded_redis.url(port)
    resolved = dataclasses.replace(settings, database_url=database_url, redis_url=redis_url)
    return Started(resolved, postgres=started_pg, redis=started_redis)


def ensure_services(settings: Settings) -> Settings:
    """Settings with database_url and redis_url filled in by embedded servers where missing."""
    return start_services(settings).settings


def stop_services(data_dir: Path, postgres: bool = True, redis: bool = True) -> list[str]:
    """Stop the embedded servers running for `data_dir`; returns the names stopped."""
    stopped: list[str] = []
    if not data_dir.exists():  # nothing ever ran here; do not create the directory
        return stopped
    with services_lock(data_dir):
        if redis and EmbeddedRedis(data_dir).stop():
            stopped.append("redis")
        if postgres and EmbeddedPostgres(data_dir).stop():
            stopped.append("postgres")
    return stopped

