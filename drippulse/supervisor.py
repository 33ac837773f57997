"""Keep a few child processes running; restart one that dies, stop them all on request.

Each child gets a session (process group) of its own: a Ctrl-C in the terminal then
reaches only `drippulse up`, which stops the children in order instead of every process
receiving SIGINT at once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
MAX_BACKOFF = 30.0
HEALTHY_AFTER = 30.0  # a child that ran this long resets its back-off


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None = None
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    starts: int = field(default=0)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children

    def start_all(self) -> None:
        for child in self.children:
            self._spawn(child)

    def check(self) -> None:
        """Reap children that exited and restart them after their back-off delay."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    self._spawn(child)
                continue
            if child.popen is None or child.popen.poll() is None:
                continue
            code = child.popen.returncode
            self._kill_group(child)  # leftovers of the dead leader (pool processes)
            ran = now - child.started_at
            child.failures = 1 if ran >= HEALTHY_AFTER else child.failures + 1
            delay = min(MAX_BACKOFF, 2.0 ** (child.failures - 1))
            log.warning("%s (pid %s) exited with code %s after %.0fs; restarting in %.0fs",
                        child.name, child.pid, code, ran, delay)
            child.restart_at = now + delay
            child.popen = None  # reaped: its pid may be reused, never signal it again

    def stop_all(self, timeout: float = 30.0) -> None:
        """SIGTERM every child (graceful: finish the request or task), SIGKILL at the deadline."""
        for child in self.children:
            child.restart_at = None
            if child.running():
                log.info("stopping %s (pid %s)", child.name, child.pid)
                try:
                    os.kill(child.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.popen is None:
                continue
            try:
                child.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %s) did not stop in %.0fs; killing it",
                            child.name, child.pid, timeout)
            self._kill_group(child)
            child.popen.wait()
            child.popen = None  # reaped: its pid may be reused, never signal it again

    def set_env(self, env: dict[str, str]) -> None:
        """Environment for the next start of every child."""
        for child in self.children:
            child.env = env

    def kill_all(self) -> None:
        for child in self.children:
            child.restart_at = None
            if child.popen is not None:
                self._kill_group(child)
                child.popen.wait()
                child.popen = None

    def _spawn(self, child: Child) -> None:
        child.popen = subprocess.Popen(
            child.argv, env=child.env, cwd=child.cwd, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent(os.getpid()),
        )
        child.started_at = time.monotonic()
        child.starts += 1
        log.info("started %s (pid %s)", child.name, child.popen.pid)

    @staticmethod
    def _kill_group(child: Child) -> None:
        """SIGKILL whatever is left in the child's process group (its pgid is its pid)."""
        try:
            os.killpg(child.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _die_with_parent(parent: int):
    """Linux: the child gets SIGTERM if `drippulse up` itself is killed (even by SIGKILL),
    so an API or worker never outlives its supervisor. Elsewhere: nothing."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec
