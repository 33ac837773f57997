"""Where an opportunity sits: its pipeline, its stage, its status and its place in the column.

Rules (docs/api.md):
- No pipeline given on create: the organization's default pipeline.
- No stage given: the pipeline's first stage (lowest position) whose kind equals the status
  given, or the first open stage ("Unassigned" in the default pipeline).
- A stage must belong to the pipeline (422 on pipeline_stage_id).
- The status always equals the stage's kind: a won/lost stage makes the status won/lost. Sending
  only a status moves the opportunity to the first stage of that kind in its pipeline; sending a
  stage and a contradicting status is a 422.
- stage_position is a 0-based index in the column; cards without one sort last (by id).
"""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.entities import OPPORTUNITY, PLACEMENT_IDS, pipelines, stages
from shared.ids import parse_uuid


def _by_id(table: sa.Table, value: Any) -> sa.ColumnElement[bool]:
    as_uuid = parse_uuid(value)
    return table.c.id == as_uuid if as_uuid else table.c.public_id == str(value)


def find_pipeline(conn: sa.Connection, organization_id: uuid.UUID, value: Any):
    return conn.execute(sa.select(pipelines).where(
        pipelines.c.organization_id == organization_id, _by_id(pipelines, value),
        pipelines.c.deleted_at.is_(None))).one_or_none()


def find_stage(conn: sa.Connection, organization_id: uuid.UUID, value: Any):
    return conn.execute(sa.select(stages).where(
        stages.c.organization_id == organization_id, _by_id(stages, value),
        stages.c.deleted_at.is_(None))).one_or_none()


def default_pipeline_id(conn: sa.Connection, organization_id: uuid.UUID) -> uuid.UUID | None:
    return conn.execute(sa.select(pipelines.c.id).where(
        pipelines.c.organization_id == organization_id, pipelines.c.is_default,
        pipelines.c.deleted_at.is_(None))).scalar_one_or_none()


def first_stage(conn: sa.Connection, organization_id: uuid.UUID, pipeline_id: uuid.UUID,
                kind: str):
    return conn.execute(sa.select(stages).where(
        stages.c.organization_id == organization_id, stages.c.pipeline_id == pipeline_id,
        stages.c.kind == kind, stages.c.deleted_at.is_(None),
    ).order_by(stages.c.position, stages.c.id).limit(1)).one_or_none()


def place(conn: sa.Connection, organization_id: uuid.UUID, data: dict[str, Any],
          current: dict[str, Any] | None, problems: dict[str, list[str]]) -> dict[str, Any]:
    """pipeline_id / pipeline_stage_id / status values for a create (current=None) or update."""
    pipeline_in, stage_in = data.pop("pipeline_id", None), data.pop("pipeline_stage_id", None)
    status_in = data.pop("status", None)
    if current is not None and pipeline_in is None and stage_in is None and status_in is None:
        return {}
    pipeline_id = current["pipeline_id"] if current else None
    if pipeline_in is not None:
        pipeline = find_pipeline(conn, organization_id, pipeline_in)
        if pipeline is None:
            problems.setdefault("pipeline_id", []).append("no pipeline with this id")
            return {}
        pipeline_id = pipeline.id
    stage = None
    if stage_in is not None:
        stage = find_stage(conn, organization_id, stage_in)
        if stage is None:
            problems.setdefault("pipeline_stage_id", []).append("no stage with this id")
            return {}
        if pipeline_in is not None and stage.pipeline_id != pipeline_id:
            problems.setdefault("pipeline_stage_id", []).append(
                "does not belong to the given pipeline")
            return {}
        pipeline_id = stage.pipeline_id
    if pipeline_id is None:
        pipeline_id = default_pipeline_id(conn, organization_id)
        if pipeline_id is None:
            problems.setdefault("pipeline_id", []).append(
                "is required: the organization has no default pipeline")
            return {}
    if stage is None:
        if current is not None and pipeline_id == current["pipeline_id"] and (
                status_in is None or status_in == current["status"]):
            return {}
        kind = status_in or "open"
        stage = first_stage(conn, organization_id, pipeline_id, kind)
        if stage is None:
            field = "status" if status_in else "pipeline_id"
            problems.setdefault(field, []).append(f"the pipeline has no {kind} stage")
            return {}
    elif status_in is not None and status_in != stage.kind:
        problems.setdefault("status", []).append(
            f"must be {stage.kind}: the status follows the stage's kind")
        return {}
    return {"pipeline_id": pipeline_id, "pipeline_stage_id": stage.id, "status": stage.kind}


PLACEMENT_KEYS = (*PLACEMENT_IDS, "status", "stage_position")


def lock_board(conn: sa.Connection, organization_id: uuid.UUID) -> None:
    """Serialize the organization's card moves for the rest of the transaction.

    Taken BEFORE the moving row is locked: a renumber writes neighbours' rows, so two moves
    that each held their own row lock first could wait on each other (deadlock)."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
        sa.func.hashtextextended("drippulse-board:" + str(organization_id), 0))))


def renumber(conn: sa.Connection, organization_id: uuid.UUID, stage_id: uuid.UUID,
             moving_id: uuid.UUID | None = None, position: int | None = None) -> None:
    """Make the column's positions dense (0..n-1), keeping the current order; when `moving_id`
    is given, that card is inserted at `position` (clamped to the end). One statement; only
    rows whose position changes are written."""
    o = OPPORTUNITY.table
    live = sa.and_(o.c.organization_id == organization_id, o.c.pipeline_stage_id == stage_id,
                   o.c.deleted_at.is_(None))
    rank = (sa.func.row_number().over(order_by=(o.c.stage_position.asc().nulls_last(), o.c.id))
            - 1).label("r")
    others = sa.select(o.c.id, rank).where(live)
    if moving_id is not None:
        others = others.where(o.c.id != moving_id)
    others = others.cte("others")
    pos = sa.case((others.c.r >= position, others.c.r + 1), else_=others.c.r) \
        if moving_id is not None and position is not None else others.c.r
    target = sa.select(others.c.id, pos.label("pos"))
    if moving_id is not None and position is not None:
        count = sa.select(sa.func.count()).select_from(others).scalar_subquery()
        target = target.union_all(sa.select(
            sa.literal(moving_id, o.c.id.type), sa.func.least(position, count)))
    target = target.subquery("target")
    conn.execute(
        o.update().where(o.c.organization_id == organization_id, o.c.id == target.c.id,
                         o.c.stage_position.is_distinct_from(target.c.pos))
        .values(stage_position=target.c.pos)
    )
