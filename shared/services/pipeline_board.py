"""A pipeline as a Kanban board: columns (stages) with their card counts, amount totals per
currency and a first page of cards each; a column pages on by its own cursor."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from shared import db
from shared.entities import OPPORTUNITY, stages
from shared.errors import ValidationFailed
from shared.ids import parse_uuid
from shared.pagination import bad_cursor, decode_cursor, page
from shared.serializers import api_row
from shared.services.pipelines import pipeline_json, stages_of
from shared.services.record_query import record_from
from shared.services.stages import pipeline_or_404, stage_json

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
        pipeline = pipeline_or_404(conn, org, pipeline_id)._mapping
        columns = stages_of(conn, org, [pipeline["id"]])[pipeline["id"]]
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

