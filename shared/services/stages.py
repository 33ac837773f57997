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
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from shared.entities import OPPORTUNITY, PLACEMENT_IDS, pipelines, stages
from shared.errors import NotFound
from shared.ids import parse_uuid
from shared.services import change_log


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


# --- Pipeline admin: the stage rows themselves, and the cards that follow them ---

KINDS = ("open", "won", "lost")


def stage_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "public_id": row["public_id"],
            "pipeline_id": str(row["pipeline_id"]), "name": row["name"],
            "position": row["position"], "kind": row["kind"]}


def pipeline_or_404(conn: sa.Connection, organization_id: uuid.UUID, value: Any,
                    lock: bool = False):
    """The live pipeline; `lock` holds its row, which serializes changes to its stage list."""
    row = find_pipeline(conn, organization_id, value)
    if row is None:
        raise NotFound(f"No pipeline with id {value}")
    if lock:
        conn.execute(sa.select(pipelines.c.id).where(
            pipelines.c.organization_id == organization_id, pipelines.c.id == row.id)
            .with_for_update())
    return row


def stage_of(conn: sa.Connection, organization_id: uuid.UUID, pipeline_id: uuid.UUID,
             value: Any):
    """The live stage `value` of this pipeline, or None."""
    stage = find_stage(conn, organization_id, value)
    return stage if stage is not None and stage.pipeline_id == pipeline_id else None


def live_stages(conn: sa.Connection, organization_id: uuid.UUID, pipeline_id: uuid.UUID):
    return conn.execute(sa.select(stages).where(
        stages.c.organization_id == organization_id, stages.c.pipeline_id == pipeline_id,
        stages.c.deleted_at.is_(None)).order_by(stages.c.position, stages.c.id)).all()


def lock_pipelines(conn: sa.Connection, organization_id: uuid.UUID) -> None:
    """Serialize default switches and pipeline deletions of one organization: two PATCHes
    making different pipelines the default would otherwise both pass the one-default index
    check and the second would fail on it."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
        sa.func.hashtextextended("drippulse-pipelines:" + str(organization_id), 0))))


def count_cards(conn: sa.Connection, organization_id: uuid.UUID, *,
                stage_id: uuid.UUID | None = None, pipeline_id: uuid.UUID | None = None) -> int:
    o = OPPORTUNITY.table
    where = [o.c.organization_id == organization_id, o.c.deleted_at.is_(None)]
    where.append(o.c.pipeline_stage_id == stage_id if stage_id is not None
                 else o.c.pipeline_id == pipeline_id)
    return conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one()


def move_cards(conn: sa.Connection, organization_id: uuid.UUID, source, target,
               actor: str | None) -> int:
    """Every opportunity of stage `source` (deleted ones too, so none is left on a stage that
    is going away) into stage `target`, after its cards and in their old order; the status
    follows the target's kind. Live cards get an `updated` event each. The caller holds
    `lock_board`. Returns how many live cards moved."""
    o = OPPORTUNITY.table
    in_source = sa.and_(o.c.organization_id == organization_id,
                        o.c.pipeline_stage_id == source.id)
    before = conn.execute(sa.select(o.c.id, o.c.public_id, o.c.stage_position, o.c.status)
                          .where(in_source, o.c.deleted_at.is_(None))).all()
    # the target's cards first made dense (0..n-1, unplaced ones included), so n places the
    # arriving cards after all of them
    renumber(conn, organization_id, target.id)
    offset = count_cards(conn, organization_id, stage_id=target.id)
    conn.execute(o.update().where(in_source).values(
        pipeline_id=target.pipeline_id, pipeline_stage_id=target.id, status=target.kind,
        stage_position=o.c.stage_position + offset))
    renumber(conn, organization_id, target.id)
    if not before:
        return 0
    after = dict(conn.execute(sa.select(o.c.id, o.c.stage_position).where(
        o.c.organization_id == organization_id, o.c.id.in_([r.id for r in before]))).all())
    events = []
    for r in before:
        changes: dict[str, list] = {
            "pipeline_stage_id": [str(source.id), str(target.id)],
            "pipeline_stage_name": [source.name, target.name]}
        if source.pipeline_id != target.pipeline_id:
            changes["pipeline_id"] = [str(source.pipeline_id), str(target.pipeline_id)]
        if r.status != target.kind:
            changes["status"] = [r.status, target.kind]
        if r.stage_position != after[r.id]:
            changes["stage_position"] = [r.stage_position, after[r.id]]
        events.append({"record_id": r.id, "public_id": r.public_id, "event_type": "updated",
                       "changes": changes})
    change_log.record_events(conn, organization_id, OPPORTUNITY.name, events, actor)
    return len(before)


def follow_kind(conn: sa.Connection, organization_id: uuid.UUID, stage_id: uuid.UUID,
                old_kind: str, kind: str, actor: str | None) -> None:
    """A stage's kind changed: its opportunities' status follows (the status always equals the
    stage's kind), each live one with an `updated` event."""
    o = OPPORTUNITY.table
    changed = conn.execute(o.update().where(
        o.c.organization_id == organization_id, o.c.pipeline_stage_id == stage_id,
        o.c.status != kind).values(status=kind)
        .returning(o.c.id, o.c.public_id, o.c.deleted_at)).all()
    change_log.record_events(conn, organization_id, OPPORTUNITY.name, [
        {"record_id": r.id, "public_id": r.public_id, "event_type": "updated",
         "changes": {"status": [old_kind, kind]}} for r in changed if r.deleted_at is None],
        actor)
