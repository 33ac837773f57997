"""Pipeline admin: rename, choose the default, reorder and delete stages and pipelines (the
opportunities of a deleted stage or pipeline move where the caller says); each change appends
its change event."""
from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
import sqlalchemy as sa

from shared import db
from shared.entities import OPPORTUNITY, pipelines, stages
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.serializers import json_value
from shared.services import stages as placement
from shared.services.pipeline_events import event, setting_diff, undefault_others
from shared.services.pipelines import NAME, _load, get_pipeline
from shared.services.stages import KINDS, pipeline_or_404, stage_json


class PipelinePatch(ma.Schema):
    name = ma.fields.String(validate=NAME)
    is_default = ma.fields.Boolean()


class StagePatch(ma.Schema):
    name = ma.fields.String(validate=NAME)
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    position = ma.fields.Integer(validate=ma.validate.Range(min=0))


def _deleted(conn: sa.Connection, org: uuid.UUID, table: sa.Table, row: Any, record_type: str,
             actor: str | None, **extra: list) -> None:
    at = conn.execute(table.update().where(table.c.organization_id == org, table.c.id == row.id)
                      .values(deleted_at=sa.func.now()).returning(table.c.deleted_at)).scalar_one()
    event(conn, org, record_type, row, "deleted",
           {"deleted_at": [None, json_value(at)], **extra}, actor)


def update_pipeline(org: uuid.UUID, pipeline_id: str, body: Any, actor: str | None
                    ) -> dict[str, Any]:
    """Rename; `is_default: true` makes it the default (the previous one stops being it). An
    organization always has a default, so `false` on the default is refused."""
    data = _load(PipelinePatch(), body, "pipeline")
    with db.tenant_transaction(org) as conn:
        placement.lock_pipelines(conn, org)
        before = pipeline_or_404(conn, org, pipeline_id, lock=True)
        if data.get("is_default") is False and before.is_default:
            raise ValidationFailed("Invalid pipeline", {"is_default": [
                "make another pipeline the default instead: there is always one"]})
        if data.get("is_default") and not before.is_default:
            undefault_others(conn, org, before.id, actor)
        values = {k: v for k, v in data.items() if getattr(before, k) != v}
        if values:
            conn.execute(pipelines.update().where(pipelines.c.organization_id == org,
                                                  pipelines.c.id == before.id).values(**values))
            after = pipeline_or_404(conn, org, str(before.id))
            event(conn, org, "pipeline", after, "updated", setting_diff(before, after), actor)
    return get_pipeline(org, str(before.id))


def _move_to(conn: sa.Connection, what: str, count: int, move_to: str | None, find) -> Any:
    """The target named by ?move_to=, required (409) when `count` live opportunities must go."""
    if move_to is None:
        if count:
            raise Conflict(f"The {what} holds {count} opportunities: say where they go",
                           {"move_to": [f"is required: the {what} is not empty"]},
                           code=f"{what.replace(' ', '_')}_not_empty")
        return None
    target = find(move_to)
    if target is None:
        raise ValidationFailed("Invalid move_to", {"move_to": [
            f"must be another {what} of your organization"]})
    return target


def delete_pipeline(org: uuid.UUID, pipeline_id: str, move_to: str | None,
                    actor: str | None) -> None:
    """Soft-delete a pipeline (never the default) and its stages; its opportunities move to
    pipeline `move_to`, each to the first stage of its stage's kind there (else the first)."""
    with db.tenant_transaction(org) as conn:
        placement.lock_pipelines(conn, org)
        row = pipeline_or_404(conn, org, pipeline_id, lock=True)
        if row.is_default:
            raise Conflict("The default pipeline cannot be deleted: make another the default "
                           "first", {"is_default": ["is true"]}, code="default_pipeline")
        count = placement.count_cards(conn, org, pipeline_id=row.id)
        target = _move_to(conn, "pipeline", count, move_to, lambda v: next(
            (p for p in [placement.find_pipeline(conn, org, v)] if p and p.id != row.id), None))
        placement.lock_board(conn, org)
        if target is not None:
            into = placement.live_stages(conn, org, target.id)
            o = OPPORTUNITY.table
            sources = conn.execute(sa.select(stages).where(
                stages.c.organization_id == org, stages.c.id.in_(
                    sa.select(o.c.pipeline_stage_id).where(o.c.organization_id == org,
                                                           o.c.pipeline_id == row.id))
            ).order_by(stages.c.position, stages.c.id)).all()
            for source in sources:
                same = [s for s in into if s.kind == source.kind]
                placement.move_cards(conn, org, source, (same or into)[0], actor)
        for stage in placement.live_stages(conn, org, row.id):
            _deleted(conn, org, stages, stage, "pipeline_stage", actor)
        _deleted(conn, org, pipelines, row, "pipeline", actor)


