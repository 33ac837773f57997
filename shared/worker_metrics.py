"""Worker-side metrics kept in Redis, so any API process can expose them on /metrics.

Celery workers are many short-lived processes on many hosts; nobody scrapes them directly.
Each batch adds to a few Redis hashes (one pipelined round trip); `/metrics` on the API reads
them back. Values are cumulative since Redis last lost its data, which Prometheus treats as a
counter reset. Writing never raises: metrics must not fail a job.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from shared.broker import redis_client
from shared.config import get_settings

log = logging.getLogger("drippulse.metrics")

BATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SEP = "|"
_skip_until = 0.0


def _keys() -> tuple[str, str]:
    prefix = f"{get_settings().celery_queue_prefix}drippulse:metrics:"
    return prefix + "rows", prefix + "batches"


def observe_batch(kind: str, entity: str, seconds: float,
                  rows: Mapping[str, int] | None = None) -> None:
    """Record one batch: its duration and how many rows ended in each outcome.

    `rows` maps an outcome (created, updated, unchanged, failed, exported...) to a count.
    """
    observe_batches(kind, [(entity, seconds, rows or {})])


def observe_batches(kind: str, batches: Sequence[tuple[str, float, Mapping[str, int]]]) -> None:
    """Record several batches (entity, seconds, rows per outcome) in one round trip."""
    global _skip_until
    if not batches or time.monotonic() < _skip_until:
        return
    rows_key, batches_key = _keys()
    try:
        pipe = redis_client(timeout=1).pipeline(transaction=False)
        for entity, seconds, rows in batches:
            label = f"{kind}{SEP}{entity}"
            bucket = next((str(b) for b in BATCH_BUCKETS if seconds <= b), "+Inf")
            pipe.hincrby(batches_key, f"{label}{SEP}le{SEP}{bucket}", 1)
            pipe.hincrby(batches_key, f"{label}{SEP}count", 1)
            pipe.hincrbyfloat(batches_key, f"{label}{SEP}sum", seconds)
            for outcome, count in rows.items():
                if count:
                    pipe.hincrby(rows_key, f"{label}{SEP}{outcome}", int(count))
        pipe.execute()
    except redis.RedisError as exc:
        _skip_until = time.monotonic() + 10
        log.warning("cannot record batch metrics in Redis: %s", type(exc).__name__)


@contextmanager
def timed_batch(kind: str, entity: str) -> Iterator[dict[str, int]]:
    """`with timed_batch("import", "contacts") as rows: ... rows["created"] += n`."""
    rows: dict[str, int] = {}
    started = time.perf_counter()
    try:
        yield rows
    finally:
        observe_batch(kind, entity, time.perf_counter() - started, rows)


@dataclass
class BatchHistogram:
    buckets: dict[str, int] = field(default_factory=dict)  # bucket bound → count (not cumulative)
    count: int = 0
    total: float = 0.0


@dataclass
class WorkerMetrics:
    rows: dict[tuple[str, str, str], int]
    batches: dict[tuple[str, str], BatchHistogram]


def read_worker_metrics(client: redis.Redis | None = None) -> WorkerMetrics:
    """Everything the workers recorded; raises redis.RedisError when Redis is unreachable."""
    client = client or redis_client()
    rows_key, batches_key = _keys()
    rows: dict[tuple[str, str, str], int] = {}
    for raw_field, raw_value in client.hgetall(rows_key).items():
        parts = raw_field.decode().split(SEP)
        if len(parts) == 3:
            rows[(parts[0], parts[1], parts[2])] = int(raw_value)
    batches: dict[tuple[str, str], BatchHistogram] = {}
    for raw_field, raw_value in client.hgetall(batches_key).items():
        parts = raw_field.decode().split(SEP)
        if len(parts) < 3:
            continue
        hist = batches.setdefault((parts[0], parts[1]), BatchHistogram())
        if parts[2] == "le" and len(parts) == 4:
            hist.buckets[parts[3]] = int(raw_value)
        elif parts[2] == "count":
            hist.count = int(raw_value)
        elif parts[2] == "sum":
            hist.total = float(raw_value)
    return WorkerMetrics(rows, batches)
