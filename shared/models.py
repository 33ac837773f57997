"""Tables that are not CRM records: tenants, auth, change history, jobs."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.entities import metadata

UUID = pg.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)

organizations = sa.Table(
    "organizations", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("email", sa.Text(), nullable=False),
    sa.Column("name", sa.Text()),
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("last_login_at", TS),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("prefix", sa.Text(), nullable=False),
    sa.Column("secret_hash", sa.Text(), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_used_at", TS),
    sa.Column("revoked_at", TS),
)

change_events = sa.Table(
    "change_events", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("record_type", sa.Text(), nullable=False),
    sa.Column("record_id", UUID, nullable=False),
    sa.Column("public_id", sa.Text()),
    sa.Column("event_type", sa.Text(), nullable=False),
    sa.Column("changes", pg.JSONB(), nullable=False),
    sa.Column("actor", sa.Text()),
    sa.Column("job_id", UUID),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("request_id", sa.Text()),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("params", pg.JSONB(), nullable=False),
    sa.Column("progress", pg.JSONB(), nullable=False),
    sa.Column("checkpoint", pg.JSONB(), nullable=False),
    sa.Column("error", pg.JSONB()),
    sa.Column("error_count", sa.Integer(), nullable=False),
    sa.Column("upload_key", sa.Text()),
    sa.Column("upload_size", sa.BigInteger()),
    sa.Column("result_key", sa.Text()),
    sa.Column("result_size", sa.BigInteger()),
    sa.Column("idempotency_key", sa.Text()),
    sa.Column("request_hash", sa.Text()),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("lease_owner", sa.Text()),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False),
    sa.Column("warnings", pg.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("created_by", sa.Text()),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
    sa.Column("expires_at", TS),
)

job_errors = sa.Table(
    "job_errors", metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("job_id", UUID, nullable=False),
    sa.Column("entity", sa.Text()),
    sa.Column("row_index", sa.Integer()),
    sa.Column("public_id", sa.Text()),
    sa.Column("field", sa.Text()),
    sa.Column("code", sa.Text(), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("origin", pg.JSONB()),
)

webhooks = sa.Table(
    "webhooks", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("events", pg.ARRAY(sa.Text()), nullable=False),
    sa.Column("secret_encrypted", sa.Text(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("webhook_id", UUID, nullable=False),
    sa.Column("job_id", UUID, nullable=False),
    sa.Column("event", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("delivered_at", TS),
)

webhook_attempts = sa.Table(
    "webhook_attempts", metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("webhook_id", UUID, nullable=False),
    sa.Column("delivery_id", UUID, nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("status_code", sa.Integer()),
    sa.Column("latency_ms", sa.Integer()),
    sa.Column("error", sa.Text()),
    sa.Column("response_excerpt", sa.Text()),
    sa.Column("delivered_at", TS, nullable=False, server_default=sa.func.now()),
)

saved_mappings = sa.Table(
    "saved_mappings", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("organization_id", UUID, nullable=False),
    sa.Column("headers_key", sa.Text(), nullable=False),
    sa.Column("headers", pg.JSONB(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("mapping", pg.JSONB(), nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_by", sa.Text()),
)
