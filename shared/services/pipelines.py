"""Opportunity pipelines, their stages, and the Kanban board of a pipeline."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
import sqlalchemy as sa

from shared import db
from shared.entities import OPPORTUNITY, pipelines, stages
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.fields import text_problem
from shared.ids import mint_public_id, uuid7
from shared.keyset import KeyPart, Keyset, uuid_value
from shared.serializers import json_value
from shared.services import change_log
from shared.services import stages as placement
from shared.services.organizations import DEFAULT_STAGES
from shared.services.organizations import create_pipeline as _insert_pipeline
from shared.services.stages import KINDS, pipeline_or_404, stage_json


def _storable(value: str) -> None:
    problem = text_problem(value)  # NUL or an unpaired surrogate: Postgres cannot store it
    if problem:
        raise ma.ValidationError(problem)


NAME = [ma.validate.Length(1, 200), _storable]


class StageIn(ma.Schema):
    name = ma.fields.String(required=True, validate=NAME)
    kind = ma.fields.String(load_default="open", validate=ma.validate.OneOf(KINDS))
    position = ma.fields.Integer(load_default=None, allow_none=True,
                                 validate=ma.validate.Range(min=0))


class PipelineIn(ma.Schema):
    name = ma.fields.String(required=True, validate=NAME)
    is_default = ma.fields.Boolean(load_default=False)
    stages = ma.fields.List(ma.fields.Nested(StageIn(exclude=("position",))),
                            validate=ma.validate.Length(1, 100), load_default=None)


def _load(schema: ma.Schema, body: Any, what: str) -> dict:
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object",
                               {"_body": ["must be an object"]})
    try:
        return schema.load(body, unknown=ma.RAISE)
    except ma.ValidationError as exc:
        raise ValidationFailed(f"Invalid {what}", exc.normalized_messages()) from None


def pipeline_json(row: Mapping[str, Any], stage_rows: list) -> dict[str, Any]:
    return {"id": str(row["id"]), "public_id": row["public_id"], "name": row["name"],
            "is_default": row["is_default"], "created_at": json_value(row["created_at"]),
            "updated_at": json_value(row["updated_at"]),
            "stages": [stage_json(s) for s in stage_rows]}


def stages_of(conn: sa.Connection, org: uuid.UUID, pipeline_ids: list[uuid.UUID]) -> dict:
    by_pipeline: dict[uuid.UUID, list] = {pid: [] for pid in pipeline_ids}
    rows = conn.execute(sa.select(stages).where(
        stages.c.organization_id == org, stages.c.pipeline_id.in_(pipeline_ids),
        stages.c.deleted_at.is_(None)).order_by(stages.c.position, stages.c.id))
    for s in rows:
        by_pipeline[s.pipeline_id].append(s._mapping)
    return by_pipeline


_PIPELINES_BY_ID = Keyset(KeyPart("id", pipelines.c.id, uuid_value))


def list_pipelines(org: uuid.UUID, params: Mapping[str, str], limit: int):
    unknown = sorted(set(params) - {"limit", "cursor"})
    if unknown:
        raise ValidationFailed("Unknown query parameters",
                               {n: ["is not a filter of this list"] for n in unknown})
    query = sa.select(pipelines).where(pipelines.c.organization_id == org,
                                       pipelines.c.deleted_at.is_(None))
    query = _PIPELINES_BY_ID.where_after(query, params.get("cursor"))
    with db.tenant_transaction(org) as conn:
        rows = [r._mapping for r in conn.execute(
            query.order_by(*_PIPELINES_BY_ID.order_by()).limit(limit + 1))]
        rows, next_cursor = _PIPELINES_BY_ID.page(rows, limit)
        by_pipeline = stages_of(conn, org, [r["id"] for r in rows])
    return [pipeline_json(r, by_pipeline[r["id"]]) for r in rows], next_cursor


def get_pipeline(org: uuid.UUID, pipeline_id: str) -> dict[str, Any]:
    with db.tenant_transaction(org) as conn:
        row = pipeline_or_404(conn, org, pipeline_id)._mapping
        return pipeline_json(row, stages_of(conn, org, [row["id"]])[row["id"]])


def create_pipeline(org: uuid.UUID, body: Any, actor: str | None = None) -> dict[str, Any]:
    data = _load(PipelineIn(), body, "pipeline")
    specs = tuple((s["name"], s["kind"]) for s in data["stages"]) if data["stages"] \
        else DEFAULT_STAGES
    with db.tenant_transaction(org) as conn:
        if data["is_default"]:
            placement.lock_pipelines(conn, org)
            _undefault_others(conn, org, None, actor)
        new_id = _insert_pipeline(conn, org, data["name"], specs, is_default=data["is_default"])
        row = pipeline_or_404(conn, org, str(new_id))
        _event(conn, org, "pipeline", row, "created", _setting_diff(None, row), actor)
        for stage in placement.live_stages(conn, org, new_id):
            _event(conn, org, "pipeline_stage", stage, "created", _setting_diff(None, stage),
                   actor)
    return get_pipeline(org, str(new_id))


def list_stages(org: uuid.UUID, pipeline_id: str) -> list[dict[str, Any]]:
    with db.tenant_transaction(org) as conn:
        row = pipeline_or_404(conn, org, pipeline_id)
        return [stage_json(s) for s in stages_of(conn, org, [row.id])[row.id]]


def create_stage(org: uuid.UUID, pipeline_id: str, body: Any, actor: str | None = None
                 ) -> dict[str, Any]:
    """A new stage at `position` (stages at or after it shift right), or at the end."""
    data = _load(StageIn(), body, "stage")
    with db.tenant_transaction(org) as conn:
        pipeline = pipeline_or_404(conn, org, pipeline_id)
        # Lock the pipeline row so two inserts cannot compute the same positions.
        conn.execute(sa.select(pipelines.c.id).where(
            pipelines.c.organization_id == org, pipelines.c.id == pipeline.id).with_for_update())
        live = sa.and_(stages.c.organization_id == org, stages.c.pipeline_id == pipeline.id,
                       stages.c.deleted_at.is_(None))
        count = conn.execute(sa.select(sa.func.count()).where(live)).scalar_one()
        position = count if data["position"] is None else min(data["position"], count)
        conn.execute(stages.update().where(live, stages.c.position >= position)
                     .values(position=stages.c.position + 1))
        stage_id = uuid7()
        conn.execute(stages.insert().values(
            id=stage_id, organization_id=org, pipeline_id=pipeline.id,
            public_id=mint_public_id("stage"), name=data["name"], position=position,
            kind=data["kind"]))
        row = conn.execute(sa.select(stages).where(stages.c.organization_id == org,
                                                   stages.c.id == stage_id)).one()
        _event(conn, org, "pipeline_stage", row, "created", _setting_diff(None, row), actor)
    return stage_json(row._mapping)


# --- Pipeline admin: rename, default, reorder, delete; each change appends its event ---

class PipelinePatch(ma.Schema):
    name = ma.fields.String(validate=NAME)
    is_default = ma.fields.Boolean()


class StagePatch(ma.Schema):
    name = ma.fields.String(validate=NAME)
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    position = ma.fields.Integer(validate=ma.validate.Range(min=0))


_SETTING_KEYS = {"pipeline": ("name", "is_default"),
                 "pipeline_stage": ("name", "position", "kind")}


def _setting_diff(before: Any, after: Any) -> dict[str, list]:
    keys = _SETTING_KEYS["pipeline_stage" if "kind" in after._fields else "pipeline"]
    return {k: [None if before is None else getattr(before, k), getattr(after, k)]
            for k in keys if before is None or getattr(before, k) != getattr(after, k)}


def _event(conn: sa.Connection, org: uuid.UUID, record_type: str, row: Any, event_type: str,
           changes: dict, actor: str | None) -> None:
    change_log.record_event(conn, org, record_type=record_type, record_id=row.id,
                            public_id=row.public_id, event_type=event_type, changes=changes,
                            actor=actor)


def _undefault_others(conn: sa.Connection, org: uuid.UUID, keep: uuid.UUID | None,
                      actor: str | None) -> None:
    for row in conn.execute(pipelines.update().where(
            pipelines.c.organization_id == org, pipelines.c.is_default,
            pipelines.c.id != keep if keep else sa.true()).values(is_default=False)
            .returning(pipelines.c.id, pipelines.c.public_id)):
        _event(conn, org, "pipeline", row, "updated", {"is_default": [True, False]}, actor)


def _deleted(conn: sa.Connection, org: uuid.UUID, table: sa.Table, row: Any, record_type: str,
             actor: str | None, **extra: list) -> None:
    at = conn.execute(table.update().where(table.c.organization_id == org, table.c.id == row.id)
                      .values(deleted_at=sa.func.now()).returning(table.c.deleted_at)).scalar_one()
    _event(conn, org, record_type, row, "deleted",
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
            _undefault_others(conn, org, before.id, actor)
        values = {k: v for k, v in data.items() if getattr(before, k) != v}
        if values:
            conn.execute(pipelines.update().where(pipelines.c.organization_id == org,
                                                  pipelines.c.id == before.id).values(**values))
            after = pipeline_or_404(conn, org, str(before.id))
            _event(conn, org, "pipeline", after, "updated", _setting_diff(before, after), actor)
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
        changes = _setting_diff(before, after)
        if changes:
            _event(conn, org, "pipeline_stage", after, "updated", changes, actor)
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
