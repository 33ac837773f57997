"""stop_process_group: a child and everything it forked are gone afterwards, even one that
ignores the polite signal."""
from __future__ import annotations

import subprocess
import sys
import time

from drippulse import proc

# A parent that forks a grandchild; both ignore SIGTERM when asked to, like a stuck worker.
_FAMILY = """
import os, signal, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    print(os.getpid(), flush=True)
    time.sleep(600)
else:
    time.sleep(600)
"""


def _family(mode: str) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen([sys.executable, "-c", _FAMILY, mode], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    grandchild = int(parent.stdout.readline())
    parent.stdout.close()
    return parent, grandchild


def _gone(pid: int, timeout: float = 10) -> bool:
    # the grandchild is reaped by init, which may take a moment
    return proc.wait_for(lambda: not proc.pid_alive(pid), timeout)


def test_sigterm_stops_the_whole_group():
    parent, grandchild = _family("polite")
    started = time.monotonic()
    proc.stop_process_group(parent, timeout=10)
    assert parent.returncode is not None
    assert _gone(grandchild), "the forked child outlived the stop"
    assert time.monotonic() - started < 10, "a polite group should not wait for SIGKILL"


def test_a_group_that_ignores_sigterm_is_killed_at_the_deadline():
    parent, grandchild = _family("stubborn")
    proc.stop_process_group(parent, timeout=0.5)
    assert parent.returncode == -9
    assert _gone(grandchild)


def test_stopping_a_finished_child_does_nothing():
    done = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    done.wait(30)
    proc.stop_process_group(done)
    assert done.returncode == 0
