"""Child processes of a benchmark run (API server, workers) and their peak memory."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from drippulse.proc import stop_process_group


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in map(int, children):
            pids.append(child)
            frontier.append(child)
    return pids


_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int, include_root: bool = True) -> float:
    """User + system CPU seconds of a process tree's live processes (and reaped children)."""
    total = 0
    for member in _tree(pid)[0 if include_root else 1:]:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / _TICKS


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores; idle and iowait excluded)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / _TICKS


class PeakRss(threading.Thread):
    """Samples a process tree every 100 ms: peak of its largest process and of the whole tree."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.largest_kib = 0
        self.tree_kib = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            sizes = [_rss_kib(p) for p in _tree(self.pid)]
            if sizes:
                self.largest_kib = max(self.largest_kib, max(sizes))
                self.tree_kib = max(self.tree_kib, sum(sizes))
            time.sleep(0.1)

    def stop(self) -> dict:
        self._halt.set()
        self.join(2)
        return {"largest_process_mb": round(self.largest_kib / 1024, 1),
                "tree_mb": round(self.tree_kib / 1024, 1)}


class Child:
    def __init__(self, args: list[str], env: dict[str, str], log: Path,
                 profiled: bool = False) -> None:
        self.profiled = profiled  # args start with `py-spy record … --`: SIGINT makes it write
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.rss = PeakRss(self.proc.pid)
        self.rss.start()

    def stop(self) -> dict:
        peak = self.rss.stop()
        if self.profiled and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy stops sampling and writes its file
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
        stop_process_group(self.proc)
        self.log.close()
        return peak


def api_server(env: dict[str, str], port: int, log: Path) -> Child:
    # the worker class production runs (`drippulse up`, api/gunicorn_conf.py)
    return Child([sys.executable, "-m", "gunicorn", "api.wsgi:app", "-b", f"127.0.0.1:{port}",
                  "-k", "api.errors.JsonErrorsWorker",
                  "-w", "2", "--threads", "4", "--timeout", "600"], env, log)


def worker(env: dict[str, str], concurrency: int, log: Path,
           profile_to: Path | None = None) -> Child:
    """The Celery worker; with `profile_to`, started under py-spy (attaching to a running
    process is refused in some sandboxes, launching it is not), sampling all its processes."""
    args = [sys.executable, "-m", "drippulse", "worker", "--concurrency", str(concurrency),
            "--loglevel", "WARNING"]
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if profile_to is None or not os.access(spy, os.X_OK):
        if profile_to is not None:
            print("py-spy is not installed (pip install -e '.[bench]'): no profile")
        return Child(args, env, log)
    return Child([spy, "record", "--rate", "100", "--format", "raw", "--subprocesses",
                  "--output", str(profile_to), "--", *args], env, log, profiled=True)


def directory_bytes(root: Path) -> int:
    """Bytes of the files under `root` (a file removed while walking counts as gone)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


class PeakDisk(threading.Thread):
    """Samples the bytes under a directory (uploads, spool files, export files) every second."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, directory_bytes(self.root))
            self._halt.wait(1.0)

    def stop(self) -> int:
        self._halt.set()
        self.join(5)
        return max(self.peak, directory_bytes(self.root))
