"""`drippulse up`: embedded services, migrations, the API and worker processes, supervised."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from drippulse import proc
from drippulse.embedded import EmbeddedError, Started, start_services, stop_services
from drippulse.supervisor import Child, Supervisor
from shared.config import Settings, set_settings

log = logging.getLogger(__name__)

API_READY_TIMEOUT = 120.0  # seconds; importing the app on a loaded machine can be slow
STOP_TIMEOUT = 30.0  # how long a worker may take to finish its task batch on Ctrl-C
SERVICES_EVERY = 10.0  # seconds between checks that the embedded servers still answer
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class _Owned:
    """Embedded servers this `up` started (at launch or after they died): it stops those."""

    postgres: bool = False
    redis: bool = False


def child_env(settings: Settings) -> dict[str, str]:
    """Environment for children: the resolved services, so they never start their own."""
    env = dict(os.environ)
    # Workers run in the data directory, so a checkout that is not pip-installed must
    # still be importable there.
    path = [str(PROJECT_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update({
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(path)),
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "DRIPPULSE_DATA_DIR": str(settings.data_dir),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def build_children(settings: Settings, port: int, workers: int) -> list[Child]:
    env = child_env(settings)
    api = Child("api", [
        sys.executable, "-m", "gunicorn", "api.wsgi:app",
        "--bind", f"127.0.0.1:{port}", "--workers", "1",
        # gthread, answering its own errors (a URI over the limit: 414) as JSON
        "--worker-class", "api.errors.JsonErrorsWorker",
        "--threads", "4", "--graceful-timeout", "10", "--log-level", "warning",
    ], env)
    # the scheduler is a child of its own, not a worker's `--beat` thread: when it dies the
    # supervisor sees it and restarts it, as it does a worker (periodic sweeps, once per `up`);
    # cwd=data_dir: celery beat keeps its schedule file in the working directory
    children = [api, Child("beat", [sys.executable, "-m", "drippulse", "beat", "--loglevel",
                                    "WARNING"], env, cwd=settings.data_dir)]
    for index in range(1, workers + 1):
        argv = [sys.executable, "-m", "drippulse", "worker", "--loglevel", "WARNING"]
        children.append(Child(f"worker-{index}", argv, env, cwd=settings.data_dir))
    return children


def banner(configured: Settings, resolved: Settings, port: int, workers: int) -> str:
    def where(url: str | None, embedded: bool) -> str:
        return f"{url}  (embedded, {resolved.data_dir})" if embedded else f"{url}"

    return "\n".join([
        "",
        f"  DripPulse is running: http://127.0.0.1:{port}",
        f"    database: {where(resolved.database_url, configured.database_url is None)}",
        f"    broker:   {where(resolved.redis_url, configured.redis_url is None)}",
        f"    workers:  {workers}",
        "",
        "  Create an organization and its API key (another terminal, same directory):",
        "    drippulse org create \"Acme\" --admin-email you@example.com --admin-password 'change-me'",
        "  Then: curl -H 'Authorization: Bearer <api_key>' "
        f"http://127.0.0.1:{port}/api/v1/crm/accounts",
        "",
        "  Press Ctrl-C to stop.",
        "",
    ])


class _Signals:
    """SIGINT/SIGTERM set `stop`; a second one while stopping sets `force`."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.force = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame) -> None:
        if self.stop.is_set():
            self.force = True
            raise KeyboardInterrupt  # break out of a graceful wait
        log.info("received %s; stopping", signal.Signals(signum).name)
        self.stop.set()


def up(settings: Settings, port: int = 8000, workers: int = 1) -> int:
    """Run everything until SIGINT/SIGTERM; returns the process exit code."""
    from shared.logging_setup import configure_logging

    configure_logging(settings)
    if not proc.port_free(port):
        print(f"drippulse up: port {port} on 127.0.0.1 is in use; choose another with --port",
              file=sys.stderr)
        return 2
    signals = _Signals()
    signals.install()  # before starting anything, so a Ctrl-C never leaves servers behind
    try:
        started = start_services(settings)
    except EmbeddedError as exc:
        print(f"drippulse up: {exc}", file=sys.stderr)
        return 1
    owned = _Owned(started.postgres, started.redis)
    try:
        return _run(settings, started, owned, port, max(1, workers), signals)
    finally:
        _stop_owned(started.settings.data_dir, owned)


