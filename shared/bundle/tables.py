"""Core tables of the import bookkeeping (DDL in migrations/versions/0003_import.py)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.entities import metadata

UUID = pg.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)

import_batches = sa.Table(
    "import_batches", metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("job_id", UUID, nullable=False),
    sa.Column("entity", sa.Text(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("row_start", sa.Integer(), nullable=False),
    sa.Column("row_count", sa.Integer(), nullable=False),
    sa.Column("byte_start", sa.BigInteger(), nullable=False),
    sa.Column("byte_end", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("enqueued_at", TS),
    sa.Column("created", sa.Integer(), nullable=False),
    sa.Column("updated", sa.Integer(), nullable=False),
    sa.Column("unchanged", sa.Integer(), nullable=False),
    sa.Column("failed", sa.Integer(), nullable=False),
    sa.Column("finished_at", TS),
)

import_row_keys = sa.Table(
    "import_row_keys", metadata,
    sa.Column("job_id", UUID, primary_key=True),
    sa.Column("entity", sa.Text(), primary_key=True),
    sa.Column("public_id", sa.Text(), primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
)

import_refs = sa.Table(
    "import_refs", metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("job_id", UUID, nullable=False),
    sa.Column("entity", sa.Text(), nullable=False),
    sa.Column("row_index", sa.Integer(), nullable=False),
    sa.Column("public_id", sa.Text(), nullable=False),
    sa.Column("target_public_id", sa.Text(), nullable=False),
    sa.Column("target_by", sa.Text()),  # None: public_id; "name" / "domain" / "email"
    sa.Column("origin", pg.JSONB()),
)
