"""Fixtures of the fault-injection tests: exclusive queues, workers, the beat stand-in."""
from __future__ import annotations

import pytest

from tests.reliability.harness import Sweeper, Workers


@pytest.fixture(scope="package")
def exclusive_queues(worker):
    """Only this folder's workers consume the queues: the session's shared worker pauses
    (a worker we do not kill would quietly finish the jobs we are trying to break)."""
    worker.stop()
    yield
    worker.start()


@pytest.fixture
def workers(settings, exclusive_queues):
    pool = Workers(settings)
    yield pool
    pool.close()


@pytest.fixture
def sweeper(settings):
    thread = Sweeper()
    thread.start()
    yield thread
    thread.stop()
    assert not thread.errors, thread.errors