def update_stage(org: uuid.UUID, pipeline_id: str, stage_id: str, body: Any,
                 actor: str | None) -> dict[str, Any]:
    """Rename, change the kind (its opportunities' status follows) or move to `position`
    (clamped to the end; the others close up, so positions stay dense and 0-based)."""
    data = _load(StagePatch(), body, "stage")
    with db.tenant_transaction(org) as conn:
        pipeline = pipeline_or_404(conn, org, pipeline_id, lock=True)
        before = _stage_or_404(conn, org, pipeline.id, stage_id)
        if "kind" in data and data["kind"] != before.kind:
            placement.lock_board(conn, org)
            placement.follow_kind(conn, org, before.id, before.kind, data["kind"], actor)
        values = {k: data[k] for k in ("name", "kind") if k in data}
        if "position" in data:
            _reorder(conn, org, pipeline.id, before.id, data["position"])
        if values:
            conn.execute(stages.update().where(stages.c.organization_id == org,
                                               stages.c.id == before.id).values(**values))
        after = _stage_or_404(conn, org, pipeline.id, str(before.id))
        changes = setting_diff(before, after)
        if changes:
            event(conn, org, "pipeline_stage", after, "updated", changes, actor)
        return stage_json(after._mapping)


def _stage_or_404(conn: sa.Connection, org: uuid.UUID, pipeline_id: uuid.UUID, value: str):
    stage = placement.stage_of(conn, org, pipeline_id, value)
    if stage is None:
        raise NotFound(f"No stage with id {value} in this pipeline")
    return stage


def _reorder(conn: sa.Connection, org: uuid.UUID, pipeline_id: uuid.UUID,
             moving: uuid.UUID | None, position: int = 0) -> None:
    """Dense 0-based positions; `moving` (None: none) goes to `position`, clamped."""
    ids = [s.id for s in placement.live_stages(conn, org, pipeline_id) if s.id != moving]
    if moving is not None:
        ids.insert(min(position, len(ids)), moving)
    for index, stage_id in enumerate(ids):
        conn.execute(stages.update().where(
            stages.c.organization_id == org, stages.c.id == stage_id,
            stages.c.position != index).values(position=index))


def delete_stage(org: uuid.UUID, pipeline_id: str, stage_id: str, move_to: str | None,
                 actor: str | None) -> None:
    """Soft-delete a stage (never the last); its opportunities move to stage `move_to` of the
    same pipeline, after that column's cards."""
    with db.tenant_transaction(org) as conn:
        pipeline = pipeline_or_404(conn, org, pipeline_id, lock=True)
        stage = _stage_or_404(conn, org, pipeline.id, stage_id)
        if len(placement.live_stages(conn, org, pipeline.id)) == 1:
            raise Conflict("The last stage of a pipeline cannot be deleted",
                           {"stage_id": ["is the pipeline's only stage"]}, code="last_stage")
        placement.lock_board(conn, org)
        count = placement.count_cards(conn, org, stage_id=stage.id)
        target = _move_to(conn, "stage", count, move_to, lambda v: next(
            (s for s in [placement.stage_of(conn, org, pipeline.id, v)]
             if s and s.id != stage.id), None))
        if target is not None:
            placement.move_cards(conn, org, stage, target, actor)
        _deleted(conn, org, stages, stage, "pipeline_stage", actor)
        _reorder(conn, org, pipeline.id, None)
