"""Opportunity pipelines, their stages, and the Kanban board of a pipeline."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
import sqlalchemy as sa

from shared import db
from shared.entities import pipelines, stages
from shared.errors import ValidationFailed
from shared.fields import text_problem
from shared.ids import mint_public_id, uuid7
from shared.keyset import KeyPart, Keyset, uuid_value
from shared.serializers import json_value
from shared.services import stages as placement
from shared.services.organizations import DEFAULT_STAGES
from shared.services.organizations import create_pipeline as _insert_pipeline
from shared.services.pipeline_events import event, setting_diff, undefault_others
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
            undefault_others(conn, org, None, actor)
        new_id = _insert_pipeline(conn, org, data["name"], specs, is_default=data["is_default"])
        row = pipeline_or_404(conn, org, str(new_id))
        event(conn, org, "pipeline", row, "created", setting_diff(None, row), actor)
        for stage in placement.live_stages(conn, org, new_id):
            event(conn, org, "pipeline_stage", stage, "created", setting_diff(None, stage),
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
        event(conn, org, "pipeline_stage", row, "created", setting_diff(None, row), actor)
    return stage_json(row._mapping)


