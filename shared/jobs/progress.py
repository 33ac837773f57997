"""A job's progress: per entity, counters. One shape for imports, exports and the job JSON:

    {"accounts": {"total": 0, "processed": 0, "created": 0, "updated": 0, "unchanged": 0,
                  "failed": 0}, …}     (exports carry total and processed only)
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.entities import ENTITIES
from shared.jobs.status import DONE_WELL

COUNTERS = ("total", "processed", "created", "updated", "unchanged", "failed")
WRITTEN = ("created", "updated")

Progress = dict[str, dict[str, int]]


def empty() -> Progress:
    return {e.plural: dict.fromkeys(COUNTERS, 0) for e in ENTITIES}


def with_totals(totals: dict[str, int]) -> Progress:
    progress = empty()
    for plural, total in totals.items():
        progress[plural]["total"] = total
    return progress


def added(progress: Progress, plural: str, counts: dict[str, int]) -> Progress:
    """The progress with one unit of work's counts added to an entity's counters (a kind may
    count more than COUNTERS: a revert counts deleted and restored rows)."""
    existing = progress.get(plural) or {}
    entry = {k: int(v) for k, v in existing.items()} if existing else dict.fromkeys(COUNTERS, 0)
    for name, value in counts.items():
        entry[name] = entry.get(name, 0) + value
    return {**progress, plural: entry}


def processed(progress: Progress) -> int:
    return sum(p.get("processed", 0) for p in progress.values())


def written(progress: Progress, plural: str) -> int:
    """Rows an entity's batches inserted or changed."""
    entry = progress.get(plural) or {}
    return sum(int(entry.get(c, 0)) for c in WRITTEN)


def percent(progress: Progress, status: str) -> int:
    if status in DONE_WELL:
        return 100
    total = sum(p.get("total", 0) for p in progress.values())
    return min(99, int(processed(progress) * 100 / total)) if total else 0


def rows_per_second(progress: Progress, started: datetime | None,
                    finished: datetime | None) -> float | None:
    """Rows processed per second since the job started (until it finished)."""
    if started is None:
        return None
    end = finished or datetime.now(started.tzinfo)
    seconds = (end - started).total_seconds()
    return round(processed(progress) / seconds, 1) if seconds > 0 else None


def as_json(progress: Any) -> Progress:
    return progress or {}