def _run(configured: Settings, started: Started, owned: _Owned, port: int, workers: int,
         signals: _Signals) -> int:
    settings = started.settings
    set_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # workers run there (beat schedule)
    from shared import migrate

    log.info("applying migrations")
    try:
        migrate.upgrade(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - report any migration failure and stop cleanly
        print(f"drippulse up: migrations failed: {exc}", file=sys.stderr)
        return 1
    if signals.stop.is_set():
        return 0
    supervisor = Supervisor(build_children(settings, port, workers))
    try:
        supervisor.start_all()
        if not _wait_api(supervisor, port, signals):
            if signals.stop.is_set():
                supervisor.stop_all(STOP_TIMEOUT)
                return 0
            print(f"drippulse up: the API did not start on port {port}; see the output above",
                  file=sys.stderr)
            supervisor.stop_all(10)
            return 1
        print(banner(configured, settings, port, workers), flush=True)
        embedded = configured.database_url is None or configured.redis_url is None
        next_probe = time.monotonic() + SERVICES_EVERY
        while not signals.stop.wait(0.5):
            supervisor.check()
            if embedded and time.monotonic() >= next_probe:
                settings = _revive(configured, settings, owned, supervisor)
                next_probe = time.monotonic() + SERVICES_EVERY
        print("drippulse: stopping (Ctrl-C again to kill at once)", file=sys.stderr, flush=True)
        supervisor.stop_all(STOP_TIMEOUT)
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.kill_all()  # no-op after a clean stop; after an error, no orphans
    return 0


def _wait_api(supervisor: Supervisor, port: int, signals: _Signals) -> bool:
    """Wait until the API accepts connections; False if it exits first or a stop arrives."""
    api = supervisor.children[0]
    deadline = time.monotonic() + API_READY_TIMEOUT
    while time.monotonic() < deadline and not signals.stop.is_set():
        if proc.port_open(port):
            return True
        if not api.running():
            return False
        supervisor.check()  # a worker that dies at start is restarted meanwhile
        signals.stop.wait(0.2)
    return False


def _revive(configured: Settings, current: Settings, owned: _Owned,
            supervisor: Supervisor) -> Settings:
    """Restart an embedded server that died (crash, OOM kill, `drippulse down`)."""
    try:
        again = start_services(configured)
    except EmbeddedError as exc:
        log.error("embedded services are down and could not be restarted: %s", exc)
        return current
    if again.postgres or again.redis:
        names = [n for n, s in (("postgres", again.postgres), ("redis", again.redis)) if s]
        log.warning("embedded %s had stopped; restarted it", " and ".join(names))
        owned.postgres |= again.postgres
        owned.redis |= again.redis
    fresh = again.settings
    if (fresh.database_url, fresh.redis_url) != (current.database_url, current.redis_url):
        # Its old port was taken meanwhile: children must reconnect with the new URLs.
        log.warning("embedded services moved to new ports; restarting the API and workers")
        supervisor.stop_all(STOP_TIMEOUT)
        supervisor.set_env(child_env(fresh))
        supervisor.start_all()
        set_settings(fresh)
    return fresh


def _stop_owned(data_dir: Path, owned: _Owned) -> None:
    """Stop only the embedded servers this `up` started; ones found running stay up."""
    if not (owned.postgres or owned.redis):
        return
    try:
        stopped = stop_services(data_dir, postgres=owned.postgres, redis=owned.redis)
        log.info("stopped embedded %s", ", ".join(stopped) or "nothing")
    except EmbeddedError as exc:
        print(f"drippulse up: {exc}", file=sys.stderr)
