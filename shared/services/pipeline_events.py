"""Change events of pipelines and stages (record types `pipeline`, `pipeline_stage`): which
settings a change lists, and the one-default rule's side effect."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.entities import pipelines
from shared.services import change_log

_SETTING_KEYS = {"pipeline": ("name", "is_default"),
                 "pipeline_stage": ("name", "position", "kind")}


def setting_diff(before: Any, after: Any) -> dict[str, list]:
    keys = _SETTING_KEYS["pipeline_stage" if "kind" in after._fields else "pipeline"]
    return {k: [None if before is None else getattr(before, k), getattr(after, k)]
            for k in keys if before is None or getattr(before, k) != getattr(after, k)}


def event(conn: sa.Connection, org: uuid.UUID, record_type: str, row: Any, event_type: str,
           changes: dict, actor: str | None) -> None:
    change_log.record_event(conn, org, record_type=record_type, record_id=row.id,
                            public_id=row.public_id, event_type=event_type, changes=changes,
                            actor=actor)


def undefault_others(conn: sa.Connection, org: uuid.UUID, keep: uuid.UUID | None,
                      actor: str | None) -> None:
    for row in conn.execute(pipelines.update().where(
            pipelines.c.organization_id == org, pipelines.c.is_default,
            pipelines.c.id != keep if keep else sa.true()).values(is_default=False)
            .returning(pipelines.c.id, pipelines.c.public_id)):
        event(conn, org, "pipeline", row, "updated", {"is_default": [True, False]}, actor)


