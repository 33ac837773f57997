"""The one definition of each CRM entity: its table, its fields and its references.

API schemas, the bundle validator, serializers and the export all derive from this module.
What sets one entity apart is declared here (a stage placement, a polymorphic or acyclic
reference, lookup fields) so the code reads the declaration instead of testing names.
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


# The target of a polymorphic reference: the row's `<name>_type` column names the entity.
ANY = "*"


@dataclass(frozen=True)
class Reference:
    """A link to another record: `<name>_id` (uuid) in the table, `<name>_public_id` on the wire.

    A polymorphic reference (target ANY) may name a row of any entity in `record_types`; the
    row says which in its `<name>_type` column, on the wire under the same name.
    """

    name: str
    target: str  # entity name, or ANY for a polymorphic reference
    record_types: tuple[str, ...] = ()  # the entities a polymorphic reference may name
    # a self reference that may not form a cycle (an account may not be its own ancestor)
    acyclic: bool = False

    def __post_init__(self) -> None:
        if (self.target == ANY) != bool(self.record_types):
            raise ValueError(f"reference {self.name}: record_types iff the target is {ANY!r}")

    @property
    def polymorphic(self) -> bool:
        return self.target == ANY

    @property
    def column(self) -> str:
        return f"{self.name}_id"

    @property
    def public_field(self) -> str:
        return f"{self.name}_public_id"

    @property
    def type_column(self) -> str:
        """The column (and wire key) naming the target entity of a polymorphic reference."""
        return f"{self.name}_type"


@dataclass(frozen=True)
class ExtraColumn:
    """A table column that is neither a field nor a reference id: it follows from another
    declaration (a polymorphic reference's type, a stage placement's pipeline and stage)."""

    name: str
    type: sa.types.TypeEngine
    nullable: bool = True


# What a stage placement adds to the table: written as a uuid or a public_id of a pipeline and
# of one of its stages (shared.services.stages); the stage's name is derived on output.
PLACEMENT_COLUMNS = (
    ExtraColumn("pipeline_id", pg.UUID(as_uuid=True), nullable=False),
    ExtraColumn("pipeline_stage_id", pg.UUID(as_uuid=True), nullable=False),
)
PLACEMENT_IDS = tuple(c.name for c in PLACEMENT_COLUMNS)
STAGE_NAME = "pipeline_stage_name"


@dataclass(frozen=True)
class Entity:
    name: str  # singular: account
    plural: str  # bundle key, table name and URL segment: accounts
    prefix: str
    fields: tuple[Field, ...]
    references: tuple[Reference, ...] = ()
    # rows are placed on a pipeline stage: PLACEMENT_COLUMNS, STAGE_NAME on output, board
    # positions (shared.services.stages, shared.bundle.stage_placement)
    stage_placement: bool = False
    # what a reference to a row may look it up by besides its ids (`<ref>_lookup` {"by"}); each
    # has a live-row index
    lookup_fields: tuple[str, ...] = ()
    table: sa.Table = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for ref in self.references:
            if ref.acyclic and ref.target != self.name:
                raise ValueError(f"{self.name}.{ref.name}: only a self reference can be acyclic")
        if not set(self.lookup_fields) <= set(self.field_names):
            raise ValueError(f"{self.name}: lookup_fields must be fields")
        object.__setattr__(self, "table", _record_table(self))

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def polymorphic_references(self) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.polymorphic)

    @property
    def extra_columns(self) -> tuple[ExtraColumn, ...]:
        """The table's columns beyond the common ones, the fields and the reference ids."""
        types = tuple(ExtraColumn(r.type_column, sa.Text()) for r in self.polymorphic_references)
        return types + (PLACEMENT_COLUMNS if self.stage_placement else ())


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
    for extra in entity.extra_columns:
        columns.append(sa.Column(extra.name, extra.type, nullable=extra.nullable))
    return sa.Table(entity.plural, metadata, *columns)


# What an activity's record may be.
RECORD_TYPES = ("account", "contact", "lead", "opportunity")

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
    references=(Reference("parent_account", "account", acyclic=True),),
    lookup_fields=("name", "domain"),
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
    lookup_fields=("email",),
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
    lookup_fields=("name",),
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
    lookup_fields=("email",),
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
    references=(Reference("record", ANY, record_types=RECORD_TYPES),),
)

# Import order: parents before children (docs/architecture.md, "Bundle format").
ENTITIES: tuple[Entity, ...] = (ACCOUNT, CONTACT, OPPORTUNITY, LEAD, ACTIVITY)
BY_NAME = {e.name: e for e in ENTITIES}
BY_PLURAL = {e.plural: e for e in ENTITIES}

_unknown_targets = {t for e in ENTITIES for r in e.references
                    for t in (r.record_types or (r.target,))} - set(BY_NAME)
if _unknown_targets:  # a typo here would surface as a KeyError deep inside an import
    raise ValueError(f"references to undeclared entities: {sorted(_unknown_targets)}")

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
