"""Where an imported opportunity lands: its own stage when the organization has it, else the
default pipeline's stage that means the same (won, lost), else the stage of that name, else
Unassigned — keeping the source's stage name in custom_fields.source_stage."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared.bundle.validate import Candidate, row_error
from shared.entities import PLACEMENT_IDS, Entity, pipelines, stages

SOURCE_STAGE_KEY = "source_stage"


class StageResolver:
    """The organization's live stages, loaded once per batch (a handful of rows)."""

    def __init__(self, conn: sa.Connection, organization_id: uuid.UUID) -> None:
        rows = conn.execute(
            sa.select(stages.c.id, stages.c.pipeline_id, stages.c.name, stages.c.position,
                      stages.c.kind, pipelines.c.is_default)
            .join(pipelines, sa.and_(pipelines.c.organization_id == stages.c.organization_id,
                                     pipelines.c.id == stages.c.pipeline_id))
            .where(stages.c.organization_id == organization_id, stages.c.deleted_at.is_(None),
                   pipelines.c.deleted_at.is_(None))
            .order_by(stages.c.position)
        ).all()
        self.pipeline_of = {r.id: r.pipeline_id for r in rows}
        default = [r for r in rows if r.is_default]
        self.default_by_name: dict[str, tuple[uuid.UUID, uuid.UUID, str]] = {}
        self.default_by_kind: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}
        for r in default:
            self.default_by_name.setdefault(r.name.strip().lower(), (r.pipeline_id, r.id, r.kind))
            self.default_by_kind.setdefault(r.kind, (r.pipeline_id, r.id))
        found = self.default_by_name.get("unassigned")
        self.unassigned = (found[:2] if found
                           else (default[0].pipeline_id, default[0].id) if default else None)

    def resolve(self, pipeline_id: uuid.UUID | None, stage_id: uuid.UUID | None,
                stage_name: str | None, status: str | None = None
                ) -> tuple[tuple[uuid.UUID, uuid.UUID] | None, bool]:
        """((pipeline_id, stage_id), fell_back): a stage of this organization is kept (with its
        own pipeline); a missing or foreign one resolves in the default pipeline: a won or lost
        row to the stage of that kind (the one of its name when that is of the kind), others by
        name, else Unassigned (fell_back when a name was given). None when the organization
        has no default pipeline at all."""
        if stage_id is not None and stage_id in self.pipeline_of:
            return (self.pipeline_of[stage_id], stage_id), False
        named = self.default_by_name.get(stage_name.strip().lower()) if stage_name else None
        if status in ("won", "lost"):
            if named and named[2] == status:
                return named[:2], False
            if status in self.default_by_kind:
                return self.default_by_kind[status], False
        if named:
            return named[:2], False
        return self.unassigned, bool(stage_name and stage_name.strip())


def place_opportunities(conn: sa.Connection, entity: Entity, organization_id: uuid.UUID,
                        rows: list[Candidate], errors: list[dict]) -> tuple[set[int], set[str]]:
    """Fill pipeline_id / pipeline_stage_id; returns (rejected row indexes, stage names that
    fell back to Unassigned)."""
    resolver = StageResolver(conn, organization_id)
    rejected: set[int] = set()
    fell_back: set[str] = set()
    for cand in rows:
        pipeline_id, stage_id, name = cand.stage
        found, fallback = resolver.resolve(pipeline_id, stage_id, name, cand.values.get("status"))
        if found is None:
            rejected.add(cand.index)
            errors.append(row_error(entity, cand.index, cand.public_id, PLACEMENT_IDS[1],
                                    "the organization has no default pipeline"))
            continue
        cand.values.update(zip(PLACEMENT_IDS, found, strict=True))
        if fallback:
            name = name.strip()
            fell_back.add(name)
            custom = cand.values.get("custom_fields")
            if isinstance(custom, dict) and SOURCE_STAGE_KEY not in custom:
                cand.values["custom_fields"] = {**custom, SOURCE_STAGE_KEY: name}
    return rejected, fell_back
