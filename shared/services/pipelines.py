"""Opportunity pipelines, their stages, and the Kanban board of a pipeline."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import marshmallow as ma
import sqlalchemy as sa

from shared import db
from shared.entities import OPPORTUNITY, pipelines, stages
from shared.errors import NotFound, ValidationFailed
from shared.fields import text_problem
from shared.ids import mint_public_id, parse_uuid, uuid7
from shared.keyset import KeyPart, Keyset, uuid_value
from shared.pagination import bad_cursor, decode_cursor, page
from shared.serializers import api_row, json_value
from shared.services.organizations import DEFAULT_STAGES
from shared.services.organizations import create_pipeline as _insert_pipeline
from shared.services.record_query import record_from
from shared.services.stages import find_pipeline

KINDS = ("open", "won", "lost")


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


def stage_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "public_id": row["public_id"],
            "pipeline_id": str(row["pipeline_id"]), "name": row["name"],
            "position": row["position"], "kind": row["kind"]}


def pipeline_json(row: Mapping[str, Any], stage_rows: list) -> dict[str, Any]:
    return {"id": str(row["id"]), "public_id": row["public_id"], "name": row["name"],
            "is_default": row["is_default"], "created_at": json_value(row["created_at"]),
            "updated_at": json_value(row["updated_at"]),
            "stages": [stage_json(s) for s in stage_rows]}


def _stages_of(conn: sa.Connection, org: uuid.UUID, pipeline_ids: list[uuid.UUID]) -> dict:
    by_pipeline: dict[uuid.UUID, list] = {pid: [] for pid in pipeline_ids}
    rows = conn.execute(sa.select(stages).where(
        stages.c.organization_id == org, stages.c.pipeline_id.in_(pipeline_ids),
        stages.c.deleted_at.is_(None)).order_by(stages.c.position, stages.c.id))
    for s in rows:
        by_pipeline[s.pipeline_id].append(s._mapping)
    return by_pipeline


def _pipeline_or_404(conn: sa.Connection, org: uuid.UUID, pipeline_id: str):
    row = find_pipeline(conn, org, pipeline_id)
    if row is None:
        raise NotFound(f"No pipeline with id {pipeline_id}")
    return row


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
        by_pipeline = _stages_of(conn, org, [r["id"] for r in rows])
    return [pipeline_json(r, by_pipeline[r["id"]]) for r in rows], next_cursor


def get_pipeline(org: uuid.UUID, pipeline_id: str) -> dict[str, Any]:
    with db.tenant_transaction(org) as conn:
        row = _pipeline_or_404(conn, org, pipeline_id)._mapping
        return pipeline_json(row, _stages_of(conn, org, [row["id"]])[row["id"]])


def create_pipeline(org: uuid.UUID, body: Any) -> dict[str, Any]:
    data = _load(PipelineIn(), body, "pipeline")
    specs = tuple((s["name"], s["kind"]) for s in data["stages"]) if data["stages"] \
        else DEFAULT_STAGES
    with db.tenant_transaction(org) as conn:
        if data["is_default"]:
            conn.execute(pipelines.update().where(
                pipelines.c.organization_id == org, pipelines.c.is_default
            ).values(is_default=False))
        new_id = _insert_pipeline(conn, org, data["name"], specs, is_default=data["is_default"])
    return get_pipeline(org, str(new_id))


def list_stages(org: uuid.UUID, pipeline_id: str) -> list[dict[str, Any]]:
    with db.tenant_transaction(org) as conn:
        row = _pipeline_or_404(conn, org, pipeline_id)
        return [stage_json(s) for s in _stages_of(conn, org, [row.id])[row.id]]


def create_stage(org: uuid.UUID, pipeline_id: str, body: Any) -> dict[str, Any]:
    """A new stage at `position` (stages at or after it shift right), or at the end."""
    data = _load(StageIn(), body, "stage")
    with db.tenant_transaction(org) as conn:
        pipeline = _pipeline_or_404(conn, org, pipeline_id)
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
    return stage_json(row._mapping)


BOARD_PARAMS = ("limit", "stage_id", "cursor")


def board(org: uuid.UUID, pipeline_id: str, params: Mapping[str, str], limit: int
          ) -> dict[str, Any]:
    """Columns = stages in position order, each with count, amount totals and its first
    `limit` cards (by stage_position, nulls last, then id). `stage_id` + `cursor` pages one
    column further."""
    unknown = sorted(set(params) - set(BOARD_PARAMS))
    if unknown:
        raise ValidationFailed("Unknown query parameters",
                               {n: ["is not a parameter of the board"] for n in unknown})
    with db.tenant_transaction(org) as conn:
        pipeline = _pipeline_or_404(conn, org, pipeline_id)._mapping
        columns = _stages_of(conn, org, [pipeline["id"]])[pipeline["id"]]
        if params.get("stage_id"):
            wanted = params["stage_id"]
            columns = [c for c in columns if wanted in (str(c["id"]), c["public_id"])]
            if not columns:
                raise ValidationFailed("Invalid stage_id",
                                       {"stage_id": ["is not a stage of this pipeline"]})
        elif params.get("cursor"):
            raise ValidationFailed("Invalid cursor", {"cursor": ["needs stage_id"]})
        totals = _totals(conn, org, pipeline["id"])
        cards = _cards(conn, org, [c["id"] for c in columns], limit, params.get("cursor"))
    out = []
    for column in columns:
        rows, next_cursor = page(cards.get(column["id"], []), limit,
                                 lambda r: {"p": r["stage_position"], "id": str(r["id"])})
        by_currency = totals.get(column["id"], {})
        out.append({
            "stage": stage_json(column),
            "count": sum(n for n, _ in by_currency.values()),
            "amount_total": str(sum((a for _, a in by_currency.values()), Decimal("0.00"))),
            "amount_by_currency": {cur or "": str(a) for cur, (_, a) in by_currency.items()},
            "items": [api_row(OPPORTUNITY, r) for r in rows],
            "next": next_cursor,
        })
    return {"pipeline": pipeline_json(pipeline, columns if not params.get("stage_id") else []),
            "columns": out}


def _totals(conn: sa.Connection, org: uuid.UUID, pipeline_id: uuid.UUID) -> dict:
    o = OPPORTUNITY.table
    rows = conn.execute(
        sa.select(o.c.pipeline_stage_id, o.c.currency, sa.func.count(),
                  sa.func.coalesce(sa.func.sum(o.c.amount), 0))
        .where(o.c.organization_id == org, o.c.pipeline_id == pipeline_id,
               o.c.deleted_at.is_(None))
        .group_by(o.c.pipeline_stage_id, o.c.currency))
    totals: dict = {}
    for stage_id, currency, count, amount in rows:
        totals.setdefault(stage_id, {})[currency] = (count, Decimal(amount))
    return totals


def _cards(conn: sa.Connection, org: uuid.UUID, stage_ids: list[uuid.UUID], limit: int,
           raw_cursor: str | None) -> dict:
    """Up to limit+1 cards of each column in ONE query (a LATERAL subquery per stage)."""
    o = OPPORTUNITY.table
    col = stages.alias("col")
    query = sa.select(o).where(o.c.organization_id == org, o.c.pipeline_stage_id == col.c.id,
                               o.c.deleted_at.is_(None))
    cursor = decode_cursor(raw_cursor, ("p", "id"))
    if cursor is not None:
        after_id, after_p = parse_uuid(cursor["id"]), cursor["p"]
        if after_id is None or not (after_p is None or isinstance(after_p, int)):
            raise bad_cursor()
        if after_p is None:
            query = query.where(o.c.stage_position.is_(None), o.c.id > after_id)
        else:
            query = query.where(sa.or_(
                o.c.stage_position > after_p,
                sa.and_(o.c.stage_position == after_p, o.c.id > after_id),
                o.c.stage_position.is_(None)))
    cards = query.order_by(o.c.stage_position.asc().nulls_last(), o.c.id) \
        .limit(limit + 1).lateral("cards")
    # The references are joined to each column's page of cards, not to the whole column.
    from_, columns = record_from(OPPORTUNITY, cards, start=col.join(cards, sa.true()))
    rows = conn.execute(
        sa.select(col.c.id.label("column_id"), *columns)
        .select_from(from_)
        .where(col.c.organization_id == org, col.c.id.in_(stage_ids))
        .order_by(col.c.id, cards.c.stage_position.asc().nulls_last(), cards.c.id)
    )
    by_column: dict = {}
    for r in rows:
        by_column.setdefault(r.column_id, []).append(r._mapping)
    return by_column

