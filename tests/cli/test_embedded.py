"""Embedded Postgres/Redis and `drippulse up`, with no DATABASE_URL / REDIS_URL configured.

These start real servers from the wheels in a throw-away data directory, never the
TEST_DATABASE_URL server, and stop them before returning.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import requests
import sqlalchemy as sa

from drippulse import proc
from drippulse.embedded import ensure_services, stop_services
from shared.config import load
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("DRIPPULSE_")}
    env.update(extra)
    return env


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory of our own (not pytest's 0700 tree, which `nobody` cannot enter as root)."""
    path = Path(tempfile.mkdtemp(prefix="dp-embedded-"))
    yield path
    for data_dir in (path / "data", path / ".drippulse"):
        if data_dir.exists():
            stop_services(data_dir)
    shutil.rmtree(path, ignore_errors=True)


def _conninfo(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string()


def _pg_answers(url: str) -> bool:
    with psycopg.connect(_conninfo(url), connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _redis_answers(url: str) -> bool:
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        return client.ping()


def _pg_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres/data/postmaster.pid").read_text().split()[0])


def _redis_pid(data_dir: Path) -> int:
    return int((data_dir / "redis/redis.pid").read_text().split()[0])


def test_services_start_once_are_reused_and_stop(scratch: Path) -> None:
    data_dir = scratch / "data"
    env = _env(DRIPPULSE_DATA_DIR=str(data_dir))
    code = ("from drippulse.embedded import ensure_services; from shared.config import load; "
            "s = ensure_services(load()); print(s.database_url, s.redis_url)")
    # Two commands starting at once: the lock makes them share one pair of servers.
    racers = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [racer.communicate(timeout=180)[0].split() for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0]
    assert outputs[0] == outputs[1]
    database_url, redis_url = outputs[0]
    assert database_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert database_url.endswith("/drippulse")

    settings = ensure_services(load(env))  # a later command reuses them
    assert (settings.database_url, settings.redis_url) == (database_url, redis_url)
    assert _pg_answers(database_url) and _redis_answers(redis_url)
    with psycopg.connect(_conninfo(database_url)) as conn:  # migrated: usable before any `up`
        assert conn.execute("SELECT to_regclass('crm.organizations')").fetchone()[0]

    # Crash both servers and leave pid files naming a live, unrelated process (pid reuse
    # after a reboot): the next command must start fresh servers anyway.
    pg_pid, redis_pid = _pg_pid(data_dir), _redis_pid(data_dir)
    os.kill(pg_pid, signal.SIGKILL)
    os.kill(redis_pid, signal.SIGKILL)
    assert proc.wait_for(lambda: not proc.pid_alive(pg_pid) and not proc.pid_alive(redis_pid), 30)
    pidfile = data_dir / "postgres/data/postmaster.pid"
    lines = pidfile.read_text().splitlines()
    pidfile.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")
    (data_dir / "redis/redis.pid").write_text(f"{os.getpid()}\n")

    revived = ensure_services(load(env))
    assert _pg_answers(revived.database_url) and _redis_answers(revived.redis_url)

    assert sorted(stop_services(data_dir)) == ["postgres", "redis"]
    with pytest.raises(psycopg.OperationalError):
        _pg_answers(revived.database_url)
    assert stop_services(data_dir) == []


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _group_alive(pgid: int) -> bool:
    """Any live (not zombie) process in the group: PID 1 may be slow to reap orphans."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False


@pytest.mark.slow  # embedded servers, `drippulse up`, a killed worker and Redis restarted
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_up_serves_shares_its_database_and_stops_everything_on_ctrl_c(scratch: Path) -> None:
    port = proc.free_port()
    env = _env()
    log = open(scratch / "up.log", "w")  # noqa: SIM115 - closed in finally
    up = subprocess.Popen([sys.executable, "-m", "drippulse", "up", "--port", str(port)],
                          env=env, cwd=scratch, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    groups: list[int] = []
    try:
        def healthy() -> bool:
            assert up.poll() is None, (scratch / "up.log").read_text()
            try:
                return requests.get(f"{base}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=180, interval=0.25, message="GET /healthz from drippulse up")

        # Another command in the same directory uses the same embedded database.
        created = subprocess.run([sys.executable, "-m", "drippulse", "org", "create", "Acme"],
                                 env=env, cwd=scratch, capture_output=True, text=True,
                                 timeout=120)
        assert created.returncode == 0, created.stderr
        org = json.loads(created.stdout)
        me = requests.get(f"{base}/api/v1/me", timeout=10,
                          headers={"Authorization": f"Bearer {org['api_key']}"})
        assert me.status_code == 200
        assert me.json()["organization_id"] == org["organization_id"]

        # A worker that dies is restarted.
        workers = [pid for pid in _children(up.pid) if "drippulse\0worker" in _cmdline(pid)]
        assert len(workers) == 1
        os.killpg(workers[0], signal.SIGKILL)
        wait_for(lambda: [p for p in _children(up.pid)
                          if "drippulse\0worker" in _cmdline(p) and p != workers[0]],
                 timeout=60, message="drippulse up to restart the killed worker")

        # An embedded server that dies is started again, and the API gets ready again.
        data_dir = scratch / ".drippulse"
        dead_redis = _redis_pid(data_dir)
        os.kill(dead_redis, signal.SIGKILL)

        def ready_again() -> bool:
            try:
                ready = requests.get(f"{base}/readyz", timeout=5).status_code == 200
            except requests.RequestException:
                return False
            try:
                return ready and _redis_pid(data_dir) != dead_redis
            except (OSError, ValueError, IndexError):  # pid file being rewritten
                return False

        wait_for(lambda: not proc.pid_alive(dead_redis), timeout=30, message="redis to die")
        wait_for(ready_again, timeout=90, interval=0.5, message="embedded Redis to come back")

        servers = [_pg_pid(data_dir), _redis_pid(data_dir)]
        groups = _children(up.pid)
        assert len(groups) >= 2  # the API and a worker

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=120) == 0, (scratch / "up.log").read_text()
        assert wait_for(lambda: not any(_group_alive(g) for g in groups), timeout=30,
                        message="children of drippulse up to exit")
        assert wait_for(lambda: not any(proc.pid_alive(p) for p in servers), timeout=30,
                        message="embedded servers started by up to stop")
    finally:
        for pgid in [up.pid, *groups]:  # a failed test must not leave processes behind
            if _group_alive(pgid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
        up.wait(timeout=30)
        log.close()
