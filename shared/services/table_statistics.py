"""Planner statistics after bulk writes.

Autovacuum analyzes a table once about a tenth of it has changed, and up to a minute later (its
naptime). Until then the planner believes that a table which just received a million rows holds
a handful, and picks per-row index probes and no parallelism: measured right after a 300k-row
import, the export streamed 112k rows/s with stale statistics and 140k after ANALYZE, and a
500-row contacts page took 186 ms instead of 24 ms. An import therefore refreshes the statistics
of each table it wrote many rows to, as soon as that entity is done.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa

from shared import db

log = logging.getLogger(__name__)

# Below this many written rows the statistics cannot be far off: autovacuum's own threshold
# (10% of the table) is the better judge.
MIN_ROWS = 10_000


def written_rows(progress: dict, plural: str) -> int:
    entry = progress.get(plural) or {}
    return int(entry.get("created", 0)) + int(entry.get("updated", 0))


def refresh(tables: Iterable[str]) -> list[str]:
    """ANALYZE each table in its own short transaction; returns the ones analyzed. A failure
    is logged, never raised: statistics are an optimization, the import already committed."""
    done = []
    for table in tables:
        try:
            with db.transaction() as conn:
                conn.execute(sa.text("SELECT crm.refresh_statistics(:table)"), {"table": table})
            done.append(table)
        except sa.exc.DBAPIError:
            log.warning("could not refresh the statistics of crm.%s", table, exc_info=True)
    return done
