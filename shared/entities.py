"""The one definition of each CRM entity: its table, its fields and its references.

API schemas, the bundle validator, serializers and the export all derive from this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared import fields as k

metadata = sa.MetaData(schema="crm")


@dataclass(frozen=True)
class Field:
    name: str
    kind: k.Kind
    required: bool = False
    default: object = None


@dataclass(frozen=True)
class Reference:
    """A link to another record: `<name>_id` (uuid) in the table, `<name>_public_id` on the wire."""

    name: str
    target: str  # entity name, or "*" for the polymorphic activity record

    @property
    def column(self) -> str:
        return f"{self.name}_id"

    @property
    def public_field(self) -> str:
        return f"{self.name}_public_id"


@dataclass(frozen=True)
class Entity:
    name: str  # singular: account
    plural: str  # bundle key, table name and URL segment: accounts
    prefix: str
    fields: tuple[Field, ...]
    references: tuple[Reference, ...] = ()
    # imported rows are placed on a pipeline stage (shared.bundle.stage_placement)
    stage_placement: bool = False
    table: sa.Table = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", _record_table(self))

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


COMMON_FIELDS = (
    Field("external_system", k.string(255)),
    Field("external_id", k.string(255)),
    Field("custom_fields", k.JSON_OBJECT),
)

TIMESTAMP_FIELDS = ("created_at", "updated_at", "deleted_at")


def _record_table(entity: Entity) -> sa.Table:
    columns = [
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("public_id", sa.Text(), nullable=False),
        sa.Column("external_system", sa.Text()),
        sa.Column("external_id", sa.Text()),
        sa.Column("custom_fields", pg.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    ]
    for f in entity.fields:
        # a field with a default is stored NOT NULL: the row takes the default instead of null
        columns.append(sa.Column(f.name, f.kind.column_type,
                                 nullable=not f.required and f.default is None))
    for ref in entity.references:
        columns.append(sa.Column(ref.column, pg.UUID(as_uuid=True)))
    if entity.name == "opportunity":
        columns += [
            sa.Column("pipeline_id", pg.UUID(as_uuid=True), nullable=False),
            sa.Column("pipeline_stage_id", pg.UUID(as_uuid=True), nullable=False),
        ]
    if entity.name == "activity":
        columns.append(sa.Column("record_type", sa.Text()))
    return sa.Table(entity.plural, metadata, *columns)


ACCOUNT = Entity(
    "account", "accounts", "acct",
    fields=(
        Field("name", k.string(255), required=True),
        Field("domain", k.string(255)),
        Field("industry", k.string(255)),
        Field("website", k.string(2048)),
        Field("phone", k.string(64)),
        Field("employee_count", k.COUNT),
        Field("annual_revenue", k.DECIMAL),
        Field("description", k.string(65535)),
    ),
    references=(Reference("parent_account", "account"),),
)

CONTACT = Entity(
    "contact", "contacts", "cnt",
    fields=(
        Field("first_name", k.string(255)),
        Field("last_name", k.string(255)),
        Field("email", k.EMAIL),
        Field("phone", k.string(64)),
        Field("title", k.string(255)),
    ),
    references=(Reference("account", "account"),),
)

OPPORTUNITY = Entity(
    "opportunity", "opportunities", "opp",
    fields=(
        Field("name", k.string(255), required=True),
        Field("amount", k.DECIMAL),
        Field("currency", k.CURRENCY),
        Field("close_date", k.DATE),
        Field("status", k.choice("open", "won", "lost"), default="open"),
        Field("stage_position", k.COUNT),
    ),
    references=(Reference("account", "account"), Reference("contact", "contact")),
    stage_placement=True,
)

LEAD = Entity(
    "lead", "leads", "lead",
    fields=(
        Field("first_name", k.string(255)),
        Field("last_name", k.string(255)),
        Field("email", k.EMAIL),
        Field("phone", k.string(64)),
        Field("company", k.string(255)),
        Field("title", k.string(255)),
        Field("status", k.string(64)),
        Field("source", k.string(255)),
    ),
)

ACTIVITY = Entity(
    "activity", "activities", "act",
    fields=(
        Field("type", k.choice("call", "email", "meeting", "note", "task"), default="note"),
        Field("subject", k.string(998)),
        Field("body", k.string(1_000_000)),
        Field("occurred_at", k.DATETIME),
        Field("due_at", k.DATETIME),
        Field("completed_at", k.DATETIME),
    ),
    references=(Reference("record", "*"),),
)

RECORD_TYPES = ("account", "contact", "lead", "opportunity")

# Import order: parents before children (docs/architecture.md, "Bundle format").
ENTITIES: tuple[Entity, ...] = (ACCOUNT, CONTACT, OPPORTUNITY, LEAD, ACTIVITY)
BY_NAME = {e.name: e for e in ENTITIES}
BY_PLURAL = {e.plural: e for e in ENTITIES}

pipelines = sa.Table(
    "opportunity_pipelines", metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("public_id", sa.Text(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("is_default", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)

stages = sa.Table(
    "opportunity_pipeline_stages", metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("pipeline_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("public_id", sa.Text(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)
