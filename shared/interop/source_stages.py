"""`?create_stages=true`: the source's open stages that the default pipeline lacks are added to
it, in the source's order, before its won and lost stages (positions stay dense, 0-based), so
opportunities land in a stage of their own name instead of Unassigned."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared.entities import pipelines, stages
from shared.ids import mint_public_id, uuid7
from shared.interop.source import SourceStage
from shared.services.stages import lock_board

MAX_STAGE_NAME = 255


def add_source_stages(conn: sa.Connection, organization_id: uuid.UUID,
                      source_stages: list[SourceStage]) -> list[str]:
    """Add the missing open stages; returns their names (in order)."""
    pipeline_id = conn.execute(sa.select(pipelines.c.id).where(
        pipelines.c.organization_id == organization_id, pipelines.c.is_default,
        pipelines.c.deleted_at.is_(None))).scalar_one_or_none()
    if pipeline_id is None:
        return []
    lock_board(conn, organization_id)  # stage moves renumber under the same lock
    current = conn.execute(sa.select(stages.c.id, stages.c.name, stages.c.kind)
                           .where(stages.c.organization_id == organization_id,
                                  stages.c.pipeline_id == pipeline_id,
                                  stages.c.deleted_at.is_(None))
                           .order_by(stages.c.position, stages.c.id)).all()
    known = {r.name.strip().lower() for r in current}
    new: list[str] = []
    for stage in source_stages:
        name = stage.name.strip()[:MAX_STAGE_NAME]
        if stage.kind == "open" and name and "\x00" not in name and name.lower() not in known:
            known.add(name.lower())
            new.append(name)
    if not new:
        return []
    opened = [r.id for r in current if r.kind == "open"]
    closed = [r.id for r in current if r.kind != "open"]
    inserted = [uuid7() for _ in new]
    conn.execute(stages.insert(), [
        {"id": stage_id, "organization_id": organization_id, "pipeline_id": pipeline_id,
         "public_id": mint_public_id("stage"), "name": name, "kind": "open",
         "position": len(current) + i}  # placeholder: renumbered below
        for i, (stage_id, name) in enumerate(zip(inserted, new, strict=True))])
    order = [*opened, *inserted, *closed]
    conn.execute(sa.text(
        "UPDATE crm.opportunity_pipeline_stages s SET position = o.pos - 1 "
        "FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS o(id, pos) "
        "WHERE s.organization_id = :org AND s.id = o.id AND s.position <> o.pos - 1"),
        {"ids": order, "org": organization_id})
    return new
