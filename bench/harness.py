"""What every benchmark run stands on: a fresh migrated database, its own queues and data dir,
and the child processes it started — all gone again when the run ends."""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests
import sqlalchemy as sa

from bench import processes
from drippulse.proc import free_port
from shared import config, migrate
from shared.db import dispose_engines, normalize_url


def conninfo(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def create_database(server_url: str) -> str:
    server = sa.engine.make_url(normalize_url(server_url))
    name = f"dp_bench_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo(str(server.set(database="postgres"))), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    with psycopg.connect(conninfo(str(parsed.set(database="postgres"))), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


@dataclass
class BenchEnv:
    db_url: str
    env: dict[str, str]  # for child processes: API server, workers
    work: Path
    children: list[processes.Child] = field(default_factory=list)  # stopped at the end


@contextmanager
def bench_environment(prefix: str = "dp-bench-",
                      settings: dict[str, str] | None = None) -> Iterator[BenchEnv]:
    server = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if not server or not redis_url:
        raise SystemExit("set DATABASE_URL (or TEST_DATABASE_URL) and REDIS_URL for the benchmark")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    db_url = create_database(server)
    bench = BenchEnv(db_url, {}, work)
    try:
        migrate.upgrade(db_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRIPPULSE_")}
        env.update(DATABASE_URL=db_url, REDIS_URL=redis_url, DRIPPULSE_DATA_DIR=str(work / "data"),
                   DRIPPULSE_QUEUE_PREFIX=f"dpbench-{secrets.token_hex(3)}:",
                   SECRET_KEY=secrets.token_hex(32), DRIPPULSE_RATE_LIMIT_PER_MINUTE="1000000",
                   # a 10M-row bundle is 4.2 GB: the default 1 GiB upload limit would refuse it
                   DRIPPULSE_MAX_UPLOAD_BYTES=str(64 * 1024**3))
        env.update(settings or {})
        bench.env = env
        config.set_settings(config.load(env))
        yield bench
    finally:
        for child in bench.children:
            child.stop()  # stopping twice is harmless: a stopped child is skipped
        dispose_engines()
        drop_database(db_url)
        shutil.rmtree(work, ignore_errors=True)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # refused or still booting (read timeout)
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Platform:
    base: str  # http://127.0.0.1:<port>
    api: processes.Child
    worker: processes.Child


def start_platform(bench: BenchEnv, concurrency: int = 2,
                   profile_to: Path | None = None) -> Platform:
    """gunicorn and a Celery worker on the run's database, stopped with the environment;
    returns once the API answers /healthz."""
    port = free_port()
    api = processes.api_server(bench.env, port, bench.work / "api.log")
    bench.children.append(api)
    wrk = processes.worker(bench.env, concurrency, bench.work / "worker.log",
                           profile_to=profile_to)
    bench.children.append(wrk)
    services = Platform(f"http://127.0.0.1:{port}", api, wrk)
    wait_http(services.base + "/healthz")
    return services
