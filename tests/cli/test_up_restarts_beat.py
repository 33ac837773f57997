"""`drippulse up` restarts a dead scheduler as it restarts a dead worker (issue 19, Low): the
scheduler is a supervised child of its own, not a thread inside a worker that could die
unseen."""
from __future__ import annotations

import signal
import time

from drippulse.runtime import build_children
from drippulse.supervisor import Supervisor
from shared import config


def test_the_scheduler_is_a_supervised_child_and_no_worker_runs_it(tmp_path):
    settings = config.load({"DRIPPULSE_DATA_DIR": str(tmp_path)})
    children = build_children(settings, 8123, workers=2)
    beats = [c for c in children if c.argv[2:4] == ["drippulse", "beat"]]
    assert len(beats) == 1  # exactly one scheduler per `up`
    assert beats[0].cwd == settings.data_dir  # its schedule file lives there
    assert not any("--beat" in c.argv for c in children)


def test_a_dead_scheduler_is_restarted(tmp_path):
    settings = config.load({"DRIPPULSE_DATA_DIR": str(tmp_path)})
    beat = next(c for c in build_children(settings, 8123, workers=1) if c.name == "beat")
    beat.argv = [beat.argv[0], "-c", "import time; time.sleep(60)"]  # stands in for beat
    sup = Supervisor([beat])
    sup.start_all()
    try:
        first = beat.pid
        beat.popen.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (beat.pid == first or not beat.running()):
            sup.check()
            time.sleep(0.1)
        assert beat.running() and beat.pid != first
    finally:
        sup.stop_all(timeout=5)
