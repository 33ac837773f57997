"""The heartbeat of an import's spool phase: about once a second it records how far reading the
upload got — the job JSON's `reading` — and learns whether a cancel was requested, in ONE
statement. The spool already stopped once a second to look at the cancel flag; the progress
rides on that same round trip, so a running spool pays nothing per row for it.

The figures live in the job's checkpoint (`checkpoint.reading`): the spool phase's last write
replaces the whole checkpoint, which drops them, and a resumed spool starts its first beat at
zero, so a run killed half way never leaves a stale figure behind a new one.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared import db
from shared.models import jobs


@dataclass
class Reading:
    """How far a spool got: bytes of the stored upload read (for another system's export, of
    the files inside its zip), their total when known, and rows spooled."""

    bytes: int = 0
    bytes_total: int | None = None
    rows: int = 0

    def as_json(self) -> dict[str, int | None]:
        # a reader may have fetched a little more than it counted as the total (a gzip
        # trailer, a header read twice): the figure never passes the total it is shown against
        read = self.bytes if self.bytes_total is None else min(self.bytes, self.bytes_total)
        return {"bytes": read, "bytes_total": self.bytes_total, "rows": self.rows}


class SpoolHeartbeat:
    """Called with no argument (the spool's cancel hook): writes `reading` as it stands and
    answers whether the job's cancel was requested. The spool updates `reading` just before."""

    def __init__(self, organization_id: uuid.UUID, job_id: uuid.UUID) -> None:
        self.organization_id, self.job_id = organization_id, job_id
        self.reading = Reading()

    def __call__(self) -> bool:
        figures = sa.bindparam("reading", {"reading": self.reading.as_json()}, type_=pg.JSONB)
        with db.tenant_transaction(self.organization_id) as conn:
            return bool(conn.execute(
                jobs.update().where(jobs.c.organization_id == self.organization_id,
                                    jobs.c.id == self.job_id)
                .values(checkpoint=sa.func.coalesce(jobs.c.checkpoint,
                                                    sa.cast({}, pg.JSONB)).op("||")(figures))
                .returning(jobs.c.cancel_requested)).scalar())
