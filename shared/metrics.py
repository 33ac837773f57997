"""Prometheus metrics: HTTP counters in-process, everything else read at scrape time.

Jobs by kind/status and job lag come from Postgres, queue depth from the broker's Redis lists,
batch timings and row counts from the Redis hashes the workers fill (shared.worker_metrics).
So any one API process answers for the whole deployment. With several gunicorn processes,
set PROMETHEUS_MULTIPROC_DIR and the HTTP counters of all processes are summed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
import sqlalchemy as sa
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from shared import db
from shared.broker import redis_client
from shared.config import get_settings
from shared.jobs.status import STATUSES
from shared.worker_metrics import BATCH_BUCKETS, read_worker_metrics

log = logging.getLogger("drippulse.metrics")

QUEUES = ("imports", "exports", "maintenance")
JOB_KINDS = ("import", "export")
JOB_STATUSES = STATUSES
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport keeps priorities 3/6/9 in `<queue>\x06\x16<n>`
PRIORITIES = (3, 6, 9)

disable_created_metrics()  # `_created` series double the output and no dashboard reads them
HTTP_REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "drippulse_http_requests", "HTTP requests answered, by route template and status",
    ["method", "route", "status"], registry=HTTP_REGISTRY)
HTTP_LATENCY = Histogram(
    "drippulse_http_request_duration_seconds", "Time to answer an HTTP request",
    ["method", "route"], registry=HTTP_REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


class DeploymentCollector:
    """Metrics that describe the deployment, not this process; computed on every scrape."""

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily("drippulse_metrics_source_up",
                                   "1 when the source could be read during this scrape",
                                   labels=["source"])
        try:
            yield from self._jobs()
            errors.add_metric(["database"], 1)
        except Exception as exc:  # noqa: BLE001 - a scrape must still answer when a source is down
            log.warning("metrics: database unavailable: %s", type(exc).__name__)
            errors.add_metric(["database"], 0)
        try:
            client = redis_client()
            yield from self._queues(client)
            yield from self._worker(client)
            errors.add_metric(["redis"], 1)
        except redis.RedisError as exc:
            log.warning("metrics: redis unavailable: %s", type(exc).__name__)
            errors.add_metric(["redis"], 0)
        yield errors

    def _jobs(self) -> Iterator[Metric]:
        # a cross-tenant aggregate (like the sweeps), so it runs as a system transaction
        with db.transaction() as conn:
            counts = {(k, s): n for k, s, n in conn.execute(sa.text(
                "SELECT kind, status, count(*) FROM crm.jobs GROUP BY kind, status"))}
            lag = conn.execute(sa.text(
                "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) "
                "FROM crm.jobs WHERE status = 'queued'")).scalar_one()
        jobs = GaugeMetricFamily("drippulse_jobs", "Jobs in the database by kind and status",
                                 labels=["kind", "status"])
        for kind in sorted({k for k, _ in counts} | set(JOB_KINDS)):
            for status in sorted({s for _, s in counts} | set(JOB_STATUSES)):
                jobs.add_metric([kind, status], counts.get((kind, status), 0))
        yield jobs
        yield GaugeMetricFamily("drippulse_job_queue_lag_seconds",
                                "Age of the oldest job still waiting for a worker",
                                value=float(lag))

    def _queues(self, client: redis.Redis) -> Iterator[Metric]:
        prefix = get_settings().celery_queue_prefix
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            for key in _queue_keys(prefix + queue):
                pipe.llen(key)
        pipe.hlen(prefix + "unacked")
        *lengths, unacked = pipe.execute()
        depth = GaugeMetricFamily("drippulse_queue_depth",
                                  "Messages waiting in each Celery queue", labels=["queue"])
        per_queue = len(PRIORITIES) + 1
        for i, queue in enumerate(QUEUES):
            depth.add_metric([queue], sum(lengths[i * per_queue:(i + 1) * per_queue]))
        yield depth
        yield GaugeMetricFamily("drippulse_queue_unacked",
                                "Messages delivered to a worker and not yet acknowledged",
                                value=unacked)

    def _worker(self, client: redis.Redis) -> Iterator[Metric]:
        recorded = read_worker_metrics(client)
        rows = CounterMetricFamily("drippulse_rows_processed",
                                   "Rows handled by import/export batches, by outcome",
                                   labels=["kind", "entity", "outcome"])
        for (kind, entity, outcome), value in sorted(recorded.rows.items()):
            rows.add_metric([kind, entity, outcome], value)
        yield rows
        batches = HistogramMetricFamily("drippulse_batch_duration_seconds",
                                        "Time to process one import/export batch",
                                        labels=["kind", "entity"])
        for (kind, entity), hist in sorted(recorded.batches.items()):
            cumulative, buckets = 0, []
            for bound in (*map(str, BATCH_BUCKETS), "+Inf"):
                cumulative += hist.buckets.get(bound, 0)
                buckets.append((bound, cumulative))
            batches.add_metric([kind, entity], buckets, hist.total)
        yield batches


def _queue_keys(queue: str) -> list[str]:
    return [queue] + [f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITIES]


def render() -> tuple[bytes, str]:
    """The text exposition of every metric: (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    if get_settings().prometheus_multiproc_dir:
        multiprocess.MultiProcessCollector(registry)  # HTTP metrics of every gunicorn process
    else:
        registry.register(HTTP_REGISTRY)
    registry.register(DeploymentCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
